"""The demo district generator: exact grid topology, realistic rhythms, planted truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gis import demo
from gis.grids import number_west_east_north_south
from gis.taxonomy import read_taxonomy

METRIC = 4547


@pytest.fixture(scope="module")
def district() -> demo.DemoDistrict:
    return demo.generate_district(42)


@pytest.fixture(scope="module")
def grids_m(district):
    """Grids in EPSG:4547 (metres)."""
    return district.grids.to_crs(METRIC)


@pytest.fixture(scope="module")
def incidents_m(district):
    """Incidents with metric x/y columns (EPSG:4547) and the hour of day."""
    inc = district.incidents.to_crs(METRIC)
    xy = shapely.get_coordinates(inc.geometry.values)
    return inc.assign(x=xy[:, 0], y=xy[:, 1], hour=inc["occurred_at"].dt.hour)


def _metric_xy(lonlat) -> np.ndarray:
    from pyproj import Transformer

    tr = Transformer.from_crs(4326, METRIC, always_xy=True)
    return np.array(tr.transform(*lonlat))


def _per_day(mask: pd.Series, times: pd.Series, start: str, end: str) -> float:
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    return float((mask & (times >= t0) & (times < t1)).sum()) / (t1 - t0).days


# ---------------------------------------------------------------------------------------------
# numbering rule
# ---------------------------------------------------------------------------------------------
def test_numbering_west_east_north_south_small_example():
    # two rows of 100 m: north row (y ~ 1000) west->east, then the south row
    pts = np.array([[300, 1000], [100, 990], [200, 880], [50, 870], [200, 1010]], dtype=float)
    seq = number_west_east_north_south(pts, band_m=100.0)
    assert seq.tolist() == [3, 1, 5, 4, 2]
    assert number_west_east_north_south(np.empty((0, 2)), 10.0).tolist() == []


def test_numbering_overflow_raises_not_wraps():
    pts = np.column_stack([np.arange(9.0), np.zeros(9)])
    assert number_west_east_north_south(pts, 50.0, max_seq=9).max() == 9
    with pytest.raises(ValueError, match="顺序码已满"):
        number_west_east_north_south(pts, 50.0, max_seq=8)
    with pytest.raises(ValueError):
        number_west_east_north_south(pts[:, :1], 50.0)


# ---------------------------------------------------------------------------------------------
# grids
# ---------------------------------------------------------------------------------------------
def test_grid_counts_and_order(district):
    g = district.grids
    assert g.crs.to_epsg() == 4326
    assert g["level"].value_counts().to_dict() == {
        "micro": 447,
        "l2": 46,
        "l1": 15,
        "dedicated": 15,
    }
    levels = ["l1", "l2", "micro", "dedicated"]
    rank = g["level"].map(levels.index)
    assert rank.is_monotonic_increasing
    for lev in levels:
        assert g.loc[g["level"] == lev, "code"].is_monotonic_increasing
    assert set(g.loc[g["level"] == "dedicated", "kind"]) == set(demo.DEDICATED_KINDS)
    assert g.loc[g["level"] != "dedicated", "kind"].isna().all()


def test_grid_parents_and_codes(district):
    g = district.grids.set_index("code")
    level = g["level"]
    codes = g.index.to_series()
    assert codes.is_unique
    assert codes.str.fullmatch(r"140581001\d{6}").all()
    assert g.loc[level == "l1", "parent_code"].isna().all()
    l1 = codes[level == "l1"]
    assert sorted(l1.str[9:12]) == [f"{i:03d}" for i in range(1, 16)]
    assert (l1.str[12:] == "000").all()
    for lev, parent_level, keep in [("l2", "l1", 12), ("micro", "l2", 13), ("dedicated", "l1", 12)]:
        kids = g[level == lev]
        assert (level[kids["parent_code"]] == parent_level).all(), lev
        assert (kids.index.str[:keep] == kids["parent_code"].str[:keep]).all(), lev
    l2 = codes[level == "l2"]
    assert l2.str[12].astype(int).between(1, 8).all() and (l2.str[13:] == "00").all()
    micro = codes[level == "micro"]
    assert micro.str[13:].astype(int).between(1, 99).all()
    assert (codes[level == "dedicated"].str[12] == "9").all()
    # names follow the parent's name
    names = g["name"]
    kids = g[level.isin(["l2", "micro"])]
    assert all(
        n.startswith(names[p]) for n, p in zip(kids["name"], kids["parent_code"], strict=True)
    )
    assert g.loc[level == "dedicated", "name"].str.endswith("专属网格").all()


def test_codes_number_west_east_north_south(grids_m):
    """Recompute every sequence number from representative points with the public rule."""
    g = grids_m.set_index("code")
    rep = shapely.get_coordinates(shapely.point_on_surface(g.geometry.values))
    rep = pd.DataFrame(rep, index=g.index, columns=["x", "y"])
    area = g.geometry.area
    l1 = g.index[g["level"] == "l1"]
    seq = number_west_east_north_south(rep.loc[l1].to_numpy(), np.sqrt(area[l1].sum() / len(l1)))
    assert (seq == l1.str[9:12].astype(int)).all()
    for lev, digits in [("l2", slice(12, 13)), ("micro", slice(13, 15))]:
        kids = g[g["level"] == lev]
        for parent, grp in kids.groupby("parent_code"):
            band = np.sqrt(area[grp.index].mean())
            seq = number_west_east_north_south(rep.loc[grp.index].to_numpy(), band)
            assert (seq == grp.index.str[digits].astype(int)).all(), parent
    # spot check: the first micro of a level-2 grid is in its northern row, west of its row mates
    kids = g[(g["level"] == "micro") & (g["parent_code"] == g.index[g["level"] == "l2"][0])]
    first = rep.loc[kids.index[0]]
    band = np.sqrt(area[kids.index].mean())
    assert first["y"] >= rep.loc[kids.index, "y"].max() - band


def test_geometries_valid_multipolygons(district):
    geoms = district.grids.geometry.values
    assert shapely.is_valid(geoms).all()
    assert (shapely.get_type_id(geoms) == 6).all()  # MultiPolygon
    assert district.boundary.is_valid and district.boundary.geom_type == "Polygon"


@pytest.mark.parametrize("child,parent", [("l1", None), ("l2", "l1"), ("micro", "l2")])
def test_children_tile_parent_exactly(grids_m, district, child, parent):
    g = grids_m
    kids = g[g["level"] == child]
    if parent is None:  # level-1 grids tile the district outline
        parents = {None: shapely.transform(district.boundary, lambda xy: _to_metric(xy))}
        groups = {None: kids}
    else:
        parents = dict(
            zip(
                g.loc[g["level"] == parent, "code"],
                g.loc[g["level"] == parent].geometry,
                strict=True,
            )
        )
        groups = dict(tuple(kids.groupby("parent_code")))
    assert set(groups) == set(parents)
    for code, grp in groups.items():
        outer = parents[code]
        assert abs(grp.geometry.area.sum() - outer.area) < 1.0, code
        union = shapely.union_all(grp.geometry.values)
        assert outer.difference(union).area < 1.0, code
        assert union.difference(outer).area < 1.0, code
    # siblings never overlap (pairs from an STRtree, not O(n^2))
    geoms = kids.geometry.values
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pair = left < right
    overlap = shapely.area(shapely.intersection(geoms[left[pair]], geoms[right[pair]])).sum()
    assert overlap < 1.0


def _to_metric(xy: np.ndarray) -> np.ndarray:
    from pyproj import Transformer

    tr = Transformer.from_crs(4326, METRIC, always_xy=True)
    return np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))


def test_district_size_and_location(district):
    outline = shapely.transform(district.boundary, _to_metric)
    assert 10e6 <= outline.area <= 20e6
    c = district.boundary.centroid
    assert abs(c.x - 112.93) < 0.05 and abs(c.y - 35.80) < 0.05


def test_households_population_businesses(district):
    g = district.grids.set_index("code")
    micro = g[g["level"] == "micro"]
    assert micro["households"].between(300, 500).all()
    ratio = micro["population"] / micro["households"]
    assert ratio.between(2.29, 3.01).all()
    for lev in ["l2", "l1"]:
        kids = g[g["parent_code"].isin(g.index[g["level"] == lev]) & (g["level"] != "dedicated")]
        sums = kids.groupby("parent_code")[["households", "population", "businesses"]].sum()
        parents = g.loc[sums.index, ["households", "population", "businesses"]]
        assert (sums == parents).all().all(), lev
    for col in ["households", "population", "businesses"]:
        assert g[col].dtype == np.int64


def test_dedicated_grids_inside_their_l1(grids_m, district):
    g = grids_m.set_index("code")
    ded = g[g["level"] == "dedicated"]
    for code, row in ded.iterrows():
        parent = g.geometry[row["parent_code"]]
        assert row.geometry.difference(parent).area < 1.0, code
        assert 2_000 < row.geometry.area < 60_000, code
    # they sit on the units named in places (schools, hospital, markets)
    places = district.places.to_crs(METRIC)
    units = places[places["kind"].isin(["school", "hospital", "market"])]
    for name, pt in zip(units["name"], units.geometry, strict=True):
        assert ded.loc[ded["name"] == name + "专属网格"].geometry.iloc[0].contains(pt), name


def test_staff_for_every_grid(district):
    s, g = district.staff, district.grids
    assert s["staff_code"].is_unique and s["phone"].is_unique
    assert s["phone"].str.fullmatch(r"1[358]\d{9}").all()
    role_of = {"l1": "grid_leader", "l2": "grid_worker", "micro": "grid_assistant"}
    for lev, role in {**role_of, "dedicated": "grid_worker"}.items():
        codes = set(g.loc[g["level"] == lev, "code"])
        have = s[(s["role"] == role) & s["grid_code"].isin(codes)]
        assert len(have) == len(codes) and set(have["grid_code"]) == codes, lev
    officers = s[s["role"] == "enforcement_officer"]
    assert officers["department"].value_counts().to_dict() == {
        "chengguan": 12,
        "scjg": 6,
        "pcs": 6,
        "jiaojing": 6,
    }
    assert officers["grid_code"].isin(g.loc[g["level"] == "l1", "code"]).all()
    assert (s.loc[s["role"] != "enforcement_officer", "department"] == "shequ").all()
    assert s["name"].str.len().between(2, 3).all()


def test_street_network_connected_and_named(district):
    st = district.streets
    assert st["street_id"].is_unique
    assert set(st["highway"]) == {"main", "street", "alley"}
    assert (st["name"].str.len() > 1).all()
    ends = np.concatenate(
        [
            shapely.get_coordinates(shapely.get_point(st.geometry.values, 0)),
            shapely.get_coordinates(shapely.get_point(st.geometry.values, -1)),
        ]
    )
    _, node = np.unique(np.round(ends, 7), axis=0, return_inverse=True)
    node = node.ravel()
    n = len(st)
    adj = coo_matrix((np.ones(n), (node[:n], node[n:])), shape=(node.max() + 1,) * 2)
    assert connected_components(adj, directed=False)[0] == 1
    outline = district.boundary.buffer(1e-6)
    assert shapely.covered_by(st.geometry.values, outline).all()


# ---------------------------------------------------------------------------------------------
# incidents
# ---------------------------------------------------------------------------------------------
def test_incident_frame_basics(district):
    inc = district.incidents
    tax = read_taxonomy().set_index("code")
    assert len(inc) >= 150_000
    assert inc["external_id"].is_unique
    assert shapely.contains_xy(
        district.boundary, *shapely.get_coordinates(inc.geometry.values).T
    ).all()
    assert set(inc["category_code"]) <= set(tax.index)
    # every class is planted except 99-99 "unclassified", which only an import produces
    assert set(inc["category_code"]) == set(tax.index) - {"99-99"}
    assert (inc["department"] == tax.loc[inc["category_code"], "department"].to_numpy()).all()
    assert (inc["reported_at"] >= inc["occurred_at"]).all()
    assert inc["occurred_at"].min() >= demo.DEMO_START
    assert inc["occurred_at"].max() < demo.DEMO_END
    order = inc.sort_values(["occurred_at", "external_id"]).index
    assert (order == inc.index).all()
    for col in ["occurred_at", "reported_at", "closed_at"]:
        assert inc[col].dtype == "datetime64[ns]"
    assert inc["address"].str.fullmatch(r".+[路街道巷]\d+号").all()
    assert (inc["description"].str.len() > 3).all()


def test_incident_sources_statuses_and_timeliness(district):
    inc = district.incidents
    share = inc["source"].value_counts(normalize=True)
    expected = {"patrol": 0.45, "hotline": 0.25, "camera": 0.20, "wechat": 0.07, "referral": 0.03}
    for src, p in expected.items():
        assert abs(share[src] - p) < 0.03, src
    closed = inc["status"] == "closed"
    assert (closed == inc["closed_at"].notna()).all()
    assert (inc.loc[closed, "closed_at"] >= inc.loc[closed, "reported_at"]).all()
    assert (inc["closed_at"].dropna() < demo.DEMO_END).all()
    old = inc["reported_at"] < demo.DEMO_END - pd.Timedelta(days=45)
    assert closed[old].mean() > 0.999
    recent = inc["reported_at"] >= demo.DEMO_END - pd.Timedelta(days=21)
    assert set(inc.loc[recent, "status"]) == {
        "registered",
        "dispatched",
        "handling",
        "closed",
        "rework",
    }
    assert 0.03 < (~closed[recent]).mean() < 0.5
    limit_h = read_taxonomy().set_index("code")["time_limit_h"]
    hours = (inc["closed_at"] - inc["reported_at"]).dt.total_seconds() / 3600
    on_time = (hours <= limit_h.reindex(inc["category_code"]).to_numpy())[closed]
    assert 0.80 < on_time.mean() < 0.90
    assert set(inc["severity"]) == {"general", "major", "emergency"}
    assert (inc["severity"] == "general").mean() > 0.9


def test_daily_rhythms(district, incidents_m):
    inc = incidents_m
    enc = inc[inc["category_code"] == "05-04"]
    assert enc["hour"].between(16, 23).mean() > 0.6
    noise = inc[inc["category_code"] == "06-02"]
    assert (noise["hour"].ge(20) | noise["hour"].lt(3)).mean() > 0.7
    building = inc[inc["category_code"] == "03-01"]
    assert (building["occurred_at"].dt.day_of_week < 5).mean() > 0.85
    # school gates: parking at drop-off (7:15-8:15) and pick-up (16:30-17:45) on school days
    schools = district.places[district.places["kind"] == "school"].to_crs(METRIC)
    sxy = shapely.get_coordinates(schools.geometry.values)
    park = inc[inc["category_code"] == "05-05"]
    d = np.hypot(
        park["x"].to_numpy()[:, None] - sxy[:, 0], park["y"].to_numpy()[:, None] - sxy[:, 1]
    )
    gate = park[(d.min(axis=1) < 60) & (park["occurred_at"].dt.day_of_week < 5)]
    minute = gate["occurred_at"].dt.hour * 60 + gate["occurred_at"].dt.minute
    in_window = minute.between(435, 494) | minute.between(990, 1064)
    assert len(gate) > 2_000 and in_window.mean() > 0.6
    summer = inc[(inc["category_code"] == "05-10")]["occurred_at"].dt.month
    assert summer.isin([6, 7, 8]).sum() > 3 * summer.isin([12, 1, 2]).sum()


def _within(inc: pd.DataFrame, code: str, center: np.ndarray, r0: float, r1: float) -> pd.Series:
    dist = np.hypot(inc["x"] - center[0], inc["y"] - center[1])
    return (inc["category_code"] == code) & (dist >= r0) & (dist < r1)


def test_planted_hotspots(district, incidents_m):
    inc, t = incidents_m, incidents_m["occurred_at"]
    spots = {h["pattern"]: h for h in district.truth["hotspots"]}
    assert set(spots) == {"persistent", "new", "intensifying", "diminishing"}
    # background rate of the same category in a same-size disc, for scale
    area_share = {p: np.pi * h["radius_m"] ** 2 / 14e6 for p, h in spots.items()}

    h = spots["new"]
    near = _within(inc, h["category_code"], _metric_xy(h["center_lonlat"]), 0, h["radius_m"])
    before = _per_day(near, t, "2025-11-01", "2026-08-01")
    after = _per_day(near, t, "2026-08-01", "2026-11-01")
    assert after > 10 * max(before, 0.5) and after > 20

    h = spots["diminishing"]
    near = _within(inc, h["category_code"], _metric_xy(h["center_lonlat"]), 0, h["radius_m"])
    before = _per_day(near, t, "2025-11-01", "2026-04-01")
    after = _per_day(near, t, "2026-05-01", "2026-11-01")
    assert before > 15 and after < 0.3 * before

    h = spots["intensifying"]
    near = _within(inc, h["category_code"], _metric_xy(h["center_lonlat"]), 0, h["radius_m"])
    monthly = near.groupby(t.dt.to_period("M")).sum()
    assert monthly.iloc[-3:].mean() > 3 * monthly.iloc[:3].mean()
    assert (np.diff(monthly.to_numpy()) > 0).mean() > 0.6

    h = spots["persistent"]
    near = _within(inc, h["category_code"], _metric_xy(h["center_lonlat"]), 0, h["radius_m"])
    monthly = near.groupby(t.dt.to_period("M")).sum()
    total = (inc["category_code"] == h["category_code"]).groupby(t.dt.to_period("M")).sum()
    assert len(monthly) == 12
    assert (monthly / total > 20 * area_share["persistent"]).all()
    assert set(h["micro_codes"]) <= set(district.grids["code"])


def test_operations_effective_and_displacement(district, incidents_m):
    inc, t = incidents_m, incidents_m["occurred_at"]
    ops = {o["expected"]: o for o in district.truth["operations"]}
    for expected, op in ops.items():
        area = shapely.transform(shapely.from_wkt(op["area_wkt"]), _to_metric)
        inside = (inc["category_code"] == op["category_code"]) & shapely.contains_xy(
            area, inc["x"], inc["y"]
        )
        before = _per_day(inside, t, "2025-11-01", op["start"][:10])
        after = _per_day(inside, t, "2026-05-01", "2026-11-01")
        assert after < 0.35 * before, expected
        ring_geom = area.buffer(400).difference(area.buffer(100))
        ring = (inc["category_code"] == op["category_code"]) & shapely.contains_xy(
            ring_geom, inc["x"], inc["y"]
        )
        r_before = _per_day(ring, t, "2025-11-01", op["start"][:10])
        r_after = _per_day(ring, t, "2026-05-01", "2026-11-01")
        if expected == "displacement":
            assert r_after > 3 * r_before and r_after - r_before > 0.5 * (before - after)
        else:
            assert r_after < 1.5 * r_before + 1


# ---------------------------------------------------------------------------------------------
# patrol tracks
# ---------------------------------------------------------------------------------------------
def test_tracks_and_fixes(district):
    tr, fx = district.tracks, district.fixes
    assert 300_000 <= len(fx) <= 500_000
    assert len(tr) == 46 * 2 * 14 and tr["track_code"].is_unique
    workers = district.staff[district.staff["role"] == "grid_worker"]
    assert set(tr["staff_code"]) <= set(workers["staff_code"])
    assert set(fx["track_code"]) == set(tr["track_code"])
    key = fx["track_code"].to_numpy()
    assert (key[1:] >= key[:-1]).all()
    same = key[1:] == key[:-1]
    gaps = np.diff(fx["t"].to_numpy().astype(np.int64))[same] / 1e9
    assert gaps.min() >= 5 and gaps.max() <= 30
    assert fx["t"].min() >= demo.DEMO_END - pd.Timedelta(days=14)
    assert set(fx["t"].dt.hour) <= {8, 9, 10, 11, 18, 19, 20, 21}
    dur = (tr["ended_at"] - tr["started_at"]).dt.total_seconds() / 60
    assert dur.between(60, 120).all()
    starts = tr["started_at"].dt.hour * 60 + tr["started_at"].dt.minute
    assert (starts.between(530, 551) | starts.between(1130, 1151)).all()
    span = fx.groupby("track_code")["t"].agg(["min", "max"]).join(tr.set_index("track_code"))
    assert (span["min"] >= span["started_at"]).all() and (span["max"] <= span["ended_at"]).all()
    assert shapely.contains_xy(
        district.boundary.buffer(0.002), *shapely.get_coordinates(fx.geometry.values).T
    ).all()


def test_neglected_micro_grids_get_no_fixes(district, grids_m):
    neglected = district.truth["neglected_micro_codes"]
    assert 10 <= len(neglected) <= 14
    micro = grids_m[grids_m["level"] == "micro"].set_index("code")
    assert micro.loc[neglected, "parent_code"].nunique() >= 8
    fx = district.fixes.to_crs(METRIC)
    idx_fix, idx_micro = shapely.STRtree(micro.geometry.values).query(
        fx.geometry.values, predicate="within"
    )
    counts = pd.Series(np.bincount(idx_micro, minlength=len(micro)), index=micro.index)
    assert counts[neglected].max() <= 0.02 * counts.drop(neglected).median()
    # skipping them cuts nobody else off: every other micro-grid gets patrolled
    assert (counts.drop(neglected) > 0).all()


def test_truth_is_json_and_complete(district):
    truth = json.loads(json.dumps(district.truth))
    assert truth["seed"] == 42 and truth["metric_epsg"] == 4547
    assert truth["period"] == {"start": "2025-11-01T00:00:00", "end": "2026-11-01T00:00:00"}
    assert truth["counts"]["incidents"] == len(district.incidents)
    assert truth["counts"]["fixes"] == len(district.fixes)
    assert {o["expected"] for o in truth["operations"]} == {"effective", "displacement"}
    codes = set(district.grids["code"])
    for item in truth["hotspots"] + truth["operations"]:
        assert item["micro_codes"] and set(item["micro_codes"]) <= codes
    assert set(truth["neglected_micro_codes"]) <= codes
    planted = {c for item in truth["hotspots"] + truth["operations"] for c in item["micro_codes"]}
    assert not planted & set(truth["neglected_micro_codes"])  # the stories stay separate


# ---------------------------------------------------------------------------------------------
# determinism
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_same_seed_same_fingerprint(district):
    a = demo.generate_district(42, track_days=1)
    b = demo.generate_district(42, track_days=1)
    c = demo.generate_district(43, track_days=1)
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != c.fingerprint()
    assert a.fingerprint() != district.fingerprint()  # track_days is part of the data
    pd.testing.assert_frame_equal(a.incidents, district.incidents)  # tracks come last
    assert len(a.fixes) < len(district.fixes) / 10
    assert c.truth["neglected_micro_codes"] != a.truth["neglected_micro_codes"]


def test_bad_track_days():
    with pytest.raises(ValueError):
        demo.generate_district(1, track_days=-1)
