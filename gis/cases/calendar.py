"""The working calendar: which days are working days and which hours of them are working time.

Working days are Monday to Friday, except the dates a calendar file marks ``holiday``, plus the
dates it marks ``workday`` (调休 make-up days, usually a Saturday or Sunday next to a holiday).
Working time is a list of daily slots, 08:00-12:00 and 14:00-18:00 by default (8 hours a day).

The calendar file is a CSV with the columns ``date,kind`` (``kind`` is ``holiday`` or
``workday``); other columns (``name``) and ``#`` comment lines are ignored. ``data/calendar.csv``
holds China's official holidays and make-up days for 2024-2026 from the State Council notices.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path

import numpy as np
import pandas as pd

from gis.core import settings
from gis.core.errors import InputError

#: The default calendar file (China's official holidays and make-up days).
CALENDAR_CSV = settings.DATA_DIR / "calendar.csv"
#: Day kinds a calendar file may give.
DAY_KINDS = ("holiday", "workday")
#: The default working slots: 08:00-12:00 and 14:00-18:00.
DEFAULT_SLOTS: tuple[tuple[time, time], ...] = ((time(8), time(12)), (time(14), time(18)))

_SLOT = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_NS_PER_S = 1_000_000_000


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def parse_slots(text: str) -> tuple[tuple[time, time], ...]:
    """Parse working slots written as ``"08:00-12:00,14:00-18:00"``.

    Raises
    ------
    InputError
        A slot that is not ``HH:MM-HH:MM``, ends before it starts, or overlaps another.
    """
    slots = []
    for part in str(text).split(","):
        m = _SLOT.match(part)
        if not m:
            raise InputError(f"working slot {part.strip()!r} is not HH:MM-HH:MM")
        h0, m0, h1, m1 = (int(g) for g in m.groups())
        if h0 > 23 or h1 > 23 or m0 > 59 or m1 > 59:
            raise InputError(f"working slot {part.strip()!r} is not a time of day (00:00-23:59)")
        slots.append((time(h0, m0), time(h1, m1)))
    return check_slots(slots)


def check_slots(slots: Iterable[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    """The slots sorted, after checking each starts before it ends and none overlap."""
    out = tuple(sorted((tuple(s) for s in slots), key=lambda s: s[0]))
    if not out:
        raise InputError("a working calendar needs at least one working slot")
    for start, end in out:
        if start >= end:
            raise InputError(f"working slot {start:%H:%M}-{end:%H:%M} ends before it starts")
    for (_, end), (start, _) in zip(out, out[1:], strict=False):
        if start < end:
            raise InputError(f"working slots overlap at {start:%H:%M}")
    return out  # type: ignore[return-value]


@dataclass(frozen=True)
class WorkCalendar:
    """Working days and daily working slots.

    Attributes
    ----------
    holidays
        Dates that are not working days even on a weekday.
    workdays
        Dates that are working days even on a weekend (make-up days).
    slots
        Daily working slots ``(start, end)``, sorted, not overlapping.
    """

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)
    slots: tuple[tuple[time, time], ...] = DEFAULT_SLOTS

    def __post_init__(self) -> None:
        object.__setattr__(self, "slots", check_slots(self.slots))
        both = self.holidays & self.workdays
        if both:
            first = min(both)
            raise InputError(f"{first} is marked both holiday and workday")

    @classmethod
    def from_csv(
        cls,
        path: str | Path | None = None,
        *,
        slots: str | Iterable[tuple[time, time]] | None = None,
    ) -> WorkCalendar:
        """Read a calendar file (``date,kind``; default ``data/calendar.csv``).

        Parameters
        ----------
        slots
            Working slots as text (``"08:00-12:00,14:00-18:00"``) or pairs of times; default
            ``DEFAULT_SLOTS``.

        Raises
        ------
        InputError
            A missing file or column, a date that is not ``YYYY-MM-DD``, an unknown kind, or a
            date given twice.
        """
        path = Path(path or CALENDAR_CSV)
        if not path.exists():
            raise InputError(f"{path}: no such calendar file")
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, comment="#")
        except Exception as exc:  # pandas raises several kinds for unreadable text
            raise InputError(f"{path}: cannot read the calendar ({exc})") from exc
        frame.columns = [str(c).strip().lower() for c in frame.columns]
        missing = {"date", "kind"} - set(frame.columns)
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        problems = []
        days = pd.to_datetime(frame["date"].str.strip(), format="%Y-%m-%d", errors="coerce")
        kinds = frame["kind"].str.strip().str.lower()
        for i in np.flatnonzero(days.isna().to_numpy()):
            problems.append(f"row {i + 1}: date {frame['date'].iloc[i]!r} is not YYYY-MM-DD")
        for i in np.flatnonzero(~kinds.isin(DAY_KINDS).to_numpy()):
            problems.append(f"row {i + 1}: kind {frame['kind'].iloc[i]!r} is not holiday/workday")
        dup = days[days.duplicated() & days.notna()]
        if len(dup):
            problems.append(f"date(s) given twice: {', '.join(d.date().isoformat() for d in dup)}")
        if problems:
            raise InputError(f"{path}: " + "; ".join(problems[:10]))
        dates = [d.date() for d in days]
        holidays = frozenset(d for d, k in zip(dates, kinds, strict=True) if k == "holiday")
        workdays = frozenset(d for d, k in zip(dates, kinds, strict=True) if k == "workday")
        if slots is None:
            slot_pairs = DEFAULT_SLOTS
        elif isinstance(slots, str):
            slot_pairs = parse_slots(slots)
        else:
            slot_pairs = check_slots(slots)
        return cls(holidays=holidays, workdays=workdays, slots=slot_pairs)

    @property
    def slot_bounds_s(self) -> tuple[np.ndarray, np.ndarray]:
        """Slot starts and ends in seconds after midnight (two int64 arrays)."""
        starts = np.array([_seconds(a) for a, _ in self.slots], dtype=np.int64)
        ends = np.array([_seconds(b) for _, b in self.slots], dtype=np.int64)
        return starts, ends

    @property
    def day_seconds(self) -> int:
        """Working seconds in one working day (28,800 = 8 hours with the default slots)."""
        starts, ends = self.slot_bounds_s
        return int((ends - starts).sum())

    def is_working_day(self, day: date | str | pd.Timestamp) -> bool:
        """Whether ``day`` is a working day."""
        d = pd.Timestamp(day).date()
        if d in self.workdays:
            return True
        if d in self.holidays:
            return False
        return d.weekday() < 5

    def working_day_mask(self, days: np.ndarray) -> np.ndarray:
        """Working-day flags of an array of ``datetime64[D]`` days (vectorised)."""
        days = np.asarray(days, dtype="datetime64[D]")
        # 1970-01-01 was a Thursday: weekday 0 = Monday
        weekday = (days.astype(np.int64) + 3) % 7
        mask = weekday < 5
        if self.holidays:
            hol = np.array(sorted(self.holidays), dtype="datetime64[D]")
            mask &= ~np.isin(days, hol)
        if self.workdays:
            work = np.array(sorted(self.workdays), dtype="datetime64[D]")
            mask |= np.isin(days, work)
        return mask

    def describe(self) -> str:
        """One line: slots, and how many holidays / make-up days the calendar knows."""
        slots = ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in self.slots)
        years = sorted({d.year for d in self.holidays | self.workdays})
        span = f" ({years[0]}-{years[-1]})" if years else ""
        return (
            f"working slots {slots}; {len(self.holidays)} holidays and "
            f"{len(self.workdays)} make-up working days{span}"
        )


_DEFAULT: dict[str, WorkCalendar] = {}


def default_calendar() -> WorkCalendar:
    """The calendar of ``data/calendar.csv`` with the default slots (read once)."""
    key = str(CALENDAR_CSV)
    if key not in _DEFAULT:
        _DEFAULT[key] = WorkCalendar.from_csv(CALENDAR_CSV)
    return _DEFAULT[key]


__all__ = [
    "CALENDAR_CSV",
    "DAY_KINDS",
    "DEFAULT_SLOTS",
    "WorkCalendar",
    "check_slots",
    "default_calendar",
    "parse_slots",
]
