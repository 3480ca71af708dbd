"""``gridlens tracks import``, ``coverage`` and ``gaps`` on the demo database and on files.

Numbers are checked against the library run step by step here (read, clean, interpolate,
presence; incident counts by point-in-polygon and Gi* from ``gis.hotspots``) and, for street
coverage, against exact buffer-and-intersect on the streets clipped to each micro-grid.
"""

from __future__ import annotations

import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from gis import hotspots, patrol, store
from gis.cli import main
from gis.grids import assign_points

DAY = pd.Timestamp("2026-10-31")  # the demo's one track day in the tests


@pytest.fixture(scope="module")
def engine(demo_db):
    eng = store.open_store(demo_db)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def reference(engine):
    """The pipeline the CLI runs, done by hand: fixes -> clean -> samples."""
    grids = store.read_grids(engine)
    fixes = store.read_fixes(engine)
    clean = patrol.clean_fixes(fixes, district=grids[grids["level"] == "l1"])
    samples = patrol.interpolate(clean.fixes, step_s=15)
    return {"grids": grids, "clean": clean, "samples": samples}


@pytest.fixture
def db_copy(demo_db, tmp_path):
    path = tmp_path / "copy.db"
    shutil.copy(demo_db, path)
    return str(path)


def _walk_csv(engine, path, *, staff: str, shift_days: int = 1) -> pd.DataFrame:
    """One demo track moved ``shift_days`` later under a new staff code, plus five bad rows."""
    fixes = store.read_fixes(engine)
    grids = store.read_grids(engine, level="l1")
    res = patrol.clean_fixes(fixes, district=grids)
    # a track the cleaning keeps whole, in one piece
    spoilt = set(fixes.loc[res.dropped.index, "track_code"])
    pieces = res.fixes.groupby("track_code")["track_id"].nunique()
    code = sorted(set(pieces.index[pieces == 1]) - spoilt)[0]
    one = fixes[fixes["track_code"] == code].sort_values("t")
    table = pd.DataFrame(
        {
            "工号": staff,
            "定位时间": (one["t"] + pd.Timedelta(days=shift_days)).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "经度": one.geometry.x.round(7),
            "纬度": one.geometry.y.round(7),
        }
    ).reset_index(drop=True)
    bad = pd.DataFrame(
        [
            [staff, "", 112.93, 35.80],  # no time
            [staff, table["定位时间"].iloc[5], table["经度"].iloc[5], table["纬度"].iloc[5]],
            [staff, "2026-11-01 23:59:00", 116.40, 39.90],  # Beijing: outside the district
            [staff, "2026-11-01 23:59:30", "", ""],  # no coordinates
        ],
        columns=table.columns,
    )
    out = pd.concat([table, bad], ignore_index=True)
    out.to_csv(path, index=False, encoding="utf-8-sig")
    return table


def test_tracks_import_accounts_for_every_fix_and_is_idempotent(db_copy, tmp_path, capsys):
    eng = store.open_store(db_copy)
    src = tmp_path / "walk.csv"
    walk = _walk_csv(eng, src, staff="X001")
    total = len(walk) + 4
    before = store.summary(eng)
    dropped_csv = tmp_path / "dropped.csv"
    args = ["tracks", "import", str(src), "--db", db_copy, "--dropped-out", str(dropped_csv)]
    assert main(args) == 0
    out = capsys.readouterr().out
    imported = len(walk)  # the walk whole; the repeated fix is the duplicate
    line = f"{imported} imported + 4 rejected = {total} total"
    assert line in out, out
    for reason in ("no time", "duplicate", "outside district", "no coordinates"):
        assert reason in out
    dropped = pd.read_csv(dropped_csv)
    assert len(dropped) == 4 and dropped["reason"].notna().all()
    assert sorted(dropped["row"]) == [len(walk) + k for k in (1, 2, 3, 4)]
    assert set(dropped["reason"]) == {"no time", "duplicate", "outside district", "no coordinates"}
    after = store.summary(eng)
    assert after["patrol_fixes"] - before["patrol_fixes"] == imported
    assert after["patrol_tracks"] - before["patrol_tracks"] == 1
    fixes = store.read_fixes(eng, staff="X001")
    assert len(fixes) == imported
    assert (
        fixes["track_code"].iloc[0]
        == f"X001/{pd.Timestamp(walk['定位时间'].iloc[0]):%Y%m%dT%H%M%S}"
    )
    assert fixes["t"].min() == pd.Timestamp(walk["定位时间"].iloc[0])
    with eng.connect() as conn:
        batch = conn.execute(
            sa.text("SELECT kind, total, imported, rejected FROM import_batches ORDER BY id DESC")
        ).first()
    assert tuple(batch) == ("tracks", total, imported, 4)

    # the same file again adds nothing: every kept fix is already in the store
    assert main(["tracks", "import", str(src), "--db", db_copy]) == 0
    out = capsys.readouterr().out
    assert f"0 imported + {total} rejected = {total} total" in out
    assert f"{patrol.ALREADY_IMPORTED}: {imported}" in out
    assert store.summary(eng)["patrol_fixes"] == after["patrol_fixes"]
    eng.dispose()


def test_tracks_import_gpx_with_staff_and_walking_limit(db_copy, tmp_path, capsys):
    eng = store.open_store(db_copy)
    t0 = pd.Timestamp("2026-11-02 01:00:00")  # UTC: 09:00 in Shanghai
    pts = "".join(
        f'<trkpt lat="35.8000" lon="{112.9300 + k * 0.0001:.4f}"><time>'
        f"{t0 + pd.Timedelta(seconds=10 * k):%Y-%m-%dT%H:%M:%SZ}</time></trkpt>"
        for k in range(30)
    )
    # a 9 m step every 10 s is 0.9 m/s; then one fix 300 m off: a spike
    spike = (
        f'<trkpt lat="35.8027" lon="112.9330"><time>{t0 + pd.Timedelta(seconds=300):%Y-%m-%dT%H:%M:%SZ}'
        "</time></trkpt>"
    )
    end = (
        f'<trkpt lat="35.8000" lon="112.9331"><time>{t0 + pd.Timedelta(seconds=310):%Y-%m-%dT%H:%M:%SZ}'
        "</time></trkpt>"
    )
    gpx = (
        '<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
        f"<trk><name>phone</name><trkseg>{pts}{spike}{end}</trkseg></trk></gpx>"
    )
    path = tmp_path / "walk.gpx"
    path.write_text(gpx)
    args = ["tracks", "import", str(path), "--db", db_copy, "--staff", "X002"]
    assert main([*args, "--max-speed-mps", "2.5"]) == 0
    out = capsys.readouterr().out
    assert "31 imported + 1 rejected = 32 total (impossible jump: 1)" in out
    fixes = store.read_fixes(eng, staff=["X002"])
    assert len(fixes) == 31
    assert fixes["t"].min() == pd.Timestamp("2026-11-02 09:00:00")
    assert set(store.read_table(eng, "patrol_tracks").query("staff_code == 'X002'")["shift"]) == {
        "morning"
    }
    eng.dispose()


def test_coverage_by_micro_grid_matches_the_library(demo_db, reference, tmp_path, capsys):
    out = tmp_path / "cov.csv"
    assert main(["coverage", "--db", demo_db, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert reference["clean"].summary_line() in printed
    table = pd.read_csv(out, dtype={"unit_id": str}, parse_dates=["last_visit"])
    assert list(table.columns) == list(patrol.COVERAGE_COLUMNS)
    grids = reference["grids"]
    assert sorted(table["unit_id"]) == sorted(grids.loc[grids["level"] == "micro", "code"])
    pres = patrol.presence(reference["samples"], grids, start=DAY, end=DAY + pd.Timedelta(days=1))
    merged = table.merge(pres, on="unit_id", suffixes=("", "_lib"))
    assert len(merged) == 447
    assert (merged["visits"] == merged["visits_lib"]).all()
    np.testing.assert_allclose(merged["dwell_s"], merged["dwell_s_lib"], atol=1e-6)
    np.testing.assert_allclose(merged["max_gap_s"], merged["max_gap_s_lib"], atol=1e-6)
    seen = merged["last_visit_lib"].notna()
    assert (
        (merged.loc[seen, "last_visit"] - merged.loc[seen, "last_visit_lib"]).abs()
        < pd.Timedelta(milliseconds=1)
    ).all()
    assert merged.loc[~seen, "last_visit"].isna().all()
    assert (merged.loc[~seen, "max_gap_s"] == 86400.0).all()
    # the sum of dwell is the tracks' time inside micro-grids: at most the total track time
    track_s = (
        reference["clean"]
        .fixes.groupby("track_id")["t"]
        .agg(lambda t: (t.max() - t.min()).total_seconds())
        .sum()
    )
    assert 0.97 * track_s <= table["dwell_s"].sum() <= track_s + 1e-6


def test_covered_share_matches_exact_clipping(demo_db, engine, reference, tmp_path):
    out = tmp_path / "cov.csv"
    assert main(["coverage", "--db", demo_db, "--out", str(out)]) == 0
    table = pd.read_csv(out, dtype={"unit_id": str}).set_index("unit_id")
    assert table["covered_share"].between(0, 1).all() or table["covered_share"].isna().any()
    streets = store.read_frame(engine, "streets")
    grids = reference["grids"]
    micro = grids[grids["level"] == "micro"].set_index("code")
    segs = patrol.segments(reference["clean"].fixes)
    lines = shapely.union_all(streets.geometry.to_numpy())
    length = shapely.length(shapely.intersection(micro.geometry.to_numpy(), lines))
    # a micro-grid without streets has no covered share
    none = micro.index[length == 0]
    assert table.loc[none, "covered_share"].isna().all()
    # exact reference on the 15 grids with the most street: buffer-union of the track
    # segments intersected with the streets clipped to the grid
    top = micro.index[np.argsort(-length)[:15]]
    for code in top:
        clipped = shapely.intersection(micro.loc[code, "geometry"], lines)
        parts = gpd.GeoDataFrame(
            geometry=[g for g in shapely.get_parts(clipped) if g.geom_type == "LineString"],
            crs=4326,
        )
        near = segs[segs.intersects(micro.loc[code, "geometry"].buffer(0.001))]
        ref = patrol.street_coverage_buffer_union(parts, near).covered_share
        assert table.loc[code, "covered_share"] == pytest.approx(ref, abs=0.03), code


def test_coverage_by_streets_and_shift(demo_db, engine, reference, tmp_path):
    out = tmp_path / "streets.csv"
    assert main(["coverage", "--db", demo_db, "--by", "streets", "--out", str(out)]) == 0
    table = pd.read_csv(out, dtype={"unit_id": str}).set_index("unit_id")
    streets = store.read_frame(engine, "streets")
    assert len(table) == len(streets)
    segs = patrol.segments(reference["clean"].fixes)
    ref = patrol.street_coverage(streets, segs).streets
    ref.index = ref["street_id"].astype(str)
    np.testing.assert_allclose(table["covered_share"], ref.loc[table.index, "covered_share"])

    # a shift: only the time between 09:00 and 17:00 counts (the morning patrols)
    out = tmp_path / "shift.csv"
    args = ["coverage", "--db", demo_db, "--shift", "09:00-17:00", "--out", str(out)]
    assert main(args) == 0
    table = pd.read_csv(out, dtype={"unit_id": str}).set_index("unit_id")
    s = reference["samples"]
    hour = (s["t"] - s["t"].dt.normalize()) / pd.Timedelta(hours=1)
    morning = s[(hour >= 9) & (hour < 17)]
    unit = patrol.assign_units(morning, reference["grids"])
    w = pd.Series(morning["w_s"].to_numpy()).groupby(pd.Series(unit)).sum()
    np.testing.assert_allclose(table.loc[w.index, "dwell_s"], w.to_numpy(), atol=1e-6)
    assert table.drop(index=w.index)["dwell_s"].eq(0).all()
    unvisited = table["visits"] == 0
    assert (table.loc[unvisited, "max_gap_s"] == 8 * 3600).all()


def test_coverage_on_files_equals_the_database(demo_db, engine, tmp_path):
    grids = store.read_grids(engine)
    grid_file = tmp_path / "grids.gpkg"
    grids[["code", "name", "level", "parent_code", "geometry"]].to_file(grid_file)
    fixes = store.read_fixes(engine)
    track_file = tmp_path / "tracks.csv"
    pd.DataFrame(
        {
            "staff_code": fixes["staff_code"],
            "track_code": fixes["track_code"],
            "time": fixes["t"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "lon": fixes.geometry.x,
            "lat": fixes.geometry.y,
        }
    ).to_csv(track_file, index=False)
    from_db, from_files = tmp_path / "db.csv", tmp_path / "files.csv"
    assert main(["coverage", "--db", demo_db, "--by", "h3:11", "--out", str(from_db)]) == 0
    files = ["--tracks", str(track_file), "--grids", str(grid_file)]
    # no --db: nothing is read from a database (GRIDLENS_DB points at the demo anyway)
    assert main(["coverage", *files, "--by", "h3:11", "--out", str(from_files)]) == 0
    a = pd.read_csv(from_db).drop(columns="covered_share")
    b = pd.read_csv(from_files)
    assert b["covered_share"].isna().all()  # no --streets: no street coverage
    pd.testing.assert_frame_equal(a, b.drop(columns="covered_share"), check_exact=False)
    assert (a["visits"] > 0).sum() > 1000


def test_gaps_rank_with_risk_from_hotspots(demo_db, engine, reference, tmp_path, capsys):
    out, staff_out = tmp_path / "gaps.csv", tmp_path / "staff.csv"
    args = ["gaps", "--db", demo_db, "--out", str(out), "--staff-out", str(staff_out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    gaps = pd.read_csv(out, dtype={"unit_id": str})
    assert list(gaps["rank"]) == list(range(1, 448))
    assert gaps["gap_score"].is_monotonic_decreasing
    assert gaps["reason_zh"].str.len().gt(0).all() and gaps["reason_en"].str.len().gt(0).all()
    # risk: incidents of the same day per micro-grid (point in polygon) and Gi* on them
    grids = reference["grids"]
    inc = store.read_incidents(engine, DAY, DAY + pd.Timedelta(days=1))
    micro = assign_points(inc.geometry, grids)["micro"].value_counts()
    units = hotspots.grid_units(grids, "micro")
    counts = micro.reindex(units["unit_id"]).fillna(0).to_numpy()
    W = hotspots.queen_weights(units.geometry)
    gi = hotspots.gi_star(counts, W)
    ref = pd.DataFrame(
        {"risk": counts / units["area_km2"].to_numpy(), "gi_bin": gi.bins},
        index=units["unit_id"],
    )
    g = gaps.set_index("unit_id")
    np.testing.assert_allclose(g["risk"], ref.loc[g.index, "risk"], rtol=1e-9)
    assert (g["gi_bin"] == ref.loc[g.index, "gi_bin"]).all()
    hot = g[g["gi_bin"] == 3]
    assert len(hot) and hot["reason_en"].str.startswith("99 % hotspot").all()
    # the planted neglected micro-grids were not visited: said in words
    truth = store.get_meta(engine, "demo_truth")
    neglected = g.loc[truth["neglected_micro_codes"]]
    assert (neglected["visits"] == 0).all()
    assert neglected["reason_en"].str.endswith("no visit in 1 day").all()
    assert neglected["reason_zh"].str.endswith("1天无人巡查").all()
    assert "micro-grids with no visit in the period" in printed
    staff = pd.read_csv(staff_out, dtype={"unit_id": str, "grid_code": str})
    assert set(truth["neglected_micro_codes"]) <= set(staff["unit_id"])

    # top N, one category, H3 cells
    out = tmp_path / "h3.csv"
    args = ["gaps", "--db", demo_db, "--by", "h3:11", "--category", "05-04", "--top", "25"]
    assert main([*args, "--out", str(out)]) == 0
    h3gaps = pd.read_csv(out)
    assert len(h3gaps) == 25 and list(h3gaps["rank"]) == list(range(1, 26))
    assert (h3gaps["category"].dropna() == "05-04").all()
    assert h3gaps["reason_en"].str.contains("shop encroachment").any()


def test_errors_are_one_line(demo_db, tmp_path, capsys):
    assert main(["gaps", "--db", demo_db, "--by", "streets", "--out", str(tmp_path / "g.csv")])
    err = capsys.readouterr().err
    assert err.startswith("gridlens: error: ") and len(err.strip().splitlines()) == 1
    args = ["coverage", "--db", demo_db, "--shift", "9-5pm", "--out", str(tmp_path / "c.csv")]
    assert main(args) == 1
    assert "invalid" in capsys.readouterr().err
    args = ["coverage", "--db", demo_db, "--start", "2020-01-01", "--end", "2020-01-02"]
    assert main([*args, "--out", str(tmp_path / "c.csv")]) == 1
    assert "no patrol fixes" in capsys.readouterr().err
    assert main(["tracks", "import", str(tmp_path / "missing.csv"), "--db", demo_db]) == 1
    assert "no such file" in capsys.readouterr().err
