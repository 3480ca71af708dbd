"""The case roles: who may take which step, on which cases; every step names its actor."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from argon2 import PasswordHasher

from gis import auth, store
from gis.auth import PermissionDenied
from gis.cases import (
    STEP_PERMISSIONS,
    CaseConflict,
    act,
    case_scope,
    finish_task,
    may_take,
    report_case,
    report_in,
    summon,
    whistle_status,
)
from gis.core.errors import InputError
from gis.store import cases as case_store
from gis.store import casework

L1_A, L1_B = "140581001001000", "140581001002000"
IN_A = {"lon": 112.902, "lat": 35.792}  # micro-grid 140581001001101
IN_B = {"lon": 112.915, "lat": 35.792}  # community B
T0 = datetime(2026, 3, 2, 9, 0)


@pytest.fixture
def db(engine, tiny_grids, monkeypatch):
    monkeypatch.setattr(
        auth.accounts, "HASHER", PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)
    )
    store.init_db(engine)
    store.save_frame(engine, "grids", tiny_grids.assign(version=1, valid_from=datetime(2025, 1, 1)))
    return engine


def _users(db) -> dict[str, auth.User]:
    pw = "password-1"
    out = {
        "disp": auth.create_user(db, "disp", pw, "dispatcher", created_by="t"),
        "street": auth.create_user(db, "street", pw, "handler", created_by="t"),
        "police": auth.create_user(db, "police", pw, "handler", created_by="t"),
        "gw": auth.create_user(db, "gw", pw, "grid_worker", grid_codes=[L1_A], created_by="t"),
        "lead": auth.create_user(db, "lead", pw, "leader", created_by="t"),
        "ana": auth.create_user(db, "ana", pw, "analyst", created_by="t"),
    }
    casework.set_user_department(db, "street", "street_team")
    casework.set_user_department(db, "police", "pcs")
    return out


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        self.t += timedelta(minutes=10)
        return self.t


def test_every_step_has_a_permission_some_role_holds():
    held = set().union(*(acts for role, acts in auth.PERMISSIONS.items() if role != "admin"))
    assert set(STEP_PERMISSIONS.values()) <= held


def test_report_to_close_by_role_with_scopes(db):
    u, clock = _users(db), Clock()
    # a grid worker reports only inside its grids
    with pytest.raises(PermissionDenied, match="works in grids 140581001001000"):
        report_case(db, category="05-04", actor=u["gw"], reported_at=clock(), **IN_B)
    case = report_case(db, category="05-04", actor=u["gw"], reported_at=clock(), **IN_A)
    assert case["grid_l1"] == L1_A
    # a handler may not accept; a dispatcher may
    with pytest.raises(PermissionDenied, match="needs role"):
        act(db, case["id"], "accept", actor=u["street"], seen_version=1, at=clock())
    case = act(db, case["id"], "accept", actor=u["disp"], seen_version=1, at=clock())
    case = act(db, case["id"], "register", actor=u["disp"], seen_version=2, at=clock())
    case = act(db, case["id"], "dispatch", actor=u["disp"], seen_version=3, at=clock(),
               department="street_team", co_departments=["pcs", "street_team"])  # fmt: skip
    assert case["department"] == "street_team" and case["co_departments"] == "pcs"
    # the assisting department sees the case but does not act on it; the lead does
    police = case_scope(db, u["police"])
    assert police.covers(case) and not may_take(u["police"], "handle", case, police)
    with pytest.raises(PermissionDenied, match="works for pcs"):
        act(db, case["id"], "handle", actor=u["police"], seen_version=4, at=clock())
    case = act(db, case["id"], "request_extension", actor=u["street"], seen_version=4,
               at=clock(), reason="需要协调")  # fmt: skip
    with pytest.raises(PermissionDenied, match="needs role"):
        act(db, case["id"], "extend", actor=u["street"], seen_version=5, at=clock(), reason="x")
    case = act(db, case["id"], "extend", actor=u["disp"], seen_version=5, at=clock(), reason="ok")
    case = act(db, case["id"], "handle", actor=u["street"], seen_version=6, at=clock(),
               note="已清理")  # fmt: skip
    # a grid worker verifies; a dispatcher may not
    with pytest.raises(PermissionDenied, match="needs role"):
        act(db, case["id"], "verify", actor=u["disp"], seen_version=7, at=clock())
    case = act(db, case["id"], "verify", actor=u["gw"], seen_version=7, at=clock())
    with pytest.raises(PermissionDenied, match="needs role"):
        act(db, case["id"], "close", actor=u["gw"], seen_version=8, at=clock())
    with pytest.raises(PermissionDenied, match="may view cases"):
        act(db, case["id"], "close", actor=u["ana"], seen_version=8, at=clock())
    case = act(db, case["id"], "close", actor=u["disp"], seen_version=8, at=clock())
    assert case["state"] == "closed"
    steps = case_store.read_transitions(db, [case["id"]])
    assert steps["actor"].tolist() == [
        "gw", "disp", "disp", "disp", "street", "disp", "street", "gw", "disp"
    ]  # fmt: skip
    assert steps["action"].tolist()[4:6] == ["request_extension", "extend"]
    assert "协办" in steps["note"].iloc[3]


def test_scopes_of_the_queue(db):
    u, clock = _users(db), Clock()
    a = report_case(db, category="05-04", actor=u["disp"], reported_at=clock(), **IN_A)
    b = report_case(db, category="05-04", actor=u["disp"], reported_at=clock(), **IN_B)
    for case in (a, b):
        for step in ("accept", "register"):
            case = act(db, case["id"], step, actor=u["disp"], seen_version=case["version"],
                       at=clock())  # fmt: skip
    act(db, a["id"], "dispatch", actor=u["disp"], seen_version=3, at=clock(), department="pcs")
    act(db, b["id"], "dispatch", actor=u["disp"], seen_version=3, at=clock(),
        department="street_team")  # fmt: skip
    queue = casework.read_queue(db)
    assert set(queue["case_code"]) == {a["case_code"], b["case_code"]}
    street = casework.read_queue(db, departments=["street_team"], co_department="street_team")
    assert street["case_code"].tolist() == [b["case_code"]]
    mine = casework.read_queue(db, grid_codes=case_scope(db, u["gw"]).grid_codes)
    assert mine["case_code"].tolist() == [a["case_code"]]
    assert mine["lon"].iloc[0] == pytest.approx(IN_A["lon"])
    scope = case_scope(db, u["lead"])
    assert scope.everything and scope.covers({"department": "x"})


def test_a_conflict_names_who_acted_first(db):
    u, clock = _users(db), Clock()
    case = report_case(db, category="05-04", actor=u["disp"], reported_at=clock(), **IN_A)
    act(db, case["id"], "accept", actor=u["disp"], seen_version=1, at=clock())
    second = auth.create_user(db, "disp2", "password-1", "dispatcher", created_by="t")
    with pytest.raises(CaseConflict, match="disp took the step accept"):
        act(db, case["id"], "void", actor=second, seen_version=1, at=clock(), reason="dup")


def test_whistle_with_one_late_department(db):
    u, clock = _users(db), Clock()
    case = report_case(db, category="05-04", actor=u["disp"], reported_at=clock(), **IN_A)
    t0 = datetime(2026, 3, 3, 9, 0)
    with pytest.raises(PermissionDenied, match="may not blow the whistle"):
        summon(db, by=u["street"], departments=["pcs"], report_within_hours=2, title="x",
               case_id=case["id"], at=t0)  # fmt: skip
    wid = summon(db, by=u["lead"], departments=["street_team", "pcs"], report_within_hours=2,
                 title="联合整治占道经营", case_id=case["id"], at=t0,
                 tasks={"street_team": ("清理占道", 8), "pcs": ("维持秩序", 4)})  # fmt: skip
    with pytest.raises(PermissionDenied, match="another department"):
        report_in(db, wid, "pcs", by=u["street"], at=t0 + timedelta(hours=1))
    report_in(db, wid, "street_team", by=u["street"], at=t0 + timedelta(hours=1))
    with pytest.raises(InputError, match="has reported"):
        report_in(db, wid, "street_team", by=u["street"], at=t0 + timedelta(hours=1))
    status = whistle_status(db, wid, now=t0 + timedelta(hours=3)).set_index("department")
    assert status.loc["street_team", ["late", "late_hours"]].tolist() == [False, 0.0]
    assert status.loc["pcs", ["late", "late_hours"]].tolist() == [True, 1.0]  # 3 h - 2 h
    assert status.loc["street_team", "task_left_hours"] == 5.0
    assert status.loc["pcs", "task_left_hours"] == 1.0
    report_in(db, wid, "pcs", by=u["police"], at=t0 + timedelta(hours=5))
    finish_task(db, wid, "pcs", by=u["police"], at=t0 + timedelta(hours=5))
    later = whistle_status(db, wid, now=t0 + timedelta(hours=6)).set_index("department")
    assert later.loc["pcs", ["late", "late_hours"]].tolist() == [True, 3.0]  # reported at 5 h
    assert np.isnan(later.loc["pcs", "task_left_hours"])  # done
    assert later.loc["street_team", "task_left_hours"] == 2.0
