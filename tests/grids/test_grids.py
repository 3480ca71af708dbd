"""The grid hierarchy (issue 4, library part A): validation, codes, point assignment, files."""

from __future__ import annotations

import gzip

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gis import store
from gis.cli import main
from gis.core.crs import areas_m2
from gis.core.errors import InputError
from gis.grids import (
    OUTSIDE,
    GridImportRefused,
    GridIndex,
    SequenceFullError,
    assign_points,
    assign_points_at,
    export_grids,
    grid_code,
    import_grids,
    next_free_codes,
    number_children,
    parse_code,
    validate_grid_file,
    validate_hierarchy,
)
from gis.io import read_geo_file

L1A, L1B = "140581001001000", "140581001002000"
L2A1, L2A2 = "140581001001100", "140581001001200"
MA11, MA12 = "140581001001101", "140581001001102"  # west, east micro-grids of L2A1


def _set(grids: gpd.GeoDataFrame, code: str, geom) -> gpd.GeoDataFrame:
    out = grids.copy()
    out.loc[out["code"] == code, "geometry"] = shapely.multipolygons(shapely.get_parts(geom))
    return out


def _geom(grids: gpd.GeoDataFrame, code: str):
    return grids.loc[grids["code"] == code].geometry.iloc[0]


def _kinds(report) -> dict[str, int]:
    return report.counts()


def _m2(geom) -> float:
    return float(areas_m2(gpd.GeoSeries([geom], crs=4326))[0])


# ---------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------
def test_clean_hierarchy_has_no_problem(tiny_grids):
    report = validate_hierarchy(tiny_grids)
    assert report.ok and report.errors == 0 and report.warnings == 0
    assert len(report.problems) == 0
    assert list(report.problems.columns) == [
        "kind",
        "severity",
        "codes",
        "message",
        "message_zh",
        "area_m2",
        "geometry",
        "repaired",
    ]
    assert report.problems.crs.to_epsg() == 4326
    assert report.text().startswith("Grid validation: 14 grids, 0 error(s), 0 warning(s)")


def test_bowtie_is_invalid_with_the_repair_offered(tiny_grids):
    x0, y0, x1, y1 = _geom(tiny_grids, MA11).bounds
    bowtie = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    grids = tiny_grids.copy()
    grids.loc[grids["code"] == MA11, "geometry"] = bowtie
    report = validate_hierarchy(grids)
    bad = report.problems[report.problems["kind"] == "invalid_geometry"]
    assert len(bad) == 1 and bad["severity"].iloc[0] == "error" and bad["codes"].iloc[0] == MA11
    fixed = bad["repaired"].iloc[0]
    assert fixed.is_valid and shapely.get_num_geometries(fixed) == 2  # two triangles
    assert fixed.area == pytest.approx(bowtie.envelope.area / 2)
    # the location is the self-intersection GEOS names: the centre of the bow tie
    assert bad.geometry.iloc[0].equals_exact(shapely.Point((x0 + x1) / 2, (y0 + y1) / 2), 1e-9)
    assert bad["area_m2"].iloc[0] == pytest.approx(_m2(fixed), rel=1e-6)
    # the half the bow tie leaves out is a gap in its level-2 grid
    gap = report.problems[report.problems["kind"] == "coverage_gap"]
    assert gap["codes"].tolist() == [L2A1]
    assert gap["area_m2"].iloc[0] == pytest.approx(_m2(fixed), rel=1e-3)


def test_child_sticking_out_of_its_parent(tiny_grids):
    x0, y0, x1, y1 = _geom(tiny_grids, MA11).bounds
    bump = shapely.box(x0 - 0.001, y0, x0, y1)  # west, beyond the district edge
    grids = _set(tiny_grids, MA11, shapely.union(_geom(tiny_grids, MA11), bump))
    report = validate_hierarchy(grids)
    out = report.problems[report.problems["kind"] == "outside_parent"]
    assert out["codes"].tolist() == [f"{MA11},{L2A1}"]
    assert out["severity"].iloc[0] == "error"
    assert out["area_m2"].iloc[0] == pytest.approx(_m2(bump), rel=1e-3)
    assert out.geometry.iloc[0].equals(shapely.multipolygons([bump]).normalize()) or (
        shapely.symmetric_difference(out.geometry.iloc[0], bump).area < 1e-12
    )
    assert "outside its parent" in out["message"].iloc[0]
    assert "超出上级网格" in out["message_zh"].iloc[0]
    assert report.errors == 1


def test_overlapping_siblings_and_the_gap_they_leave(tiny_grids):
    x0, y0, x1, y1 = _geom(tiny_grids, MA12).bounds
    shifted = shapely.box(x0 - 0.001, y0, x1 - 0.001, y1)  # 0.001 deg into its west sibling
    grids = _set(tiny_grids, MA12, shifted)
    report = validate_hierarchy(grids)
    kinds = _kinds(report)
    assert kinds == {"coverage_gap:error": 1, "sibling_overlap:error": 1}
    overlap = report.problems[report.problems["kind"] == "sibling_overlap"].iloc[0]
    assert overlap["codes"] == f"{MA11},{MA12}"
    expected = shapely.intersection(shifted, _geom(tiny_grids, MA11))
    assert overlap["area_m2"] == pytest.approx(_m2(expected), rel=1e-3)
    gap = report.problems[report.problems["kind"] == "coverage_gap"].iloc[0]
    assert gap["codes"] == L2A1
    assert gap["area_m2"] == pytest.approx(_m2(expected), rel=1e-3)  # the strip left east
    zh = report.text("zh")
    assert "同级网格重叠" in zh and "未被下级网格覆盖" in zh and "错误" in zh


def test_gap_inside_a_parent(tiny_grids):
    x0, y0, x1, y1 = _geom(tiny_grids, MA11).bounds
    hole = shapely.box(x0 + 0.001, y0 + 0.001, x0 + 0.002, y0 + 0.002)
    grids = _set(tiny_grids, MA11, shapely.difference(_geom(tiny_grids, MA11), hole))
    report = validate_hierarchy(grids)
    assert _kinds(report) == {"coverage_gap:error": 1}
    gap = report.problems.iloc[0]
    assert gap["codes"] == L2A1 and gap["area_m2"] == pytest.approx(_m2(hole), rel=1e-3)
    assert shapely.symmetric_difference(gap.geometry, hole).area < 1e-14


def test_slivers_are_warnings_by_area_or_width(tiny_grids):
    x0, y0, x1, y1 = _geom(tiny_grids, MA12).bounds
    # a 1e-6 deg (~0.1 m) wide strip along the whole shared edge: thin, so a sliver
    thin = shapely.box(x0 - 1e-6, y0, x1, y1)
    report = validate_hierarchy(_set(tiny_grids, MA12, thin))
    assert report.ok and _kinds(report) == {"sliver:warning": 1}
    assert "sliver overlap" in report.problems["message"].iloc[0]
    assert report.problems["area_m2"].iloc[0] == pytest.approx(
        _m2(shapely.box(x0 - 1e-6, y0, x0, y1)), rel=1e-2
    )
    # a small square notch (5 m x 5 m, wide) is a sliver below 50 m² but an error above 20 m²
    d = 5 / 111_000
    notch = shapely.box(x0 - d, y0 + 0.001, x0, y0 + 0.001 + d)
    grids = _set(tiny_grids, MA12, shapely.union(_geom(tiny_grids, MA12), notch))
    assert _kinds(validate_hierarchy(grids)) == {"sliver:warning": 1}
    strict = validate_hierarchy(grids, sliver_m2=20.0)
    assert _kinds(strict) == {"sibling_overlap:error": 1}


def test_orphans_and_wrong_parent_levels(tiny_grids):
    grids = tiny_grids.copy()
    grids.loc[grids["code"] == MA11, "parent_code"] = "140581001009100"  # not a grid
    grids.loc[grids["code"] == MA12, "parent_code"] = L1A  # a level-1 grid, not level-2
    grids.loc[grids["code"] == L1B, "parent_code"] = L1A  # level-1 grids have no parent
    grids.loc[grids["code"] == L2A2, "parent_code"] = None
    orphans = validate_hierarchy(grids).problems.query("kind == 'orphan'")
    assert set(orphans["codes"]) == {
        f"{MA11},140581001009100",
        f"{MA12},{L1A}",
        f"{L1B},{L1A}",
        L2A2,
    }
    assert (orphans["severity"] == "error").all()
    # a level-1 grid may name a street code outside the hierarchy: only a warning
    street = tiny_grids.copy()
    street.loc[street["code"] == L1A, "parent_code"] = "140581001"
    report = validate_hierarchy(street)
    assert report.ok and _kinds(report) == {"orphan:warning": 1}


def test_duplicate_and_malformed_codes(tiny_grids):
    grids = pd.concat([tiny_grids, tiny_grids[tiny_grids["code"] == MA11]], ignore_index=True)
    report = validate_hierarchy(grids)
    dup = report.problems.query("kind == 'duplicate_code'")
    assert dup["codes"].tolist() == [MA11] and report.errors >= 1
    bad = tiny_grids.copy()
    bad.loc[bad["code"] == MA12, "code"] = "14058100100110"  # legacy length under a 15-digit l2
    bad.loc[bad["code"] == "140581001002101", "code"] = "140581001001199"  # wrong community
    bad.loc[bad["code"] == "140581001002102", "code"] = "12345"
    malformed = validate_hierarchy(bad).problems.query("kind == 'malformed_code'")
    assert set(malformed["codes"]) == {
        "14058100100110,140581001001100",
        "140581001001199,140581001002100",
        "12345",
    }
    assert (
        validate_hierarchy(bad, code_format=None).problems.query("kind == 'malformed_code'").empty
    )


def test_foreign_codes_are_not_format_checked(tiny_grids):
    grids = tiny_grids.copy()
    mapping = {c: f"{i:04d}" for i, c in enumerate(grids["code"])}
    grids["code"] = grids["code"].map(mapping)
    grids["parent_code"] = grids["parent_code"].map(mapping)
    report = validate_hierarchy(grids)
    assert report.ok and len(report.problems) == 0
    forced = validate_hierarchy(grids, code_format="gb")
    assert (forced.problems["kind"] == "malformed_code").sum() == len(grids)


def test_dedicated_grids_may_overlap_regular_ones_but_not_leave_their_parent(tiny_grids):
    cx, cy = _geom(tiny_grids, MA11).bounds[2:]  # a corner shared by four micro-grids
    inside = shapely.box(cx - 0.001, cy - 0.001, cx + 0.001, cy + 0.001)
    ded = gpd.GeoDataFrame(
        {"code": ["140581001001901"], "level": ["dedicated"], "parent_code": [L1A]},
        geometry=[shapely.multipolygons([inside])],
        crs=4326,
    )
    report = validate_hierarchy(pd.concat([tiny_grids, ded], ignore_index=True))
    assert len(report.problems) == 0
    x1 = _geom(tiny_grids, L1A).bounds[2]
    out = ded.assign(
        geometry=[shapely.multipolygons([shapely.box(x1 - 0.001, cy, x1 + 0.001, cy + 0.001)])]
    )
    report = validate_hierarchy(pd.concat([tiny_grids, out], ignore_index=True))
    assert _kinds(report) == {"outside_parent:error": 1}


def test_isolated_and_multipart_grids_are_warnings(tiny_grids):
    island = gpd.GeoDataFrame(
        {"code": ["140581001003000"], "level": ["l1"], "parent_code": [None]},
        geometry=[shapely.multipolygons([shapely.box(112.95, 35.79, 112.951, 35.791)])],
        crs=4326,
    )
    grids = pd.concat([tiny_grids, island], ignore_index=True)
    report = validate_hierarchy(grids)
    assert report.ok
    assert report.problems.query("kind == 'isolated'")["codes"].tolist() == ["140581001003000"]
    two = shapely.union(_geom(tiny_grids, L1A), shapely.box(112.95, 35.79, 112.951, 35.791))
    report = validate_hierarchy(_set(tiny_grids, L1A, two))
    assert "multipart:warning" in _kinds(report)


def test_demo_district_validates_without_errors(demo_small):
    report = validate_hierarchy(demo_small.grids)
    assert report.errors == 0, report.text()
    assert report.n_grids == 447 + 46 + 15 + 15
    # what it does report: dedicated grids snapped to the 1 cm grid, a fraction of a m² out
    assert (report.problems["kind"] == "sliver").all()
    assert report.problems["area_m2"].max() < 1.0


# ---------------------------------------------------------------------------------------------
# codes
# ---------------------------------------------------------------------------------------------
def test_grid_codes_and_their_parts():
    assert grid_code(L1A, 3) == "140581001001300"
    assert grid_code("140581001001300", 12) == "140581001001312"
    assert grid_code(L1A, 2, dedicated=True) == "140581001001902"
    assert grid_code("140581001001", 7) == "140581001001007"
    assert grid_code("140581001001", 7, digits=14) == "14058100100107"
    assert grid_code("140581001", 4) == "140581001004000"
    assert grid_code("14058100100110", 3) == "14058100100113"  # legacy parent, legacy child
    assert parse_code("140581001002105") == {
        "county": "140581",
        "street": "001",
        "community": "002",
        "seq": "105",
        "digits": 15,
    }
    assert parse_code("14058100100213")["seq"] == "13"
    with pytest.raises(InputError):
        parse_code("12345")
    with pytest.raises(InputError):
        grid_code(MA11, 1)  # a micro-grid's code has no room for children


def test_sequence_overflow_is_an_error_not_a_wrap():
    assert grid_code(L2A1, 99) == "140581001001199"
    with pytest.raises(SequenceFullError, match="顺序码已满"):
        grid_code(L2A1, 100)
    with pytest.raises(InputError, match="sequence full"):
        grid_code(L1A, 9)  # level-2 digit 9 is kept for dedicated grids
    used = [grid_code(L2A1, s) for s in range(1, 98)]
    assert next_free_codes(used, L2A1, 2) == ["140581001001198", "140581001001199"]
    with pytest.raises(SequenceFullError):
        next_free_codes(used, L2A1, 3)
    holes = [grid_code(L2A1, s) for s in (1, 2, 5)]
    assert next_free_codes(holes, L2A1, 2) == ["140581001001106", "140581001001107"]
    assert next_free_codes(holes, L2A1, 2, reuse=True) == ["140581001001103", "140581001001104"]
    assert next_free_codes(["140581001001901"], L1A, 1, dedicated=True) == ["140581001001902"]


def test_number_children_west_east_north_south():
    # three rows of two boxes, given in shuffled order
    boxes = {
        (r, c): shapely.box(
            112.90 + c * 0.002, 35.80 - r * 0.002, 112.902 + c * 0.002, 35.802 - r * 0.002
        )
        for r in range(3)
        for c in range(2)
    }
    order = [(2, 1), (0, 0), (1, 1), (0, 1), (2, 0), (1, 0)]
    children = gpd.GeoDataFrame(geometry=[boxes[k] for k in order], crs=4326, index=list("abcdef"))
    codes = number_children(children, L2A1)
    expected = {(0, 0): 1, (0, 1): 2, (1, 0): 3, (1, 1): 4, (2, 0): 5, (2, 1): 6}
    assert codes.to_dict() == {
        i: grid_code(L2A1, expected[k]) for i, k in zip("abcdef", order, strict=True)
    }
    assert number_children(children, L2A1, start=94).str[-2:].tolist() == [
        str(93 + expected[k]) for k in order
    ]
    with pytest.raises(SequenceFullError):
        number_children(children, L2A1, start=95)


def test_number_children_reproduces_every_demo_code(demo_small):
    grids = demo_small.grids
    for level in ("l2", "micro", "dedicated"):
        kids = grids[grids["level"] == level]
        for parent, group in kids.groupby("parent_code"):
            codes = number_children(group, parent, dedicated=level == "dedicated")
            assert (codes == group["code"]).all(), parent


# ---------------------------------------------------------------------------------------------
# point assignment
# ---------------------------------------------------------------------------------------------
def _rule_reference(x: np.ndarray, y: np.ndarray, grids: gpd.GeoDataFrame) -> np.ndarray:
    """Brute force of the documented rule: the smallest code among micro-grids touching."""
    micro = grids[grids["level"] == "micro"].sort_values("code")
    hits = shapely.intersects_xy(micro.geometry.to_numpy()[:, None], x[None, :], y[None, :])
    first = np.where(hits.any(axis=0), hits.argmax(axis=0), -1)
    return np.where(first >= 0, micro["code"].to_numpy()[np.maximum(first, 0)], OUTSIDE)


def _sjoin_single(x, y, polys: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """sjoin(within) code per point and a mask of the points it gives exactly one grid."""
    pts = gpd.GeoDataFrame(geometry=shapely.points(x, y), crs=polys.crs)
    joined = gpd.sjoin(pts, polys[["code", "geometry"]], predicate="within", how="inner")
    n = joined.index.value_counts().reindex(range(len(x)), fill_value=0).to_numpy()
    code = joined[~joined.index.duplicated()]["code"].reindex(range(len(x))).to_numpy()
    return code, n == 1


_EDGES_X = [112.90, 112.905, 112.91, 112.915, 112.92]
_EDGES_Y = [35.79, 35.795, 35.80]
coord_x = st.one_of(
    st.floats(112.895, 112.925), st.sampled_from(_EDGES_X), st.sampled_from(_EDGES_X)
)
coord_y = st.one_of(st.floats(35.785, 35.805), st.sampled_from(_EDGES_Y))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    xs=st.lists(coord_x, min_size=1, max_size=60), ys=st.lists(coord_y, min_size=60, max_size=60)
)
def test_assignment_matches_sjoin_and_the_edge_rule(tiny_grids, xs, ys):
    x = np.array(xs, dtype=float)
    y = np.array(ys[: len(xs)], dtype=float)
    out = assign_points((x, y), tiny_grids)
    micro = tiny_grids[tiny_grids["level"] == "micro"]
    code, single = _sjoin_single(x, y, micro)
    assert (out["micro"].to_numpy()[single] == code[single]).all()
    assert (out["micro"].to_numpy() == _rule_reference(x, y, tiny_grids)).all()
    inside = out["micro"] != OUTSIDE
    assert (out.loc[inside, "l2"].str[:13] == out.loc[inside, "micro"].str[:13]).all()
    assert (out.loc[~inside, ["l2", "l1"]] == OUTSIDE).all().all()


def test_assignment_of_the_demo_incidents_matches_sjoin(demo_small):
    grids = demo_small.grids
    inc = demo_small.incidents
    out = assign_points(inc.geometry, grids)
    assert out.index.equals(inc.index) and list(out.columns) == ["micro", "l2", "l1"]
    micro = grids[grids["level"] == "micro"]
    x, y = inc.geometry.x.to_numpy(), inc.geometry.y.to_numpy()
    code, single = _sjoin_single(x, y, micro)
    assert single.sum() > 160_000
    assert (out["micro"].to_numpy()[single] == code[single]).all()
    parent = dict(zip(grids["code"], grids["parent_code"], strict=True))
    assert (out["l2"] == out["micro"].map(parent)).all()
    assert (out["l1"] == out["l2"].map(parent)).all()
    # arrays in, the same answers; a cached index for the same grids
    assert (assign_points((x, y), grids)["micro"].to_numpy() == out["micro"].to_numpy()).all()


def test_outside_and_missing_points_are_kept(tiny_grids):
    pts = gpd.GeoSeries(
        [shapely.Point(0, 0), None, shapely.Point(112.901, 35.791), shapely.Point()],
        index=[10, 11, 12, 13],
        crs=4326,
    )
    out = assign_points(pts, tiny_grids)
    assert out.index.tolist() == [10, 11, 12, 13]
    assert out["micro"].tolist() == [OUTSIDE, OUTSIDE, MA11, OUTSIDE]
    index = GridIndex(tiny_grids)
    assert index.locate(np.array([np.nan, 112.901]), np.array([35.791, 35.791])).tolist() == [
        len(index.polys),
        0,
    ]


def test_assignment_to_the_finest_level_present(tiny_grids):
    two_levels = tiny_grids[tiny_grids["level"] != "micro"]
    out = assign_points((np.array([112.901, 112.3]), np.array([35.791, 35.0])), two_levels)
    assert list(out.columns) == ["l2", "l1"]
    assert out["l2"].tolist() == [L2A1, OUTSIDE]
    assert out["l1"].tolist() == [L1A, OUTSIDE]


def test_assignment_uses_the_grid_version_in_force(tiny_grids):
    grids = tiny_grids.assign(valid_from=pd.Timestamp("2025-01-01"), valid_to=pd.NaT)
    a, b = _geom(tiny_grids, MA11), _geom(tiny_grids, MA12)
    strip = shapely.box(a.bounds[2], a.bounds[1], a.bounds[2] + 0.001, a.bounds[3])
    change = pd.Timestamp("2026-01-01")
    new = grids[grids["code"].isin([MA11, MA12])].copy()
    new["geometry"] = [
        shapely.multipolygons([shapely.union(a, strip)]),
        shapely.multipolygons(shapely.get_parts(shapely.difference(b, strip))),
    ]
    new["valid_from"] = change
    grids.loc[grids["code"].isin([MA11, MA12]), "valid_to"] = change
    versions = pd.concat([grids, new], ignore_index=True)
    px, py = a.bounds[2] + 0.0005, (a.bounds[1] + a.bounds[3]) / 2  # in the strip that moved
    qx, qy = 112.915, 35.797  # elsewhere: never moves
    times = pd.to_datetime(
        ["2025-06-01 08:00", "2025-12-31 23:59:59", "2026-01-01 00:00", "2026-07-01 12:00", None],
        format="ISO8601",
    )
    n = len(times)
    out = assign_points_at(np.full(n, px), np.full(n, py), times, versions)
    assert out["micro"].tolist() == [MA12, MA12, MA11, MA11, MA11]
    other = assign_points_at(np.full(n, qx), np.full(n, qy), times, versions)
    assert other["micro"].nunique() == 1
    # the same through assign_points(at=...)
    pts = gpd.GeoSeries(shapely.points(np.full(n, px), np.full(n, py)), crs=4326)
    assert assign_points(pts, versions, at=times)["micro"].tolist() == out["micro"].tolist()
    assert assign_points(pts[:1], versions, at="2025-03-01")["micro"].tolist() == [MA12]


# ---------------------------------------------------------------------------------------------
# import / export
# ---------------------------------------------------------------------------------------------
def test_export_import_round_trip(engine, tiny_grids, tmp_path):
    for n, suffix in enumerate(["geojson", "gpkg", "shp", "csv", "xlsx"], start=1):
        path = export_grids(tiny_grids, tmp_path / f"grids.{suffix}")
        result = import_grids(engine, path)
        assert (result.imported, len(result.rejected), result.report.errors) == (14, 0, 0)
        # the same grids again from another format: unchanged, no new version (issue 19)
        assert result.closed == 0 and result.unchanged == (14 if n > 1 else 0), suffix
        back = store.read_grids(engine).set_index("code").loc[tiny_grids["code"]]
        parents = tiny_grids["parent_code"].fillna("").to_numpy()
        assert (back["parent_code"].fillna("") == parents).all(), suffix
        assert (back["level"] == tiny_grids["level"].to_numpy()).all(), suffix
        assert (back["households"] == tiny_grids["households"].to_numpy()).all(), suffix
        # Shapefile stores rings clockwise: compare normalised vertex lists
        assert shapely.equals_exact(
            shapely.normalize(back.geometry.to_numpy()),
            shapely.normalize(tiny_grids.geometry.to_numpy()),
            1e-12,
        ).all(), suffix
        again = export_grids(engine, tmp_path / f"again.{suffix}", level="micro")
        frame, _ = read_geo_file(again)
        assert len(frame) == 8 and set(frame["level"]) == {"micro"}, suffix
    assert store.count_rows(engine, "grids") == 14  # identical re-imports add no version


def test_import_from_a_projected_crs(tmp_path, tiny_grids):
    engine = store.open_store(str(tmp_path / "crs.db"))
    projected = tiny_grids.to_crs(4547)
    projected.to_file(tmp_path / "gk.gpkg")
    table = pd.DataFrame(projected.drop(columns="geometry"))
    table["wkt"] = shapely.to_wkt(projected.geometry.to_numpy(), rounding_precision=-1)
    table.to_csv(tmp_path / "gk.csv", index=False)
    import_grids(engine, tmp_path / "gk.gpkg")
    back = store.read_grids(engine).set_index("code").loc[tiny_grids["code"]]
    assert shapely.equals_exact(
        back.geometry.to_numpy(), tiny_grids.geometry.to_numpy(), 1e-9
    ).all()
    report, rejected = validate_grid_file(tmp_path / "gk.csv", crs="EPSG:4547")
    assert report.ok and len(rejected) == 0 and report.n_grids == 14
    engine.dispose()


def test_import_validates_before_writing(engine, tiny_grids, tmp_path):
    import_grids(engine, export_grids(tiny_grids, tmp_path / "ok.gpkg"))
    x0, y0, x1, y1 = _geom(tiny_grids, MA12).bounds
    bad = _set(tiny_grids, MA12, shapely.box(x0 - 0.001, y0, x1 - 0.001, y1))
    bad = bad[bad["code"] == MA12]  # one changed grid: merged with the current ones
    path = export_grids(bad, tmp_path / "bad.geojson")
    dry = import_grids(engine, path, check_only=True)
    assert not dry.written and dry.report.errors == 2 and "dry run" in dry.summary_line()
    with pytest.raises(GridImportRefused) as refused:
        import_grids(engine, path)
    assert isinstance(refused.value, InputError)
    assert "sibling_overlap" in str(refused.value) and "coverage_gap" in str(refused.value)
    assert store.count_rows(engine, "grids") == 14  # nothing written
    done = import_grids(engine, path, allow_errors=True)
    assert done.written and done.closed == 1 and store.count_rows(engine, "grids") == 15
    assert validate_hierarchy(store.read_grids(engine)).errors == 2


def test_cli_validate_and_import_report(tmp_path, tiny_grids, capsys):
    db = str(tmp_path / "v.db")
    assert main(["init", "--db", db]) == 0  # only init/demo create a database
    good = export_grids(tiny_grids, tmp_path / "g.gpkg")
    assert main(["grids", "import", str(good), "--db", db, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Grid validation: 14 grids, 0 error(s)" in out and "dry run" in out
    assert store.count_rows(store.open_store(db), "grids") == 0
    assert main(["grids", "import", str(good), "--db", db]) == 0
    assert main(["grids", "validate", "--db", db]) == 0
    assert "0 error(s)" in capsys.readouterr().out
    orphan = tiny_grids.copy()
    orphan.loc[orphan["code"] == MA11, "parent_code"] = "140581001001900"
    bad = export_grids(orphan, tmp_path / "bad.csv")
    assert main(["grids", "validate", "--file", str(bad), "--lang", "zh"]) == 1
    assert "上级网格缺失或不符" in capsys.readouterr().out
    assert main(["grids", "import", str(bad), "--db", db]) == 1
    captured = capsys.readouterr()
    assert "ERROR [orphan]" in captured.out and "import refused" in captured.err
    assert main(["grids", "import", str(bad), "--db", db, "--allow-errors"]) == 0
    assert main(["grids", "validate", "--db", db]) == 1


# ---------------------------------------------------------------------------------------------
# real data: Boston wards > precincts
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def boston(real_data, tmp_path_factory):
    """Boston's 22 wards (l1) and 255 precincts (l2) imported into a SpatiaLite file."""
    folder = real_data / "boston"
    engine = store.open_store(str(tmp_path_factory.mktemp("boston") / "b.db"))
    wards = import_grids(
        engine, folder / "boston_wards.geojson", mapping={"code": "WARD"}, level="l1"
    )
    precincts = folder / "boston_precincts.geojson"
    mapping = {"code": "WARD_PRECINCT", "parent_code": "WARD"}
    with pytest.raises(GridImportRefused) as refused:
        import_grids(engine, precincts, mapping=mapping, level="l2")
    imported = import_grids(engine, precincts, mapping=mapping, level="l2", allow_errors=True)
    yield engine, wards, refused.value, imported
    engine.dispose()


def test_boston_validation_names_what_the_real_data_has(boston):
    engine, wards, refused, imported = boston
    # wards alone: three self-intersecting rings, repaired on import (warnings), two wards with
    # no neighbouring ward (East Boston and Charlestown, across the water)
    assert wards.report.errors == 0
    assert set(wards.report.problems.query("kind == 'invalid_geometry'")["codes"]) == {
        "5",
        "16",
        "17",
    }
    assert set(wards.report.problems.query("kind == 'isolated'")["codes"]) == {"1", "2"}
    # precincts refused: precinct 0115 (harbour islands) lies wholly outside ward 1's polygon
    assert refused.report.errors == 1
    assert imported.imported == 255 and imported.written
    report = validate_hierarchy(store.read_grids(engine))
    problems = report.problems
    assert report.counts() == {
        "isolated:warning": 3,
        "multipart:warning": 6,
        "outside_parent:error": 1,
        "sliver:warning": 253,
    }
    outside = problems.query("kind == 'outside_parent'").iloc[0]
    assert outside["codes"] == "0115,1"
    assert outside["area_m2"] == pytest.approx(1.8848e6, rel=1e-3)
    assert set(problems.query("kind == 'isolated'")["codes"]) == {"0115", "1", "2"}
    assert set(problems.query("kind == 'multipart'")["codes"]) == {
        "0115",
        "0207",
        "0305",
        "1612",
        "2",
        "3",
    }
    # no overlap or gap between wards and precincts is more than a digitising sliver
    # (every piece narrower than 1.5 m): 178 precincts stick out of their ward by slivers
    # (104,025 m² in all, the largest 6,187 m² along precinct 0101), 53 pairs of siblings
    # overlap by slivers (2,728 m², 9 of them pairs of wards, 244 m²), and all 22 wards have
    # sliver gaps between their precincts (105,557 m², 12,613 m² in ward 1)
    slivers = problems.query("kind == 'sliver'")
    out = slivers[slivers["message"].str.contains("outside its parent")]
    over = slivers[slivers["message"].str.contains("overlap")]
    gaps = slivers[slivers["message"].str.contains("gap")]
    assert (len(out), len(over), len(gaps)) == (178, 53, 22)
    assert out["area_m2"].sum() == pytest.approx(104_025, rel=1e-2)
    assert over["area_m2"].sum() == pytest.approx(2_728, rel=1e-2)
    assert gaps["area_m2"].sum() == pytest.approx(105_557, rel=1e-2)
    assert gaps["area_m2"].max() == pytest.approx(12_613, rel=1e-2)
    assert "0101" in out.loc[out["area_m2"].idxmax(), "codes"]


def test_boston_parking_reports_assigned_like_geopandas(boston, real_data):
    engine = boston[0]
    grids = store.read_grids(engine)
    with gzip.open(real_data / "boston" / "boston311_illegal_parking_2008_2019.csv.gz") as f:
        reports = pd.read_csv(f, usecols=["lat", "long"])
    assert len(reports) == 131_367
    x, y = reports["long"].to_numpy(float), reports["lat"].to_numpy(float)
    out = assign_points((x, y), grids)
    assert list(out.columns) == ["l2", "l1"]
    precincts = grids[grids["level"] == "l2"]
    ok = np.isfinite(x) & np.isfinite(y)
    code = np.full(len(x), None, dtype=object)
    single = np.zeros(len(x), dtype=bool)
    code[ok], single[ok] = _sjoin_single(x[ok], y[ok], precincts)
    assert single.sum() > 120_000
    assert (out["l2"].to_numpy()[single] == code[single]).all()
    assert (out["l2"].to_numpy()[~ok] == OUTSIDE).all()
