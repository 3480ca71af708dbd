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
    an analyst who may also save joint rectification plans (``save_plan``) and open the period
    reports and their archive (``view_reports``).
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

from gis.auth import accounts
from gis.auth.accounts import (
    ACTIONS,
    ADDRESS_FAILURES,
    ADDRESS_WINDOW,
    AUTH_ENV,
    DEMO_ACCOUNTS,
    DEMO_DEPARTMENTS,
    DEMO_PASSWORDS,
    GRID_ROLES,
    LOCKOUT_DURATION,
    LOCKOUT_FAILURES,
    LOCKOUT_WINDOW,
    MIN_PASSWORD_LENGTH,
    PERMISSIONS,
    SESSION_IDLE,
    SESSION_MAX,
    PermissionDenied,
    User,
    auth_enabled,
    authenticate,
    blocked_until,
    can,
    can_edit_grid,
    create_user,
    current_desktop_user,
    end_session,
    get_user,
    grid_parents,
    grid_within,
    list_users,
    require,
    require_grid_edit,
    resume_session,
    set_active,
    set_password,
    start_session,
)
from gis.auth.demo import DemoAccount, demo_accounts_present, ensure_demo_users

__all__ = [
    "accounts",
    "ACTIONS",
    "ADDRESS_FAILURES",
    "ADDRESS_WINDOW",
    "AUTH_ENV",
    "DEMO_ACCOUNTS",
    "DEMO_DEPARTMENTS",
    "DEMO_PASSWORDS",
    "DemoAccount",
    "GRID_ROLES",
    "LOCKOUT_DURATION",
    "LOCKOUT_FAILURES",
    "LOCKOUT_WINDOW",
    "MIN_PASSWORD_LENGTH",
    "PERMISSIONS",
    "PermissionDenied",
    "SESSION_IDLE",
    "SESSION_MAX",
    "User",
    "auth_enabled",
    "authenticate",
    "blocked_until",
    "can",
    "can_edit_grid",
    "create_user",
    "current_desktop_user",
    "demo_accounts_present",
    "end_session",
    "ensure_demo_users",
    "get_user",
    "grid_parents",
    "grid_within",
    "list_users",
    "require",
    "require_grid_edit",
    "resume_session",
    "set_active",
    "set_password",
    "start_session",
]
