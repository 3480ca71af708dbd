"""The case workflow: report a case, take steps, refuse illegal ones and lost updates.

Every step goes through ``act``: it checks the step against the case's state (``states.STEPS``),
the reason, the time and the deadline rules, then records the transition and the new stored view
in one transaction. Optimistic concurrency: the actor states the version of the case they saw;
when someone else took a step in between, ``CaseConflict`` names who did what and when, and
nothing is written.

Clock rules applied here: 立案 sets the deadline from the case's limit (``clocks.deadline``);
延期 is allowed only before the deadline and adds one full limit to it; 挂起 is refused once the
case is overdue, and 恢复 moves the deadline by the paused time (working time for working-time
limits). A deadline therefore only moves while the case is not overdue, and only later.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection, Engine

from gis.auth import User
from gis.cases.calendar import WorkCalendar
from gis.cases.clocks import WORKING_TYPES, add_time, deadline, elapsed_ns
from gis.cases.facts import view_after
from gis.cases.limits import URGENCIES, limits_for, read_case_limits
from gis.cases.locate import locate_cases, store_case_incidents
from gis.cases.roles import case_scope, require_step
from gis.cases.routing import (
    HIGHER_PLATFORM,
    STREET_TEAM,
    TEAM_NAMES,
    department_label,
    suggest_route,
)
from gis.cases.states import (
    EVALUATIONS,
    HOTLINE_SOURCES,
    STATES,
    STEPS,
    state_label,
)
from gis.core.errors import EditConflict, InputError
from gis.store import cases as case_store
from gis.store import casework
from gis.store.frames import read_frame
from gis.taxonomy import read_departments, read_taxonomy


class IllegalTransition(InputError):
    """A step the case's state does not allow; the message lists the steps it does allow."""


class CaseConflict(EditConflict):
    """Someone else took a step on the case after the actor loaded it; nothing was written."""


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _ts(value) -> datetime | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).to_pydatetime()


def allowed_steps(case: dict) -> list[str]:
    """The steps a case may take next, given its stored row (``state``, ``source`` ...)."""
    state = case["state"]
    out = []
    pending = case.get("supervised_at") is not None and (
        case.get("supervision_reply_at") is None
        or case["supervision_reply_at"] < case["supervised_at"]
    )
    for name, step in STEPS.items():
        if state not in step.sources:
            continue
        if name == "evaluate" and case.get("source") not in HOTLINE_SOURCES:
            continue
        if name == "supervise" and pending:
            continue
        if name == "reply" and not pending:
            continue
        if (
            name == "dispatch"
            and state == "dispatched"
            and case.get("department")
            in (
                None,
                HIGHER_PLATFORM,
            )
        ):
            continue
        out.append(name)
    return out


def _describe_allowed(case: dict) -> str:
    names = allowed_steps(case)
    if not names:
        return "none (the case is finished)"
    return ", ".join(STEPS[n].label("en") for n in names)


def _actor_name(actor: User | str, action: str) -> str:
    if isinstance(actor, User):
        require_step(actor, action, None, None)  # the role; the case's scope is checked later
        return actor.username
    name = str(actor or "").strip()
    if not name:
        raise InputError("every step needs an actor (who takes it)")
    return name


def _conflict(conn: Connection, case: dict, seen: int) -> CaseConflict:
    first = case_store.read_transition(conn, case["id"], seen + 1)
    who = f"{first['actor']} took the step {STEPS[first['action']].label()} at {first['at']}"
    return CaseConflict(
        f"case {case['case_code']} changed after you loaded version {seen}: {who} "
        f"(now version {case['version']}, {state_label(case['state'])}); nothing was written - "
        "reload the case and decide again"
    )


def act(
    engine: Engine,
    case: int | str,
    action: str,
    *,
    actor: User | str,
    seen_version: int,
    at: datetime | str | None = None,
    reason: str | None = None,
    note: str | None = None,
    department: str | None = None,
    assignee: str | None = None,
    result: str | None = None,
    co_departments: list[str] | None = None,
    calendar: WorkCalendar | None = None,
) -> dict:
    """Take one step on a case.

    Parameters
    ----------
    case
        The case id or case code.
    action
        A step of ``states.STEPS`` (``accept``, ``dispatch``, ``return``, ``extend`` ...).
    actor
        A signed-in ``gis.auth.User``, whose role and scope are checked (``gis.cases.roles``:
        analysts may not act, a handler acts only on its department's cases, a grid worker
        only in its grids ...), or a name (staff code, system) recorded as is.
    seen_version
        The case version the actor saw; a step taken meanwhile refuses this one.
    at
        When the step was taken (default now); never before the case's last step.
    reason, note
        Why (required for 不予受理, 作废, 回退, 返工, 延期, 挂起, 督办) and any remark.
    department, assignee
        For 派遣: level 1 (from 立案) sends to ``department`` (a department code,
        ``street_team`` or ``higher_platform``; default the routing suggestion, whose reason is
        kept in the note); level 2 (from 派遣) assigns ``assignee`` inside the same department.
    co_departments
        For a level-1 派遣: the assisting departments (协办), recorded on the case and in the
        step's note.
    result
        For 回访评价: ``satisfied``, ``basically_satisfied`` or ``unsatisfied``.

    Returns
    -------
    dict
        The case row after the step.

    Raises
    ------
    IllegalTransition
        The state does not allow the step (the message lists the allowed ones).
    CaseConflict
        Someone took a step after ``seen_version``.
    InputError, gis.auth.PermissionDenied
        A missing reason, a bad time or department, an overdue extension, a role not allowed.
    """
    if action not in STEPS:
        raise InputError(f"unknown step {action!r}; one of {', '.join(STEPS)}")
    if action == "report":
        raise InputError("a case is reported with report_case, not act")
    step = STEPS[action]
    name = _actor_name(actor, action)
    when = _ts(at) or _now()
    with engine.begin() as conn:
        row = case_store.read_case(conn, case)
        if row is None:
            raise InputError(f"no case {case!r}")
        if isinstance(actor, User):
            require_step(actor, action, row, case_scope(conn, actor))
        seen = int(seen_version)
        if seen != row["version"]:
            if seen > row["version"] or seen < 1:
                raise InputError(f"case {row['case_code']} has no version {seen}")
            raise _conflict(conn, row, seen)
        if action not in allowed_steps(row):
            raise IllegalTransition(
                f"case {row['case_code']} is {state_label(row['state'])}: "
                f"{step.label()} is not allowed; allowed next: {_describe_allowed(row)}"
            )
        if step.needs_reason and not (reason and reason.strip()):
            raise InputError(f"{step.label()} needs a reason")
        if when < row["updated_at"]:
            raise InputError(
                f"a step cannot be dated {when} - before the case's last step ({row['updated_at']})"
            )
        transition = {
            "action": action,
            "from_state": row["state"],
            "to_state": step.target or row["state"],
            "actor": name,
            "at": when,
            "reason": reason,
            "note": note,
            "department": None,
            "assignee": None,
            "level": None,
            "target_kind": None,
            "deadline": None,
            "result": None,
        }
        _apply_rules(conn, row, transition, department, assignee, result, calendar)
        if co_departments and transition["level"] == 1:
            _assist(conn, row, transition, co_departments)
        view = view_after(
            {c: row[c] for c in case_store.VIEW_COLUMNS}, {**transition, "seq": seen + 1}
        )
        view.pop("version")
        if not case_store.write_transition(conn, row["id"], seen, transition, view):
            raise _conflict(conn, case_store.read_case(conn, row["id"]), seen)
        return case_store.read_case(conn, row["id"])


def _apply_rules(conn, row, transition, department, assignee, result, calendar) -> None:
    """Step-specific checks and effects (target department, deadline, result)."""
    action, when = transition["action"], transition["at"]
    current = row["deadline"]
    if action == "dispatch":
        _dispatch(row, transition, department, assignee)
    elif action == "return":
        transition["department"] = row["department"]
    elif action == "register":
        if row["limit_value"] is not None and not pd.isna(row["limit_value"]):
            transition["deadline"] = _ts(
                deadline(when, row["limit_value"], row["limit_type"], calendar=calendar)
            )
    elif action in ("extend", "suspend"):
        if current is not None and when >= current:
            word = "extended" if action == "extend" else "suspended"
            raise IllegalTransition(
                f"case {row['case_code']} has been overdue since {current}: it cannot be {word} "
                f"any more ({STEPS[action].label()} must come before the deadline)"
            )
        if action == "extend":
            if current is None:
                raise IllegalTransition(f"case {row['case_code']} has no deadline to extend")
            transition["deadline"] = _ts(
                deadline(current, row["limit_value"], row["limit_type"], calendar=calendar)
            )
    elif action == "resume":
        paused = case_store.last_transition(conn, row["id"], "suspend")
        transition["to_state"] = paused["from_state"]
        if current is not None:
            working = row["limit_type"] in WORKING_TYPES
            left = elapsed_ns([paused["at"]], [current], working=working, calendar=calendar)
            moved = add_time([when], np.maximum(left, 0), working=working, calendar=calendar)[0]
            transition["deadline"] = _ts(max(pd.Timestamp(moved), pd.Timestamp(current)))
    elif action == "close":
        if current is None:
            transition["result"] = "no_limit"
        else:
            transition["result"] = "on_time" if when <= current else "overdue"
    elif action == "evaluate":
        if result not in EVALUATIONS:
            raise InputError(f"an evaluation result is one of {', '.join(EVALUATIONS)}")
        transition["result"] = result


def _assist(conn, row: dict, transition: dict, co_departments: list[str]) -> None:
    known = set(read_departments()["code"]) | set(TEAM_NAMES)
    unknown = [d for d in co_departments if d not in known]
    if unknown:
        raise InputError(f"unknown assisting department {', '.join(unknown)}")
    assist = [d for d in co_departments if d != transition["department"]]
    casework.set_co_departments(conn, row["id"], assist)
    if assist:
        words = "协办: " + "; ".join(department_label(d, "zh") for d in assist)
        transition["note"] = f"{transition['note']} | {words}" if transition["note"] else words


def _dispatch(row: dict, transition: dict, department: str | None, assignee: str | None) -> None:
    if row["state"] == "dispatched":  # level 2, inside the department holding the case
        if not assignee:
            raise InputError("a level-2 dispatch names the team or officer (assignee)")
        if department and department != row["department"]:
            raise InputError(
                f"a level-2 dispatch stays in {row['department']}; to send the case elsewhere "
                "the department returns it first (回退)"
            )
        transition.update(department=row["department"], assignee=assignee, level=2)
        transition["target_kind"] = "team" if row["department"] == STREET_TEAM else "officer"
        return
    suggestion = suggest_route(row["category_code"] or "99-99", transition["at"])
    target = department or suggestion.department
    known = set(read_departments()["code"]) | set(TEAM_NAMES)
    if target not in known:
        raise InputError(f"unknown department {target!r}; one of {', '.join(sorted(known))}")
    kind = (
        "street_team"
        if target == STREET_TEAM
        else "higher_platform"
        if target == HIGHER_PLATFORM
        else "department"
    )
    advice = f"suggested: {department_label(suggestion.department, 'zh')} - {suggestion.reason_zh}"
    note = transition["note"]
    transition["note"] = advice if not note else f"{note} | {advice}"
    transition.update(department=target, assignee=assignee, level=1, target_kind=kind)


def report_case(
    engine: Engine,
    *,
    category: str,
    actor: User | str,
    reported_at: datetime | str | None = None,
    source: str = "patrol",
    urgency: str = "general",
    lon: float | None = None,
    lat: float | None = None,
    grid_code: str | None = None,
    case_code: str | None = None,
    description: str | None = None,
    address: str | None = None,
    co_departments: list[str] | None = None,
    incident_external_id: str | None = None,
    limits: pd.DataFrame | None = None,
) -> dict:
    """Report (上报) a new case and create its incident, or link it to an existing one.

    Parameters
    ----------
    category
        A minor-class code of the taxonomy (its limit comes from ``data/case_limits.csv``).
    lon, lat, grid_code
        Where: a point (EPSG:4326), or without one a grid code (the case is placed at the grid's
        representative point). The grids in force at ``reported_at`` are recorded.
    incident_external_id
        Link to this existing incident instead of creating one.

    Returns
    -------
    dict
        The new case row (version 1, state ``reported``).
    """
    name = _actor_name(actor, "report")
    when = _ts(reported_at) or _now()
    if category not in set(read_taxonomy()["code"]):
        raise InputError(f"unknown category {category!r}")
    if urgency not in URGENCIES:
        raise InputError(f"urgency is one of {', '.join(URGENCIES)}")
    if (lon is None or lat is None) and not grid_code:
        raise InputError("a case needs coordinates or a grid code")
    limit = limits_for(
        [category], [urgency], table=limits if limits is not None else read_case_limits()
    ).iloc[0]
    code = case_code or f"C{when:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6].upper()}"
    with engine.begin() as conn:
        if case_store.case_ids_by_code(conn, [code]):
            raise InputError(f"case {code} already exists")
        versions = read_frame(conn, "grids")
        where = locate_cases(
            np.array([np.nan if lon is None else lon]),
            np.array([np.nan if lat is None else lat]),
            pd.Series([grid_code]),
            pd.Series([when]),
            versions,
        ).iloc[0]
        if where["located"] in ("unknown_grid", "none"):
            raise InputError(f"grid {grid_code!r} is not in the store")
        if isinstance(actor, User):  # a grid worker reports only in its own grids
            place = {k: where[k] for k in ("grid_code", "grid_l2", "grid_l1")}
            require_step(actor, "report", {"case_code": "(new)", **place}, case_scope(conn, actor))
        incident_id = None
        if incident_external_id:
            incident_id = case_store.incident_ids_by_external_id(conn, [incident_external_id]).get(
                incident_external_id
            )
            if incident_id is None:
                raise InputError(f"no incident {incident_external_id!r}")
        else:
            incident = gpd.GeoDataFrame(
                {
                    "external_id": [code],
                    "category_code": [category],
                    "source": [source],
                    "status": ["reported"],
                    "severity": [urgency],
                    "occurred_at": [when],
                    "reported_at": [when],
                    "address": [address],
                    "description": [description],
                    "grid_code": [where["grid_code"]],
                    "grid_l2": [where["grid_l2"]],
                    "grid_l1": [where["grid_l1"]],
                    "coord_crs": ["wgs84" if where["located"] == "point" else "grid"],
                },
                geometry=gpd.points_from_xy([where["lon"]], [where["lat"]]),
                crs=4326,
            )
            store_case_incidents(conn, incident)
            incident_id = case_store.incident_ids_by_external_id(conn, [code])[code]
        first = {"action": "report", "to_state": "reported", "seq": 1, "at": when}
        view = view_after(None, first)
        values = {
            "case_code": code,
            "incident_id": incident_id,
            "source": source,
            "category_code": category,
            "urgency": urgency,
            "grid_code": where["grid_code"],
            "grid_version": None if pd.isna(where["grid_version"]) else int(where["grid_version"]),
            "grid_l2": where["grid_l2"],
            "grid_l1": where["grid_l1"],
            "co_departments": ";".join(co_departments) if co_departments else None,
            "limit_value": None if pd.isna(limit["limit_value"]) else float(limit["limit_value"]),
            "limit_type": limit["limit_type"] if isinstance(limit["limit_type"], str) else None,
            "description": description,
            **view,
        }
        case_id = case_store.insert_case(conn, values)
        case_store.insert_transition(
            conn,
            {"case_id": case_id, "seq": 1, "action": "report", "from_state": None,
             "to_state": "reported", "actor": name, "at": when},
        )  # fmt: skip
        return case_store.read_case(conn, case_id)


__all__ = [
    "CaseConflict",
    "IllegalTransition",
    "STATES",
    "act",
    "allowed_steps",
    "report_case",
]
