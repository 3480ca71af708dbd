"""Sign-in failures and sessions in the store (tables of migration 0005_audit2).

The policy (how many failures lock an account, how long a session may idle) is
``gis.auth``'s; this module only reads and writes the rows, each call one transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gis.store.models import SignInFailure, UserSession

__all__ = [
    "add_session",
    "clear_failures",
    "delete_sessions",
    "read_failure",
    "read_session",
    "record_failure",
    "touch_session",
]

_FAIL = SignInFailure.__table__
_SESS = UserSession.__table__


def read_failure(engine: Engine, username: str) -> sa.Row | None:
    """The failure row of ``username`` (``failures``, ``last_failure``, ``locked_until``)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(_FAIL).where(_FAIL.c.username == username)).first()


def record_failure(
    engine: Engine, username: str, now: datetime, window: float, limit: int, lock: float
) -> sa.Row:
    """Count one failed sign-in of ``username`` at ``now``; lock it when ``limit`` is reached.

    Failures further apart than ``window`` seconds start a new count; the lock lasts ``lock``
    seconds from the failure that reached ``limit``. Returns the updated row.
    """
    with engine.begin() as conn:
        row = conn.execute(sa.select(_FAIL).where(_FAIL.c.username == username)).first()
        recent = row is not None and row.last_failure is not None
        recent = recent and (now - row.last_failure).total_seconds() <= window
        failures = (row.failures if recent else 0) + 1
        locked = now + timedelta(seconds=lock) if failures >= limit else None
        values = {"failures": failures, "last_failure": now, "locked_until": locked}
        if row is None:
            conn.execute(sa.insert(_FAIL).values(username=username, **values))
        else:
            conn.execute(sa.update(_FAIL).where(_FAIL.c.username == username).values(**values))
        return conn.execute(sa.select(_FAIL).where(_FAIL.c.username == username)).one()


def clear_failures(engine: Engine, username: str) -> None:
    """Forget the failed sign-ins of ``username`` (after a successful one)."""
    with engine.begin() as conn:
        conn.execute(sa.delete(_FAIL).where(_FAIL.c.username == username))


def add_session(engine: Engine, token_hash: str, username: str, now: datetime) -> None:
    """Record a new session (its token's hash) of ``username`` made at ``now``."""
    with engine.begin() as conn:
        conn.execute(
            sa.insert(_SESS).values(
                token_hash=token_hash, username=username, created_at=now, last_seen=now
            )
        )


def read_session(engine: Engine, token_hash: str) -> sa.Row | None:
    """The session row (``username``, ``created_at``, ``last_seen``) of a token's hash."""
    with engine.connect() as conn:
        return conn.execute(sa.select(_SESS).where(_SESS.c.token_hash == token_hash)).first()


def touch_session(engine: Engine, token_hash: str, now: datetime) -> None:
    """Mark the session as used at ``now``."""
    with engine.begin() as conn:
        conn.execute(sa.update(_SESS).where(_SESS.c.token_hash == token_hash).values(last_seen=now))


def delete_sessions(
    engine: Engine, *, token_hash: str | None = None, username: str | None = None
) -> None:
    """End one session (``token_hash``) or every session of ``username``."""
    cond = _SESS.c.token_hash == token_hash if token_hash else _SESS.c.username == username
    with engine.begin() as conn:
        conn.execute(sa.delete(_SESS).where(cond))
