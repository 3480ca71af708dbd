"""The closed loop in a real headless Chromium, offline: a grid worker reports a case by clicking
the map in its grid, the dispatcher accepts, registers and dispatches it to the suggested
department, that department's handler handles it with a note, the grid worker verifies it and the
dispatcher closes it. Each signs in through the browser; the database records each step's actor."""

from __future__ import annotations

import pytest

from gis import auth, store
from gis.demo import load_demo
from gis.store import cases as case_store
from tests.ui.browser import chromium_page, require_browser, streamlit_server

pytestmark = pytest.mark.browser
FRAME = 'iframe[title="streamlit_folium.st_folium"]'
# the pixel of a point on the Leaflet map inside the st_folium iframe
TO_PIXEL = """([lat, lon]) => {
  const key = Object.keys(window).find(k => k.startsWith('map_') && window[k].latLngToContainerPoint);
  const p = window[key].latLngToContainerPoint([lat, lon]);
  return [p.x, p.y];
}"""


@pytest.fixture
def loop_db(demo_small, tmp_path) -> str:
    path = tmp_path / "loop.db"
    engine = store.open_store(str(path))
    store.init_db(engine)
    load_demo(engine, demo_small)
    auth.ensure_demo_users(engine)
    engine.dispose()
    return str(path)


def sign_in(page, guard, username: str) -> None:
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(auth.DEMO_PASSWORDS[username])
    page.get_by_role("button", name="登录").click()
    guard.settle(timeout_ms=300_000)  # the first run after sign-in loads the incidents
    link = page.locator("[data-testid='stSidebarNav'] a").filter(has_text="案件办理")
    if link.count():
        link.first.click()
        guard.settle(timeout_ms=300_000, extra_ms=2500)
    try:
        page.get_by_text("案件地图（点击地图上报新案件）").first.wait_for(timeout=180_000)
    except Exception:
        guard.screenshot(f"cases_signin_{username}_failed")
        raise


def sign_out(page, guard) -> None:
    page.get_by_role("button", name="退出登录").click()
    guard.settle()
    page.get_by_label("用户名").wait_for(timeout=30_000)


def take(page, guard, step: str, note: str | None = None) -> None:
    """Choose a step on the case card and submit it; wait for the confirmation."""
    page.locator("[data-testid='stRadio']").get_by_text(step, exact=True).click()
    guard.settle()
    if note:
        page.get_by_label("备注").fill(note)
    page.get_by_role("button", name="提交").click()
    guard.settle(timeout_ms=180_000, extra_ms=2000)
    page.get_by_text(f"已执行「{step}」").first.wait_for(timeout=30_000)


def test_report_dispatch_handle_verify_close(loop_db):
    require_browser()
    engine = store.open_store(loop_db)
    worker = auth.get_user(engine, "gridworker")
    grids = store.read_grids(engine, level="micro")
    mine = grids[grids["code"].str.startswith(worker.grid_codes[0][:12])]
    point = mine.sort_values("code").geometry.iloc[0].representative_point()
    with streamlit_server(loop_db) as url, chromium_page(url, height=1400) as (page, guard):
        # the grid worker clicks the map inside its grid: grid and address are filled in
        sign_in(page, guard, "gridworker")
        frame_box = page.locator(FRAME).first
        frame_box.wait_for(timeout=30_000)
        frame = page.frame_locator(FRAME).first
        frame.locator(".leaflet-container").wait_for(timeout=30_000)
        page.wait_for_timeout(1500)
        x, y = frame.locator(".leaflet-container").evaluate(
            f"(el, ll) => ({TO_PIXEL})(ll)", [point.y, point.x]
        )
        box = frame.locator(".leaflet-container").bounding_box()
        page.mouse.click(box["x"] + x, box["y"] + y)
        guard.settle(extra_ms=2500)
        page.get_by_text("位置：").first.wait_for(timeout=30_000)
        page.get_by_label("问题描述").fill("人行道上堆放建筑材料")
        guard.screenshot("cases_report_zh")
        page.get_by_role("button", name="上报新案件").click()
        guard.settle(extra_ms=2000)
        page.get_by_text("已上报案件").first.wait_for(timeout=30_000)
        guard.check()
        sign_out(page, guard)

        # the dispatcher: accept, register, dispatch to the suggested department
        sign_in(page, guard, "dispatcher")
        take(page, guard, "受理")
        take(page, guard, "立案")
        page.get_by_text("建议派遣：").first.wait_for(timeout=30_000)
        guard.screenshot("cases_dispatcher_zh")
        take(page, guard, "派遣")
        guard.check()
        sign_out(page, guard)

        # the street team's handler handles it with a note
        sign_in(page, guard, "handler")
        take(page, guard, "处置", note="已清理，恢复通行")
        guard.screenshot("cases_handler_zh")
        sign_out(page, guard)

        # the grid worker verifies, the dispatcher closes
        sign_in(page, guard, "gridworker")
        take(page, guard, "核查通过")
        sign_out(page, guard)
        sign_in(page, guard, "dispatcher")
        take(page, guard, "结案")
        guard.check()
        guard.screenshot("cases_closed_zh")

    cases = case_store.read_cases(engine)
    assert len(cases) == 1
    case = cases.iloc[0]
    assert case["state"] == "closed" and case["department"] == "street_team"
    assert case["grid_code"] == mine.sort_values("code")["code"].iloc[0]
    steps = case_store.read_transitions(engine, [int(case["id"])])
    assert list(zip(steps["action"], steps["actor"], strict=True)) == [
        ("report", "gridworker"),
        ("accept", "dispatcher"),
        ("register", "dispatcher"),
        ("dispatch", "dispatcher"),
        ("handle", "handler"),
        ("verify", "gridworker"),
        ("close", "dispatcher"),
    ]
    assert steps["note"].iloc[4] == "已清理，恢复通行"
