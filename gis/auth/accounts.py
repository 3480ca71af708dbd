"""Accounts, roles and sign-in: the permission table, argon2id password hashes, lockout and
sessions. The package docstring (``gis.auth``) describes the roles."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Engine

from gis.core.errors import GridLensError, InputError
from gis.store import sessions as _sessions
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
#: Failed sign-ins in a row (none more than ``LOCKOUT_WINDOW`` apart) that lock an account ...
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=15)
#: ... for this long; while locked no password is checked (no argon2 work for an attacker).
LOCKOUT_DURATION = timedelta(minutes=15)
#: Failed sign-ins from one network address within ``ADDRESS_WINDOW`` before it is refused.
ADDRESS_FAILURES = 20
ADDRESS_WINDOW = timedelta(minutes=10)
#: A session unused this long ends (sign in again); none lasts longer than ``SESSION_MAX``.
SESSION_IDLE = timedelta(minutes=30)
SESSION_MAX = timedelta(hours=12)

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
    "view_reports",
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
        {
            "view",
            "save_plan",
            "view_reports",
            "view_cases",
            "approve_cases",
            "supervise_cases",
            "assess",
        }
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
    _sessions.delete_sessions(engine, username=username)  # signed in elsewhere: sign in again
    _sessions.clear_failures(engine, username)  # a reset password unlocks the account
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


_ADDRESS_FAILS: dict[str, deque] = {}
_ADDRESS_LOCK = threading.Lock()


def _address_failures(address: str | None, now: datetime, add: bool = False) -> int:
    """Failed sign-ins from ``address`` within ``ADDRESS_WINDOW`` (this process's memory)."""
    if not address:
        return 0
    with _ADDRESS_LOCK:
        times = _ADDRESS_FAILS.setdefault(address, deque())
        while times and now - times[0] > ADDRESS_WINDOW:
            times.popleft()
        if add:
            times.append(now)
        return len(times)


def blocked_until(
    engine: Engine, username: str, address: str | None = None, now: datetime | None = None
) -> datetime | None:
    """Until when sign-in for ``username`` (from ``address``) is refused without a check: the
    account's lock after ``LOCKOUT_FAILURES`` failures, or the address's throttle after
    ``ADDRESS_FAILURES``; None when it is not."""
    now = now or _now()
    until = []
    row = _sessions.read_failure(engine, (username or "").strip())
    if row is not None and row.locked_until is not None and row.locked_until > now:
        until.append(row.locked_until)
    if _address_failures(address, now) >= ADDRESS_FAILURES:
        with _ADDRESS_LOCK:
            until.append(_ADDRESS_FAILS[address][0] + ADDRESS_WINDOW)
    return max(until) if until else None


def authenticate(
    engine: Engine,
    username: str,
    password: str,
    *,
    address: str | None = None,
    now: datetime | None = None,
) -> User | None:
    """Check a username and password; the account, or None.

    None for an unknown user, a wrong password or a disabled account, which are not told
    apart (unknown and disabled accounts are verified against a dummy hash, so they take as long
    as a wrong password). On success a hash made with outdated parameters is replaced.

    Brute force: ``LOCKOUT_FAILURES`` failures in a row lock the username for
    ``LOCKOUT_DURATION`` and ``ADDRESS_FAILURES`` failures from one ``address`` refuse it for
    ``ADDRESS_WINDOW``; while blocked (``blocked_until``) the answer is None without checking
    the password, right or wrong. Known and unknown usernames are counted alike.
    """
    now = now or _now()
    name = (username or "").strip()
    if blocked_until(engine, name, address, now) is not None:
        log.info("sign-in refused while blocked: %r from %s", name, address)
        return None
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
        _address_failures(address, now, add=True)
        _sessions.record_failure(
            engine,
            name,
            now,
            LOCKOUT_WINDOW.total_seconds(),
            LOCKOUT_FAILURES,
            LOCKOUT_DURATION.total_seconds(),
        )
        return None
    _sessions.clear_failures(engine, name)
    if HASHER.check_needs_rehash(stored):
        with engine.begin() as conn:
            conn.execute(
                sa.update(_USERS)
                .where(_USERS.c.id == row.id, _USERS.c.password_hash == stored)
                .values(password_hash=_hash(password))
            )
    return _to_user(row)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(engine: Engine, user: User, now: datetime | None = None) -> str:
    """A new session token for ``user`` (random, 256 bits; the store keeps only its hash)."""
    token = secrets.token_urlsafe(32)
    _sessions.add_session(engine, _token_hash(token), user.username, now or _now())
    return token


def resume_session(engine: Engine, token: str | None, now: datetime | None = None) -> User | None:
    """The active user of session ``token``, or None when it is unknown, ended, idle longer
    than ``SESSION_IDLE``, older than ``SESSION_MAX`` or its account is disabled (an expired
    session is ended). Each use counts as activity."""
    if not token or len(token) > 200:
        return None
    now = now or _now()
    key = _token_hash(token)
    row = _sessions.read_session(engine, key)
    if row is None:
        return None
    fresh = get_user(engine, row.username)
    expired = now - row.last_seen > SESSION_IDLE or now - row.created_at > SESSION_MAX
    if expired or fresh is None or not fresh.active:
        _sessions.delete_sessions(engine, token_hash=key)
        return None
    if now - row.last_seen > timedelta(seconds=30):  # one write per half minute at most
        _sessions.touch_session(engine, key, now)
    return fresh


def end_session(engine: Engine, token: str | None) -> None:
    """End session ``token`` (sign-out)."""
    if token:
        _sessions.delete_sessions(engine, token_hash=_token_hash(token))


__all__ = [
    "ACTIONS",
    "AUTH_ENV",
    "DEMO_ACCOUNTS",
    "DEMO_DEPARTMENTS",
    "GRID_ROLES",
    "DEMO_PASSWORDS",
    "MIN_PASSWORD_LENGTH",
    "PERMISSIONS",
    "PermissionDenied",
    "User",
    "auth_enabled",
    "ADDRESS_FAILURES",
    "ADDRESS_WINDOW",
    "LOCKOUT_DURATION",
    "LOCKOUT_FAILURES",
    "LOCKOUT_WINDOW",
    "SESSION_IDLE",
    "SESSION_MAX",
    "authenticate",
    "blocked_until",
    "end_session",
    "resume_session",
    "start_session",
    "can",
    "can_edit_grid",
    "create_user",
    "current_desktop_user",
    "get_user",
    "grid_parents",
    "grid_within",
    "list_users",
    "require",
    "require_grid_edit",
    "set_active",
    "set_password",
]
