"""Periods of the joint rectification tools: the incidents' times, the period they cover, and
a period given as text (``START:END``) or a pair.

Times are naive wall-clock times in the district's zone, as stored; text goes through the one
time parser (``gis.core.times``).
"""

from __future__ import annotations

import pandas as pd

from gis.core.errors import InputError
from gis.core.times import parse_time_arg, parse_times


def incident_times(incidents: pd.DataFrame) -> pd.Series:
    """The incidents' ``occurred_at`` as naive wall-clock datetimes (``parse_times``: zone-aware
    values converted to the district's zone); ``InputError`` without that column."""
    if "occurred_at" not in incidents:
        raise InputError("incidents need an occurred_at column")
    return parse_times(incidents["occurred_at"])


def _stamp(value, name: str) -> pd.Timestamp:
    if isinstance(value, str):
        stamp = parse_time_arg(value, name=name)
        return pd.NaT if stamp is None else stamp
    return pd.Timestamp(value)


def _checked(start, end) -> tuple[pd.Timestamp, pd.Timestamp]:
    start, end = _stamp(start, "period start"), _stamp(end, "period end")
    if not end > start:
        raise InputError(f"period end {end} is not after its start {start}")
    return start, end


def incident_period(incidents: pd.DataFrame, period) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(start, end)``: ``period`` checked, or by default the incidents' first time to just
    after their last (one second later, so the last incident is inside ``[start, end)``)."""
    if period is not None:
        return _checked(*period)
    t = incident_times(incidents)
    if t.notna().sum() == 0:
        raise InputError("no incident times to derive a period from; pass period=(start, end)")
    return t.min(), t.max() + pd.Timedelta(seconds=1)


def parse_period(value) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(start, end)`` from a pair or from text ``START:END`` (``START/END`` when the times
    hold colons), e.g. the CLI's ``--before 2026-03-01:2026-04-01``.

    Raises
    ------
    InputError
        Text without a separator, an unreadable time, or the end not after the start.
    """
    if isinstance(value, str):
        a, sep, b = value.partition(":") if value.count(":") == 1 else value.partition("/")
        if not sep:
            raise InputError(f"a period is START:END or START/END, got {value!r}")
        value = (a, b)
    return _checked(*value)


def default_plan_period(last_data_day, today, days: int = 30) -> tuple:
    """The period a new plan starts with, as inclusive ``(first, last)`` days.

    A plan is judged on the incidents of its period against the same length before it, once
    the period is over. When the data reach ``today`` (a live system), the plan runs from today
    for ``days`` days; when they end earlier (a demo, an old extract), a plan starting today
    could never be judged, so it covers the last ``days`` days of the data instead.
    """
    last = pd.Timestamp(last_data_day).date()
    now = pd.Timestamp(today).date()
    if now <= last:
        return now, now + pd.Timedelta(days=days - 1)
    return last - pd.Timedelta(days=days - 1), last
