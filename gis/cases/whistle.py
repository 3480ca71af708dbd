"""The street blows the whistle, departments report (街道吹哨、部门报到).

A leader or dispatcher summons (``summon``) departments to a case, a joint-rectification plan
(its briefing's departments in one action) or an area; each summoned department must report
(``report_in``, 报到) before ``report_by`` and then works its own sub-task on its own clock
(``finish_task``). ``whistle_status`` says who reported, who is late (not reported by the
limit, or reported after it) and each sub-task's time left.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from gis.auth import PermissionDenied, User
from gis.cases.routing import TEAM_NAMES
from gis.core.errors import InputError
from gis.store import casework
from gis.taxonomy import read_departments

#: roles that may blow the whistle
SUMMONING_ROLES = ("leader", "dispatcher", "admin")


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def summon(
    engine: Engine,
    *,
    by: User,
    departments: list[str],
    report_within_hours: float,
    title: str,
    case_id: int | None = None,
    plan_id: int | None = None,
    area_wkt: str | None = None,
    tasks: dict[str, tuple[str, float]] | None = None,
    at: datetime | None = None,
) -> int:
    """Blow the whistle: summon ``departments`` to report within ``report_within_hours``.

    Parameters
    ----------
    tasks
        Per department: its sub-task in words and the hours it has for it (from the summons).
    case_id, plan_id, area_wkt
        What the whistle is about (at least one).

    Returns
    -------
    int
        The whistle's id.
    """
    if by.role not in SUMMONING_ROLES or not by.active:
        raise PermissionDenied(
            f"{by.label} ({by.role}) may not blow the whistle; that needs role "
            f"{' or '.join(SUMMONING_ROLES)}"
        )
    if case_id is None and plan_id is None and not area_wkt:
        raise InputError("a whistle is about a case, a plan or an area")
    deps = list(dict.fromkeys(d for d in departments if d))
    known = set(read_departments()["code"]) | set(TEAM_NAMES)
    unknown = [d for d in deps if d not in known]
    if not deps or unknown:
        raise InputError(
            f"summon known departments (unknown: {', '.join(unknown) or 'none given'})"
        )
    if report_within_hours <= 0:
        raise InputError("the time to report must be positive")
    when = at or _now()
    rows = []
    for d in deps:
        task, hours = (tasks or {}).get(d, (None, None))
        due = when + timedelta(hours=float(hours)) if hours else None
        rows.append({"department": d, "task": task, "task_due": due})
    return casework.insert_whistle(
        engine,
        {"title": title, "case_id": case_id, "plan_id": plan_id, "area_wkt": area_wkt,
         "summoned_by": by.username, "summoned_at": when,
         "report_by": when + timedelta(hours=float(report_within_hours))},
        rows,
    )  # fmt: skip


def _department_of(engine: Engine, user: User, department: str) -> None:
    if user.role == "admin" and user.active:
        return
    if user.role != "handler" or not user.active:
        raise PermissionDenied(f"{user.label} ({user.role}) does not report for {department}")
    if casework.user_department(engine, user.username) != department:
        raise PermissionDenied(f"{user.label} works for another department, not {department}")


def report_in(engine: Engine, whistle_id: int, department: str, *, by: User,
              at: datetime | None = None) -> None:  # fmt: skip
    """A summoned department reports (报到), by one of its handlers (or an admin)."""
    _department_of(engine, by, department)
    if not casework.update_summoned(engine, whistle_id, department, "reported_at",
                                    reported_at=at or _now(), reported_by=by.username):  # fmt: skip
        raise InputError(f"{department} is not summoned by whistle {whistle_id} or has reported")


def finish_task(engine: Engine, whistle_id: int, department: str, *, by: User,
                at: datetime | None = None) -> None:  # fmt: skip
    """A department marks its sub-task done."""
    _department_of(engine, by, department)
    if not casework.update_summoned(engine, whistle_id, department, "done_at",
                                    done_at=at or _now(), done_by=by.username):  # fmt: skip
        raise InputError(f"{department} has no open sub-task in whistle {whistle_id}")


def whistle_status(engine: Engine, whistle_id: int, now: datetime | None = None) -> pd.DataFrame:
    """Each summoned department: reported or not, late or not, its sub-task's time left.

    Returns
    -------
    pandas.DataFrame
        ``department, reported_at, reported_by, late`` (not reported by ``report_by``, or
        reported after it), ``late_hours`` (how late, clock hours; 0 when on time), ``task,
        task_due, done_at, task_left_hours`` (hours left at ``now``, negative once overdue,
        NaN when done or without a sub-task).
    """
    when = pd.Timestamp(now or _now())
    head, deps = casework.read_whistle(engine, whistle_id)
    limit = pd.Timestamp(head["report_by"])
    reported = pd.to_datetime(deps["reported_at"])
    seen = reported.fillna(when if when > limit else limit)
    late = (reported.isna() & (when > limit)) | (reported > limit)
    out = deps[["department", "reported_at", "reported_by", "task", "task_due", "done_at"]].copy()
    out["late"] = late.to_numpy()
    out["late_hours"] = np.where(late, (seen - limit).dt.total_seconds() / 3600, 0.0).round(2)
    due = pd.to_datetime(deps["task_due"])
    left = (due - when).dt.total_seconds() / 3600
    out["task_left_hours"] = left.where(deps["done_at"].isna()).round(2)
    return out


__all__ = ["SUMMONING_ROLES", "finish_task", "report_in", "summon", "whistle_status"]
