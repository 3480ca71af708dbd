"""Patrol coverage (issue 7): tracks in, cleaning, interpolation, presence, dosage, gaps, route.

Known answers come from walks built here: a staff member walking east along a row of the
``tiny_grids`` micro-grids (0.005 degree squares) at a constant speed, so the time in each grid is
known to the second.
"""

from __future__ import annotations

import gzip

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis import patrol
from gis.core import coords, settings
from gis.core.errors import InputError
from gis.core.geometry import to_metric_xy

T0 = pd.Timestamp("2026-01-05 10:00:00")
LAT = 35.7925  # the middle of the southern row of tiny_grids
#: the walk: lon = LON0 + V * t; grid edges at 112.905 / .910 / .915 are passed at 395/895/1395 s
LON0, V = 112.90105, 1e-5
# micro-grids of the southern row, west to east
ROW = ["140581001001101", "140581001001102", "140581001002101", "140581001002102"]


def walk(
    staff: str = "A", start: pd.Timestamp = T0, every_s: int = 10, duration_s: int = 1800
) -> gpd.GeoDataFrame:
    t = np.arange(0, duration_s + 1, every_s)
    return gpd.GeoDataFrame(
        {"staff_code": staff, "t": start + pd.to_timedelta(t, "s")},
        geometry=shapely.points(LON0 + V * t, np.full(len(t), LAT)),
        crs=4326,
    )


def by_unit(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("unit_id")


# --------------------------------------------------------------------------------------------
# Presence: exact visits and dwell
# --------------------------------------------------------------------------------------------
def test_walk_through_known_grids_gives_exact_visits_and_dwell(tiny_grids):
    fixes = pd.concat([walk(), walk(start=T0 + pd.Timedelta(hours=2))], ignore_index=True)
    clean = patrol.clean_fixes(fixes)
    assert clean.summary["tracks"] == 2 and clean.summary["splits_gap"] == 1
    samples = patrol.interpolate(clean.fixes, step_s=10)
    end = T0 + pd.Timedelta(hours=3)
    pres = by_unit(patrol.presence(samples, tiny_grids, start=T0, end=end))
    assert len(pres) == 8  # every micro-grid has a row, the northern four unvisited
    walked = pres.loc[ROW]
    assert walked["visits"].tolist() == [2, 2, 2, 2]
    assert walked["dwell_s"].tolist() == [800.0, 1000.0, 1000.0, 800.0]
    second = T0 + pd.Timedelta(hours=2)
    assert walked["first_visit"].tolist() == [
        T0 + pd.Timedelta(seconds=s) for s in (0, 400, 900, 1400)
    ]
    assert walked["last_visit"].tolist() == [
        second + pd.Timedelta(seconds=s) for s in (400, 900, 1400, 1800)
    ]
    # first grid: present [0, 400) and [7200, 7600) in a 10,800 s period
    assert walked.loc[ROW[0], "max_gap_s"] == 6800.0
    assert walked.loc[ROW[0], "time_since_last_visit_s"] == 3200.0
    unvisited = pres.drop(index=ROW)
    assert (unvisited["visits"] == 0).all() and (unvisited["max_gap_s"] == 10800.0).all()
    assert unvisited["time_since_last_visit_s"].isna().all()
    # the same with raw fixes as samples (fixes every 10 s: nothing to interpolate)
    raw = by_unit(patrol.presence(clean.fixes, tiny_grids, start=T0, end=end))
    assert raw.loc[ROW, "dwell_s"].tolist() == [800.0, 1000.0, 1000.0, 800.0]


def test_presence_by_staff_day_and_shift(tiny_grids):
    fixes = pd.concat([walk("A"), walk("B", start=T0 + pd.Timedelta(days=1))], ignore_index=True)
    samples = patrol.interpolate(patrol.clean_fixes(fixes).fixes, step_s=10)
    start, end = T0.normalize(), T0.normalize() + pd.Timedelta(days=2)
    staff = patrol.presence(samples, tiny_grids, by=("unit", "staff"), start=start, end=end)
    assert len(staff) == 8 and set(staff["staff_code"]) == {"A", "B"}
    assert staff.groupby("staff_code")["dwell_s"].sum().tolist() == [1800.0, 1800.0]
    day = patrol.presence(samples, tiny_grids, by=("unit", "day"), start=start, end=end)
    first = day[day["unit_id"] == ROW[0]]
    assert first["day"].tolist() == [start, start + pd.Timedelta(days=1)]
    # within its own day: 10:00 from midnight, then 10:06:40 to midnight (the longer)
    assert first["max_gap_s"].tolist() == [86400.0 - 400.0 - 36000.0] * 2
    shifts = {"am": ("10:00", "10:10"), "pm": ("10:10", "12:00")}
    sh = patrol.presence(
        samples, tiny_grids, by=("unit", "shift"), shifts=shifts, start=start, end=end
    )
    second = by_unit(sh[sh["unit_id"] == ROW[1]].set_index("shift").reset_index())
    dwell = sh[sh["unit_id"] == ROW[1]].set_index("shift")["dwell_s"]
    assert dwell.to_dict() == {"am": 2 * 200.0, "pm": 2 * 300.0}
    assert len(second) == 2
    # am occurrences are 600 s long; grid 2 is entered at 400 s each day
    am = sh[(sh["unit_id"] == ROW[1]) & (sh["shift"] == "am")].iloc[0]
    assert am["max_gap_s"] == 400.0
    # the default day/night shifts: 10:00 is in the day shift
    dn = patrol.presence(samples, tiny_grids, by=("unit", "shift"), start=start, end=end)
    assert set(dn["shift"]) == {"day"}


def test_visits_merge_short_excursions_and_count_returns(tiny_grids):
    # in grid 1 for 100 s, out (grid 2) for 30 s, back for 100 s, out for 300 s, back 100 s
    lon_in, lon_out = 112.9040, 112.9060
    plan = [(lon_in, 100), (lon_out, 30), (lon_in, 100), (lon_out, 300), (lon_in, 100)]
    xs, ts, clock = [], [], 0
    for lon, dur in plan:
        for s in range(0, dur, 10):
            xs.append(lon)
            ts.append(clock + s)
        clock += dur
    xs.append(lon_in)
    ts.append(clock)
    fixes = gpd.GeoDataFrame(
        {"staff_code": "A", "t": T0 + pd.to_timedelta(ts, "s")},
        geometry=shapely.points(xs, [LAT] * len(xs)),
        crs=4326,
    )
    samples = patrol.interpolate(patrol.clean_fixes(fixes, max_speed_mps=100).fixes, step_s=10)
    pres = by_unit(patrol.presence(samples, tiny_grids, visit_gap_s=60))
    assert pres.loc[ROW[0], "visits"] == 2  # the 30 s excursion does not end the visit
    assert pres.loc[ROW[1], "visits"] == 2
    table = patrol.visit_table(samples, tiny_grids)
    assert len(table[table["unit_id"] == ROW[0]]) == 2


def test_h3_presence_accounts_for_all_time():
    samples = patrol.interpolate(patrol.clean_fixes(walk()).fixes, step_s=10)
    pres = patrol.presence(samples, "h3:11")
    assert pres["unit_id"].str.len().eq(15).all()
    assert pres["dwell_s"].sum() == pytest.approx(1800.0)
    # H3 res 11 cells are ~25 m across: the 1.6 km walk crosses dozens of them
    assert len(pres) > 40 and (pres["visits"] >= 1).all()
    import h3

    assert h3.get_resolution(pres["unit_id"].iloc[0]) == 11


# --------------------------------------------------------------------------------------------
# Interpolation matters
# --------------------------------------------------------------------------------------------
def _two_streets() -> gpd.GeoDataFrame:
    walked = shapely.LineString([(LON0, LAT), (LON0 + V * 1800, LAT)])
    other = shapely.LineString([(LON0, LAT + 0.002), (LON0 + V * 1800, LAT + 0.002)])
    return gpd.GeoDataFrame({"street_id": [1, 2]}, geometry=[walked, other], crs=4326)


def test_sparse_fixes_cover_the_street_walked_only_when_interpolated(tiny_grids):
    sparse = patrol.clean_fixes(walk(every_s=300)).fixes  # a fix every 5 minutes (~270 m)
    streets = _two_streets()
    by_segments = patrol.street_coverage(streets, patrol.segments(sparse)).streets
    by_fixes = patrol.street_coverage(streets, sparse).streets
    assert by_segments["covered_share"].tolist()[0] > 0.99
    assert by_segments["covered_share"].tolist()[1] == 0.0
    assert by_fixes["covered_share"].tolist()[0] < 0.25  # 7 fixes x 40 m of a 1.6 km street
    # presence: interpolated sparse fixes give the exact dwell; the fixes alone do not
    samples = patrol.interpolate(sparse, step_s=10)
    exact = by_unit(patrol.presence(samples, tiny_grids)).loc[ROW, "dwell_s"].tolist()
    assert exact == [400.0, 500.0, 500.0, 400.0]
    raw = by_unit(patrol.presence(sparse, tiny_grids)).loc[ROW, "dwell_s"].tolist()
    assert raw == [600.0, 300.0, 600.0, 300.0]


def test_segments_and_interpolation_shapes():
    fixes = patrol.clean_fixes(walk(every_s=60, duration_s=300)).fixes
    seg = patrol.segments(fixes)
    assert len(seg) == 5 and (seg["dt_s"] == 60).all()
    assert seg["length_m"].to_numpy() == pytest.approx(np.full(5, 60 * V * 90_300), rel=0.01)
    assert (shapely.get_num_points(seg.geometry.to_numpy()) == 2).all()
    samples = patrol.interpolate(fixes, step_s=25)  # 60 s -> 3 pieces of 20 s
    assert len(samples) == 5 * 3 + 1
    assert samples["w_s"].tolist()[:3] == [20.0, 20.0, 20.0] and samples["w_s"].iloc[-1] == 0.0
    assert samples["interpolated"].sum() == 10
    x = shapely.get_x(samples.geometry.to_numpy())
    assert x[1] == pytest.approx(LON0 + V * 20)


def test_lengths_are_measured_in_the_shared_metric_crs():
    """Segment lengths use THE metric CRS (gis.core.geometry: from the centre of the points'
    bounds); patrol used its own pick, the zone of the median point, which differs here."""
    # A's three fixes near 114.0 E (Gauss-Kruger zone CM 114), B's two near 110.0 E: the median
    # point lies in the CM 114 zone, the centre of the bounds (112.0 E) in the CM 111 zone
    lon = np.array([114.0, 114.0001, 114.0002, 110.0, 110.0001])
    lat = np.full(5, 35.8)
    fixes = gpd.GeoDataFrame(
        {"staff_code": list("AAABB"), "t": T0 + pd.to_timedelta([0, 10, 20, 0, 10], "s")},
        geometry=shapely.points(lon, lat),
        crs=4326,
    )
    seg = patrol.segments(fixes)
    x, y, crs = to_metric_xy(lon, lat)
    assert crs.to_epsg() == 4546  # CGCS2000 3-degree GK CM 111E
    expected = np.hypot(np.diff(x), np.diff(y))[[0, 1, 3]]
    np.testing.assert_allclose(seg["length_m"], expected, rtol=1e-12)


def test_units_follow_the_shared_grammar():
    """Unit text is gis.units.UnitSpec's grammar: a resolution outside 0-15 is refused with the
    grammar (patrol took any two digits, and h3 failed later with its own error)."""
    with pytest.raises(InputError, match="h3:RES"):
        patrol.parse_units("h3:16")
    with pytest.raises(InputError, match="not available here"):
        patrol.parse_units("grid:micro")  # a grid needs the layer itself
    assert patrol.parse_units(" H3 : 11 ") == ("h3", 11)


def test_street_coverage_matches_buffer_union_on_demo(demo_small):
    fixes = patrol.clean_fixes(demo_small.fixes, district=demo_small.boundary).fixes
    seg = patrol.segments(fixes).iloc[:3000]
    ours = patrol.street_coverage(demo_small.streets, seg)
    ref = patrol.street_coverage_buffer_union(demo_small.streets, seg)
    assert 0.02 < ref.covered_share < 0.9
    assert abs(ours.covered_share - ref.covered_share) < 0.01
    diff = np.abs(ours.streets["covered_m"] - ref.streets["covered_m"])
    assert (diff <= 10.0 + 1e-6).mean() > 0.97  # one sample piece per buffer edge


# --------------------------------------------------------------------------------------------
# Cleaning: every dropped fix with its reason
# --------------------------------------------------------------------------------------------
def test_cleaning_reasons_exact():
    base = walk("B", every_s=10, duration_s=300)  # 31 fixes at 0.9 m/s
    xy = shapely.get_coordinates(base.geometry.to_numpy())
    xy[5, 1] += 0.003  # fix 5: a spike 330 m north
    # fixes 20..23 at 15 m/s (a ride), then walking on from there
    ride = np.arange(1, 5) * 150 / 90_300
    xy[20:24, 0] = xy[19, 0] + ride
    xy[24:, 0] += ride[-1] + V * 10
    geoms = list(shapely.points(xy))
    frame = gpd.GeoDataFrame(base.drop(columns="geometry"), geometry=geoms, crs=4326)
    extra = gpd.GeoDataFrame(
        {
            "staff_code": ["B", "B", "B", None, "B", "B"],
            "t": [
                T0 + pd.Timedelta(seconds=30),  # duplicate time of fix 3
                pd.NaT,
                T0 + pd.Timedelta(seconds=1000),  # after a 700 s gap: new track
                T0 + pd.Timedelta(seconds=1010),  # no staff id
                T0 + pd.Timedelta(seconds=1010),
                T0 + pd.Timedelta(seconds=1020),  # far outside the district
            ],
        },
        geometry=[
            shapely.Point(xy[3] + 1e-5),
            shapely.Point(xy[4]),
            shapely.Point(xy[-1]),
            shapely.Point(xy[-1]),
            shapely.Point(xy[-1] + [1e-5, 0]),
            shapely.Point(113.2, 35.9),
        ],
        crs=4326,
    )
    missing = gpd.GeoDataFrame(
        {"staff_code": ["B"], "t": [T0 + pd.Timedelta(seconds=5)]}, geometry=[None], crs=4326
    )
    fixes = pd.concat([frame, extra, missing], ignore_index=True)
    district = shapely.box(112.89, 35.78, 112.93, 35.81)
    res = patrol.clean_fixes(fixes, district=district)
    expected = {
        "no coordinates": 1,
        "no time": 1,
        "no staff id": 1,
        "duplicate": 1,
        "outside district": 1,
        "impossible jump": 1,
        "speed above limit": 3,
    }
    assert {k: v for k, v in res.summary["reasons"].items() if v} == expected
    by_reason = res.dropped.groupby("reason").apply(lambda f: sorted(f.index), include_groups=False)
    assert by_reason["impossible jump"] == [5]  # B dropped, its neighbours kept
    assert {4, 6} <= set(res.fixes.index)
    assert by_reason["speed above limit"] == [20, 21, 22]
    assert by_reason["duplicate"] == [31] and by_reason["outside district"] == [36]
    assert res.summary["kept"] + res.summary["dropped"] == res.summary["total"] == len(fixes)
    assert set(res.fixes.index).isdisjoint(res.dropped.index)
    assert set(res.fixes.index) | set(res.dropped.index) == set(fixes.index)
    # 19 -> 23 is a ride the fixes on both sides are consistent with: a split, not a drop
    assert res.summary["splits_jump"] == 1 and res.summary["splits_gap"] == 1
    assert res.summary["tracks"] == 3
    assert "kept +" in res.summary_line()


def test_walking_limit_is_stricter():
    fast_walk = walk(every_s=10)
    fast_walk["geometry"] = shapely.points(
        LON0 + 4e-5 * np.arange(len(fast_walk)) * 10, np.full(len(fast_walk), LAT)
    )  # 3.6 m/s: a jog
    assert patrol.clean_fixes(fast_walk).summary["dropped"] == 0
    walking = patrol.clean_fixes(fast_walk, max_speed_mps=patrol.WALK_MAX_SPEED_MPS)
    assert walking.summary["reasons"]["speed above limit"] == len(fast_walk)


# --------------------------------------------------------------------------------------------
# Reading tracks
# --------------------------------------------------------------------------------------------
def test_read_csv_with_chinese_headers_and_gcj02(tmp_path):
    lon, lat = np.array([112.93, 112.931]), np.array([35.80, 35.801])
    glon, glat = coords.wgs84_to_gcj02(lon, lat)
    path = tmp_path / "轨迹.csv"
    pd.DataFrame(
        {
            "人员": ["张三", "张三"],
            "时间": ["2026-03-01 09:00:00", "2026-03-01 09:00:30"],
            "经度": glon,
            "纬度": glat,
        }
    ).to_csv(path, index=False, encoding="gb18030")
    frame = patrol.read_tracks(path, crs="gcj02")
    assert frame["staff_code"].tolist() == ["张三", "张三"]
    assert frame["t"].tolist() == [
        pd.Timestamp("2026-03-01 09:00:00"),
        pd.Timestamp("2026-03-01 09:00:30"),
    ]
    got = shapely.get_coordinates(frame.geometry.to_numpy())
    assert np.abs(got - np.column_stack([lon, lat])).max() < 1e-7


def test_read_gpx_plt_and_geojson(tmp_path):
    gpx = tmp_path / "walk.gpx"
    gpx.write_text(
        """<?xml version="1.0"?>
<gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">
 <trk><name>S0042</name>
  <trkseg>
   <trkpt lat="35.80" lon="112.93"><time>2026-03-01T01:00:00Z</time></trkpt>
   <trkpt lat="35.8001" lon="112.9301"><time>2026-03-01T01:00:10Z</time></trkpt>
  </trkseg>
  <trkseg><trkpt lat="35.801" lon="112.931"><time>2026-03-01T01:30:00Z</time></trkpt></trkseg>
 </trk>
</gpx>""",
        encoding="utf-8",
    )
    g = patrol.read_tracks(gpx)
    assert g["staff_code"].tolist() == ["S0042"] * 3
    assert g["t"].iloc[0] == pd.Timestamp("2026-03-01 09:00:00")  # UTC -> Beijing time
    assert g["track_code"].nunique() == 2
    assert shapely.get_x(g.geometry.iloc[1]) == pytest.approx(112.9301)

    folder = tmp_path / "Data" / "007" / "Trajectory"
    folder.mkdir(parents=True)
    plt = folder / "20081023055305.plt"
    plt.write_text(
        "Geolife trajectory\nWGS 84\nAltitude is in Feet\nReserved 3\n"
        "0,2,255,My Track,0,0,2,8421376\n0\n"
        "39.984094,116.319236,0,492,39744.2451967593,2008-10-23,05:53:05\n"
        "39.984198,116.319322,0,492,39744.2452083333,2008-10-23,05:53:06\n"
    )
    p = patrol.read_tracks(plt)
    assert p["staff_code"].tolist() == ["007", "007"]
    assert p["t"].tolist()[0] == pd.Timestamp("2008-10-23 13:53:05")
    assert shapely.get_y(p.geometry.iloc[0]) == pytest.approx(39.984094)

    gj = tmp_path / "fixes.geojson"
    walk("C", duration_s=60).assign(t=lambda f: f["t"].dt.strftime("%Y-%m-%dT%H:%M:%S")).to_file(gj)
    j = patrol.read_tracks(gj)
    assert len(j) == 7 and j["t"].iloc[0] == T0 and j["staff_code"].iloc[0] == "C"


def test_unreadable_rows_are_kept_for_cleaning(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "uid,lng,lat,datetime\nx,112.9,35.8,2026-01-01 10:00\nx,,35.8,2026-01-01 10:01\nx,112.9,35.8,nonsense\n"
    )
    frame = patrol.read_tracks(path)
    res = patrol.clean_fixes(frame)
    assert res.summary["reasons"]["no coordinates"] == 1 and res.summary["reasons"]["no time"] == 1
    with pytest.raises(InputError):
        (tmp_path / "x.csv").write_text("a,b\n1,2\n")
        patrol.read_tracks(tmp_path / "x.csv")


def test_track_times_follow_the_district_zone(tmp_path, monkeypatch):
    """Track times are wall clock in the district's zone (GRIDLENS_TZ), like incidents: they
    used to be Asia/Shanghai whatever the district."""
    monkeypatch.setattr(settings, "DISTRICT_TZ", "Europe/Berlin")
    path = tmp_path / "walk.csv"
    path.write_text(
        "staff,time,lon,lat\n"
        "A,2026-03-01 09:00:00,13.400,52.52\n"  # no offset: Berlin wall clock already
        "A,2026-03-01T08:00:30+00:00,13.401,52.52\n"  # UTC: converted to Berlin (+1)
    )
    frame = patrol.read_tracks(path)
    assert frame["t"].tolist() == [
        pd.Timestamp("2026-03-01 09:00:00"),
        pd.Timestamp("2026-03-01 09:00:30"),
    ]
    gpx = tmp_path / "walk.gpx"
    gpx.write_text(
        '<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
        '<trk><name>A</name><trkseg><trkpt lat="52.52" lon="13.4">'
        "<time>2026-07-01T10:00:00Z</time></trkpt></trkseg></trk></gpx>"
    )
    assert patrol.read_tracks(gpx)["t"].iloc[0] == pd.Timestamp("2026-07-01 12:00:00")  # CEST


def test_track_columns_are_found_by_the_shared_column_guesser(tmp_path):
    """Headers as real exports write them (spaces, GPS prefixes) are found by
    gis.io.columns.detect_columns(schema=TRACK_FIELDS), as for incidents."""
    path = tmp_path / "export.csv"
    path.write_text(
        "Staff ID,Phone,GPS Time,GPS经度,GPS纬度\n"
        "S1,P9,2026-03-01 09:00:00,112.93,35.80\n"
        "S1,P9,2026-03-01 09:00:30,112.931,35.801\n"
    )
    frame = patrol.read_tracks(path)
    assert frame["staff_code"].tolist() == ["S1", "S1"]
    assert frame["t"].iloc[1] == pd.Timestamp("2026-03-01 09:00:30")
    assert shapely.get_x(frame.geometry.iloc[1]) == pytest.approx(112.931)
    # an override names the file column (field aliases accepted), and must exist in the file
    again = patrol.read_tracks(path, mapping={"staff": "Phone"})
    assert again["staff_code"].tolist() == ["P9", "P9"]
    with pytest.raises(InputError):
        patrol.read_tracks(path, mapping={"t": "no such column"})


# --------------------------------------------------------------------------------------------
# Real GeoLife traces
# --------------------------------------------------------------------------------------------
def test_geolife_sample_end_to_end(real_data):
    path = real_data / "beijing" / "geolife_sample.txt.gz"
    with gzip.open(path, "rt") as handle:
        n_lines = sum(1 for _ in handle) - 1
    fixes = patrol.read_tracks(path)
    assert len(fixes) == n_lines == 217_653
    assert fixes["t"].iloc[0] == pd.Timestamp("2008-10-23 13:53:05")  # GMT -> Beijing
    res = patrol.clean_fixes(fixes)
    s = res.summary
    assert s["kept"] + s["dropped"] == s["total"] == 217_653
    assert set(res.dropped["reason"]) <= set(patrol.DROP_REASONS)
    assert (res.dropped["reason"] != "").all()
    assert set(res.fixes.index) | set(res.dropped.index) == set(fixes.index)
    assert set(res.fixes.index).isdisjoint(res.dropped.index)
    assert sum(s["reasons"].values()) == s["dropped"]
    assert s["reasons"]["impossible jump"] > 0 and s["reasons"]["speed above limit"] > 0
    # kept tracks obey the limit link by link (apart from the noise allowance)
    seg = patrol.segments(res.fixes)
    assert ((seg["length_m"] - 10.0) <= patrol.CYCLE_MAX_SPEED_MPS * seg["dt_s"] + 1e-6).all()
    assert (seg["dt_s"] <= 600).all()
    samples = patrol.interpolate(res.fixes, step_s=15)
    pres = patrol.presence(samples, "h3:11")
    track_time = res.fixes.groupby("track_id")["t"].agg(
        lambda t: (t.max() - t.min()).total_seconds()
    )
    assert pres["dwell_s"].sum() == pytest.approx(track_time.sum())
    assert (pres["visits"] >= 1).all()


def test_geolife_gpkg_end_to_end(real_data):
    fixes = patrol.read_tracks(real_data / "beijing" / "geolife_small.gpkg")
    assert len(fixes) == 5908 and fixes["staff_code"].nunique() >= 2
    res = patrol.clean_fixes(fixes)
    assert res.summary["kept"] + res.summary["dropped"] == 5908
    assert set(res.fixes.index) | set(res.dropped.index) == set(fixes.index)
    streets = gpd.GeoDataFrame(
        geometry=patrol.segments(res.fixes).geometry.iloc[::50].to_numpy(), crs=4326
    )
    cov = patrol.street_coverage(streets, patrol.segments(res.fixes))
    assert cov.covered_share > 0.99  # the tracks cover the lines they are made of


# --------------------------------------------------------------------------------------------
# Demo district
# --------------------------------------------------------------------------------------------
def test_demo_neglected_micro_grids_have_low_presence(demo_small):
    res = patrol.clean_fixes(demo_small.fixes, district=demo_small.boundary)
    assert res.summary["dropped"] < 0.01 * res.summary["total"]
    samples = patrol.interpolate(res.fixes, step_s=15)
    period = demo_small.truth["track_period"]
    pres = by_unit(
        patrol.presence(samples, demo_small.grids, start=period["start"], end=period["end"])
    )
    neglected = demo_small.truth["neglected_micro_codes"]
    assert len(pres) == 447
    assert (pres.loc[neglected, "dwell_s"] < 120).all()
    others = pres.drop(index=neglected)
    assert others["dwell_s"].median() > 300
    # uniform risk: the neglected grids rank among the first gaps and are in the unvisited list
    risk = pd.DataFrame({"unit_id": pres.index, "risk": 1.0})
    report = patrol.coverage_gaps(pres.reset_index(), risk, grids=demo_small.grids)
    top = set(report.ranked["unit_id"].head(40))
    assert set(neglected) <= top
    low = set(report.unvisited["unit_id"]) | set(pres.index[pres["dwell_s"] < 120])
    assert set(neglected) <= low


# --------------------------------------------------------------------------------------------
# Dosage
# --------------------------------------------------------------------------------------------
def _stay(start: str, minutes: int, track: str) -> gpd.GeoDataFrame:
    t = pd.Timestamp(start) + pd.to_timedelta(np.arange(0, minutes * 60 + 1, 10), "s")
    return gpd.GeoDataFrame(
        {"staff_code": "A", "track_code": track, "t": t},
        geometry=shapely.points(np.full(len(t), 112.9025), np.full(len(t), LAT)),
        crs=4326,
    )


def test_dosage_on_constructed_stays(tiny_grids):
    fixes = pd.concat(
        [
            _stay("2026-01-05 10:00", 12, "a"),  # a 12 min stop (optimal)
            _stay("2026-01-05 12:00", 5, "b"),  # 5 min: a visit, not a stop
            _stay("2026-01-05 13:00", 20, "c"),  # a 20 min stop (long)
        ],
        ignore_index=True,
    )
    samples = patrol.interpolate(patrol.clean_fixes(fixes).fixes)
    hot = tiny_grids[tiny_grids["code"] == ROW[0]]
    period = ("2026-01-05 10:00", "2026-01-05 16:00")
    d = patrol.dosage(samples, hot, period=period).iloc[0]
    assert (d["visits"], d["stops"], d["stops_optimal"], d["stops_long"]) == (3, 2, 1, 1)
    assert d["stop_dwell_s"] == 720.0 + 1200.0
    # covered: [10:00, 12:12) and [13:00, 15:20) -> hours 10, 11, 13, 14 of 10..15
    assert (d["hours_active"], d["hours_met"]) == (6, 4)
    assert d["share_hours_met"] == pytest.approx(4 / 6)
    assert d["longest_without_stop_s"] == (13 * 60 - (10 * 60 + 12)) * 60.0
    d2 = patrol.dosage(
        samples, [ROW[0], ROW[3]], units=tiny_grids, period=period, active_hours=[10, 11, 12]
    )
    assert d2["hours_active"].tolist() == [3, 3] and d2["hours_met"].tolist() == [2, 0]
    assert d2["stops"].tolist() == [2, 0]
    d3 = patrol.dosage(samples, hot, period=period, revisit_s=3 * 3600)
    assert d3["hours_met"].iloc[0] == 6


# --------------------------------------------------------------------------------------------
# Coverage gaps
# --------------------------------------------------------------------------------------------
def test_coverage_gaps_rank_and_reasons(tiny_grids):
    end = pd.Timestamp("2026-02-01")
    presence = pd.DataFrame(
        {
            "unit_id": ["U1", "U2", "U3"],
            "visits": [0, 1, 5],
            "dwell_s": [0.0, 100.0, 3000.0],
            "last_visit": [
                pd.NaT,
                end - pd.Timedelta(days=9, hours=3),
                end - pd.Timedelta(hours=1),
            ],
            "time_since_last_visit_s": [np.nan, (9 * 24 + 3) * 3600.0, 3600.0],
            "max_gap_s": [30 * 86400.0, 20 * 86400.0, 86400.0],
        }
    )
    risk = pd.DataFrame(
        {
            "unit_id": ["U1", "U2", "U3"],
            "risk": [5.0, 10.0, 8.0],
            "gi_bin": [2, 3, 0],
            "category": ["05-05", "05-05", "05-04"],
        }
    )
    rep = patrol.coverage_gaps(presence, risk, period=(end - pd.Timedelta(days=30), end))
    r = rep.ranked.set_index("unit_id")
    assert rep.ranked["unit_id"].tolist() == ["U2", "U1", "U3"]
    assert (
        r.loc["U2", "reason_en"]
        == "99 % hotspot for illegal parking (motor vehicles), no visit in 9 days"
    )
    assert r.loc["U2", "reason_zh"] == "机动车乱停放99%置信热点，9天无人巡查"
    assert r.loc["U1", "reason_en"].endswith(
        "95 % hotspot for illegal parking (motor vehicles), no visit in 30 days"
    )
    assert r.loc["U3", "reason_en"].startswith("risk in the top 34 % for shop encroachment")
    assert "1小时前巡查过" in r.loc["U3", "reason_zh"]
    # gap score = risk_pct * (0.5 * (1 - presence) + 0.5 * staleness)
    ref = 1550.0  # median dwell of the visited units
    expected_u2 = 1.0 * (0.5 * (1 - 100 / ref) + 0.5 * ((9 * 24 + 3) * 3600 / (30 * 86400)))
    assert r.loc["U2", "gap_score"] == pytest.approx(expected_u2)
    assert r.loc["U1", "gap_score"] == pytest.approx(1 / 3)


def test_coverage_gaps_unvisited_and_staff(tiny_grids):
    samples = patrol.interpolate(patrol.clean_fixes(walk("S1", duration_s=600)).fixes)
    pres = patrol.presence(samples, tiny_grids, by=("unit", "staff"))
    micro = tiny_grids[tiny_grids["level"] == "micro"]
    risk = pd.DataFrame({"unit_id": micro["code"], "risk": np.arange(len(micro), dtype=float)})
    staff = pd.DataFrame(
        {
            "staff_code": ["S1", "S2"],
            "name": ["甲", "乙"],
            "role": ["grid_worker"] * 2,
            "grid_code": ["140581001001100", "140581001001000"],  # an l2 grid; an l1 grid
        }
    )
    rep = patrol.coverage_gaps(pres, risk, staff=staff, grids=tiny_grids)
    # S1 walked through 101 and 102 in its first 600 s; nobody visited the other six
    assert sorted(rep.unvisited["unit_id"]) == sorted(set(micro["code"]) - set(ROW[:2]))
    s1 = rep.staff_unpatrolled[rep.staff_unpatrolled["staff_code"] == "S1"]
    assert s1["unit_id"].tolist() == []  # its l2 grid holds 101 and 102, both walked
    s2 = rep.staff_unpatrolled[rep.staff_unpatrolled["staff_code"] == "S2"]
    assert sorted(s2["unit_id"]) == sorted(c for c in micro["code"] if c.startswith("140581001001"))
    assert s2.set_index("unit_id").loc[ROW[0], "visited_by_others"]


# --------------------------------------------------------------------------------------------
# Suggested route
# --------------------------------------------------------------------------------------------
def test_gap_categories_follow_the_shared_rule(tiny_grids):
    """A 2-digit category is the major class in gaps as in hotspots (gis.taxonomy.category_mask):
    ``gridlens gaps --category 05`` matched nothing while ``hotspots --category 05`` meant every
    05-xx."""
    samples = patrol.interpolate(walk(), step_s=15)
    micro = tiny_grids[tiny_grids["level"] == "micro"]
    pts = list(shapely.point_on_surface(micro.geometry.to_numpy()))
    codes = ["05-04", "05-05", "07-01", "05-04", "07-02", "05-01", "07-01", "05-04"]
    incidents = gpd.GeoDataFrame({"category_code": codes}, geometry=pts, crs=4326)
    period = dict(start=T0.floor("D"), end=T0.floor("D") + pd.Timedelta(days=1))
    major = patrol.patrol_view(samples, tiny_grids, incidents, categories=["05"], **period)
    fives = incidents[incidents["category_code"].str.startswith("05-")]
    by_hand = patrol.patrol_view(samples, tiny_grids, fives, **period)
    assert major.risk["count"].sum() == 5
    pd.testing.assert_frame_equal(major.risk, by_hand.risk)
    pd.testing.assert_frame_equal(major.gaps.ranked, by_hand.gaps.ranked)
    exact = patrol.patrol_view(samples, tiny_grids, incidents, categories="05-04", **period)
    assert exact.risk["count"].sum() == 3
    everything = patrol.patrol_view(samples, tiny_grids, incidents, categories=None, **period)
    assert everything.risk["count"].sum() == len(incidents)


def test_route_straight_picks_best_within_budget():
    stops = pd.DataFrame(
        {
            "unit_id": ["a", "b", "c", "far"],
            "score": [1.0, 1.0, 1.0, 5.0],
            "lon": [112.901, 112.902, 112.903, 112.95],
            "lat": [LAT] * 4,
        }
    )
    route = patrol.suggest_route((112.900, LAT), stops, budget_s=3 * 600 + 400, dwell_s=600)
    assert route.mode == "straight"
    assert route.stops["unit_id"].tolist() == ["a", "b", "c"]  # "far" costs 4.4 km: over budget
    assert route.total_s <= 3 * 600 + 400
    assert route.skipped["unit_id"].tolist() == ["far"]
    assert route.travel_m == pytest.approx(3 * 0.001 * 90_300, rel=0.01)
    assert route.line.coords[0] == pytest.approx((112.900, LAT))
    big = patrol.suggest_route((112.900, LAT), stops, budget_s=6 * 3600)
    assert big.stops["unit_id"].tolist() == ["a", "b", "c", "far"]  # 2-opt keeps it monotone


def test_route_on_street_network():
    x0, y0 = 112.90, 35.79
    streets = gpd.GeoDataFrame(
        {"street_id": [1, 2]},
        geometry=[
            shapely.LineString([(x0, y0), (x0 + 0.01, y0)]),
            shapely.LineString([(x0 + 0.01, y0), (x0 + 0.01, y0 + 0.01)]),
        ],
        crs=4326,
    )
    stops = pd.DataFrame(
        {"unit_id": ["end"], "score": [1.0], "lon": [x0 + 0.01], "lat": [y0 + 0.01]}
    )
    net = patrol.suggest_route((x0, y0), stops, budget_s=4 * 3600, streets=streets)
    straight = patrol.suggest_route((x0, y0), stops, budget_s=4 * 3600)
    l_shape = patrol.street_coverage(streets, streets).length_m
    assert net.mode == "network" and net.travel_m == pytest.approx(l_shape, abs=1.0)
    assert straight.travel_m < net.travel_m * 0.75
    assert len(net.line.coords) >= 3  # goes round the corner
    assert net.stops["arrive_s"].iloc[0] == pytest.approx(l_shape / 1.2, rel=1e-3)
