"""``gridlens export-parquet | aggregate`` and the engine options of ``gridlens coverage`` on a
folder of fixes: the city-scale commands (``add_commands(sub, common)``, the CLI's convention).

A command only parses, calls :mod:`gis.scale` and prints; library errors reach ``gridlens``'s
``main``, which prints them as one line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import pandas as pd

from gis import store
from gis.core.errors import InputError, StoreError
from gis.core.times import parse_time_arg
from gis.io import read_geo_file, write_table
from gis.io.tables import MAP_SUFFIXES
from gis.scale.aggregate import STEPS, aggregate
from gis.scale.cluster import ENGINES, client_for
from gis.scale.coverage import coverage
from gis.scale.cubes import load_into_store
from gis.scale.parquet import EXPORT_KINDS, export_fixes_parquet, export_incidents_parquet
from gis.scale.sources import PARQUET_SUFFIXES
from gis.store.cube import fishnet_epsg
from gis.units import UnitSpec

__all__ = [
    "add_commands",
    "cmd_aggregate",
    "cmd_coverage_folder",
    "cmd_export_parquet",
    "engine_options",
    "wants_scale",
]


def engine_options(*, scratch: bool = False) -> argparse.ArgumentParser:
    """The parent parser of ``--engine``, ``--scheduler`` and ``--workers`` (and ``--scratch``,
    where fixes are re-bucketed by staff)."""
    parser = argparse.ArgumentParser(add_help=False)
    if scratch:
        parser.add_argument(
            "--scratch",
            help="an empty folder for fixes re-bucketed by staff, when the folder is not laid out "
            "by staff_bucket (default a temporary folder; on a cluster, one every worker reads)",
        )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="local: this process (default); dask: a Dask cluster (see --scheduler)",
    )
    parser.add_argument(
        "--scheduler",
        help="address of a running Dask scheduler, e.g. tcp://host:8786 (with --engine dask); "
        "default: a LocalCluster on this machine. Every worker must read the input paths",
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="workers of the LocalCluster (default: one per core, 1 thread each)",
    )
    return parser


def _grids_file(path: str) -> gpd.GeoDataFrame:
    frame, _ = read_geo_file(path)
    frame = frame[frame.geometry.notna()]
    if "level" not in frame:
        frame["level"] = "micro"
    if "code" not in frame:
        frame["code"] = frame.get("unit_id", pd.Series(frame.index, index=frame.index)).astype(str)
    if "parent_code" not in frame:
        frame["parent_code"] = None
    return frame


def _store_grids(args) -> gpd.GeoDataFrame:
    grids = store.read_grids(store.open_store(args.db, create=False))
    if grids.empty:
        raise InputError("the database has no grids: load them, or give --grids FILE")
    return grids


def _spec(value, allowed: tuple[str, ...]) -> UnitSpec:
    return UnitSpec.parse(value, allowed=allowed)


def cmd_export_parquet(args) -> int:
    """``gridlens export-parquet``: the store as partitioned GeoParquet."""
    engine = store.open_store(args.db, create=False)
    if args.what == "incidents":
        result = export_incidents_parquet(engine, args.out, chunk=args.chunk, overwrite=args.force)
    else:
        result = export_fixes_parquet(
            engine, args.out, buckets=args.buckets, chunk=args.chunk, overwrite=args.force
        )
    print(f"{args.what}: {result.summary_line()}")
    return 0


def cmd_aggregate(args) -> int:
    """``gridlens aggregate``: counts per unit x period x category of a Parquet folder."""
    spec = _spec(args.by, ("grid", "h3", "fishnet"))
    suffix = Path(args.out).suffix.lower()
    if suffix in MAP_SUFFIXES:
        raise InputError(f"{args.out}: write the counts as .parquet, .csv or .xlsx")
    grids = _grids_file(args.grids) if args.grids else None
    if grids is None and spec.kind == "grid":
        grids = _store_grids(args)
    db = store.open_store(args.db, create=False) if args.into_db else None
    epsg = None
    if db is not None and spec.kind == "fishnet":  # the store's lattice, as its cube has it
        try:
            with db.begin() as conn:
                epsg = fishnet_epsg(conn)
        except StoreError:
            epsg = None
    with client_for(args.engine, args.scheduler, args.workers) as client:
        result = aggregate(
            args.incidents, spec, args.step, grids=grids, engine=args.engine, client=client,
            epsg=epsg,
        )  # fmt: skip
        path = write_table(result.counts, args.out)
        print(result.summary_line())
        print(f"wrote {len(result.counts)} rows ({spec} x {args.step} x category) to {path}")
        if db is not None:
            loaded = load_into_store(db, args.incidents, grids, engine=args.engine, client=client)
            print(loaded.summary_line())
    return 0


def wants_scale(args) -> bool:
    """Whether ``gridlens coverage`` runs at city scale: ``--tracks`` is a folder (of Parquet
    files), or ``--engine dask`` was asked for (then ``--tracks`` may be one Parquet file)."""
    tracks = getattr(args, "tracks", None)
    if getattr(args, "engine", "local") == "dask":
        if not tracks or not (
            Path(tracks).is_dir() or Path(tracks).suffix.lower() in PARQUET_SUFFIXES
        ):
            raise InputError("--engine dask reads Parquet fixes: give --tracks FOLDER")
        return True
    return bool(tracks) and Path(tracks).is_dir()


def cmd_coverage_folder(args) -> int:
    """``gridlens coverage --tracks FOLDER``: presence per unit, on either engine."""
    spec = _spec(args.by, ("grid", "h3"))
    if getattr(args, "streets", None):
        raise InputError("street coverage is not computed at city scale yet: leave out --streets")
    if Path(args.out).suffix.lower() in MAP_SUFFIXES:
        raise InputError(f"{args.out}: write the coverage of a folder as .csv, .parquet or .xlsx")
    if args.grids:
        grids = _grids_file(args.grids)
    elif spec.kind == "grid" or args.db:
        grids = _store_grids(args)
    else:
        grids = None
    start, end = (
        v if isinstance(v, pd.Timestamp) or v is None else parse_time_arg(v, name=n)
        for v, n in ((args.start, "--start"), (args.end, "--end"))
    )
    with client_for(args.engine, args.scheduler, args.workers) as client:
        result = coverage(
            args.tracks, spec, grids=grids, engine=args.engine, client=client,
            start=start, end=end, shift=args.shift, scratch=getattr(args, "scratch", None),
        )  # fmt: skip
    table = result.table
    path = write_table(table, args.out)
    p0, p1 = result.period
    print(result.clean.summary_line())
    print(f"period {p0:%Y-%m-%d %H:%M} to {p1:%Y-%m-%d %H:%M}; {result.partitions} staff buckets")
    visited = int((table["visits"] > 0).sum())
    print(f"{visited} of {len(table)} units ({spec}) visited")
    print(f"wrote {len(table)} rows to {path}")
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Register ``export-parquet`` and ``aggregate`` on the ``gridlens`` subparsers."""
    p = sub.add_parser(
        "export-parquet",
        parents=[common],
        help="write the store's incidents or GPS fixes as GeoParquet partitioned by month",
    )
    p.add_argument("--out", required=True, help="the folder (month=YYYY-MM/...parquet)")
    p.add_argument("--what", choices=EXPORT_KINDS, default="incidents")
    p.add_argument(
        "--buckets",
        type=int,
        help="fixes: staff buckets (staff_bucket=NN folders; default ~500k fixes each)",
    )
    p.add_argument("--chunk", type=int, default=500_000, help="rows read from the store at once")
    p.add_argument("--force", action="store_true", help="replace a folder that is not empty")
    p.set_defaults(func=cmd_export_parquet)

    p = sub.add_parser(
        "aggregate",
        parents=[common, engine_options()],
        help="incidents per unit x period x category from a (Geo)Parquet file or folder",
    )
    p.add_argument(
        "--incidents",
        required=True,
        help="a Parquet file or folder (lon/lat or geometry, occurred_at or t, category_code)",
    )
    p.add_argument("--by", required=True, help="grid:micro (or grid:l2, grid:l1), h3:N, fishnet:M")
    p.add_argument("--step", choices=STEPS, default="day")
    p.add_argument(
        "--grids",
        help="grid file (default: the database's grids for grid units; for h3/fishnet, points "
        "outside these grids are reported outside)",
    )
    p.add_argument("--out", required=True, help=".parquet, .csv or .xlsx")
    p.add_argument(
        "--into-db",
        action="store_true",
        help="also load the counts into the database's incident cube (every unit family, by "
        "day), so the app serves them without the raw rows",
    )
    p.set_defaults(func=cmd_aggregate)
