"""Hostile dates (issue 19, Medium "Dates"): out-of-range cells reject their row, a column's
day/month order is read from all its values (refused when they do not decide it), and
``0000000000``, years before 1990 and two-digit years are refused unless asked for."""

from __future__ import annotations

import pandas as pd
import pytest

from gis.core.errors import InputError
from gis.core.times import parse_times, parse_times_checked


def test_out_of_range_year_is_nat_with_a_reason_not_an_exception():
    times, why = parse_times_checked(pd.Series(["2026-05-01 08:00", "3000-01-01", "2026-05-02"]))
    assert times.tolist()[0] == pd.Timestamp("2026-05-01 08:00")
    assert pd.isna(times.iloc[1]) and times.iloc[2] == pd.Timestamp("2026-05-02")
    assert "out of range" in why.iloc[1] and why.iloc[0] == why.iloc[2] == ""
    # the out-of-range value first (it decides the guessed format) changes nothing
    times, why = parse_times_checked(pd.Series(["3000-01-01", "2026-05-01"]))
    assert pd.isna(times.iloc[0]) and times.iloc[1] == pd.Timestamp("2026-05-01")


def test_day_month_order_is_read_from_the_whole_column():
    # 13/03 decides: day first for every value, 05/03 is 5 March (not 3 May)
    out = parse_times(pd.Series(["05/03/2026", "13/03/2026", "01/02/2026 08:30"]))
    assert out.tolist() == [
        pd.Timestamp("2026-03-05"),
        pd.Timestamp("2026-03-13"),
        pd.Timestamp("2026-02-01 08:30"),
    ]
    out = parse_times(pd.Series(["05/03/2026", "03/13/2026"]))  # 13 second: month first
    assert out.tolist() == [pd.Timestamp("2026-05-03"), pd.Timestamp("2026-03-13")]


def test_ambiguous_or_mixed_orders_are_refused_unless_told():
    with pytest.raises(InputError, match="ambiguous"):
        parse_times(pd.Series(["05/03/2026", "06/04/2026"]))
    with pytest.raises(InputError, match="both day/month orders"):
        parse_times(pd.Series(["13/03/2026", "03/13/2026"]))
    dmy = parse_times(pd.Series(["05/03/2026", "06/04/2026"]), date_order="dmy")
    assert dmy.tolist() == [pd.Timestamp("2026-03-05"), pd.Timestamp("2026-04-06")]
    mdy = parse_times(pd.Series(["05/03/2026", "06/04/2026"]), date_order="mdy")
    assert mdy.tolist() == [pd.Timestamp("2026-05-03"), pd.Timestamp("2026-06-04")]


def test_epoch_zero_early_years_and_two_digit_years_are_refused():
    times, why = parse_times_checked(
        pd.Series(["0000000000", "1985-01-01", "13/02/26", "2026-05-01"])
    )
    assert times.isna().tolist() == [True, True, True, False]
    assert "out of range" in why.iloc[0] and "out of range" in why.iloc[1]
    assert "two-digit year" in why.iloc[2]
    told = parse_times(pd.Series(["13/02/26"]), two_digit_years=True)
    assert told.iloc[0] == pd.Timestamp("2026-02-13")
    assert parse_times(pd.Series([0, 1777595400])).isna().tolist() == [True, False]
