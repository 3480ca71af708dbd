"""Folders of (Geo)Parquet points: what a city-scale run reads.

A *point folder* is any folder (or single file) of Parquet files holding points with the usual
columns: ``lon, lat`` (or a GeoParquet / WKB ``geometry``), a time (``occurred_at`` or ``t``), and
for incidents ``category_code`` (``source`` optional), for GPS fixes ``staff_code`` (``track_code``
optional). Headers are recognised by THE column guesser (:func:`gis.io.detect_columns`), so the
Chinese and English names the import pages know work here too. Hive-style folders
(``month=2025-01/staff_bucket=07/part-00000.parquet``) are read with their keys; files and
folders starting with ``_`` or ``.`` are skipped (Spark/Dask conventions).

Every partition is normalised the same way, in one process or on a Dask worker, by
:func:`normalize_points`: ``lon, lat`` (float, EPSG:4326, NaN without a location), ``t`` (naive
wall clock in the district's zone, through :func:`gis.core.times.parse_times`) and the text
columns as ``str`` ("" when missing). A folder is never read whole unless asked
(:func:`read_points_folder`); :meth:`PointFolder.batches` reads one row-group batch at a time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyproj
import shapely

from gis.core.errors import InputError
from gis.core.times import parse_times
from gis.io.columns import INCIDENT_FIELDS, TRACK_FIELDS, detect_columns

__all__ = [
    "hive_keys",
    "PARQUET_SUFFIXES",
    "POINT_KINDS",
    "PointFolder",
    "normalize_points",
    "read_points_folder",
    "scan_points",
]

#: File suffixes read as Parquet.
PARQUET_SUFFIXES = (".parquet", ".parq", ".geoparquet", ".pq")
#: What a folder holds: incidents or GPS fixes (which columns are needed).
POINT_KINDS = ("incidents", "fixes")
#: Normalised text columns per kind (the time is always ``t``).
_TEXT_COLUMNS = {
    "incidents": ("category_code", "source"),
    "fixes": ("staff_code", "track_code"),
}
_REQUIRED = {"incidents": ("category_code",), "fixes": ("staff_code",)}
_TIME_NAMES = ("occurred_at", "t", "time", "timestamp", "datetime")
_GEOMETRY_NAMES = ("geometry", "geom", "wkb", "the_geom")
_HIVE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.+)$")
_LONLAT_CRS = ("OGC:CRS84", "EPSG:4326", "EPSG:4490")


def _parquet_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or folder")
    out = []
    for f in sorted(path.rglob("*")):
        rel = f.relative_to(path).parts
        if any(p.startswith(("_", ".")) for p in rel):
            continue
        if f.is_file() and f.suffix.lower() in PARQUET_SUFFIXES:
            out.append(f)
    if not out:
        raise InputError(f"{path}: no Parquet files (*.parquet) in the folder")
    return out


def hive_keys(path: Path, root: Path) -> dict[str, str]:
    """``{key: value}`` of the hive-style folders (``month=2025-01``) between root and file."""
    parts = path.relative_to(root).parts[:-1] if path != root else ()
    return {m.group(1): m.group(2) for p in parts if (m := _HIVE.match(p))}


def _geometry_column(schema, names: list[str]) -> tuple[str | None, str | None]:
    """The WKB geometry column and its CRS (None: lon/lat) from GeoParquet metadata or a name."""
    meta = schema.metadata or {}
    if b"geo" in meta:
        geo = json.loads(meta[b"geo"])
        col = geo.get("primary_column")
        crs = (geo.get("columns", {}).get(col) or {}).get("crs")
        if isinstance(crs, dict):
            crs = json.dumps(crs)
        return col, crs
    for name in names:
        if name.lower() in _GEOMETRY_NAMES:
            return name, None
    return None, None


@dataclass(frozen=True)
class PointFolder:
    """A scanned folder of point Parquet files (nothing read but the first file's schema).

    Attributes
    ----------
    root
        The folder (or the single file) given.
    kind
        ``incidents`` or ``fixes``.
    files
        The Parquet files, sorted by path.
    columns
        ``{normalised name: file column}``: ``lon, lat`` (absent when ``geometry`` is used),
        ``t`` and the kind's text columns that exist.
    geometry
        The WKB geometry column read when there are no ``lon, lat`` columns.
    geometry_crs
        The CRS of ``geometry`` (GeoParquet metadata), None for lon/lat.
    rows
        Rows in all files (from the Parquet footers).
    """

    root: Path
    kind: str
    files: tuple[Path, ...]
    columns: dict[str, str]
    geometry: str | None = None
    geometry_crs: str | None = None
    rows: int = 0
    keys: tuple[dict[str, str], ...] = field(default_factory=tuple)

    @property
    def file_columns(self) -> list[str]:
        """The file columns a partition reads."""
        cols = list(dict.fromkeys(self.columns.values()))
        if self.geometry and "lon" not in self.columns:
            cols.append(self.geometry)
        return cols

    def normalize(self, frame: pd.DataFrame) -> pd.DataFrame:
        """One partition of file columns as normalised columns (see :func:`normalize_points`)."""
        return normalize_points(
            frame, self.kind, self.columns, geometry=self.geometry, geometry_crs=self.geometry_crs
        )

    def batches(self, rows: int = 1_000_000, files: Sequence[Path] | None = None):
        """Normalised frames of at most ``rows`` rows, file by file (bounded memory).

        Yields
        ------
        pandas.DataFrame
            Normalised points (see :func:`normalize_points`).
        """
        for f in files if files is not None else self.files:
            pf = pq.ParquetFile(f)
            for batch in pf.iter_batches(batch_size=rows, columns=self.file_columns):
                yield self.normalize(batch.to_pandas())

    def read_files(self, files: Sequence[Path]) -> pd.DataFrame:
        """Normalised rows of some of the files, concatenated (one partition of a run)."""
        parts = [
            self.normalize(pq.read_table(f, columns=self.file_columns).to_pandas()) for f in files
        ]
        if not parts:
            return self.normalize(pd.DataFrame({c: [] for c in self.file_columns}))
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    def meta(self) -> pd.DataFrame:
        """An empty normalised frame (the column types of a partition)."""
        return normalize_points(
            pd.DataFrame(
                {
                    c: pd.Series([], dtype=float if c in ("lon", "lat") else object)
                    for c in self.columns.values()
                }  # fmt: skip
            ),
            self.kind,
            self.columns,
        )

    def to_dask(self) -> dd.DataFrame:
        """The folder as a Dask DataFrame of normalised partitions (``dd.read_parquet`` of the
        files, one partition per file or row group, then :func:`normalize_points` on each)."""
        raw = dd.read_parquet(
            [str(f) for f in self.files], columns=self.file_columns, split_row_groups="adaptive"
        )
        return raw.map_partitions(
            normalize_points,
            self.kind,
            self.columns,
            geometry=self.geometry,
            geometry_crs=self.geometry_crs,
            meta=self.meta(),
        )

    def month_groups(self) -> dict[str | None, list[Path]]:
        """Files grouped by their hive ``month=`` key (None for files without one)."""
        groups: dict[str | None, list[Path]] = {}
        for f, keys in zip(self.files, self.keys, strict=True):
            groups.setdefault(keys.get("month"), []).append(f)
        return groups

    def lonlat_bounds(self) -> tuple[float, float, float, float] | None:
        """``(min lon, min lat, max lon, max lat)`` from the Parquet column statistics (or
        GeoParquet bbox), without reading the rows; None when the footers do not say."""
        boxes = []
        for f in self.files:
            md = pq.ParquetFile(f).metadata
            if "lon" in self.columns:
                names = [md.schema.column(i).name for i in range(md.num_columns)]
                try:
                    ix, iy = names.index(self.columns["lon"]), names.index(self.columns["lat"])
                except ValueError:
                    return None
                for g in range(md.num_row_groups):
                    rg = md.row_group(g)
                    sx, sy = rg.column(ix).statistics, rg.column(iy).statistics
                    if sx is None or sy is None or not sx.has_min_max or not sy.has_min_max:
                        return None
                    boxes.append((sx.min, sy.min, sx.max, sy.max))
            else:
                geo = json.loads((md.metadata or {}).get(b"geo", b"{}") or b"{}")
                bbox = (geo.get("columns", {}).get(self.geometry) or {}).get("bbox")
                if not bbox or self.geometry_crs is not None:
                    return None
                boxes.append(tuple(bbox[:4]))
        if not boxes:
            return None
        arr = np.array(boxes, dtype=float)
        arr = arr[np.isfinite(arr).all(axis=1)]
        if not len(arr):
            return None
        return (
            float(arr[:, 0].min()),
            float(arr[:, 1].min()),
            float(arr[:, 2].max()),
            float(arr[:, 3].max()),
        )


def scan_points(path: str | Path, kind: str = "incidents") -> PointFolder:
    """Scan a file or folder of (Geo)Parquet points: files, columns, rows (no rows read).

    Parameters
    ----------
    path
        A ``.parquet`` file or a folder of them (searched recursively, hive folders allowed).
    kind
        ``incidents`` (needs a time and ``category_code``) or ``fixes`` (a time and
        ``staff_code``).

    Raises
    ------
    InputError
        No Parquet files, or a needed column (location, time, category / staff) not found.
    """
    if kind not in POINT_KINDS:
        raise InputError(f"kind must be one of {', '.join(POINT_KINDS)}, got {kind!r}")
    root = Path(path)
    files = _parquet_files(root)
    schema = pq.read_schema(files[0])
    names = list(schema.names)
    mapping = detect_columns(names, schema=INCIDENT_FIELDS if kind == "incidents" else TRACK_FIELDS)
    columns: dict[str, str] = {}
    if "lon" in mapping and "lat" in mapping:
        columns["lon"], columns["lat"] = mapping["lon"], mapping["lat"]
    time_col = mapping.get("occurred_at") or mapping.get("t")
    if time_col is None:
        time_col = next((n for n in names if n.lower() in _TIME_NAMES), None)
    if time_col is not None:
        columns["t"] = time_col
    for name in _TEXT_COLUMNS[kind]:
        if name in mapping:
            columns[name] = mapping[name]
    geometry, crs = (None, None) if "lon" in columns else _geometry_column(schema, names)
    missing = [c for c in ("t", *_REQUIRED[kind]) if c not in columns]
    if "lon" not in columns and geometry is None:
        missing.insert(0, "lon/lat or geometry")
    if missing:
        raise InputError(f"{files[0]}: no column for {', '.join(missing)} among {', '.join(names)}")
    if crs is not None:
        try:
            parsed = pyproj.CRS.from_user_input(crs)
            if parsed.to_string() in _LONLAT_CRS or parsed.to_epsg() in (4326, 4490):
                crs = None
        except pyproj.exceptions.CRSError as exc:
            raise InputError(f"{files[0]}: unreadable GeoParquet CRS ({exc})") from None
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    keys = tuple(hive_keys(f, root) if root.is_dir() else {} for f in files)
    return PointFolder(root, kind, tuple(files), columns, geometry, crs, rows, keys)


def normalize_points(
    frame: pd.DataFrame,
    kind: str,
    columns: dict[str, str],
    *,
    geometry: str | None = None,
    geometry_crs: str | None = None,
) -> pd.DataFrame:
    """File columns as the normalised point frame every kernel reads.

    Returns
    -------
    pandas.DataFrame
        ``lon, lat`` (float64, EPSG:4326; NaN without a location), ``t`` (``datetime64[ns]``,
        naive district wall clock; NaT when unreadable) and the kind's text columns
        (``category_code, source`` or ``staff_code, track_code``) as ``object`` str, "" when
        missing. The index is a RangeIndex.
    """
    n = len(frame)
    if "lon" in columns:
        lon = pd.to_numeric(frame[columns["lon"]], errors="coerce").to_numpy(dtype=np.float64)
        lat = pd.to_numeric(frame[columns["lat"]], errors="coerce").to_numpy(dtype=np.float64)
    else:
        raw = frame[geometry].to_numpy(dtype=object)
        ok = pd.notna(raw)
        geoms = np.full(n, None, dtype=object)
        geoms[ok] = shapely.from_wkb(raw[ok], on_invalid="ignore")
        lon, lat = np.full(n, np.nan), np.full(n, np.nan)
        good = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        lon[good], lat[good] = shapely.get_x(geoms[good]), shapely.get_y(geoms[good])
        if geometry_crs is not None and good.any():
            tr = pyproj.Transformer.from_crs(geometry_crs, 4326, always_xy=True)
            lon[good], lat[good] = tr.transform(lon[good], lat[good])
    out = pd.DataFrame({"lon": lon, "lat": lat})
    t = frame[columns["t"]] if "t" in columns else pd.Series(pd.NaT, index=frame.index)
    out["t"] = parse_times(t.reset_index(drop=True)).to_numpy(dtype="datetime64[ns]")
    for name in _TEXT_COLUMNS[kind]:
        if name in columns:
            # pandas' Arrow-backed text: factorizing it is several times faster than objects
            values = frame[columns[name]].reset_index(drop=True)
            out[name] = values.astype("str").fillna("")
        else:
            out[name] = pd.Series([""] * n, dtype="str")
    return out


def read_points_folder(path: str | Path, kind: str = "incidents") -> pd.DataFrame:
    """Every point of a (Geo)Parquet file or folder in one normalised frame.

    For data that fits in memory (tests, the single-process peer of a benchmark); a city's
    folder is read partition by partition by :mod:`gis.scale.aggregate` and
    :mod:`gis.scale.coverage` instead. Columns as :func:`normalize_points`.
    """
    source = scan_points(path, kind)
    return source.read_files(source.files)
