"""Grid versions and grid edits in the store: the queries behind grid imports, edits, history.

``grids`` holds every version of every grid (``valid_to`` NULL = in force); ``grid_edits`` one
row per grid an edit or import touched. The grid library (``gis.grids``) decides what to write;
the SQL lives here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gis.store.cube import bump_data_version
from gis.store.frames import read_frame, typed_text

#: ``grid_edits`` columns read for the history (no geometries)
GRID_EDIT_COLUMNS = [
    "id",
    "grid_code",
    "action",
    "version_before",
    "version_after",
    "edited_by",
    "edited_at",
    "reason",
    "details",
]


def read_current_grid_rows(
    engine_or_conn: Engine | Connection, *, order_by: str | None = None
) -> gpd.GeoDataFrame:
    """Every column (``id`` included) of the grid versions in force (``valid_to IS NULL``),
    in store order unless ``order_by`` (an SQL ORDER BY expression) is given."""
    return read_frame(engine_or_conn, "grids", where="valid_to IS NULL", order_by=order_by)


def read_grid_versions(engine_or_conn: Engine | Connection, code: str) -> gpd.GeoDataFrame:
    """Every version of grid ``code``, oldest first."""
    return read_frame(
        engine_or_conn, "grids", where="code = :c", params={"c": str(code)}, order_by="version"
    )


def read_grid_version(
    engine_or_conn: Engine | Connection, code: str, version: int, *, columns=None
) -> pd.DataFrame:
    """Version ``version`` of grid ``code`` (no row when there is none), optionally some
    ``columns`` only."""
    return read_frame(
        engine_or_conn,
        "grids",
        columns=columns,
        where="code = :c AND version = :v",
        params={"c": str(code), "v": int(version)},
    )


def read_grid_version_pairs(conn: Connection, pairs: list[tuple[str, int]]) -> gpd.GeoDataFrame:
    """Rows of ``grids`` for ``(code, version)`` pairs, indexed by both."""
    if not pairs:
        empty = read_frame(conn, "grids", where="1 = 0")
        return empty.set_index(["code", "version"])
    params, clauses = {}, []
    for i, (c, v) in enumerate(pairs):
        params[f"c{i}"], params[f"v{i}"] = c, v
        clauses.append(f"(code = :c{i} AND version = :v{i})")
    frame = read_frame(conn, "grids", where=" OR ".join(clauses), params=params)
    frame["version"] = frame["version"].astype("int64")
    return frame.set_index(["code", "version"])


def close_grid_rows(conn: Connection, ids: Iterable[int], now: datetime) -> None:
    """End the grid versions with these row ``ids`` at ``now`` (``valid_to``)."""
    ids = ",".join(str(int(i)) for i in ids)
    if ids:
        sql = f"UPDATE grids SET valid_to = :now WHERE id IN ({ids})"
        conn.execute(typed_text(sql, {"now": now}), {"now": now})
        bump_data_version(conn)  # the app's caches see closed grids too


def close_grid_version(conn: Connection, code: str, version: int, now: datetime) -> int:
    """End version ``version`` of grid ``code`` at ``now`` if it is still in force.

    Returns
    -------
    int
        Rows changed: 1, or 0 when that version is no longer (or never was) current, which is
        how optimistic concurrency sees that someone else saved in between.
    """
    return conn.execute(
        typed_text(
            "UPDATE grids SET valid_to = :now "
            "WHERE code = :c AND version = :v AND valid_to IS NULL",
            {"now": now},
        ),
        {"now": now, "c": code, "v": int(version)},
    ).rowcount


def current_versions(conn: Connection, codes: Sequence[str]) -> dict[str, int]:
    """``{code: version}`` of those ``codes`` that have a version in force."""
    if not codes:
        return {}
    names = {f"c{i}": c for i, c in enumerate(codes)}
    rows = conn.execute(
        sa.text(
            f"SELECT code, version FROM grids WHERE valid_to IS NULL AND code IN "
            f"({', '.join(':' + k for k in names)})"
        ),
        names,
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def max_versions(conn: Connection, codes: Sequence[str]) -> dict[str, int]:
    """``{code: highest version ever stored}`` of those ``codes`` the store has held."""
    names = {f"c{i}": c for i, c in enumerate(codes)}
    rows = conn.execute(
        sa.text(
            f"SELECT code, MAX(version) FROM grids WHERE code IN "
            f"({', '.join(':' + k for k in names)}) GROUP BY code"
        ),
        names,
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def latest_grid_version(conn: Connection, code: str):
    """``(version, created_by, valid_from, valid_to)`` of the newest version of ``code``, or
    None when the store never held it."""
    return conn.execute(
        sa.text(
            "SELECT version, created_by, valid_from, valid_to FROM grids "
            "WHERE code = :c ORDER BY version DESC LIMIT 1"
        ),
        {"c": code},
    ).fetchone()


def ending_edit(conn: Connection, code: str, version: int):
    """``(edited_by, edited_at)`` of the latest edit that ended version ``version`` of
    ``code``, or None."""
    return conn.execute(
        sa.text(
            "SELECT edited_by, edited_at FROM grid_edits WHERE grid_code = :c "
            "AND version_before = :v ORDER BY id DESC LIMIT 1"
        ),
        {"c": code, "v": int(version)},
    ).fetchone()


def stamp_edit_group(conn: Connection, token: str) -> int:
    """Replace the placeholder ``token`` (a quoted string in ``details``) of the ``grid_edits``
    rows just written by their group id, the smallest id among them; returns the id."""
    pattern = {"pat": f'%"{token}"%'}
    group = conn.execute(
        sa.text("SELECT MIN(id) FROM grid_edits WHERE details LIKE :pat"), pattern
    ).scalar()
    conn.execute(
        sa.text(
            "UPDATE grid_edits SET details = REPLACE(details, :tok, :gid) WHERE details LIKE :pat"
        ),
        {**pattern, "tok": f'"{token}"', "gid": str(int(group))},
    )
    return int(group)


def all_grid_codes(engine: Engine) -> set[str]:
    """Every grid code the store has ever held, history included."""
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.text("SELECT DISTINCT code FROM grids"))}


def read_grid_edits(engine_or_conn: Engine | Connection, code: str | None = None) -> pd.DataFrame:
    """``grid_edits`` rows (``GRID_EDIT_COLUMNS``, no geometries) in id order, all of them or
    those of grid ``code``."""
    if code is None:
        return read_frame(engine_or_conn, "grid_edits", columns=GRID_EDIT_COLUMNS, order_by="id")
    return read_frame(
        engine_or_conn,
        "grid_edits",
        columns=GRID_EDIT_COLUMNS,
        where="grid_code = :c",
        params={"c": str(code)},
        order_by="id",
    )


def current_grid_parents(engine_or_conn: Engine | Connection) -> dict[str, str | None]:
    """``code -> parent_code`` of the grids in force."""
    query = sa.text("SELECT code, parent_code FROM grids WHERE valid_to IS NULL")
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.connect() as conn:
            rows = conn.execute(query).fetchall()
    else:
        rows = engine_or_conn.execute(query).fetchall()
    return {code: parent for code, parent in rows}


def current_codes_among(conn: Connection, codes: Sequence[str]) -> set[str]:
    """Which of ``codes`` are codes of grids in force."""
    if not codes:
        return set()
    params = {f"c{i}": c for i, c in enumerate(codes)}
    rows = conn.execute(
        sa.text(
            "SELECT DISTINCT code FROM grids WHERE valid_to IS NULL "
            f"AND code IN ({', '.join(':' + k for k in params)})"
        ),
        params,
    )
    return {r[0] for r in rows}
