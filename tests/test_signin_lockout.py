"""Brute force and sessions (issue 19 Medium, issue 20 Sessions), on both backends: an account
locks after repeated failures, an address is throttled, idle sessions expire, sign-out and a
password change end sessions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from argon2 import PasswordHasher

from gis import auth

T0 = datetime(2026, 5, 1, 9, 0)


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch):
    monkeypatch.setattr(
        auth.accounts, "HASHER", PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)
    )
    monkeypatch.delenv(auth.AUTH_ENV, raising=False)


@pytest.fixture
def verified(monkeypatch):
    """Counts the password checks (argon2 work an attacker makes the server do)."""
    calls = []

    class Counting(PasswordHasher):
        def verify(self, stored, password):
            calls.append(password)
            return super().verify(stored, password)

    monkeypatch.setattr(
        auth.accounts, "HASHER", Counting(time_cost=1, memory_cost=256, parallelism=1)
    )
    return calls


def test_25_wrong_passwords_then_the_right_one_is_refused(engine, verified):
    auth.create_user(engine, "alice", "right-password", "analyst", created_by="t")
    for k in range(25):
        now = T0 + timedelta(seconds=k)
        assert auth.authenticate(engine, "alice", f"wrong-{k}", now=now) is None
    assert len(verified) == auth.LOCKOUT_FAILURES  # no password checked while locked
    later = T0 + timedelta(minutes=1)
    assert auth.authenticate(engine, "alice", "right-password", now=later) is None
    until = auth.blocked_until(engine, "alice", now=later)
    assert until == T0 + timedelta(seconds=auth.LOCKOUT_FAILURES - 1) + auth.LOCKOUT_DURATION
    after = until + timedelta(seconds=1)
    assert auth.authenticate(engine, "alice", "right-password", now=after).username == "alice"
    assert auth.blocked_until(engine, "alice", now=after) is None  # success clears the count


def test_failures_far_apart_do_not_lock(engine):
    auth.create_user(engine, "bob", "right-password", "analyst", created_by="t")
    for k in range(auth.LOCKOUT_FAILURES + 2):
        now = T0 + k * (auth.LOCKOUT_WINDOW + timedelta(minutes=1))
        assert auth.authenticate(engine, "bob", "nope-nope", now=now) is None
    assert auth.authenticate(engine, "bob", "right-password", now=now).username == "bob"


def test_an_address_is_throttled_across_usernames(engine, verified):
    auth.create_user(engine, "carol", "right-password", "analyst", created_by="t")
    address = "203.0.113.7"
    for k in range(auth.ADDRESS_FAILURES):  # a different (unknown) name each time
        auth.authenticate(engine, f"guess{k}", "x" * 8, address=address, now=T0)
    n = len(verified)
    assert auth.authenticate(engine, "carol", "right-password", address=address, now=T0) is None
    assert len(verified) == n
    other = auth.authenticate(engine, "carol", "right-password", address="198.51.100.1", now=T0)
    assert other is not None
    later = T0 + auth.ADDRESS_WINDOW + timedelta(seconds=1)
    assert auth.authenticate(engine, "carol", "right-password", address=address, now=later)


def test_a_password_reset_unlocks(engine):
    auth.create_user(engine, "dan", "right-password", "analyst", created_by="t")
    for _ in range(auth.LOCKOUT_FAILURES):
        auth.authenticate(engine, "dan", "wrong-pass", now=T0)
    assert auth.blocked_until(engine, "dan", now=T0) is not None
    auth.set_password(engine, "dan", "new-password", by="admin")
    assert auth.authenticate(engine, "dan", "new-password", now=T0).username == "dan"


def test_sessions_resume_expire_when_idle_and_end(engine):
    user = auth.create_user(engine, "erin", "right-password", "leader", created_by="t")
    token = auth.start_session(engine, user, now=T0)
    assert auth.resume_session(engine, token, now=T0 + timedelta(minutes=20)).username == "erin"
    # used at +20 min: still alive at +45 min (25 idle), not at +20 + idle + 1
    assert auth.resume_session(engine, token, now=T0 + timedelta(minutes=45)) is not None
    idle = T0 + timedelta(minutes=45) + auth.SESSION_IDLE + timedelta(seconds=1)
    assert auth.resume_session(engine, token, now=idle) is None
    assert auth.resume_session(engine, token, now=T0 + timedelta(minutes=46)) is None  # ended
    assert auth.resume_session(engine, "forged-token", now=T0) is None
    # sign-out ends it; a disabled account's sessions are refused
    token = auth.start_session(engine, user, now=T0)
    auth.end_session(engine, token)
    assert auth.resume_session(engine, token, now=T0) is None
    token = auth.start_session(engine, user, now=T0)
    auth.create_user(engine, "root", "root-password", "admin", created_by="t")
    auth.set_active(engine, "erin", False, by="root")
    assert auth.resume_session(engine, token, now=T0) is None


def test_no_session_outlives_the_maximum(engine):
    user = auth.create_user(engine, "fay", "right-password", "analyst", created_by="t")
    token = auth.start_session(engine, user, now=T0)
    step = auth.SESSION_IDLE - timedelta(minutes=1)
    now = T0
    while now + step < T0 + auth.SESSION_MAX:
        now += step
        assert auth.resume_session(engine, token, now=now) is not None
    assert auth.resume_session(engine, token, now=T0 + auth.SESSION_MAX + step) is None


def test_a_password_change_ends_other_sessions(engine):
    user = auth.create_user(engine, "gus", "right-password", "analyst", created_by="t")
    token = auth.start_session(engine, user, now=T0)
    auth.set_password(engine, "gus", "other-password", by="gus")
    assert auth.resume_session(engine, token, now=T0) is None
