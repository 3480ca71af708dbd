"""The offline basemap: built from a district's layers and a CGCS2000 city layer, read back with
tippecanoe's own decoder (a peer of the writer), and drawn by the Leaflet and deck.gl maps with
no URL leaving the server except the configured intranet tile host."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gis import viz
from gis.cli import main
from gis.core.coords import wgs84_to_gcj02
from gis.viz.basemap import lonlat_to_tile, read_tile
from gis.viz.mapstyle import MVT_WORKER
from tests.viz import basemap_fixture as F


def decode(path: Path, z: int, x: int, y: int) -> dict[str, list[dict]]:
    """Features per layer of one tile, by ``tippecanoe-decode`` (lon/lat coordinates)."""
    tool = Path(sys.executable).parent / "tippecanoe-decode"
    out = subprocess.run(
        [str(tool), str(path), str(z), str(x), str(y)], capture_output=True, text=True, check=True
    )
    doc = json.loads(out.stdout)
    return {fc["properties"]["layer"]: fc["features"] for fc in doc["features"]}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("basemap")
    F.water_cgcs2000(tmp / "river_water.gpkg")
    kind, water = viz.read_city_layer(str(tmp / "river_water.gpkg"))
    layers = viz.merge_layers(
        viz.district_layers(F.streets(), F.grids(), F.places()), {kind: water}
    )
    return viz.build_basemap(layers, tmp / "static" / "basemap" / "t.pmtiles"), tmp


def test_layers_and_chinese_names_in_tiles(built):
    info, _ = built
    assert info.layers == {"water": 1, "roads": 3, "boundaries": 1, "places": 2, "labels": 4}
    x, y = lonlat_to_tile(F.X0, F.Y0, 16)
    tile = decode(info.pmtiles, 16, x, y)
    assert {f["properties"]["name"] for f in tile["roads"]} >= {"凤凰大道", "书院街"}
    assert {f["properties"]["kind"] for f in tile["roads"]} >= {"main", "street"}
    labels = {f["properties"]["name"]: f["properties"]["kind"] for f in tile["labels"]}
    assert labels["北关社区"] == "community" and labels["凤凰大道"] == "street"


def test_cgcs2000_layer_reprojected_and_named(built):
    info, _ = built
    # the river lies from Y0 + 0.004 to Y0 + 0.005 (EPSG:4326); read from its EPSG:4490 file
    x, y = lonlat_to_tile(F.X0, F.Y0 + 0.0045, 15)
    water = decode(info.pmtiles, 15, x, y)["water"]
    assert [f["properties"]["name"] for f in water] == ["丹河"]
    lat = np.array([c[1] for ring in water[0]["geometry"]["coordinates"] for c in ring])
    assert lat.min() == pytest.approx(F.Y0 + 0.004, abs=2e-5)
    assert lat.max() == pytest.approx(F.Y0 + 0.005, abs=2e-5)


def test_xyz_folder_holds_every_tile_uncompressed(built):
    info, _ = built
    files = sorted(info.tiles_dir.rglob("*.pbf"))
    assert len(files) == info.n_tiles > 10
    z, x, y = (int(p) for p in files[0].relative_to(info.tiles_dir).with_suffix("").parts)
    data = files[0].read_bytes()
    assert data[:2] != b"\x1f\x8b" and data == read_tile(info.pmtiles, z, x, y)


def test_city_layer_kind_must_be_known(tmp_path):
    F.water_cgcs2000(tmp_path / "layer.gpkg")
    with pytest.raises(Exception, match="KIND"):
        viz.read_city_layer(str(tmp_path / "layer.gpkg"))
    assert viz.read_city_layer(f"{tmp_path / 'layer.gpkg'}:buildings")[0] == "buildings"


def test_cli_build_from_city_file(tmp_path, capsys):
    F.water_cgcs2000(tmp_path / "河流.gpkg")
    out = tmp_path / "city.pmtiles"
    code = main(
        [
            "basemap",
            "build",
            "--no-district",
            "--from",
            str(tmp_path / "河流.gpkg"),
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert out.exists() and "water: 1" in capsys.readouterr().out


def basemap_at(built) -> viz.Basemap:
    info, tmp = built
    return viz.find_basemap("t", static_dir=tmp / "static")


def test_leaflet_map_offline_and_tile_host_allowed(built, monkeypatch):
    bm = basemap_at(built)
    m = viz.offline_map((F.Y0, F.X0), zoom=15)
    viz.add_leaflet_basemap(m, bm, names={"vector": "矢量底图"})
    html = m.get_root().render()
    viz.assert_offline_html(html)
    # every vendored script is there; the basemap itself was built under tmp, not static/
    assert viz.missing_static_files(html) == [bm.pmtiles_url] and bm.path.is_file()
    assert bm.pmtiles_url in html and "protomaps-leaflet.js" in html
    # an intranet tile service: its host, and only it, is allowed
    monkeypatch.setenv(
        "GRIDLENS_TILE_URL",
        "http://tiles.city.intranet:8080/wmts?TileMatrix={TileMatrix}&TileCol={TileCol}&TileRow={TileRow}",
    )
    monkeypatch.setenv("GRIDLENS_TILE_CRS", "gcj02")
    monkeypatch.setenv("GRIDLENS_TILE_ATTRIBUTION", "© 市测绘院")
    tiles = viz.tile_server()
    assert tiles.host == "tiles.city.intranet:8080"
    m = viz.offline_map((F.Y0, F.X0), zoom=15)
    viz.add_leaflet_basemap(m, bm, tiles=tiles, initial="tiles")
    html = m.get_root().render()
    assert viz.external_urls(html) and viz.allowed_hosts() == ("tiles.city.intranet:8080",)
    viz.assert_offline_html(html)
    with pytest.raises(AssertionError):
        viz.assert_offline_html(html, allowed=["other.host"])
    conf = json.loads(re.search(r"var T = (\{.*?\});", html).group(1))
    assert conf["url"].endswith("TileMatrix={z}&TileCol={x}&TileRow={y}")
    assert conf["attribution"] == "© 市测绘院"
    # the GCJ-02 shift is the offset at the map's centre
    gx, gy = wgs84_to_gcj02(np.array([F.X0]), np.array([F.Y0]))
    dlon, dlat = viz.gcj_offset_deg(F.X0, F.Y0)
    assert (dlon, dlat) == pytest.approx((gx[0] - F.X0, gy[0] - F.Y0))
    assert 0.001 < abs(dlon) < 0.01 and (conf["dlon"], conf["dlat"]) == (dlon, dlat)


def test_deck_layers_under_and_over(built):
    bm = basemap_at(built)
    own = viz.street_layer(F.streets())
    cells = viz.polygon_layer([F.grids().geometry[0]], [{"tip": "x"}], layer_id="cells")
    deck = viz.deck([own, cells], viz.view_for(F.grids().geometry), basemap=bm)
    spec = json.loads(deck.to_json())
    assert [la["id"] for la in spec["layers"]] == ["basemap", "cells", "basemap-labels"]
    base, labels = spec["layers"][0], spec["layers"][-1]
    assert base["data"] == "/app/static/basemap/t/{z}/{x}/{y}.pbf"
    assert (
        base["loadOptions"]["mvt"]["workerUrl"]
        == "/app/static/vendor/" + MVT_WORKER.split("vendor/")[1]
    )
    assert (viz.STATIC_DIR / MVT_WORKER).is_file()
    assert labels["textCharacterSet"] == "auto" and labels["getText"] == "@@=properties.name"
    viz.assert_offline_html(
        deck.to_html(as_string=True, offline=False, notebook_display=False).split("<script")[0]
    )
    # without a basemap nothing changes
    assert [la.id for la in viz.with_basemap([own, cells], None)] == ["streets", "cells"]


def test_street_names_wait_for_their_zoom(built):
    """At the district's own view only community names are labelled (every street name at once
    is an unreadable carpet over the analysis layers); street names come at zoom 15."""
    info, _ = built
    x, y = lonlat_to_tile(F.X0, F.Y0, 13)
    low = {f["properties"]["kind"] for f in decode(info.pmtiles, 13, x, y).get("labels", [])}
    assert low == {"community"}
    x, y = lonlat_to_tile(F.X0, F.Y0, 15)
    mid = decode(info.pmtiles, 15, x, y)["labels"]
    assert {f["properties"]["kind"] for f in mid} == {"community", "street"}
