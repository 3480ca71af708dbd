"""A case's facts from its transitions alone: the stored view, recomputed.

The ``cases`` table keeps, beside the static facts of a report, a view of the transitions (state,
version, first/last times of the steps metrics need; ``gis.store.cases.VIEW_COLUMNS``). It is
written step by step with ``view_after``; ``case_facts`` recomputes it for every case at once
from the transitions (optionally as they stood at some time), and ``rebuild_views`` rewrites it.
Both follow the same rules, so the stored view is never the truth, only a copy of it.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from gis.cases.states import SATISFIED
from gis.store.cases import VIEW_COLUMNS, read_transitions, replace_view

_NAT = np.iinfo(np.int64).min
#: view column -> (action, which occurrence) for the plain "time of a step" facts
_STEP_TIMES = {
    "reported_at": (("report",), "first"),
    "accepted_at": (("accept",), "first"),
    "first_dispatch_at": (("dispatch",), "first"),
    "last_dispatch_at": (("dispatch",), "last"),
    "closed_at": (("close",), "last"),
    "ended_at": (("refuse", "void"), "first"),
    "first_suspend_at": (("suspend",), "first"),
    "first_rework_at": (("rework",), "first"),
    "first_extension_at": (("extend",), "first"),
    "first_return_at": (("return",), "first"),
    "evaluated_at": (("evaluate",), "last"),
    "supervised_at": (("supervise",), "last"),
    "supervision_reply_at": (("reply",), "last"),
}


def _missing(value) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))


def view_after(view: dict | None, step: dict) -> dict:
    """The stored view of a case after one more step (``action, to_state, seq, at, ...``).

    Parameters
    ----------
    view
        The view before the step (None for the first step, 上报).
    step
        The transition: ``action``, ``to_state``, ``seq``, ``at`` and, as the step has them,
        ``department``, ``assignee``, ``deadline``, ``result``.

    Returns
    -------
    dict
        Every column of ``VIEW_COLUMNS``.
    """
    out = {c: None for c in VIEW_COLUMNS}
    out.update(view or {})
    action, at = step["action"], step["at"]
    out["state"] = step["to_state"]
    out["version"] = int(step["seq"])
    out["updated_at"] = at
    for column, (actions, which) in _STEP_TIMES.items():
        if action in actions and (which == "last" or _missing(out.get(column))):
            out[column] = at
    if action == "dispatch":
        out["department"] = None if _missing(step.get("department")) else step["department"]
        out["assignee"] = None if _missing(step.get("assignee")) else step["assignee"]
    if action == "evaluate":
        out["satisfied"] = step.get("result") in SATISFIED
    new = step.get("deadline")
    if not _missing(new) and (_missing(out.get("deadline")) or new > out["deadline"]):
        out["deadline"] = new
    return out


def _ns(values) -> np.ndarray:
    return pd.to_datetime(pd.Series(values)).to_numpy(dtype="datetime64[ns]").astype(np.int64)


def case_facts(transitions: pd.DataFrame, *, end: datetime | None = None) -> pd.DataFrame:
    """The stored view of every case, recomputed from its transitions.

    Parameters
    ----------
    transitions
        ``case_id, seq, action, to_state, at`` and ``department, assignee, deadline, result``
        (as ``gis.store.cases.read_transitions`` returns them).
    end
        Only the transitions before this time count: the facts as they stood then (a case
        without a transition before ``end`` is left out).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``case_id`` (sorted), the columns of ``VIEW_COLUMNS``; times as
        ``datetime64[ns]``, ``satisfied`` as nullable boolean.
    """
    t = transitions
    at = _ns(t["at"])
    keep = np.ones(len(t), dtype=bool) if end is None else at < pd.Timestamp(end).value
    case = t["case_id"].to_numpy(dtype=np.int64)[keep]
    seq = t["seq"].to_numpy(dtype=np.int64)[keep]
    at = at[keep]
    order = np.lexsort((seq, case))
    if not (np.diff(case) >= 0).all() or not (order == np.arange(len(order))).all():
        case, seq, at = case[order], seq[order], at[order]
    else:
        order = None

    def col(name: str) -> np.ndarray:
        values = t[name].to_numpy(dtype=object)[keep]
        return values if order is None else values[order]

    codes, actions = pd.factorize(pd.Series(col("action"), dtype=object))
    code_of = {a: i for i, a in enumerate(actions)}
    starts = np.flatnonzero(np.r_[True, case[1:] != case[:-1]]) if len(case) else np.array([], int)
    ids = case[starts]
    lasts = np.r_[starts[1:] - 1, len(case) - 1] if len(case) else np.array([], int)
    out = pd.DataFrame(index=pd.Index(ids, name="case_id"))
    out["state"] = pd.Series(col("to_state")[lasts], index=out.index, dtype=object)
    out["version"] = seq[lasts]
    out["updated_at"] = at[lasts].astype("datetime64[ns]")

    def rows_of(names: tuple[str, ...]) -> np.ndarray:
        wanted = [code_of[a] for a in names if a in code_of]
        return np.flatnonzero(np.isin(codes, wanted)) if wanted else np.array([], dtype=np.int64)

    def per_case(rows: np.ndarray, which: str) -> np.ndarray:
        """Row numbers of the first / last of ``rows`` per case, aligned to ``ids`` (-1: none)."""
        hit = np.full(len(ids), -1, dtype=np.int64)
        if len(rows) == 0:
            return hit
        c = case[rows]
        edge = np.r_[True, c[1:] != c[:-1]] if which == "first" else np.r_[c[1:] != c[:-1], True]
        hit[np.searchsorted(ids, c[edge])] = rows[edge]
        return hit

    def times(hit: np.ndarray) -> np.ndarray:
        return np.where(hit >= 0, at[np.maximum(hit, 0)], _NAT).astype("datetime64[ns]")

    for column, (names, which) in _STEP_TIMES.items():
        out[column] = times(per_case(rows_of(names), which))
    last_dispatch = per_case(rows_of(("dispatch",)), "last")
    for column in ("department", "assignee"):
        values = col(column)[np.maximum(last_dispatch, 0)] if len(case) else np.array([])
        values = np.where(last_dispatch >= 0, values, None)
        out[column] = pd.Series(values, index=out.index, dtype=object).where(
            pd.notna(pd.Series(values, index=out.index)), None
        )
    deadline = _ns(col("deadline"))
    out["deadline"] = (
        np.maximum.reduceat(deadline, starts).astype("datetime64[ns]") if len(case) else deadline
    )
    last_eval = per_case(rows_of(("evaluate",)), "last")
    result = col("result")[np.maximum(last_eval, 0)] if len(case) else np.array([])
    satisfied = pd.array(np.isin(result, SATISFIED), dtype="boolean")
    satisfied[last_eval < 0] = pd.NA
    out["satisfied"] = satisfied
    return out[list(VIEW_COLUMNS)]


def rebuild_views(engine: Engine) -> int:
    """Recompute the stored view of every case from its transitions and write it back.

    Returns
    -------
    int
        Cases rewritten.
    """
    with engine.begin() as conn:
        facts = case_facts(read_transitions(conn))
        return replace_view(conn, facts.reset_index().rename(columns={"case_id": "id"}))


__all__ = ["case_facts", "rebuild_views", "view_after"]
