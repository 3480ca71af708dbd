"""Report periods (日 / 周 / 月) and their comparisons: 环比 (the previous period) and 同比 (the
same period a year earlier), with an exact test where counts are small.

A period is ``[start, end)`` of whole days in the district's wall-clock time:

=========  =========================================  ==============================  ===========
kind       the period holding day D                   previous (环比)                 last year (同比)
=========  =========================================  ==============================  ===========
daily      D                                          D - 1 day                       D - 1 year
weekly     Monday .. Sunday of D's week               the week before                 52 weeks earlier
monthly    D's calendar month                         the month before                the same month
=========  =========================================  ==============================  ===========

(52 weeks keeps the weekdays aligned, as the weekly review compares Mondays with Mondays.)
Without a day, the report is of the last complete period before today.

**The test.** Two counts ``k1`` (the period, length ``t1``) and ``k0`` (the comparison,
length ``t0``) of Poisson processes: given ``k1 + k0``, ``k1`` is binomial with ``p = t1 /
(t1 + t0)`` under equal rates (the conditional "C test", Przyborowski & Wilenski 1940); the
two-sided exact binomial p-value (``scipy.stats.binomtest``) says whether the change is more than
chance. For proportions (on-time closure) the two-sided Fisher exact test on the 2x2 table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd
from scipy import stats

from gis.core.errors import InputError

#: the report kinds, in the order the CLI and the page list them
KINDS = ("daily", "weekly", "monthly")
#: a change with a p-value below this is called significant
ALPHA = 0.05


@dataclass(frozen=True)
class ReportPeriod:
    """One report period ``[start, end)`` (midnights, naive wall-clock times).

    Attributes
    ----------
    kind
        ``daily``, ``weekly`` or ``monthly``.
    start, end
        The first day's midnight and the midnight after the last day.
    """

    kind: str
    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def days(self) -> int:
        """Length in days."""
        return int((self.end - self.start) / pd.Timedelta(days=1))

    @property
    def last_day(self) -> pd.Timestamp:
        """The period's last day (midnight)."""
        return self.end - pd.Timedelta(days=1)

    def previous(self) -> ReportPeriod:
        """The period just before (环比)."""
        return report_period(self.kind, self.start - pd.Timedelta(days=1))

    def last_year(self) -> ReportPeriod:
        """The same period a year earlier (同比); 52 weeks earlier for a week."""
        if self.kind == "weekly":
            return report_period(self.kind, self.start - pd.Timedelta(weeks=52))
        return report_period(self.kind, self.start - pd.DateOffset(years=1))

    def label(self) -> str:
        """``2026-10-05``, ``2026-09-28 .. 2026-10-04`` or ``2026-10``."""
        if self.kind == "daily":
            return f"{self.start:%Y-%m-%d}"
        if self.kind == "monthly":
            return f"{self.start:%Y-%m}"
        return f"{self.start:%Y-%m-%d} .. {self.last_day:%Y-%m-%d}"


def report_period(
    kind: str, day: date | datetime | str | None = None, *, today: date | None = None
) -> ReportPeriod:
    """The ``kind`` period holding ``day``; without ``day`` the last complete one before
    ``today`` (default: the current date).

    Raises
    ------
    InputError
        Unknown kind or unreadable day.
    """
    if kind not in KINDS:
        raise InputError(f"report kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if day is None:
        now = pd.Timestamp(today if today is not None else datetime.now()).normalize()
        day = now - pd.Timedelta(days=1)
        if kind == "weekly":
            day = now - pd.Timedelta(days=now.weekday() + 1)
        elif kind == "monthly":
            day = now.replace(day=1) - pd.Timedelta(days=1)
    try:
        d = pd.Timestamp(day).normalize()
    except (ValueError, TypeError) as exc:
        raise InputError(f"cannot read the day {day!r} (use YYYY-MM-DD)") from exc
    if kind == "daily":
        start, end = d, d + pd.Timedelta(days=1)
    elif kind == "weekly":
        start = d - pd.Timedelta(days=d.weekday())
        end = start + pd.Timedelta(weeks=1)
    else:
        start = d.replace(day=1)
        end = start + pd.offsets.MonthBegin(1)
    return ReportPeriod(kind, pd.Timestamp(start), pd.Timestamp(end))


@dataclass(frozen=True)
class Change:
    """A value against a comparison value.

    Attributes
    ----------
    value, base
        This period's value and the comparison's (NaN when unknown).
    pct
        Relative change in percent (NaN when the base is 0 or unknown).
    p_value
        Two-sided exact p-value (NaN when no test applies).
    """

    value: float
    base: float
    pct: float
    p_value: float

    @property
    def significant(self) -> bool:
        """Whether the change is significant at ``ALPHA``."""
        return bool(np.isfinite(self.p_value) and self.p_value < ALPHA)


def _pct(value: float, base: float) -> float:
    if not np.isfinite(value) or not np.isfinite(base) or base == 0:
        return float("nan")
    return float((value - base) / base * 100.0)


def count_change(k1: int, t1: float, k0: int, t0: float) -> Change:
    """Compare count ``k1`` over ``t1`` days with ``k0`` over ``t0`` days (exact C test).

    The percentage compares the daily rates, so a 29-day February compares fairly with a
    31-day January.
    """
    k1, k0 = int(k1), int(k0)
    rate1, rate0 = k1 / t1, k0 / t0
    pct = _pct(rate1, rate0)
    p = float("nan")
    if k1 + k0 > 0:
        p = float(stats.binomtest(k1, k1 + k0, t1 / (t1 + t0)).pvalue)
    return Change(float(k1), float(k0), pct, p)


def rate_change(hits1: int, n1: int, hits0: int, n0: int) -> Change:
    """Compare proportion ``hits1 / n1`` with ``hits0 / n0`` (Fisher exact); ``pct`` is the
    difference in percentage points."""
    v1 = hits1 / n1 if n1 else float("nan")
    v0 = hits0 / n0 if n0 else float("nan")
    p = float("nan")
    if n1 and n0:
        table = [[int(hits1), int(n1 - hits1)], [int(hits0), int(n0 - hits0)]]
        p = float(stats.fisher_exact(table).pvalue)
    diff = (v1 - v0) * 100.0 if np.isfinite(v1) and np.isfinite(v0) else float("nan")
    return Change(float(v1), float(v0), float(diff), p)


__all__ = [
    "ALPHA",
    "Change",
    "KINDS",
    "ReportPeriod",
    "count_change",
    "rate_change",
    "report_period",
]
