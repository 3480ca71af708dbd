"""``gridlens grids import | validate | export``: grid hierarchy files (``gis.grids``)."""

from __future__ import annotations

import argparse

from gis import store
from gis.cli._common import engine_from_args
from gis.core.errors import GridLensError
from gis.grids import (
    GridImportRefused,
    import_grids,
    validate_grid_file,
    validate_hierarchy,
)
from gis.io import write_geo_file, write_table


def _grid_mapping(args) -> dict[str, str]:
    """The fields named on the command line (``--code-field`` ...); the grids package guesses
    the others from the file's header (``guess_fields=True``), as the Grids page does."""
    fields = {
        "code": args.code_field,
        "name": args.name_field,
        "parent_code": args.parent_field,
        "level": args.level_field,
    }
    return {k: v for k, v in fields.items() if v}


def _print_report(report, args, limit: int | None = None) -> None:
    print(report.text(lang=args.lang, limit=limit))


def cmd_grids_import(args) -> int:
    engine = engine_from_args(args)
    try:
        result = import_grids(
            engine,
            args.file,
            mapping=_grid_mapping(args),
            level=args.level,
            replace=args.replace,
            imported_by=args.user,
            crs=args.crs,
            allow_errors=args.allow_errors,
            check_only=args.dry_run,
            guess_fields=True,  # the one guess, as on the Grids page
            allow_shrink=args.allow_shrink,
        )
    except GridImportRefused as exc:
        _print_report(exc.report, args, limit=args.limit)
        print(exc.result.summary_line())
        raise GridLensError(
            f"import refused, nothing written: {exc.report.errors} error(s) in the hierarchy "
            "it would make (fix the file, or --allow-errors to import anyway)"
        ) from None
    _print_report(result.report, args, limit=args.limit)
    print(result.summary_line())
    if len(result.rejected) and args.rejected_out:
        write_table(result.rejected, args.rejected_out)
        print(f"rejected rows: {args.rejected_out}")
    return 0 if result.imported or not result.total else 1


def cmd_grids_validate(args) -> int:
    if args.file:
        report, rejected = validate_grid_file(
            args.file,
            mapping=_grid_mapping(args),
            level=args.level,
            crs=args.crs,
            sliver_m2=args.sliver_m2,
            guess_fields=True,  # the one guess, as on the Grids page
        )
        if len(rejected):
            reasons = rejected["reason"].value_counts()
            detail = "; ".join(f"{r}: {n}" for r, n in reasons.items())
            print(f"{len(rejected)} row(s) left out, as an import would reject them ({detail})")
    else:
        report = validate_hierarchy(
            store.read_grids(engine_from_args(args)), sliver_m2=args.sliver_m2
        )
    _print_report(report, args, limit=args.limit)
    return 1 if report.errors else 0


def cmd_grids_export(args) -> int:
    engine = engine_from_args(args)
    grids = store.read_grids(engine, level=args.level)
    cols = [c for c in grids.columns if c not in {"id", "created_by"}]
    path = write_geo_file(grids[cols], args.out)
    print(f"wrote {len(grids):,} grids to {path}")
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Add ``grids import | validate | export`` to the ``gridlens`` subparsers."""
    grids = sub.add_parser("grids", help="grid hierarchy files").add_subparsers(
        dest="action", required=True
    )
    gfile = argparse.ArgumentParser(add_help=False)
    gfile.add_argument("--code-field")
    gfile.add_argument("--name-field")
    gfile.add_argument("--parent-field")
    gfile.add_argument("--level-field")
    gfile.add_argument(
        "--level", help="level for all rows when the file has none (l1|l2|micro|dedicated)"
    )
    gfile.add_argument("--crs", help="CRS when the file declares none (e.g. EPSG:4547)")
    gfile.add_argument("--lang", choices=["en", "zh"], default="en", help="report language")
    gfile.add_argument("--limit", type=int, help="print at most this many problems")

    p = grids.add_parser(
        "import", parents=[common, gfile], help="validate, then import grids as new versions"
    )
    p.add_argument("file")
    p.add_argument("--replace", action="store_true", help="close current grids not in the file")
    p.add_argument(
        "--allow-shrink",
        action="store_true",
        help="with --replace: retire grids missing from the file even if the district shrinks",
    )
    p.add_argument("--rejected-out", help="CSV for rejected rows")
    p.add_argument("--user", default="cli", help="recorded as who made the change")
    p.add_argument("--dry-run", action="store_true", help="validate and count, write nothing")
    p.add_argument(
        "--allow-errors", action="store_true", help="import even if the hierarchy has errors"
    )
    p.set_defaults(func=cmd_grids_import)

    p = grids.add_parser(
        "validate",
        parents=[common, gfile],
        help="check the hierarchy (the database's current grids, or --file); exit 1 on errors",
    )
    p.add_argument("--file", help="validate this grid file instead of the database")
    p.add_argument(
        "--sliver-m2", type=float, default=50.0, help="pieces below this area are slivers"
    )
    p.set_defaults(func=cmd_grids_validate)

    p = grids.add_parser("export", parents=[common], help="export current grids")
    p.add_argument("--out", required=True, help=".geojson .gpkg .shp .parquet .csv .xlsx")
    p.add_argument("--level", choices=["l1", "l2", "micro", "dedicated"])
    p.set_defaults(func=cmd_grids_export)
