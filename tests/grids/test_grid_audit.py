"""Issue 19, grids: restore by a grid admin's name keeps its scope, one time format in the store
(a grid edit and a grid import, then an incident import), ``--replace`` with a partial file,
identical re-imports."""

from __future__ import annotations

import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from gis import auth, store
from gis.auth import PermissionDenied
from gis.cli import main
from gis.grids import CoverageShrinkRefused, export_grids, import_grids
from gis.grids import edit as ge
from gis.incidents import import_incidents
from gis.store.grids import read_grid_edits
from tests.grids.test_gridedit import (
    C1,
    C2,
    M2_PER_DEG2,
    P101,
    P102,
    Q100,
    box,
    load,
    snapshot,
)
from tests.incidents.test_intake import NOW, _rows


@pytest.fixture
def tiny(tiny_grids):
    return tiny_grids.assign(kind=None, version=1)


def _grid_rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT code, version, valid_to FROM grids ORDER BY id")).all()


# --- High 3: restore through a name keeps the grid admin's scope ----------------------------------


def test_restore_by_a_scoped_name_is_checked(engine, tiny):
    load(engine, tiny)
    auth.create_user(engine, "boss", "long-password-1", "admin", created_by="t")
    auth.create_user(
        engine, "ga1", "long-password-1", "grid_admin", grid_codes=[C1], created_by="t"
    )
    loaded = store.read_grids(engine)
    # an admin moves a micro-grid of community 1 into community 2: the edit spans both
    ge.save_edit(engine, ge.move(loaded, P102, Q100), user="boss", reason="admin's edit")
    before = snapshot(engine)
    for who in ("ga1", auth.get_user(engine, "ga1")):  # the page passed the name
        with pytest.raises(PermissionDenied, match=C2[:12]):
            ge.restore_version(engine, P102, 1, user=who, reason="undo")
        assert snapshot(engine) == before
    # inside its scope a grid admin's name still works
    step = store.read_grids(engine)
    north = "140581001001201"  # a micro-grid of community 1's north level-2 grid
    ge.save_edit(
        engine, ge.reshape(step, north, box(0, 0.005, 0.004, 0.01)), user="ga1", reason="x"
    )
    assert ge.edit_log(engine)["edited_by"].iloc[0] == "ga1"
    # names of no account (CLI, scripts) are recorded as they are
    ge.restore_version(engine, P102, 1, user="cli", reason="undo all")


# --- High 5: one time format in the store ----------------------------------------------------------


def test_grid_edit_then_grid_import_then_incident_import(engine, tiny, tmp_path):
    """The edit writes times to the microsecond, the import's closing update wrote them
    without: the mixed ``valid_to`` column then broke every incident import (SpatiaLite)."""
    load(engine, tiny)
    loaded = store.read_grids(engine)
    ge.save_edit(engine, ge.reshape(loaded, P101, box(0, 0, 0.004, 0.005)), user="a", reason="1")
    path = tmp_path / "p102.geojson"
    grid = store.read_grids(engine)
    export_grids(grid[grid["code"] == P102].assign(name="renamed"), path)
    result = import_grids(engine, path)
    assert result.closed == 1
    with engine.connect() as conn:
        ends = [r[0] for r in conn.execute(sa.text("SELECT valid_to FROM grids")) if r[0]]
    if engine.dialect.name == "sqlite":  # one text form for every stored time
        assert all(len(str(t)) == len("2026-01-01 00:00:00.000000") for t in ends), ends
    rows = _rows(4)
    rows.to_csv(tmp_path / "inc.csv", index=False)
    done = import_incidents(engine, tmp_path / "inc.csv", now=NOW)
    assert done.imported == 4


def test_mixed_time_text_reads(engine, tiny):
    """A database already holding both forms (written before the fix) reads whole."""
    if engine.dialect.name != "sqlite":
        pytest.skip("text times are SpatiaLite's")
    load(engine, tiny)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE grids SET valid_to = '2025-06-01 10:00:00' WHERE id = 1"))
        conn.execute(
            sa.text("UPDATE grids SET valid_to = '2025-06-01 10:00:00.250000' WHERE id = 2")
        )
    frame = store.read_frame(engine, "grids", where="valid_to IS NOT NULL", order_by="id")
    assert list(frame["valid_to"]) == [
        pd.Timestamp("2025-06-01 10:00:00"),
        pd.Timestamp("2025-06-01 10:00:00.25"),
    ]


# --- High 6: --replace with a partial file ---------------------------------------------------------


def test_replace_with_partial_file_refused_then_forced_and_restorable(engine, tiny, tmp_path):
    load(engine, tiny)
    path = tmp_path / "one.geojson"
    grid = store.read_grids(engine)
    export_grids(grid[grid["code"] == C1].assign(name="只有一个社区"), path)
    before = snapshot(engine)
    with pytest.raises(CoverageShrinkRefused, match=r"retire 13 grid\(s\).*l1 [\d.]+ km²"):
        import_grids(engine, path, replace=True)
    assert snapshot(engine) == before
    check = import_grids(engine, path, replace=True, check_only=True)
    assert check.retired == 13 and set(check.area_lost_m2) == {"l1", "l2", "micro"}
    assert check.area_lost_m2["l1"] == pytest.approx(1e-4 * M2_PER_DEG2, rel=1e-3)  # C2's cell
    result = import_grids(engine, path, replace=True, allow_shrink=True)
    assert result.retired == 13 and "coverage lost" in result.summary_line()
    assert len(store.read_grids(engine)) == 1
    edits = read_grid_edits(engine)
    assert len(edits) == 14  # the import of C1 and the 13 closures
    assert set(edits.loc[edits["version_after"].isna(), "grid_code"]) == set(grid["code"]) - {C1}
    # a retired grid can be brought back from its history
    ge.restore_version(engine, C2, 1, user="admin", reason="partial file by mistake")
    back = store.read_grids(engine)
    assert C2 in set(back["code"])
    orig = grid.loc[grid["code"] == C2].geometry.iloc[0]
    assert shapely.to_wkb(back.loc[back["code"] == C2].geometry.iloc[0]) == shapely.to_wkb(orig)


def test_cli_replace_partial_refused(engine, tiny, tmp_path, capsys):
    if engine.dialect.name != "sqlite":
        pytest.skip("the CLI opens the SpatiaLite file by path")
    load(engine, tiny)
    path = tmp_path / "one.geojson"
    grid = store.read_grids(engine)
    export_grids(grid[grid["code"] == C1], path)
    db = engine.url.database
    assert main(["grids", "import", str(path), "--db", db, "--replace"]) != 0
    assert "--allow-shrink" in capsys.readouterr().err
    assert len(store.read_grids(engine)) == 14
    assert main(["grids", "import", str(path), "--db", db, "--replace", "--allow-shrink"]) == 0
    assert "coverage lost: l1" in capsys.readouterr().out


# --- Low: identical re-imports ---------------------------------------------------------------------


def test_identical_reimport_writes_no_versions(engine, tiny, tmp_path):
    load(engine, tiny)
    path = tmp_path / "all.geojson"
    export_grids(engine, path)
    before = snapshot(engine)
    result = import_grids(engine, path)
    assert (result.imported, result.unchanged, result.closed) == (14, 14, 0)
    assert snapshot(engine) == before
    assert "14 unchanged" in result.summary_line()
    grid = store.read_grids(engine)
    export_grids(grid.assign(name=grid["name"].where(grid["code"] != P101, "新名字")), path)
    again = import_grids(engine, path)
    assert (again.unchanged, again.closed) == (13, 1)
    assert snapshot(engine)[1] == before[1] + 1
