"""gis.planning.trend: the two halves of a period, by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

from gis import planning
from tests.planning.cases import (
    END,
    MID,
    START,
)


def test_trend_class_by_hand():
    t = [START + pd.Timedelta(hours=h) for h in range(10)]
    late = [MID + pd.Timedelta(hours=h) for h in range(30)]
    res = planning.trend_class(t + late, START, END)
    assert (res.first_half, res.second_half, res.trend) == (10, 30, "rising")
    assert res.p_value == pytest.approx(stats.binomtest(30, 40, 0.5).pvalue)
    assert planning.trend_class(late[:12] + t, START, END).trend == "stable"  # +20 %, p > .05
    assert planning.trend_class(t * 5 + late[:10], START, END).trend == "falling"
    assert planning.trend_class([], START, END).trend == "too few"
