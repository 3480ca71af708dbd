"""Offline folium maps (gis.viz.leaflet): no CDN in the page, vendored files present, and a real
Chromium rendering st_folium's iframe with the Draw toolbar and no request leaving 127.0.0.1."""

from __future__ import annotations

import re

import folium
import geopandas as gpd
import pytest
import shapely

from gis import viz
from tests.ui.browser import ROOT, chromium_page, require_browser, streamlit_server

APP = ROOT / "tests" / "viz" / "apps" / "webmap_app.py"
FRAME = 'iframe[title="streamlit_folium.st_folium"]'


@pytest.fixture
def grids() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["G1", "G2"], "name": ["网格一", "网格二"], "level": ["micro", "l2"]},
        geometry=[
            shapely.box(112.920, 35.79, 112.925, 35.795),
            shapely.MultiPolygon([shapely.box(112.925, 35.79, 112.93, 35.795)]),
        ],
        crs=4326,
    )


@pytest.fixture
def streets() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"highway": ["main", "alley"]},
        geometry=[
            shapely.LineString([(112.92, 35.7925), (112.93, 35.7925)]),
            shapely.LineString([(112.925, 35.79), (112.925, 35.795)]),
        ],
        crs=4326,
    )


def _editing_map(grids, streets) -> folium.Map:
    m = viz.offline_map(grids)
    viz.add_vector_basemap(m, streets, grids)
    viz.add_draw(m, folium.FeatureGroup(name="edit", control=False))
    viz.editable_geojson(m, grids, "code", fields=["name"])
    return m


def test_editing_map_html_loads_nothing_from_elsewhere(grids, streets):
    html = _editing_map(grids, streets).get_root().render()
    assert viz.external_urls(html) == []
    viz.assert_offline_html(html)
    # only the vendored libraries, each exactly once
    assert re.findall(r'<script src="([^"]+)"', html) == [
        "/app/static/vendor/leaflet/leaflet.js",
        "/app/static/vendor/leaflet-draw/leaflet.draw.js",
    ]
    assert re.findall(r'<link rel="stylesheet" href="([^"]+)"', html) == [
        "/app/static/vendor/leaflet/leaflet.css",
        "/app/static/vendor/leaflet-draw/leaflet.draw.css",
    ]
    # the grids keep their ids and the requested fields; the basemap only a style key
    assert '"properties": {"code": "G1", "name": "\\u7f51\\u683c\\u4e00"}' in html
    assert '"properties": {"k": "micro"}' in html and '"properties": {"k": "main"}' in html


def test_default_folium_map_is_not_offline():
    """The check itself: folium's defaults (CDNs, a tile server) are all found."""
    html = folium.Map(location=[35.8, 112.93]).get_root().render()
    urls = viz.external_urls(html)
    assert any("cdn.jsdelivr.net/npm/leaflet" in u for u in urls)
    assert any("code.jquery.com" in u for u in urls)
    assert any("tile.openstreetmap.org" in u for u in urls)  # the tile URL template in JS
    with pytest.raises(AssertionError, match="external URL"):
        viz.assert_offline_html(html)


def test_external_urls_rules():
    html = """<html><head>
    <script src="//cdn.example.com/a.js"></script>
    <link rel="stylesheet" href="https://example.com/b.css"/>
    <style>@import url("http://fonts.example.com/c.css"); .x { background: url(/app/static/ok.png) }</style>
    </head><body>
    <a href="https://leafletjs.com">Leaflet</a>
    <img src="/app/static/vendor/leaflet/images/layers.png">
    <div style="background-image: url('https://tiles.example.com/d.png')"></div>
    <script>
      // comment: see //not a url and https://docs.example.com/page
      var t = L.tileLayer("https://{s}.tile.example.org/{z}/{x}/{y}.png", {
        attribution: "&copy; <a href=\\"https://www.openstreetmap.org/copyright\\">OSM</a>"});
      var ns = "http://www.w3.org/2000/svg"; var rel = "/app/static/x.js";
      fetch('//api.example.net/v1');
    </script></body></html>"""
    assert viz.external_urls(html) == [
        "//cdn.example.com/a.js",
        "https://example.com/b.css",
        "http://fonts.example.com/c.css",
        "https://tiles.example.com/d.png",
        "https://docs.example.com/page",  # strict: a URL in a script counts, comments too
        "https://{s}.tile.example.org/{z}/{x}/{y}.png",
        "//api.example.net/v1",
    ]


def test_every_static_path_referenced_exists(grids, streets):
    html = _editing_map(grids, streets).get_root().render()
    refs = re.findall(r"/app/static/[^\s\"'<>)]+", html)
    assert len(refs) == 4
    assert viz.missing_static_files(html) == []
    for ref in refs:
        assert (ROOT / "static" / ref.removeprefix("/app/static/")).is_file(), ref
    # and the files those reference (images in the stylesheets) are vendored too
    for css in (ROOT / "static" / "vendor").rglob("*.css"):
        for url in re.findall(r"url\(['\"]?([^'\")]+)", css.read_text()):
            if not url.startswith(("#", "data:")):
                assert (css.parent / url).is_file(), (css, url)
    assert viz.missing_static_files('<script src="/app/static/vendor/nope.js">') == [
        "/app/static/vendor/nope.js"
    ]
    assert viz.missing_static_files("/app/static/../pyproject.toml") == [
        "/app/static/../pyproject.toml"
    ]


def test_vendored_licences_and_versions():
    vendor = ROOT / "static" / "vendor"
    assert "BSD 2-Clause" in (vendor / "leaflet" / "LICENSE").read_text()
    assert "Permission is hereby granted" in (vendor / "leaflet-draw" / "LICENSE").read_text()
    versions = (vendor / "VERSIONS").read_text()
    assert "leaflet 1.9.4 BSD-2-Clause" in versions
    assert "leaflet-draw 1.0.4 MIT" in versions
    assert 't.version="1.9.4"' in (vendor / "leaflet" / "leaflet.js").read_text()
    assert 'L.drawVersion="1.0.4"' in (vendor / "leaflet-draw" / "leaflet.draw.js").read_text()


def test_st_folium_gets_only_vendored_links(grids, streets, monkeypatch):
    """What st_folium hands its component: script/css links and inline code, no CDN."""
    import streamlit_folium

    seen = {}
    monkeypatch.setattr(streamlit_folium, "_component_func", lambda **kw: seen.update(kw))
    streamlit_folium.st_folium(_editing_map(grids, streets), returned_objects=["all_drawings"])
    assert seen["js_links"] == [
        "/app/static/vendor/leaflet/leaflet.js",
        "/app/static/vendor/leaflet-draw/leaflet.draw.js",
    ]
    assert seen["css_links"] == [
        "/app/static/vendor/leaflet/leaflet.css",
        "/app/static/vendor/leaflet-draw/leaflet.draw.css",
    ]
    page = f"<head>{seen['header']}</head><body>{seen['html']}<script>{seen['script']}</script>"
    viz.assert_offline_html(page)
    # st_folium reads window.drawnItems: the Draw group must be the one holding the grids
    assert re.search(r"var drawnItems =\s*feature_group_div_\d+;", seen["script"])


def test_offline_map_inputs(grids):
    m = viz.offline_map((35.8, 112.93), zoom=14)
    assert m.location == [35.8, 112.93] and m.options["zoom"] == 14
    # bounds in GeoPandas order, folium order, a frame in another CRS: the same view
    a = viz.offline_map(tuple(grids.total_bounds))
    b = viz.offline_map([[35.79, 112.92], [35.795, 112.93]])
    c = viz.offline_map(grids.to_crs(4547))
    for mm in (a, b, c):
        assert mm.location == pytest.approx([35.7925, 112.925])
        assert "fitBounds" in mm.get_root().render()
    with pytest.raises(ValueError, match="no tiles"):
        viz.offline_map((35.8, 112.93), tiles="OpenStreetMap")
    with pytest.raises(ValueError):
        viz.offline_map([1, 2, 3])
    # a different static URL (server.baseUrlPath) reaches Leaflet and the Draw plugin
    m = viz.offline_map((35.8, 112.93), static_url="/gl/app/static")
    viz.add_draw(m)
    html = m.get_root().render()
    assert "/gl/app/static/vendor/leaflet/leaflet.js" in html
    assert "/gl/app/static/vendor/leaflet-draw/leaflet.draw.js" in html
    # the class-level link lists of folium are left alone
    assert "cdn.jsdelivr.net" in folium.Map.default_js[0][1]


def test_editable_geojson_checks(grids):
    m = viz.offline_map(grids)
    with pytest.raises(ValueError, match="add_draw"):
        viz.editable_geojson(m, grids, "code")
    viz.add_draw(m)
    with pytest.raises(KeyError):
        viz.editable_geojson(m, grids, "nope")
    dup = grids.assign(code=["G1", "G1"])
    with pytest.raises(ValueError, match="unique"):
        viz.editable_geojson(m, dup, "code")
    # a frame in a metric CRS is drawn in EPSG:4326
    gj = viz.editable_geojson(m, grids.to_crs(4547), "code")
    x, y = gj.data["features"][0]["geometry"]["coordinates"][0][0]
    assert 112.9 < x < 112.94 and 35.78 < y < 35.8


def test_basemap_of_the_demo_district_is_light(demo_small):
    grids, streets = demo_small.grids, demo_small.streets
    m = viz.offline_map(grids)
    viz.add_vector_basemap(m, streets, grids)
    html = m.get_root().render()
    viz.assert_offline_html(html)
    # every grid and street drawn, yet the page stays small (a few hundred kB, no properties)
    assert html.count('"k": "micro"') == int((grids["level"] == "micro").sum())
    assert len(html) < 2_500_000, len(html)


@pytest.mark.browser
def test_offline_map_renders_and_draws_in_chromium(tmp_path):
    require_browser()
    with (
        streamlit_server(str(tmp_path / "unused.db"), script=APP) as url,
        chromium_page(url) as (page, guard),
    ):
        frame = page.frame_locator(FRAME)
        frame.locator(".leaflet-container").wait_for(timeout=30_000)
        frame.locator(".leaflet-draw-toolbar").first.wait_for(timeout=30_000)
        # the two grids (editable) and the basemap (streets + outlines) are drawn as SVG paths
        grids = frame.locator(".leaflet-overlay-pane path.leaflet-interactive")
        assert grids.count() == 2
        assert frame.locator(".leaflet-gridlens-basemap-pane path").count() == 5
        inner = page.locator(FRAME).element_handle().content_frame()
        assert inner.evaluate("[L.version, L.drawVersion]") == ["1.9.4", "1.0.4"]

        # edit: the grids are members of the Draw group, so vertex handles appear; drag one
        frame.locator(".leaflet-draw-edit-edit").click()
        handles = frame.locator(".leaflet-editing-icon")
        handles.first.wait_for(timeout=10_000)
        assert handles.count() >= 8  # 4 corners x 2 grids (plus middle markers)
        box = handles.first.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 20, y + 15, steps=5)
        page.mouse.up()
        frame.locator(".leaflet-draw-actions a", has_text="Save").click()
        page.get_by_text("drawings=2").wait_for(timeout=30_000)
        guard.settle()
        assert page.get_by_text("codes=140581001001001,140581001001002").count() == 1
        changed = page.locator("[data-testid='stMarkdown']", has_text="changed=").inner_text()
        assert re.fullmatch(r"changed=14058100100100[12]", changed.strip()), changed

        # draw a new polygon: it comes back beside the grids, with no properties
        frame.locator(".leaflet-draw-draw-polygon").click()
        mapbox = page.locator(FRAME).bounding_box()
        cx, cy = mapbox["x"] + mapbox["width"] * 0.3, mapbox["y"] + mapbox["height"] * 0.75
        for dx, dy in [(0, 0), (60, 0), (60, 50), (0, 50)]:
            page.mouse.click(cx + dx, cy + dy)
            page.wait_for_timeout(150)
        page.mouse.click(cx, cy)  # the first vertex again closes the ring
        page.get_by_text("drawings=3").wait_for(timeout=30_000)
        guard.settle()

        # every vendored file the frame loaded came from the app's static route, with 200
        loaded = inner.evaluate(
            "performance.getEntriesByType('resource').map(e => [e.name, e.responseStatus])"
        )
        static = [(n, s) for n, s in loaded if "/app/static/" in n]
        names = {n.split("/app/static/")[1] for n, _ in static}
        assert {
            "vendor/leaflet/leaflet.js",
            "vendor/leaflet/leaflet.css",
            "vendor/leaflet-draw/leaflet.draw.js",
            "vendor/leaflet-draw/leaflet.draw.css",
        } <= names, names
        assert all(s == 200 for _, s in static), static
        guard.check()
        assert not [e for e in guard.console_errors if "leaflet" in e.lower()]
        guard.screenshot("webmap_offline")
