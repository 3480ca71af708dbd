"""Issue 19: two imports of one track file at once store its fixes once (the duplicate check
runs inside the writing transaction, after the fixes' write lock; a unique key on
``patrol_fixes (staff_code, t)`` backs it), and migration 0009_a19 removes older duplicates."""

from __future__ import annotations

import threading

import pandas as pd
import pytest
import sqlalchemy as sa

from gis import store
from gis.patrol import import_tracks, intake
from gis.store import migrate

NOW = pd.Timestamp("2026-06-01 00:00:00")
T0 = pd.Timestamp("2026-03-01 09:00:00")


def _track_file(path, n: int = 20):
    rows = [
        (112.93 + 0.00005 * k, 35.80, f"{T0 + pd.Timedelta(seconds=10 * k)}", "S1")
        for k in range(n)
    ]
    pd.DataFrame(rows, columns=["lon", "lat", "time", "staff_code"]).to_csv(path, index=False)
    return path


def test_concurrent_track_imports_store_fixes_once(engine, tmp_path, monkeypatch):
    path = _track_file(tmp_path / "t.csv")
    meet = threading.Barrier(2, timeout=2)
    real = intake.record_import_batch

    def meeting(conn, **kw):
        # both imports reach their write together when nothing serialises them (the old code)
        try:
            meet.wait()
        except threading.BrokenBarrierError:
            pass
        return real(conn, **kw)

    monkeypatch.setattr(intake, "record_import_batch", meeting)
    results, errors = [], []

    def run():
        try:
            results.append(import_tracks(engine, path, now=NOW))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(r.imported for r in results) == [0, 20]
    second = min(results, key=lambda r: r.imported)
    assert set(second.dropped["reason"]) == {intake.ALREADY_IMPORTED}
    assert len(store.read_fixes(engine)) == 20


def test_unique_key_refuses_a_second_copy(engine, tmp_path):
    import_tracks(engine, _track_file(tmp_path / "t.csv"), now=NOW)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO patrol_fixes (track_id, staff_code, t) "
                "SELECT track_id, staff_code, t FROM patrol_fixes"
            )
        )


def test_migration_removes_stored_duplicates(engine, tmp_path):
    import_tracks(engine, _track_file(tmp_path / "t.csv"), now=NOW)
    migrate.downgrade(engine, "0005_cases2")
    with engine.begin() as conn:  # what two racing imports left before the key
        conn.execute(
            sa.text(
                "INSERT INTO patrol_fixes (track_id, staff_code, t, geom) "
                "SELECT track_id, staff_code, t, geom FROM patrol_fixes WHERE t < :b"
            ),
            {"b": (T0 + pd.Timedelta(seconds=50)).to_pydatetime()},
        )
        assert conn.execute(sa.text("SELECT COUNT(*) FROM patrol_fixes")).scalar() == 25
        keep = conn.execute(sa.text("SELECT MIN(id), MAX(id) FROM patrol_fixes")).one()
    migrate.upgrade(engine)
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM patrol_fixes")).scalar() == 20
        ids = conn.execute(sa.text("SELECT MIN(id), MAX(id) FROM patrol_fixes")).one()
    assert ids[0] == keep[0] and ids[1] < keep[1]  # the first copy of each kept
