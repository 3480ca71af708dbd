"""``gridlens export-parquet``, ``aggregate`` and ``coverage`` on a folder, on both engines (the
Dask runs go to the test cluster through ``--scheduler``)."""

from __future__ import annotations

import re

import pandas as pd

from gis import store
from gis.cli import main
from gis.store.cube import load_cube


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_export_aggregate_coverage(stored, tmp_path, grids, capsys, dask_client):
    engine, incidents = stored
    db = engine.url.database
    scheduler = dask_client.scheduler.address
    inc, fix = tmp_path / "inc", tmp_path / "fix"
    code, out, _ = run(capsys, "export-parquet", "--db", db, "--out", inc)
    assert code == 0 and f"{len(incidents)} rows" in out
    code, out, _ = run(capsys, "export-parquet", "--db", db, "--out", fix, "--what", "fixes")
    assert code == 0 and "staff buckets" in out

    local, dask = tmp_path / "local.csv", tmp_path / "dask.parquet"
    code, out, _ = run(capsys, "aggregate", "--db", db, "--incidents", inc, "--by", "grid:micro",
                       "--step", "week", "--out", local)  # fmt: skip
    assert code == 0
    n, m, total = map(int, re.search(r"(\d+) counted \+ (\d+) outside = (\d+)", out).groups())
    assert n + m == total == len(incidents) and m > 0
    code, out, _ = run(capsys, "aggregate", "--db", db, "--incidents", inc, "--by", "grid:micro",
                       "--step", "week", "--out", dask, "--engine", "dask",
                       "--scheduler", scheduler)  # fmt: skip
    assert code == 0 and f"{n} counted + {m} outside = {total}" in out
    a = pd.read_csv(local, dtype={"period": str, "category_code": str})
    b = pd.read_parquet(dask)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert int(a["count"].sum()) == n

    cov_local, cov_dask = tmp_path / "cov.csv", tmp_path / "cov_dask.csv"
    code, out, _ = run(capsys, "coverage", "--db", db, "--tracks", fix, "--out", cov_local)
    assert code == 0 and "kept +" in out and "units (grid:micro) visited" in out
    code, _, _ = run(capsys, "coverage", "--db", db, "--tracks", fix, "--out", cov_dask,
                     "--engine", "dask", "--scheduler", scheduler)  # fmt: skip
    assert code == 0
    assert cov_local.read_bytes() == cov_dask.read_bytes()
    assert len(pd.read_csv(cov_local)) == (grids["level"] == "micro").sum()


def test_into_db(stored, tmp_path, grids, capsys):
    engine, _ = stored
    inc = tmp_path / "inc"
    assert run(capsys, "export-parquet", "--db", engine.url.database, "--out", inc)[0] == 0
    grid_file = tmp_path / "grids.geojson"
    grids.to_file(grid_file)
    city = tmp_path / "city.db"
    assert run(capsys, "init", "--db", city)[0] == 0  # only init/demo create a database
    code, out, _ = run(capsys, "aggregate", "--db", city, "--incidents", inc, "--grids",
                       grid_file, "--by", "h3:9", "--out", tmp_path / "a.csv", "--into-db")  # fmt: skip
    assert code == 0
    loaded = int(re.search(r"(\d+) loaded \+", out).group(1))
    counted = int(re.search(r"(\d+) counted \+", out).group(1))
    assert loaded == counted
    assert load_cube(store.open_store(str(city)), "h3").total == loaded


def test_errors(tmp_path, capsys, incident_folder):
    code, _, err = run(capsys, "aggregate", "--incidents", incident_folder, "--by", "h3:9",
                       "--out", tmp_path / "x.csv", "--scheduler", "tcp://127.0.0.1:1")  # fmt: skip
    assert code == 1 and "--engine dask" in err
    code, _, err = run(capsys, "aggregate", "--incidents", tmp_path / "none", "--by", "h3:9",
                       "--out", tmp_path / "x.csv")  # fmt: skip
    assert code == 1 and "no such file" in err
    code, _, err = run(capsys, "aggregate", "--incidents", incident_folder, "--by", "streets",
                       "--out", tmp_path / "x.csv")  # fmt: skip
    assert code == 1 and "streets" in err
