"""Database engines for the two supported backends: a SpatiaLite file and PostgreSQL + PostGIS.

``make_engine`` returns a SQLAlchemy engine that is ready for spatial work, or raises
``StoreError`` with one line saying what is missing and how to fix it.
"""

from __future__ import annotations

import ctypes.util
import os
import sqlite3
from pathlib import Path

# The wheels of shapely, pyproj and pyogrio bundle their own GEOS, PROJ and GDAL. SQLite dlopens
# mod_spatialite with RTLD_GLOBAL, which puts the system GEOS/PROJ C++ symbols first in the global
# scope; a wheel imported afterwards binds to them and corrupts memory ("double free" at exit,
# broken geometries). So import them all before any extension is loaded.
import pyogrio  # noqa: F401  (import order matters, see above)
import pyproj  # noqa: F401
import shapely  # noqa: F401
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from gis.core import settings
from gis.core.errors import StoreError

SPATIALITE_HINT = (
    "install SpatiaLite: 'apt-get install libsqlite3-mod-spatialite' "
    f"(or set {settings.SPATIALITE_ENV} to the path of mod_spatialite.so)"
)
POSTGIS_HINT = (
    "install PostGIS: 'apt-get install postgresql-15-postgis-3' then, as a superuser, "
    "'CREATE EXTENSION postgis;' in the database"
)


def backend(engine: Engine) -> str:
    """``'spatialite'`` or ``'postgis'``."""
    return "postgis" if engine.dialect.name == "postgresql" else "spatialite"


def _sqlite_module():
    """The sqlite3 DB-API module that can load extensions.

    Some Python builds lack ``enable_load_extension``; ``pysqlite3-binary`` bundles one that has it.
    """
    probe = sqlite3.connect(":memory:")
    try:
        if hasattr(probe, "enable_load_extension"):
            return sqlite3
    finally:
        probe.close()
    try:
        import pysqlite3.dbapi2 as pysqlite3  # type: ignore[import-not-found]
    except ImportError as exc:  # pragma: no cover - depends on the Python build
        raise StoreError(
            "this Python's sqlite3 cannot load extensions; 'pip install pysqlite3-binary'"
        ) from exc
    return pysqlite3


def _spatialite_path() -> str:
    explicit = os.environ.get(settings.SPATIALITE_ENV)
    if explicit:
        return explicit
    for candidate in (
        "/usr/lib/x86_64-linux-gnu/mod_spatialite.so",
        "/usr/lib/aarch64-linux-gnu/mod_spatialite.so",
        "/usr/local/lib/mod_spatialite.so",
        "/opt/homebrew/lib/mod_spatialite.dylib",
    ):
        if Path(candidate).exists():
            return candidate
    found = ctypes.util.find_library("spatialite")
    return found or settings.DEFAULT_SPATIALITE


def _load_spatialite(dbapi_conn, _record) -> None:
    path = _spatialite_path()
    try:
        dbapi_conn.enable_load_extension(True)
        dbapi_conn.load_extension(path)
        dbapi_conn.enable_load_extension(False)
    except Exception as exc:
        raise StoreError(f"cannot load SpatiaLite ({path}): {exc}; {SPATIALITE_HINT}") from exc
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute(f"PRAGMA busy_timeout = {int(settings.SQLITE_BUSY_TIMEOUT_S * 1000)}")
    if cur.execute("SELECT CheckSpatialMetaData()").fetchone()[0] < 1:
        cur.execute("SELECT InitSpatialMetaData(1, 'WGS84')")
    cur.close()


def _explain_locked(context) -> StoreError | None:
    """SQLite's ``database is locked`` after the bounded wait, as one line saying who holds it
    and what to do (SQLAlchemy raises the returned exception instead)."""
    if "database is locked" not in str(context.original_exception):
        return None
    return StoreError(
        "the database is locked by another program (a database browser holding a transaction "
        f"open?): gave up after {settings.SQLITE_BUSY_TIMEOUT_S:g} s "
        "(GRIDLENS_SQLITE_BUSY_S); close that program or its transaction and try again"
    )


def _explain_lost(context) -> StoreError | None:
    """A PostgreSQL connection lost mid-transaction (server restarted, session terminated) as
    one line; the rollback that follows the first error fails the same way, and its error must
    not replace the first with a driver traceback. The pool's own liveness ping is left alone."""
    if not context.is_disconnect or getattr(context, "is_pre_ping", False):
        return None
    return StoreError(
        "the connection to the database server was lost "
        f"({_first_line(context.original_exception)}); nothing of this change was written: "
        "check that the server is running and try again"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def make_engine(url: str | None = None, *, create_dir: bool = True, echo: bool = False) -> Engine:
    """Create an engine for ``url`` (see ``settings.database_url`` for how it is resolved).

    Parameters
    ----------
    url
        ``sqlite:///path.db`` (SpatiaLite), ``postgresql://user@host/db`` (PostGIS), a bare path,
        or None for ``GRIDLENS_DB`` / the default file under ``data/``.
    create_dir
        Create the parent folder of a SpatiaLite file if it is missing.

    Raises
    ------
    StoreError
        Unsupported URL, unreachable server, missing mod_spatialite or PostGIS, or a file that is
        not a database.
    """
    resolved = make_url(settings.database_url(url))
    if resolved.get_backend_name() == "sqlite":
        db = resolved.database or ""
        if db and db != ":memory:":
            path = Path(db)
            if create_dir:
                path.parent.mkdir(parents=True, exist_ok=True)
            elif not path.parent.exists():
                raise StoreError(f"folder {path.parent} does not exist")
        module = _sqlite_module()
        engine = sa.create_engine(
            resolved.set(drivername="sqlite+pysqlite"),
            module=module,
            echo=echo,
        )
        # Our own listener rather than geoalchemy2's plugin: it finds mod_spatialite without an
        # environment variable and fails with a message that says how to install it.
        event.listen(engine, "connect", _load_spatialite)
        event.listen(engine, "handle_error", _explain_locked)
    elif resolved.get_backend_name() == "postgresql":
        if resolved.drivername == "postgresql":
            resolved = resolved.set(drivername="postgresql+psycopg2")
        engine = sa.create_engine(resolved, echo=echo, plugins=["geoalchemy2"], pool_pre_ping=True)
        event.listen(engine, "handle_error", _explain_lost)
    else:
        raise StoreError(
            f"unsupported database URL {resolved.render_as_string(hide_password=True)!r}: "
            "use sqlite:///FILE.db (SpatiaLite) or postgresql://USER@HOST/DB (PostGIS)"
        )
    check_spatial(engine)
    return engine


def check_spatial(engine: Engine) -> str:
    """Connect once and confirm the spatial extension is there; return its version.

    Raises
    ------
    StoreError
        One line naming the problem and the fix.
    """
    shown = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            if backend(engine) == "spatialite":
                return str(conn.execute(sa.text("SELECT spatialite_version()")).scalar())
            has = conn.execute(
                sa.text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
            ).scalar()
            if not has:
                try:
                    conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
                    conn.commit()
                except sa.exc.DBAPIError as exc:
                    raise StoreError(
                        f"database {shown} has no PostGIS and it cannot be created "
                        f"({_first_line(exc)}); {POSTGIS_HINT}"
                    ) from exc
            return str(conn.execute(sa.text("SELECT postgis_lib_version()")).scalar())
    except StoreError:
        raise
    except sa.exc.DBAPIError as exc:
        msg = _first_line(exc)
        if "file is not a database" in msg or "file is encrypted" in msg:
            raise StoreError(f"{engine.url.database} is not a SQLite database") from exc
        raise StoreError(f"cannot connect to database {shown}: {msg}") from exc
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"cannot use database {shown}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return text[0] if text else type(inner).__name__
