"""The case workflow on both backends: every step allowed and refused, clocks, concurrency."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from gis import store
from gis.auth import PermissionDenied, User
from gis.cases.facts import case_facts
from gis.cases.states import STEPS
from gis.cases.workflow import CaseConflict, IllegalTransition, act, allowed_steps, report_case
from gis.core.errors import EditConflict, InputError
from gis.store import cases as case_store
from gis.store import migrate

T0 = datetime(2026, 3, 2, 9, 0)  # a Monday, in working time
REASONS = {a: f"reason for {a}" for a, s in STEPS.items() if s.needs_reason}
#: how to reach each state from 上报 (reported)
PATHS = {
    "reported": [],
    "accepted": ["accept"],
    "rejected": ["refuse"],
    "voided": ["void"],
    "registered": ["accept", "register"],
    "dispatched": ["accept", "register", "dispatch"],
    "handled": ["accept", "register", "dispatch", "handle"],
    "verified": ["accept", "register", "dispatch", "handle", "verify"],
    "suspended": ["accept", "register", "dispatch", "suspend"],
    "closed": ["accept", "register", "dispatch", "handle", "verify", "close"],
    "evaluated": ["accept", "register", "dispatch", "handle", "verify", "close", "evaluate"],
}
#: the steps each state allows (a hotline case, no supervision pending)
EXPECTED_NEXT = {
    "reported": {"accept", "refuse", "void", "supervise"},
    "accepted": {"void", "register", "supervise"},
    "rejected": set(),
    "voided": set(),
    "registered": {"dispatch", "suspend", "supervise"},
    "dispatched": {
        "dispatch",
        "return",
        "handle",
        "request_extension",
        "extend",
        "suspend",
        "supervise",
    },
    "handled": {"verify", "rework", "suspend", "supervise"},
    "verified": {"close", "supervise"},
    "suspended": {"resume", "supervise"},
    "closed": {"evaluate"},
    "evaluated": set(),
}


@pytest.fixture
def db(engine, tiny_grids):
    store.init_db(engine)
    store.save_frame(engine, "grids", tiny_grids.assign(version=1, valid_from=datetime(2025, 1, 1)))
    return engine


class Clock:
    """Step times one minute apart."""

    def __init__(self, start: datetime = T0):
        self.t = start

    def __call__(self) -> datetime:
        self.t += timedelta(minutes=1)
        return self.t


def _kwargs(action: str, state: str) -> dict:
    out = {}
    if action in REASONS:
        out["reason"] = REASONS[action]
    if action == "dispatch" and state == "dispatched":
        out["assignee"] = "S0001"
    if action == "evaluate":
        out["result"] = "satisfied"
    return out


def new_case(db, source="hotline", category="05-04", at=T0, **kw) -> dict:
    return report_case(
        db, category=category, actor="S0100", reported_at=at, source=source,
        lon=112.902, lat=35.792, **kw,
    )  # fmt: skip


def drive(db, case: dict, path: list[str], clock: Clock) -> dict:
    for action in path:
        case = act(db, case["id"], action, actor="S0200", seen_version=case["version"],
                   at=clock(), **_kwargs(action, case["state"]))  # fmt: skip
    return case


def test_allowed_steps_of_every_state():
    for state, expected in EXPECTED_NEXT.items():
        row = {"state": state, "source": "hotline", "department": "street_team"}
        assert set(allowed_steps(row)) == expected, state
    patrol = {"state": "closed", "source": "patrol", "department": "street_team"}
    assert allowed_steps(patrol) == []  # 回访评价 is for hotline cases
    pending = {"state": "dispatched", "source": "patrol", "department": "pcs",
               "supervised_at": T0, "supervision_reply_at": None}  # fmt: skip
    assert "reply" in allowed_steps(pending) and "supervise" not in allowed_steps(pending)
    escalated = {"state": "dispatched", "source": "patrol", "department": "higher_platform"}
    assert "dispatch" not in allowed_steps(escalated)


def test_every_step_allowed_and_refused(db):
    clock = Clock()
    for state, path in PATHS.items():
        case = drive(db, new_case(db, at=clock()), path, clock)
        assert case["state"] == state and case["version"] == len(path) + 1
        for action in STEPS:
            if action == "report" or action in EXPECTED_NEXT[state]:
                continue
            with pytest.raises(IllegalTransition) as err:
                act(db, case["id"], action, actor="x", seen_version=case["version"], at=clock(),
                    **_kwargs(action, state))  # fmt: skip
            assert f"is {state}" in str(err.value) and "allowed next:" in str(err.value)
        again = case_store.read_case(db, case["id"])
        assert again["version"] == case["version"]  # nothing written by refused steps
        for action in EXPECTED_NEXT[state]:
            fresh = drive(db, new_case(db, at=clock()), path, clock)
            done = act(db, fresh["id"], action, actor="S0300", seen_version=fresh["version"],
                       at=clock(), **_kwargs(action, state))  # fmt: skip
            assert done["version"] == fresh["version"] + 1
            target = STEPS[action].target
            if action == "resume":
                target = "dispatched"
            assert done["state"] == (target or state), (state, action)


def test_full_loop_with_routing_deadline_and_evaluation(db):
    clock = Clock()
    case = new_case(db)
    assert case["state"] == "reported" and case["version"] == 1
    assert (case["grid_code"], case["grid_l2"], case["grid_l1"], case["grid_version"]) == (
        "140581001001101",
        "140581001001100",
        "140581001001000",
        1,
    )
    case = drive(db, case, ["accept", "register"], clock)
    # 05-04: 2 working hours from 立案 at 09:02
    assert case["deadline"] == datetime(2026, 3, 2, 11, 2)
    case = act(
        db, case["id"], "dispatch", actor="dispatcher", seen_version=case["version"], at=clock()
    )
    assert case["department"] == "street_team"  # the enforcement list's suggestion
    steps = case_store.read_transitions(db, [case["id"]])
    assert "执法清单" in steps["note"].iloc[-1] and steps["level"].iloc[-1] == 1
    case = act(db, case["id"], "dispatch", actor="team lead", seen_version=case["version"],
               at=clock(), assignee="S0542")  # fmt: skip
    assert (case["department"], case["assignee"]) == ("street_team", "S0542")
    with pytest.raises(InputError, match="returns it first"):
        act(db, case["id"], "dispatch", actor="x", seen_version=case["version"], at=clock(),
            department="pcs", assignee="S1")  # fmt: skip
    case = drive(db, case, ["handle", "verify", "close"], clock)
    last = case_store.read_transitions(db, [case["id"]]).iloc[-1]
    assert last["action"] == "close" and last["result"] == "on_time"
    with pytest.raises(InputError, match="evaluation result"):
        act(db, case["id"], "evaluate", actor="12345", seen_version=case["version"], at=clock(),
            result="great")  # fmt: skip
    case = act(db, case["id"], "evaluate", actor="12345", seen_version=case["version"],
               at=clock(), result="unsatisfied")  # fmt: skip
    assert case["state"] == "evaluated" and case["satisfied"] in (False, 0)
    # the incident was created with the case
    with db.connect() as conn:
        inc = conn.execute(sa.text("SELECT external_id, category_code FROM incidents")).fetchall()
    assert (case["case_code"], "05-04") in [tuple(r) for r in inc]


def test_reasons_are_required(db):
    clock = Clock()
    case = new_case(db)
    for action in ("refuse", "void", "supervise"):
        with pytest.raises(InputError, match="needs a reason"):
            act(db, case["id"], action, actor="x", seen_version=1, at=clock())
    case = drive(db, case, ["accept", "register", "dispatch"], clock)
    for action in ("return", "extend", "suspend"):
        with pytest.raises(InputError, match="needs a reason"):
            act(db, case["id"], action, actor="x", seen_version=case["version"], at=clock(),
                reason="  ")  # fmt: skip


def test_return_then_dispatch_elsewhere(db):
    clock = Clock()
    case = drive(db, new_case(db, category="06-02"), ["accept", "register"], clock)
    case = act(db, case["id"], "dispatch", actor="d", seen_version=case["version"], at=clock(),
               department="street_team")  # fmt: skip
    case = act(db, case["id"], "return", actor="street_team", seen_version=case["version"],
               at=clock(), reason="居民噪声不属街道执法清单")  # fmt: skip
    assert case["state"] == "registered" and case["first_return_at"] is not None
    case = act(db, case["id"], "dispatch", actor="d", seen_version=case["version"], at=clock())
    assert case["department"] == "pcs"  # the service list's lead for 06-02
    other = drive(db, new_case(db, category="06-02"), ["accept", "register"], clock)
    with pytest.raises(InputError, match="unknown department"):
        act(db, other["id"], "dispatch", actor="d", seen_version=other["version"], at=clock(),
            department="nowhere")  # fmt: skip


def test_extension_only_before_the_deadline_and_by_one_full_limit(db):
    clock = Clock()
    case = drive(db, new_case(db), ["accept", "register", "dispatch"], clock)
    assert case["deadline"] == datetime(2026, 3, 2, 11, 2)
    case = act(db, case["id"], "extend", actor="leader", seen_version=case["version"],
               at=datetime(2026, 3, 2, 10, 0), reason="需协调市场监管")  # fmt: skip
    # one more full limit (2 working hours) from 11:02: 11:02-12:00, 14:00-15:02
    assert case["deadline"] == datetime(2026, 3, 2, 15, 2)
    with pytest.raises(IllegalTransition, match="overdue since 2026-03-02 15:02"):
        act(db, case["id"], "extend", actor="leader", seen_version=case["version"],
            at=datetime(2026, 3, 2, 15, 2), reason="again")  # fmt: skip
    with pytest.raises(IllegalTransition, match="cannot be suspended"):
        act(db, case["id"], "suspend", actor="leader", seen_version=case["version"],
            at=datetime(2026, 3, 2, 16, 0), reason="wait")  # fmt: skip


def test_suspension_pauses_the_clock(db):
    clock = Clock()
    case = drive(db, new_case(db), ["accept", "register", "dispatch"], clock)  # due 11:02
    case = act(db, case["id"], "suspend", actor="leader", seen_version=case["version"],
               at=datetime(2026, 3, 2, 10, 2), reason="等待产权认定")  # fmt: skip
    assert case["state"] == "suspended"
    case = act(db, case["id"], "resume", actor="leader", seen_version=case["version"],
               at=datetime(2026, 3, 3, 9, 0))  # fmt: skip
    # 1 working hour was left at 10:02; resumed Tuesday 09:00 -> due 10:00
    assert case["state"] == "dispatched" and case["deadline"] == datetime(2026, 3, 3, 10, 0)
    natural = drive(db, new_case(db, category="06-01"), ["accept", "register", "dispatch"], clock)
    due = natural["deadline"]  # 4 natural hours
    natural = act(db, natural["id"], "suspend", actor="leader", seen_version=natural["version"],
                  at=datetime(2026, 3, 2, 10, 0), reason="x")  # fmt: skip
    natural = act(db, natural["id"], "resume", actor="leader", seen_version=natural["version"],
                  at=datetime(2026, 3, 2, 22, 0))  # fmt: skip
    assert natural["deadline"] == due + timedelta(hours=12)


def test_supervision_and_reply(db):
    clock = Clock()
    case = drive(db, new_case(db, source="patrol"), ["accept", "register", "dispatch"], clock)
    case = act(db, case["id"], "supervise", actor="leader", seen_version=case["version"],
               at=clock(), reason="群众反映强烈")  # fmt: skip
    assert case["state"] == "dispatched" and case["supervised_at"] is not None
    with pytest.raises(IllegalTransition, match="reply"):
        act(db, case["id"], "supervise", actor="leader", seen_version=case["version"],
            at=clock(), reason="again")  # fmt: skip
    case = act(db, case["id"], "reply", actor="street_team", seen_version=case["version"],
               at=clock(), note="已安排今日处置")  # fmt: skip
    assert "supervise" in allowed_steps(case) and "reply" not in allowed_steps(case)


def test_steps_cannot_go_back_in_time(db):
    case = new_case(db, at=T0)
    with pytest.raises(InputError, match="before the case's last step"):
        act(db, case["id"], "accept", actor="x", seen_version=1, at=T0 - timedelta(minutes=5))


def test_roles_of_signed_in_users(db):
    clock = Clock()
    analyst = User(1, "ana", None, "analyst")
    admin_of_grids = User(2, "ga", None, "grid_admin")
    leader = User(3, "lead", None, "leader")
    case = new_case(db)
    with pytest.raises(PermissionDenied, match="may view cases"):
        act(db, case["id"], "accept", actor=analyst, seen_version=1, at=clock())
    case = drive(db, case, ["accept", "register", "dispatch"], clock)
    with pytest.raises(PermissionDenied, match="leader"):
        act(db, case["id"], "extend", actor=admin_of_grids, seen_version=case["version"],
            at=clock(), reason="x")  # fmt: skip
    case = act(db, case["id"], "extend", actor=leader, seen_version=case["version"], at=clock(),
               reason="x")  # fmt: skip
    assert case_store.read_transitions(db, [case["id"]])["actor"].iloc[-1] == "lead"


def test_a_second_actor_on_the_same_version_is_refused(db):
    clock = Clock()
    case = drive(db, new_case(db), ["accept", "register"], clock)
    seen = case["version"]
    first = act(db, case["id"], "dispatch", actor="张三", seen_version=seen,
                at=datetime(2026, 3, 2, 9, 30))  # fmt: skip
    with pytest.raises(CaseConflict) as err:
        act(db, case["id"], "suspend", actor="李四", seen_version=seen,
            at=datetime(2026, 3, 2, 9, 31), reason="x")  # fmt: skip
    text = str(err.value)
    assert "张三" in text and "dispatch" in text and "2026-03-02 09:30" in text
    assert f"version {seen}" in text and "nothing was written" in text
    assert isinstance(err.value, EditConflict)
    after = case_store.read_case(db, case["id"])
    assert after["version"] == first["version"] and after["state"] == "dispatched"
    assert len(case_store.read_transitions(db, [case["id"]])) == first["version"]
    with pytest.raises(InputError, match="no version"):
        act(db, case["id"], "handle", actor="x", seen_version=99, at=clock())


def test_concurrent_actors_exactly_one_wins(db):
    case = drive(db, new_case(db), ["accept", "register"], Clock())
    outcomes: list[object] = []
    barrier = threading.Barrier(2)

    def attempt(name: str) -> None:
        barrier.wait()
        try:
            act(db, case["id"], "dispatch", actor=name, seen_version=case["version"],
                at=datetime(2026, 3, 2, 9, 40))  # fmt: skip
            outcomes.append("ok")
        except CaseConflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1
    assert sum(isinstance(o, CaseConflict) for o in outcomes) == 1
    assert len(case_store.read_transitions(db, [case["id"]])) == case["version"] + 1


def test_stored_view_equals_the_view_recomputed_from_transitions(db):
    clock = Clock()
    for path in PATHS.values():
        drive(db, new_case(db, at=clock()), path, clock)
    case = drive(db, new_case(db), ["accept", "register", "dispatch"], clock)
    case = act(db, case["id"], "return", actor="t", seen_version=case["version"], at=clock(),
               reason="x")  # fmt: skip
    drive(db, case, ["dispatch", "handle", "rework", "handle", "verify", "close"], clock)
    stored = case_store.read_cases(db).set_index("id")
    facts = case_facts(case_store.read_transitions(db))
    assert list(facts.index) == list(stored.index)
    for col in facts.columns:
        a = stored[col]
        b = facts[col]
        if col == "satisfied":
            a = a.map(lambda v: None if pd.isna(v) else bool(v))
            b = b.astype(object).where(b.notna(), None)
        elif col.endswith("_at") or col == "deadline":
            a = pd.to_datetime(a).astype("datetime64[ns]")
        elif col in ("state", "department", "assignee"):
            a = a.astype(object).where(a.notna(), None)
            b = b.astype(object).where(b.notna(), None)
        pd.testing.assert_series_equal(a, b, check_names=False, check_dtype=False, obj=col)


def test_migration_0004_up_and_down(engine):
    tables = {"cases", "case_transitions"}
    assert tables <= set(sa.inspect(engine).get_table_names())
    migrate.downgrade(engine, "0003")
    assert not tables & set(sa.inspect(engine).get_table_names())
    migrate.upgrade(engine)
    assert tables <= set(sa.inspect(engine).get_table_names())
    # the migrated columns are the models' columns
    for table in tables:
        cols = {c["name"] for c in sa.inspect(engine).get_columns(table)}
        model = store.models.Base.metadata.tables[table]
        assert cols == {c.name for c in model.columns}, table
