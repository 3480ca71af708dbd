"""Grid editing (gis.grids.edit): pure operations, impact preview, versioned saves, restore.

Tiling is checked independently of ``validate_hierarchy`` too: areas in the local metric CRS,
the union of a parent's children against the parent, the sum of their areas against the
union's (overlaps). Impact numbers are checked against ``geopandas.sjoin`` and hand counts.
"""

from __future__ import annotations

import re
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from gis import store
from gis.auth import PermissionDenied, User
from gis.core.crs import local_metric_crs
from gis.core.errors import EditConflict, InputError
from gis.grids import edit as ge
from gis.grids import validate_hierarchy
from gis.grids.edit import history
from gis.store.frames import read_frame, save_frame

X0, Y0 = 112.90, 35.79
P101, P102 = "140581001001101", "140581001001102"  # micro-grids of l2 P100 (west / east)
P100, P200 = "140581001001100", "140581001001200"  # level-2 grids of community 1 (south / north)
C1, C2 = "140581001001000", "140581001002000"  # the two communities (west / east)
Q100 = "140581001002100"  # level-2 grid of community 2 (south)


# --------------------------------------------------------------------------------------------
# fixtures and helpers
# --------------------------------------------------------------------------------------------
@pytest.fixture
def tiny(tiny_grids) -> gpd.GeoDataFrame:
    """tiny_grids as loaded from the store: with ``kind`` and ``version``."""
    return tiny_grids.assign(kind=None, version=1)


@pytest.fixture(scope="module")
def demo(demo_small):
    """The demo district's grids (version 1), incidents and staff."""
    return (
        demo_small.grids.assign(version=1),
        demo_small.incidents[["external_id", "geometry"]],
        demo_small.staff,
    )


#: m² per square degree near the test data (35.8 N): areas here are plain planar areas in
#: degrees times this constant, so they add up exactly (a projection bends long edges that
#: carry a vertex midway and makes a parent differ from its children by a few m²)
_PHI = np.radians(Y0 + 0.005)
M2_PER_DEG2 = (111_412.84 * np.cos(_PHI) - 93.5 * np.cos(3 * _PHI)) * (
    111_132.954 - 559.822 * np.cos(2 * _PHI)
)


def m2(geoms) -> np.ndarray | float:
    return shapely.area(geoms) * M2_PER_DEG2


def metric(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame.to_crs(local_metric_crs(frame))


def area_of(frame: gpd.GeoDataFrame, code: str) -> float:
    return float(m2(geom_of(frame, code)))


def geom_of(frame: gpd.GeoDataFrame, code: str):
    return frame.loc[frame["code"] == code].geometry.iloc[0]


def attr(frame: gpd.GeoDataFrame, code: str, col: str):
    return frame.loc[frame["code"] == code, col].iloc[0]


def assert_tiled(frame: gpd.GeoDataFrame, parents=None, tol_m2: float = 0.5) -> None:
    """Every parent (or those given) is covered by its regular children exactly, without
    overlaps (m²)."""
    regular = frame[frame["level"].isin(["l1", "l2", "micro"])]
    if parents is not None:
        regular = regular[regular["parent_code"].isin(list(parents))]
    for parent, kids in regular.groupby("parent_code"):
        p = geom_of(frame, parent)
        union = shapely.union_all(kids.geometry.to_numpy())
        assert m2(shapely.symmetric_difference(p, union)) < tol_m2, parent
        assert m2(kids.geometry.to_numpy()).sum() - m2(union) < tol_m2, f"{parent}: overlaps"


def assert_valid(result: ge.EditResult, before: gpd.GeoDataFrame) -> None:
    """No validation error, and no sliver warning that the input did not have."""
    rep = validate_hierarchy(result.grids)
    assert rep.errors == 0, rep.text()
    base = validate_hierarchy(before)
    slivers = (rep.problems["kind"] == "sliver").sum()
    assert slivers <= (base.problems["kind"] == "sliver").sum(), rep.text()
    assert_tiled(result.grids)


def box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def three_strips() -> gpd.GeoDataFrame:
    """Community P (3 x 2 units of 0.001°): A the top row, B and C the bottom halves."""
    u = 0.001
    rows = [
        (C1, "P", "l1", None, box(0, 0, 3 * u, 2 * u)),
        (P100, "A", "l2", C1, box(0, u, 3 * u, 2 * u)),
        (P200, "B", "l2", C1, box(0, 0, 1.5 * u, u)),
        ("140581001001300", "C", "l2", C1, box(1.5 * u, 0, 3 * u, u)),
    ]
    frame = pd.DataFrame(rows, columns=["code", "name", "level", "parent_code", "geometry"])
    frame["geometry"] = [shapely.multipolygons([g]) for g in frame["geometry"]]
    frame = frame.assign(kind=None, households=100, population=250, businesses=5, version=1)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=4326)


def border_deg(frame: gpd.GeoDataFrame, geom) -> np.ndarray:
    """Length (degrees) of the border each grid of ``frame`` shares with ``geom``."""
    return shapely.length(shapely.intersection(frame.geometry.to_numpy(), geom))


def same(a, b, tol_m2: float = 0.01) -> bool:
    """Equal shapes up to float noise (symmetric difference below ``tol_m2``)."""
    return shapely.area(shapely.symmetric_difference(a, b)) * 1.0e10 < tol_m2


def frames_equal(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> bool:
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    same_geom = all(
        shapely.to_wkb(x) == shapely.to_wkb(y) for x, y in zip(a.geometry, b.geometry, strict=True)
    )
    return same_geom and a.drop(columns="geometry").equals(b.drop(columns="geometry"))


# --------------------------------------------------------------------------------------------
# reshape
# --------------------------------------------------------------------------------------------
def test_reshape_sibling_gives_area_and_households_follow_by_area(tiny):
    copy = tiny.copy()
    new = box(0, 0, 0.007, 0.005)  # P101 takes 0.002 of P102's 0.005 width
    result = ge.reshape(tiny, P101, new)
    assert frames_equal(tiny, copy), "the input must not change"
    assert sorted(result.changed) == [P101, P102]
    assert result.created == [] and result.retired == []
    out = result.grids
    assert same(geom_of(out, P101), new)
    assert same(geom_of(out, P102), box(0.007, 0, 0.01, 0.005))
    # households by area share: P102 hands over 2/5 of its 400
    assert attr(out, P101, "households") == 560 and attr(out, P102, "households") == 240
    assert attr(out, P100, "households") == 800  # parent unchanged
    assert area_of(out, P100) == pytest.approx(area_of(tiny, P100), abs=1e-3)
    assert_valid(result, tiny)


@pytest.mark.parametrize(
    ("given_up", "taker"),
    [
        ((0.0012, 0.0005, 0.0015, 0.001), "140581001001300"),  # borders C 0.5, A 0.3
        ((0.0010, 0.0008, 0.0015, 0.001), P100),  # borders A 0.5, C 0.2
    ],
)
def test_reshape_given_up_area_goes_to_longest_border(given_up, taker):
    grids = three_strips()
    old_b = geom_of(grids, P200)
    piece = box(*given_up)
    result = ge.reshape(grids, P200, old_b.difference(piece))
    assert set(result.changed) == {P200, taker}
    gained = geom_of(result.grids, taker).difference(geom_of(grids, taker))
    assert shapely.symmetric_difference(gained, piece).area < 1e-14
    assert_valid(result, grids)


def test_reshape_outside_parent_refused_with_area_and_parent(tiny):
    new = box(0, 0, 0.005, 0.006)  # 0.001° north into P200: outside parent P100
    with pytest.raises(InputError) as err:
        ge.reshape(tiny, P101, new)
    outside = gpd.GeoSeries([new.difference(geom_of(tiny, P100))], crs=4326)
    expected = float(metric(gpd.GeoDataFrame(geometry=outside)).area.iloc[0])  # the local CRS
    message = str(err.value)
    assert P100 in message and "m²" in message
    said = float(re.search(r"([\d,]+) m²", message).group(1).replace(",", ""))
    assert said == pytest.approx(expected, rel=0.01)


def test_reshape_update_parent_grows_parent_and_keeps_tiling(tiny):
    new = box(0, 0, 0.005, 0.006)
    result = ge.reshape(tiny, P101, new, update_parent=True)
    out = result.grids
    assert shapely.covers(geom_of(out, P100), geom_of(out, P101))
    assert {P101, P100, P200, "140581001001201"} <= set(result.changed)
    assert area_of(out, C1) == pytest.approx(area_of(tiny, C1), abs=0.01)  # inside community
    assert area_of(out, P101) == pytest.approx(float(m2(new)), rel=1e-9)
    assert_valid(result, tiny)


def test_reshape_of_level2_clips_and_extends_its_children(tiny):
    # P100 grows north by 0.001°: its children share the strip, each the part nearest to it
    # (their common border runs on north); P200's children lose it
    result = ge.reshape(tiny, P100, box(0, 0, 0.01, 0.006))
    out = result.grids
    assert {P100, P200, P101, P102, "140581001001201", "140581001001202"} == set(result.changed)
    assert same(geom_of(out, P101), box(0, 0, 0.005, 0.006))
    assert same(geom_of(out, P102), box(0.005, 0, 0.01, 0.006))
    assert same(geom_of(out, "140581001001201"), box(0, 0.006, 0.005, 0.01))
    assert attr(out, P100, "households") == attr(out, P101, "households") + attr(
        out, P102, "households"
    )
    assert attr(out, P101, "households") == 400 + 400 // 5  # 1/5 of 201 (400) moves south
    assert_valid(result, tiny)
    # shrinking it back south: the children are clipped, P200's children extended likewise
    back = ge.reshape(out, P100, box(0, 0, 0.01, 0.005))
    for code in (P101, P102, "140581001001201", "140581001001202"):
        assert same(geom_of(back.grids, code), geom_of(tiny, code))
    assert_valid(back, tiny)


def test_reshape_moves_children_that_end_up_mostly_in_a_neighbour(tiny):
    # P100 grows north to 0.009°: P200 keeps a 0.001° strip; of its two micro-grids, both
    # now mostly in P100, the one with less of itself left (equal: the first) moves under
    # P100 with a new code, the other stays so that P200 keeps a child, clipped to the strip
    result = ge.reshape(tiny, P100, box(0, 0, 0.01, 0.009))
    assert result.retired == ["140581001001201"] and result.created == ["140581001001103"]
    out = result.grids
    assert attr(out, "140581001001103", "parent_code") == P100
    assert same(geom_of(out, "140581001001202"), box(0, 0.009, 0.01, 0.01))
    assert attr(out, P200, "households") == attr(out, "140581001001202", "households")
    assert any("moved there" in n for n in result.notes)
    assert_valid(result, tiny)


def test_reshape_refuses_swallowing_a_sibling_and_punching_a_hole(tiny):
    with pytest.raises(InputError, match="merge"):
        ge.reshape(tiny, P101, box(0, 0, 0.01, 0.005))
    holed = box(0, 0, 0.005, 0.005).difference(box(0.002, 0.002, 0.003, 0.003))
    with pytest.raises(InputError, match="gap"):
        ge.reshape(tiny, P101, holed)
    with pytest.raises(InputError, match="no current grid"):
        ge.reshape(tiny, "999", holed)
    with pytest.raises(InputError, match="polygon"):
        ge.reshape(tiny, P101, shapely.LineString([(0, 0), (1, 1)]))
    with pytest.raises(InputError, match="whole current hierarchy"):
        ge.reshape(tiny[tiny["level"] == "micro"], P101, box(0, 0, 0.007, 0.005))
    with pytest.raises(InputError, match="EPSG:4326"):
        ge.reshape(tiny.to_crs(3857), P101, box(0, 0, 0.007, 0.005))


def test_reshape_snaps_leaflet_rounded_drawing(demo):
    grids, _, _ = demo
    micro = grids[grids["level"] == "micro"]
    code = micro["code"].iloc[40]
    ring = np.round(shapely.get_coordinates(geom_of(grids, code).geoms[0].exterior), 6)
    assert ge.reshape(grids, code, shapely.Polygon(ring)).is_noop  # rounding only: no change
    # move one interior vertex, keep the others as Leaflet returns them (6 decimals)
    parent = geom_of(grids, attr(grids, code, "parent_code"))
    i = next(
        k
        for k in range(1, len(ring) - 1)
        if shapely.distance(shapely.Point(ring[k]), parent.boundary) > 1e-4
    )
    ring[i] += [0.00005, 0.00003]
    result = ge.reshape(grids, code, shapely.Polygon(ring))
    neighbours = micro[
        micro.geometry.touches(shapely.Point(geom_of(grids, code).geoms[0].exterior.coords[i]))
    ]
    assert set(result.changed) <= {code, *neighbours["code"]}
    assert code in result.changed
    assert_valid(result, grids)


def test_reshape_noop_and_dedicated(tiny):
    same = ge.reshape(tiny, P101, geom_of(tiny, P101))
    assert same.is_noop
    added = ge.add_dedicated(
        tiny, name="School", kind="school", geometry=box(0.001, 0.001, 0.002, 0.002), parent_code=C1
    )
    code = added.created[0]
    moved = ge.reshape(added.grids, code, box(0.001, 0.001, 0.003, 0.003))
    assert moved.changed == [code]
    assert ge.reshape(added.grids, code, box(0.001, 0.001, 0.003, 0.003)).grids is not None
    with pytest.raises(InputError, match="outside its parent"):
        ge.reshape(added.grids, code, box(0.009, 0.001, 0.012, 0.003))


# --------------------------------------------------------------------------------------------
# split, merge, move, dedicated
# --------------------------------------------------------------------------------------------
def test_split_micro_along_a_line_drawn_nearly_across(tiny):
    # a vertical line at x = 0.0025° stopping ~10 m short of both edges
    line = shapely.LineString([(X0 + 0.0025, Y0 + 0.0001), (X0 + 0.0025, Y0 + 0.0049)])
    result = ge.split(tiny, P101, line)
    assert result.retired == [P101]
    assert result.created == ["140581001001103", "140581001001104"]  # west first
    out = result.grids
    west, east = (geom_of(out, c) for c in result.created)
    assert west.centroid.x < east.centroid.x
    assert same(west.union(east), geom_of(tiny, P101))
    assert attr(out, "140581001001103", "households") == 200
    assert attr(out, "140581001001104", "households") == 200
    assert attr(out, "140581001001103", "name").startswith("微网格000")
    assert_valid(result, tiny)
    with pytest.raises(InputError, match="does not cut"):
        ge.split(
            tiny, P101, shapely.LineString([(X0 + 0.001, Y0 + 0.002), (X0 + 0.002, Y0 + 0.002)])
        )
    with pytest.raises(InputError, match="line"):
        ge.split(tiny, P101, box(0, 0, 1, 1))


def test_split_level2_reparents_children_by_most_area(tiny):
    # cut P100 at x = 0.004: P101 (0-0.005) is mostly west, P102 wholly east
    line = shapely.LineString([(X0 + 0.004, Y0 - 0.001), (X0 + 0.004, Y0 + 0.006)])
    result = ge.split(tiny, P100, line, reserved={"140581001001300"})
    west, east = "140581001001400", "140581001001500"  # 300 is reserved (used before)
    assert result.created[:2] == [west, east]
    assert set(result.retired) == {P100, P101, P102}
    out = result.grids
    kids_w = out[out["parent_code"] == west]
    kids_e = out[out["parent_code"] == east]
    assert len(kids_w) == 1 and len(kids_e) == 1
    assert kids_w["code"].iloc[0].startswith("1405810010014")
    assert result.recoded == {P101: kids_w["code"].iloc[0], P102: kids_e["code"].iloc[0]}
    # the cut child gives its sliver east of the line to the child of the east piece
    assert same(kids_w.geometry.iloc[0], box(0, 0, 0.004, 0.005))
    assert attr(out, west, "households") + attr(out, east, "households") == 800
    assert_valid(result, tiny)


def test_merge_keeps_smallest_code_and_sums(tiny):
    result = ge.merge(tiny, [P102, P101])
    assert result.changed == [P101] and result.retired == [P102]
    out = result.grids
    assert attr(out, P101, "households") == 800 and attr(out, P101, "population") == 2000
    assert same(geom_of(out, P101), geom_of(tiny, P100))
    assert_valid(result, tiny)
    # level-2 grids: children of the retired one are re-coded under the kept one
    merged = ge.merge(tiny, [P100, P200])
    assert merged.retired[0] == P200
    kids = merged.grids[merged.grids["parent_code"] == P100]["code"].tolist()
    assert sorted(kids) == [P101, P102, "140581001001103", "140581001001104"]
    assert_valid(merged, tiny)


def test_merge_refusals(tiny, demo):
    grids = demo[0]
    micro = grids[grids["level"] == "micro"]
    first = micro.iloc[0]
    sib = micro[(micro["parent_code"] == first["parent_code"]) & (micro["code"] != first["code"])]
    apart = sib[shapely.distance(sib.geometry.to_numpy(), first.geometry) > 1e-4]["code"].iloc[0]
    with pytest.raises(InputError, match="share no border"):
        ge.merge(grids, [first["code"], apart])
    with pytest.raises(InputError, match="same parent"):
        ge.merge(tiny, [P102, "140581001002101"])
    with pytest.raises(InputError, match="different levels"):
        ge.merge(tiny, [P101, P200])
    with pytest.raises(InputError, match="at least two"):
        ge.merge(tiny, [P101])


def test_move_micro_to_adjacent_parent_across_communities(tiny):
    result = ge.move(tiny, P102, Q100)
    new_code = result.created[0]
    assert new_code == "140581001002103" and result.retired == [P102]
    assert set(result.changed) == {P100, Q100, C1, C2}
    out = result.grids
    assert attr(out, new_code, "parent_code") == Q100
    assert same(geom_of(out, new_code), geom_of(tiny, P102))
    assert same(geom_of(out, P100), geom_of(tiny, P101))
    assert attr(out, Q100, "households") == 1200 and attr(out, C2, "households") == 2000
    assert attr(out, C1, "households") == 1200
    assert area_of(out, C1) + area_of(out, C2) == pytest.approx(
        area_of(tiny, C1) + area_of(tiny, C2), abs=0.01
    )
    assert_valid(result, tiny)
    # the grid left alone in P100 cannot move too; a non-adjacent parent is refused
    with pytest.raises(InputError, match="last grid"):
        ge.move(out, P101, "140581001001200")
    with pytest.raises(InputError, match="adjacent"):
        ge.move(tiny, P101, Q100)
    with pytest.raises(InputError, match="at level l2"):
        ge.move(tiny, P101, C2)


def test_add_and_retire_dedicated(tiny):
    added = ge.add_dedicated(
        tiny,
        name="第一小学",
        kind="school",
        geometry=box(0.001, 0.001, 0.003, 0.003),
        parent_code=C1,
    )
    code = added.created[0]
    assert code == "140581001001901"
    assert attr(added.grids, code, "level") == "dedicated"
    assert_valid(added, tiny)
    with pytest.raises(InputError, match="outside its parent"):
        ge.add_dedicated(
            tiny, name="x", kind="school", geometry=box(0.009, 0, 0.012, 0.002), parent_code=C1
        )
    with pytest.raises(InputError, match="name"):
        ge.add_dedicated(
            tiny, name=" ", kind="school", geometry=box(0, 0, 0.001, 0.001), parent_code=C1
        )
    gone = ge.retire(added.grids, code)
    assert gone.retired == [code] and code not in set(gone.grids["code"])
    with pytest.raises(InputError, match="merge"):
        ge.retire(tiny, P101)


# --------------------------------------------------------------------------------------------
# the demo district
# --------------------------------------------------------------------------------------------
def test_demo_operations_keep_the_hierarchy_valid(demo):
    grids, _, _ = demo
    micro = grids[grids["level"] == "micro"].reset_index(drop=True)
    # split a micro-grid through its centre
    m = micro.iloc[10]
    minx, miny, maxx, maxy = m.geometry.bounds
    cy = m.geometry.centroid.y
    result = ge.split(grids, m["code"], shapely.LineString([(minx - 1e-4, cy), (maxx + 1e-4, cy)]))
    assert len(result.created) == 2 and result.retired == [m["code"]]
    assert_valid(result, grids)
    # merge it with an adjacent sibling
    sib = micro[(micro["parent_code"] == m["parent_code"]) & (micro["code"] != m["code"])]
    adjacent = sib[border_deg(sib, m.geometry) > 0]
    merged = ge.merge(grids, [m["code"], adjacent["code"].iloc[0]])
    assert merged.changed == [min(m["code"], adjacent["code"].iloc[0])]
    assert_valid(merged, grids)
    # move a micro-grid to a level-2 grid of another community
    l2 = grids[grids["level"] == "l2"].set_index("code")
    for row in micro.itertuples():
        other = l2[
            (l2["parent_code"] != l2.at[row.parent_code, "parent_code"])
            & (border_deg(l2, row.geometry) > 5e-4)
        ]
        if len(other):
            moved = ge.move(grids, row.code, other.index[0])
            break
    assert len(moved.changed) == 4 and moved.created[0].startswith(other.index[0][:13])
    assert_valid(moved, grids)
    # grow a micro-grid beyond its level-2 grid, extending the parents
    m = micro.iloc[50]
    with pytest.raises(InputError, match="outside its parent"):
        ge.reshape(grids, m["code"], m.geometry.buffer(8e-4))
    grown = ge.reshape(grids, m["code"], m.geometry.buffer(8e-4), update_parent=True)
    assert_valid(grown, grids)
    l1 = grids[grids["level"] == "l1"]
    l1_after = grown.grids[grown.grids["level"] == "l1"]
    assert m2(l1_after.geometry.to_numpy()).sum() == pytest.approx(
        m2(l1.geometry.to_numpy()).sum(), abs=1.0
    )


def test_demo_split_level2(demo):
    grids, _, _ = demo
    l2 = grids[grids["level"] == "l2"].iloc[3]
    minx, miny, maxx, maxy = l2.geometry.bounds
    cx = l2.geometry.centroid.x
    result = ge.split(grids, l2["code"], shapely.LineString([(cx, miny - 1e-4), (cx, maxy + 1e-4)]))
    n_kids = int((grids["parent_code"] == l2["code"]).sum())
    assert len(result.created) == 2 + n_kids
    assert_valid(result, grids)
    out = result.grids
    hh = pd.to_numeric(out["households"])
    for piece in result.created[:2]:
        kids = out["parent_code"] == piece
        assert hh[out["code"] == piece].iloc[0] == hh[kids].sum()
    assert hh[out["code"].isin(result.created[:2])].sum() == l2["households"]


# --------------------------------------------------------------------------------------------
# impact preview
# --------------------------------------------------------------------------------------------
def sjoin_micro(points: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> pd.Series:
    micro = grids[grids["level"] == "micro"][["code", "geometry"]]
    joined = gpd.sjoin(points, micro, predicate="within", how="left")
    joined = joined[~joined.index.duplicated()]
    return joined["code"].fillna("outside")


def test_impact_preview_against_sjoin_and_hand_counts(tiny):
    rng = np.random.default_rng(7)
    xy = rng.uniform([X0 + 1e-5, Y0 + 1e-5], [X0 + 0.02 - 1e-5, Y0 + 0.01 - 1e-5], (3000, 2))
    incidents = gpd.GeoDataFrame(geometry=shapely.points(xy), crs=4326)
    staff = pd.DataFrame(
        {"staff_code": ["S1", "S2", "S3"], "grid_code": [P101, P102, "140581001002101"]}
    )
    result = ge.reshape(tiny, P101, box(0, 0, 0.007, 0.005))
    preview = ge.impact_preview(tiny, result, incidents=incidents, staff=staff)
    was, now = sjoin_micro(incidents, tiny), sjoin_micro(incidents, result.grids)
    moved = was != now
    assert preview.incidents_moved == int(moved.sum()) > 0
    assert preview.incidents_by_level["micro"] == int(moved.sum())
    assert preview.incidents_by_level["l2"] == 0
    table = preview.incident_moves.set_index(["level", "from_code", "to_code"])["incidents"]
    assert table[("micro", P102, P101)] == int(moved.sum())
    # households: 2/5 of P102's 400 change grid
    assert preview.households_moved == 160 and preview.population_moved == 400
    row = preview.household_moves.iloc[0]
    assert (row["from_code"], row["to_code"]) == (P102, P101)
    # m² of the local metric CRS (Gauss-Kruger CM 114E, 1.1° away: scale ~1 + 2.4e-4)
    assert row["area_m2"] == pytest.approx(area_of(tiny, P102) * 0.4, rel=1e-3)
    assert sorted(preview.staff["staff_code"]) == ["S1", "S2"]
    areas = preview.areas.set_index("code")
    assert areas.at[P101, "change_m2"] == pytest.approx(-areas.at[P102, "change_m2"], abs=1e-3)
    assert areas.at[P101, "area_after_m2"] == pytest.approx(area_of(result.grids, P101), rel=1e-3)
    assert preview.validation.errors == 0 and preview.ok
    assert preview.new_codes == []
    for lang in ("en", "zh"):
        text = preview.text(lang)
        assert str(preview.incidents_moved) in text and "160" in text
        assert len(preview.summary(lang)) == 8
    no_data = ge.impact_preview(tiny, result)
    assert no_data.incidents_moved is None and no_data.staff is None


def test_impact_preview_demo_split_matches_sjoin(demo):
    grids, incidents, staff = demo
    l2 = grids[grids["level"] == "l2"].iloc[5]
    minx, miny, maxx, maxy = l2.geometry.bounds
    cy = l2.geometry.centroid.y
    result = ge.split(grids, l2["code"], shapely.LineString([(minx - 1e-4, cy), (maxx + 1e-4, cy)]))
    preview = ge.impact_preview(grids, result, incidents=incidents, staff=staff)
    was, now = sjoin_micro(incidents, grids), sjoin_micro(incidents, result.grids)
    assert preview.incidents_by_level["micro"] == int((was != now).sum())
    # every incident of the split level-2 grid changes grid (its code is retired)
    micro_of_l2 = grids.loc[grids["parent_code"] == l2["code"], "code"]
    assert preview.incidents_by_level["l2"] == int(was.isin(micro_of_l2).sum())
    expected_staff = staff["grid_code"].isin(result.retired).sum()
    assert len(preview.staff) == expected_staff and (preview.staff["change"] == "retired").all()
    assert set(preview.staff["new_code"]) - {""} <= set(result.created)
    # all households of the retired micro-grids change grid
    hh = pd.to_numeric(grids.loc[grids["code"].isin(micro_of_l2), "households"]).sum()
    assert preview.households_moved == pytest.approx(hh, abs=1)
    assert preview.validation.errors == 0


# --------------------------------------------------------------------------------------------
# persistence: versions, conflicts, history, restore (SpatiaLite and PostGIS)
# --------------------------------------------------------------------------------------------
def load(engine, grids: gpd.GeoDataFrame) -> None:
    rows = grids.drop(columns=["version"]).assign(
        version=1, valid_from=datetime(2025, 1, 1), created_by="loader"
    )
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM grid_edits"))
        conn.execute(sa.text("DELETE FROM grids"))
        save_frame(conn, "grids", rows)


def snapshot(engine) -> tuple:
    with engine.connect() as conn:
        grids = conn.execute(sa.text("SELECT code, version, valid_to FROM grids ORDER BY id")).all()
        edits = conn.execute(sa.text("SELECT COUNT(*) FROM grid_edits")).scalar()
    return grids, edits


def test_save_edit_writes_versions_and_history(engine, tiny):
    load(engine, tiny)
    loaded = store.read_grids(engine)
    result = ge.reshape(loaded, P101, box(0, 0, 0.007, 0.005))
    group = ge.save_edit(engine, result, user="alice", reason="road widened")
    current = store.read_grids(engine)
    assert attr(current, P101, "version") == 2 and attr(current, P102, "version") == 2
    assert attr(current, P100, "version") == 1
    assert same(geom_of(current, P101), box(0, 0, 0.007, 0.005))
    assert attr(current, P101, "households") == 560
    history = ge.grid_history(engine, P101)
    assert history["version"].tolist() == [1, 2]
    last = history.iloc[-1]
    assert (last["action"], last["edited_by"], last["reason"], last["group"]) == (
        "reshape",
        "alice",
        "road widened",
        group,
    )
    assert history.iloc[0]["action"] == "loaded" and not history.iloc[0]["current"]
    assert last["area_m2"] == pytest.approx(area_of(current, P101), rel=1e-3)
    log = ge.edit_log(engine)
    assert log.iloc[0]["group"] == group and log.iloc[0]["n_grids"] == 2
    assert log.iloc[0]["targets"] == P101
    edits = read_frame(engine, "grid_edits", where="grid_code = :c", params={"c": P102})
    assert edits["version_before"].tolist() == [1] and edits["version_after"].tolist() == [2]
    assert same(edits.geometry.iloc[0], geom_of(tiny, P102))  # geom_before
    assert same(edits["geom_after"].iloc[0], geom_of(current, P102))
    # empty reason and a no-op are refused; nothing written
    before = snapshot(engine)
    with pytest.raises(InputError, match="reason"):
        ge.save_edit(engine, ge.merge(current, [P101, P102]), user="alice", reason="  ")
    with pytest.raises(InputError, match="nothing"):
        ge.save_edit(
            engine, ge.reshape(current, P101, geom_of(current, P101)), user="a", reason="x"
        )
    assert snapshot(engine) == before


def test_split_merge_retire_saved(engine, tiny):
    load(engine, tiny)
    line = shapely.LineString([(X0 + 0.0025, Y0 - 0.001), (X0 + 0.0025, Y0 + 0.006)])
    ge.save_edit(engine, ge.split(store.read_grids(engine), P101, line), user="a", reason="split")
    current = store.read_grids(engine)
    assert P101 not in set(current["code"])
    assert {"140581001001103", "140581001001104"} <= set(current["code"])
    assert attr(current, "140581001001103", "version") == 1
    history = ge.grid_history(engine, P101)
    assert history["action"].tolist() == ["loaded", "split"]
    assert pd.isna(history["version"].iloc[-1])
    merged = ge.merge(current, ["140581001001103", "140581001001104"])
    ge.save_edit(engine, merged, user="a", reason="merge back")
    assert validate_hierarchy(store.read_grids(engine)).errors == 0
    # a dedicated grid: added, then retired; its history says both
    added = ge.add_dedicated(
        store.read_grids(engine),
        name="School",
        kind="school",
        geometry=box(0.001, 0.001, 0.002, 0.002),
        parent_code=C1,
        reserved=ge.used_codes(engine),
    )
    code = added.created[0]
    ge.save_edit(engine, added, user="a", reason="new school")
    ge.save_edit(engine, ge.retire(store.read_grids(engine), code), user="b", reason="closed")
    assert code not in set(store.read_grids(engine)["code"])
    history = ge.grid_history(engine, code)
    assert history["action"].tolist() == ["add_dedicated", "retire"]
    assert history["edited_by"].tolist() == ["a", "b"]
    # used codes are never issued again
    assert code in ge.used_codes(engine) and P101 in ge.used_codes(engine)
    again = ge.add_dedicated(
        store.read_grids(engine),
        name="School 2",
        kind="school",
        geometry=box(0.001, 0.001, 0.002, 0.002),
        parent_code=C1,
        reserved=ge.used_codes(engine),
    )
    assert again.created[0] > code


def test_conflict_two_admins(engine, tiny):
    load(engine, tiny)
    seen_by_alice = store.read_grids(engine)
    seen_by_bob = store.read_grids(engine)
    alice = ge.reshape(seen_by_alice, P101, box(0, 0, 0.007, 0.005))
    bob = ge.reshape(seen_by_bob, P102, box(0.004, 0, 0.01, 0.005))
    ge.save_edit(engine, alice, user="alice", reason="first")
    before = snapshot(engine)
    with pytest.raises(EditConflict) as err:
        ge.save_edit(engine, bob, user="bob", reason="second")
    message = str(err.value)
    assert P102 in message and "version 1" in message and "alice" in message
    assert "version 2" in message and "Nothing was saved" in message
    assert {c["code"] for c in err.value.conflicts} == {P101, P102}
    assert snapshot(engine) == before
    current = store.read_grids(engine)
    assert same(geom_of(current, P101), box(0, 0, 0.007, 0.005))
    # explicit expected versions that are stale conflict as well
    again = ge.reshape(current, P101, box(0, 0, 0.006, 0.005))
    with pytest.raises(EditConflict):
        ge.save_edit(engine, again, user="bob", reason="x", expected_versions={P101: 1})
    ge.save_edit(engine, again, user="bob", reason="after reloading")


def test_conflict_on_retired_grid_names_who_retired_it(engine, tiny):
    load(engine, tiny)
    loaded = store.read_grids(engine)
    ge.save_edit(engine, ge.merge(loaded, [P101, P102]), user="carol", reason="merge")
    with pytest.raises(EditConflict, match="retired by carol"):
        ge.save_edit(
            engine, ge.reshape(loaded, P102, box(0.004, 0, 0.01, 0.005)), user="d", reason="x"
        )


def test_save_checks_grid_admin_permissions(engine, tiny):
    load(engine, tiny)
    loaded = store.read_grids(engine)
    admin_c1 = User(id=1, username="ga", display_name=None, role="grid_admin", grid_codes=(C1,))
    analyst = User(id=2, username="an", display_name=None, role="analyst")
    inside = ge.reshape(loaded, P101, box(0, 0, 0.007, 0.005))
    across = ge.move(loaded, P102, Q100)
    with pytest.raises(PermissionDenied):
        ge.save_edit(engine, inside, user=analyst, reason="x")
    before = snapshot(engine)
    with pytest.raises(PermissionDenied, match=C2):
        ge.save_edit(engine, across, user=admin_c1, reason="x")
    assert snapshot(engine) == before
    ge.save_edit(engine, inside, user=admin_c1, reason="within my community")
    assert ge.edit_log(engine)["edited_by"].tolist() == ["ga"]


def test_restore_version_brings_back_the_edit_group(engine, tiny):
    load(engine, tiny)
    original = store.read_grids(engine)
    ge.save_edit(engine, ge.reshape(original, P101, box(0, 0, 0.007, 0.005)), user="a", reason="1")
    step1 = store.read_grids(engine)
    ge.save_edit(engine, ge.move(step1, P102, Q100), user="b", reason="2")
    with pytest.raises(InputError, match="current"):
        ge.restore_version(engine, P100, 2, user="c", reason="x")
    with pytest.raises(InputError, match="no version"):
        ge.restore_version(engine, P101, 9, user="c", reason="x")
    with pytest.raises(InputError, match="reason"):
        ge.restore_version(engine, P101, 1, user="c", reason="")
    group = ge.restore_version(engine, P101, 1, user="c", reason="undo")
    restored = store.read_grids(engine)
    # the whole state before the first edit is back, geometry WKB-equal
    assert sorted(restored["code"]) == sorted(original["code"])
    for code in original["code"]:
        assert shapely.to_wkb(geom_of(restored, code)) == shapely.to_wkb(geom_of(original, code))
        assert attr(restored, code, "households") == attr(original, code, "households")
    assert attr(restored, P101, "version") == 3 and attr(restored, P102, "version") == 3
    assert validate_hierarchy(restored).errors == 0
    history = ge.grid_history(engine, P101)
    assert history["action"].tolist() == ["loaded", "reshape", "restore"]
    assert history.iloc[-1]["group"] == group
    log = ge.edit_log(engine)
    assert log.iloc[0]["action"] == "restore" and "140581001002103" in log.iloc[0]["codes"]


def test_restore_a_retired_grid(engine, tiny):
    load(engine, tiny)
    original = store.read_grids(engine)
    ge.save_edit(engine, ge.merge(original, [P101, P102]), user="a", reason="merge")
    ge.restore_version(engine, P102, 1, user="b", reason="unmerge")
    back = store.read_grids(engine)
    assert attr(back, P102, "version") == 2 and attr(back, P101, "version") == 3
    for code in (P101, P102):
        assert shapely.to_wkb(geom_of(back, code)) == shapely.to_wkb(geom_of(original, code))
        assert attr(back, code, "households") == 400
    history = ge.grid_history(engine, P102)
    assert history["action"].tolist() == ["loaded", "merge", "restore"]
    assert history["version"].tolist()[::2] == [1, 2] and pd.isna(history["version"].iloc[1])


def test_restore_refused_when_the_result_would_be_invalid(engine, tiny, monkeypatch):
    load(engine, tiny)
    original = store.read_grids(engine)
    ge.save_edit(engine, ge.reshape(original, P101, box(0, 0, 0.007, 0.005)), user="a", reason="1")
    before = snapshot(engine)
    real = history.validate_hierarchy

    def strict(grids, **kw):  # the restored state (P101 back at version 1) has an error
        report = real(grids, **kw)
        restored = grids["code"].eq(P101).any() and same(
            geom_of(grids, P101), geom_of(original, P101)
        )
        if restored:
            extra = report.problems.iloc[:0].copy()
            extra.loc[0] = ["coverage_gap", "error", P100, "a planted gap", "", 5.0, None, None]
            report.problems = pd.concat([report.problems, extra], ignore_index=True)
        return report

    monkeypatch.setattr(history, "validate_hierarchy", strict)
    with pytest.raises(InputError, match="a planted gap"):
        ge.restore_version(engine, P101, 1, user="c", reason="undo")
    assert snapshot(engine) == before


def test_demo_saved_edit_on_store(engine, demo):
    grids, _, _ = demo
    load(engine, grids)
    loaded = store.read_grids(engine)
    micro = loaded[loaded["level"] == "micro"]
    code = micro["code"].iloc[7]
    ring = shapely.get_coordinates(geom_of(loaded, code).geoms[0].exterior).copy()
    ring[2] += [4e-5, -3e-5]
    ring[-1] = ring[0]
    result = ge.reshape(loaded, code, shapely.Polygon(ring))
    ge.save_edit(engine, result, user="admin", reason="survey")
    after = store.read_grids(engine)
    assert validate_hierarchy(after).errors == 0
    ge.restore_version(engine, code, 1, user="admin", reason="undo survey")
    back = store.read_grids(engine)
    for c in result.changed:
        assert shapely.to_wkb(geom_of(back, c)) == shapely.to_wkb(geom_of(loaded, c))


# --------------------------------------------------------------------------------------------
# property-based: random valid edits keep the hierarchy valid
# --------------------------------------------------------------------------------------------
PROPS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def parent_areas(frame: gpd.GeoDataFrame, codes) -> np.ndarray:
    return np.array([area_of(frame, c) for c in codes])


@PROPS
@given(
    pick=st.integers(0, 446 + 46),
    vertex=st.integers(0, 1000),
    dx=st.floats(-2e-4, 2e-4),
    dy=st.floats(-2e-4, 2e-4),
)
def test_property_random_vertex_move_keeps_hierarchy_valid(demo, pick, vertex, dx, dy):
    """A vertex of a micro-grid (or of a level-2 grid, whose children follow) moves ~20 m."""
    grids, _, _ = demo
    editable = grids[grids["level"].isin(["micro", "l2"])].sort_values("level")
    code = editable["code"].iloc[pick]
    ring = shapely.get_coordinates(geom_of(grids, code).geoms[0].exterior).copy()
    i = vertex % (len(ring) - 1)
    ring[i] += [dx, dy]
    if i == 0:
        ring[-1] = ring[0]
    new = shapely.Polygon(ring)
    assume(new.is_valid)
    try:
        result = ge.reshape(grids, code, new)
    except InputError as exc:  # refused with a reason (left the parent, swallowed a sibling ...)
        assert str(exc)
        event("refused")
        return
    event("reshaped")
    parent = attr(grids, code, "parent_code")
    ancestors = [parent, attr(grids, parent, "parent_code")]
    ancestors = [a for a in ancestors if a is not None and not pd.isna(a)]
    assert parent_areas(result.grids, ancestors) == pytest.approx(
        parent_areas(grids, ancestors), abs=0.5
    )
    assert validate_hierarchy(result.grids).errors == 0
    assert_tiled(result.grids, [*ancestors, *result.changed])


@PROPS
@given(pick=st.integers(0, 446), angle=st.floats(0, np.pi), offset=st.floats(-0.3, 0.3))
def test_property_random_split_keeps_hierarchy_valid(demo, pick, angle, offset):
    grids, _, _ = demo
    micro = grids[grids["level"] == "micro"]
    code = micro["code"].iloc[pick]
    g = geom_of(grids, code)
    minx, miny, maxx, maxy = g.bounds
    size = max(maxx - minx, maxy - miny)
    c = g.centroid
    cx = c.x + offset * (maxx - minx) * np.sin(angle)
    cy = c.y - offset * (maxy - miny) * np.cos(angle)
    d = np.array([np.cos(angle), np.sin(angle)]) * size * 2
    line = shapely.LineString([(cx - d[0], cy - d[1]), (cx + d[0], cy + d[1])])
    try:
        result = ge.split(grids, code, line)
    except InputError as exc:  # a cut leaving only slivers (< 50 m²) is refused
        assert "does not cut" in str(exc)
        event("refused")
        return
    event("split")
    assert result.retired == [code] and len(result.created) >= 2
    pieces = result.grids[result.grids["code"].isin(result.created)]
    assert m2(pieces.geometry.to_numpy()).sum() == pytest.approx(area_of(grids, code), abs=0.5)
    parent = attr(grids, code, "parent_code")
    assert area_of(result.grids, parent) == pytest.approx(area_of(grids, parent), abs=0.5)
    assert validate_hierarchy(result.grids).errors == 0
    assert_tiled(result.grids, [parent])


@PROPS
@given(pick=st.integers(0, 446), which=st.integers(0, 20))
def test_property_random_merge_of_adjacent_pair(demo, pick, which):
    grids, _, _ = demo
    micro = grids[grids["level"] == "micro"]
    row = micro.iloc[pick]
    sib = micro[(micro["parent_code"] == row["parent_code"]) & (micro["code"] != row["code"])]
    adjacent = sib[border_deg(sib, row.geometry) > 1e-5]
    assume(len(adjacent) > 0)
    other = adjacent["code"].iloc[which % len(adjacent)]
    result = ge.merge(grids, [row["code"], other])
    keep = min(row["code"], other)
    assert area_of(result.grids, keep) == pytest.approx(
        area_of(grids, row["code"]) + area_of(grids, other), abs=0.5
    )
    hh = attr(grids, row["code"], "households") + attr(grids, other, "households")
    assert attr(result.grids, keep, "households") == hh
    assert validate_hierarchy(result.grids).errors == 0


@pytest.fixture(scope="module")
def restore_engine(tmp_path_factory):
    eng = store.open_store(str(tmp_path_factory.mktemp("restore") / "restore.db"))
    yield eng
    eng.dispose()


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    x_cut=st.floats(0.001, 0.009),
    y_top=st.floats(0.0015, 0.0045),
    op=st.sampled_from(["reshape", "split", "merge"]),
)
def test_property_restore_returns_exact_earlier_geometry(
    restore_engine, tiny_grids, x_cut, y_top, op
):
    grids = tiny_grids.assign(kind=None, version=1)
    load(restore_engine, grids)
    loaded = store.read_grids(restore_engine)
    if op == "reshape":  # P101 takes part of P102, or gives part to it
        result = ge.reshape(loaded, P101, box(0, 0, x_cut * 0.5 + 0.0025, 0.005))
    elif op == "split":
        line = shapely.LineString([(X0 - 0.001, Y0 + y_top), (X0 + 0.006, Y0 + y_top)])
        result = ge.split(loaded, P101, line)
    else:
        result = ge.merge(loaded, [P101, P102])
    if result.is_noop:
        return
    ge.save_edit(restore_engine, result, user="a", reason=op)
    ge.restore_version(restore_engine, P101, 1, user="b", reason="undo")
    back = store.read_grids(restore_engine)
    assert sorted(back["code"]) == sorted(loaded["code"])
    for code in loaded["code"]:
        assert shapely.to_wkb(geom_of(back, code)) == shapely.to_wkb(geom_of(loaded, code))
