"""The demo accounts, one per role (``DEMO_ACCOUNTS``): created by ``gridlens demo``, never
reset or re-enabled afterwards; the sign-in page mentions them only while one is active."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gis.auth.accounts import (
    _DEMO_DISPLAY,
    _USERS,
    DEMO_ACCOUNTS,
    DEMO_DEPARTMENTS,
    DEMO_PASSWORDS,
    GRID_ROLES,
    _check_grid_codes,
    _clean_codes,
    _hash,
    _now,
)
from gis.core.errors import InputError
from gis.store import read_grids

log = logging.getLogger(__name__)


def demo_accounts_present(engine: Engine) -> bool:
    """Whether an active demo account (``DEMO_ACCOUNTS``, made by ``gridlens demo``) exists:
    the sign-in page mentions the demo passwords only then."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(_USERS.c.id).where(
                _USERS.c.username.in_(list(DEMO_ACCOUNTS)),
                _USERS.c.created_by == "demo",
                _USERS.c.active.is_(True),
            )
        ).first()
    return row is not None


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
    """Create the missing demo accounts, one per role (``DEMO_ACCOUNTS``), in one transaction.

    An account that exists already is kept as it is (status ``kept``): a disabled demo account
    is never re-enabled and a changed password never reset.

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
            if existing is not None:  # never re-enabled or reset: an admin may have disabled it
                out.append(DemoAccount(name, role, password, "kept"))
                continue
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


__all__ = ["DemoAccount", "demo_accounts_present", "ensure_demo_users"]
