"""Importing a GPS track file into the store (``patrol_tracks`` + ``patrol_fixes``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.core import settings
from gis.core.errors import InputError
from gis.core.geometry import district_outline
from gis.io import accounting_line, write_table
from gis.patrol.clean import CYCLE_MAX_SPEED_MPS, GPS_ACCURACY_M, clean_fixes
from gis.patrol.clock import DEFAULT_SHIFTS, parse_shifts, shift_index, times_ns
from gis.patrol.tracks import read_tracks
from gis.store import read_grids
from gis.store.batches import record_import_batch
from gis.store.tracks import lock_fixes, save_tracks, stored_fix_times

ALREADY_IMPORTED = "already imported (same staff and time in the store)"


@dataclass
class TrackImportResult:
    """What ``import_tracks`` did: ``total = imported + len(dropped)`` always.

    ``dropped`` holds the dropped fixes (the file's columns, ``row`` -- 1-based position in the
    file's rows -- ``lon, lat`` and ``reason``); ``summary`` is ``clean_fixes``'s plus
    ``already_imported``; ``tracks`` the ``patrol_tracks`` rows written.
    """

    total: int
    imported: int
    dropped: pd.DataFrame = field(repr=False)
    tracks: pd.DataFrame = field(repr=False)
    summary: dict = field(default_factory=dict)
    batch_id: int | None = None
    file_name: str | None = None

    @property
    def reasons(self) -> pd.Series:
        """Dropped fixes per reason, largest first."""
        if not len(self.dropped):
            return pd.Series(dtype=int)
        return self.dropped["reason"].value_counts()

    def summary_line(self) -> str:
        """``N imported + M rejected = T total (reason: n; ...)``."""
        return accounting_line(self.imported, self.dropped, self.total)


def _track_rows(kept: gpd.GeoDataFrame) -> pd.DataFrame:
    """One ``patrol_tracks`` row per cleaned track: code ``STAFF/YYYYmmddTHHMMSS`` of its start,
    the default shift its start falls in (``morning`` 09:00-19:00, ``evening`` otherwise)."""
    g = kept.groupby("track_id", sort=True)
    tr = pd.DataFrame(
        {
            "staff_code": g["staff_code"].first(),
            "started_at": g["t"].min(),
            "ended_at": g["t"].max(),
        }
    ).reset_index()
    tr["track_code"] = [
        f"{s}/{t:%Y%m%dT%H%M%S}" for s, t in zip(tr["staff_code"], tr["started_at"], strict=True)
    ]
    idx, _ = shift_index(times_ns(tr["started_at"]), parse_shifts(DEFAULT_SHIFTS))
    tr["shift"] = np.where(idx == 0, "morning", "evening")
    return tr


def _drop_stored(conn, res, total: int, path: Path) -> tuple[TrackImportResult, gpd.GeoDataFrame]:
    """Drop the cleaned fixes (``res`` of ``clean_fixes``) whose staff member already has a fix
    at the same time in the store (read on ``conn``, the import's transaction); the result with
    the tracks to write, and the fixes kept."""
    kept = res.fixes
    dup = np.zeros(len(kept), dtype=bool)
    if len(kept):
        old = stored_fix_times(conn, kept["staff_code"], kept["t"].min(), kept["t"].max())
        if len(old):
            key = pd.MultiIndex.from_arrays(
                [old["staff_code"].astype(str), pd.to_datetime(old["t"]).astype("datetime64[ns]")]
            )
            mine = pd.MultiIndex.from_arrays(
                [kept["staff_code"].astype(str), kept["t"].astype("datetime64[ns]")]
            )
            dup = mine.isin(key)
    dropped = res.dropped
    if dup.any():
        again = pd.DataFrame(kept.loc[dup].drop(columns=kept.geometry.name))
        g = kept.geometry.to_numpy()[dup]
        again["lon"], again["lat"] = shapely.get_x(g), shapely.get_y(g)
        again["reason"] = ALREADY_IMPORTED
        again = again.drop(columns=["track_id"], errors="ignore")
        dropped = pd.concat([dropped, again])
        kept = kept.loc[~dup]
    dropped = dropped.sort_index()
    dropped.insert(0, "row", dropped.index.to_numpy() + 1)
    tracks = _track_rows(kept) if len(kept) else pd.DataFrame(columns=["track_id", "track_code"])
    if len(kept) + len(dropped) != total:  # pragma: no cover - an invariant of clean_fixes
        raise InputError(f"{path}: {len(kept)} kept + {len(dropped)} dropped != {total} fixes")
    summary = dict(res.summary)
    summary["already_imported"] = int(dup.sum())
    summary["tracks_written"] = len(tracks)
    result = TrackImportResult(
        total=total,
        imported=len(kept),
        dropped=dropped.reset_index(drop=True),
        tracks=tracks,
        summary=summary,
        file_name=path.name,
    )
    return result, kept


def import_tracks(
    engine,
    path: str | Path,
    *,
    crs: str | int | None = "wgs84",
    tz: str | None = None,
    mapping: Mapping[str, str] | None = None,
    staff_code: str | None = None,
    imported_by: str = "cli",
    max_speed_mps: float = CYCLE_MAX_SPEED_MPS,
    split_gap_s: float = 600.0,
    tolerance_m: float = GPS_ACCURACY_M,
    dropped_out: str | Path | None = None,
    now: datetime | None = None,
) -> TrackImportResult:
    """Import a GPS track file into ``patrol_tracks`` + ``patrol_fixes`` in one transaction.

    The file is read with ``read_tracks`` and cleaned with ``clean_fixes`` (the district is
    ``gis.core.geometry.district_outline`` of the store's current grids -- the union of the
    level-1 grids -- ``tolerance_m`` outside it allowed; no district check when the store has
    no grids). Kept fixes whose staff member already
    has a fix at the same time in the store are dropped as ``already imported``, so importing
    a file twice adds nothing. Each cleaned track becomes a ``patrol_tracks`` row (code
    ``STAFF/YYYYmmddTHHMMSS`` of its first fix; a numeric suffix if taken). An
    ``import_batches`` row (kind ``tracks``, ``gis.store.batches.record_import_batch``) records
    the counts and reasons; the tracks and fixes are written by ``gis.store.tracks``. Every fix is
    accounted for: ``imported + dropped = total``.

    Parameters
    ----------
    engine
        The store (``gis.store.open_store``).
    path, crs, tz, mapping, staff_code
        See ``read_tracks``.
    max_speed_mps, split_gap_s
        See ``clean_fixes`` (7 m/s cycling by default; 2.5 for foot patrols).
    dropped_out
        CSV for the dropped fixes with their reasons (UTF-8 with BOM, opens in Excel).
    now
        Fixes later than this wall-clock time are dropped as ``time in the future`` (default:
        now in the district's zone).
    """
    path = Path(path)
    fixes = read_tracks(path, crs=crs, tz=tz, mapping=mapping, staff_code=staff_code)
    grids = read_grids(engine)
    district = district_outline(grids) if len(grids) else None
    res = clean_fixes(
        fixes,
        max_speed_mps=max_speed_mps,
        district=district,
        tolerance_m=tolerance_m,
        split_gap_s=split_gap_s,
        now=now
        if now is not None
        else pd.Timestamp.now(tz or settings.DISTRICT_TZ).tz_localize(None),
    )
    with engine.begin() as conn:
        # the duplicate check inside the writing transaction, after taking the fixes' write
        # lock: two imports of one file at once store its fixes once
        lock_fixes(conn)
        result, kept = _drop_stored(conn, res, len(fixes), path)
        tracks = result.tracks
        result.batch_id = record_import_batch(
            conn,
            kind="tracks",
            file_name=path.name,
            imported_by=imported_by,
            total=result.total,
            imported=result.imported,
            rejected=len(result.dropped),
            details={
                "reasons": result.reasons.to_dict(),
                "tracks": len(tracks),
                "splits_gap": result.summary["splits_gap"],
                "splits_jump": result.summary["splits_jump"],
                "crs": str(crs),
                "max_speed_mps": max_speed_mps,
                "split_gap_s": split_gap_s,
            },
        )
        if len(tracks):
            tracks["track_code"] = save_tracks(conn, tracks, kept)
    if dropped_out is not None and len(result.dropped):
        write_table(result.dropped, dropped_out)
    return result
