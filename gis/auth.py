"""Sign-in and roles: local accounts with argon2 password hashes, and one table of permissions.

Typical use::

    from gis import auth
    user = auth.authenticate(engine, "leader", password)     # User or None
    if auth.can(user, "save_plan"): ...
    auth.require(user, "manage_users")                       # raises PermissionDenied
    parents = auth.grid_parents(engine)                      # code -> parent_code
    auth.can_edit_grid(user, "140581001001100", parents)

Roles (``PERMISSIONS`` is the single source of truth):

``analyst``
    reads everything (``view``).
``leader``
    an analyst who may also save joint rectification plans (``save_plan``).
``grid_admin``
    an analyst who may edit grids (``edit_grids``), but only the grids assigned to them
    (``users.grid_codes``) and their descendants; see ``can_edit_grid``.
``admin``
    everything: users, taxonomy, imports, any grid.

Passwords are hashed with argon2id (argon2-cffi); neither a password nor its hash is ever
logged or returned by a listing. Sign-in verifies with the library's constant-time check, runs
the same verification against a dummy hash for unknown or disabled accounts (so the answer
time does not tell which usernames exist), and upgrades the stored hash when the hashing
parameters have changed since it was made.

Single-user desktop mode: set ``GRIDLENS_AUTH=off`` and there is no sign-in;
``current_desktop_user()`` then returns an ``admin`` named ``desktop``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Engine

from gis.core.errors import GridLensError, InputError
from gis.store import read_grids
from gis.store.grids import current_codes_among, current_grid_parents
from gis.store.models import USER_ROLES
from gis.store.models import User as UserRow

log = logging.getLogger(__name__)

#: Environment variable that switches sign-in off for single-user desktop use (``off``).
AUTH_ENV = "GRIDLENS_AUTH"
_OFF_VALUES = frozenset({"off", "0", "false", "no"})

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
MAX_USERNAME_LENGTH = 64

#: Every action the application checks, and what each role may do.
#: ``view``: the analysis pages; ``view_cases``: the case queue (a handler sees its department's
#: cases, a grid worker those of its grids); the other ``*_cases`` actions are the steps of the
#: closed loop (``gis.cases.roles`` maps each step to one of them); ``assess``: the assessment.
ACTIONS = (
    "view",
    "save_plan",
    "edit_grids",
    "manage_users",
    "edit_taxonomy",
    "import_data",
    "view_cases",
    "report_cases",
    "dispatch_cases",
    "handle_cases",
    "verify_cases",
    "approve_cases",
    "supervise_cases",
    "assess",
)
PERMISSIONS: dict[str, frozenset[str]] = {
    "analyst": frozenset({"view", "view_cases", "assess"}),
    "leader": frozenset(
        {"view", "save_plan", "view_cases", "approve_cases", "supervise_cases", "assess"}
    ),
    "grid_admin": frozenset({"view", "edit_grids", "view_cases"}),
    "admin": frozenset(ACTIONS),
    # 受理 / 派遣 / 值班长: accepts, dispatches, closes, approves extensions and suspensions
    "dispatcher": frozenset(
        {"view", "view_cases", "report_cases", "dispatch_cases", "approve_cases", "assess"}
    ),
    # a department's handler: only its department's cases (``users.department``)
    "handler": frozenset({"view_cases", "handle_cases"}),
    # a grid worker (网格员): reports and verifies cases in its own grids (``users.grid_codes``)
    "grid_worker": frozenset({"view_cases", "report_cases", "verify_cases"}),
}
assert set(PERMISSIONS) == set(USER_ROLES)
#: roles whose accounts are limited to assigned grids (``users.grid_codes``)
GRID_ROLES = ("grid_admin", "grid_worker")

#: The demo accounts, one per role: username -> (role, password). Documented in the README.
DEMO_ACCOUNTS: dict[str, tuple[str, str]] = {
    "analyst": ("analyst", "analyst-demo"),
    "leader": ("leader", "leader-demo"),
    "gridadmin": ("grid_admin", "gridadmin-demo"),
    "admin": ("admin", "admin-demo"),
    "dispatcher": ("dispatcher", "dispatcher-demo"),
    "handler": ("handler", "handler-demo"),
    "gridworker": ("grid_worker", "gridworker-demo"),
}
#: the department of the demo handler (the street's enforcement team, which most cases go to)
DEMO_DEPARTMENTS: dict[str, str] = {"handler": "street_team"}
#: username -> password of the demo accounts.
DEMO_PASSWORDS: dict[str, str] = {name: pw for name, (_, pw) in DEMO_ACCOUNTS.items()}
_DEMO_DISPLAY = {
    "analyst": "分析员（演示）",
    "leader": "领导（演示）",
    "gridadmin": "网格管理员（演示）",
    "admin": "系统管理员（演示）",
    "dispatcher": "值班长（演示）",
    "handler": "执法队处置员（演示）",
    "gridworker": "网格员（演示）",
}

#: The hasher (argon2id with argon2-cffi's recommended parameters). Tests may swap in a cheaper
#: one; hashes made with other parameters are upgraded at the next successful sign-in.
HASHER = PasswordHasher()
_dummy: tuple[PasswordHasher, str] | None = None

_USERS = UserRow.__table__
_PUBLIC_COLUMNS = (
    "id",
    "username",
    "display_name",
    "role",
    "grid_codes",
    "active",
    "created_at",
    "created_by",
)


class PermissionDenied(GridLensError):
    """The signed-in user's role does not allow the action; the message says who and what."""


@dataclass(frozen=True)
class User:
    """A signed-in account, without its password hash.

    Attributes
    ----------
    id
        Row id in ``users`` (None for the desktop user, which is not stored).
    grid_codes
        The grids a ``grid_admin`` may edit (with their descendants); empty for other roles.
    """

    id: int | None
    username: str
    display_name: str | None
    role: str
    grid_codes: tuple[str, ...] = ()
    active: bool = True

    @property
    def label(self) -> str:
        """The name to show: the display name, else the username."""
        return self.display_name or self.username


# --------------------------------------------------------------------------- settings


def auth_enabled() -> bool:
    """Whether sign-in is required: False when ``GRIDLENS_AUTH`` is ``off`` (or 0/false/no).

    Any other value, or none, keeps sign-in on (an unrecognised value fails safe).
    """
    return os.environ.get(AUTH_ENV, "on").strip().lower() not in _OFF_VALUES


def current_desktop_user() -> User | None:
    """The implicit user of single-user desktop mode, or None when sign-in is on.

    Returns
    -------
    User | None
        An active ``admin`` named ``desktop`` when ``auth_enabled()`` is False.
    """
    if auth_enabled():
        return None
    return User(id=None, username="desktop", display_name="desktop", role="admin")


# --------------------------------------------------------------------------- permissions


def _check_action(action: str) -> None:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")


def can(user: User | None, action: str) -> bool:
    """Whether ``user`` may perform ``action`` (False for no user or a disabled account).

    For ``edit_grids`` this says whether the role edits grids at all; a ``grid_admin`` is further
    limited to its grids by ``can_edit_grid``.

    Raises
    ------
    ValueError
        ``action`` is not one of ``ACTIONS`` (a programming error, not a user's).
    """
    _check_action(action)
    if user is None or not user.active:
        return False
    return action in PERMISSIONS.get(user.role, frozenset())


def require(user: User | None, action: str) -> None:
    """Raise ``PermissionDenied`` unless ``can(user, action)``."""
    if not can(user, action):
        if user is None:
            raise PermissionDenied(f"sign in to {action.replace('_', ' ')}")
        if not user.active:
            raise PermissionDenied(f"account {user.username!r} is disabled")
        allowed = sorted(r for r, acts in PERMISSIONS.items() if action in acts)
        raise PermissionDenied(
            f"{user.username!r} ({user.role}) may not {action.replace('_', ' ')}; "
            f"that needs role {' or '.join(allowed)}"
        )


def grid_within(grid_code: str, assigned: Iterable[str], parents: Mapping[str, str | None]) -> bool:
    """Whether ``grid_code`` is one of ``assigned`` or a descendant of one.

    Parameters
    ----------
    grid_code
        The grid in question.
    assigned
        Grid codes of an assignment.
    parents
        ``code -> parent_code`` of the hierarchy (any hierarchy: 15-digit codes, wards and
        precincts ...). A code missing from it has no known parent. For a grid being created,
        add its intended parent to the mapping.
    """
    targets = set(assigned)
    code: str | None = grid_code
    seen: set[str] = set()
    while code is not None and code not in seen:
        if code in targets:
            return True
        seen.add(code)
        code = parents.get(code)
    return False


def can_edit_grid(user: User | None, grid_code: str, parents: Mapping[str, str | None]) -> bool:
    """Whether ``user`` may edit grid ``grid_code``.

    An ``admin`` may edit any grid; a ``grid_admin`` only the grids assigned to it and their
    descendants (following ``parents``, see ``grid_within``); other roles none.
    """
    if not can(user, "edit_grids"):
        return False
    assert user is not None
    if user.role == "admin":
        return True
    return grid_within(grid_code, user.grid_codes, parents)


def require_grid_edit(user: User | None, grid_code: str, parents: Mapping[str, str | None]) -> None:
    """Raise ``PermissionDenied`` unless ``can_edit_grid(user, grid_code, parents)``."""
    require(user, "edit_grids")
    if not can_edit_grid(user, grid_code, parents):
        assert user is not None
        raise PermissionDenied(
            f"{user.username!r} may edit only grids {', '.join(user.grid_codes) or '(none)'} "
            f"and the grids inside them, not {grid_code}"
        )


def grid_parents(engine: Engine) -> dict[str, str | None]:
    """``code -> parent_code`` of the current grids (for ``can_edit_grid``)."""
    return current_grid_parents(engine)


# --------------------------------------------------------------------------- validation


def _check_username(username: str) -> str:
    name = (username or "").strip()
    if not name:
        raise InputError("username must not be empty")
    if len(name) > MAX_USERNAME_LENGTH or any(ch.isspace() for ch in name):
        raise InputError(
            f"invalid username {name!r}: at most {MAX_USERNAME_LENGTH} characters, no spaces"
        )
    return name


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputError(f"password too long: at most {MAX_PASSWORD_LENGTH} characters")


def _check_role(role: str) -> None:
    if role not in USER_ROLES:
        raise InputError(f"unknown role {role!r}; expected one of {', '.join(USER_ROLES)}")


def _clean_codes(grid_codes: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(grid_codes, str):  # "code1,code2" as stored, not a sequence of characters
        grid_codes = [grid_codes]
    out: list[str] = []
    for item in grid_codes or ():
        for code in str(item).split(","):
            code = code.strip()
            if code and code not in out:
                out.append(code)
    return tuple(out)


def _check_grid_codes(conn: sa.Connection, role: str, codes: tuple[str, ...]) -> None:
    if role not in GRID_ROLES:
        if codes:
            raise InputError(
                f"grid assignments apply only to role {' or '.join(GRID_ROLES)}, not {role}"
            )
        return
    if not codes:
        raise InputError(f"a {role} needs at least one assigned grid code (--grid CODE)")
    found = current_codes_among(conn, list(codes))
    missing = [c for c in codes if c not in found]
    if missing:
        raise InputError(f"unknown grid code {', '.join(missing)} (not a current grid)")


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _to_user(row) -> User:
    codes = tuple(c for c in (row.grid_codes or "").split(",") if c)
    return User(
        id=int(row.id),
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        grid_codes=codes,
        active=bool(row.active),
    )


def _hash(password: str) -> str:
    return HASHER.hash(password)


def _dummy_hash() -> str:
    """A hash made with the current hasher, to verify against when there is no account."""
    global _dummy
    if _dummy is None or _dummy[0] is not HASHER:
        _dummy = (HASHER, HASHER.hash("gridlens-dummy-password"))
    return _dummy[1]


# --------------------------------------------------------------------------- accounts


def create_user(
    engine: Engine,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str | None = None,
    grid_codes: Iterable[str] | str = (),
    created_by: str,
) -> User:
    """Create an account.

    Parameters
    ----------
    username
        Unique (also ignoring case), at most 64 characters, no whitespace.
    password
        At least ``MIN_PASSWORD_LENGTH`` characters; only its argon2 hash is stored.
    role
        One of ``analyst``, ``leader``, ``grid_admin``, ``admin``.
    grid_codes
        For a ``grid_admin`` (required, at least one): current grid codes it may edit, with
        their descendants. Not allowed for other roles.
    created_by
        Who is creating the account (recorded in ``users.created_by``).

    Returns
    -------
    User
        The new account.

    Raises
    ------
    InputError
        Invalid or duplicate username, unknown role, short password, bad grid codes. Nothing
        is written.
    """
    name = _check_username(username)
    _check_role(role)
    _check_password(password)
    codes = _clean_codes(grid_codes)
    hashed = _hash(password)
    try:
        with engine.begin() as conn:
            _check_grid_codes(conn, role, codes)
            clash = conn.execute(
                sa.select(_USERS.c.username).where(sa.func.lower(_USERS.c.username) == name.lower())
            ).first()
            if clash is not None:
                raise InputError(f"user {clash[0]!r} already exists")
            result = conn.execute(
                sa.insert(_USERS).values(
                    username=name,
                    display_name=display_name,
                    password_hash=hashed,
                    role=role,
                    grid_codes=",".join(codes) or None,
                    active=True,
                    created_at=_now(),
                    created_by=created_by,
                )
            )
            new_id = result.inserted_primary_key[0]
    except sa.exc.IntegrityError as exc:  # a concurrent insert of the same name
        raise InputError(f"user {name!r} already exists") from exc
    log.info("user %s (%s) created by %s", name, role, created_by)
    return User(int(new_id), name, display_name, role, codes, True)


def get_user(engine: Engine, username: str) -> User | None:
    """The account named ``username`` (exact match), or None."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(*(_USERS.c[c] for c in _PUBLIC_COLUMNS)).where(
                _USERS.c.username == (username or "").strip()
            )
        ).first()
    return _to_user(row) if row is not None else None


def list_users(engine: Engine) -> pd.DataFrame:
    """All accounts, by username, without password hashes.

    Returns
    -------
    pandas.DataFrame
        Columns ``id, username, display_name, role, grid_codes, active, created_at,
        created_by``.
    """
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(*(_USERS.c[c] for c in _PUBLIC_COLUMNS)).order_by(_USERS.c.username)
        ).fetchall()
    frame = pd.DataFrame.from_records(rows, columns=list(_PUBLIC_COLUMNS))
    frame["active"] = frame["active"].astype(bool)
    return frame


def _require_existing(conn: sa.Connection, username: str) -> sa.Row:
    row = conn.execute(
        sa.select(_USERS.c.id, _USERS.c.role, _USERS.c.active).where(
            _USERS.c.username == (username or "").strip()
        )
    ).first()
    if row is None:
        raise InputError(f"unknown user {username!r}")
    return row


def set_password(engine: Engine, username: str, password: str, *, by: str) -> None:
    """Replace the password of ``username`` (``by``: who did it, written to the log).

    Raises
    ------
    InputError
        Unknown user or short password.
    """
    _check_password(password)
    hashed = _hash(password)
    with engine.begin() as conn:
        row = _require_existing(conn, username)
        conn.execute(sa.update(_USERS).where(_USERS.c.id == row.id).values(password_hash=hashed))
    log.info("password of %s changed by %s", username, by)


def set_active(engine: Engine, username: str, active: bool, *, by: str) -> None:
    """Enable or disable ``username`` (``by``: who did it, written to the log).

    A disabled account cannot sign in and is allowed nothing. The last active admin cannot be
    disabled, so that someone can always manage users.

    Raises
    ------
    InputError
        Unknown user, or disabling the last active admin.
    """
    with engine.begin() as conn:
        row = _require_existing(conn, username)
        if not active and row.role == "admin" and row.active:
            admins = conn.execute(
                sa.select(sa.func.count())
                .select_from(_USERS)
                .where(_USERS.c.role == "admin", _USERS.c.active.is_(True))
            ).scalar_one()
            if admins <= 1:
                raise InputError(f"{username!r} is the last active admin; it cannot be disabled")
        conn.execute(sa.update(_USERS).where(_USERS.c.id == row.id).values(active=bool(active)))
    log.info("user %s %s by %s", username, "enabled" if active else "disabled", by)


def authenticate(engine: Engine, username: str, password: str) -> User | None:
    """Check a username and password; the account, or None.

    None for an unknown user, a wrong password or a disabled account, which are not told
    apart (unknown and disabled accounts are verified against a dummy hash, so they take as long
    as a wrong password). On success a hash made with outdated parameters is replaced.
    """
    name = (username or "").strip()
    dummy = _dummy_hash()  # made on the first call whoever signs in, so it reveals nothing
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(*(_USERS.c[c] for c in _PUBLIC_COLUMNS), _USERS.c.password_hash).where(
                _USERS.c.username == name
            )
        ).first()
    usable = row is not None and bool(row.active)
    stored = row.password_hash if usable else dummy
    try:
        HASHER.verify(stored, password or "")
        ok = usable
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok:
        log.info("failed sign-in for %r", name)
        return None
    if HASHER.check_needs_rehash(stored):
        with engine.begin() as conn:
            conn.execute(
                sa.update(_USERS)
                .where(_USERS.c.id == row.id, _USERS.c.password_hash == stored)
                .values(password_hash=_hash(password))
            )
    return _to_user(row)


# --------------------------------------------------------------------------- demo


@dataclass(frozen=True)
class DemoAccount:
    """A demo account and what ``ensure_demo_users`` did to it (created, reset or kept)."""

    username: str
    role: str
    password: str
    status: str


def ensure_demo_users(
    engine: Engine, grid_admin_codes: Iterable[str] | None = None, *, by: str = "demo"
) -> list[DemoAccount]:
    """Create, or reset, one demo account per role (``DEMO_ACCOUNTS``), in one transaction.

    Parameters
    ----------
    grid_admin_codes
        Grids assigned to ``gridadmin``; default: the first current level-1 grid.
    by
        Recorded as ``created_by``. An existing account with a demo username that was not
        created by ``by`` is a real account: it is kept unchanged (status ``kept``).

    Returns
    -------
    list[DemoAccount]
        One per role, with its documented password (``DEMO_PASSWORDS``).
    """
    if grid_admin_codes is None:
        l1 = read_grids(engine, level="l1")
        if l1.empty:
            raise InputError("no level-1 grids loaded: cannot assign the demo grid admin")
        grid_admin_codes = [str(l1["code"].iloc[0])]
    codes = _clean_codes(grid_admin_codes)
    hashes = {name: _hash(pw) for name, pw in DEMO_PASSWORDS.items()}
    out: list[DemoAccount] = []
    now = _now()
    with engine.begin() as conn:
        for name, (role, password) in DEMO_ACCOUNTS.items():
            assigned = codes if role in GRID_ROLES else ()
            _check_grid_codes(conn, role, assigned)
            existing = conn.execute(
                sa.select(_USERS.c.id, _USERS.c.created_by).where(
                    sa.func.lower(_USERS.c.username) == name
                )
            ).first()
            if existing is not None and existing.created_by != by:
                out.append(DemoAccount(name, role, password, "kept"))
                continue
            if existing is not None:
                conn.execute(sa.delete(_USERS).where(_USERS.c.id == existing.id))
            conn.execute(
                sa.insert(_USERS).values(
                    username=name,
                    display_name=_DEMO_DISPLAY[name],
                    password_hash=hashes[name],
                    role=role,
                    grid_codes=",".join(assigned) or None,
                    active=True,
                    created_at=now,
                    created_by=by,
                    department=DEMO_DEPARTMENTS.get(name),
                )
            )
            out.append(DemoAccount(name, role, password, "reset" if existing else "created"))
    log.info("demo accounts ensured by %s", by)
    return out


__all__ = [
    "ACTIONS",
    "AUTH_ENV",
    "DEMO_ACCOUNTS",
    "DEMO_DEPARTMENTS",
    "GRID_ROLES",
    "DEMO_PASSWORDS",
    "MIN_PASSWORD_LENGTH",
    "PERMISSIONS",
    "DemoAccount",
    "PermissionDenied",
    "User",
    "auth_enabled",
    "authenticate",
    "can",
    "can_edit_grid",
    "create_user",
    "current_desktop_user",
    "ensure_demo_users",
    "get_user",
    "grid_parents",
    "grid_within",
    "list_users",
    "require",
    "require_grid_edit",
    "set_active",
    "set_password",
]
