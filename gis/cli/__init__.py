"""``gridlens``: the command line over the same functions the app uses.

One module per command group (``admin``, ``grids``, ``incidents``, ``tracks``, ``patrol``,
``users``, ``planning``, ``hotspots``), each with ``add_commands(sub, common)``; the options
they share live in ``gis.cli._common`` (rasterio's ``rio/`` layout). A command only parses,
calls the library and lets library errors through: every error a person can cause (bad file,
unreachable database, missing SpatiaLite or PostGIS) reaches :func:`main`, which prints it as
one line on stderr with exit code 1, never as a traceback.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence

import sqlalchemy as sa

from gis import __version__
from gis.cli import (
    admin,
    basemap,
    cases,
    grids,
    hotspots,
    incidents,
    patrol,
    planning,
    report,
    scale,
    tracks,
    users,
)
from gis.cli._common import db_options
from gis.core.errors import GridLensError

__all__ = ["GROUPS", "build_parser", "main"]

#: the command groups, in the order ``gridlens --help`` lists them
GROUPS = (
    admin,
    grids,
    incidents,
    tracks,
    patrol,
    users,
    planning,
    hotspots,
    cases,
    report,
    scale,
    basemap,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="gridlens",
        description="GridLens: grid governance and comprehensive law enforcement on a map.",
    )
    parser.add_argument("--version", action="version", version=f"gridlens {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    common = db_options()
    for group in GROUPS:
        group.add_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe (``| head``) is found here, not at exit
        return code
    except GridLensError as exc:
        print(f"gridlens: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # ``gridlens status | head``: the reader left, nothing to report
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except sa.exc.DBAPIError as exc:  # read-only or full database, connection lost ...
        print(f"gridlens: error: database: {_first_line(exc.orig or exc)}", file=sys.stderr)
        return 1
    except OSError as exc:  # disk full, permission denied, ... on a file the command writes
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        where = f"{exc.filename}: " if exc.filename else ""
        hint = " (free some space and run it again)" if exc.errno == errno.ENOSPC else ""
        print(f"gridlens: error: {where}{why}{hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gridlens: interrupted", file=sys.stderr)
        return 130


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message (drivers add SQL and background links)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
