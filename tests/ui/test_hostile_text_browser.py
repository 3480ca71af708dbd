"""Issue 19 (High 4) in a real Chromium: grids, incidents, staff, a plan and the signed-in
account carrying script and Markdown in every text field. On every page (maps hovered) no
script runs (the page title stays) and nothing is fetched from outside 127.0.0.1 (a Markdown
image would)."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from gis import auth, i18n, store
from gis.planning import save_plan
from tests.ui.browser import chromium_page, require_browser, streamlit_server

pytestmark = pytest.mark.browser

SCRIPT = "window.top.document.title='XSS'"
PAYLOAD = (
    f'<img src=x onerror="{SCRIPT}">![x](http://evil.invalid/p.png)'
    f"<script>{SCRIPT}</script>[link](javascript:{SCRIPT}) **bold** $x^2$"
)
FOLIUM = 'iframe[title="streamlit_folium.st_folium"]'
SLOW = 300_000  # ms: the first run after sign-in loads every incident (shared CI machines)
PAGES = (
    "nav.home",
    "nav.patrol",
    "nav.hotspots",
    "nav.rectification",
    "nav.grids",
    "nav.data",
    "nav.users",
)


@pytest.fixture
def hostile_db(demo_db, tmp_path) -> str:
    path = tmp_path / "hostile.db"
    shutil.copyfile(demo_db, path)
    engine = store.open_store(str(path))
    grids = store.read_grids(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE grids SET name = :p || code"), {"p": PAYLOAD})
        conn.execute(sa.text("UPDATE incidents SET address = :p, description = :p"), {"p": PAYLOAD})
        conn.execute(sa.text("UPDATE staff SET name = :p || staff_code"), {"p": PAYLOAD})
        conn.execute(
            sa.text("UPDATE users SET display_name = :p WHERE username = 'admin'"), {"p": PAYLOAD}
        )
    l1 = grids[grids["level"] == "l1"].iloc[0]
    save_plan(
        engine,
        name=PAYLOAD,
        area=shapely.buffer(l1.geometry.centroid, 0.002),
        period_start=pd.Timestamp("2026-01-01"),
        period_end=pd.Timestamp("2026-02-01"),
        notes=PAYLOAD,
        user=auth.get_user(engine, "admin"),
        grids=grids,
    )
    engine.dispose()
    return str(path)


def _hover_maps(page) -> None:
    """Move the mouse over the middle of every map (folium tooltips open on mouseover)."""
    for frame_el in page.locator(FOLIUM).all():
        box = frame_el.bounding_box()
        if not box:
            continue
        for fx, fy in ((0.5, 0.5), (0.4, 0.45), (0.6, 0.55), (0.3, 0.6), (0.7, 0.4)):
            page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy, steps=3)
            page.wait_for_timeout(250)
    for canvas in page.locator("[data-testid='stDeckGlJsonChart'] canvas").all():
        box = canvas.bounding_box()
        if box:
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=3)
            page.wait_for_timeout(300)


def _assert_inert(page, guard, where: str) -> None:
    assert "XSS" not in page.title(), f"script ran on {where}"
    for frame in page.frames:
        assert "XSS" not in (frame.evaluate("document.title") or ""), f"script ran on {where}"
    # the payload's Markdown became no link, image or emphasis
    shown = page.locator("[data-testid='stMarkdownContainer'] img[src*='evil']")
    assert shown.count() == 0, where
    assert page.locator("[data-testid='stMarkdownContainer'] a[href^='javascript']").count() == 0
    guard.check()  # no exception box, no request left 127.0.0.1


def test_script_and_markdown_in_every_text_field_stay_text(hostile_db):
    require_browser()
    engine = store.open_store(hostile_db)
    micro = store.read_grids(engine, level="micro")["code"].sort_values().iloc[0]
    engine.dispose()
    with streamlit_server(hostile_db) as url, chromium_page(url) as (page, guard):
        page.get_by_label("用户名").fill("admin")
        page.get_by_label("密码").fill("admin-demo")
        page.get_by_role("button", name="登录").click()
        guard.settle(timeout_ms=SLOW)
        for key in PAGES:
            page.get_by_role("link", name=i18n.t(key, "zh")).click()
            guard.settle(timeout_ms=SLOW, extra_ms=2500)
            if key == "nav.grids":  # the grid card and the editing map of one grid
                box = page.locator("[data-testid='stSelectbox']").filter(has_text="选择网格")
                box.locator("input").click()
                box.locator("input").fill(micro)
                page.wait_for_timeout(400)
                page.keyboard.press("Enter")
                guard.settle(timeout_ms=SLOW, extra_ms=2500)
                assert page.get_by_text("**bold**").count() >= 1  # shown as text
            if key == "nav.rectification":  # the saved plan, its name and notes
                page.get_by_text("javascript").first.wait_for(timeout=60_000)
            _hover_maps(page)
            guard.screenshot(f"hostile_{key.split('.')[1]}")
            _assert_inert(page, guard, key)
