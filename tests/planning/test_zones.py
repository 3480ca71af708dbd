"""gis.planning.zones: proposed zones on a constructed 7 x 7 lattice (counts by hand) and on
the demo district against its planted hot spots."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import stats

from gis import hotspots as hs
from gis import planning
from gis.core.errors import InputError
from tests.planning.cases import (
    END,
    MID,
    START,
    UNIT,
    X0,
    Y0,
    cell_m,
    incidents_frame,
    to_ll,
)

# --------------------------------------------------------------------------------------------
# Proposed zones on a constructed 7 x 7 lattice of 100 m cells
#   A = (0,0)+(1,0) share an edge; B = (2,1) touches A only at a corner; C = the ring of 8 cells
#   around (4,5), whose centre is not hot (a hole to fill).

A = [(0, 0), (1, 0)]
B = [(2, 1)]
C = [(x, y) for x in (3, 4, 5) for y in (4, 5, 6) if (x, y) != (4, 5)]


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
