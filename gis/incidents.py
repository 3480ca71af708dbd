"""Incident files in and out of the store, every row accounted for.

This is the plain round trip (GridLens's own CSV/GeoJSON columns). Each row is either imported or
rejected with its reason; ``imported + rejected = total`` always holds, and an import is one
transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gis import settings
from gis.errors import InputError
from gis.io import accounting_line, read_geo_file, rejected_rows, write_geo_file
from gis.store.frames import save_frame

STORE_COLUMNS = [
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
    "description",
    "grid_code",
]
TIME_COLUMNS = ("occurred_at", "reported_at", "closed_at")


@dataclass
class ImportResult:
    """What an import did: counts, the batch id, and the rejected rows with a ``reason`` column."""

    total: int
    imported: int
    rejected: pd.DataFrame = field(repr=False)
    batch_id: int | None = None

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)

    def summary_line(self) -> str:
        """``imported + rejected = total``, with the reasons counted."""
        return accounting_line(self.imported, self.rejected, self.total)


def _stable_id(frame: pd.DataFrame, geoms: np.ndarray) -> pd.Series:
    """A content hash for rows without an external id, so re-importing a file adds nothing."""
    wkb = shapely.to_wkb(geoms)
    keys = (
        frame.get("occurred_at", pd.Series("", index=frame.index)).astype(str)
        + "|"
        + frame.get("category_code", pd.Series("", index=frame.index)).astype(str)
        + "|"
        + pd.Series([b.hex() if b is not None else "" for b in wkb], index=frame.index)
    )
    return "H" + keys.map(lambda k: hashlib.sha1(k.encode()).hexdigest()[:16])


_OFFSET = r"(?:[+-]\d{2}:?\d{2}|Z)$"


def parse_times(values: pd.Series, tz: str = settings.DISTRICT_TZ) -> pd.Series:
    """Parse times in any common format to naive wall-clock times in ``tz``.

    Text with a UTC offset or ``Z`` is converted to ``tz``; text without one is taken as ``tz``
    wall-clock already. Unparseable values become NaT.
    """
    text = values.astype("string").str.strip()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    has_offset = text.str.contains(_OFFSET, regex=True, na=False)
    if has_offset.any():
        aware = pd.to_datetime(text[has_offset], errors="coerce", utc=True, format="mixed")
        out[has_offset] = aware.dt.tz_convert(tz).dt.tz_localize(None).astype("datetime64[ns]")
    naive = ~has_offset & text.notna()
    if naive.any():
        out[naive] = pd.to_datetime(text[naive], errors="coerce", format="mixed").astype(
            "datetime64[ns]"
        )
    return out


def prepare_incidents(
    frame: gpd.GeoDataFrame,
    geometry_reason: pd.Series,
    *,
    columns: dict[str, str] | None = None,
    existing_ids: set[str] | frozenset[str] = frozenset(),
    tz: str = settings.DISTRICT_TZ,
    now: datetime | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Split rows into those to import (store columns) and those rejected (with ``reason``).

    Parameters
    ----------
    columns
        ``{store column: file column}``, e.g. ``{"occurred_at": "Created Date"}``.
    tz
        Zone for times: text with an offset is converted to it, naive text is taken as it.

    Rejection reasons: no/invalid coordinates (from ``geometry_reason``), not a point, unparseable
    or missing ``occurred_at``, a time in the future, an external id repeated in the file or
    already in the store.
    """
    now = now or datetime.now()
    frame = frame.copy()
    for target, source in (columns or {}).items():
        if target not in STORE_COLUMNS:
            raise InputError(f"unknown incident column {target!r}; one of {STORE_COLUMNS}")
        if source not in frame:
            raise InputError(f"column {source!r} (for {target}) is not in the file")
        frame[target] = frame[source]
    reason = geometry_reason.astype(object).copy()
    geoms = frame.geometry.to_numpy()
    not_point = (reason == "") & (shapely.get_type_id(geoms) != 0)
    reason[not_point] = "geometry is not a point"
    if "occurred_at" not in frame:
        raise InputError("no 'occurred_at' column (the time the incident happened)")
    for col in TIME_COLUMNS:
        if col in frame:
            frame[col] = parse_times(frame[col], tz)
    bad_time = (reason == "") & frame["occurred_at"].isna()
    reason[bad_time] = "missing or unreadable occurred_at"
    future = (reason == "") & (frame["occurred_at"] > pd.Timestamp(now))
    reason[future] = "occurred_at is in the future"
    if "external_id" not in frame or frame["external_id"].isna().all():
        frame["external_id"] = _stable_id(frame, geoms)
    frame["external_id"] = frame["external_id"].astype(str)
    dup_in_file = (reason == "") & frame["external_id"].duplicated(keep="first")
    reason[dup_in_file] = "duplicate external_id in the file"
    in_store = (reason == "") & frame["external_id"].isin(existing_ids)
    reason[in_store] = "already imported (external_id exists)"
    ok = (reason == "").to_numpy()
    keep = [c for c in STORE_COLUMNS if c in frame]
    accepted = gpd.GeoDataFrame(frame.loc[ok, keep], geometry=geoms[ok], crs=frame.crs)
    return accepted, rejected_rows(frame, reason)


def import_incidents(
    engine: Engine,
    path: str | Path,
    *,
    imported_by: str = "cli",
    columns: dict[str, str] | None = None,
    lon: str | None = None,
    lat: str | None = None,
    crs: str | int | None = None,
    tz: str = settings.DISTRICT_TZ,
    rejected_out: str | Path | None = None,
) -> ImportResult:
    """Import an incident file in one transaction; write rejected rows to ``rejected_out``.

    See ``prepare_incidents`` for ``columns`` and ``tz`` and for the rejection reasons.
    """
    frame, reasons = read_geo_file(path, lon=lon, lat=lat, crs=crs)
    with engine.connect() as conn:
        existing = set(conn.execute(sa.text("SELECT external_id FROM incidents")).scalars())
    accepted, rejected = prepare_incidents(
        frame, reasons, columns=columns, existing_ids=existing, tz=tz
    )
    result = ImportResult(total=len(frame), imported=len(accepted), rejected=rejected)
    with engine.begin() as conn:
        batch = conn.execute(
            sa.text(
                "INSERT INTO import_batches (kind, file_name, imported_by, imported_at, total,"
                " imported, rejected, details) VALUES ('incidents', :f, :by, :at, :t, :i, :r, :d)"
            ),
            {
                "f": Path(path).name,
                "by": imported_by,
                "at": datetime.now().replace(microsecond=0),
                "t": result.total,
                "i": result.imported,
                "r": result.rejected_count,
                "d": json.dumps(rejected["reason"].value_counts().to_dict(), ensure_ascii=False),
            },
        )
        result.batch_id = batch.lastrowid if conn.dialect.name != "postgresql" else None
        if result.batch_id is None:
            result.batch_id = conn.execute(sa.text("SELECT max(id) FROM import_batches")).scalar()
        accepted = accepted.assign(batch_id=result.batch_id)
        save_frame(conn, "incidents", accepted)
    if rejected_out is not None and len(rejected):
        Path(rejected_out).parent.mkdir(parents=True, exist_ok=True)
        rejected.to_csv(rejected_out, index=False, encoding="utf-8-sig")
    return result


def export_incidents(frame: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write incidents (store columns + geometry) to CSV (lon/lat), Excel or a vector file."""
    cols = [c for c in STORE_COLUMNS if c in frame]
    return write_geo_file(frame[[*cols, frame.geometry.name]], path)
