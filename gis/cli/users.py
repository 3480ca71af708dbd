"""``gridlens users add | list | passwd | disable | enable``: sign-in accounts (``gis.auth``)."""

from __future__ import annotations

import argparse
import getpass
import sys

from gis import auth
from gis.cases.routing import TEAM_NAMES
from gis.cli._common import engine_from_args
from gis.core.errors import GridLensError, InputError
from gis.store import casework
from gis.taxonomy import read_departments


def _read_password(args) -> str:
    """The new password: one line of stdin with --password-stdin, else typed twice."""
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
    engine = engine_from_args(args)
    if (args.department is not None) != (args.role == "handler"):
        raise InputError("a handler needs --department CODE, and only a handler has one")
    known = set(read_departments()["code"]) | set(TEAM_NAMES)
    if args.department is not None and args.department not in known:
        raise InputError(
            f"unknown department {args.department!r}; one of {', '.join(sorted(known))}"
        )
    user = auth.create_user(
        engine,
        args.name,
        _read_password(args),
        args.role,
        display_name=args.display_name,
        grid_codes=args.grid or (),
        created_by=args.by,
    )
    if args.department is not None:
        casework.set_user_department(engine, user.username, args.department)
    grids = f", grids {','.join(user.grid_codes)}" if user.grid_codes else ""
    dept = f", department {args.department}" if args.department else ""
    print(f"created user {user.username} (role {user.role}{grids}{dept})")
    return 0


def cmd_users_list(args) -> int:
    users = auth.list_users(engine_from_args(args))
    if users.empty:
        print("no users; add one with: gridlens users add NAME --role admin")
        return 0
    users["active"] = users["active"].map({True: "yes", False: "no"})
    print(users.drop(columns=["id"]).fillna("").to_string(index=False))
    return 0


def cmd_users_passwd(args) -> int:
    engine = engine_from_args(args)
    if auth.get_user(engine, args.name) is None:
        raise GridLensError(f"unknown user {args.name!r}")
    auth.set_password(engine, args.name, _read_password(args), by=args.by)
    print(f"password of {args.name} changed")
    return 0


def cmd_users_active(args) -> int:
    auth.set_active(engine_from_args(args), args.name, args.active, by=args.by)
    print(f"user {args.name} {'enabled' if args.active else 'disabled'}")
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Add ``users add | list | passwd | disable | enable`` to the ``gridlens`` subparsers."""
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
    p.add_argument("--role", required=True, help=" | ".join(auth.PERMISSIONS))
    p.add_argument(
        "--grid",
        action="extend",
        nargs="+",
        metavar="CODE",
        help="grid a grid_admin may edit or a grid_worker works in, with the grids inside it",
    )
    p.add_argument("--department", help="the department a handler works for (departments.csv code)")
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
