"""The import-batch record: ids from the database, never max(id)."""

from __future__ import annotations

import threading

from gis.store.batches import read_import_batches, record_import_batch


def test_record_and_read(engine):
    with engine.begin() as conn:
        first = record_import_batch(
            conn,
            kind="incidents",
            file_name="a.csv",
            imported_by="t",
            total=3,
            imported=2,
            rejected=1,
            details={"reasons": {"no time": 1}},
        )
    with engine.begin() as conn:
        second = record_import_batch(
            conn, kind="tracks", file_name="b.gpx", imported_by="t", total=1, imported=1, rejected=0
        )
    assert second != first
    rows = read_import_batches(engine)
    assert list(rows["id"]) == [second, first] or set(rows["id"]) == {first, second}
    assert list(read_import_batches(engine, kind="tracks")["file_name"]) == ["b.gpx"]


def test_concurrent_batches_each_get_their_own_id(engine):
    """Two imports whose transactions overlap: each gets the id of its own row (max(id) taken
    by the first one after the second inserted would name the other's row)."""
    if engine.dialect.name != "postgresql":
        return  # SQLite serialises writers: no overlap to test
    inserted = threading.Event()
    ids: dict[str, int] = {}

    def slow():
        with engine.begin() as conn:
            ids["slow"] = record_import_batch(
                conn,
                kind="incidents",
                file_name="slow.csv",
                imported_by="a",
                total=1,
                imported=1,
                rejected=0,
            )
            inserted.set()
            fast_done.wait(10)

    fast_done = threading.Event()
    worker = threading.Thread(target=slow)
    worker.start()
    inserted.wait(10)
    with engine.begin() as conn:
        ids["fast"] = record_import_batch(
            conn,
            kind="incidents",
            file_name="fast.csv",
            imported_by="b",
            total=1,
            imported=1,
            rejected=0,
        )
    fast_done.set()
    worker.join()
    rows = read_import_batches(engine).set_index("id")["file_name"]
    assert rows[ids["slow"]] == "slow.csv" and rows[ids["fast"]] == "fast.csv"
