"""``gridlens report daily|weekly|monthly``: the period reports (日碰头 / 周点评 / 月通报) as
HTML, Excel or PDF, put into the archive (``gis.reports``); ``gridlens report archive`` lists
it. A failed run writes nothing, leaves the archive as it was and says why (exit code 1)."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from gis.cli._common import engine_from_args
from gis.io import write_table
from gis.reports import KINDS, format_of, generate_report
from gis.store import reports as archive_rows


def _who(args) -> str:
    if args.by:
        return args.by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "gridlens"


def cmd_report(args) -> int:
    fmt = format_of(args.out)
    engine = engine_from_args(args)
    made = generate_report(
        engine,
        args.kind,
        args.date,
        fmt=fmt,
        lang=args.lang,
        generated_by=_who(args),
        out=args.out,
        archive=not args.no_archive,
        keep_bytes=not args.path_only,
    )
    p = made.report.period
    print(f"{p.kind} report {p.start:%Y-%m-%d} .. {p.last_day:%Y-%m-%d} ({args.lang})")
    print(f"wrote {len(made.content):,} bytes to {made.path}")
    if made.archive_id is not None:
        print(f"archived as report {made.archive_id}")
    return 0


def cmd_archive(args) -> int:
    frame = archive_rows.list_archive(engine_from_args(args), kind=args.kind)
    if args.out:
        path = write_table(frame, args.out)
        print(f"wrote {len(frame):,} archived reports to {path}")
        return 0
    if frame.empty:
        print("the archive is empty")
        return 0
    for row in frame.itertuples(index=False):
        print(
            f"{row.id}\t{row.kind}\t{row.period_start:%Y-%m-%d}\t{row.period_end:%Y-%m-%d}\t"
            f"{row.lang}\t{row.format}\t{row.generated_at:%Y-%m-%d %H:%M}\t{row.generated_by}\t"
            f"{row.size_bytes}"
        )
    return 0


def cmd_fetch(args) -> int:
    data = archive_rows.archived_bytes(engine_from_args(args), args.id)
    if data is None:
        print(f"report {args.id} was archived by path only (see `gridlens report archive`)")
        return 1
    Path(args.out).write_bytes(data)
    print(f"wrote {len(data):,} bytes to {args.out}")
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Add the ``report`` command group to the ``gridlens`` subparsers."""
    report = sub.add_parser(
        "report", help="period reports: daily huddle, weekly review, monthly bulletin"
    )
    rsub = report.add_subparsers(dest="kind", required=True)
    for kind in KINDS:
        p = rsub.add_parser(kind, parents=[common], help=f"the {kind} report")
        p.add_argument("--date", help="a day in the period (default: the last complete period)")
        p.add_argument("--lang", choices=("zh", "en"), default="zh", help="language (default zh)")
        p.add_argument("--out", required=True, help="F.html, F.xlsx or F.pdf")
        p.add_argument("--by", help="who or what generates it (default: the OS user)")
        p.add_argument("--no-archive", action="store_true", help="write the file only")
        p.add_argument("--path-only", action="store_true",
                       help="archive the path of --out, not the file's bytes")  # fmt: skip
        p.set_defaults(func=cmd_report)
    p = rsub.add_parser("archive", parents=[common], help="list the archived reports")
    p.add_argument("--kind", choices=KINDS, help="only this kind")
    p.add_argument("--out", help="write the listing to a table file instead")
    p.set_defaults(func=cmd_archive)
    p = rsub.add_parser("fetch", parents=[common], help="write an archived report to a file")
    p.add_argument("id", type=int, help="the archive id")
    p.add_argument("--out", required=True, help="the file to write")
    p.set_defaults(func=cmd_fetch)
