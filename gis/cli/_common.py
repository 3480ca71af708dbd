"""What every ``gridlens`` command group shares: the database option and the engine it opens,
the period, category, unit and output options, and the filtering of incidents by them (files
are read by ``gis.incidents.read_incident_file``, the store by ``gis.store.read_incidents``).

Like rasterio's ``rio/options.py``: a command module builds its parser from these parents
(``parents=[common, period_options(), category_options(), ...]``) so an option is parsed one
way everywhere. Values are parsed when the command line is read: ``--start``/``--end`` become
timestamps (:func:`gis.core.times.parse_time_arg`), ``--by`` a :class:`gis.units.UnitSpec`;
text outside their grammar is an :class:`~gis.core.errors.InputError`, which
:func:`gis.cli.main` prints as one line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from gis import hotspots, store
from gis.core.errors import InputError
from gis.core.times import parse_time_arg
from gis.grids import guess_grid_fields
from gis.io import read_geo_file
from gis.io.tables import MAP_SUFFIXES
from gis.taxonomy import category_mask
from gis.units import UnitSpec

__all__ = [
    "build_units",
    "category_options",
    "db_options",
    "engine_from_args",
    "filter_incidents",
    "is_map_file",
    "output_options",
    "period_options",
    "read_grid_file",
    "read_store_incidents",
    "units_options",
]


# --------------------------------------------------------------------------------------------
# The database


def db_options() -> argparse.ArgumentParser:
    """The parent parser of ``--db`` (every command that may open the database)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--db",
        help="database URL or SpatiaLite file (default: $GRIDLENS_DB or data/gridlens.db)",
    )
    return parser


def engine_from_args(args: argparse.Namespace, *, create: bool = False) -> Engine:
    """The store named by ``--db`` (else ``$GRIDLENS_DB``, else ``data/gridlens.db``),
    migrated to the current schema. Only ``init`` and ``demo`` pass ``create``: every other
    command refuses a database file that does not exist, naming its path."""
    return store.open_store(args.db, create=create)


# --------------------------------------------------------------------------------------------
# Shared options


def _time_option(name: str):
    def parse(text: str) -> pd.Timestamp | None:
        try:
            return parse_time_arg(text, name=name)
        except InputError as exc:  # argparse turns it into one usage line, exit 2
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def period_options(
    start_help: str = "on or after this date/time (YYYY-MM-DD[ HH:MM])",
    end_help: str = "before this date/time (YYYY-MM-DD[ HH:MM])",
) -> argparse.ArgumentParser:
    """The parent parser of ``--start``/``--end``, the period ``[start, end)``.

    Both are read by :func:`gis.core.times.parse_time_arg`: naive wall-clock timestamps in the
    district's zone (a UTC offset is converted), ``None`` when not given.
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--start", type=_time_option("--start"), help=start_help)
    parser.add_argument("--end", type=_time_option("--end"), help=end_help)
    return parser


def category_options() -> argparse.ArgumentParser:
    """The parent parser of ``--category``: codes (``05-04``) or major classes (``05``),
    repeatable, applied by :func:`filter_incidents` (:func:`gis.taxonomy.category_mask`)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--category",
        action="append",
        help="category code (05-04) or major class (05, all its codes); repeatable",
    )
    return parser


def _units_option(allowed: tuple[str, ...], default_h3: int):
    def parse(text: str) -> UnitSpec:
        try:
            return UnitSpec.parse(text, allowed=allowed, default_h3=default_h3)
        except InputError as exc:
            raise InputError(f"--by must be units this command works on: {exc}") from None

    return parse


def units_options(
    default: str,
    help: str,
    *,
    allowed: tuple[str, ...] = ("h3", "fishnet", "grid"),
    default_h3: int = 9,
) -> argparse.ArgumentParser:
    """The parent parser of ``--by``, the analysis units, read by
    :meth:`gis.units.UnitSpec.parse` into a ``UnitSpec``.

    Parameters
    ----------
    default
        The command's units when ``--by`` is not given.
    allowed
        The unit kinds the command works on (``h3``, ``fishnet``, ``grid``, ``streets``).
    default_h3
        The resolution of a bare ``h3``.
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--by", type=_units_option(allowed, default_h3), default=default, help=help)
    return parser


def output_options(help: str, *, required: bool = True) -> argparse.ArgumentParser:
    """The parent parser of ``--out``, the file written (its suffix picks the format)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--out", required=required, help=help)
    return parser


def is_map_file(path: str | Path) -> bool:
    """Whether ``path`` is written as a map file (GeoJSON, GeoPackage, Shapefile, FlatGeobuf)."""
    return Path(path).suffix.lower() in MAP_SUFFIXES


# --------------------------------------------------------------------------------------------
# Incidents


def filter_incidents(
    frame: gpd.GeoDataFrame,
    *,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    categories: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """The incidents of the period ``[start, end)`` and of ``categories`` (codes or major
    classes, by :func:`gis.taxonomy.category_mask`)."""
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
        keep &= category_mask(frame["category_code"], categories)
    return frame[keep]


def read_store_incidents(
    engine: Engine,
    *,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    categories: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """The stored incidents of ``[start, end)`` and of ``categories`` (codes or major
    classes): the same rule as :func:`filter_incidents` on a file."""
    frame = store.read_incidents(
        engine,
        start=start.to_pydatetime() if start is not None else None,
        end=end.to_pydatetime() if end is not None else None,
    )
    return filter_incidents(frame, categories=categories)


# --------------------------------------------------------------------------------------------
# Grids and units


def read_grid_file(path: str, *, level: str = "micro") -> gpd.GeoDataFrame:
    """Grid polygons from a file given for analysis (``--grids FILE``), EPSG:4326.

    Fields are found by the grids package's guess (``gis.grids.guess_grid_fields``: ``code``,
    ``name``, ``parent_code``, ``level`` under their usual names); a plain polygon file gets
    ``level`` (all rows), ``code`` (from ``unit_id``, ``grid_code`` or ``id``, else the row
    number) and an empty ``parent_code``. Rows without a geometry are left out.
    """
    frame, _ = read_geo_file(path)
    frame = frame[frame.geometry.notna()].copy()
    guessed = guess_grid_fields([c for c in frame.columns if c != frame.geometry.name])
    for field_name, column in guessed.items():
        if field_name not in frame:
            frame[field_name] = frame[column]
    if "code" not in frame:
        alt = next((c for c in ("unit_id", "grid_code", "id") if c in frame), None)
        frame["code"] = (frame[alt] if alt else pd.Series(frame.index, frame.index)).astype(str)
    if "level" not in frame:
        frame["level"] = level
    if "parent_code" not in frame:
        frame["parent_code"] = None
    return frame


def build_units(
    by: UnitSpec, grids: gpd.GeoDataFrame | None, points: gpd.GeoDataFrame | None = None
) -> gpd.GeoDataFrame:
    """The analysis units ``--by`` names (``gis.hotspots`` unit frames).

    H3 cells and fishnet squares cover the study area (``gis.hotspots.study_area``: the
    district of ``grids``, else the hull of ``points``); ``grid:LEVEL`` takes the grids of
    that level.
    """
    if by.kind == "grid":
        if grids is None or not len(grids):
            raise InputError(f"--by {by} needs grids (in the database, or a --grids FILE)")
        return hotspots.grid_units(grids, by.level)
    area = hotspots.study_area(grids if grids is not None and len(grids) else None, points)
    if by.kind == "h3":
        return hotspots.h3_units(area, by.h3_resolution)
    if by.kind == "fishnet":
        return hotspots.fishnet_units(area, by.cell_m)
    raise InputError(f"--by {by}: these commands count incidents per h3, fishnet or grid unit")
