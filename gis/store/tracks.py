"""Patrol tracks in the store: the fixes already stored, and writing imported tracks with their
fixes (``patrol_tracks`` + ``patrol_fixes``). ``gis.patrol.import_tracks`` reads and cleans the
file; the SQL lives here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gis.store.frames import read_frame, save_frame

__all__ = ["lock_fixes", "save_tracks", "stored_fix_times"]

#: the columns of a ``patrol_tracks`` row written by ``save_tracks``
TRACK_COLUMNS = ["track_code", "staff_code", "shift", "started_at", "ended_at"]


def lock_fixes(conn: Connection) -> None:
    """Take the write lock on ``patrol_fixes`` for the rest of ``conn``'s transaction, so a
    duplicate check made after it sees every fix another import could add before this one
    commits (the second import waits here until the first has committed).

    PostGIS: ``LOCK TABLE ... IN SHARE ROW EXCLUSIVE MODE`` (readers go on, a second writer
    waits). SpatiaLite: a write statement that changes nothing, which takes the database's
    write lock at once (before any read of this transaction).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("LOCK TABLE patrol_fixes IN SHARE ROW EXCLUSIVE MODE"))
    else:
        conn.execute(sa.text("DELETE FROM patrol_fixes WHERE 0 = 1"))


def stored_fix_times(
    engine: Engine | Connection, staff_codes: Iterable[str], start: datetime, end: datetime
) -> pd.DataFrame:
    """``staff_code, t`` of the stored fixes of ``staff_codes`` with ``start <= t <= end``
    (both ends included): what an import must not add again."""
    codes = sorted(set(staff_codes))
    if not codes:
        return pd.DataFrame(columns=["staff_code", "t"])
    names = ", ".join(f":s{i}" for i in range(len(codes)))
    params = {f"s{i}": c for i, c in enumerate(codes)}
    params["a"] = pd.Timestamp(start).to_pydatetime()
    params["b"] = pd.Timestamp(end).to_pydatetime()
    return read_frame(
        engine,
        "patrol_fixes",
        columns=["staff_code", "t"],
        where=f"t >= :a AND t <= :b AND staff_code IN ({names})",
        params=params,
    )


def save_tracks(conn: Connection, tracks: pd.DataFrame, fixes: gpd.GeoDataFrame) -> list[str]:
    """Write ``tracks`` to ``patrol_tracks`` and their ``fixes`` to ``patrol_fixes`` on ``conn``
    (the import's transaction).

    Parameters
    ----------
    tracks
        One row per track: ``track_id`` (the import's own key of the track), ``track_code``,
        ``staff_code``, ``shift``, ``started_at``, ``ended_at``. A code already in the store gets
        a numeric suffix (``-2``, ``-3`` ...).
    fixes
        ``track_id`` (the import's key), ``staff_code``, ``t`` and point geometry (EPSG:4326).

    Returns
    -------
    list[str]
        The track codes written, in the order of ``tracks``.
    """
    if not len(tracks):
        return []
    taken = set(
        conn.execute(
            sa.text("SELECT track_code FROM patrol_tracks WHERE track_code LIKE :p"),
            {"p": "%/%"},
        ).scalars()
    )
    codes = []
    for code in tracks["track_code"]:
        final, k = code, 1
        while final in taken:
            k += 1
            final = f"{code}-{k}"
        taken.add(final)
        codes.append(final)
    tracks = tracks.assign(track_code=codes)
    save_frame(conn, "patrol_tracks", tracks[TRACK_COLUMNS])
    ids = read_frame(conn, "patrol_tracks", columns=["id", "track_code"]).set_index("track_code")
    db_id = tracks.set_index("track_id")["track_code"].map(ids["id"])
    out = gpd.GeoDataFrame(
        {
            "track_id": fixes["track_id"].map(db_id).astype("int64").to_numpy(),
            "staff_code": fixes["staff_code"].astype(str).to_numpy(),
            "t": fixes["t"].astype("datetime64[ns]").to_numpy(),
        },
        geometry=fixes.geometry.to_numpy(),
        crs=4326,
    )
    save_frame(conn, "patrol_fixes", out)
    return codes
