"""The home page in a real headless Chromium, with no request leaving 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.browser import chromium_page, require_browser, streamlit_server

pytestmark = pytest.mark.browser


def test_home_renders_offline_and_switches_language(demo_db):
    require_browser()
    with streamlit_server(demo_db) as url, chromium_page(url) as (page, guard):
        assert page.get_by_text("北城街道（演示）").count() >= 1
        # the pydeck map draws into a canvas: it exists and has a size
        canvas = page.locator("[data-testid='stDeckGlJsonChart'] canvas").first
        canvas.wait_for(timeout=30_000)
        box = canvas.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 300
        guard.check()
        guard.screenshot("home_zh")
        page.get_by_text("English", exact=True).click()
        guard.settle()
        assert page.get_by_text("Beicheng (demo)").count() >= 1
        assert page.get_by_text("Level-1 grids").count() >= 1
        guard.check()
        guard.screenshot("home_en")
