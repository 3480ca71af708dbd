"""Exporting the store as partitioned GeoParquet: the city-scale exchange (``gridlens
export-parquet``).

Incidents go to ``month=YYYY-MM/part-NNNNN.parquet`` (the month of ``occurred_at``), GPS fixes
to ``month=YYYY-MM/staff_bucket=NN/part-NNNNN.parquet`` (a stable hash of the staff code, so
that a staff bucket, read across its months, holds whole tracks: :mod:`gis.scale.buckets`).
The store is read a page at a time in id order (``gis.store.pages``), and rows are buffered per
folder and written as part files (:class:`gis.scale.geoparquet.PartWriter`): memory is bounded
by a page and the buffers, never by the table. Files are GeoParquet 1.0 (WKB point
``geometry``, lon/lat) with ``lon, lat`` columns beside it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from gis.core.errors import InputError
from gis.scale.buckets import BUCKET_KEY, bucket_count, bucket_labels, staff_bucket
from gis.scale.geoparquet import PartWriter
from gis.store import count_rows
from gis.store.pages import iter_fix_pages, iter_incident_pages

__all__ = ["EXPORT_KINDS", "ExportResult", "export_fixes_parquet", "export_incidents_parquet"]

#: What ``gridlens export-parquet --what`` exports.
EXPORT_KINDS = ("incidents", "fixes")
_NO_MONTH = "none"


@dataclass
class ExportResult:
    """Rows and files written, per month."""

    folder: Path
    rows: int
    files: list[Path] = field(default_factory=list)
    months: dict[str, int] = field(default_factory=dict)
    buckets: int | None = None

    def summary_line(self) -> str:
        """``N rows in F files, M months -> folder``."""
        line = f"{self.rows} rows in {len(self.files)} files, {len(self.months)} months"
        if self.buckets:
            line += f", {self.buckets} staff buckets"
        return f"{line} -> {self.folder}"


def _prepare_folder(folder: str | Path, overwrite: bool) -> Path:
    out = Path(folder)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise InputError(f"{out}: the folder is not empty (overwrite it with --force)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _month_of(t: pd.Series) -> np.ndarray:
    month = t.dt.strftime("%Y-%m")
    return month.where(month.notna(), _NO_MONTH).to_numpy(dtype=object)


def export_incidents_parquet(
    engine: Engine,
    folder: str | Path,
    by: str = "month",
    *,
    chunk: int = 500_000,
    file_rows: int = 1_000_000,
    overwrite: bool = False,
) -> ExportResult:
    """Write every stored incident to ``folder/month=YYYY-MM/part-NNNNN.parquet``.

    Parameters
    ----------
    by
        ``month`` (of ``occurred_at``; incidents without a time go to ``month=none``).
    chunk
        Rows read from the store per page.
    file_rows
        Rows per part file (a month's last file holds the rest).
    overwrite
        Replace a folder that is not empty (default: refuse).

    Returns
    -------
    ExportResult
        Rows, files and rows per month.
    """
    if by != "month":
        raise InputError(f"incidents are partitioned by month, got by={by!r}")
    out = _prepare_folder(folder, overwrite)
    writer = PartWriter(out, rows=file_rows)
    months: dict[str, int] = {}
    for page in iter_incident_pages(engine, chunk=chunk):
        page = page.assign(_month=_month_of(page["occurred_at"]))
        for m, n in page["_month"].value_counts().items():
            months[str(m)] = months.get(str(m), 0) + int(n)
        writer.add_grouped(page, ["_month"], ["month"])
    files = writer.close()
    return ExportResult(out, writer.written, files, dict(sorted(months.items())))


def export_fixes_parquet(
    engine: Engine,
    folder: str | Path,
    *,
    buckets: int | None = None,
    chunk: int = 500_000,
    file_rows: int = 1_000_000,
    overwrite: bool = False,
) -> ExportResult:
    """Write every stored GPS fix to ``folder/month=YYYY-MM/staff_bucket=NN/part-NNNNN.parquet``.

    Parameters
    ----------
    buckets
        Staff buckets (default about 500,000 fixes each: ``gis.scale.buckets.bucket_count``).
        A bucket read across every month is one partition of ``gis.scale.coverage``.
    chunk, file_rows, overwrite
        As :func:`export_incidents_parquet`.

    Returns
    -------
    ExportResult
        Rows, files, rows per month and the number of buckets.
    """
    out = _prepare_folder(folder, overwrite)
    n = buckets or bucket_count(count_rows(engine, "patrol_fixes"))
    writer = PartWriter(out, rows=file_rows)
    months: dict[str, int] = {}
    for page in iter_fix_pages(engine, chunk=chunk):
        bucket = staff_bucket(page["staff_code"], n)
        page = page.assign(
            _month=_month_of(page["t"]),
            _bucket=bucket_labels(bucket, n),
        )
        for m, k in page["_month"].value_counts().items():
            months[str(m)] = months.get(str(m), 0) + int(k)
        writer.add_grouped(page, ["_month", "_bucket"], ["month", BUCKET_KEY])
    files = writer.close()
    return ExportResult(out, writer.written, files, dict(sorted(months.items())), n)
