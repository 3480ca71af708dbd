"""What every ``gridlens`` command group shares: the database option and the engine it opens,
the period, category, unit and output options, the incident file reader, the table writer.

Like rasterio's ``rio/options.py``: a command module builds its parser from these parents
(``parents=[common, period_options(), ...]``) so an option means the same everywhere.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from gis import store
from gis.core.errors import GridLensError, InputError
from gis.core.times import parse_times
from gis.io import detect_columns, read_geo_file, write_geo_file

#: suffixes written as map files (they need a geometry per row)
MAP_SUFFIXES = (".geojson", ".gpkg", ".shp", ".fgb")


# --------------------------------------------------------------------------------------------
# Shared options


def db_options() -> argparse.ArgumentParser:
    """The parent parser of ``--db`` (every command that may open the database)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--db",
        help="database URL or SpatiaLite file (default: $GRIDLENS_DB or data/gridlens.db)",
    )
    return parser


def engine_from_args(args: argparse.Namespace) -> Engine:
    """The store named by ``--db`` (else ``$GRIDLENS_DB``), migrated to the current schema."""
    return store.open_store(args.db)


def parse_time_arg(text: str | None) -> pd.Timestamp | None:
    """A ``--start``/``--end`` value as a timestamp (None when not given)."""
    if not text:
        return None
    try:
        return pd.Timestamp(text)
    except ValueError as exc:
        raise InputError(f"not a date/time: {text!r}") from exc


def period_options(
    start_help: str = "occurred on or after (YYYY-MM-DD[ HH:MM])",
    end_help: str = "occurred before (YYYY-MM-DD[ HH:MM])",
) -> argparse.ArgumentParser:
    """The parent parser of ``--start``/``--end`` (the period ``[start, end)``), read as
    timestamps by :func:`parse_time_arg` (None when not given)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--start", type=parse_time_arg, help=start_help)
    parser.add_argument("--end", type=parse_time_arg, help=end_help)
    return parser


def category_options() -> argparse.ArgumentParser:
    """The parent parser of ``--category`` (repeatable; a code or a major class)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--category",
        action="append",
        help="category code (05-04) or major class (05); repeatable",
    )
    return parser


def units_options(default: str, help: str) -> argparse.ArgumentParser:
    """The parent parser of ``--by`` (the analysis units) with this command's default."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--by", default=default, help=help)
    return parser


def output_options(help: str, *, required: bool = True) -> argparse.ArgumentParser:
    """The parent parser of ``--out`` (the file written; its suffix picks the format)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--out", required=required, help=help)
    return parser


def is_map_file(path: str | Path) -> bool:
    """Whether ``path`` is written as a map file (GeoJSON, GeoPackage, Shapefile, FlatGeobuf)."""
    return Path(path).suffix.lower() in MAP_SUFFIXES


# --------------------------------------------------------------------------------------------
# Incidents from files


def read_incident_file(
    path: str, *, lon: str | None = None, lat: str | None = None
) -> gpd.GeoDataFrame:
    """Incident points from a CSV/Excel with lon/lat (or WKT) or any vector file (EPSG:4326).

    The time and category columns are found by ``gis.incidents.detect_columns`` (``occurred_at``,
    ``发生时间``, ``Created Date`` ...; ``category_code``, ``事件类型`` ...) and renamed to
    ``occurred_at`` (parsed to wall-clock times) and ``category_code``. Rows without a point
    are dropped (their number is in ``attrs["n_dropped"]``).
    """
    frame, reason = read_geo_file(path, lon=lon, lat=lat)
    cols = [c for c in frame.columns if c != frame.geometry.name]
    sample = pd.DataFrame(frame[cols].head(200)).astype("string")
    mapping = detect_columns(cols, sample)
    out = gpd.GeoDataFrame(geometry=frame.geometry, crs=frame.crs)
    if "occurred_at" in mapping:
        out["occurred_at"] = parse_times(frame[mapping["occurred_at"]]).to_numpy()
    if "category_code" in mapping:
        out["category_code"] = frame[mapping["category_code"]].astype("string").to_numpy()
    geoms = out.geometry.to_numpy()
    ok = (reason == "").to_numpy() & ~(
        pd.isna(geoms) | np.array([g is None or g.is_empty for g in geoms])
    )
    out = out[ok]
    out.attrs["n_dropped"] = int((~ok).sum())
    return out


def filter_incidents(
    frame: gpd.GeoDataFrame,
    *,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    categories: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """The incidents of the period ``[start, end)`` and of ``categories`` (codes or major
    classes)."""
    if (start is not None or end is not None) and "occurred_at" not in frame.columns:
        raise InputError("--start/--end need incident times; the file has no time column")
    keep = np.ones(len(frame), dtype=bool)
    if start is not None:
        keep &= (frame["occurred_at"] >= start).to_numpy()
    if end is not None:
        keep &= (frame["occurred_at"] < end).to_numpy()
    if categories:
        if "category_code" not in frame.columns:
            raise InputError("--category needs a category column in the incidents")
        codes = frame["category_code"].astype(str)
        hit = np.zeros(len(frame), dtype=bool)
        for c in categories:
            hit |= (codes == c).to_numpy() if "-" in c else codes.str.startswith(c).to_numpy()
        keep &= hit
    return frame[keep]


# --------------------------------------------------------------------------------------------
# Output


def write_table(frame: pd.DataFrame, path: str, geometry=None) -> Path:
    """CSV (UTF-8 with BOM), .xlsx, .parquet, or with unit geometry .geojson/.gpkg."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix in MAP_SUFFIXES:
        if geometry is None:
            raise GridLensError(f"{out.name}: no unit geometry for a map file; write .csv")
        geo = gpd.GeoDataFrame(frame, geometry=list(geometry), crs=4326)
        return write_geo_file(geo, out)
    if suffix == ".xlsx":
        frame.to_excel(out, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False, encoding="utf-8-sig")
    return out
