"""Fast bulk moves between (Geo)DataFrames and the store.

Writes go in one transaction: a failure leaves the database as it was. SpatiaLite gets batched
``executemany`` inserts with ``GeomFromWKB``; PostGIS gets ``COPY ... FROM STDIN`` with hex EWKB.
Rows are turned into DB-API values one batch at a time (``_BATCH`` rows: text, WKB, tuples), so
a write needs memory for one batch beyond the frame itself, not a second copy of the whole frame
as Python objects.
Reads select ``AsBinary(geom)`` and decode all geometries at once with shapely 2.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gis.core.errors import InputError, WriteError
from gis.core.settings import STORAGE_EPSG
from gis.store import models
from gis.store.cube import bump_data_version
from gis.store.engine import backend

#: geometry column name and type of each spatial table
GEOMETRY_TYPES: dict[str, dict[str, str]] = {}
for _table in models.Base.metadata.sorted_tables:
    for _col in _table.columns:
        gtype = getattr(_col.type, "geometry_type", None)
        if gtype:
            GEOMETRY_TYPES.setdefault(_table.name, {})[_col.name] = gtype

_BATCH = 20_000
#: rows from which a SpatiaLite load runs with a ``_BIG_LOAD_CACHE_KIB`` page cache
_BIG_LOAD = 100_000
_BIG_LOAD_CACHE_KIB = 65_536


def table_columns(table: str) -> list[str]:
    """Column names of ``table`` (without the autoincrement id)."""
    tbl = models.Base.metadata.tables[table]
    return [c.name for c in tbl.columns if not (c.primary_key and c.autoincrement is True)]


def _prepare_geometry(values: np.ndarray, gtype: str, table: str, column: str) -> np.ndarray:
    geoms = np.asarray(values, dtype=object)
    if geoms.size == 0:
        return geoms
    missing = shapely.is_missing(geoms)
    if gtype.startswith("MULTI"):
        single = shapely.get_type_id(geoms) == {"MULTIPOLYGON": 3, "MULTILINESTRING": 1}.get(
            gtype, 0
        )
        if single.any():
            wrap = {
                "MULTIPOLYGON": shapely.multipolygons,
                "MULTILINESTRING": shapely.multilinestrings,
            }
            geoms = geoms.copy()
            geoms[single] = [wrap[gtype]([g]) for g in geoms[single]]
    expected = {
        "POINT": 0,
        "LINESTRING": 1,
        "POLYGON": 3,
        "MULTIPOINT": 4,
        "MULTILINESTRING": 5,
        "MULTIPOLYGON": 6,
    }[gtype]
    kinds = shapely.get_type_id(geoms)
    bad = (~missing) & (kinds != expected)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{table}.{column}: row {first} is a {shapely.get_type_id(geoms[first])} geometry, "
            f"expected {gtype}"
        )
    return geoms


def _column_values(s: pd.Series, col: str) -> np.ndarray:
    """One column as an object array of DB-API-ready values (None for missing)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            raise InputError(f"column {col}: store naive local times, not tz-aware ones")
        text = np.datetime_as_string(s.to_numpy().astype("datetime64[us]"), unit="us")
        arr = np.char.replace(text, "T", " ").astype(object)
        arr[s.isna().to_numpy()] = None
        return arr
    arr = s.astype(object).to_numpy()
    if not (pd.api.types.is_bool_dtype(s) or pd.api.types.is_integer_dtype(s) and not s.hasnans):
        arr = arr.copy()
        arr[pd.isna(s).to_numpy()] = None
    return arr


def _to_records(frame: pd.DataFrame, columns: Sequence[str]) -> list[tuple]:
    """Rows as tuples; datetimes as ``YYYY-MM-DD HH:MM:SS.ffffff`` text (SQLAlchemy's format)."""
    arrays = [_column_values(frame[col], col) for col in columns]
    return list(zip(*arrays, strict=True)) if arrays else []


def _batch_arrays(
    data: dict[str, pd.Series | np.ndarray],
    columns: Sequence[str],
    gcols: dict[str, str],
    start: int,
    stop: int,
    encode: Callable[[np.ndarray], np.ndarray],
) -> list[np.ndarray]:
    """DB-API-ready value arrays of rows ``start:stop``, one per column; geometries via
    ``encode`` (WKB for SpatiaLite, hex EWKB for PostGIS)."""
    out = []
    for col in columns:
        values = data[col]
        if col in gcols:
            out.append(encode(values[start:stop]))
        else:
            out.append(_column_values(values.iloc[start:stop], col))
    return out


def save_frame(
    engine_or_conn: Engine | Connection,
    table: str,
    frame: pd.DataFrame,
    *,
    replace: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Append the rows of ``frame`` to ``table`` (after deleting all rows when ``replace``).

    Parameters
    ----------
    engine_or_conn
        An engine (a transaction is opened and committed) or a connection inside the caller's
        transaction.
    table
        A table of ``gis.store.models``; the frame's columns must be a subset of its columns
        (``geometry`` is taken for the table's geometry column ``geom``).
    frame
        Rows to write. A GeoDataFrame must be in EPSG:4326 (or have no CRS).
    progress
        Called as ``progress(rows_written, rows_total)`` after each batch. An exception raised
        by it aborts the write (and, with an engine, rolls the transaction back).

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    InputError
        Unknown table or column, wrong geometry type or CRS. Nothing is written.
    """
    if table not in models.Base.metadata.tables:
        raise InputError(f"unknown table {table!r}")
    # no copy of the frame: its columns are read, batch by batch, never changed
    renames: dict[str, str] = {}
    if isinstance(frame, gpd.GeoDataFrame):
        if frame.crs is not None and frame.crs.to_epsg() != STORAGE_EPSG:
            raise InputError(f"{table}: frame CRS is {frame.crs}, expected EPSG:{STORAGE_EPSG}")
        geo_name = frame.geometry.name
        if geo_name != "geom" and "geom" in GEOMETRY_TYPES.get(table, {}):
            renames[geo_name] = "geom"
    allowed = table_columns(table)
    columns = [renames.get(str(c), c) for c in frame.columns]
    extra = [c for c in columns if c not in allowed]
    if extra:
        raise InputError(f"{table}: unknown column(s) {extra}; expected a subset of {allowed}")
    if len(set(columns)) != len(columns):
        raise InputError(f"{table}: duplicate column names {columns}")
    gcols = GEOMETRY_TYPES.get(table, {})
    data: dict[str, pd.Series | np.ndarray] = {}
    for i, col in enumerate(columns):
        values = frame.iloc[:, i]
        if col in gcols:
            data[col] = _prepare_geometry(values.to_numpy(), gcols[col], table, col)
        else:
            data[col] = pd.Series(values.array, copy=False)
    n = len(frame)
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.begin() as conn:
            return _write(conn, table, data, n, columns, gcols, replace, progress)
    return _write(engine_or_conn, table, data, n, columns, gcols, replace, progress)


#: tables whose writes do not change what the app shows (no ``data_version`` bump)
_UNVERSIONED = frozenset({"meta", "incident_cube", "user_sessions", "sign_in_failures"})


def _write(conn: Connection, table, data, n, columns, gcols, replace, progress=None) -> int:
    try:
        written = _write_unchecked(conn, table, data, n, columns, gcols, replace, progress)
        if table not in _UNVERSIONED and (written or replace):
            # every writer of shown data moves the change counter, in its own transaction: an
            # app running beside the CLI sees the change (its caches key on data_version)
            bump_data_version(conn)
        return written
    except conn.dialect.dbapi.Error as exc:  # raw DB-API errors from executemany / COPY
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WriteError(
            f"{table}: the database refused the rows ({first}); nothing written"
        ) from exc


def _write_unchecked(conn: Connection, table, data, n, columns, gcols, replace, progress) -> int:
    if replace:
        conn.execute(sa.text(f'DELETE FROM "{table}"'))
    if n == 0 or not columns:
        return 0
    if conn.dialect.name == "postgresql":
        return _copy_postgis(conn, table, data, n, columns, gcols, progress)
    return _insert_spatialite(conn, table, data, n, columns, gcols, progress)


def _insert_spatialite(conn: Connection, table, data, n, columns, gcols, progress=None) -> int:
    placeholders = []
    for col in columns:
        if col in gcols:
            placeholders.append(f"GeomFromWKB(?, {STORAGE_EPSG})")
        else:
            placeholders.append("?")
    sql = f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({", ".join(placeholders)})'
    raw = conn.connection.driver_connection
    cur = raw.cursor()
    # R*Tree triggers cost about half the insert time; when the load is at least as large as
    # what the table holds, rebuilding the index once afterwards is cheaper (same result).
    existing = cur.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
    big = n >= 1000
    bulk = n >= max(existing, 1000)
    # re-building a B-tree index is much cheaper per row than random inserts into it
    reindex = big and 4 * n >= existing
    gcols_here = [c for c in gcols if c in columns]
    rebuild = gcols_here if bulk else []
    for col in rebuild:
        cur.execute("SELECT DisableSpatialIndex(?, ?)", (table, col))
    # Per-row work a load of 1,000+ rows does once instead: SpatiaLite's geometry-constraint,
    # "last insert" and R*Tree triggers (the constraint is checked above: type by
    # _prepare_geometry, SRID by GeomFromWKB; the new rows' boxes go into the R*Tree in one
    # statement afterwards), and for a bulk load the secondary indexes. Dropped and re-created
    # inside the transaction, so a failure rolls them back too.
    saved: list[tuple[str, str, str]] = []
    if big:
        saved = cur.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL"
            " AND ((type = 'trigger' AND (name LIKE 'ggi^_%' ESCAPE '^' OR name LIKE 'tmi^_%'"
            " ESCAPE '^' OR name LIKE 'gii^_%' ESCAPE '^')) OR (? AND type = 'index'"
            " AND name NOT LIKE 'sqlite^_%' ESCAPE '^' AND sql NOT LIKE 'CREATE UNIQUE%'))",
            (table, int(reindex)),
        ).fetchall()
        for kind, name, _ in saved:
            cur.execute(f'DROP {kind.upper()} "{name}"')
    # a larger page cache for a large load: rebuilding the R*Tree and the indexes of a million
    # rows takes about a third less CPU with 64 MB than with SQLite's 2 MB default (restored
    # below; the pages are freed when the size goes back)
    cache_before = cur.execute("PRAGMA cache_size").fetchone()[0]
    page_kib = cur.execute("PRAGMA page_size").fetchone()[0] / 1024
    cache_kib = -cache_before if cache_before < 0 else cache_before * page_kib
    grow = n >= _BIG_LOAD and cache_kib < _BIG_LOAD_CACHE_KIB
    if grow:
        cur.execute(f"PRAGMA cache_size = -{_BIG_LOAD_CACHE_KIB}")
    try:
        _insert_rows(cur, sql, table, data, n, columns, gcols, saved, gcols_here, rebuild, progress)
    finally:
        if grow:
            cur.execute(f"PRAGMA cache_size = {int(cache_before)}")
    cur.close()
    return n


def _insert_rows(cur, sql, table, data, n, columns, gcols, saved, gcols_here, rebuild, progress):
    """The executemany batches, then the dropped triggers/indexes and the R*Tree back."""

    def wkb(geoms: np.ndarray) -> np.ndarray:
        return shapely.to_wkb(geoms, output_dimension=2)

    last_rowid = cur.execute(f'SELECT COALESCE(MAX(rowid), 0) FROM "{table}"').fetchone()[0]
    for start in range(0, n, _BATCH):
        stop = min(start + _BATCH, n)
        arrays = _batch_arrays(data, columns, gcols, start, stop, wkb)
        cur.executemany(sql, zip(*arrays, strict=True))
        del arrays
        if progress is not None:
            progress(stop, n)
    for kind, name, sql_ in saved:
        cur.execute(sql_)
        if kind == "trigger" and name.startswith("gii_"):
            col = next((c for c in gcols_here if name == f"gii_{table}_{c}"), None)
            if col is not None:
                cur.execute(
                    f'INSERT INTO "idx_{table}_{col}" (pkid, xmin, xmax, ymin, ymax)'
                    f' SELECT rowid, MbrMinX("{col}"), MbrMaxX("{col}"), MbrMinY("{col}"),'
                    f' MbrMaxY("{col}") FROM "{table}" WHERE rowid > ? AND "{col}" IS NOT NULL',
                    (last_rowid,),
                )
    if saved:
        cur.execute(
            "UPDATE geometry_columns_time SET last_insert = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
            " WHERE Lower(f_table_name) = Lower(?)",
            (table,),
        )
    for col in rebuild:
        cur.execute(f'DROP TABLE IF EXISTS "idx_{table}_{col}"')
        ok = cur.execute("SELECT CreateSpatialIndex(?, ?)", (table, col)).fetchone()[0]
        if ok != 1:
            raise WriteError(f"{table}.{col}: could not rebuild the spatial index")


def _copy_postgis(conn: Connection, table, data, n, columns, gcols, progress=None) -> int:
    """``COPY ... FROM STDIN`` one batch at a time (CSV text of ``_BATCH`` rows in memory)."""

    def ewkb(geoms: np.ndarray) -> np.ndarray:
        return shapely.to_wkb(
            shapely.set_srid(geoms, STORAGE_EPSG),
            hex=True,
            include_srid=True,
            output_dimension=2,
        )

    sql = f"COPY \"{table}\" ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
    cur = conn.connection.driver_connection.cursor()
    try:
        for start in range(0, n, _BATCH):
            stop = min(start + _BATCH, n)
            arrays = _batch_arrays(data, columns, gcols, start, stop, ewkb)
            out = pd.DataFrame(index=pd.RangeIndex(stop - start))
            for col, values in zip(columns, arrays, strict=True):
                out[col] = values
            buf = io.StringIO()
            out.to_csv(buf, header=False, index=False, na_rep="\\N", lineterminator="\n")
            del out, arrays
            buf.seek(0)
            cur.copy_expert(sql, buf)
            if progress is not None:
                progress(stop, n)
    finally:
        cur.close()
    return n


def read_frame(
    engine_or_conn: Engine | Connection,
    table: str,
    *,
    columns: Iterable[str] | None = None,
    where: str | None = None,
    params: dict | None = None,
    order_by: str | None = None,
) -> pd.DataFrame | gpd.GeoDataFrame:
    """Read rows of ``table`` into a frame; a spatial table comes back as a GeoDataFrame.

    Parameters
    ----------
    columns
        Columns to read (default all, including ``id``). The geometry column ``geom`` becomes the
        GeoDataFrame's ``geometry`` (EPSG:4326).
    where, params
        An optional SQL filter with bound parameters, e.g. ``"valid_to IS NULL"``.
    order_by
        An optional SQL ORDER BY expression.
    """
    if table not in models.Base.metadata.tables:
        raise InputError(f"unknown table {table!r}")
    tbl = models.Base.metadata.tables[table]
    wanted = list(columns) if columns is not None else [c.name for c in tbl.columns]
    gcols = GEOMETRY_TYPES.get(table, {})
    own = isinstance(engine_or_conn, Engine)
    conn = engine_or_conn.connect() if own else engine_or_conn
    try:
        as_binary = "ST_AsBinary" if conn.dialect.name == "postgresql" else "AsBinary"
        select = [f'{as_binary}("{c}") AS "{c}"' if c in gcols else f'"{c}"' for c in wanted]
        sql = f'SELECT {", ".join(select)} FROM "{table}"'
        if where:
            sql += f" WHERE {where}"
        if order_by:
            sql += f" ORDER BY {order_by}"
        result = conn.execute(typed_text(sql, params), params or {})
        rows = result.fetchall()
    finally:
        if own:
            conn.close()
    frame = pd.DataFrame.from_records(rows, columns=wanted)
    for col in tbl.columns:
        if col.name in frame and isinstance(col.type, sa.DateTime):
            frame[col.name] = read_times(frame[col.name])
    geo = [c for c in wanted if c in gcols]
    if not geo:
        return frame
    for c in geo:
        frame[c] = shapely.from_wkb(
            np.array([bytes(b) if b is not None else None for b in frame[c]], dtype=object)
        )
    main = "geom" if "geom" in geo else geo[0]
    frame = frame.rename(columns={main: "geometry"})
    out = gpd.GeoDataFrame(frame, geometry="geometry", crs=f"EPSG:{STORAGE_EPSG}")
    for c in geo:
        if c != main:
            out[c] = gpd.GeoSeries(out[c], crs=f"EPSG:{STORAGE_EPSG}")
    return out


#: the one text form of a stored time on SpatiaLite (SQLAlchemy's DateTime, ``save_frame``)
STORED_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def read_times(values: pd.Series) -> pd.Series:
    """Stored times (datetimes from PostGIS, text on SpatiaLite) as naive ``datetime64``.

    Text is read as ISO 8601 (``STORED_TIME_FORMAT``, or without the fraction as older rows
    written by raw SQL have it), element by element, so a column mixing both reads whole.
    """
    return pd.to_datetime(values, format="ISO8601")


def typed_text(sql: str, params: dict | None) -> sa.TextClause:
    """``sa.text(sql)`` with datetime parameters bound as ``DateTime``.

    On SQLite, times are stored as ``YYYY-MM-DD HH:MM:SS.ffffff`` text; binding through
    SQLAlchemy's DateTime gives comparisons the same format (and accepts pandas Timestamps).
    """
    clause = sa.text(sql)
    names = [k for k, v in (params or {}).items() if isinstance(v, datetime)]
    if names:
        clause = clause.bindparams(*(sa.bindparam(k, type_=sa.DateTime) for k in names))
    return clause


def count_rows(engine: Engine, table: str) -> int:
    """Number of rows in ``table``."""
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f'SELECT COUNT(*) FROM "{table}"')).scalar())


def clear_tables(conn: Connection, tables: Iterable[str]) -> None:
    """Delete every row of each of ``tables``, in the order given (children before parents).

    Runs on the caller's connection, so it is part of the caller's transaction.
    """
    for table in tables:
        conn.execute(sa.text(f'DELETE FROM "{table}"'))
    bump_data_version(conn)


__all__ = [
    "save_frame",
    "read_frame",
    "count_rows",
    "clear_tables",
    "table_columns",
    "typed_text",
    "read_times",
    "STORED_TIME_FORMAT",
    "backend",
]
