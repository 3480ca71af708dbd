"""``gridlens tracks import``: patrol GPS tracks into the database (``gis.patrol``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gis.cli._common import engine_from_args
from gis.patrol import import_tracks


def cmd_tracks_import(args) -> int:
    engine = engine_from_args(args)
    dropped_out = args.dropped_out or str(Path(args.file).with_suffix("")) + ".dropped.csv"
    result = import_tracks(
        engine,
        args.file,
        crs=args.crs,
        tz=args.tz,
        staff_code=args.staff,
        imported_by=args.user,
        max_speed_mps=args.max_speed_mps,
        split_gap_s=args.split_gap_s,
        dropped_out=dropped_out,
    )
    print(result.summary_line())
    for reason, n in result.reasons.items():
        print(f"  {n:>8,}  {reason}")
    s = result.summary
    print(
        f"{s['tracks_written']:,} tracks written ({s['splits_gap']} splits at gaps over "
        f"{args.split_gap_s:g} s, {s['splits_jump']} at jumps over {args.max_speed_mps:g} m/s)"
    )
    if len(result.dropped):
        print(f"dropped fixes with reasons: {dropped_out}")
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Add ``tracks import`` to the ``gridlens`` subparsers."""
    tracks = sub.add_parser("tracks", help="patrol GPS tracks").add_subparsers(
        dest="action", required=True
    )
    p = tracks.add_parser(
        "import", parents=[common], help="import GPS fixes (CSV, GPX, GeoJSON/GeoPackage, .plt)"
    )
    p.add_argument("file")
    p.add_argument(
        "--crs", default="wgs84", help="coordinates: wgs84 (default), cgcs2000, gcj02, bd09, EPSG"
    )
    p.add_argument(
        "--tz", help="zone of times without offset (default Asia/Shanghai; UTC for GPX, .plt)"
    )
    p.add_argument("--staff", help="staff code for every fix when the file has no id column")
    p.add_argument(
        "--max-speed-mps",
        type=float,
        default=7.0,
        help="faster links are impossible jumps (default 7 m/s cycling; 2.5 on foot)",
    )
    p.add_argument(
        "--split-gap-s",
        type=float,
        default=600.0,
        help="split a track where fixes are further apart in time (default 600 s)",
    )
    p.add_argument("--dropped-out", help="CSV for dropped fixes (default FILE.dropped.csv)")
    p.add_argument("--user", default="cli", help="recorded as who imported")
    p.set_defaults(func=cmd_tracks_import)
