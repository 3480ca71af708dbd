"""``gridlens zones | brief | evaluate``: the joint rectification commands (``gis.planning``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from gis import hotspots as hs
from gis import planning, store
from gis.cli._common import (
    build_units,
    category_options,
    engine_from_args,
    filter_incidents,
    output_options,
    period_options,
    read_store_incidents,
    units_options,
)
from gis.core.errors import InputError
from gis.incidents import read_incident_file
from gis.io import read_geo_file, write_geo_file
from gis.reports import render_briefing_html, write_briefing_excel

#: Default briefing period: this many days up to the latest incident.
BRIEF_DAYS = 90


def _store_taxonomy(engine) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The database's own taxonomy and departments (None where empty: the CSV defaults)."""
    tax = store.read_table(engine, "taxonomy")
    deps = store.read_table(engine, "departments")
    if tax.empty or deps.empty:
        return None, None
    return tax, deps


def cmd_zones(args) -> int:
    engine = engine_from_args(args)
    incidents = read_store_incidents(
        engine, start=args.start, end=args.end, categories=args.category
    )
    if incidents.empty:
        raise InputError("no incidents in the database for that period and categories")
    grids = store.read_grids(engine)
    units = hs.hotspots(hs.count_by_unit(incidents, build_units(args.by, grids, incidents)))
    tax, deps = _store_taxonomy(engine)
    period = (args.start, args.end) if args.start is not None and args.end is not None else None
    zones = planning.propose_zones(
        units,
        incidents,
        min_bin=args.min_bin,
        min_incidents=args.min_incidents,
        min_area_m2=args.min_area_m2,
        tighten=args.tighten,
        taxonomy=tax,
        departments=deps,
        period=period,
        top=args.top,
    )
    path = write_geo_file(zones, args.out)
    reason = "reason_zh" if args.lang == "zh" else "reason_en"
    print(
        f"{len(zones)} proposed zone(s) from {zones.attrs.get('hot_units', 0)} hot "
        f"{args.by} units and {len(incidents):,} incidents -> {path}"
    )
    for text in zones[reason]:
        print(f"  {text}")
    return 0


def _area_from_file(path: str):
    frame, _ = read_geo_file(path)
    return planning.area_geometry(frame)


def cmd_brief(args) -> int:
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".html", ".htm", ".xlsx"):
        raise InputError(f"{out}: the briefing is written as .html or .xlsx")
    engine = engine_from_args(args)
    grids = store.read_grids(engine)
    title = None
    if args.area:
        area = _area_from_file(args.area)
    elif args.plan is not None:
        plan = planning.get_plan(engine, args.plan)
        area, title = plan["geometry"], str(plan["name"])
    else:
        area = [c for c in args.grids.replace("，", ",").split(",") if c.strip()]
    end = args.end
    if end is None:
        last = store.incident_time_range(engine)[1]
        if last is None:
            raise InputError("no incidents in the database")
        end = pd.Timestamp(last) + pd.Timedelta(seconds=1)
    start = args.start if args.start is not None else end - pd.Timedelta(days=BRIEF_DAYS)
    incidents = read_store_incidents(engine, start=start, end=end, categories=args.category)
    tax, deps = _store_taxonomy(engine)
    brief = planning.briefing(
        area,
        incidents,
        grids=grids,
        staff=store.read_table(engine, "staff"),
        taxonomy=tax,
        departments=deps,
        period=(start.to_pydatetime(), end.to_pydatetime()),
        title=title,
    )
    if suffix == ".xlsx":
        write_briefing_excel(brief, out, lang=args.lang)
    else:
        render_briefing_html(brief, args.lang, path=out)
    for line in brief.summary(args.lang):
        print(line)
    print(f"briefing: {out}")
    return 0


def cmd_evaluate(args) -> int:
    incidents = None
    if args.incidents:
        incidents = read_incident_file(args.incidents)
        if "occurred_at" not in incidents:
            raise InputError(
                f"{args.incidents}: no time column found (occurred_at, time, 发生时间 ...)"
            )
        incidents = incidents[incidents["occurred_at"].notna()]
    if args.plan is not None:
        engine = engine_from_args(args)
        plan = planning.get_plan(engine, args.plan)
        area, label = plan["geometry"], str(plan["name"])
        before, after = planning.plan_periods(plan)
        if args.before or args.after:
            before = args.before or before
            after = args.after or after
        elif pd.Timestamp(after[1]) > pd.Timestamp.now():
            raise InputError(
                f"plan {args.plan} runs until {pd.Timestamp(after[1]):%Y-%m-%d}; "
                "evaluate it after its period (or give --before/--after)"
            )
    else:
        if not (args.before and args.after):
            raise InputError("--area needs --before START:END and --after START:END")
        area, label = _area_from_file(args.area), Path(args.area).stem
        before, after = args.before, args.after
        engine = engine_from_args(args) if (incidents is None or args.db) else None
    district = None
    if engine is not None:
        district = planning.store_district(engine)
        if incidents is None:
            incidents = read_store_incidents(
                engine, start=min(before[0], after[0]), end=max(before[1], after[1])
            )
    incidents = filter_incidents(incidents, categories=args.category)
    ev = planning.evaluate(
        area,
        incidents,
        before=before,
        after=after,
        buffer_m=args.buffer_m,
        district=district,
        categories=args.category,
        label=label,
    )
    if args.json:
        print(json.dumps(ev.to_dict(), ensure_ascii=False, indent=2))
        return 0
    rows = [
        ("area", ev.area_before, ev.area_after),
        (f"buffer {ev.buffer_m:.0f} m", ev.buffer_before, ev.buffer_after),
        ("control", ev.control_before, ev.control_after),
    ]
    print(f"{'':16s} {'before':>9s} {'after':>9s}")
    for name, b, a in rows:
        print(f"{name:16s} {b:9,d} {a:9,d}")
    print(ev.explanation(args.lang))
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Add ``zones``, ``brief`` and ``evaluate`` to the ``gridlens`` subparsers."""
    lang = argparse.ArgumentParser(add_help=False)
    lang.add_argument("--lang", choices=["zh", "en"], default="zh", help="language (default zh)")
    cats = category_options()

    p = sub.add_parser(
        "zones",
        parents=[
            common,
            lang,
            cats,
            units_options(
                "h3:10", "analysis units: h3:RES, fishnet:METRES or grid:LEVEL", default_h3=10
            ),
            period_options("incidents on or after (YYYY-MM-DD)", "incidents before (YYYY-MM-DD)"),
            output_options(".geojson .gpkg .csv (WKT) .parquet"),
        ],
        help="propose joint rectification zones from Gi* hot spots, ranked with reasons",
    )
    p.add_argument("--top", type=int, help="keep the best N zones")
    p.add_argument("--min-bin", type=int, default=2, help="Gi* bin that makes a unit hot (2=95 %%)")
    p.add_argument("--min-incidents", type=int, default=20)
    p.add_argument("--min-area-m2", type=float, default=10_000.0)
    p.add_argument("--tighten", action="store_true", help="cut zones to their incidents' hull")
    p.set_defaults(func=cmd_zones)

    p = sub.add_parser(
        "brief",
        parents=[
            common,
            lang,
            cats,
            period_options(
                f"incidents on or after (default: {BRIEF_DAYS} days back)",
                "incidents before (default: after the latest incident)",
            ),
            output_options("FILE.html (self-contained) or FILE.xlsx"),
        ],
        help="briefing for an area (HTML or Excel)",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--area", help="polygon file (GeoJSON, GeoPackage, Shapefile, CSV WKT)")
    where.add_argument("--plan", type=int, help="a saved plan's id")
    where.add_argument("--grids", help="grid codes, comma-separated")
    p.set_defaults(func=cmd_brief)

    p = sub.add_parser(
        "evaluate",
        parents=[common, lang, cats],
        help="judge an operation: rate test against control, WDQ displacement in a buffer",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--area", help="polygon file of the operation's area")
    where.add_argument("--plan", type=int, help="a saved plan (periods from the plan)")
    p.add_argument("--buffer-m", type=float, default=300.0, help="buffer width, metres")
    p.add_argument(
        "--before",
        type=planning.parse_period,
        help="START:END (or START/END when times hold colons)",
    )
    p.add_argument("--after", type=planning.parse_period, help="START:END, the operation's period")
    p.add_argument(
        "--incidents", help="incident file instead of the database (columns found as for hotspots)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_evaluate)
