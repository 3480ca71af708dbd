"""Trend of a period: the second half's count against the first.

``trend_class`` splits the period into two halves of equal length and tests the second half's
count against the first as a conditional Poisson (binomial) test: with ``n1 + n2`` incidents
and equal exposure, ``n2 ~ Binomial(n1 + n2, 1/2)`` under "no change" (exact two-sided p,
``scipy.stats.binomtest``). ``rising`` when p < ``TREND_ALPHA`` and ``n2/n1 >= 1 +
TREND_MIN_CHANGE``; ``falling`` when p < ``TREND_ALPHA`` and ``n2/n1 <= 1 / (1 +
TREND_MIN_CHANGE)``; otherwise ``stable`` (a real but small change is stable: with thousands of
incidents a 3 % drift is significant and of no interest to a leader).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

#: Trend: significance level and smallest relative change read as rising / falling.
TREND_ALPHA = 0.05
TREND_MIN_CHANGE = 0.2

TRENDS = ("rising", "stable", "falling")
TREND_ZH = {"rising": "上升", "stable": "平稳", "falling": "下降", "too few": "样本太少"}


@dataclass(frozen=True)
class Trend:
    """Second half of the period against the first (see the module docstring).

    ``ratio`` = second / first (inf when the first half is empty), ``p_value`` exact two-sided,
    ``trend`` one of ``rising``, ``stable``, ``falling`` or ``too few`` (no incidents)."""

    first_half: int
    second_half: int
    ratio: float
    p_value: float
    trend: str

    def text(self, lang: str = "en") -> str:
        """E.g. "rising (+38 % in the second half)" / "上升（后半期+38%）"."""
        if self.trend == "too few":
            return TREND_ZH["too few"] if lang == "zh" else "too few incidents"
        if math.isinf(self.ratio):
            change = "new" if lang == "en" else "新出现"
        else:
            change = f"{(self.ratio - 1) * 100:+.0f}%"
        if lang == "zh":
            return f"{TREND_ZH[self.trend]}（后半期{change}）"
        return f"{self.trend} ({change.replace('%', ' %')} in the second half)"


def trend_class(times, start, end) -> Trend:
    """Rising / stable / falling from the counts of the two halves of ``[start, end)``.

    Parameters
    ----------
    times
        Occurrence times (naive local); those outside the period are ignored.
    start, end
        The period.
    """
    t = pd.to_datetime(pd.Series(np.asarray(times))).dropna()
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    mid = start + (end - start) / 2
    n1 = int(((t >= start) & (t < mid)).sum())
    n2 = int(((t >= mid) & (t < end)).sum())
    n = n1 + n2
    if n == 0:
        return Trend(0, 0, float("nan"), 1.0, "too few")
    p = float(stats.binomtest(n2, n, 0.5).pvalue)
    ratio = n2 / n1 if n1 else float("inf")
    trend = "stable"
    if p < TREND_ALPHA and ratio >= 1 + TREND_MIN_CHANGE:
        trend = "rising"
    elif p < TREND_ALPHA and ratio <= 1 / (1 + TREND_MIN_CHANGE):
        trend = "falling"
    return Trend(n1, n2, float(ratio), p, trend)
