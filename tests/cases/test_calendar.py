"""The working calendar and the shipped holiday file (State Council notices for 2024-2026)."""

from __future__ import annotations

from datetime import date, time

import numpy as np
import pandas as pd
import pytest

from gis.cases.calendar import CALENDAR_CSV, WorkCalendar, parse_slots
from gis.core.errors import InputError


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar.from_csv()


def _dates(frame: pd.DataFrame, year: int, kind: str) -> list[str]:
    rows = frame[(frame["kind"] == kind) & frame["date"].str.startswith(str(year))]
    return rows["date"].tolist()


def test_shipped_file_has_the_official_2026_arrangement():
    # 国办发明电〔2025〕7号 (2025-11-04)
    frame = pd.read_csv(CALENDAR_CSV, comment="#", dtype=str)
    work = _dates(frame, 2026, "workday")
    assert work == [
        "2026-01-04",
        "2026-02-14",
        "2026-02-28",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
    ]
    hol = set(_dates(frame, 2026, "holiday"))
    expected = (
        list(pd.date_range("2026-01-01", "2026-01-03"))
        + list(pd.date_range("2026-02-15", "2026-02-23"))  # 春节 9 days
        + list(pd.date_range("2026-04-04", "2026-04-06"))
        + list(pd.date_range("2026-05-01", "2026-05-05"))
        + list(pd.date_range("2026-06-19", "2026-06-21"))
        + list(pd.date_range("2026-09-25", "2026-09-27"))
        + list(pd.date_range("2026-10-01", "2026-10-07"))
    )
    assert hol == {d.date().isoformat() for d in expected}


def test_shipped_file_has_2024_and_2025():
    frame = pd.read_csv(CALENDAR_CSV, comment="#", dtype=str)
    assert _dates(frame, 2025, "workday") == [
        "2025-01-26",
        "2025-02-08",
        "2025-04-27",
        "2025-09-28",
        "2025-10-11",
    ]
    assert len(_dates(frame, 2025, "holiday")) == 1 + 8 + 3 + 5 + 3 + 8
    assert _dates(frame, 2024, "workday") == [
        "2024-02-04",
        "2024-02-18",
        "2024-04-07",
        "2024-04-28",
        "2024-05-11",
        "2024-09-14",
        "2024-09-29",
        "2024-10-12",
    ]
    # every make-up working day is a Saturday or Sunday
    work = pd.to_datetime(frame.loc[frame["kind"] == "workday", "date"])
    assert (work.dt.day_of_week >= 5).all()


def test_working_days(cal):
    assert cal.is_working_day("2026-03-02")  # Monday
    assert not cal.is_working_day("2026-03-07")  # Saturday
    assert cal.is_working_day("2026-02-14")  # make-up Saturday
    assert not cal.is_working_day("2026-02-16")  # Spring Festival Monday
    assert not cal.is_working_day("2026-10-01")
    days = np.array(["2026-02-13", "2026-02-14", "2026-02-15", "2026-02-24"], dtype="datetime64[D]")
    assert cal.working_day_mask(days).tolist() == [True, True, False, True]
    assert cal.day_seconds == 8 * 3600
    assert "08:00-12:00, 14:00-18:00" in cal.describe()


def test_slots_are_configurable_and_checked():
    assert parse_slots("09:00-12:30, 13:30-17:30") == (
        (time(9), time(12, 30)),
        (time(13, 30), time(17, 30)),
    )
    with pytest.raises(InputError, match="overlap"):
        parse_slots("08:00-12:00,11:00-18:00")
    with pytest.raises(InputError, match="before it starts"):
        parse_slots("12:00-08:00")
    with pytest.raises(InputError, match="HH:MM-HH:MM"):
        parse_slots("morning")


def test_bad_calendar_files_are_refused(tmp_path):
    bad = tmp_path / "cal.csv"
    bad.write_text("date,kind\n2026-01-01,holiday\n2026-13-01,holiday\n2026-01-02,party\n")
    with pytest.raises(InputError) as err:
        WorkCalendar.from_csv(bad)
    assert "not YYYY-MM-DD" in str(err.value) and "party" in str(err.value)
    dup = tmp_path / "dup.csv"
    dup.write_text("date,kind\n2026-01-01,holiday\n2026-01-01,workday\n")
    with pytest.raises(InputError, match="twice"):
        WorkCalendar.from_csv(dup)
    with pytest.raises(InputError, match="no such calendar"):
        WorkCalendar.from_csv(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="both holiday and workday"):
        WorkCalendar(holidays=frozenset({date(2026, 1, 1)}), workdays=frozenset({date(2026, 1, 1)}))


def test_a_custom_calendar_file_and_slots(tmp_path):
    path = tmp_path / "cal.csv"
    path.write_text("date,kind,name\n2026-03-03,holiday,local day\n2026-03-07,workday,\n")
    cal = WorkCalendar.from_csv(path, slots="09:00-17:00")
    assert not cal.is_working_day("2026-03-03") and cal.is_working_day("2026-03-07")
    assert cal.slots == ((time(9), time(17)),)
