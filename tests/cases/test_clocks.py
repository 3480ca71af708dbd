"""SLA clocks: deadlines computed by hand, to the second, on the shipped calendar.

Working slots 08:00-12:00 and 14:00-18:00. 2026: 2026-02-14 (Sat) and 2026-02-28 (Sat) are
make-up days, 2026-02-15..23 Spring Festival; 2026-09-20 (Sun) and 2026-10-10 (Sat) make-up days,
2026-09-25..27 Mid-Autumn, 2026-10-01..07 National Day; 2026-01-01..03 New Year with 2026-01-04
(Sun) worked; 2026-05-01..05 Labour Day with 2026-05-09 (Sat) worked. 2026-03-02 is a Monday.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gis.cases.calendar import WorkCalendar, default_calendar
from gis.cases.clocks import (
    add_time,
    deadline,
    deadlines,
    elapsed_ns,
    limit_durations_ns,
    next_working_moment,
    remaining_ns,
)
from gis.core.errors import InputError

# (start, limit, type, pauses, deadline worked out by hand)
HAND_CASES = [
    # working hours inside one day, lunch break, slot ends
    ("2026-03-02 09:00:00", 1, "work_hour", [], "2026-03-02 10:00:00"),
    ("2026-03-02 09:00:00", 3, "work_hour", [], "2026-03-02 12:00:00"),  # 12:00, not 14:00
    ("2026-03-02 11:00:00", 2, "work_hour", [], "2026-03-02 15:00:00"),  # across lunch
    ("2026-03-02 12:30:00", 1, "work_hour", [], "2026-03-02 15:00:00"),  # starts at 14:00
    ("2026-03-02 07:00:00", 1, "work_hour", [], "2026-03-02 09:00:00"),  # before work
    ("2026-03-02 11:59:30", 1, "work_hour", [], "2026-03-02 14:59:30"),  # seconds
    ("2026-03-02 11:30:00", 0.75, "work_hour", [], "2026-03-02 14:15:00"),  # fractions
    # nights and weekends
    ("2026-03-02 17:30:00", 1, "work_hour", [], "2026-03-03 08:30:00"),
    ("2026-03-02 19:00:00", 4, "work_hour", [], "2026-03-03 12:00:00"),
    ("2026-03-06 16:00:00", 2, "work_hour", [], "2026-03-06 18:00:00"),  # Friday 18:00 itself
    ("2026-03-06 17:00:00", 2, "work_hour", [], "2026-03-09 09:00:00"),  # over the weekend
    ("2026-03-07 10:00:00", 1, "work_hour", [], "2026-03-09 09:00:00"),  # reported on Saturday
    ("2026-05-10 09:00:00", 1, "work_hour", [], "2026-05-11 09:00:00"),  # a plain Sunday
    # working days (8 working hours)
    ("2026-03-02 09:00:00", 1, "work_day", [], "2026-03-03 09:00:00"),
    ("2026-03-02 14:00:00", 2, "work_day", [], "2026-03-04 12:00:00"),  # 16 h ends at a slot end
    ("2026-03-06 18:00:00", 1, "work_day", [], "2026-03-09 18:00:00"),
    # holidays and make-up days
    ("2026-02-13 17:00:00", 2, "work_hour", [], "2026-02-14 09:00:00"),  # make-up Saturday
    ("2026-02-14 17:00:00", 2, "work_hour", [], "2026-02-24 09:00:00"),  # Spring Festival
    ("2026-02-11 10:00:00", 3, "work_day", [], "2026-02-14 10:00:00"),  # ends on make-up Sat
    ("2026-02-22 10:00:00", 1, "work_hour", [], "2026-02-24 09:00:00"),  # inside the holiday
    ("2026-09-30 17:00:00", 2, "work_hour", [], "2026-10-08 09:00:00"),  # National Day
    ("2026-09-18 17:00:00", 2, "work_hour", [], "2026-09-20 09:00:00"),  # make-up Sunday
    ("2026-09-24 17:00:00", 1, "work_day", [], "2026-09-28 17:00:00"),  # Mid-Autumn
    ("2025-12-31 16:00:00", 4, "work_hour", [], "2026-01-04 10:00:00"),  # New Year, Sun worked
    ("2026-04-30 17:00:00", 2, "work_hour", [], "2026-05-06 09:00:00"),  # Labour Day
    ("2026-05-08 09:00:00", 1, "work_day", [], "2026-05-09 09:00:00"),  # make-up Saturday
    ("2024-02-09 17:00:00", 2, "work_hour", [], "2024-02-18 09:00:00"),  # 2024 Spring Festival
    ("2025-01-24 17:00:00", 2, "work_hour", [], "2025-01-26 09:00:00"),  # 2025 make-up Sunday
    ("2025-09-30 17:00:00", 2, "work_hour", [], "2025-10-09 09:00:00"),  # 2025 National Day (8 d)
    # natural types run through nights, weekends and holidays
    ("2026-03-06 22:00:00", 4, "natural_hour", [], "2026-03-07 02:00:00"),
    ("2026-02-13 10:00:00", 3, "natural_day", [], "2026-02-16 10:00:00"),
    ("2026-03-02 12:30:00", 0.5, "natural_hour", [], "2026-03-02 13:00:00"),
    # pauses never count
    (
        "2026-03-02 10:00:00",
        3,
        "natural_hour",
        [("2026-03-02 11:00:00", "2026-03-02 12:30:00")],
        "2026-03-02 14:30:00",
    ),
    (
        "2026-03-02 10:00:00",
        3,
        "work_hour",
        [("2026-03-02 11:00:00", "2026-03-02 15:30:00")],
        "2026-03-02 17:30:00",
    ),
    (  # a pause that starts at the deadline changes nothing
        "2026-03-02 10:00:00",
        2,
        "work_hour",
        [("2026-03-02 12:00:00", "2026-03-02 15:30:00")],
        "2026-03-02 12:00:00",
    ),
    (  # paused over a weekend
        "2026-03-06 14:00:00",
        1,
        "work_day",
        [("2026-03-06 16:00:00", "2026-03-09 10:00:00")],
        "2026-03-09 18:00:00",
    ),
    (  # natural day: the paused 12 hours are added
        "2026-03-02 09:00:00",
        1,
        "natural_day",
        [("2026-03-02 20:00:00", "2026-03-03 08:00:00")],
        "2026-03-03 21:00:00",
    ),
    (  # two pauses
        "2026-03-02 08:00:00",
        4,
        "work_hour",
        [
            ("2026-03-02 09:00:00", "2026-03-02 10:00:00"),
            ("2026-03-02 11:00:00", "2026-03-02 14:30:00"),
        ],
        "2026-03-02 16:30:00",
    ),
    (  # a pause that began before the clock started
        "2026-03-02 10:00:00",
        1,
        "work_hour",
        [("2026-03-02 09:00:00", "2026-03-02 10:30:00")],
        "2026-03-02 11:30:00",
    ),
    (  # overlapping pauses are merged
        "2026-03-02 10:00:00",
        1,
        "natural_hour",
        [
            ("2026-03-02 10:30:00", "2026-03-02 11:00:00"),
            ("2026-03-02 10:45:00", "2026-03-02 11:30:00"),
        ],
        "2026-03-02 12:00:00",
    ),
]


def test_at_least_25_hand_cases_cover_every_type():
    assert len(HAND_CASES) >= 25
    assert {c[2] for c in HAND_CASES} == {"work_hour", "work_day", "natural_hour", "natural_day"}
    assert sum(bool(c[3]) for c in HAND_CASES) >= 5


@pytest.mark.parametrize(("start", "limit", "kind", "pauses", "expected"), HAND_CASES)
def test_deadline_matches_the_hand_computed_value(start, limit, kind, pauses, expected):
    assert deadline(start, limit, kind, pauses=pauses) == pd.Timestamp(expected)


def test_vectorised_deadlines_equal_one_by_one():
    starts = [c[0] for c in HAND_CASES]
    rows = [{"pos": i, "start": a, "end": b} for i, c in enumerate(HAND_CASES) for a, b in c[3]]
    got = deadlines(
        starts,
        [c[1] for c in HAND_CASES],
        [c[2] for c in HAND_CASES],
        pauses=pd.DataFrame(rows),
    )
    assert [pd.Timestamp(g) for g in got] == [pd.Timestamp(c[4]) for c in HAND_CASES]


def test_missing_start_or_limit_gives_no_deadline():
    got = deadlines(["2026-03-02 09:00", None, "2026-03-02 09:00"], [1, 1, np.nan], "work_hour")
    assert pd.Timestamp(got[0]) == pd.Timestamp("2026-03-02 10:00")
    assert np.isnat(got[1]) and np.isnat(got[2])


def test_a_zero_limit_is_the_start_itself():
    assert deadline("2026-03-02 13:00", 0, "work_hour") == pd.Timestamp("2026-03-02 13:00")


def test_bad_limits_are_refused():
    with pytest.raises(InputError, match="unknown limit type"):
        deadline("2026-03-02 09:00", 1, "work_week")
    with pytest.raises(InputError, match="negative"):
        deadline("2026-03-02 09:00", -1, "work_hour")
    with pytest.raises(InputError, match="end after it starts"):
        deadline(
            "2026-03-02 09:00", 1, "work_hour", pauses=[("2026-03-02 10:00", "2026-03-02 09:00")]
        )


def test_elapsed_and_remaining_working_time():
    hours = elapsed_ns(["2026-03-02 07:00"], ["2026-03-03 13:00"])[0] / 3.6e12
    assert hours == 12.0  # Mon 8 h + Tue 08-12
    over_holiday = elapsed_ns(["2026-02-13 17:00"], ["2026-02-24 09:00"])[0] / 3.6e12
    assert over_holiday == 1 + 8 + 1  # Fri 17-18, make-up Sat, Tue 08-09
    natural = elapsed_ns(["2026-03-02 07:00"], ["2026-03-03 13:00"], working=False)[0] / 3.6e12
    assert natural == 30.0
    paused = pd.DataFrame([{"pos": 0, "start": "2026-03-02 09:00", "end": "2026-03-02 10:00"}])
    assert elapsed_ns(["2026-03-02 08:00"], ["2026-03-02 11:00"], pauses=paused)[0] == 2 * 3600e9
    left = remaining_ns(["2026-03-02 15:00"], ["2026-03-02 11:00"])[0] / 3.6e12
    assert left == 2.0  # 11-12 and 14-15
    assert remaining_ns(["2026-03-02 10:00"], ["2026-03-02 11:00"])[0] < 0  # overdue


def test_add_time_and_next_working_moment():
    got = add_time(["2026-03-06 17:30"], [3600 * 10**9], working=True)[0]
    assert pd.Timestamp(got) == pd.Timestamp("2026-03-09 08:30")
    assert next_working_moment("2026-02-13 19:00") == pd.Timestamp("2026-02-14 08:00")
    assert next_working_moment("2026-03-02 09:15") == pd.Timestamp("2026-03-02 09:15")
    assert next_working_moment("2026-03-02 12:00") == pd.Timestamp("2026-03-02 14:00")


def test_work_day_follows_the_slots():
    cal = WorkCalendar(slots=((pd.Timestamp("09:00").time(), pd.Timestamp("17:00").time()),))
    assert cal.day_seconds == 8 * 3600
    assert deadline("2026-03-02 16:00", 1, "work_hour", calendar=cal) == pd.Timestamp(
        "2026-03-02 17:00"
    )
    half = WorkCalendar(slots=((pd.Timestamp("08:00").time(), pd.Timestamp("12:00").time()),))
    assert limit_durations_ns([1], ["work_day"], half)[0] == 4 * 3600 * 10**9
    assert deadline("2026-03-02 09:00", 1, "work_day", calendar=half) == pd.Timestamp(
        "2026-03-03 09:00"
    )


def test_many_deadlines_in_one_pass_equal_the_scalar_path():
    rng = np.random.default_rng(1)
    n = 200_000
    starts = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 300 * 86400, n), "s")
    kinds = rng.choice(["work_hour", "work_day", "natural_hour", "natural_day"], n)
    limits = rng.integers(1, 10, n).astype(float)
    got = deadlines(starts, limits, kinds)
    assert not np.isnat(got).any()
    assert (got > starts.to_numpy()).all()
    for i in rng.choice(n, 25, replace=False):
        assert pd.Timestamp(got[i]) == deadline(starts[i], limits[i], kinds[i])


def test_default_calendar_is_read_once():
    assert default_calendar() is default_calendar()
