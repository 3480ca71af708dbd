"""Page models read from the incident cube equal the in-memory path on the demo district.

The in-memory path is what the app did before: every incident read, located in the current
grids (``assign_points``) and filtered with ``gis.views.home.filter_incidents``; the cube path
is what the app does now (``gis.views.aggregates``, ``gis.views.home.cube_*`` and a narrow
``select_incidents`` for the on-time closure and one unit's incidents).
"""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest

from gis import hotspots as hs
from gis import patrol, planning, store
from gis.core.geometry import district_outline
from gis.grids import assign_points, descendants
from gis.store.cube import load_cube
from gis.store.incidents import h3_r11_range, select_incidents
from gis.taxonomy import category_mask
from gis.views import aggregates, home
from gis.views import hotspots as hotspots_view

FILTERS = [
    # (start, end, categories, sources, grid level to pick or None)
    ("2026-08-01", "2026-11-01", (), (), None),
    ("2026-05-10", "2026-06-20", ("05",), ("patrol", "hotline"), "l1"),
    ("2025-11-01", "2026-11-01", ("05-05", "01"), (), "l2"),
    ("2026-09-15", "2026-10-15", (), ("camera",), "micro"),
]


@pytest.fixture(scope="module")
def demo(demo_db):
    engine = store.open_store(demo_db)
    grids = store.read_grids(engine)
    frame = store.read_incidents(engine)
    assigned = assign_points(frame.geometry, grids)
    inc = pd.DataFrame(frame.drop(columns="geometry"))
    inc[["micro", "l2", "l1"]] = assigned
    inc["lon"], inc["lat"] = frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()
    yield {
        "engine": engine,
        "grids": grids,
        "incidents": inc,
        "taxonomy": store.read_table(engine, "taxonomy"),
        "staff": store.read_table(engine, "staff"),
        "cube": load_cube(engine, "grid"),
    }
    engine.dispose()


def _grid(grids, level):
    if level is None:
        return None
    codes = grids.loc[grids["level"] == level, "code"].sort_values()
    return codes.iloc[len(codes) // 3]


@pytest.mark.parametrize("case", FILTERS)
def test_home_numbers_from_the_cube_equal_the_in_memory_path(demo, case):
    start, end, cats, srcs, level = case
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    grids, inc, cube = demo["grids"], demo["incidents"], demo["cube"]
    grid_code = _grid(grids, level)
    # the in-memory path, as the page computed it before
    scoped = home.filter_incidents(
        inc, categories=cats, sources=srcs, grid_code=grid_code, grids=grids
    )
    in_period = home.filter_incidents(scoped, start=start, end=end)
    assert len(in_period) > 0
    weeks = home.weeks_ending(end - pd.Timedelta(seconds=1))
    # the cube path
    got = home.cube_summary(cube, start, end, cats, srcs, grid_code, grids)
    assert got["weeks"] == weeks
    pd.testing.assert_frame_equal(got["by_category"], home.week_by_category(scoped, weeks))
    assert got["in_filter"] == len(in_period)
    pd.testing.assert_series_equal(got["daily"], home.daily_counts(in_period, start, end))
    flt = aggregates.cube_filter(start, end, cats, srcs, grid_code, grids)
    for level_ in ("l1", "l2", "micro"):
        counts = home.cube_grid_counts(cube, flt, grids, level_)
        want = home.grid_rates(grids, in_period, level_)
        mine = home.rates_from_counts(grids, counts, level_)
        assert mine["incidents"].tolist() == want["incidents"].tolist()
        np.testing.assert_allclose(mine["per_km2"], want["per_km2"])
    card_code = grid_code or _grid(grids, "l2")
    want_card = home.grid_card(card_code, grids, demo["staff"], in_period)
    by_cat = home.cube_card_categories(cube, flt, card_code, grids)
    card = home.grid_card(card_code, grids, demo["staff"], by_category=by_cat)
    assert card["incidents"] == want_card["incidents"]
    pd.testing.assert_series_equal(
        card["by_category"].sort_index(), want_card["by_category"].sort_index(), check_names=False
    )
    # the on-time closure: a fortnight's rows from the store, not every incident
    lo, hi = home.closure_window(weeks, demo["taxonomy"])
    rows = select_incidents(
        demo["engine"],
        ("category_code", "status", "reported_at", "closed_at"),
        start=lo,
        end=hi,
        time_column="reported_at",
        sources=flt.sources,
        micros=flt.micros,
        not_null=("status",),
    )
    rows = rows[category_mask(rows["category_code"], list(cats))]
    assert len(rows) < len(scoped)
    want_closure = home.on_time_closure(scoped, demo["taxonomy"], weeks.this_start, weeks.end)
    got_closure = home.on_time_closure(rows, demo["taxonomy"], weeks.this_start, weeks.end)
    assert want_closure["due"] > 0
    assert got_closure == pytest.approx(want_closure, nan_ok=True)


def test_grid_filter_equals_the_hierarchy(demo):
    grids = demo["grids"]
    l1 = _grid(grids, "l1")
    flt = aggregates.cube_filter(None, None, grid_code=l1, grids=grids)
    assert set(flt.micros) == descendants(l1, grids)
    anc = aggregates.level_ancestors(grids, "l1")
    micro = grids[grids["level"] == "micro"]
    assert set(anc) == set(micro["code"])
    assert {m for m, a in anc.items() if a == l1} == set(flt.micros) & set(micro["code"])


# ------------------------------------------------------------------------------ hotspots
HOTSPOT_CASES = [
    ("h3:9", "2026-06-01", "2026-11-01", (), (), None),
    ("fishnet:200", "2026-03-01", "2026-07-01", ("05",), ("patrol",), "l1"),
    ("grid:micro", "2025-11-01", "2026-11-01", (), ("hotline", "camera"), "l2"),
    ("grid:l2", "2026-08-01", "2026-10-01", ("05-05", "01"), (), None),
]


@pytest.fixture(scope="module")
def cubes(demo):
    engine = demo["engine"]
    out = {kind: load_cube(engine, kind) for kind in ("grid", "h3", "fishnet")}
    out["epsg"] = int(store.get_meta(engine, "fishnet_epsg"))
    return out


def _in_memory(demo, by, start, end, cats, srcs, grid_code):
    inc, grids = demo["incidents"], demo["grids"]
    units = hotspots_view.make_units(by, grids, grid_code)
    mask = np.zeros(len(inc), dtype=bool)
    sub = home.filter_incidents(
        inc, start=start, end=end, categories=cats, sources=srcs, grid_code=grid_code, grids=grids
    )
    mask[inc.index.get_indexer(sub.index)] = True
    idx = hs.unit_index(inc[["lon", "lat"]].to_numpy(), units)
    return units, idx, mask


@pytest.mark.parametrize("case", HOTSPOT_CASES)
def test_hotspots_from_the_cube_equal_the_in_memory_path(demo, cubes, case):
    by, start, end, cats, srcs, level = case
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    grids, inc = demo["grids"], demo["incidents"]
    grid_code = _grid(grids, level)
    units, idx, mask = _in_memory(demo, by, start, end, cats, srcs, grid_code)
    want = hotspots_view.count_from_index(idx, units, mask)
    flt = aggregates.cube_filter(start, end, cats, srcs, grid_code, grids)
    family = cubes[aggregates.cube_kind(by)]
    got = aggregates.unit_counts(family, flt, units, by, grids, fishnet_epsg=cubes["epsg"])
    assert want["count"].sum() > 100
    assert got["count"].tolist() == want["count"].tolist()
    assert got.attrs["n_points"] == want.attrs["n_points"]
    assert got.attrs["n_outside"] == want.attrs["n_outside"]
    # Gi* and local Moran on equal counts are equal
    a = hotspots_view.analyse(want, lisa=True, permutations=99)
    b = hotspots_view.analyse(got, lisa=True, permutations=99)
    for col in ("gi_z", "gi_bin", "lisa_i", "lisa_cluster"):
        assert b[col].tolist() == a[col].tolist()
    # emerging patterns: the space-time counts equal space_time_cube of the incidents
    step = "month" if (end - start).days > 120 else "week"
    pts = inc[["lon", "lat"]].to_numpy()[mask]
    ref = hs.space_time_cube(pts, inc["occurred_at"][mask], units, step=step, start=start, end=end)
    stc = aggregates.space_time_counts(
        family, flt, units, by, step=step, grids=grids, fishnet_epsg=cubes["epsg"]
    )
    np.testing.assert_array_equal(stc.counts, ref.counts)
    assert (stc.n_points, stc.n_outside, stc.n_out_of_period) == (
        ref.n_points,
        ref.n_outside,
        ref.n_out_of_period,
    )
    assert list(stc.edges) == list(ref.edges)
    em_want = hotspots_view.add_emerging(a, units, inc[mask], step=step, start=start, end=end)
    em_got = hotspots_view.emerging_from_cube(b, units, stc)
    assert em_got["pattern"].tolist() == em_want["pattern"].tolist()
    # one unit's detail: its rows read by its stored keys
    unit = hotspots_view.unit_ranking(want)[0]
    pos = int(np.flatnonzero(units["unit_id"].astype(str).to_numpy() == unit)[0])
    any_time = home.filter_incidents(
        inc, categories=cats, sources=srcs, grid_code=grid_code, grids=grids
    )
    history_want = any_time[idx[inc.index.get_indexer(any_time.index)] == pos]
    rows = select_incidents(
        demo["engine"],
        ("category_code", "source", "occurred_at", "address", "grid_code"),
        sources=srcs,
        **aggregates.unit_selection(by, unit, grids),
    )
    keep = category_mask(rows["category_code"], list(cats))
    if flt.micros is not None:
        keep &= rows["grid_code"].isin(flt.micros).to_numpy()
    history = rows[keep]
    assert sorted(history["occurred_at"]) == sorted(history_want["occurred_at"])
    t = history["occurred_at"]
    detail = hotspots_view.unit_detail(
        history[(t >= start) & (t < end)], history=history, start=start, end=end
    )
    assert detail["n"] == int(want.set_index("unit_id").loc[unit, "count"])


def test_kde_from_binned_counts_is_the_heat_of_the_incidents(demo, cubes):
    grids, inc = demo["grids"], demo["incidents"]
    start, end = pd.Timestamp("2026-06-01"), pd.Timestamp("2026-09-01")
    sub = home.filter_incidents(inc, start=start, end=end)
    area = hs.study_area(grids)
    want = hs.kde(sub[["lon", "lat"]].to_numpy(), extent=area)
    flt = aggregates.cube_filter(start, end)
    pts, w = aggregates.binned_points(cubes["fishnet"], flt, cubes["epsg"])
    assert w.sum() == len(sub) and len(pts) < len(sub) / 3
    got = hs.kde(pts, extent=area, weights=w)
    # the 50-m binning moves a point by at most 35 m: the bandwidth (hundreds of metres) and
    # the heat agree closely
    assert got.bandwidth_m == pytest.approx(want.bandwidth_m, rel=0.02)
    assert got.density_km2.shape == want.density_km2.shape
    peak = want.density_km2.max()
    assert np.abs(got.density_km2 - want.density_km2).max() < 0.05 * peak
    assert np.corrcoef(got.density_km2.ravel(), want.density_km2.ravel())[0, 1] > 0.995


@pytest.mark.parametrize("resolution", [8, 9, 10, 11])
def test_h3_ranges_hold_exactly_a_cells_children_and_every_point_of_it(resolution):
    rng = np.random.default_rng(resolution)
    lon = 112.9 + rng.random(20000) * 0.05
    lat = 35.78 + rng.random(20000) * 0.04
    fine = [h3.latlng_to_cell(a, b, 11) for a, b in zip(lat, lon, strict=True)]
    own = [h3.latlng_to_cell(a, b, resolution) for a, b in zip(lat, lon, strict=True)]
    ints = np.array([h3.str_to_int(c) for c in fine])
    parents = np.array([h3.cell_to_parent(c, resolution) for c in fine])
    target = own[0]
    lo, hi = h3_r11_range(h3.str_to_int(target), resolution)
    inside = (ints >= lo) & (ints <= hi)
    assert inside.tolist() == (parents == target).tolist() and inside.sum() >= 1
    # a point's resolution-11 cell descends from its own cell or a neighbour of it, so the
    # seven ranges select_incidents scans hold every point of a cell
    for cell, parent in zip(own, parents, strict=True):
        assert parent == cell or h3.grid_distance(parent, cell) == 1


# ------------------------------------------------------------------------------ patrol risk
@pytest.mark.parametrize("by", ["grid:micro", "h3:11"])
def test_patrol_risk_from_the_cube_equals_the_risk_of_the_incidents(demo, cubes, by):
    grids, inc = demo["grids"], demo["incidents"]
    start, end = pd.Timestamp("2026-07-01"), pd.Timestamp("2026-10-01")
    cats, srcs = ("05", "01-07"), ("patrol", "hotline", "camera")
    sub = home.filter_incidents(inc, start=start, end=end, categories=cats, sources=srcs)
    if by == "grid:micro":
        units = hs.grid_units(grids, "micro")
    else:
        units = hs.h3_units(district_outline(grids), 11)
    want = patrol.unit_risk(sub, units)
    flt = aggregates.cube_filter(start, end, cats, srcs)
    counts = aggregates.category_unit_counts(cubes[aggregates.cube_kind(by)], flt, by, grids)
    got = patrol.unit_risk_from_counts(counts, units)
    assert want["count"].sum() > 1000
    pd.testing.assert_frame_equal(got, want)


# ------------------------------------------------------------------------------ rectification
def _points(frame):
    return gpd.GeoDataFrame(
        frame.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
        crs=4326,
    )


def _near(demo, area, start, end, cats, srcs, flt, zone):
    rows = select_incidents(
        demo["engine"],
        ("external_id", "category_code", "source", "status", "occurred_at", "address"),
        start=start,
        end=end,
        sources=srcs,
        with_lonlat=True,
        **aggregates.area_selection(
            area, demo["grids"], flt, fill_holes=zone, margin_deg=0.0003 if zone else 0.0
        ),
    )
    return _points(rows[category_mask(rows["category_code"], list(cats))])


@pytest.mark.parametrize(
    "case",
    [
        ("h3:10", "2026-05-01", "2026-11-01", (), (), None),
        ("grid:micro", "2026-02-01", "2026-08-01", ("05",), ("patrol", "hotline"), None),
        ("fishnet:100", "2026-01-01", "2026-07-01", (), (), "l1"),
    ],
)
def test_rectification_zones_and_briefing_from_a_narrow_selection(demo, cubes, case):
    by, start, end, cats, srcs, level = case
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    grids, inc = demo["grids"], demo["incidents"]
    grid_code = _grid(grids, level)
    units, idx, mask = _in_memory(demo, by, start, end, cats, srcs, grid_code)
    analysed = hotspots_view.analyse(hotspots_view.count_from_index(idx, units, mask))
    want = planning.propose_zones(analysed, _points(inc[mask]), period=(start, end))
    assert len(want) >= 1
    flt = aggregates.cube_filter(start, end, cats, srcs, grid_code, grids)
    hot = analysed.geometry[planning.hot_unit_mask(analysed)]
    near = _near(demo, hot.union_all(), start, end, cats, srcs, flt, zone=True)
    assert len(near) < mask.sum()
    got = planning.propose_zones(
        analysed, near, period=(start, end), district_incidents=int(analysed["count"].sum())
    )
    pd.testing.assert_frame_equal(
        pd.DataFrame(got.drop(columns="geometry")), pd.DataFrame(want.drop(columns="geometry"))
    )
    assert got.attrs["district_incidents"] == want.attrs["district_incidents"]
    # the briefing of the first zone, on the incidents around it only
    area = want.geometry.iloc[0]
    all_in_period = home.filter_incidents(inc, start=start, end=end, categories=cats, sources=srcs)
    b_want = planning.briefing(area, _points(all_in_period), grids=grids, period=(start, end))
    b_got = planning.briefing(
        area, _near(demo, area, start, end, cats, srcs, None, zone=False), grids=grids,
        period=(start, end),
    )  # fmt: skip
    assert b_got.n_incidents == b_want.n_incidents > 0
    pd.testing.assert_frame_equal(b_got.by_category, b_want.by_category)
    pd.testing.assert_frame_equal(b_got.top_addresses, b_want.top_addresses)
