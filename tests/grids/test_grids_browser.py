"""The grid admin's flow in a real headless Chromium, offline: sign in as the demo grid admin,
open Grids, choose a micro-grid of their community, drag a vertex of its boundary on the map,
see the impact preview, save with a reason, and find the new version in the database."""

from __future__ import annotations

import pytest
import shapely

from gis import auth, store
from gis.demo import load_demo
from gis.grids import edit
from tests.ui.browser import chromium_page, require_browser, streamlit_server

pytestmark = pytest.mark.browser
FRAME = 'iframe[title="streamlit_folium.st_folium"]'


@pytest.fixture
def grid_db(demo_small, tmp_path) -> str:
    path = tmp_path / "grids.db"
    engine = store.open_store(str(path))
    store.init_db(engine)
    load_demo(engine, demo_small)
    auth.ensure_demo_users(engine)
    engine.dispose()
    return str(path)


def interior_micro(grids) -> str:
    """A micro-grid of community 001 that touches its level-2 parent's boundary nowhere, so any
    small drag of one of its vertices stays inside the parent."""
    micro = grids[(grids["level"] == "micro") & grids["code"].str.startswith("140581001001")]
    parents = grids.set_index("code").geometry
    for row in micro.sort_values("code").itertuples():
        if not shapely.intersects(row.geometry.boundary, parents[row.parent_code].boundary):
            return row.code
    raise AssertionError("no interior micro-grid in community 001")


def test_grid_admin_drags_a_vertex_and_saves(grid_db):
    require_browser()
    engine = store.open_store(grid_db)
    grids = store.read_grids(engine)
    code = interior_micro(grids)
    before = grids.set_index("code").loc[code, "geometry"]
    with streamlit_server(grid_db) as url, chromium_page(url) as (page, guard):
        page.get_by_label("用户名").fill("gridadmin")
        page.get_by_label("密码").fill("gridadmin-demo")
        page.get_by_role("button", name="登录").click()
        guard.settle()
        page.get_by_role("link", name="网格管理").click()
        guard.settle()
        assert page.get_by_text("网格体系有效").count() >= 1
        pick = page.locator("[data-testid='stSelectbox']").filter(has_text="选择网格")
        box = pick.locator("input")
        box.click()
        box.fill(code)
        page.wait_for_timeout(400)
        page.keyboard.press("Enter")
        guard.settle(extra_ms=2500)

        guard.screenshot("grids_picked")
        frame = page.frame_locator(FRAME)
        frame.locator(".leaflet-draw-edit-edit").click()
        page.wait_for_timeout(1000)
        guard.screenshot("grids_edit_mode")
        handles = frame.locator(".leaflet-editing-icon")
        handles.first.wait_for(timeout=15_000)
        # drag the first vertex 25 px towards the middle of the map (the chosen grid's centre)
        mapbox = page.locator(FRAME).bounding_box()
        cx, cy = mapbox["x"] + mapbox["width"] / 2, mapbox["y"] + mapbox["height"] / 2
        hb = handles.first.bounding_box()
        x, y = hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2
        dx, dy = cx - x, cy - y
        norm = max((dx * dx + dy * dy) ** 0.5, 1.0)
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 25 * dx / norm, y + 25 * dy / norm, steps=6)
        page.mouse.up()
        frame.locator(".leaflet-draw-actions a", has_text="保存").click()
        page.get_by_text("影响预览").wait_for(timeout=60_000)
        guard.settle(extra_ms=2000)
        guard.check()
        guard.screenshot("grids_impact_preview")

        page.get_by_label("修改原因（必填）").fill("浏览器测试：调整边界")
        page.get_by_role("button", name="保存为新版本").click()
        page.get_by_text("已保存").wait_for(timeout=60_000)
        guard.settle()
        guard.check()
        guard.screenshot("grids_saved")

    now = store.read_grids(engine).set_index("code")
    assert now.loc[code, "version"] == 2
    after = now.loc[code, "geometry"]
    assert not shapely.equals(before, after)
    # the grid shrank (the vertex moved inwards) and a sibling took the area
    assert shapely.area(after) < shapely.area(before)
    history = edit.grid_history(engine, code)
    assert history["edited_by"].iloc[-1] == "gridadmin"
    assert history["reason"].iloc[-1] == "浏览器测试：调整边界"
    engine.dispose()
