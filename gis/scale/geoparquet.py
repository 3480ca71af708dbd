"""Writing point GeoParquet: WKB ``geometry`` with GeoParquet 1.0 metadata beside plain
``lon, lat`` columns, into hive-style folders, a part file at a time.

The geometry column makes the files GeoParquet (QGIS, GDAL, geopandas, DuckDB read them as
points in OGC:CRS84, i.e. lon/lat); the ``lon, lat`` columns let the kernels skip decoding
WKB (a float column reads ten times faster). :class:`PartWriter` buffers rows per folder key
and writes each buffer as a new part file when it is full, so no writer stays open and memory
is bounded by the buffers, never by the table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

__all__ = ["GEO_VERSION", "PartWriter", "geoparquet_table", "write_points_file"]

#: The GeoParquet version written.
GEO_VERSION = "1.0.0"


def geoparquet_table(frame: pd.DataFrame) -> pa.Table:
    """``frame`` (with ``lon, lat`` in EPSG:4326) as an Arrow table with a WKB point
    ``geometry`` column (null without a location) and GeoParquet metadata (CRS omitted: the
    specification's default OGC:CRS84, lon/lat; ``bbox`` of the located points)."""
    lon = frame["lon"].to_numpy(dtype=np.float64)
    lat = frame["lat"].to_numpy(dtype=np.float64)
    ok = np.isfinite(lon) & np.isfinite(lat)
    wkb = np.full(len(frame), None, dtype=object)
    if ok.any():
        wkb[ok] = shapely.to_wkb(shapely.points(lon[ok], lat[ok]))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.append_column("geometry", pa.array(wkb, type=pa.binary()))
    column = {"encoding": "WKB", "geometry_types": ["Point"]}
    if ok.any():
        column["bbox"] = [
            float(lon[ok].min()),
            float(lat[ok].min()),
            float(lon[ok].max()),
            float(lat[ok].max()),
        ]
    geo = {"version": GEO_VERSION, "primary_column": "geometry", "columns": {"geometry": column}}
    meta = dict(table.schema.metadata or {})
    meta[b"geo"] = json.dumps(geo).encode()
    return table.replace_schema_metadata(meta)


def write_points_file(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write points (``lon, lat`` and any columns) as one GeoParquet file (zstd)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(geoparquet_table(frame), path, compression="zstd")
    return path


class PartWriter:
    """Rows buffered per hive key (``("month=2025-01", "staff_bucket=07")``) and written as
    numbered part files under ``folder/<key...>/`` whenever a buffer reaches ``rows``.

    Parameters
    ----------
    folder
        The output folder.
    rows
        Rows per part file (the last ones of each key may be smaller).
    prefix
        File name prefix (a writer per task gives each its own prefix, so parallel writers
        never collide).
    """

    def __init__(self, folder: str | Path, rows: int = 250_000, prefix: str = "part") -> None:
        self.folder = Path(folder)
        self.rows = int(rows)
        self.prefix = prefix
        self.buffers: dict[tuple[str, ...], list[pd.DataFrame]] = {}
        self.sizes: dict[tuple[str, ...], int] = {}
        self.files: list[Path] = []
        self.written = 0
        self._seq: dict[tuple[str, ...], int] = {}

    def add(self, key: Sequence[str], frame: pd.DataFrame) -> None:
        """Buffer ``frame`` under ``key``; write the buffer when it is full."""
        if not len(frame):
            return
        key = tuple(key)
        self.buffers.setdefault(key, []).append(frame)
        self.sizes[key] = self.sizes.get(key, 0) + len(frame)
        if self.sizes[key] >= self.rows:
            self.flush(key)

    def add_grouped(self, frame: pd.DataFrame, keys: Sequence[str], names: Sequence[str]) -> None:
        """Buffer every row of ``frame`` under the hive key made of its ``keys`` columns
        (named ``names`` in the folder names); the key columns are not written."""
        if not len(frame):
            return
        for values, part in frame.groupby(list(keys), sort=True, observed=True):
            values = values if isinstance(values, tuple) else (values,)
            folder = tuple(f"{n}={v}" for n, v in zip(names, values, strict=True))
            self.add(folder, part.drop(columns=list(keys)))

    def flush(self, key: tuple[str, ...] | None = None) -> None:
        """Write one key's buffer (default: every buffer) as a new part file."""
        keys = [key] if key is not None else list(self.buffers)
        for k in keys:
            parts = self.buffers.pop(k, [])
            self.sizes.pop(k, None)
            if not parts:
                continue
            frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
            seq = self._seq.get(k, 0)
            self._seq[k] = seq + 1
            path = self.folder.joinpath(*k) / f"{self.prefix}-{seq:05d}.parquet"
            self.files.append(write_points_file(frame.reset_index(drop=True), path))
            self.written += len(frame)

    def close(self) -> list[Path]:
        """Write what is left; the files written."""
        self.flush()
        return self.files
