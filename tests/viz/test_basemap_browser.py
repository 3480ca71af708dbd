"""The offline basemap in a real headless Chromium: the deck.gl and the Leaflet map show it
(water, streets, labels) under a translucent analysis layer with no request leaving 127.0.0.1;
with an intranet tile service configured, that host and no other is contacted (the test routes
it to a local handler)."""

from __future__ import annotations

import io
import os
import shutil
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from gis import viz
from tests.ui.browser import chromium_page, require_browser, screenshot_dir, streamlit_server
from tests.viz import basemap_fixture as F

pytestmark = pytest.mark.browser
APP = "tests/viz/apps/basemap_app.py"
# built under the checkout's static/basemap/ (Streamlit serves it from there): one name per
# xdist worker, so a worker's teardown never deletes the basemap another one is serving
NAME = f"browser-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
WATER = tuple(viz.BASEMAP_STYLE["water"]["*"]["fill"][:3])
MAIN = tuple(viz.BASEMAP_STYLE["roads"]["main"]["line"][:3])
TILE_HOST = "tiles.intranet.test"


@pytest.fixture(scope="module")
def basemap(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("river")
    F.water_cgcs2000(tmp / "river_water.gpkg")
    kind, water = viz.read_city_layer(str(tmp / "river_water.gpkg"))
    layers = viz.merge_layers(
        viz.district_layers(F.streets(), F.grids(), F.places()), {kind: water}
    )
    info = viz.build_basemap(layers, viz.STATIC_DIR / "basemap" / f"{NAME}.pmtiles")
    yield info
    info.pmtiles.unlink(missing_ok=True)
    shutil.rmtree(info.tiles_dir, ignore_errors=True)


def colours(page) -> dict[tuple, int]:
    img = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB"))
    keys, counts = np.unique(img.reshape(-1, 3), axis=0, return_counts=True)
    return {tuple(int(v) for v in k): int(c) for k, c in zip(keys, counts, strict=True)}


def wait_for_colour(page, rgb: tuple, min_px: int, timeout_s: float = 60) -> int:
    """Poll screenshots until ``rgb`` covers ``min_px`` pixels (tiles load asynchronously)."""
    n = 0
    for _ in range(int(timeout_s / 2)):
        n = colours(page).get(rgb, 0)
        if n >= min_px:
            return n
        page.wait_for_timeout(2000)
    return n


def test_deck_and_leaflet_maps_show_the_basemap_offline(basemap, monkeypatch):
    require_browser()
    monkeypatch.setenv("GRIDLENS_BASEMAP", NAME)
    monkeypatch.delenv("GRIDLENS_TILE_URL", raising=False)
    with streamlit_server(os.devnull, script=APP) as url:
        for which in ("deck", "leaflet"):
            with chromium_page(f"{url}/?map={which}") as (page, guard):
                assert wait_for_colour(page, WATER, 2000) >= 2000, which
                assert colours(page).get(MAIN, 0) > 200, which
                guard.check()
                page.screenshot(path=str(screenshot_dir() / f"basemap_{which}_test.png"))


def test_intranet_tiles_only_that_host(basemap, monkeypatch):
    require_browser()
    monkeypatch.setenv("GRIDLENS_BASEMAP", NAME)
    monkeypatch.setenv("GRIDLENS_TILE_URL", f"http://{TILE_HOST}/{{z}}/{{x}}/{{y}}.png")
    monkeypatch.setenv("GRIDLENS_TILE_ATTRIBUTION", "内网测试图")
    green = io.BytesIO()
    Image.new("RGB", (256, 256), (40, 160, 60)).save(green, format="PNG")
    with streamlit_server(os.devnull, script=APP) as url:
        with chromium_page(f"{url}/?map=leaflet&base=tiles") as (page, guard):
            served = []

            def tile(route):
                served.append(route.request.url)
                route.fulfill(status=200, content_type="image/png", body=green.getvalue())

            page.context.route(f"http://{TILE_HOST}/**", tile)
            page.reload()
            guard.settle()
            assert wait_for_colour(page, (40, 160, 60), 20_000) >= 20_000
            hosts = {urlsplit(u).netloc for u in guard.external}
            assert served and hosts == {TILE_HOST}, guard.external[:5]
            assert all(u.endswith(".png") and "/16/" in u for u in served[:3])
