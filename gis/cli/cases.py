"""``gridlens cases ...``: deadlines, case history import, workflow steps, metrics, red light.

One command group of ``gis.cli`` (``add_commands(sub, common)``). Each command parses its
arguments, calls ``gis.cases`` and prints; library errors reach the user as one line.

- ``cases deadline --start T --limit N --type TYPE [--pause A/B ...] [--calendar F]``: the
  deadline on the last line as ``YYYY-MM-DD HH:MM:SS`` (no database needed).
- ``cases import FILE``: case histories, every row accounted for.
- ``cases metrics --by department|grid:LEVEL|staff|category --out F.csv|.xlsx``.
- ``cases overdue``: the red-light list; ``cases route CATEGORY``: where a case should go.
- ``cases show CASE`` / ``cases act CASE STEP --version N``: a case's steps and the next one.
- ``cases demo``: load the demo district's twelve months of case histories.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from gis import store
from gis.cases import (
    LIMIT_TYPES,
    STEPS,
    UNITS,
    GradeBands,
    ScoreWeights,
    WorkCalendar,
    act,
    allowed_steps,
    case_metrics,
    deadline,
    default_calendar,
    import_cases,
    red_light,
    state_label,
    suggest_route,
)
from gis.cli._common import engine_from_args
from gis.core.errors import InputError
from gis.core.times import parse_time_arg
from gis.demo.cases import load_demo_cases
from gis.io.tables import write_table
from gis.store import cases as case_store

_TIME_HELP = "YYYY-MM-DD HH:MM[:SS]"


def parse_time(text: str | None, what: str = "time") -> pd.Timestamp | None:
    """A CLI time (``YYYY-MM-DD[ HH:MM[:SS]]``, wall clock) or None; ``InputError`` otherwise."""
    return parse_time_arg(text, name=what)


def _calendar(args) -> WorkCalendar:
    if getattr(args, "calendar", None) or getattr(args, "slots", None):
        return WorkCalendar.from_csv(args.calendar, slots=args.slots)
    return default_calendar()


def cmd_deadline(args) -> int:
    """Print the deadline of one clock; the last line is the deadline alone."""
    start = parse_time(args.start, "--start")
    if start is None:
        raise InputError(f"--start is required ({_TIME_HELP})")
    pauses = []
    for item in args.pause or []:
        a, sep, b = item.partition("/")
        if not sep:
            raise InputError(f"--pause expects START/END, got {item!r}")
        pauses.append((parse_time(a, "pause start"), parse_time(b, "pause end")))
    cal = _calendar(args)
    due = deadline(start, args.limit, args.type, calendar=cal, pauses=pauses)
    print(f"start    {start:%Y-%m-%d %H:%M:%S}")
    print(f"limit    {args.limit:g} {args.type}")
    for a, b in pauses:
        print(f"paused   {a:%Y-%m-%d %H:%M:%S} - {b:%Y-%m-%d %H:%M:%S}")
    print(f"calendar {cal.describe()}")
    print(f"{due:%Y-%m-%d %H:%M:%S}")
    return 0


def cmd_import(args) -> int:
    """Import a file of case histories."""
    engine = engine_from_args(args)
    columns = {}
    for item in args.field or []:
        target, sep, source = item.partition("=")
        if not sep:
            raise InputError(f"--field expects FIELD=FILE_COLUMN, got {item!r}")
        columns[target.strip()] = source.strip()
    rejected_out = args.rejected_out or str(Path(args.file).with_suffix("")) + ".rejected.csv"
    result = import_cases(
        engine,
        args.file,
        mapping=args.mapping,
        columns=columns,
        crs=args.crs,
        tz=args.tz,
        imported_by=args.user,
        calendar=_calendar(args),
        outside="keep" if args.keep_outside else "reject",
        fill_deadlines=args.fill_deadlines,
        rejected_out=None if args.dry_run else rejected_out,
        dry_run=args.dry_run,
    )
    print("columns: " + ", ".join(f"{k} <- {v!r}" for k, v in result.mapping.items()))
    print(
        f"transitions {result.transitions:,}; deadlines from the file {result.deadlines_from_file:,}"
        f", from category limits {result.deadlines_from_limits:,}; unclassified "
        f"{result.unclassified:,}"
    )
    if not args.dry_run and result.imported:
        print(
            f"incidents created {result.incidents_created:,}, linked {result.incidents_linked:,}"
            f"; batch {result.batch_id}"
        )
    if len(result.rejected) and not args.dry_run:
        print(f"rejected rows: {rejected_out}")
    print(result.summary_line() + (" (dry run: nothing written)" if args.dry_run else ""))
    return 0 if result.imported or not result.total or args.dry_run else 1


def cmd_metrics(args) -> int:
    """Metrics per unit to a CSV/Excel file, with a short printout."""
    engine = engine_from_args(args)
    table = case_metrics(
        engine,
        args.by,
        parse_time(args.start, "--start"),
        parse_time(args.end, "--end"),
        weights=ScoreWeights.parse(args.weights),
        bands=GradeBands.parse(args.bands),
    )
    path = write_table(table, args.out)
    shown = table[["unit", "reported", "closed", "on_time_close_rate", "score", "grade"]]
    print(shown.head(args.top).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"wrote {len(table):,} units to {path}")
    return 0


def cmd_overdue(args) -> int:
    """The red-light list."""
    engine = engine_from_args(args)
    at = parse_time(args.at, "--at")
    light = red_light(engine, at, calendar=_calendar(args))
    if args.out:
        path = write_table(light, args.out)
        print(f"wrote {len(light):,} overdue cases to {path}")
    cols = ["case_code", "category_code", "department", "deadline", "overdue_hours", "state"]
    if len(light):
        print(light[cols].head(args.top).to_string(index=False))
    print(f"{len(light):,} open cases past their deadline")
    return 0


def cmd_route(args) -> int:
    """Where a case of a category should be dispatched on a day, and why."""
    route = suggest_route(args.category, parse_time(args.at, "--at"))
    print(route.reason(args.lang))
    print(route.department)
    return 0


def cmd_show(args) -> int:
    """A case's steps, state, version and allowed next steps."""
    engine = engine_from_args(args)
    key = int(args.case) if args.case.isdigit() else args.case
    case = case_store.read_case(engine, key) or case_store.read_case(engine, args.case)
    if case is None:
        raise InputError(f"no case {args.case!r}")
    steps = case_store.read_transitions(engine, [case["id"]])
    cols = ["seq", "action", "to_state", "actor", "at", "department", "assignee", "deadline"]
    print(steps[cols].to_string(index=False))
    print(f"case {case['case_code']}: {state_label(case['state'])}, version {case['version']}")
    print(f"deadline {case['deadline'] or '-'}; department {case['department'] or '-'}")
    nxt = ", ".join(STEPS[a].label() for a in allowed_steps(case)) or "none"
    print(f"next: {nxt}")
    return 0


def cmd_act(args) -> int:
    """Take one step on a case (refused when the version moved on)."""
    engine = engine_from_args(args)
    key = int(args.case) if args.case.isdigit() else args.case
    case = act(
        engine,
        key,
        args.step,
        actor=args.by,
        seen_version=args.version,
        at=parse_time(args.at, "--at"),
        reason=args.reason,
        note=args.note,
        department=args.department,
        assignee=args.assignee,
        result=args.result,
        calendar=_calendar(args),
    )
    print(
        f"case {case['case_code']}: {state_label(case['state'])}, version {case['version']}, "
        f"deadline {case['deadline'] or '-'}"
    )
    return 0


def cmd_demo(args) -> int:
    """Load the demo district's case histories (the demo district must be loaded)."""
    engine = engine_from_args(args)
    if store.count_rows(engine, "incidents") == 0:
        raise InputError("the database has no incidents: run 'gridlens demo' first")
    written = load_demo_cases(engine, seed=args.seed)
    print(f"demo case histories: {written['cases']:,} cases, {written['transitions']:,} steps")
    print("planted truth: meta key demo_cases_truth")
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Add the ``cases`` command group to the ``gridlens`` subparsers."""
    cases = sub.add_parser("cases", help="cases: deadlines, import, steps, metrics, red light")
    csub = cases.add_subparsers(dest="action", required=True)
    cal = argparse.ArgumentParser(add_help=False)
    cal.add_argument("--calendar", help="calendar CSV date,kind (default data/calendar.csv)")
    cal.add_argument("--slots", help="working slots, default 08:00-12:00,14:00-18:00")

    p = csub.add_parser("deadline", parents=[common, cal], help="deadline of a time limit")
    p.add_argument("--start", required=True, help=f"when the clock starts ({_TIME_HELP})")
    p.add_argument("--limit", required=True, type=float, help="the limit, e.g. 2 or 0.5")
    p.add_argument("--type", required=True, choices=LIMIT_TYPES, help="the limit's type")
    p.add_argument(
        "--pause",
        action="append",
        metavar="START/END",
        help="a paused interval, e.g. '2026-02-13 10:00/2026-02-24 09:00' (repeatable)",
    )
    p.set_defaults(func=cmd_deadline)

    p = csub.add_parser("import", parents=[common, cal], help="import case histories")
    p.add_argument("file", help="CSV / Excel export (数字城管, 12345, 311)")
    p.add_argument("--field", action="append", metavar="FIELD=FILE_COLUMN",
                   help="map a column, e.g. deadline='Due Date' (repeatable)")  # fmt: skip
    p.add_argument("--mapping", help="mapping file FIELD: COLUMN (.yaml .json .csv)")
    p.add_argument("--crs", help="coordinates: wgs84 (default), cgcs2000, gcj02, bd09, EPSG")
    p.add_argument("--tz", default="Asia/Shanghai", help="zone of times without an offset")
    p.add_argument("--keep-outside", action="store_true", help="keep points outside all grids")
    p.add_argument("--fill-deadlines", action="store_true",
                   help="rows with an empty deadline get their category's limit")  # fmt: skip
    p.add_argument("--rejected-out", help="CSV of rejected rows (default FILE.rejected.csv)")
    p.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    p.add_argument("--user", default="cli", help="recorded as who imported")
    p.set_defaults(func=cmd_import)

    p = csub.add_parser("metrics", parents=[common], help="metrics, score and grade per unit")
    p.add_argument("--by", default="department", help=f"one of {', '.join(UNITS)}")
    p.add_argument("--start", help=f"period start ({_TIME_HELP}; default: all)")
    p.add_argument("--end", help="period end, exclusive (default: now)")
    p.add_argument("--out", required=True, help=".csv .xlsx .parquet")
    p.add_argument("--weights", help="score weights, e.g. close_rate=30,on_time_close_rate=20")
    p.add_argument("--bands", help="grade bands, e.g. A=90,B=75,C=60,D=40")
    p.add_argument("--top", type=int, default=20, help="rows to print")
    p.set_defaults(func=cmd_metrics)

    p = csub.add_parser("overdue", parents=[common, cal], help="the red-light list")
    p.add_argument("--at", help=f"as of ({_TIME_HELP}; default now)")
    p.add_argument("--out", help=".csv .xlsx .parquet")
    p.add_argument("--top", type=int, default=20, help="rows to print")
    p.set_defaults(func=cmd_overdue)

    p = csub.add_parser(
        "route", parents=[common], help="the suggested dispatch target of a category, with why"
    )
    p.add_argument("category", help="minor class, e.g. 05-05")
    p.add_argument("--at", help="the day (default today)")
    p.add_argument("--lang", choices=["zh", "en"], default="zh")
    p.set_defaults(func=cmd_route)

    p = csub.add_parser("show", parents=[common], help="a case's steps and next steps")
    p.add_argument("case", help="case code or id")
    p.set_defaults(func=cmd_show)

    p = csub.add_parser("act", parents=[common, cal], help="take one step on a case")
    p.add_argument("case", help="case code or id")
    p.add_argument("step", choices=[s for s in STEPS if s != "report"])
    p.add_argument("--version", type=int, required=True, help="the case version you saw")
    p.add_argument("--by", required=True, help="who takes the step")
    p.add_argument("--at", help=f"when ({_TIME_HELP}; default now)")
    p.add_argument("--reason")
    p.add_argument("--note")
    p.add_argument("--department", help="派遣: department code, street_team or higher_platform")
    p.add_argument("--assignee", help="派遣 level 2: the team or officer")
    p.add_argument("--result", help="回访评价: satisfied | basically_satisfied | unsatisfied")
    p.set_defaults(func=cmd_act)

    p = csub.add_parser("demo", parents=[common], help="load the demo case histories")
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(func=cmd_demo)


__all__ = ["add_commands", "parse_time"]
