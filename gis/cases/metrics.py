"""Assessment metrics (考核指标) per department, grid, staff member or category, and the red light.

Counts per unit for a period ``[start, end)`` (definitions in ``gis.store.cases.metric_counts``),
then the rates, a score and a grade:

=====================  ==========================================  ============================
column                 formula                                     source
=====================  ==========================================  ============================
close_rate             closed / due, due = closed + overdue_open   结案率 = 结案数/应结案数
on_time_close_rate     closed_on_time / due                        按期结案率 = 按期结案数/应结案数
overdue_open_rate      overdue_open / open_at_end                  超期待处置率
rework_rate            reworked / due                              返工率 = 返工数/应结案数
extension_rate         extended / due                              延期率 = 延期数/应处置数
return_rate            returned / due                              回退率 (1 − 准确派遣率)
satisfaction_rate      satisfied / evaluated                       回访满意率
avg_handle_hours       hours from report to close, mean            平均处置时长
score                  close_rate×30 + on_time_close_rate×20 + (1−rework_rate)×20
                       + (1−overdue_open_rate)×20 + (1−extension_rate)×10 (weights configurable)
grade                  A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, else E (bands configurable)
=====================  ==========================================  ============================

Sources: DOMAIN.md (eGova's metric list, GB/T 30428.4, one district's 100-point department score
日常处置率×30 + 按期处置率×20 + (1−返工率)×20 + (1−超期待处置率)×20 + (1−延期率)×10; grades
A-E). ``case_metrics`` asks the store (one SQL pass over the stored view); ``metrics_from_
transitions`` recomputes the same table from the transitions alone with pandas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from gis.cases.calendar import WorkCalendar
from gis.cases.clocks import WORKING_TYPES, elapsed_ns
from gis.cases.facts import case_facts
from gis.core.errors import InputError
from gis.store.cases import COUNT_COLUMNS, GROUP_COLUMNS, metric_counts, overdue_open_cases

#: the columns of a metrics table, in order
METRIC_COLUMNS = [
    "unit",
    "reported",
    "accepted",
    "closed",
    "closed_on_time",
    "close_rate",
    "on_time_close_rate",
    "overdue_open",
    "rework_rate",
    "extension_rate",
    "return_rate",
    "satisfaction_rate",
    "avg_handle_hours",
    "score",
    "grade",
    "due",
    "open_at_end",
    "overdue_open_rate",
    "reworked",
    "extended",
    "returned",
    "evaluated",
    "satisfied",
]
#: what ``--by`` accepts
UNITS = ("department", "staff", "category", "grid:micro", "grid:l2", "grid:l1", "all")
_EARLIEST = datetime(1900, 1, 1)


def parse_by(by: str) -> str:
    """Check a ``--by`` value (``department | grid:LEVEL | staff | category | all``)."""
    key = str(by).strip().lower()
    if key == "grid":
        key = "grid:micro"
    if key not in UNITS and key not in GROUP_COLUMNS:
        raise InputError(
            f"cannot group cases by {by!r}; use department, staff, category, all or grid:LEVEL "
            "(grid:micro, grid:l2, grid:l1)"
        )
    return key


def _pairs(text: str, what: str) -> dict[str, float]:
    out = {}
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        m = re.fullmatch(r"([A-Za-z_]+)\s*=\s*([-+0-9.]+)", part)
        if not m:
            raise InputError(f"{what}: {part!r} is not NAME=NUMBER")
        out[m.group(1)] = float(m.group(2))
    return out


@dataclass(frozen=True)
class ScoreWeights:
    """Points per rate in the score; the last three count as ``1 − rate`` (less is better)."""

    close_rate: float = 30.0
    on_time_close_rate: float = 20.0
    rework_rate: float = 20.0
    overdue_open_rate: float = 20.0
    extension_rate: float = 10.0

    #: rates where less is better (scored as 1 − rate)
    NEGATIVE = ("rework_rate", "overdue_open_rate", "extension_rate")

    @classmethod
    def parse(cls, text: str | None) -> ScoreWeights:
        """``"close_rate=30,on_time_close_rate=20,..."`` (missing names keep the default)."""
        if not text:
            return cls()
        values = _pairs(text, "score weights")
        known = set(cls.__dataclass_fields__)
        unknown = set(values) - known
        if unknown:
            raise InputError(f"score weights: unknown {sorted(unknown)}; known {sorted(known)}")
        return cls(**values)

    def items(self) -> list[tuple[str, float]]:
        """``(rate, weight)`` pairs."""
        return [(name, getattr(self, name)) for name in self.__dataclass_fields__]


@dataclass(frozen=True)
class GradeBands:
    """Lowest score of each grade, best first; below the last band the ``floor`` grade."""

    bands: tuple[tuple[str, float], ...] = (("A", 90.0), ("B", 75.0), ("C", 60.0), ("D", 40.0))
    floor: str = "E"

    @classmethod
    def parse(cls, text: str | None) -> GradeBands:
        """``"A=90,B=75,C=60,D=40"`` (the grade below the lowest band is ``E``)."""
        if not text:
            return cls()
        values = _pairs(text, "grade bands")
        bands = tuple(sorted(values.items(), key=lambda kv: -kv[1]))
        return cls(bands=bands)

    def grade(self, scores: pd.Series) -> pd.Series:
        """The grade of each score ('' where the score is NaN)."""
        s = pd.to_numeric(scores, errors="coerce").to_numpy(dtype=float)
        out = np.full(len(s), self.floor, dtype=object)
        for name, low in reversed(self.bands):
            out[s >= low] = name
        out[np.isnan(s)] = ""
        return pd.Series(out, index=scores.index, dtype=object)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    den = den.astype(float)
    return (num.astype(float) / den.where(den > 0)).astype(float)


def finish_metrics(
    counts: pd.DataFrame,
    weights: ScoreWeights | None = None,
    bands: GradeBands | None = None,
) -> pd.DataFrame:
    """Rates, score and grade from the counts per unit (``COUNT_COLUMNS``), sorted by unit."""
    weights = weights or ScoreWeights()
    bands = bands or GradeBands()
    m = counts.copy()
    m["due"] = m["closed"] + m["overdue_open"]
    m["close_rate"] = _ratio(m["closed"], m["due"])
    m["on_time_close_rate"] = _ratio(m["closed_on_time"], m["due"])
    m["overdue_open_rate"] = _ratio(m["overdue_open"], m["open_at_end"]).fillna(0.0)
    m["rework_rate"] = _ratio(m["reworked"], m["due"])
    m["extension_rate"] = _ratio(m["extended"], m["due"])
    m["return_rate"] = _ratio(m["returned"], m["due"])
    m["satisfaction_rate"] = _ratio(m["satisfied"], m["evaluated"])
    m["avg_handle_hours"] = _ratio(m["handle_hours_sum"], m["closed"])
    score = pd.Series(0.0, index=m.index)
    for name, weight in weights.items():
        rate = m[name]
        score = score + weight * ((1.0 - rate) if name in ScoreWeights.NEGATIVE else rate)
    m["score"] = score.round(2)
    m["grade"] = bands.grade(m["score"])
    m["unit"] = m["unit"].astype(object).where(m["unit"].notna(), None)
    key = m["unit"].map(lambda u: (u is None, "" if u is None else str(u)))
    m = m.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)
    return m[METRIC_COLUMNS]


def case_metrics(
    engine: Engine,
    by: str = "department",
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    *,
    weights: ScoreWeights | None = None,
    bands: GradeBands | None = None,
) -> pd.DataFrame:
    """Metrics per unit for ``[start, end)`` from the store (``end`` default: now).

    Parameters
    ----------
    by
        ``department`` (who held the case at the end: its last dispatch), ``staff`` (the
        assignee of that dispatch), ``category``, ``grid:micro|l2|l1`` (the grids in force when
        reported) or ``all``.

    Returns
    -------
    pandas.DataFrame
        ``METRIC_COLUMNS``, one row per unit (cases without a unit under ``None``).
    """
    counts = metric_counts(engine, parse_by(by), _time(start), _time(end))
    return finish_metrics(counts, weights, bands)


def _time(value) -> datetime | None:
    return None if value is None else pd.Timestamp(value).to_pydatetime()


def counts_from_transitions(
    transitions: pd.DataFrame,
    cases: pd.DataFrame,
    by: str = "department",
    start: datetime | str | None = None,
    end: datetime | str | None = None,
) -> pd.DataFrame:
    """The counts of ``metric_counts`` recomputed with pandas from the transitions alone.

    ``cases`` gives only the static columns (``id`` and the unit column for ``category`` and
    ``grid:*``); everything that happened comes from ``transitions``.
    """
    by = parse_by(by)
    start_ts = pd.Timestamp(start) if start is not None else pd.Timestamp(_EARLIEST)
    end_ts = pd.Timestamp(end) if end is not None else pd.Timestamp(datetime.now())
    f = case_facts(transitions, end=end_ts)
    if by in ("department", "staff"):
        unit = f["department" if by == "department" else "assignee"]
    elif by == "all":
        unit = pd.Series("all", index=f.index, dtype=object)
    else:
        static = cases.set_index("id")[GROUP_COLUMNS[by]]
        unit = static.reindex(f.index)
    closed_in = f["closed_at"].notna() & (f["closed_at"] >= start_ts)
    open_end = f["closed_at"].isna() & f["ended_at"].isna()
    overdue = open_end & (f["deadline"] < end_ts) & (f["state"] != "suspended")
    due = closed_in | overdue
    evaluated = f["evaluated_at"].notna() & (f["evaluated_at"] >= start_ts)
    hours = (f["closed_at"] - f["reported_at"]).dt.total_seconds() / 3600.0
    per_case = pd.DataFrame(
        {
            "unit": unit.astype(object).where(unit.notna(), "\x00none"),
            "reported": f["reported_at"] >= start_ts,
            "accepted": f["accepted_at"].notna() & (f["accepted_at"] >= start_ts),
            "closed": closed_in,
            "closed_on_time": closed_in & (f["closed_at"] <= f["deadline"]),
            "overdue_open": overdue,
            "open_at_end": open_end,
            "reworked": due & f["first_rework_at"].notna(),
            "extended": due & f["first_extension_at"].notna(),
            "returned": due & f["first_return_at"].notna(),
            "evaluated": evaluated,
            "satisfied": evaluated & f["satisfied"].fillna(False).astype(bool),
            "handle_hours_sum": hours.where(closed_in, 0.0).fillna(0.0),
        }
    )
    out = per_case.groupby("unit", sort=True).sum().reset_index()
    for col in COUNT_COLUMNS:
        if col != "handle_hours_sum":
            out[col] = out[col].astype(np.int64)
    out["unit"] = out["unit"].map(lambda u: None if u == "\x00none" else u).astype(object)
    return out[["unit", *COUNT_COLUMNS]]


def metrics_from_transitions(
    transitions: pd.DataFrame,
    cases: pd.DataFrame,
    by: str = "department",
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    *,
    weights: ScoreWeights | None = None,
    bands: GradeBands | None = None,
) -> pd.DataFrame:
    """``case_metrics`` recomputed from the transitions alone (pandas); same columns."""
    counts = counts_from_transitions(transitions, cases, by, start, end)
    return finish_metrics(counts, weights, bands)


def red_light(
    engine: Engine, at: datetime | str | None = None, calendar: WorkCalendar | None = None
) -> pd.DataFrame:
    """The red-light list (红灯): cases open at ``at`` (default now) and past their deadline.

    Returns
    -------
    pandas.DataFrame
        ``case_code, category_code, urgency, department, assignee, grid_code, reported_at,
        deadline, overdue_hours`` (clock hours past the deadline), ``overdue_work_hours``
        (working hours, for working-time limits), ``state``, ``supervision_pending``; most
        overdue first.
    """
    when = pd.Timestamp(at) if at is not None else pd.Timestamp(datetime.now())
    frame = overdue_open_cases(engine, when.to_pydatetime())
    if frame.empty:
        frame["overdue_hours"] = []
        frame["overdue_work_hours"] = []
        frame["supervision_pending"] = []
        return frame.drop(columns=["id"])
    frame["overdue_hours"] = ((when - frame["deadline"]).dt.total_seconds() / 3600.0).round(2)
    working = frame["limit_type"].isin(WORKING_TYPES).to_numpy()
    work = elapsed_ns(frame["deadline"], [when] * len(frame), working=True, calendar=calendar)
    frame["overdue_work_hours"] = np.where(working, np.round(work / 3.6e12, 2), np.nan)
    frame["supervision_pending"] = frame["supervised_at"].notna() & (
        frame["supervision_reply_at"].isna()
        | (frame["supervision_reply_at"] < frame["supervised_at"])
    )
    return frame.drop(columns=["id", "supervised_at", "supervision_reply_at"])


__all__ = [
    "GradeBands",
    "METRIC_COLUMNS",
    "ScoreWeights",
    "UNITS",
    "case_metrics",
    "counts_from_transitions",
    "finish_metrics",
    "metrics_from_transitions",
    "parse_by",
    "red_light",
]
