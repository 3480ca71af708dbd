"""The one time parser: formats, offsets converted (never dropped), the district's zone."""

from __future__ import annotations

import pandas as pd
import pytest

from gis.core import settings
from gis.core.errors import InputError
from gis.core.times import parse_time_arg, parse_times


def test_offsets_are_converted_to_the_district_zone():
    out = parse_times(pd.Series(["2026-05-01T00:30:00Z", "2026-05-01 08:30:00+08:00"]))
    assert list(out) == [pd.Timestamp("2026-05-01 08:30"), pd.Timestamp("2026-05-01 08:30")]


def test_naive_text_is_wall_clock_in_the_district_zone_or_the_source_zone():
    text = pd.Series(["2026-05-01 08:30:00"])
    assert parse_times(text).iloc[0] == pd.Timestamp("2026-05-01 08:30")
    utc = parse_times(text, source_tz="UTC")
    assert utc.iloc[0] == pd.Timestamp("2026-05-01 16:30")


def test_other_district_zone(monkeypatch):
    monkeypatch.setattr(settings, "DISTRICT_TZ", "America/New_York")
    out = parse_times(pd.Series(["2019-01-01T12:00:00Z"]))
    assert out.iloc[0] == pd.Timestamp("2019-01-01 07:00")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026年5月1日 8时30分", "2026-05-01 08:30"),
        ("1777595400", "2026-05-01 08:30"),  # epoch seconds, UTC
        ("1777595400000", "2026-05-01 08:30"),  # epoch milliseconds
        ("05/01/2026 08:30:00 AM", "2026-05-01 08:30"),
        ("2026/05/01 08:30", "2026-05-01 08:30"),
    ],
)
def test_formats(text, expected):
    assert parse_times(pd.Series([text])).iloc[0] == pd.Timestamp(expected)


def test_numbers_are_epochs_by_magnitude_and_datetimes_pass_through():
    out = parse_times(pd.Series([1777595400, 1777595460]))
    assert out.iloc[0] == pd.Timestamp("2026-05-01 08:30")
    ms = parse_times(pd.Series([1777595400000.0]))
    assert ms.iloc[0] == pd.Timestamp("2026-05-01 08:30")
    aware = pd.Series(pd.to_datetime(["2026-05-01T00:30:00Z"], utc=True))
    assert parse_times(aware).iloc[0] == pd.Timestamp("2026-05-01 08:30")


def test_unreadable_and_empty_become_nat():
    out = parse_times(pd.Series(["garbage", "", None, "2026-05-01"]))
    assert out.isna().tolist() == [True, True, True, False]


def test_parse_time_arg():
    assert parse_time_arg(None) is None
    assert parse_time_arg(" ") is None
    assert parse_time_arg("2026-05-01") == pd.Timestamp("2026-05-01")
    assert parse_time_arg("2026-05-01T00:00:00Z") == pd.Timestamp("2026-05-01 08:00")
    with pytest.raises(InputError, match="--start: cannot read 'garbage'"):
        parse_time_arg("garbage", name="--start")
