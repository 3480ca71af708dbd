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
from gis.core.errors import GridLensError


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
    from gis.incidents import detect, import_incidents

    engine = _engine(args)
    rejected_out = args.rejected_out or str(Path(args.file).with_suffix("")) + ".rejected.csv"
    columns = {}
    for item in args.field or []:
        target, sep, source = item.partition("=")
        if not sep:
            raise GridLensError(f"--field expects FIELD=FILE_COLUMN, got {item!r}")
        columns[target.strip()] = source.strip()
    if args.dry_run:
        preview = detect(args.file, mapping=args.mapping, engine=engine)
        preview.mapping = preview.mapping.with_overrides(columns, preview.columns)
        print(
            f"{preview.file_name}: {preview.row_count:,} rows ({preview.kind}"
            f"{', ' + preview.encoding if preview.encoding else ''}"
            f"{', delimiter ' + repr(preview.delimiter) if preview.delimiter else ''})"
        )
        print("columns:\n  " + "\n  ".join(preview.mapping.describe()))
        print(f"coordinates: {preview.crs_guess or '?'} ({preview.crs_why})")
        if len(preview.unknown_categories):
            top = ", ".join(f"{k} ({v})" for k, v in preview.unknown_categories.head(10).items())
            print(f"unknown categories: {top}")
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
        crs=args.crs,
        unknown=args.unknown,
        tolerance_m=args.tolerance_m,
        rejected_out=rejected_out,
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
    taxonomy = store.read_table(engine, "taxonomy") if args.lang else None
    path = export_incidents(
        frame,
        args.out,
        crs=args.crs,
        lang=args.lang,
        taxonomy=taxonomy if taxonomy is not None and len(taxonomy) else None,
    )
    crs = f" ({args.crs})" if args.crs else ""
    print(f"wrote {len(frame):,} incidents to {path}{crs}")
    return 0


def cmd_tracks_import(args) -> int:
    from gis.patrol import import_tracks

    engine = _engine(args)
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


class _PatrolInputs:
    """Tracks, grids, streets, incidents and staff from files (--tracks, --grids, --streets,
    --incidents) or else the database, opened only when something is read from it."""

    def __init__(self, args) -> None:
        self.args = args
        self._engine = None

    def engine(self):
        if self._engine is None:
            self._engine = _engine(self.args)
        return self._engine

    def period(self):
        import pandas as pd

        a = self.args
        return (
            pd.Timestamp(a.start) if a.start else None,
            pd.Timestamp(a.end) if a.end else None,
        )

    def grids(self):
        from gis import store
        from gis.io import read_geo_file

        if self.args.grids:
            frame, _ = read_geo_file(self.args.grids)
            if "level" not in frame:
                frame["level"] = "micro"
            if "code" not in frame:
                frame["code"] = frame.get("unit_id", frame.index.astype(str)).astype(str)
            if "parent_code" not in frame:
                frame["parent_code"] = None
            return frame[frame.geometry.notna()]
        grids = store.read_grids(self.engine())
        if grids.empty:
            raise GridLensError("the database has no grids: load them, or give --grids FILE")
        return grids

    def streets(self):
        from gis import store
        from gis.io import read_geo_file

        if self.args.streets:
            frame, _ = read_geo_file(self.args.streets)
            return frame[frame.geometry.notna()]
        if self.args.tracks and self._engine is None:
            return None  # files only: no streets unless --streets
        return store.read_frame(self.engine(), "streets")

    def tracks(self, grids):
        from gis import patrol, store

        start, end = self.period()
        if self.args.tracks:
            fixes = patrol.read_tracks(self.args.tracks, crs=self.args.crs, tz=self.args.tz)
            t = fixes["t"]
            keep = t.notna()
            if start is not None:
                keep &= t >= start
            if end is not None:
                keep &= t < end
            fixes = fixes[keep]
        else:
            fixes = store.read_fixes(self.engine(), start, end)
        if fixes.empty:
            raise GridLensError("no patrol fixes in the period")
        l1 = grids[grids["level"] == "l1"] if grids is not None else None
        district = (l1 if len(l1) else grids) if grids is not None else None
        data = patrol.track_data(fixes, district=district)
        if data.clean.fixes.empty:
            raise GridLensError(f"no usable fixes: {data.clean.summary_line()}")
        default = patrol.default_period(data.clean.fixes)
        return data, (start or default[0], end or default[1])

    def incidents(self, start, end, categories):
        import pandas as pd

        from gis import store
        from gis.io import read_geo_file

        if self.args.incidents:
            frame, _ = read_geo_file(self.args.incidents)
            frame = frame[frame.geometry.notna()]
            if "occurred_at" in frame:
                t = pd.to_datetime(frame["occurred_at"], errors="coerce")
                frame = frame[(t >= start) & (t < end)]
            if categories and "category_code" in frame:
                frame = frame[frame["category_code"].isin(categories)]
            return frame
        return store.read_incidents(
            self.engine(), start.to_pydatetime(), end.to_pydatetime(), categories or None
        )

    def staff(self, codes):
        from gis import store

        if self.args.grids or self.args.tracks:
            return None
        staff = store.read_table(self.engine(), "staff")
        return staff[staff["staff_code"].isin(set(codes))]


def _write_table(frame, path: str, geometry=None) -> Path:
    """CSV (UTF-8 with BOM), .xlsx, .parquet, or with unit geometry .geojson/.gpkg."""
    import geopandas as gpd

    from gis.io import write_geo_file

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix in (".geojson", ".gpkg", ".shp", ".fgb"):
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


def _unit_geometry(by: str, ids, grids, streets):
    """Geometry (EPSG:4326) per unit id for map output files."""
    import numpy as np

    from gis import hotspots, patrol

    ids = [str(i) for i in ids]
    if by == "streets":
        layer = patrol.street_units(streets).set_index("unit_id").geometry
    elif by.startswith("h3"):
        return list(hotspots._h3_polygons(ids)) if ids else []
    else:
        micro = grids[grids["level"] == "micro"]
        layer = micro.set_index(micro["code"].astype(str)).geometry
    return list(layer.reindex(np.array(ids, dtype=object)).to_numpy())


def _units_arg(by: str) -> str:
    key = by.strip().lower()
    if key in ("grid:micro", "micro", "grid"):
        return "grid:micro"
    if key == "streets" or key.startswith("h3"):
        return key
    raise GridLensError(f"--by must be grid:micro, h3:<res> or streets, got {by!r}")


def cmd_coverage(args) -> int:
    import shapely

    from gis import hotspots, patrol

    by = _units_arg(args.by)
    inputs = _PatrolInputs(args)
    needs_grids = by == "grid:micro" or args.grids or not args.tracks
    grids = inputs.grids() if needs_grids else None
    streets = inputs.streets()
    data, (start, end) = inputs.tracks(grids)
    all_units = None
    if by == "grid:micro":
        units = grids
    elif by == "streets":
        if streets is None or streets.empty:
            raise GridLensError("coverage by streets needs street lines: give --streets FILE")
        units = "streets"
    else:
        units = by
        if grids is not None:
            l1 = grids[grids["level"] == "l1"]
            area = shapely.union_all((l1 if len(l1) else grids).geometry.to_numpy())
            res = patrol.parse_units(by)[1]
            all_units = hotspots.h3_units(area, res)["unit_id"].to_numpy()
    table = patrol.coverage_table(
        data.samples,
        units,
        streets=streets if streets is not None and len(streets) else None,
        segs=data.segs,
        all_units=all_units,
        start=start,
        end=end,
        shift=args.shift,
    )
    out = table[list(patrol.COVERAGE_COLUMNS)]
    geometry = None
    if Path(args.out).suffix.lower() in (".geojson", ".gpkg", ".shp", ".fgb"):
        geometry = _unit_geometry(by, out["unit_id"], grids, streets)
    path = _write_table(out, args.out, geometry)
    p0, p1 = table.attrs["period"]
    visited = int((out["visits"] > 0).sum())
    share = table["covered_m"].sum() / table["street_m"].sum() if table["street_m"].sum() else None
    print(data.clean.summary_line())
    shift = f", shift {args.shift}" if args.shift else ""
    print(f"period {p0:%Y-%m-%d %H:%M} to {p1:%Y-%m-%d %H:%M}{shift}")
    line = f"{visited:,} of {len(out):,} units ({by}) visited"
    if share is not None:
        line += f"; street length covered within {patrol.GPS_ACCURACY_M:g} m: {share:.1%}"
    print(line)
    print(f"wrote {len(out):,} rows to {path}")
    return 0


def cmd_gaps(args) -> int:
    from gis import patrol

    by = _units_arg(args.by)
    if by == "streets":
        raise GridLensError("gaps are ranked by grid:micro or h3:<res> units, not streets")
    inputs = _PatrolInputs(args)
    grids = inputs.grids()
    data, (start, end) = inputs.tracks(grids)
    incidents = inputs.incidents(start, end, args.category)
    staff = inputs.staff(set(data.clean.fixes["staff_code"]))
    view = patrol.patrol_view(
        data.samples,
        grids,
        incidents,
        units=by,
        segs=data.segs,
        staff=staff,
        start=start,
        end=end,
        shift=args.shift,
    )
    ranked = view.gaps.ranked
    if args.top:
        ranked = ranked.head(args.top)
    geometry = None
    if Path(args.out).suffix.lower() in (".geojson", ".gpkg", ".shp", ".fgb"):
        geometry = _unit_geometry(by, ranked["unit_id"], grids, None)
    path = _write_table(ranked, args.out, geometry)
    p0, p1 = view.period
    print(data.clean.summary_line())
    print(
        f"period {p0:%Y-%m-%d %H:%M} to {p1:%Y-%m-%d %H:%M}; {len(incidents):,} incidents; "
        f"{len(view.gaps.ranked):,} units ({by}) ranked"
    )
    if by == "grid:micro":
        print(f"{len(view.gaps.unvisited):,} micro-grids with no visit in the period")
    reason = f"reason_{args.lang}"
    for row in ranked.head(5).itertuples(index=False):
        print(f"  {row.rank:>4}  {row.unit_id}  {getattr(row, reason)}")
    print(f"wrote {len(ranked):,} ranked gaps to {path}")
    if args.staff_out and view.staff is not None:
        out = _write_table(view.gaps.staff_unpatrolled, args.staff_out)
        n = len(view.gaps.staff_unpatrolled)
        print(f"wrote {n:,} staff-grid pairs not patrolled to {out}")
    return 0


def _read_password(args) -> str:
    """The new password: one line of stdin with --password-stdin, else typed twice."""
    import getpass

    from gis.core.errors import InputError

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
    p.add_argument("--rejected-out", help="CSV for rejected rows (default FILE.rejected.csv)")
    p.add_argument(
        "--dry-run", action="store_true", help="show the detected mapping, import nothing"
    )
    p.add_argument("--user", default="cli")
    p.set_defaults(func=cmd_incidents_import)
    p = inc.add_parser("export", parents=[common], help="export incidents")
    p.add_argument("--out", required=True, help=".csv .xlsx .geojson .gpkg .parquet")
    p.add_argument("--start", help="occurred on or after (YYYY-MM-DD)")
    p.add_argument("--end", help="occurred before (YYYY-MM-DD)")
    p.add_argument("--category", action="append", help="minor-class code, e.g. 05-05 (repeatable)")
    p.add_argument("--crs", help="coordinates out in wgs84 (default), gcj02, bd09 or an EPSG code")
    p.add_argument("--lang", choices=["zh", "en"], help="add category names in this language")
    p.set_defaults(func=cmd_incidents_export)

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

    pin = argparse.ArgumentParser(add_help=False)
    pin.add_argument("--tracks", help="GPS track file instead of the database's fixes")
    pin.add_argument("--grids", help="grid file instead of the database's grids")
    pin.add_argument("--streets", help="street lines file instead of the database's streets")
    pin.add_argument("--crs", default="wgs84", help="coordinates of --tracks (default wgs84)")
    pin.add_argument("--tz", help="zone of --tracks times without offset")
    pin.add_argument("--start", help="period start (YYYY-MM-DD[ HH:MM]); default: the tracks'")
    pin.add_argument("--end", help="period end, exclusive; default: the tracks'")
    pin.add_argument("--shift", help="only this daily shift, e.g. 09:00-17:00, day or night")
    pin.add_argument("--out", required=True, help=".csv .xlsx .parquet, or .geojson/.gpkg")
    p = sub.add_parser(
        "coverage",
        parents=[common, pin],
        help="patrol presence per unit: unit_id, visits, dwell_s, last_visit, max_gap_s, "
        "covered_share",
    )
    p.add_argument(
        "--by",
        default="grid:micro",
        help="grid:micro (default), h3:<res> (e.g. h3:11) or streets; covered_share is the "
        "share of the unit's street length passed within 20 m (NaN without streets)",
    )
    p.set_defaults(func=cmd_coverage)
    p = sub.add_parser(
        "gaps",
        parents=[common, pin],
        help="units where incident risk is high and patrol presence low, ranked with reasons",
    )
    p.add_argument("--by", default="grid:micro", help="grid:micro (default) or h3:<res>")
    p.add_argument("--incidents", help="incident file (lon/lat or geometry, occurred_at)")
    p.add_argument("--category", action="append", help="minor-class code (repeatable)")
    p.add_argument("--top", type=int, help="write only the first N")
    p.add_argument("--lang", choices=["en", "zh"], default="en", help="language of the printout")
    p.add_argument("--staff-out", help="CSV of each staff member's unpatrolled micro-grids")
    p.set_defaults(func=cmd_gaps)

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
    from gis._planning_cli import add_commands as add_planning_commands

    add_planning_commands(sub, common)
    from gis._hotspots_cli import add_commands as add_hotspot_commands

    add_hotspot_commands(sub, common)
    from gis.cases_cli import add_commands as add_case_commands

    add_case_commands(sub, common)
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
