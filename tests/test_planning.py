"""gis.planning: proposed zones, briefings, plans and the evaluation (rate test + WDQ), and the
``gridlens zones | brief | evaluate`` commands. Constructed cases are checked against values
computed by hand; the demo district against its planted truth."""

from __future__ import annotations

import json
import math
import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from openpyxl import load_workbook
from scipy import stats

from gis import auth, planning, store
from gis import hotspots as hs
from gis.cli import main
from gis.core.errors import InputError
from gis.webmap import external_urls

METRIC = 4547  # CGCS2000 GK CM 114E: what local_metric_crs picks around 112.93E
TO_LL = pyproj.Transformer.from_crs(METRIC, 4326, always_xy=True)
TO_M = pyproj.Transformer.from_crs(4326, METRIC, always_xy=True)
X0, Y0 = (round(v, -2) for v in TO_M.transform(112.93, 35.80))
UNIT = 100.0
LEADER = auth.User(id=None, username="boss", display_name=None, role="leader")
ANALYST = auth.User(id=None, username="ana", display_name=None, role="analyst")


def to_ll(geom_m: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(
        geom_m, lambda xy: np.column_stack(TO_LL.transform(xy[:, 0], xy[:, 1]))
    )


def points_ll(xy_m: np.ndarray) -> np.ndarray:
    lon, lat = TO_LL.transform(xy_m[:, 0], xy_m[:, 1])
    return shapely.points(lon, lat)


def cell_m(ix: int, iy: int) -> shapely.Polygon:
    return shapely.box(X0 + ix * UNIT, Y0 + iy * UNIT, X0 + (ix + 1) * UNIT, Y0 + (iy + 1) * UNIT)


def incidents_frame(xy_m, times, codes, **extra) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(
        {"occurred_at": pd.to_datetime(list(times)), "category_code": list(codes), **extra}
    )
    return gpd.GeoDataFrame(frame, geometry=points_ll(np.asarray(xy_m)), crs=4326)


# --------------------------------------------------------------------------------------------
# Proposed zones on a constructed 7 x 7 lattice of 100 m cells
#   A = (0,0)+(1,0) share an edge; B = (2,1) touches A only at a corner; C = the ring of 8 cells
#   around (4,5), whose centre is not hot (a hole to fill).

A = [(0, 0), (1, 0)]
B = [(2, 1)]
C = [(x, y) for x in (3, 4, 5) for y in (4, 5, 6) if (x, y) != (4, 5)]
START, END = pd.Timestamp("2026-01-01"), pd.Timestamp("2026-03-01")
MID = START + (END - START) / 2


@pytest.fixture(scope="module")
def lattice():
    rng = np.random.default_rng(7)
    cells = [(x, y) for y in range(7) for x in range(7)]
    units = gpd.GeoDataFrame(
        {
            "unit_id": [f"c{x}_{y}" for x, y in cells],
            "gi_bin": [3 if (x, y) in A + C else 2 if (x, y) in B else 0 for x, y in cells],
        },
        geometry=[to_ll(cell_m(x, y)) for x, y in cells],
        crs=4326,
    )
    xy, times, codes = [], [], []

    def put(cell, n, code, first_half):
        x, y = cell
        pts = np.column_stack(
            [
                X0 + (x + 0.1 + 0.8 * rng.random(n)) * UNIT,
                Y0 + (y + 0.1 + 0.8 * rng.random(n)) * UNIT,
            ]
        )
        xy.append(pts)
        codes.extend([code] * n)
        for k in range(n):
            base, span = (START, MID - START) if k < first_half else (MID, END - MID)
            times.append(base + span * ((k % 7 + 0.5) / 8))

    for cell in A:  # 30 encroachment each: 10 in the first half, 20 in the second -> rising
        put(cell, 30, "05-04", 10)
    put(B[0], 25, "05-05", 20)  # parking, 20 then 5 -> falling
    for k, cell in enumerate(C):  # 10 each, half parking half fire lanes, even -> stable
        put(cell, 10, "05-05" if k % 2 else "06-01", 5)
    put((4, 5), 6, "06-01", 3)  # the hole
    for cell in cells:
        if cell not in A + B + C + [(4, 5)]:
            put(cell, 1, "01-02", 1)
    incidents = incidents_frame(np.vstack(xy), times, codes)
    return units, incidents


def zone_of(zones: gpd.GeoDataFrame, cell: tuple[int, int]) -> pd.Series:
    centre = to_ll(cell_m(*cell).centroid)
    hit = zones[zones.geometry.contains(centre)]
    assert len(hit) == 1, f"cell {cell} in {len(hit)} zones"
    return hit.iloc[0]


def test_zones_join_by_edges_fill_holes_and_count_by_hand(lattice):
    units, incidents = lattice
    zones = planning.propose_zones(
        units, incidents, min_incidents=20, min_area_m2=5_000, period=(START, END)
    )
    assert len(zones) == 3 and list(zones["rank"]) == [1, 2, 3]
    assert zones.crs.to_epsg() == 4326
    a, b, c = zone_of(zones, (0, 0)), zone_of(zones, (2, 1)), zone_of(zones, (3, 4))
    assert a["zone_id"] != b["zone_id"]  # corner contact does not join
    assert (a["n_units"], b["n_units"], c["n_units"]) == (2, 1, 8)
    assert a["area_m2"] == pytest.approx(20_000, rel=1e-3)
    assert c["area_m2"] == pytest.approx(90_000, rel=1e-3)  # the 1-cell hole filled
    assert (a["incidents"], b["incidents"], c["incidents"]) == (60, 25, 86)
    n_total = len(incidents)
    assert zones.attrs["district_incidents"] == n_total
    assert a["pai"] == pytest.approx((60 / n_total) / (20_000 / (49 * UNIT**2)), rel=1e-3)
    # severity weights from data/taxonomy.csv: 05-04 = 2, 05-05 = 1, 06-01 = 3
    assert a["severity_weighted"] == 120
    assert b["severity_weighted"] == 25
    assert c["severity_weighted"] == 40 * 1 + 46 * 3
    # trend: second half against the first (exact binomial test)
    assert (a["first_half"], a["second_half"], a["trend"]) == (20, 40, "rising")
    assert a["trend_p"] == pytest.approx(stats.binomtest(40, 60, 0.5).pvalue)
    assert (b["trend"], c["trend"]) == ("falling", "stable")
    # departments: lead + co-departments of the categories involved
    assert a["categories"] == "05-04" and a["departments"] == "chengguan;scjg"
    assert b["departments"] == "jiaojing;chengguan" and b["n_departments"] == 2
    assert set(c["categories"].split(";")) == {"05-05", "06-01"}
    assert set(c["departments"].split(";")) == {"jiaojing", "xiaofang", "chengguan", "pcs", "wuye"}
    assert c["n_departments"] == 5
    # the score orders the ranks and the reasons say so
    assert zones["score"].is_monotonic_decreasing
    for rank, zh, en in zip(zones["rank"], zones["reason_zh"], zones["reason_en"], strict=True):
        assert en.startswith(f"#{rank}: ") and zh.startswith(f"第{rank}名")
    assert "PAI" in a["reason_en"] and "rising" in a["reason_en"] and "上升" in a["reason_zh"]
    assert np.isnan(a["patrol_deficit"])


def test_zones_options_holes_minimums_tighten_top(lattice):
    units, incidents = lattice
    kept = planning.propose_zones(units, incidents, max_hole_m2=0, min_area_m2=5_000)
    c = zone_of(kept, (3, 4))
    assert c["area_m2"] == pytest.approx(80_000, rel=1e-3) and c["incidents"] == 80
    assert len(planning.propose_zones(units, incidents, min_incidents=30, min_area_m2=0)) == 2
    assert len(planning.propose_zones(units, incidents, min_area_m2=25_000)) == 1
    assert len(planning.propose_zones(units, incidents, min_area_m2=0, top=2)) == 2
    tight = planning.propose_zones(units, incidents, min_area_m2=0, tighten=True)
    base = planning.propose_zones(units, incidents, min_area_m2=0)
    a_t, a_b = zone_of(tight, (0, 0)), zone_of(base, (0, 0))
    assert a_t["area_m2"] < a_b["area_m2"] and a_t["incidents"] == a_b["incidents"] == 60
    none = planning.propose_zones(units.assign(gi_bin=0), incidents)
    assert none.empty and list(none.columns)[:2] == ["rank", "zone_id"]


def test_emerging_hot_classes_are_proposed_not_diminishing(lattice):
    units, incidents = lattice
    u = units.assign(gi_bin=0, emerging="")
    u.loc[u["unit_id"] == "c2_1", "emerging"] = "intensifying_hot_spot"
    u.loc[u["unit_id"].isin(["c0_0", "c1_0"]), "emerging"] = "Diminishing Hot Spot"
    zones = planning.propose_zones(u, incidents, min_area_m2=0)
    assert len(zones) == 1 and zones.iloc[0]["unit_ids"] == "c2_1"
    assert "intensifying" in zones.iloc[0]["reason_en"]


def test_patrol_deficit_from_presence_per_unit(lattice):
    units, incidents = lattice
    dwell = np.where(units["unit_id"].isin(["c0_0", "c1_0"]), 50.0, 900.0 / 47)
    presence = pd.DataFrame({"unit_id": units["unit_id"], "dwell_s": dwell})
    zones = planning.propose_zones(units, incidents, min_area_m2=0, presence=presence)
    a = zone_of(zones, (0, 0))
    share = 60 / len(incidents)
    assert a["patrol_share"] == pytest.approx(0.1)
    assert a["patrol_deficit"] == pytest.approx(1 - 0.1 / share)
    assert "patrol time" in a["reason_en"]
    with pytest.raises(InputError):
        planning.propose_zones(units, incidents, presence=presence.assign(unit_id="x"))


def test_trend_class_by_hand():
    t = [START + pd.Timedelta(hours=h) for h in range(10)]
    late = [MID + pd.Timedelta(hours=h) for h in range(30)]
    res = planning.trend_class(t + late, START, END)
    assert (res.first_half, res.second_half, res.trend) == (10, 30, "rising")
    assert res.p_value == pytest.approx(stats.binomtest(30, 40, 0.5).pvalue)
    assert planning.trend_class(late[:12] + t, START, END).trend == "stable"  # +20 %, p > .05
    assert planning.trend_class(t * 5 + late[:10], START, END).trend == "falling"
    assert planning.trend_class([], START, END).trend == "too few"


def test_demo_zones_recover_the_planted_hotspots(demo_small):
    inc = demo_small.incidents
    area = hs.study_area(demo_small.grids)
    units = hs.hotspots(hs.count_by_unit(inc, hs.h3_units(area, 10)))
    zones = planning.propose_zones(units, inc)
    truth = {h["pattern"]: shapely.Point(h["center_lonlat"]) for h in demo_small.truth["hotspots"]}
    assert zones.iloc[0].geometry.contains(truth["persistent"])
    for pattern in ("intensifying", "diminishing"):
        assert zones.geometry.contains(truth[pattern]).any(), pattern
    hub = zones[zones.geometry.contains(truth["intensifying"])].iloc[0]
    assert hub["trend"] == "rising"
    hospital = zones[zones.geometry.contains(truth["diminishing"])].iloc[0]
    assert hospital["trend"] == "falling"
    # the new hotspot: illegal parking after the mall opened
    new = inc[(inc["category_code"] == "05-05") & (inc["occurred_at"] >= "2026-08-01")]
    units = hs.hotspots(hs.count_by_unit(new, hs.fishnet_units(area, 200)))
    zones = planning.propose_zones(units, new)
    assert zones.iloc[0].geometry.contains(truth["new"])
    assert zones.iloc[0]["departments"] == "jiaojing;chengguan"


# --------------------------------------------------------------------------------------------
# Briefing on the hand-made tiny grids


@pytest.fixture
def tiny_case(tiny_grids):
    # the left half of micro-grid 140581001001101 (112.900-112.905 E, 35.790-35.795 N)
    area = shapely.box(112.900, 35.790, 112.9025, 35.795)
    rng = np.random.default_rng(3)
    n_park, n_fire = 30, 20
    lon = 112.9002 + 0.002 * rng.random(n_park + n_fire + 5)
    lat = 35.7905 + 0.004 * rng.random(n_park + n_fire + 5)
    lon[-5:] = 112.9035 + 0.001 * rng.random(5)  # five outside, in the right half
    park_t = [
        pd.Timestamp("2026-03-02 07:10") + pd.Timedelta(days=k % 14, hours=k % 2)
        for k in range(n_park)
    ]
    fire_t = [
        pd.Timestamp("2026-03-02 23:30") + pd.Timedelta(days=k % 14, hours=k % 3)
        for k in range(n_fire)
    ]
    out_t = [pd.Timestamp("2026-03-03 12:00")] * 5
    incidents = gpd.GeoDataFrame(
        {
            "external_id": [f"E{i}" for i in range(len(lon))],
            "occurred_at": park_t + fire_t + out_t,
            "category_code": ["05-05"] * n_park + ["06-01"] * n_fire + ["05-04"] * 5,
            "status": ["closed"] * 25
            + ["handling"] * 3
            + ["closed"] * 20
            + ["rework"] * 2
            + ["registered"] * 5,
            "address": ["解放路1号"] * 20 + ["解放路3号"] * 20 + ["解放路5号"] * 15,
        },
        geometry=shapely.points(lon, lat),
        crs=4326,
    )
    staff = pd.DataFrame(
        {
            "staff_code": ["S1", "S2", "S3", "S4", "S5"],
            "name": ["甲", "乙", "丙", "丁", "戊"],
            "role": [
                "grid_leader",
                "grid_worker",
                "grid_assistant",
                "enforcement_officer",
                "grid_leader",
            ],
            "department": ["shequ", "shequ", "shequ", "jiaojing", "shequ"],
            "grid_code": [
                "140581001001000",
                "140581001001100",
                "140581001001101",
                "140581001001000",
                "140581001002000",
            ],
            "phone": ["1", "2", "3", "4", "5"],
        }
    )
    return area, incidents, staff


def test_peak_window_shortest_run_of_hours():
    hours = (
        [16] * 10 + [17] * 10 + [18] * 12 + [19] * 12 + [20] * 10 + [21] * 10 + [9] * 5 + [12] * 5
    )
    # 60 % of 74 = 44.4: the best 4 hours (17-21) hold 44, too few; 16-21 and 17-22 hold 54
    # each, the earliest wins
    assert planning.peak_window(hours, 0.6) == (16, 21, pytest.approx(54 / 74))
    assert planning.peak_window([22, 23, 0, 1, 0, 23], 0.6)[:2] in {(22, 1), (23, 1), (23, 2)}
    assert planning.peak_window([23] * 5 + [0] * 5, 0.9) == (23, 1, 1.0)
    assert planning.window_text(16, 22) == "16:00–22:00"
    assert planning.peak_window([]) == (0, 24, 1.0)


def test_briefing_tables_by_hand(tiny_case, tiny_grids):
    area, incidents, staff = tiny_case
    b = planning.briefing(area, incidents, grids=tiny_grids, staff=staff)
    assert b.n_incidents == 50
    assert b.severity_weighted == 30 * 1 + 20 * 3
    cat = b.by_category.set_index("category_code")
    assert cat.loc["05-05", "incidents"] == 30 and cat.loc["06-01", "incidents"] == 20
    assert cat.loc["05-05", "department"] == "jiaojing"
    assert (cat.loc["05-05", "peak_start"], cat.loc["05-05", "peak_end"]) == (7, 9)
    assert "07:00–09:00" in cat.loc["05-05", "peak_en"]
    assert "机动车乱停放 07:00–09:00" in cat.loc["05-05", "peak_zh"]
    # 23:30 + 0/1/2 h: hours 23, 0, 1 (7, 7, 6): the window wraps past midnight
    assert cat.loc["06-01", "peak_start"] == 23 and cat.loc["06-01", "peak_end"] == 1
    calls = b.departments_to_call
    assert calls.loc[calls["role"] == "lead", "code"].tolist() == ["jiaojing", "xiaofang"]
    assert calls.loc[calls["role"] == "co", "code"].tolist() == ["chengguan", "pcs", "wuye"]
    assert calls.set_index("code").loc["jiaojing", "name_zh"] == "交警"
    assert b.by_department.set_index("department")["incidents"].to_dict() == {
        "jiaojing": 30,
        "xiaofang": 20,
    }
    assert int(b.hour_weekday.to_numpy().sum()) == 50 and b.hour_weekday.shape == (24, 7)
    assert int(b.hour_weekday.loc[7].sum()) == 15 and int(b.hour_weekday.loc[8].sum()) == 15
    assert int(b.weekly["incidents"].sum()) == 50
    assert b.top_addresses.iloc[0].tolist()[:2] in (["解放路1号", 20], ["解放路3号", 20])
    assert sorted(b.open_cases["external_id"]) == ["E25", "E26", "E27", "E48", "E49"]
    # half of one micro-grid: half its households (area-weighted)
    assert b.affected["households"] == pytest.approx(200, rel=0.01)
    assert b.affected["population"] == pytest.approx(500, rel=0.01)
    assert set(b.grids["code"]) == {"140581001001000", "140581001001100", "140581001001101"}
    roles = b.staff.set_index("staff_code" if "staff_code" in b.staff else "name")
    assert sorted(b.staff["name"]) == ["丁", "丙", "乙", "甲"]  # not the other community's leader
    assert b.staff.iloc[0]["role"] == "grid_leader" and len(roles) == 4
    assert b.trend.trend in planning.TRENDS
    by_codes = planning.briefing(["140581001001101"], incidents, grids=tiny_grids)
    assert by_codes.area_m2 == pytest.approx(2 * b.area_m2, rel=1e-3)
    assert by_codes.n_incidents == 55
    with pytest.raises(InputError):
        planning.briefing(["nope"], incidents, grids=tiny_grids)


def test_briefing_html_is_self_contained_and_excel_has_the_tables(tiny_case, tiny_grids, tmp_path):
    area, incidents, staff = tiny_case
    b = planning.briefing(area, incidents, grids=tiny_grids, staff=staff, title=("简报", "Brief"))
    for lang, needle in (("zh", "交警"), ("en", "Traffic police")):
        page = b.to_html(lang, path=tmp_path / f"b_{lang}.html")
        assert external_urls(page) == []
        assert page.count("data:image/png;base64,") == 4
        assert needle in page and "07:00–09:00" in page
        assert (tmp_path / f"b_{lang}.html").read_text(encoding="utf-8") == page
    path = b.to_excel(tmp_path / "b.xlsx")
    book = load_workbook(path, read_only=True)
    assert {
        "summary",
        "categories",
        "departments_to_call",
        "hour_weekday",
        "grids",
        "staff",
        "open_cases",
    } <= set(book.sheetnames)
    cats = pd.read_excel(path, sheet_name="categories")
    assert cats.set_index("category_code").loc["05-05", "incidents"] == 30


# --------------------------------------------------------------------------------------------
# Evaluation: WDQ and the rate test against hand-computed values


def test_wdq_and_rate_test_by_hand():
    # pure success: area halves, buffer and control flat
    q, success, buffer = planning.wdq(100, 50, 100, 100, 1000, 1000)
    assert (q, success, buffer) == (pytest.approx(0.0), pytest.approx(-0.05), pytest.approx(0.0))
    # displacement: the buffer gains more than the area loses
    assert planning.wdq(100, 50, 100, 160, 1000, 1000)[0] == pytest.approx(0.06 / -0.05)
    # diffusion of benefits: the buffer falls too
    assert planning.wdq(100, 50, 100, 70, 1000, 1000)[0] == pytest.approx(0.6)
    # control doubles: relative success in area and buffer alike
    assert planning.wdq(100, 100, 200, 300, 1000, 2000)[0] == pytest.approx(1.0)
    assert math.isnan(planning.wdq(100, 100, 100, 100, 1000, 1000)[0])  # no success: undefined
    rt = planning.rate_ratio_test(100, 50, 1000, 1000)
    se = math.sqrt(1 / 100 + 1 / 50 + 1 / 1000 + 1 / 1000)
    assert rt.ratio == pytest.approx(0.5)
    assert rt.z == pytest.approx(math.log(0.5) / se)
    assert rt.p_value == pytest.approx(2 * stats.norm.sf(abs(math.log(0.5) / se)))
    assert (rt.ci_low, rt.ci_high) == (
        pytest.approx(0.5 * math.exp(-1.96 * se)),
        pytest.approx(0.5 * math.exp(1.96 * se)),
    )
    assert planning.rate_ratio_test(0, 5, 100, 100).ratio == pytest.approx(11.0)  # +0.5 each


AREA_M = shapely.box(X0 - 100, Y0 - 100, X0 + 100, Y0 + 100)
DISTRICT_M = shapely.box(X0 - 1500, Y0 - 1500, X0 + 1500, Y0 + 1500)
BEFORE = ("2026-03-01", "2026-04-01")
AFTER = ("2026-04-01", "2026-05-01")


def constructed(rb, ra, bb, ba, cb, ca, seed=0) -> gpd.GeoDataFrame:
    """Points in the area, in the buffer (60-160 m outside it) and in the control, per period."""
    rng = np.random.default_rng(seed)
    boxes = {
        "area": (X0 - 90, Y0 - 90, X0 + 90, Y0 + 90),
        "buffer": (X0 + 160, Y0 - 90, X0 + 260, Y0 + 90),
        "control": (X0 + 600, Y0 + 600, X0 + 1400, Y0 + 1400),
    }
    xy, times = [], []
    for name, nb, na in (("area", rb, ra), ("buffer", bb, ba), ("control", cb, ca)):
        x0, y0, x1, y1 = boxes[name]
        for n, day in ((nb, "2026-03-10"), (na, "2026-04-10")):
            xy.append(
                np.column_stack([x0 + (x1 - x0) * rng.random(n), y0 + (y1 - y0) * rng.random(n)])
            )
            times += [
                pd.Timestamp(day) + pd.Timedelta(minutes=int(m)) for m in rng.integers(0, 20_000, n)
            ]
    # and some outside both periods and outside the district, which must not count
    xy.append(np.array([[X0, Y0], [X0 + 5000, Y0]]))
    times += [pd.Timestamp("2026-06-01"), pd.Timestamp("2026-03-10")]
    return incidents_frame(np.vstack(xy), times, ["05-05"] * len(times))


@pytest.mark.parametrize(
    "counts, wdq, verdict",
    [
        ((100, 50, 100, 100, 1000, 1000), 0.0, "effective"),  # pure success
        ((100, 50, 100, 160, 1000, 1000), -1.2, "displacement"),
        ((400, 200, 400, 500, 4000, 4000), -0.5, "effective_displacement"),
        # the same WDQ on small counts: the buffer's +25 % is not significant (p = 0.11)
        ((100, 50, 100, 125, 1000, 1000), -0.5, "effective"),
        ((100, 50, 100, 70, 1000, 1000), 0.6, "effective_diffusion"),
        ((100, 100, 200, 300, 1000, 2000), 1.0, "effective_diffusion"),
        ((100, 100, 100, 100, 1000, 1000), None, "no_effect"),
        ((100, 160, 100, 100, 1000, 1000), None, "worse"),
        ((0, 3, 100, 100, 1000, 1000), None, "insufficient_data"),
    ],
)
def test_evaluate_constructed_cases(counts, wdq, verdict):
    inc = constructed(*counts)
    ev = planning.evaluate(
        to_ll(AREA_M), inc, before=BEFORE, after=AFTER, buffer_m=300, district=to_ll(DISTRICT_M)
    )
    got = (
        ev.area_before,
        ev.area_after,
        ev.buffer_before,
        ev.buffer_after,
        ev.control_before,
        ev.control_after,
    )
    assert got == counts
    rb, ra, bb, ba, cb, ca = counts
    if wdq is None:
        if verdict != "insufficient_data":
            assert ev.wdq is None or ev.verdict in ("worse",)
    else:
        assert ev.wdq == pytest.approx(wdq)
        assert ev.success_measure == pytest.approx(ra / ca - rb / cb)
        assert ev.total_net_effect == pytest.approx((rb * ca / cb - ra) + (bb * ca / cb - ba))
    assert ev.verdict == verdict
    assert (ev.verdict_zh, ev.verdict_en) == planning.VERDICTS[verdict]
    assert ev.area_m2 == pytest.approx(40_000, rel=1e-3)
    d = ev.to_dict()
    for key in (
        "area_before",
        "area_after",
        "buffer_before",
        "buffer_after",
        "control_before",
        "control_after",
        "wdq",
        "verdict",
    ):
        assert key in d
    json.dumps(d)


def test_evaluate_periods_categories_and_errors():
    inc = constructed(100, 50, 100, 100, 1000, 1000)
    inc.loc[inc.index[:10], "category_code"] = "05-04"
    ev = planning.evaluate(
        to_ll(AREA_M),
        inc,
        before="2026-03-01:2026-04-01",
        after=AFTER,
        categories=["05-04"],
        district=to_ll(DISTRICT_M),
    )
    assert ev.area_before == 10 and ev.categories == ("05-04",)
    hull = planning.evaluate(to_ll(AREA_M), inc, before=BEFORE, after=AFTER)  # district: hull
    assert hull.control_before == 1001  # the hull takes in the point 5 km away
    with pytest.raises(InputError):
        planning.evaluate(to_ll(AREA_M), inc, before=("2026-04-01", "2026-03-01"), after=AFTER)


def test_demo_planted_operations_are_judged_right(demo_small):
    district = planning.area_geometry(demo_small.grids[demo_small.grids["level"] == "l1"])
    ops = {op["expected"]: op for op in demo_small.truth["operations"]}
    verdicts = {}
    for expected, op in ops.items():
        before, after = planning.plan_periods(
            {"period_start": op["start"], "period_end": op["end"]}
        )
        verdicts[expected] = planning.evaluate(
            op["area_wkt"],
            demo_small.incidents,
            before=before,
            after=after,
            buffer_m=op["buffer_m"],
            district=district,
            categories=[op["category_code"]],
        )
    eff, disp = verdicts["effective"], verdicts["displacement"]
    assert eff.effective and not eff.displacement and eff.rate_ratio < 0.5
    assert eff.verdict == "effective"
    assert disp.displacement and disp.wdq < 0 and disp.buffer_p_value < 0.01
    assert disp.buffer_after > 3 * disp.buffer_before


# --------------------------------------------------------------------------------------------
# Plans on both backends


def test_plans_save_list_update_evaluate(engine):
    area = to_ll(AREA_M)
    pid = planning.save_plan(
        engine,
        name="医院周边专项整治",
        area=area,
        period_start="2026-04-01",
        period_end="2026-05-01",
        departments=["jiaojing", "chengguan"],
        notes="demo",
        user=LEADER,
    )
    plans = planning.list_plans(engine)
    assert plans["id"].tolist() == [pid]
    row = plans.iloc[0]
    assert (row["name"], row["status"], row["departments"], row["created_by"]) == (
        "医院周边专项整治",
        "draft",
        "jiaojing;chengguan",
        "boss",
    )
    assert row["period_start"] == pd.Timestamp("2026-04-01")
    assert row.geometry.symmetric_difference(area).area < 1e-12
    with pytest.raises(auth.PermissionDenied):
        planning.save_plan(
            engine,
            name="x",
            area=area,
            period_start="2026-04-01",
            period_end="2026-05-01",
            user=ANALYST,
        )
    with pytest.raises(InputError):
        planning.save_plan(
            engine,
            name="x",
            area=area,
            period_start="2026-05-01",
            period_end="2026-04-01",
            user=LEADER,
        )
    planning.update_plan_status(engine, pid, "active", user=LEADER, notes="started")
    assert planning.get_plan(engine, pid)[["status", "notes"]].tolist() == ["active", "started"]
    with pytest.raises(InputError):
        planning.update_plan_status(engine, pid, "nonsense", user=LEADER)
    with pytest.raises(InputError):
        planning.update_plan_status(engine, 9999, "done", user=LEADER)
    with pytest.raises(auth.PermissionDenied):
        planning.update_plan_status(engine, pid, "done", user=ANALYST)
    # evaluation once the period passed; before = the same length just before
    inc = constructed(100, 50, 100, 100, 1000, 1000)
    inc["occurred_at"] = inc["occurred_at"] + pd.Timedelta(days=1)  # into 2026-03-02 .. 04-01
    with pytest.raises(InputError, match="after its period"):
        planning.evaluate_plan(engine, pid, incidents=inc, as_of="2026-04-15")
    ev = planning.evaluate_plan(engine, pid, incidents=inc, as_of="2026-06-01", buffer_m=300)
    assert ev.before == (pd.Timestamp("2026-03-02"), pd.Timestamp("2026-04-01"))
    assert (ev.area_before, ev.area_after, ev.verdict, ev.label) == (
        100,
        50,
        "effective",
        "医院周边专项整治",
    )
    table = planning.evaluate_plans(engine, incidents=inc, as_of="2026-06-01")
    assert table.loc[0, "verdict"] == "effective"
    assert planning.evaluate_plans(engine, as_of="2026-04-15").loc[0, "verdict"] == "pending"


# --------------------------------------------------------------------------------------------
# Command line on the demo database


@pytest.fixture
def demo_copy(demo_db, tmp_path):
    path = tmp_path / "demo_copy.db"
    shutil.copy(demo_db, path)
    return str(path)


def test_cli_zones_brief_evaluate(demo_copy, demo_small, tmp_path, capsys):
    db = demo_copy
    out = tmp_path / "zones.geojson"
    args = ["zones", "--db", db, "--top", "3", "--out", str(out), "--lang", "en"]
    assert main([*args, "--start", "2026-06-01", "--end", "2026-08-01"]) == 0
    text = capsys.readouterr().out
    assert "proposed zone" in text and "#1:" in text
    zones = gpd.read_file(out)
    assert 1 <= len(zones) <= 3
    persistent = next(h for h in demo_small.truth["hotspots"] if h["pattern"] == "persistent")
    assert zones.geometry.iloc[0].contains(shapely.Point(persistent["center_lonlat"]))

    op = next(o for o in demo_small.truth["operations"] if o["expected"] == "displacement")
    html_out = tmp_path / "brief.html"
    codes = ",".join(op["micro_codes"])
    assert (
        main(
            [
                "brief",
                "--db",
                db,
                "--grids",
                codes,
                "--out",
                str(html_out),
                "--start",
                "2026-01-01",
                "--end",
                "2026-04-01",
            ]
        )
        == 0
    )
    page = html_out.read_text(encoding="utf-8")
    assert external_urls(page) == [] and "城管" in page and "16:00" in page
    assert "牵头部门" in capsys.readouterr().out

    area_file = tmp_path / "market.geojson"
    gpd.GeoDataFrame(
        {"name": ["market"]}, geometry=[shapely.from_wkt(op["area_wkt"])], crs=4326
    ).to_file(area_file)
    args = [
        "evaluate",
        "--db",
        db,
        "--area",
        str(area_file),
        "--buffer-m",
        "400",
        "--before",
        "2026-03-01:2026-04-01",
        "--after",
        "2026-04-01:2026-05-01",
        "--category",
        "05-04",
    ]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {
        "area_before",
        "area_after",
        "buffer_before",
        "buffer_after",
        "control_before",
        "control_after",
        "wdq",
        "verdict",
    } <= set(result)
    assert result["verdict"] in ("displacement", "effective_displacement") and result["wdq"] < 0
    assert main([*args, "--lang", "en"]) == 0
    assert "WDQ" in capsys.readouterr().out

    engine = store.open_store(db)
    pid = planning.save_plan(
        engine,
        name=op["name"],
        area=op["area_wkt"],
        period_start=op["start"],
        period_end=op["end"],
        departments="chengguan;scjg",
        user=LEADER,
    )
    engine.dispose()
    assert (
        main(
            [
                "evaluate",
                "--db",
                db,
                "--plan",
                str(pid),
                "--buffer-m",
                "400",
                "--category",
                "05-04",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["verdict"] in (
        "displacement",
        "effective_displacement",
    )
    xlsx = tmp_path / "plan.xlsx"
    args = ["brief", "--db", db, "--plan", str(pid), "--out", str(xlsx), "--lang", "en"]
    assert main([*args, "--start", "2026-03-01", "--end", "2026-04-01"]) == 0
    assert "categories" in load_workbook(xlsx, read_only=True).sheetnames
    capsys.readouterr()
    assert main(["brief", "--db", db, "--plan", str(pid), "--out", str(tmp_path / "x.pdf")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gridlens: error:") and ".html or .xlsx" in err[0]
    assert main(["evaluate", "--db", db, "--area", str(area_file)]) == 1
    assert "--before" in capsys.readouterr().err


def test_cli_evaluate_incident_file_without_database(tmp_path, capsys):
    inc = constructed(100, 50, 100, 160, 1000, 1000)
    inc["occurred_at"] = inc["occurred_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    inc_file = tmp_path / "inc.geojson"
    inc.to_file(inc_file)
    area_file = tmp_path / "area.geojson"
    gpd.GeoDataFrame(geometry=[to_ll(AREA_M)], crs=4326).to_file(area_file)
    rc = main(
        [
            "evaluate",
            "--area",
            str(area_file),
            "--incidents",
            str(inc_file),
            "--before",
            "2026-03-01:2026-04-01",
            "--after",
            "2026-04-01:2026-05-01",
            "--json",
        ]
    )
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["area_before"], result["area_after"], result["buffer_after"]) == (100, 50, 160)
    # no database, so no district: the incidents' hull, which takes in the point 5 km away
    assert result["control_before"] == 1001
    hand = (160 / 1000 - 100 / 1001) / (50 / 1000 - 100 / 1001)
    assert result["wdq"] == pytest.approx(hand) and result["verdict"] == "displacement"
