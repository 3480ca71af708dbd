"""The issue's acceptance flow in a real headless Chromium, with no request leaving 127.0.0.1:
sign in as the demo analyst, see the home page in Chinese, switch to English, filter to one
community and one category, click a grid on the map and get its card."""

from __future__ import annotations

import pandas as pd
import pytest

from gis import store
from gis.grids import assign_points
from tests.ui.browser import chromium_page, require_browser, streamlit_server

pytestmark = pytest.mark.browser


def metric(page, label: str) -> str:
    box = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return box.locator("[data-testid='stMetricValue']").inner_text().strip()


def test_analyst_flow_offline(demo_db):
    require_browser()
    engine = store.open_store(demo_db)
    grids = store.read_grids(engine)
    inc = store.read_incidents(engine)
    inc[["micro", "l2", "l1"]] = assign_points(inc.geometry, grids)
    community = grids[grids["level"] == "l1"].sort_values("code").iloc[2]
    with streamlit_server(demo_db) as url, chromium_page(url) as (page, guard):
        # sign in as the demo analyst: the home page, in Chinese
        assert page.get_by_text("登录 GridLens").count() >= 1
        page.get_by_label("用户名").fill("analyst")
        page.get_by_label("密码").fill("analyst-demo")
        page.get_by_role("button", name="登录").click()
        guard.settle()
        # the first run after sign-in loads every incident: wait for it rather than count once
        page.get_by_text("北城街道（演示）").first.wait_for(timeout=120_000)
        canvas = page.locator("[data-testid='stDeckGlJsonChart'] canvas").first
        canvas.wait_for(timeout=30_000)
        guard.check()
        guard.screenshot("home_zh")
        # switch to English
        page.get_by_role("radiogroup", name="语言 / Language").get_by_text(
            "English", exact=True
        ).click()
        guard.settle()
        page.get_by_text("Beicheng (demo)").first.wait_for(timeout=60_000)
        assert page.get_by_text("New incidents this week").count() >= 1
        guard.check()
        # one category and one community from the sidebar
        side = page.locator("[data-testid='stSidebar']")
        cats = side.locator("[data-testid='stMultiSelect'] input").first
        cats.click()
        cats.fill("05-04")
        page.wait_for_timeout(400)
        page.keyboard.press("Enter")
        guard.settle()
        page.keyboard.press("Escape")
        grid = side.locator("[data-testid='stSelectbox'] input").last
        grid.click()
        grid.fill(community["code"])
        page.wait_for_timeout(400)
        page.keyboard.press("Enter")
        guard.settle(extra_ms=2500)
        # the default period: the last 90 days of data
        end = inc["occurred_at"].max().normalize()
        start = max(inc["occurred_at"].min().normalize(), end - pd.Timedelta(days=89))
        expected = inc[
            (inc["category_code"] == "05-04")
            & (inc["l1"] == community["code"])
            & (inc["occurred_at"] >= start)
            & (inc["occurred_at"] < end + pd.Timedelta(days=1))
        ]
        assert metric(page, "Incidents in the filters") == f"{len(expected):,}"
        # click a grid on the map: its card opens
        box = canvas.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        card = page.locator("[data-testid='stMetric']").filter(has_text="Grid code")
        for _ in range(3):  # deck.gl picks on hover first: a click right after a redraw can miss
            page.mouse.move(x - 5, y - 5)
            page.mouse.move(x, y, steps=3)
            page.wait_for_timeout(500)
            page.mouse.click(x, y)
            guard.settle(extra_ms=2500)
            if card.count():
                break
        guard.screenshot("home_after_click")
        # the full code on the card's first line (a metric box cut it)
        code = (
            page.locator("[data-testid='stMarkdownContainer'] code")
            .filter(has_text=community["code"][:12])
            .first.inner_text()
        )
        assert code.startswith(community["code"][:12]) and len(code) == 15
        assert metric(page, "Level") == "Level-2 grids"
        guard.check()
        guard.screenshot("home_en_filtered_card")
