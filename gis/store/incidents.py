"""Incident rows the intake reads and updates besides the bulk write (``frames.save_frame``)."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gis.store.frames import typed_text

__all__ = [
    "SELECT_COLUMNS",
    "h3_r11_range",
    "select_incidents",
    "stored_external_ids",
    "update_incident_links",
]


def stored_external_ids(conn: Connection) -> np.ndarray:
    """The ``external_id`` of every stored incident (object array), for re-import checks."""
    ids = conn.execute(sa.text("SELECT external_id FROM incidents")).scalars().all()
    return np.array(ids, dtype=object)


def update_incident_links(conn: Connection, changed: pd.DataFrame) -> int:
    """Set ``duplicate_of`` and ``is_repeat_location`` of stored incidents (by ``id``), in the
    caller's transaction; returns the rows updated."""
    if changed.empty:
        return 0
    conn.execute(
        sa.text("UPDATE incidents SET duplicate_of = :d, is_repeat_location = :r WHERE id = :id"),
        [
            {"d": d, "r": bool(r), "id": int(i)}
            for i, d, r in zip(
                changed["id"], changed["duplicate_of"], changed["is_repeat_location"], strict=True
            )
        ],
    )
    return len(changed)


#: Columns :func:`select_incidents` may return (besides ``lon, lat``).
SELECT_COLUMNS = (
    "id",
    "external_id",
    "category_code",
    "source",
    "status",
    "severity",
    "occurred_at",
    "reported_at",
    "closed_at",
    "department",
    "address",
    "grid_code",
    "grid_l2",
    "grid_l1",
    "h3_r11",
    "fx50",
    "fy50",
)
_TIMES = ("occurred_at", "reported_at", "closed_at")
_H3_RES_SHIFT = 52
_H3_RES_MASK = 0xF << _H3_RES_SHIFT


def h3_r11_range(cell: int, resolution: int) -> tuple[int, int]:
    """The inclusive range of ``h3_r11`` keys of the resolution-11 cells inside an H3 cell.

    H3 packs the resolution and the digits most significant first, so every resolution-11
    descendant of ``cell`` (resolution <= 11) lies between the descendant whose finer digits are
    all 0 and the one whose are all 7, and no other valid resolution-11 cell does: one index
    range scan answers "the incidents of this cell" at any stored resolution.
    """
    if not 0 <= resolution <= 11:
        raise ValueError(f"H3 resolution must be 0..11, got {resolution}")
    at11 = (int(cell) & ~_H3_RES_MASK) | (11 << _H3_RES_SHIFT)
    digits = ((1 << (3 * (15 - resolution))) - 1) & ~((1 << (3 * (15 - 11))) - 1)
    return at11 & ~digits, at11 | digits


def select_incidents(
    engine: Engine | Connection,
    columns: tuple[str, ...] | list[str],
    *,
    start=None,
    end=None,
    time_column: str = "occurred_at",
    sources: tuple[str, ...] | list[str] = (),
    micros: tuple[str, ...] | list[str] | None = None,
    outside_grids: bool = False,
    h3_cell: tuple[int, int] | None = None,
    fishnet_range: tuple[int, int, int, int] | None = None,
    not_null: tuple[str, ...] = (),
    with_lonlat: bool = False,
) -> pd.DataFrame:
    """A small selection of incident rows, narrowed in the database (never every incident).

    For what needs single incidents: one unit's detail and top addresses, the on-time closure
    of a fortnight, one area's evaluation. Categories are left to the caller
    (``gis.taxonomy.category_mask``: THE category rule).

    Parameters
    ----------
    columns
        Of :data:`SELECT_COLUMNS`.
    start, end
        ``start <= time_column < end`` (either optional; naive wall-clock times).
    sources
        Keep these sources (empty: all).
    micros
        Keep incidents whose stored micro-grid (``grid_code``) is one of these (None: all).
    outside_grids
        With ``micros``: also keep the incidents stored outside every grid (``grid_code``
        NULL), for an area that may reach beyond the grids.
    h3_cell
        ``(resolution, cell)``: the incidents whose stored ``h3_r{resolution}`` key is ``cell``
        (an int; resolutions 8-11). Read through the ``h3_r11`` index: a point of the cell
        has its resolution-11 cell inside the cell or one of its neighbours (H3 children
        stray less than one cell from their parent), so the ranges of those seven cells
        (:func:`h3_r11_range`) hold every candidate, and the key itself decides.
    fishnet_range
        ``(fx_lo, fx_hi, fy_lo, fy_hi)``, inclusive 50-m fishnet keys (one coarser cell).
    not_null
        Columns that must be set (e.g. ``status``).
    with_lonlat
        Add ``lon, lat`` (EPSG:4326; NaN without a location).

    Returns
    -------
    pandas.DataFrame
        The columns asked for, times as naive ``datetime64[ns]``, in id order.
    """
    bad = [c for c in (*columns, time_column, *not_null) if c not in SELECT_COLUMNS]
    if bad:
        raise ValueError(f"cannot select incident columns {bad}")
    clauses: list[str] = []
    params: dict = {}
    if start is not None:
        clauses.append(f"{time_column} >= :start")
        params["start"] = pd.Timestamp(start).to_pydatetime()
    if end is not None:
        clauses.append(f"{time_column} < :end")
        params["end"] = pd.Timestamp(end).to_pydatetime()
    if sources:
        names = [f":s{i}" for i in range(len(sources))]
        clauses.append(f"source IN ({', '.join(names)})")
        params.update({f"s{i}": s for i, s in enumerate(sources)})
    if micros is not None:
        names = [f":m{i}" for i in range(len(micros))]
        either = [f"grid_code IN ({', '.join(names)})"] if len(micros) else []
        if outside_grids:
            either.append("grid_code IS NULL")
        clauses.append(f"({' OR '.join(either)})" if either else "1 = 0")
        params.update({f"m{i}": m for i, m in enumerate(micros)})
    if h3_cell is not None:
        res, cell = int(h3_cell[0]), int(h3_cell[1])
        if res not in (8, 9, 10, 11):
            raise ValueError(f"H3 keys are stored at resolutions 8-11, not {res}")
        ranges = []
        for k, near in enumerate(sorted(h3.grid_disk(h3.int_to_str(cell), 1))):
            lo, hi = h3_r11_range(h3.str_to_int(near), res)
            ranges.append(f"h3_r11 BETWEEN :h3lo{k} AND :h3hi{k}")
            params.update({f"h3lo{k}": lo, f"h3hi{k}": hi})
        clauses.append(f"({' OR '.join(ranges)}) AND h3_r{res} = :h3cell")
        params["h3cell"] = cell
    if fishnet_range is not None:
        clauses.append("fx50 BETWEEN :fxlo AND :fxhi AND fy50 BETWEEN :fylo AND :fyhi")
        params.update(zip(("fxlo", "fxhi", "fylo", "fyhi"), map(int, fishnet_range), strict=True))
    clauses.extend(f"{c} IS NOT NULL" for c in not_null)
    cols = list(columns)
    select = ", ".join(cols)
    if with_lonlat:
        select += ", ST_X(geom), ST_Y(geom)"
        cols += ["lon", "lat"]
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    # "+id", not "id": SQLite would otherwise walk the primary key in order and scan the whole
    # table instead of using the unit-key index (EXPLAIN QUERY PLAN: SCAN incidents); the rows
    # of a small selection are sorted afterwards (tests/store/test_query_plans.py)
    sql = f"SELECT {select} FROM incidents{where} ORDER BY +id"
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            rows = conn.execute(typed_text(sql, params), params).fetchall()
    else:
        rows = engine.execute(typed_text(sql, params), params).fetchall()
    frame = pd.DataFrame.from_records(rows, columns=cols)
    for col in set(_TIMES) & set(cols):
        frame[col] = pd.to_datetime(frame[col], format="ISO8601").astype("datetime64[ns]")
    for col in ("lon", "lat"):
        if col in frame:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(np.float64)
    return frame
