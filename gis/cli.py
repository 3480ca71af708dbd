"""``gridlens``: the command line over the same functions the app uses.

Every error a person can cause (bad file, unreachable database, missing SpatiaLite or PostGIS)
is printed as one line on stderr with a non-zero exit code, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from gis import __version__
from gis.errors import GridLensError


def _engine(args):
    from gis import store

    return store.open_store(args.db)


def cmd_init(args) -> int:
    from gis import store

    engine = _engine(args)
    deps, classes = store.init_db(engine, args.taxonomy, args.departments)
    print(f"database ready: {engine.url.render_as_string(hide_password=True)}")
    print(f"loaded {deps} departments and {classes} taxonomy classes")
    return 0


def cmd_demo(args) -> int:
    from gis import demo, store

    engine = _engine(args)
    if not args.force and store.count_rows(engine, "grids") > 0:
        seed = store.get_meta(engine, "demo_seed")
        if seed is not None and int(seed) == args.seed:
            print(f"demo district (seed {args.seed}) is already loaded; --force reloads it")
            return 0
        if args.if_empty:
            print("the database already holds grids; the demo was not loaded (--force replaces)")
            return 0
        raise GridLensError(
            "the database already holds grids; use --force to replace them with the demo"
        )
    store.init_db(engine)
    t0 = time.perf_counter()
    district = demo.generate_district(seed=args.seed, track_days=args.track_days)
    t1 = time.perf_counter()
    written = store.load_demo(engine, district)
    from gis import auth

    accounts = auth.ensure_demo_users(engine)
    t2 = time.perf_counter()
    truth_path = Path(args.truth_out) if args.truth_out else None
    if truth_path is None and engine.dialect.name == "sqlite" and engine.url.database:
        truth_path = Path(engine.url.database).with_name("demo_truth.json")
    if truth_path is not None:
        truth_path.write_text(json.dumps(district.truth, ensure_ascii=False, indent=2))
    counts = ", ".join(f"{k} {v:,}" for k, v in written.items())
    print(f"demo district seed {args.seed}: {counts}")
    print(f"generated in {t1 - t0:.1f} s, stored in {t2 - t1:.1f} s")
    if truth_path is not None:
        print(f"planted truth: {truth_path}")
    for acc in accounts:
        note = "" if acc.status != "kept" else " (existing account kept, password unchanged)"
        print(f"demo account {acc.username:10s} role {acc.role:10s} password {acc.password}{note}")
    return 0


def cmd_status(args) -> int:
    from gis import store

    engine = store.make_engine(args.db)
    info = store.summary(engine) if store.migrate.current(engine) else {"revision": None}
    for key, value in info.items():
        print(f"{key:14s} {value}")
    return 0


def cmd_migrate(args) -> int:
    from gis import store

    engine = store.make_engine(args.db)
    if args.direction == "up":
        store.migrate.upgrade(engine, args.revision or "head")
    else:
        store.migrate.downgrade(engine, args.revision or "-1")
    print(f"schema revision: {store.migrate.current(engine)}")
    return 0


def _grid_mapping(args) -> dict[str, str]:
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
    from gis.grids import GridImportRefused, import_grids

    engine = _engine(args)
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
        result.rejected.to_csv(args.rejected_out, index=False, encoding="utf-8-sig")
        print(f"rejected rows: {args.rejected_out}")
    return 0 if result.imported or not result.total else 1


def cmd_grids_validate(args) -> int:
    from gis import store
    from gis.grids import validate_grid_file, validate_hierarchy

    if args.file:
        report, rejected = validate_grid_file(
            args.file,
            mapping=_grid_mapping(args),
            level=args.level,
            crs=args.crs,
            sliver_m2=args.sliver_m2,
        )
        if len(rejected):
            reasons = rejected["reason"].value_counts()
            detail = "; ".join(f"{r}: {n}" for r, n in reasons.items())
            print(f"{len(rejected)} row(s) left out, as an import would reject them ({detail})")
    else:
        report = validate_hierarchy(store.read_grids(_engine(args)), sliver_m2=args.sliver_m2)
    _print_report(report, args, limit=args.limit)
    return 1 if report.errors else 0


def cmd_grids_export(args) -> int:
    from gis import store
    from gis.io import write_geo_file

    engine = _engine(args)
    grids = store.read_grids(engine, level=args.level)
    cols = [c for c in grids.columns if c not in {"id", "created_by"}]
    path = write_geo_file(grids[cols], args.out)
    print(f"wrote {len(grids):,} grids to {path}")
    return 0


def cmd_incidents_import(args) -> int:
    from gis.incidents import import_incidents

    engine = _engine(args)
    rejected_out = args.rejected_out or str(Path(args.file).with_suffix("")) + ".rejected.csv"
    columns = {}
    for item in args.field or []:
        target, sep, source = item.partition("=")
        if not sep:
            raise GridLensError(f"--field expects STORE_COLUMN=FILE_COLUMN, got {item!r}")
        columns[target.strip()] = source.strip()
    result = import_incidents(
        engine,
        args.file,
        imported_by=args.user,
        columns=columns,
        tz=args.tz,
        lon=args.lon,
        lat=args.lat,
        crs=args.crs,
        rejected_out=rejected_out,
    )
    print(result.summary_line())
    if result.rejected_count:
        print(f"rejected rows with reasons: {rejected_out}")
    return 0


def cmd_incidents_export(args) -> int:
    import pandas as pd

    from gis import store
    from gis.incidents import export_incidents

    engine = _engine(args)
    frame = store.read_incidents(
        engine,
        start=pd.Timestamp(args.start).to_pydatetime() if args.start else None,
        end=pd.Timestamp(args.end).to_pydatetime() if args.end else None,
        categories=args.category or None,
    )
    path = export_incidents(frame, args.out)
    print(f"wrote {len(frame):,} incidents to {path}")
    return 0


def _read_password(args) -> str:
    """The new password: one line of stdin with --password-stdin, else typed twice."""
    import getpass

    from gis.errors import InputError

    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InputError("--password-stdin: no password on standard input")
        return line.rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("password again: ") != first:
        raise InputError("the two passwords do not match")
    return first


def cmd_users_add(args) -> int:
    from gis import auth

    engine = _engine(args)
    user = auth.create_user(
        engine,
        args.name,
        _read_password(args),
        args.role,
        display_name=args.display_name,
        grid_codes=args.grid or (),
        created_by=args.by,
    )
    grids = f", grids {','.join(user.grid_codes)}" if user.grid_codes else ""
    print(f"created user {user.username} (role {user.role}{grids})")
    return 0


def cmd_users_list(args) -> int:
    from gis import auth

    users = auth.list_users(_engine(args))
    if users.empty:
        print("no users; add one with: gridlens users add NAME --role admin")
        return 0
    users["active"] = users["active"].map({True: "yes", False: "no"})
    print(users.drop(columns=["id"]).fillna("").to_string(index=False))
    return 0


def cmd_users_passwd(args) -> int:
    from gis import auth

    engine = _engine(args)
    if auth.get_user(engine, args.name) is None:
        raise GridLensError(f"unknown user {args.name!r}")
    auth.set_password(engine, args.name, _read_password(args), by=args.by)
    print(f"password of {args.name} changed")
    return 0


def cmd_users_active(args) -> int:
    from gis import auth

    auth.set_active(_engine(args), args.name, args.active, by=args.by)
    print(f"user {args.name} {'enabled' if args.active else 'disabled'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="gridlens",
        description="GridLens: grid governance and comprehensive law enforcement on a map.",
    )
    parser.add_argument("--version", action="version", version=f"gridlens {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        help="database URL or SpatiaLite file (default: $GRIDLENS_DB or data/gridlens.db)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", parents=[common], help="create/migrate the database, load taxonomy")
    p.add_argument("--taxonomy", help="taxonomy CSV (default data/taxonomy.csv)")
    p.add_argument("--departments", help="departments CSV (default data/departments.csv)")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("demo", parents=[common], help="generate and load the demo district")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--track-days", type=int, default=14, help="days of patrol GPS tracks")
    p.add_argument("--force", action="store_true", help="replace grids already in the database")
    p.add_argument(
        "--if-empty",
        action="store_true",
        help="load only into a database without grids; otherwise leave it alone (exit 0)",
    )
    p.add_argument("--truth-out", help="where to write the planted truth JSON")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("status", parents=[common], help="backend, schema revision, row counts")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("migrate", parents=[common], help="move the schema up or down")
    p.add_argument("direction", choices=["up", "down"])
    p.add_argument("--revision", help="target revision (default: head / one step down)")
    p.set_defaults(func=cmd_migrate)

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

    inc = sub.add_parser("incidents", help="incident files").add_subparsers(
        dest="action", required=True
    )
    p = inc.add_parser("import", parents=[common], help="import incidents (GridLens columns)")
    p.add_argument("file")
    p.add_argument("--lon")
    p.add_argument("--lat")
    p.add_argument("--crs", help="CRS of the coordinates (default EPSG:4326)")
    p.add_argument(
        "--field",
        action="append",
        metavar="COLUMN=FILE_COLUMN",
        help="map a file column, e.g. occurred_at='Created Date' (repeatable)",
    )
    p.add_argument(
        "--tz", default="Asia/Shanghai", help="zone of the times (default Asia/Shanghai)"
    )
    p.add_argument("--rejected-out", help="CSV for rejected rows (default FILE.rejected.csv)")
    p.add_argument("--user", default="cli")
    p.set_defaults(func=cmd_incidents_import)
    p = inc.add_parser("export", parents=[common], help="export incidents")
    p.add_argument("--out", required=True, help=".csv .xlsx .geojson .gpkg .parquet")
    p.add_argument("--start", help="occurred on or after (YYYY-MM-DD)")
    p.add_argument("--end", help="occurred before (YYYY-MM-DD)")
    p.add_argument("--category", action="append", help="minor-class code, e.g. 05-05 (repeatable)")
    p.set_defaults(func=cmd_incidents_export)

    users = sub.add_parser("users", help="sign-in accounts and roles").add_subparsers(
        dest="action", required=True
    )
    by = argparse.ArgumentParser(add_help=False)
    by.add_argument("--by", default="cli", help="recorded as who made the change")
    pw = argparse.ArgumentParser(add_help=False)
    pw.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from one line of standard input (default: prompt twice)",
    )
    p = users.add_parser("add", parents=[common, by, pw], help="create an account")
    p.add_argument("name")
    p.add_argument("--role", required=True, help="analyst | leader | grid_admin | admin")
    p.add_argument(
        "--grid",
        action="extend",
        nargs="+",
        metavar="CODE",
        help="grid a grid_admin may edit, with the grids inside it (repeatable)",
    )
    p.add_argument("--display-name")
    p.set_defaults(func=cmd_users_add)
    p = users.add_parser("list", parents=[common], help="list accounts (no password hashes)")
    p.set_defaults(func=cmd_users_list)
    p = users.add_parser("passwd", parents=[common, by, pw], help="set a new password")
    p.add_argument("name")
    p.set_defaults(func=cmd_users_passwd)
    p = users.add_parser("disable", parents=[common, by], help="stop an account signing in")
    p.add_argument("name")
    p.set_defaults(func=cmd_users_active, active=False)
    p = users.add_parser("enable", parents=[common, by], help="let a disabled account sign in")
    p.add_argument("name")
    p.set_defaults(func=cmd_users_active, active=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GridLensError as exc:
        print(f"gridlens: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gridlens: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
