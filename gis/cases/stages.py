"""Per-stage clocks: how long each case took to be accepted, dispatched, handled and verified.

Stages (from the transitions alone): ``accept`` 上报 → first 受理; ``dispatch`` first 立案 → first
派遣; ``handle`` last level-1 派遣 → last 处置; ``verify`` last 处置 → 核查通过. Each is timed on
its own limit's clock (``data/case_limits.csv``, stage rows; ``handle`` falls back to the case
limit), with paused time (挂起 → 恢复) left out. A stage not finished by ``at`` runs until ``at``.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from gis.cases.calendar import WorkCalendar
from gis.cases.clocks import WORKING_TYPES, elapsed_ns, limit_durations_ns
from gis.cases.limits import limits_for, read_case_limits

STAGES = ("accept", "dispatch", "handle", "verify")
#: stage -> (start step, which occurrence, end step, which occurrence)
_BOUNDS = {
    "accept": ("report", "first", "accept", "first"),
    "dispatch": ("register", "first", "dispatch", "first"),
    "handle": ("dispatch1", "last", "handle", "last"),
    "verify": ("handle", "last", "verify", "last"),
}


def _times(steps: pd.DataFrame, action: str, which: str) -> pd.Series:
    rows = steps[steps["_step"] == action].groupby("case_id")["at"]
    return rows.min() if which == "first" else rows.max()


def stage_clocks(
    transitions: pd.DataFrame,
    cases: pd.DataFrame,
    *,
    at: datetime | str | None = None,
    calendar: WorkCalendar | None = None,
    limits: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The four stage clocks of every case.

    Parameters
    ----------
    transitions
        ``case_id, seq, action, at, level`` (``gis.store.cases.read_transitions``).
    cases
        ``id, category_code, urgency``.
    at
        The time unfinished stages run to (default now).

    Returns
    -------
    pandas.DataFrame
        One row per case and started stage: ``case_id, stage, started, ended`` (NaT while
        running), ``elapsed_hours`` (on the limit's clock, pauses left out), ``limit_value,
        limit_type, on_time`` (False once the stage has run past its limit; NA without a limit).
    """
    now = pd.Timestamp(at) if at is not None else pd.Timestamp(datetime.now())
    table = read_case_limits() if limits is None else limits
    steps = transitions.sort_values(["case_id", "seq"]).copy()
    steps["at"] = pd.to_datetime(steps["at"]).astype("datetime64[ns]")
    level = pd.to_numeric(steps.get("level"), errors="coerce")
    steps["_step"] = np.where((steps["action"] == "dispatch") & (level == 1), "dispatch1", None)
    steps["_step"] = steps["_step"].fillna(steps["action"])
    # the level-1 dispatch is also a dispatch
    first_dispatch = steps[steps["action"] == "dispatch"].groupby("case_id")["at"].min()
    static = cases.set_index("id")[["category_code", "urgency"]]
    parts = []
    for stage in STAGES:
        start_step, start_which, end_step, end_which = _BOUNDS[stage]
        started = _times(steps, start_step, start_which)
        ended = (
            first_dispatch if stage == "dispatch" else _times(steps, end_step, end_which)
        ).reindex(started.index)
        ended = ended.where(ended >= started)
        frame = pd.DataFrame({"case_id": started.index, "stage": stage})
        frame["started"] = started.to_numpy()
        frame["ended"] = ended.to_numpy()
        info = static.reindex(started.index)
        lim = limits_for(info["category_code"], info["urgency"].fillna("general"), stage=stage,
                         table=table)  # fmt: skip
        frame["limit_value"] = lim["limit_value"].to_numpy()
        frame["limit_type"] = lim["limit_type"].to_numpy()
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)
    working = out["limit_type"].isin(WORKING_TYPES).to_numpy()
    until = out["ended"].fillna(now)
    pauses = _pauses(steps, out, now)
    spent = elapsed_ns(out["started"], until, working=working, calendar=calendar, pauses=pauses)
    out["elapsed_hours"] = spent / 3.6e12
    kinds = out["limit_type"].fillna("work_hour").to_numpy()
    allowed = limit_durations_ns(out["limit_value"].to_numpy(float), kinds, calendar)
    on_time = pd.array(spent <= allowed, dtype="boolean")
    on_time[allowed < 0] = pd.NA
    out["on_time"] = on_time
    return out[["case_id", "stage", "started", "ended", "elapsed_hours", "limit_value",
                "limit_type", "on_time"]]  # fmt: skip


def _pauses(steps: pd.DataFrame, clocks: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    """Suspensions (挂起 until the next 恢复, or ``now``) as pauses of every clock of the case."""
    sus = steps[steps["action"].isin(["suspend", "resume"])]
    if sus.empty:
        return pd.DataFrame({"pos": [], "start": [], "end": []})
    sus = sus.assign(nxt=sus.groupby("case_id")["at"].shift(-1))
    sus = sus[sus["action"] == "suspend"]
    end = sus["nxt"].fillna(now)
    intervals = pd.DataFrame({"case_id": sus["case_id"], "start": sus["at"], "end": end})
    pos = clocks[["case_id"]].reset_index().rename(columns={"index": "pos"})
    merged = pos.merge(intervals, on="case_id")
    return merged[merged["end"] > merged["start"]][["pos", "start", "end"]]


__all__ = ["STAGES", "stage_clocks"]
