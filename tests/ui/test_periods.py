"""The sidebar's period presets (issue 20, "When"): 今日, 本周, 本月, 上月, 近30天, 今年, 去年同期."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from gis import store
from gis.core.errors import InputError
from gis.core.times import PERIOD_PRESETS, period_preset
from tests.ui.apptest import new_app, sign_in

# Thursday 2026-10-15
DAY = date(2026, 10, 15)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("today", (date(2026, 10, 15), date(2026, 10, 15))),
        ("this_week", (date(2026, 10, 12), date(2026, 10, 15))),  # Monday first
        ("this_month", (date(2026, 10, 1), date(2026, 10, 15))),
        ("last_month", (date(2026, 9, 1), date(2026, 9, 30))),
        ("last_30_days", (date(2026, 9, 16), date(2026, 10, 15))),
        ("this_year", (date(2026, 1, 1), date(2026, 10, 15))),
    ],
)
def test_period_presets_by_hand(name, expected):
    assert period_preset(name, DAY) == expected


def test_same_period_last_year_and_clipping():
    cur = (date(2028, 2, 1), date(2028, 2, 29))
    assert period_preset("last_year_same", DAY, current=cur) == (
        date(2027, 2, 1),
        date(2027, 2, 28),
    )
    # January: last month is last year's December; clipped to the data
    assert period_preset("last_month", date(2026, 1, 9)) == (date(2025, 12, 1), date(2025, 12, 31))
    got = period_preset("this_year", DAY, bounds=(date(2026, 3, 5), date(2026, 10, 31)))
    assert got == (date(2026, 3, 5), date(2026, 10, 15))
    with pytest.raises(InputError):
        period_preset("fortnight", DAY)


def test_sidebar_preset_sets_the_period(demo_db):
    engine = store.open_store(demo_db)
    times = store.read_incidents(engine)["occurred_at"]
    engine.dispose()
    last = times.max().date()
    anchor = min(date.today(), last)
    at = sign_in(new_app(), "analyst", "analyst-demo")
    box = at.selectbox(key="flt_preset_zh")
    assert box.options == ["今日", "本周", "本月", "上月", "近30天", "今年", "去年同期"]
    box.set_value("last_month").run()
    assert not at.exception, at.exception
    lm_last = anchor.replace(day=1) - pd.Timedelta(days=1)
    expected = (lm_last.replace(day=1), lm_last)
    assert tuple(at.session_state["flt_period"]) == expected
    assert tuple(at.session_state["flt_period_widget"]) == expected  # the field shows it
    assert len(PERIOD_PRESETS) == 7
