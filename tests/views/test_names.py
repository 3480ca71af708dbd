"""Human names of units and areas (issue 20, "Where"): ``gis.grids.unit_names`` on a hand-made
district, the map view that fits the district, and the Hotspots page naming its units, fitting
the district and outlining (not filling) the chosen unit."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis import viz
from gis.grids import unit_names
from tests.ui.apptest import new_app, sign_in


def _box(x: float, y: float, r: float = 0.0005) -> shapely.Polygon:
    return shapely.box(x - r, y - r, x + r, y + r)


def test_unit_names_community_then_place_or_street(tiny_grids):
    # 社区1 is 112.90-112.91 E, 社区2 112.91-112.92 E (35.79-35.80 N); 1e-3 deg lon ~ 90 m
    places = gpd.GeoDataFrame(
        {"name": ["东关市场"]}, geometry=[shapely.Point(112.905, 35.795)], crs=4326
    )
    streets = gpd.GeoDataFrame(
        {"name": ["幸福路", None]},
        geometry=[
            shapely.LineString([(112.915, 35.79), (112.915, 35.80)]),
            shapely.LineString([(112.919, 35.79), (112.919, 35.80)]),  # unnamed: never used
        ],
        crs=4326,
    )
    units = gpd.GeoSeries(
        [
            _box(112.905, 35.795),  # on the market
            _box(112.9055, 35.7952),  # ~45 m from it: the same name, numbered
            _box(112.913, 35.795),  # 社区2, 180 m from 幸福路, 720 m from the market
            _box(112.9195, 35.7995),  # 406 m from 幸福路: no place or street near
            shapely.Polygon(),  # empty: its prefix only
        ],
        crs=4326,
    )
    got = unit_names(units, tiny_grids, streets=streets, places=places)
    assert got == [
        "社区1 · 东关市场",
        "社区1 · 东关市场 (2)",
        "社区2 · 幸福路",
        "社区2",
        "",
    ]
    zones = unit_names(
        units[:3], tiny_grids, streets=streets, places=places, prefixes=["Z01", "Z02", "Z03"]
    )
    assert zones == ["Z01 · 社区1 · 东关市场", "Z02 · 社区1 · 东关市场", "Z03 · 社区2 · 幸福路"]
    # a grid's own name already holds its community: not repeated
    own = unit_names(units[2:3], tiny_grids, places=places, prefixes=["社区2第1网格"])
    assert own == ["社区2第1网格"]


def _pixels(view, lon, lat):
    world = viz.layers.DECK_WORLD_PX * 2**view.zoom

    def merc(lo, la):
        phi = np.radians(la)
        return (lo + 180) / 360 * world, (
            1 - np.log(np.tan(np.pi / 4 + phi / 2)) / np.pi
        ) / 2 * world

    cx, cy = merc(view.longitude, view.latitude)
    x, y = merc(np.asarray(lon), np.asarray(lat))
    return x - cx, y - cy


@pytest.mark.parametrize(("w", "h"), [(640, 560), (900, 480), (400, 700)])
def test_view_for_fits_the_bounds_with_a_margin(tiny_grids, w, h):
    minx, miny, maxx, maxy = tiny_grids.total_bounds
    view = viz.view_for(tiny_grids.geometry, width_px=w, height_px=h, margin=0.06)
    dx, dy = _pixels(view, [minx, maxx], [maxy, miny])  # west/east, north/south edges
    # the bounds sit inside the map less 6 % on every side, centred ...
    assert -w / 2 * 0.88 - 1e-6 <= dx[0] and dx[1] <= w / 2 * 0.88 + 1e-6
    assert -h / 2 * 0.88 - 1e-6 <= dy[0] and dy[1] <= h / 2 * 0.88 + 1e-6
    assert abs(dx[0] + dx[1]) < 1e-6 and abs(dy[0] + dy[1]) < 1e-6
    # ... and as large as that allows: one side touches its margin
    assert max((dx[1] - dx[0]) / (0.88 * w), (dy[1] - dy[0]) / (0.88 * h)) == pytest.approx(1)


def test_hotspots_page_names_units_fits_the_district_and_outlines_the_choice(demo_db):
    at = sign_in(new_app(), "analyst", "analyst-demo")
    at.switch_page("pages/hotspots.py").run()
    assert not at.exception, at.exception
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    feats = [la for la in spec["layers"] if la["id"] == "units"][0]["data"]["features"]
    communities = {"凤凰社区", "神农社区", "长平社区", "北关社区", "南关社区", "建宁社区"}
    first = [f["properties"]["tip"].split("\n") for f in feats]
    # every tooltip starts with a name (community first), never the H3 id; numbers labelled
    assert all(t[0].split(" · ")[0].endswith("社区") for t in first)
    assert not any(f["properties"]["unit_id"] in f["properties"]["tip"] for f in feats)
    assert all(t[1].startswith("事件 ") and "密度" in t[1] and "/km²" in t[1] for t in first)
    assert {t[0].split(" · ")[0] for t in first} & communities
    # the view shows every unit in a 640 x 600 map (the map beside its legend)
    view = spec["initialViewState"]
    lon = [c[0] for f in feats for c in f["geometry"]["coordinates"][0]]
    lat = [c[1] for f in feats for c in f["geometry"]["coordinates"][0]]

    class V:
        longitude, latitude, zoom = view["longitude"], view["latitude"], view["zoom"]

    dx, dy = _pixels(V, lon, lat)
    assert np.abs(dx).max() <= 320 and np.abs(dy).max() <= 300
    box = [s for s in at.selectbox if str(s.key).startswith("hs_pick")][0]
    assert box.options[1].split(" · ")[0].endswith("社区")
    # a click on a unit: it is outlined (no fill) and the map carries no selection to wash out
    uid = feats[5]["properties"]["unit_id"]
    click = {"units": [{"properties": feats[5]["properties"]}]}
    at.session_state["hs_map_0"] = {"selection": {"indices": {"units": [5]}, "objects": click}}
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["hs_unit"] == uid
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    chosen = [la for la in spec["layers"] if la["id"] == "selected"]
    assert len(chosen) == 1 and chosen[0]["filled"] is False
    (feat,) = chosen[0]["data"]["features"]
    drawn = shapely.geometry.shape(feat["geometry"])
    assert drawn.hausdorff_distance(shapely.geometry.shape(feats[5]["geometry"])) < 2e-6
    assert any(uid in m.value and m.value.startswith("**") for m in at.markdown)
