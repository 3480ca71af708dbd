"""``gridlens incidents import | export``: incident files (``gis.incidents``)."""

from __future__ import annotations

import argparse

from gis import store
from gis.cli._common import category_options, engine_from_args, period_options
from gis.core.errors import GridLensError
from gis.incidents import detect, export_incident_pages, import_incidents, stored_export_pages


def _field_overrides(items: list[str] | None) -> dict[str, str]:
    """``--field FIELD=FILE_COLUMN`` options as ``{field: file column}``."""
    columns = {}
    for item in items or []:
        target, sep, source = item.partition("=")
        if not sep:
            raise GridLensError(f"--field expects FIELD=FILE_COLUMN, got {item!r}")
        columns[target.strip()] = source.strip()
    return columns


def _print_preview(preview) -> None:
    print(
        f"{preview.file_name}: {preview.row_count:,} rows ({preview.kind}"
        f"{', ' + preview.encoding if preview.encoding else ''}"
        f"{', delimiter ' + repr(preview.delimiter) if preview.delimiter else ''})"
    )
    if preview.sheets is not None:
        print(f"sheets read: {', '.join(preview.sheets)} (of {', '.join(preview.all_sheets)})")
    print("columns:\n  " + "\n  ".join(preview.mapping.describe()))
    print(f"coordinates: {preview.crs_guess or '?'} ({preview.crs_why})")
    if len(preview.unknown_categories):
        top = ", ".join(f"{k} ({v})" for k, v in preview.unknown_categories.head(10).items())
        print(f"unknown categories: {top}")


def cmd_incidents_import(args) -> int:
    engine = engine_from_args(args)
    rejected_out = args.rejected_out or store.rejected_rows_path(engine, args.file)
    columns = _field_overrides(args.field)
    if args.dry_run:
        preview = detect(args.file, mapping=args.mapping, engine=engine, sheet=args.sheet)
        preview.mapping = preview.mapping.with_overrides(columns, preview.columns)
        _print_preview(preview)
        return 0
    result = import_incidents(
        engine,
        args.file,
        imported_by=args.user,
        mapping=args.mapping,
        columns=columns,
        tz=args.tz,
        lon=args.lon,
        lat=args.lat,
        sheet=args.sheet,
        crs=args.crs,
        unknown=args.unknown,
        tolerance_m=args.tolerance_m,
        rejected_out=rejected_out,
        date_order=args.date_order,
        two_digit_years=args.two_digit_years,
    )
    enc = f", {result.encoding}" if result.encoding else ""
    print(f"{result.file_name}: coordinates read as {result.crs}{enc}")
    if result.mapping is not None:
        print("columns:\n  " + "\n  ".join(result.mapping.describe()))
    print(result.summary_line())
    for reason, n in result.reasons.items():
        print(f"  {n:>8,}  {reason}")
    if len(result.unknown_categories):
        top = ", ".join(f"{k} ({v})" for k, v in result.unknown_categories.head(10).items())
        more = len(result.unknown_categories) - 10
        tail = f" and {more} more" if more > 0 else ""
        action = "imported as unclassified" if args.unknown == "unclassified" else "rejected"
        print(f"unknown categories ({action}): {top}{tail}")
        if args.unknown != "unclassified":
            print("  add them to data/category_aliases.csv, or pass --unknown unclassified")
    print(
        f"grids: {result.grid_note}; {result.duplicates:,} probable duplicates linked, "
        f"{result.repeat_locations:,} at repeat locations"
    )
    for note in result.notes:
        print(f"note: {note}")
    if result.crs_hint:
        print(f"CRS hint: {result.crs_hint}")
    if result.rejected_count:
        print(f"rejected rows with reasons: {rejected_out}")
    return 0


def cmd_incidents_export(args) -> int:
    engine = engine_from_args(args)
    taxonomy = store.read_table(engine, "taxonomy") if args.lang else None
    taxonomy = taxonomy if taxonomy is not None and len(taxonomy) else None
    # streamed page by page: memory holds one page, whatever the store holds
    path, n = export_incident_pages(
        stored_export_pages(engine, start=args.start, end=args.end, categories=args.category or ()),
        args.out,
        crs=args.crs,
        lang=args.lang,
        taxonomy=taxonomy,
    )
    crs = f" ({args.crs})" if args.crs else ""
    print(f"wrote {n:,} incidents to {path}{crs}")
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Add ``incidents import | export`` to the ``gridlens`` subparsers."""
    inc = sub.add_parser("incidents", help="incident files").add_subparsers(
        dest="action", required=True
    )
    p = inc.add_parser(
        "import", parents=[common], help="import incidents (CSV/Excel/GeoJSON/GeoPackage/Shapefile)"
    )
    p.add_argument("file")
    p.add_argument("--lon", help="longitude column (default: detected)")
    p.add_argument("--lat", help="latitude column (default: detected)")
    p.add_argument(
        "--crs",
        help="coordinate system of the file: wgs84 (default), cgcs2000, gcj02, bd09, or EPSG code",
    )
    p.add_argument(
        "--mapping", help="mapping file FIELD: COLUMN (.yaml, .json, or .csv target,source)"
    )
    p.add_argument(
        "--field",
        action="append",
        metavar="FIELD=FILE_COLUMN",
        help="map a file column, e.g. occurred_at='Created Date' (repeatable; overrides --mapping)",
    )
    p.add_argument(
        "--tz", default="Asia/Shanghai", help="zone of times without offset (default Asia/Shanghai)"
    )
    p.add_argument(
        "--unknown",
        choices=["reject", "unclassified"],
        default="reject",
        help="unknown categories: reject the rows (default) or import them as 99-99 unclassified",
    )
    p.add_argument(
        "--tolerance-m",
        type=float,
        default=500.0,
        help="reject points farther outside the district than this (metres, default 500)",
    )
    p.add_argument(
        "--sheet", help="Excel: read only this sheet (default: every sheet with coordinates)"
    )
    p.add_argument(
        "--date-order",
        choices=["dmy", "mdy"],
        help="numeric dates like 05/03/2026: dmy = day first, mdy = month first "
        "(default: read from the file; refused when the file does not decide it)",
    )
    p.add_argument(
        "--two-digit-years",
        action="store_true",
        help="read 05/03/26 as 2026 (by default rows with two-digit years are rejected)",
    )
    p.add_argument(
        "--rejected-out",
        help="CSV for rejected rows (default: rejected/FILE.<time>.rejected.csv beside the "
        "database)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="show the detected mapping, import nothing"
    )
    p.add_argument("--user", default="cli")
    p.set_defaults(func=cmd_incidents_import)

    p = inc.add_parser(
        "export", parents=[common, period_options(), category_options()], help="export incidents"
    )
    p.add_argument("--out", required=True, help=".csv .xlsx .geojson .gpkg .parquet")
    p.add_argument("--crs", help="coordinates out in wgs84 (default), gcj02, bd09 or an EPSG code")
    p.add_argument("--lang", choices=["zh", "en"], help="add category names in this language")
    p.set_defaults(func=cmd_incidents_export)
