"""The store's queries for a filtered selection use an index, on SpatiaLite and on PostGIS.

Pages read the incident cube (its month rows by kind) and single incidents only for a small
selection: a period, one unit's incidents. Each query is captured as the store sends it (a
``before_cursor_execute`` hook: the real SQL with its parameters, whatever function built it)
and its plan read back: ``EXPLAIN QUERY PLAN`` on SpatiaLite, ``EXPLAIN`` on PostGIS with
sequential scans priced out (``enable_seqscan = off``: the plan then shows an index when one can
serve the query, and a sequential scan only when none can, whatever the table's size).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import re

import h3
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from gis import store
from gis.store import cube as C
from gis.store import incidents as store_incidents
from tests.store.test_cube import _incidents, _store

#: index names in a plan: SpatiaLite's "USING [COVERING] INDEX name", PostGIS's "Index [Only]
#: Scan using name", "Bitmap Index Scan on name"
_INDEX = re.compile(
    r"USING (?:COVERING )?INDEX (\S+)|Index (?:Only )?Scan (?:Backward )?using (\S+)"
    r"|Bitmap Index Scan on (\S+)"
)


@contextlib.contextmanager
def captured(engine):
    """The (statement, parameters) the engine sends while the block runs."""
    seen: list[tuple[str, object]] = []

    def hook(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", hook)


def plan(engine, statement: str, parameters) -> str:
    """The query plan of one captured statement, as text."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).fetchall()
            return "\n".join(r[0] for r in rows)
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
        return "\n".join(str(r[-1]) for r in rows)


def indexes_used(text: str) -> set[str]:
    return {next(g for g in m.groups() if g) for m in _INDEX.finditer(text)}


def query_of(seen, pattern: str) -> tuple[str, object]:
    """The one captured statement matching ``pattern`` (a regex, case-insensitive)."""
    hits = [(s, p) for s, p in seen if re.search(pattern, s, re.IGNORECASE | re.DOTALL)]
    assert len(hits) == 1, f"{len(hits)} statements match {pattern!r}: {[s for s, _ in seen]}"
    return hits[0]


@pytest.fixture(
    scope="module", params=["spatialite", pytest.param("postgis", marks=pytest.mark.postgis)]
)
def filled(request, tmp_path_factory):
    """Two imports' worth of incidents (with unit keys) and their cube, on each backend (built
    once per module: the tests only read); statistics gathered."""
    if request.param == "spatialite":
        engine = store.open_store(str(tmp_path_factory.mktemp("plans") / "plans.db"))
    else:
        engine = store.make_engine(request.getfixturevalue("pg_url"))
        if store.migrate.current(engine):
            store.migrate.downgrade(engine, "base")
        store.migrate.upgrade(engine)
    _store(engine, _incidents(1500, 11))
    _store(engine, _incidents(1500, 12, start="2026-03-01"))
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    yield engine
    if request.param == "postgis":
        store.migrate.downgrade(engine, "base")
    engine.dispose()


def test_period_filter_on_incidents_uses_the_time_index(filled):
    start, end = dt.datetime(2026, 2, 1), dt.datetime(2026, 2, 8)
    with captured(filled) as seen:
        store.read_incidents(filled, start, end)
        store.incident_counts(filled, start, end, by="grid_code")
    for pattern in (r"FROM incidents\s+WHERE occurred_at >=.*ORDER BY", r"COUNT\(\*\)"):
        text = plan(filled, *query_of(seen, pattern))
        assert "ix_incidents_occurred_at" in indexes_used(text), text


def test_period_and_categories_use_an_index(filled):
    with captured(filled) as seen:
        store.read_incidents(
            filled, dt.datetime(2026, 2, 1), dt.datetime(2026, 2, 8), categories=["05-05"]
        )
    text = plan(filled, *query_of(seen, r"category_code IN"))
    assert indexes_used(text) & {"ix_incidents_cat_time", "ix_incidents_occurred_at"}, text


def test_one_micro_grids_incidents_use_the_grid_index(filled):
    with captured(filled) as seen:
        got = store.read_frame(filled, "incidents", where="grid_code = :g", params={"g": "B"})
    assert len(got) and set(got["grid_code"]) == {"B"}
    text = plan(filled, *query_of(seen, r"grid_code = "))
    assert "ix_incidents_grid_time" in indexes_used(text), text


def test_the_cubes_month_rows_are_read_by_key(filled):
    with captured(filled) as seen:
        cube = C.load_cube(filled, "h3")
    assert cube.total == 3000
    text = plan(filled, *query_of(seen, r"FROM incident_cube WHERE kind"))
    used = indexes_used(text)
    assert used and all("incident_cube" in name for name in used), text


def test_the_cube_rebuild_reads_one_month_by_the_time_index(filled):
    with captured(filled) as seen, filled.connect() as conn:
        C.rebuild_cube(conn, months=["2026-02"])
        conn.rollback()  # the module's store stays as built
    text = plan(filled, *query_of(seen, r"FROM incidents WHERE occurred_at >= .* < "))
    assert "ix_incidents_occurred_at" in indexes_used(text), text


_SELECT = getattr(store_incidents, "select_incidents", None)


@pytest.mark.skipif(_SELECT is None, reason="gis.store.incidents.select_incidents not here yet")
def test_one_units_incidents_use_the_unit_key_indexes(filled):
    """One H3 cell (any resolution: an ``h3_r11`` range), one fishnet cell (an ``(fx50,
    fy50)`` range) and some micro-grids: each read by an index range."""
    frame = store.read_frame(filled, "incidents", columns=["h3_r11", "fx50", "fy50"])
    r11 = int(frame["h3_r11"].iloc[0])
    cell9 = h3.str_to_int(h3.cell_to_parent(h3.int_to_str(r11), 9))
    if "h3_cell" in inspect.signature(_SELECT).parameters:
        one_cell = {"h3_cell": (9, cell9)}  # (resolution, cell): ranges of its 7-cell disk
    else:
        one_cell = {"h3_range": store_incidents.h3_r11_range(cell9, 9)}
    fx, fy = int(frame["fx50"].iloc[0]), int(frame["fy50"].iloc[0])
    cases = [
        (one_cell, "h3_r11 BETWEEN", {"ix_incidents_h3_r11"}),
        ({"fishnet_range": (fx, fx + 3, fy, fy + 3)}, "fx50 BETWEEN", {"ix_incidents_fishnet"}),
        ({"micros": ["B"]}, "grid_code IN", {"ix_incidents_grid_time"}),
        (
            {"start": dt.datetime(2026, 2, 1), "end": dt.datetime(2026, 2, 3)},
            "occurred_at >=",
            {"ix_incidents_occurred_at", "ix_incidents_cat_time"},
        ),
    ]
    for kwargs, pattern, expected in cases:
        with captured(filled) as seen:
            got = _SELECT(filled, ["id", "grid_code"], **kwargs)
        assert len(got), kwargs
        text = plan(filled, *query_of(seen, pattern))
        assert indexes_used(text) & expected, f"{kwargs}: {text}"


def test_an_areas_period_is_one_range_per_micro_grid(filled):
    """Some micro-grids over a period (an area's incidents, with those outside every grid): the
    period bounds the index range of each grid, not a filter after reading every year of them
    (migration 0010: ``(grid_code, occurred_at)``)."""
    kwargs = {
        "micros": ["A", "B"],
        "outside_grids": True,
        "start": dt.datetime(2026, 2, 1),
        "end": dt.datetime(2026, 2, 8),
    }
    with captured(filled) as seen:
        got = store_incidents.select_incidents(filled, ["id", "grid_code", "occurred_at"], **kwargs)
    assert len(got) and got["occurred_at"].min() >= kwargs["start"]
    text = plan(filled, *query_of(seen, "grid_code IN"))
    if filled.dialect.name == "sqlite":  # both columns of the key bound the search
        assert indexes_used(text) == {"ix_incidents_grid_time"}, text
        assert re.search(r"grid_code=\? AND occurred_at>\?", text), text
    else:  # PostgreSQL's planner picks by its statistics: the week's range or the grids'
        used = indexes_used(text)
        assert used and used <= {"ix_incidents_grid_time", "ix_incidents_occurred_at"}, text


def test_a_plan_without_an_index_is_seen(filled):
    """The check can fail: a filter on a column without an index shows no index."""
    with captured(filled) as seen:
        store.read_frame(filled, "incidents", where="description = :d", params={"d": "x"})
    text = plan(filled, *query_of(seen, r"description = "))
    assert not indexes_used(text) & {"ix_incidents_occurred_at", "ix_incidents_grid_time"}, text
    with filled.connect() as conn:  # and the table is there to be scanned
        assert conn.execute(sa.text("SELECT COUNT(*) FROM incidents")).scalar() == 3000
