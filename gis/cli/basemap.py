"""``gridlens basemap build``: the offline vector basemap (PMTiles) from the district's layers."""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy.engine import Engine

from gis import store
from gis.cli._common import engine_from_args
from gis.core.settings import basemap_name
from gis.viz import basemap
from gis.viz.leaflet import STATIC_DIR


def default_basemap_path() -> Path:
    """``static/basemap/<GRIDLENS_BASEMAP or district>.pmtiles``: where the app looks."""
    return STATIC_DIR / "basemap" / f"{basemap_name()}.pmtiles"


def build_district_basemap(
    engine: Engine | None, files: list[str], out: Path
) -> basemap.BasemapInfo:
    """The district's streets, communities and places from the store (when given) plus the
    city layers in ``files``, written to ``out`` (and its XYZ tile folder)."""
    groups = []
    if engine is not None and store.count_rows(engine, "grids") > 0:
        groups.append(
            basemap.district_layers(
                store.read_frame(engine, "streets"),
                store.read_grids(engine),
                store.read_frame(engine, "places"),
            )
        )
    for spec in files:
        kind, frame = basemap.read_city_layer(spec)
        groups.append({kind: frame})
    return basemap.build_basemap(basemap.merge_layers(*groups), out)


def cmd_basemap_build(args) -> int:
    out = Path(args.out) if args.out else default_basemap_path()
    engine = None if args.no_district else engine_from_args(args)
    info = build_district_basemap(engine, args.from_files or [], out)
    print(f"basemap {info.pmtiles}: {info.n_tiles} tiles, z{basemap.MIN_ZOOM}-{basemap.MAX_ZOOM}")
    print("  " + ", ".join(basemap.layer_counts(info)))
    print(f"  XYZ tiles for deck.gl in {info.tiles_dir}/")
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Add ``basemap build`` to the ``gridlens`` subparsers."""
    p = sub.add_parser("basemap", help="the offline vector basemap drawn under every map")
    bsub = p.add_subparsers(dest="basemap_command", required=True)
    b = bsub.add_parser(
        "build",
        parents=[common],
        help="build static/basemap/NAME.pmtiles from the district's layers and city files",
    )
    b.add_argument(
        "--from",
        dest="from_files",
        nargs="+",
        metavar="FILE[:KIND]",
        help="city survey layers (GeoPackage, GeoJSON, Shapefile; any CRS, e.g. CGCS2000); "
        "KIND is water, green, buildings or roads (guessed from the file name when absent)",
    )
    b.add_argument(
        "--out",
        help="the .pmtiles file (default static/basemap/$GRIDLENS_BASEMAP.pmtiles, "
        "i.e. static/basemap/district.pmtiles)",
    )
    b.add_argument(
        "--no-district",
        action="store_true",
        help="only the --from files, not the streets, communities and places of the database",
    )
    b.set_defaults(func=cmd_basemap_build)
