"""Twelve months of case histories for the demo district, with planted behaviour in the truth.

``generate_case_histories(incidents, grids, staff, seed)`` turns every demo incident into a case
and walks it through the closed loop (上报 → 受理 → 立案 → 派遣 → 处置 → 核查 → 结案 → 回访评价)
on the working calendar and the category limits, from ``numpy.random.default_rng(seed)`` alone.
Planted, and written to ``truth``:

- a slow department: 消防 (``xiaofang``) takes three times as long to handle its cases;
- a rework-prone category: 暴露垃圾 (``01-02``) fails the on-site check (返工) ten times as often;
- a holiday backlog: cases registered from two days before Spring Festival and National Day to
  their last holiday are handled one to three working days late after the holiday;
- misrouted cases returned: 40 % of 噪声扰民 (``06-02``) cases are first sent to the street team,
  which returns them (回退) to be sent to the police station (派出所).

Around them the usual texture: refused and voided reports, level-2 dispatch to officers, a few
extensions and suspensions, supervision of late cases, callbacks for hotline cases. Histories
stop at ``DEMO_NOW`` (the demo's end): later steps have not happened yet.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import shapely
from sqlalchemy.engine import Engine

from gis import store
from gis.cases.calendar import WorkCalendar, default_calendar
from gis.cases.clocks import WORKING_TYPES, add_time, deadlines, elapsed_ns, limit_durations_ns
from gis.cases.facts import case_facts
from gis.cases.limits import limits_for, read_case_limits
from gis.cases.locate import locate_cases
from gis.cases.routing import STREET_TEAM, read_routing, route_targets
from gis.store import cases as case_store

#: the demo's "now": histories stop here (the end of the demo's twelve months)
DEMO_NOW = pd.Timestamp("2026-11-01")
SLOW_DEPARTMENT = "xiaofang"
SLOW_FACTOR = 3.0
REWORK_CATEGORY = "01-02"
REWORK_P, REWORK_BASELINE = 0.30, 0.03
MISROUTED = {"category": "06-02", "wrong": STREET_TEAM, "right": "pcs", "share": 0.4}
BASELINE_MISROUTE = 0.01
#: (name, first holiday, last holiday) of the backlog plant
HOLIDAYS = (
    ("春节 Spring Festival", "2026-02-15", "2026-02-23"),
    ("国庆节 National Day", "2026-10-01", "2026-10-07"),
)
_NS_MIN = 60 * 10**9
_NS_H = 3600 * 10**9


def _mins(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return (rng.uniform(lo, hi, n) * _NS_MIN).astype(np.int64)


def _officers(staff: pd.DataFrame, dept: np.ndarray, l1: np.ndarray, rng) -> np.ndarray:
    """An enforcement officer of the department in the case's level-1 grid (else any of the
    department; the street team's officers are the 城管 ones); None without officers."""
    off = staff[staff["role"] == "enforcement_officer"]
    team = dept.astype(object).copy()
    team[team == STREET_TEAM] = "chengguan"
    out = np.full(len(dept), None, dtype=object)
    pick = rng.random(len(dept))
    for (d, g), rows in off.groupby(["department", "grid_code"]):
        m = (team == d) & (l1 == g)
        codes = rows["staff_code"].to_numpy(dtype=object)
        out[m] = codes[(pick[m] * len(codes)).astype(int)]
    for d, rows in off.groupby("department"):
        m = (team == d) & (out == None)  # noqa: E711 (element-wise)
        codes = rows["staff_code"].to_numpy(dtype=object)
        out[m] = codes[(pick[m] * len(codes)).astype(int)]
    return out


def generate_case_histories(
    district_incidents: pd.DataFrame,
    grids: pd.DataFrame,
    staff: pd.DataFrame,
    seed: int = 42,
    *,
    now: pd.Timestamp = DEMO_NOW,
    calendar: WorkCalendar | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Case histories for the demo incidents (deterministic in ``seed``).

    Parameters
    ----------
    district_incidents
        The demo incidents: ``external_id, category_code, source, severity, reported_at``
        and point geometry (EPSG:4326).
    grids, staff
        The demo's grids (for the grids in force) and staff (officers, grid workers).

    Returns
    -------
    (cases, transitions, truth)
        ``cases``: one row per incident (``incident_external_id`` plus the columns of the
        ``cases`` table without ``id``/``incident_id``/``batch_id``, stored view included);
        ``transitions``: ``pos`` (row of ``cases``) and the transition columns, ordered by case
        and ``seq``; ``truth``: the planted behaviour (JSON-serialisable).
    """
    cal = calendar or default_calendar()
    rng = np.random.default_rng(seed)
    inc = district_incidents[pd.to_datetime(district_incidents["reported_at"]) < now]
    inc = inc.sort_values(["reported_at", "external_id"], kind="stable").reset_index(drop=True)
    n = len(inc)
    category = inc["category_code"].to_numpy(dtype=object)
    source = inc["source"].to_numpy(dtype=object)
    urgency = inc["severity"].fillna("general").to_numpy(dtype=object)
    reported = inc["reported_at"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    pts = inc.geometry.to_numpy()
    where = locate_cases(
        shapely.get_x(pts), shapely.get_y(pts), pd.Series([None] * n), inc["reported_at"], grids
    )
    l1 = where["grid_l1"].to_numpy(dtype=object)
    limit = limits_for(category, urgency, table=read_case_limits())
    lim_value = limit["limit_value"].to_numpy(dtype=float)
    lim_type = limit["limit_type"].fillna("work_hour").to_numpy(dtype=object)
    working = np.isin(lim_type, WORKING_TYPES)
    lim_ns = np.maximum(limit_durations_ns(lim_value, lim_type, cal), 0)

    # 受理 / 不予受理 / 作废, then 立案 with the deadline
    u = rng.random(n)
    refused, voided = u < 0.01, (u >= 0.01) & (u < 0.02)
    live = ~(refused | voided)
    emergency = urgency == "emergency"
    accept = reported + np.where(emergency, _mins(rng, 1, 4, n), _mins(rng, 2, 25, n))
    register = accept + _mins(rng, 1, 10, n)
    due0 = deadlines(register.astype("datetime64[ns]"), lim_value, lim_type, calendar=cal)
    due0 = due0.astype(np.int64)

    # 派遣: the routing table's target on that day; misrouted ones returned first
    target = route_targets(category, register.astype("datetime64[ns]"), read_routing())
    right = target["department"].to_numpy(dtype=object)
    kind = target["target_kind"].to_numpy(dtype=object)
    plant_misroute = (category == MISROUTED["category"]) & (rng.random(n) < MISROUTED["share"])
    other_misroute = ~plant_misroute & (rng.random(n) < BASELINE_MISROUTE) & (right != "shequ")
    misrouted = live & (plant_misroute | other_misroute)
    wrong = np.where(
        plant_misroute, MISROUTED["wrong"], np.where(right == "chengguan", "pcs", "shequ")
    )
    wrong = np.where(right == STREET_TEAM, np.where(plant_misroute, wrong, "chengguan"), wrong)
    dispatch_wrong = register + _mins(rng, 2, 20, n)
    returned = add_time(dispatch_wrong.astype("datetime64[ns]"),
                        (rng.uniform(0.3, 3.0, n) * _NS_H).astype(np.int64), calendar=cal)  # fmt: skip
    returned = returned.astype(np.int64)
    dispatch = np.where(misrouted, returned + _mins(rng, 5, 30, n), register + _mins(rng, 2, 20, n))
    officer = _officers(staff, right, l1, rng)
    has_l2 = live & (officer != None) & (kind != "higher_platform")  # noqa: E711
    dispatch2 = dispatch + _mins(rng, 3, 30, n)
    start_work = np.where(has_l2, dispatch2, dispatch)

    # 处置: a share of the limit on the limit's own clock (slow department x3)
    factor = np.exp(rng.normal(np.log(0.35), 0.5, n))
    factor = np.where(right == SLOW_DEPARTMENT, factor * SLOW_FACTOR, factor)
    extended = live & (
        rng.random(n) < np.where(np.isin(category, ["01-01", "01-07", "03-02"]), 0.05, 0.005)
    )
    suspended = (
        live
        & ~extended
        & (rng.random(n) < np.where(np.isin(category, ["01-01", "01-07"]), 0.03, 0.002))
    )
    left0 = np.maximum(due0 - start_work, 0)  # clock time to the deadline (enough for a share)
    ext_at = start_work + left0 // 2
    extended &= left0 > 2 * _NS_MIN
    factor = np.where(extended, rng.uniform(1.1, 1.9, n), factor)
    due1 = deadlines(due0.astype("datetime64[ns]"), lim_value, lim_type, calendar=cal).astype(
        np.int64
    )
    susp_at = start_work + left0 // 3
    suspended &= left0 > 3 * _NS_MIN
    resume_at = susp_at + (rng.uniform(1, 10, n) * 24 * _NS_H).astype(np.int64)
    susp_left = np.where(
        working,
        _work_between(susp_at, due0, cal),
        np.maximum(due0 - susp_at, 0),
    )
    due_resume = add_time(
        resume_at.astype("datetime64[ns]"), susp_left, working=working, calendar=cal
    )
    due_resume = np.maximum(due_resume.astype(np.int64), due0)
    handle_from = np.where(suspended, resume_at, start_work)
    handle_ns = (factor * lim_ns * np.where(suspended, 0.5, 1.0)).astype(np.int64)
    handled = add_time(
        handle_from.astype("datetime64[ns]"), handle_ns, working=working, calendar=cal
    )
    handled = np.maximum(handled.astype(np.int64), handle_from + _NS_MIN)
    backlog = np.zeros(n, dtype=bool)
    truth_holidays = []
    for name, first, last in HOLIDAYS:
        shift = pd.Timestamp(first) - pd.Timedelta(days=2)
        lo = shift.value
        hi = (pd.Timestamp(last) + pd.Timedelta(days=1)).value
        hit = live & (register >= lo) & (register < hi)
        after = pd.Timestamp(last) + pd.Timedelta(days=1)
        extra = (rng.uniform(1, 3, n) * cal.day_seconds * 10**9).astype(np.int64)
        resumed = add_time([after.replace(hour=8)] * n, extra, working=True, calendar=cal).astype(
            np.int64
        )
        handled = np.where(hit, np.maximum(handled, resumed), handled)
        backlog |= hit
        truth_holidays.append(
            {
                "name": name,
                "holiday": [first, last],
                "registered_from": shift.date().isoformat(),
                "registered_before": after.date().isoformat(),
                "extra_working_days": [1, 3],
                "cases": int(hit.sum()),
            }
        )

    # 核查 (返工: rework-prone category), 结案, 回访评价
    # the on-site check takes a small share of the limit, on the limit's own clock
    check_ns = (rng.uniform(0.04, 0.2, n) * lim_ns).astype(np.int64) + 5 * _NS_MIN
    verify1 = add_time(handled.astype("datetime64[ns]"), check_ns, working=working, calendar=cal)
    verify1 = verify1.astype(np.int64)
    rework = live & (
        rng.random(n) < np.where(category == REWORK_CATEGORY, REWORK_P, REWORK_BASELINE)
    )
    redo_ns = (rng.uniform(0.2, 0.6, n) * lim_ns).astype(np.int64) + 10 * _NS_MIN
    handled2 = add_time(verify1.astype("datetime64[ns]"), redo_ns, working=working, calendar=cal)
    handled2 = handled2.astype(np.int64)
    verify2 = add_time(handled2.astype("datetime64[ns]"), check_ns, working=working, calendar=cal)
    verify = np.where(rework, verify2.astype(np.int64), verify1)
    close = verify + _mins(rng, 1, 15, n)
    hotline = np.isin(source, ["hotline", "12345"])
    evaluate = close + (rng.uniform(1, 48, n) * _NS_H).astype(np.int64)
    p_unsat = np.where(right == SLOW_DEPARTMENT, 0.25, 0.04)
    v = rng.random(n)
    evaluation = np.where(
        v < p_unsat, "unsatisfied", np.where(v < p_unsat + 0.1, "basically_satisfied", "satisfied")
    )
    final_due = np.where(extended, due1, np.where(suspended, due_resume, due0))
    late = handled > final_due + 24 * _NS_H
    supervise = final_due + 24 * _NS_H
    reply = supervise + (rng.uniform(1, 4, n) * _NS_H).astype(np.int64)
    supervised = live & late & (reply < handled)

    nat = np.iinfo(np.int64).min
    # (action, to_state, mask, time, department, assignee, deadline, result, actor, reason)
    plan = [
        (
            "report",
            "reported",
            np.ones(n, bool),
            reported,
            None,
            None,
            None,
            None,
            "reporter",
            None,
        ),
        (
            "refuse",
            "rejected",
            refused,
            accept,
            None,
            None,
            None,
            None,
            "command_center",
            "不属于受理范围",
        ),
        ("void", "voided", voided, accept, None, None, None, None, "command_center", "重复上报"),
        ("accept", "accepted", live, accept, None, None, None, None, "command_center", None),
        ("register", "registered", live, register, None, None, due0, None, "command_center", None),
        (
            "dispatch",
            "dispatched",
            misrouted,
            dispatch_wrong,
            wrong,
            None,
            None,
            None,
            "command_center",
            None,
        ),
        (
            "return",
            "registered",
            misrouted,
            returned,
            wrong,
            None,
            None,
            None,
            "wrong",
            "非本部门职责，申请回退",
        ),
        ("dispatch", "dispatched", live, dispatch, right, None, None, None, "command_center", None),
        (
            "dispatch",
            "dispatched",
            has_l2,
            dispatch2,
            right,
            officer,
            None,
            None,
            "department",
            None,
        ),
        (
            "suspend",
            "suspended",
            suspended,
            susp_at,
            None,
            None,
            None,
            None,
            "leader",
            "等待权属认定",
        ),
        (
            "resume",
            "dispatched",
            suspended,
            resume_at,
            None,
            None,
            due_resume,
            None,
            "leader",
            None,
        ),
        (
            "extend",
            "dispatched",
            extended,
            ext_at,
            None,
            None,
            due1,
            None,
            "leader",
            "需多部门协调",
        ),
        ("supervise", None, supervised, supervise, None, None, None, None, "leader", "超期督办"),
        ("reply", None, supervised, reply, None, None, None, None, "department", None),
        ("handle", "handled", live, handled, None, None, None, None, "department", None),
        (
            "rework",
            "dispatched",
            rework,
            verify1,
            None,
            None,
            None,
            None,
            "grid_worker",
            "核查未通过",
        ),
        ("handle", "handled", rework, handled2, None, None, None, None, "department", None),
        ("verify", "verified", live, verify, None, None, None, None, "grid_worker", None),
        ("close", "closed", live, close, None, None, None, None, "command_center", None),
        (
            "evaluate",
            "evaluated",
            live & hotline,
            evaluate,
            None,
            None,
            None,
            evaluation,
            "12345",
            None,
        ),
    ]
    times = np.stack([np.where(p[2], p[3], nat) for p in plan], axis=1)
    times = np.maximum.accumulate(times, axis=1)  # never back in time
    present = np.stack([p[2] for p in plan], axis=1) & (times < now.value)
    # times never decrease along the plan, so the steps before ``now`` are a prefix of each case
    pos, k = np.nonzero(present)
    steps = _steps_frame(plan, pos, k, times, where, source, staff, right, wrong, officer)
    close_k = [i for i, p in enumerate(plan) if p[0] == "close"][0]
    closed_at = np.where(present[:, close_k], times[:, close_k], nat)
    on_time = closed_at <= final_due
    steps.loc[steps["action"] == "close", "result"] = np.where(
        on_time[steps.loc[steps["action"] == "close", "pos"].to_numpy()], "on_time", "overdue"
    )
    cases = pd.DataFrame(
        {
            "case_code": "C-"
            + inc["external_id"].astype(str).str.replace("DEMO-", "", regex=False),
            "incident_external_id": inc["external_id"].astype(object),
            "source": source,
            "category_code": category,
            "urgency": urgency,
            "grid_code": where["grid_code"].to_numpy(dtype=object),
            "grid_version": where["grid_version"].to_numpy(),
            "grid_l2": where["grid_l2"].to_numpy(dtype=object),
            "grid_l1": l1,
            "co_departments": target["co_departments"].to_numpy(dtype=object),
            "limit_value": lim_value,
            "limit_type": limit["limit_type"].to_numpy(dtype=object),
            "description": inc["description"].astype(object) if "description" in inc else None,
        }
    )
    facts = case_facts(steps.rename(columns={"pos": "case_id"})).reset_index(drop=True)
    for col in case_store.VIEW_COLUMNS:
        cases[col] = facts[col].to_numpy() if col != "satisfied" else facts[col].astype(object)
    cases["satisfied"] = cases["satisfied"].where(cases["satisfied"].notna(), None)
    truth = {
        "seed": int(seed),
        "now": now.isoformat(),
        "cases": int(n),
        "transitions": int(len(steps)),
        "slow_department": {"department": SLOW_DEPARTMENT, "handling_factor": SLOW_FACTOR},
        "rework_category": {
            "category": REWORK_CATEGORY,
            "rework_probability": REWORK_P,
            "baseline": REWORK_BASELINE,
        },
        "holiday_backlog": truth_holidays,
        "misrouted": {
            "category": MISROUTED["category"],
            "wrong_department": MISROUTED["wrong"],
            "right_department": MISROUTED["right"],
            "share": MISROUTED["share"],
            "baseline_share_other_categories": BASELINE_MISROUTE,
        },
    }
    return cases, steps, truth


def _work_between(a: np.ndarray, b: np.ndarray, cal: WorkCalendar) -> np.ndarray:
    """Working ns from ``a`` to ``b`` (int64 ns arrays), 0 when ``b`` is earlier."""
    between = elapsed_ns(a.astype("datetime64[ns]"), b.astype("datetime64[ns]"), calendar=cal)
    return np.maximum(between, 0)


def _actors(kind: np.ndarray, pos: np.ndarray, source, l2, staff, right, wrong, officer):
    """Who took each step: staff codes where the demo has them, else the role's name."""
    workers = staff[staff["role"] == "grid_worker"].drop_duplicates("grid_code")
    worker_of = dict(zip(workers["grid_code"], workers["staff_code"], strict=True))
    l2_worker = np.array([worker_of.get(g, "grid_worker") for g in l2], dtype=object)
    reporter = np.where(source == "patrol", l2_worker, source)
    handler = np.where(officer != None, officer, right)  # noqa: E711 (element-wise)
    table = {
        "reporter": reporter,
        "grid_worker": l2_worker,
        "department": handler,
        "wrong": wrong,
    }
    out = kind.astype(object).copy()
    for name, values in table.items():
        m = kind == name
        out[m] = values[pos[m]]
    return out


def _steps_frame(plan, pos, k, times, where, source, staff, right, wrong, officer) -> pd.DataFrame:
    """The present steps as transition rows ``pos, seq, action, from_state, to_state ...``."""
    col = {name: i for i, name in enumerate(
        ("action", "to_state", "mask", "at", "department", "assignee", "deadline", "result",
         "actor", "reason")
    )}  # fmt: skip

    def pick(field: str) -> np.ndarray:
        out = np.full(len(pos), None, dtype=object)
        for i, p in enumerate(plan):
            m = k == i
            value = p[col[field]]
            if value is None or not m.any():
                continue
            out[m] = value[pos[m]] if isinstance(value, np.ndarray) else value
        return out

    steps = pd.DataFrame({"pos": pos, "action": pick("action"), "at": times[pos, k]})
    steps["at"] = steps["at"].to_numpy().astype("datetime64[ns]")
    steps["seq"] = steps.groupby("pos").cumcount() + 1
    to_state = pd.Series(pick("to_state"), dtype=object)
    steps["to_state"] = to_state.groupby(steps["pos"].to_numpy()).ffill().to_numpy()
    prev = steps.groupby("pos")["to_state"].shift(1)
    steps["from_state"] = prev.astype(object).where(prev.notna(), None)
    l2 = where["grid_l2"].to_numpy(dtype=object)
    steps["actor"] = _actors(pick("actor"), pos, source, l2, staff, right, wrong, officer)
    steps["reason"] = pick("reason")
    steps["note"] = None
    steps["department"] = pick("department")
    steps["assignee"] = pick("assignee")
    is_dispatch = steps["action"].to_numpy() == "dispatch"
    level = np.where(is_dispatch, np.where(pd.notna(steps["assignee"]), 2, 1), 0)
    steps["level"] = pd.array(np.where(is_dispatch, level, None), dtype="Int64")
    dept = steps["department"].to_numpy(dtype=object)
    target = np.where(
        dept == STREET_TEAM,
        "street_team",
        np.where(dept == "higher_platform", "higher_platform", "department"),
    )
    steps["target_kind"] = np.where(
        is_dispatch & (level == 1), target, np.where(is_dispatch, "officer", None)
    )
    deadline = pick("deadline")
    nat = np.iinfo(np.int64).min
    ns = np.where(pd.isna(deadline), nat, deadline).astype(np.int64)
    steps["deadline"] = ns.astype("datetime64[ns]")
    steps["result"] = pick("result")
    return steps[
        ["pos", "seq", "action", "from_state", "to_state", "actor", "at", "reason", "note",
         "department", "assignee", "level", "target_kind", "deadline", "result"]
    ]  # fmt: skip


def load_demo_cases(
    engine: Engine,
    *,
    seed: int = 42,
    incidents: pd.DataFrame | None = None,
    grids: pd.DataFrame | None = None,
    staff: pd.DataFrame | None = None,
) -> dict[str, int]:
    """Replace the store's cases with the demo's case histories (one transaction).

    The incidents, grids and staff are read from the store unless given (the demo district must
    be loaded: ``gridlens demo``). The planted truth goes to ``meta`` as ``demo_cases_truth``.

    Returns
    -------
    dict[str, int]
        ``cases`` and ``transitions`` written.
    """
    incidents = store.read_incidents(engine) if incidents is None else incidents
    grids = store.read_frame(engine, "grids") if grids is None else grids
    staff = store.read_table(engine, "staff") if staff is None else staff
    cases, steps, truth = generate_case_histories(incidents, grids, staff, seed)
    with engine.begin() as conn:
        ids = case_store.incident_ids_by_external_id(conn, cases["incident_external_id"])
        frame = cases.drop(columns=["incident_external_id"])
        frame.insert(1, "incident_id", cases["incident_external_id"].map(ids).astype("Int64"))
        frame["grid_version"] = pd.array(frame["grid_version"], dtype="Int64")
        case_store.delete_cases(conn)
        case_ids = case_store.insert_cases(conn, frame)
        steps = steps.assign(case_id=case_ids[steps["pos"].to_numpy()]).drop(columns=["pos"])
        case_store.insert_transitions(conn, steps)
        store.set_meta(conn, "demo_cases_truth", json.dumps(truth, ensure_ascii=False))
    return {"cases": len(cases), "transitions": len(steps)}


__all__ = [
    "DEMO_NOW",
    "generate_case_histories",
    "load_demo_cases",
]
