"""The patrol clock: times as int64 nanoseconds (naive wall clock in the district's zone),
period bounds, clock times of the day, daily shifts and which shift a time falls in."""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from gis.core.errors import InputError

#: nanoseconds per second (times are ``datetime64[ns]`` viewed as int64)
NS = 10**9
#: Default shifts (name -> (start, end) local clock; end <= start crosses midnight).
DEFAULT_SHIFTS: dict[str, tuple[str, str]] = {
    "day": ("09:00", "19:00"),
    "night": ("19:00", "09:00"),
}
#: nanoseconds per day
DAY_NS = 86_400 * NS


def times_ns(t) -> np.ndarray:
    """Naive times as int64 nanoseconds (NaT is ``np.iinfo(np.int64).min``)."""
    return pd.Series(t).astype("datetime64[ns]").to_numpy().view(np.int64)


def time_bound(value, default: int) -> int:
    """A period bound as int64 nanoseconds: ``value`` (any timestamp) or ``default`` when None."""
    if value is None:
        return int(default)
    return int(pd.Timestamp(value).as_unit("ns").value)


def _clock_ns(text: str) -> int:
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*", str(text))
    if not m or int(m.group(1)) > 24 or int(m.group(2)) > 59:
        raise InputError(f"invalid clock time {text!r}; use HH:MM")
    return (int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3) or 0)) * NS


def parse_shifts(shifts: Mapping[str, tuple[str, str]] | str | None) -> dict[str, tuple[int, int]]:
    """``{name: (start_ns, end_ns)}`` from ``{"day": ("09:00", "19:00")}`` or ``"09:00-17:00"``.

    An end at or before the start crosses midnight (``("19:00", "09:00")``).
    """
    if shifts is None:
        shifts = DEFAULT_SHIFTS
    if isinstance(shifts, str):
        a, _, b = shifts.partition("-")
        shifts = {shifts: (a, b)}
    return {str(k): (_clock_ns(a), _clock_ns(b)) for k, (a, b) in shifts.items()}


def shift_index(t: np.ndarray, shifts: dict[str, tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Per time (ns): index of the first matching shift (-1 none) and the day (ns) it started."""
    day = (t // DAY_NS) * DAY_NS
    tod = t - day
    idx = np.full(len(t), -1, dtype=np.int64)
    sday = day.copy()
    for k, (a, b) in enumerate(shifts.values()):
        if b > a:
            inside = (tod >= a) & (tod < b)
            start_day = day
        else:
            inside = (tod >= a) | (tod < b)
            start_day = np.where(tod < b, day - DAY_NS, day)
        take = inside & (idx < 0)
        idx[take] = k
        sday[take] = start_day[take]
    return idx, sday


def shift_window(shift) -> dict[str, tuple[int, int]] | None:
    """``{name: (start_ns, end_ns)}`` of one shift: a name of ``DEFAULT_SHIFTS``, ``"HH:MM-HH:MM"``
    or ``(start, end)``; None for no shift."""
    if shift is None or (isinstance(shift, str) and shift.strip().lower() in ("", "all")):
        return None
    if isinstance(shift, str) and shift in DEFAULT_SHIFTS:
        return parse_shifts({shift: DEFAULT_SHIFTS[shift]})
    if isinstance(shift, tuple):
        return parse_shifts({f"{shift[0]}-{shift[1]}": shift})
    if isinstance(shift, str) and "-" in shift:
        return parse_shifts(shift.strip())
    raise InputError(f"invalid shift {shift!r}; use HH:MM-HH:MM, 'day' or 'night'")


def longest_shift_s(window: dict[str, tuple[int, int]], p0: int, p1: int) -> float:
    """Longest occurrence (s) of the shift inside the period ``[p0, p1)`` (ns)."""
    ((a, b),) = window.values()
    b = b if b > a else b + DAY_NS
    d0 = (p0 // DAY_NS) * DAY_NS - DAY_NS
    days = np.arange(d0, p1 + DAY_NS, DAY_NS, dtype=np.int64)
    length = np.minimum(days + b, p1) - np.maximum(days + a, p0)
    return float(max(length.max(initial=0), 0) / NS)


def in_shift(t, shift) -> np.ndarray:
    """Whether each time (naive local) lies in the shift (all True for no shift)."""
    ns = times_ns(pd.Series(t).reset_index(drop=True))
    window = shift_window(shift)
    if window is None:
        return np.ones(len(ns), dtype=bool)
    return shift_index(ns, window)[0] >= 0


def format_window(v: tuple[int, int]) -> tuple[str, str]:
    """A ``(start_ns, end_ns)`` window of ``parse_shifts`` back as ``("HH:MM:SS", "HH:MM:SS")``."""

    def clock(ns: int) -> str:
        s = int(ns // NS)
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"

    return clock(v[0]), clock(v[1])
