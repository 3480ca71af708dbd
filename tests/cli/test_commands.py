"""The command line: round trips through files, and one clear line for every error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gis import store
from gis.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m gis`` in a subprocess, as a person would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "gis", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=full_env,
        timeout=300,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("gridlens: error: ")
    for needle in needles:
        assert needle in lines[0]


def test_init_and_status(tmp_path, capsys):
    db = str(tmp_path / "g.db")
    assert main(["init", "--db", db]) == 0
    assert "taxonomy classes" in capsys.readouterr().out
    assert main(["status", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "spatialite" in out and store.migrate.head() in out


def test_env_var_selects_database(tmp_path):
    db = tmp_path / "from_env.db"
    proc = run_cli("init", env={"GRIDLENS_DB": str(db)})
    assert proc.returncode == 0, proc.stderr
    assert db.exists()


def test_unreachable_server_is_one_line():
    proc = run_cli("status", "--db", "postgresql://nobody@127.0.0.1:1/none")
    assert_one_line_error(proc, "cannot connect", "127.0.0.1")


def test_file_that_is_not_a_database(tmp_path):
    bad = tmp_path / "not.db"
    bad.write_text("this is a spreadsheet, honest\n" * 100)
    assert_one_line_error(run_cli("status", "--db", str(bad)), "not a SQLite database")


def test_missing_spatialite_names_the_package(tmp_path):
    proc = run_cli(
        "init",
        "--db",
        str(tmp_path / "x.db"),
        env={"SPATIALITE_LIBRARY_PATH": str(tmp_path / "nowhere" / "mod_spatialite")},
    )
    assert_one_line_error(proc, "libsqlite3-mod-spatialite")


def test_unsupported_url_and_bad_files(tmp_path):
    assert_one_line_error(run_cli("status", "--db", "mysql://x@localhost/db"), "unsupported")
    db = str(tmp_path / "g.db")
    # a database that does not exist is refused before the file is read (issue 19: --db typo)
    assert_one_line_error(
        run_cli("grids", "import", str(tmp_path / "missing.geojson"), "--db", db), "no database"
    )
    assert run_cli("init", "--db", db).returncode == 0
    assert_one_line_error(
        run_cli("grids", "import", str(tmp_path / "missing.geojson"), "--db", db), "no such file"
    )
    junk = tmp_path / "junk.geojson"
    junk.write_text("{not json")
    assert_one_line_error(run_cli("grids", "import", str(junk), "--db", db), "cannot read")
    nogeo = tmp_path / "nogeo.csv"
    nogeo.write_text("a,b\n1,2\n")
    assert_one_line_error(
        run_cli("incidents", "import", str(nogeo), "--db", db), "no coordinate columns"
    )


@pytest.mark.postgis
def test_database_without_postgis_rights(pg_url):
    import sqlalchemy as sa

    url = sa.engine.make_url(pg_url).set(drivername="postgresql+psycopg2")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    # the server is shared (xdist workers, other checkouts' runs): a database of this session's
    # own, and the role created by whichever session gets there first
    name = f"{url.database}_nopostgis"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        conn.execute(
            sa.text(
                "DO $$ BEGIN CREATE ROLE gl_weak LOGIN; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            )
        )
    try:
        weak = url.set(username="gl_weak", password=None, database=name)
        proc = run_cli("status", "--db", weak.render_as_string(hide_password=False))
        assert_one_line_error(proc, "PostGIS", "postgresql-15-postgis-3")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def test_grids_round_trip_through_files(tmp_path, tiny_grids, capsys):
    db = str(tmp_path / "g.db")
    assert main(["init", "--db", db]) == 0  # only init/demo create a database
    src = tmp_path / "grids.gpkg"
    tiny_grids.to_file(src)
    assert main(["grids", "import", str(src), "--db", db]) == 0
    assert "14 imported + 0 rejected = 14 total" in capsys.readouterr().out
    for suffix in ("geojson", "gpkg", "csv", "parquet", "xlsx"):
        out = tmp_path / f"out.{suffix}"
        assert main(["grids", "export", "--db", db, "--out", str(out)]) == 0
        if suffix in ("csv", "xlsx"):
            table = (
                pd.read_csv(out, dtype=str) if suffix == "csv" else pd.read_excel(out, dtype=str)
            )
            back = gpd.GeoDataFrame(table, geometry=shapely.from_wkt(table["wkt"]), crs=4326)
        elif suffix == "parquet":
            back = gpd.read_parquet(out)
        else:
            back = gpd.read_file(out)
        back = back.set_index("code").loc[tiny_grids["code"]]
        assert shapely.equals_exact(
            back.geometry.to_numpy(), tiny_grids.geometry.to_numpy(), 1e-12
        ).all(), suffix
    # re-importing the same grids writes no new version (issue 19): nothing duplicated
    assert main(["grids", "import", str(tmp_path / "out.geojson"), "--db", db]) == 0
    engine = store.open_store(db)
    assert len(store.read_grids(engine)) == 14
    assert store.count_rows(engine, "grids") == 14
    assert store.count_rows(engine, "grid_edits") == 14


def test_grid_rows_rejected_with_reasons(tmp_path, tiny_grids, capsys):
    bad = tiny_grids.copy()
    bad.loc[0, "code"] = None
    bad.loc[1, "code"] = bad.loc[2, "code"]
    bad.loc[3, "level"] = "l9"
    bad.loc[4, "geometry"] = shapely.Point(112.9, 35.8)
    path = tmp_path / "bad.geojson"
    bad.to_file(path)
    rej = tmp_path / "rej.csv"
    assert main(["init", "--db", str(tmp_path / "g.db")]) == 0
    args = [
        "grids",
        "import",
        str(path),
        "--db",
        str(tmp_path / "g.db"),
        "--rejected-out",
        str(rej),
    ]
    # the rows left would make orphans: refused with the report unless --allow-errors
    assert main(args) == 1
    assert "ERROR [orphan]" in capsys.readouterr().out
    code = main([*args, "--allow-errors"])
    assert code == 0
    out = capsys.readouterr().out
    assert "10 imported + 4 rejected = 14 total" in out
    reasons = pd.read_csv(rej)["reason"].tolist()
    assert sorted(reasons) == sorted(
        [
            "no code",
            "duplicate code in the file",
            "level not one of l1, l2, micro, dedicated",
            "geometry is not a polygon",
        ]
    )


def test_incidents_round_trip_and_reimport_adds_nothing(tmp_path, capsys):
    db = str(tmp_path / "g.db")
    assert main(["init", "--db", db]) == 0  # only init/demo create a database
    rows = pd.DataFrame(
        {
            "external_id": ["A1", "A2", "A3", "A4", "A5", "A6"],
            "category_code": ["05-05"] * 6,
            "occurred_at": [
                "2026-05-01 08:00",
                "2026/05/02 17:30:00",
                "not a time",
                "2026-05-03T09:00:00+00:00",
                "2026-05-04 10:00",
                "2099-01-01 00:00",
            ],
            "lon": ["112.93", "112.931", "112.932", "", "abc", "112.93"],
            "lat": ["35.80", "35.801", "35.802", "", "35.8", "35.80"],
        }
    )
    src = tmp_path / "inc.csv"
    rows.to_csv(src, index=False)
    rejected = tmp_path / "rejected.csv"
    assert main(["incidents", "import", str(src), "--db", db, "--rejected-out", str(rejected)]) == 0
    out = capsys.readouterr().out
    assert "2 imported + 4 rejected = 6 total" in out
    reasons = pd.read_csv(rejected).set_index("external_id")["reason"]
    assert reasons["A3"] == "missing or unreadable occurred_at"
    assert reasons["A4"] == "no coordinates"
    assert reasons["A5"] == "coordinates are not numbers"
    assert reasons["A6"] == "occurred_at is in the future"
    assert main(["incidents", "import", str(src), "--db", db, "--rejected-out", str(rejected)]) == 0
    assert "0 imported + 6 rejected = 6 total" in capsys.readouterr().out
    out_csv = tmp_path / "export.csv"
    assert main(["incidents", "export", "--db", db, "--out", str(out_csv)]) == 0
    back = pd.read_csv(out_csv)
    assert list(back["external_id"]) == ["A1", "A2"]
    assert back["occurred_at"].tolist() == ["2026-05-01 08:00:00", "2026-05-02 17:30:00"]
    # our own export imports back into a fresh database unchanged
    db2 = str(tmp_path / "g2.db")
    assert main(["init", "--db", db2]) == 0  # only init/demo create a database
    assert main(["incidents", "import", str(out_csv), "--db", db2]) == 0
    assert "2 imported + 0 rejected = 2 total" in capsys.readouterr().out
    gj = tmp_path / "export.geojson"
    assert main(["incidents", "export", "--db", db, "--out", str(gj), "--category", "05-05"]) == 0
    assert len(gpd.read_file(gj)) == 2


def test_utc_offsets_are_converted_to_the_district_zone(tmp_path):
    from gis.core.times import parse_times

    times = parse_times(
        pd.Series(["2026-05-03T09:00:00+00:00", "2026-05-03 09:00", "2026-05-03T01:00:00Z", None])
    )
    assert times.iloc[0] == pd.Timestamp("2026-05-03 17:00")
    assert times.iloc[1] == pd.Timestamp("2026-05-03 09:00")
    assert times.iloc[2] == pd.Timestamp("2026-05-03 09:00")
    assert pd.isna(times.iloc[3])


def test_mod_spatialite_loaded_first_does_not_corrupt_geometries(tmp_path):
    """Regression: the system GEOS/PROJ pulled in by mod_spatialite must not hijack the wheels'.

    Load the extension first, then use geopandas/pyproj/shapely heavily, then exit: a symbol
    clash shows as broken geometries or a crash at exit (exit code 134/139).
    """
    code = f"""
from gis.store.engine import make_engine
import sqlalchemy as sa
e = make_engine({str(tmp_path / "order.db")!r})
with e.connect() as c:
    c.execute(sa.text("SELECT spatialite_version()"))
import geopandas as gpd, shapely
g = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)] * 1000, crs=4326).to_crs(4547)
assert g.geometry.iloc[0].is_valid
print(g.area.sum() > 0, shapely.box(0, 0, 1, 1).wkt)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "POLYGON" in proc.stdout


def test_demo_if_empty_leaves_other_data_alone(tmp_path, tiny_grids, capsys):
    db = str(tmp_path / "g.db")
    assert main(["init", "--db", db]) == 0  # only init/demo create a database
    src = tmp_path / "grids.gpkg"
    tiny_grids.to_file(src)
    assert main(["grids", "import", str(src), "--db", db]) == 0
    assert main(["demo", "--db", db]) == 1  # refuses to overwrite a real hierarchy
    assert "already holds grids" in capsys.readouterr().err
    assert main(["demo", "--db", db, "--if-empty"]) == 0
    assert "not loaded" in capsys.readouterr().out
    assert store.count_rows(store.open_store(db), "grids") == len(tiny_grids)
