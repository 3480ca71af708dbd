"""The patrol page in a real headless Chromium, offline: the demo analyst opens Patrol coverage,
sees the presence map and the headline numbers over the demo's micro-grids, and nothing leaves
127.0.0.1 (the numbers themselves are checked against gis.patrol in tests/patrol/test_patrol_page.py)."""

from __future__ import annotations

import pytest

from gis import store
from tests.ui.browser import chromium_page, require_browser, streamlit_server

pytestmark = pytest.mark.browser


def metric(page, label: str) -> str:
    box = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return box.locator("[data-testid='stMetricValue']").inner_text().strip()


def test_patrol_page_offline(demo_db):
    require_browser()
    engine = store.open_store(demo_db)
    micro = store.read_grids(engine, level="micro")
    engine.dispose()
    with streamlit_server(demo_db) as url, chromium_page(url) as (page, guard):
        page.get_by_label("用户名").fill("analyst")
        page.get_by_label("密码").fill("analyst-demo")
        page.get_by_role("button", name="登录").click()
        guard.settle()
        page.get_by_text("北城街道（演示）").first.wait_for(timeout=120_000)
        page.get_by_role("link", name="巡查覆盖").click()
        guard.settle()
        page.get_by_text("巡查覆盖与盲区").first.wait_for(timeout=120_000)
        guard.settle()
        canvas = page.locator("[data-testid='stDeckGlJsonChart'] canvas").first
        canvas.wait_for(timeout=60_000)
        visited, total = metric(page, "已巡查微网格").replace(",", "").split(" / ")
        unvisited = metric(page, "未巡查微网格").replace(",", "")
        assert int(total) == len(micro)
        assert int(visited) + int(unvisited) == len(micro)
        assert 0 < int(unvisited) < len(micro)  # the demo plants neglected micro-grids
        guard.check()
        guard.screenshot("patrol_zh")
