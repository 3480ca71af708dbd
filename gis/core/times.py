"""Times: the one parser of timestamps and the one zone rule.

Every time the store holds is a naive wall-clock time in the district's zone
(:data:`gis.core.settings.DISTRICT_TZ`, from ``GRIDLENS_TZ``). Whatever reads times from a file
or a command line — incidents, patrol tracks, cases, ``--start``/``--end`` — goes through
:func:`parse_times` or :func:`parse_time_arg`: text with a UTC offset is *converted* to the
district's zone (never dropped), text without one is taken as wall-clock time in ``source_tz``
(the district's zone unless the user says otherwise).
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from pandas.tseries.api import guess_datetime_format

from gis.core import settings
from gis.core.errors import InputError

__all__ = [
    "COMMON_FORMATS",
    "PERIOD_PRESETS",
    "district_tz",
    "period_preset",
    "parse_time_arg",
    "parse_times",
    "to_district_wallclock",
]

#: A time of day followed by a UTC offset (``Z``, ``+08``, ``+08:00``, ``+0800``, ``UTC``).
_OFFSET = r"(?:\d:\d\d(?::\d\d(?:\.\d+)?)?\s*(?:Z|[+-]\d\d(?::?\d\d)?)|\s(?:UTC|GMT))$"
_CJK_DATE = [
    (r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?", r"\1-\2-\3 "),
    (r"(\d{1,2})\s*[时点]\s*(\d{1,2})\s*分\s*(?:(\d{1,2})\s*秒)?", r"\1:\2:\3"),
    (r"(\d{1,2})\s*[时点]", r"\1:00"),
    (r":$", r""),
]

#: Export formats tried when the first value's guessed format fails on most rows.
COMMON_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S%z",
    "%d.%m.%Y %H:%M:%S",
)


def district_tz() -> str:
    """The district's time zone name (``GRIDLENS_TZ``, default ``Asia/Shanghai``)."""
    return settings.DISTRICT_TZ


def to_district_wallclock(stamps: pd.Series, tz: str | None = None) -> pd.Series:
    """Naive wall-clock ``datetime64[ns]`` in ``tz`` (default: the district's zone).

    Time-zone aware values are converted; naive values are returned unchanged (they are
    taken to be wall-clock time in ``tz`` already).
    """
    tz = tz or settings.DISTRICT_TZ
    if getattr(stamps.dt, "tz", None) is not None:
        return stamps.dt.tz_convert(tz).dt.tz_localize(None).astype("M8[ns]")
    return stamps.astype("M8[ns]")


def _parse_group(text: pd.Series, utc: bool) -> pd.Series:
    """Parse with the format guessed from the first value, then the rest one by one."""
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]" if utc else "M8[ns]")
    if text.empty:
        return out
    fmt = guess_datetime_format(str(text.iloc[0]))
    head = text.iloc[:200]
    best = pd.to_datetime(head, format=fmt, errors="coerce", utc=utc).notna().mean() if fmt else 0
    if best < 0.9:  # the guess failed: try the usual export formats on the first rows
        for cand in COMMON_FORMATS:
            share = pd.to_datetime(head, format=cand, errors="coerce", utc=utc).notna().mean()
            if share > best:
                fmt, best = cand, share
    if fmt is not None:
        try:
            parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=utc)
        except (ValueError, TypeError):
            parsed = pd.Series(pd.NaT, index=text.index)
        out = parsed.astype(out.dtype) if len(parsed) else out
    left = out.isna()
    if left.any():
        rest = pd.to_datetime(text[left], errors="coerce", utc=utc, format="mixed")
        out[left] = rest.astype(out.dtype)
    return out


def _localize(naive: pd.Series, source_tz: str, tz: str) -> pd.Series:
    """Naive times taken in ``source_tz``, as naive wall clock in ``tz``."""
    if source_tz == tz:
        return naive
    aware = naive.dt.tz_localize(source_tz, ambiguous="NaT", nonexistent="NaT")
    return aware.dt.tz_convert(tz).dt.tz_localize(None).astype("M8[ns]")


def parse_times(
    values: pd.Series, tz: str | None = None, *, source_tz: str | None = None
) -> pd.Series:
    """Parse times in any common format to naive wall-clock times in ``tz``.

    Parameters
    ----------
    values
        Text, numbers or datetimes. Accepted besides ISO 8601 and the usual ``Y/m/d``,
        ``m/d/Y I:M:S p`` forms: Chinese dates (``2026年5月1日 8时30分``), Unix epoch seconds
        (10 digits) or milliseconds (13 digits; numeric columns by magnitude), and datetime
        columns. The format is guessed from the first value and applied to all at once; values
        that do not fit are parsed one by one.
    tz
        The zone of the result (default: the district's, ``GRIDLENS_TZ``).
    source_tz
        The zone of values *without* an offset (default ``tz``). Values with a UTC offset
        (``+08:00``, ``-0400``, ``Z``) and epoch numbers are converted from UTC.

    Returns
    -------
    pandas.Series
        ``datetime64[ns]``, naive, on the index of ``values``; NaT where unreadable or empty.
    """
    tz = tz or settings.DISTRICT_TZ
    source_tz = source_tz or tz
    values = pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            return to_district_wallclock(values, tz)
        return _localize(values.astype("M8[ns]"), source_tz, tz)
    out = pd.Series(pd.NaT, index=values.index, dtype="M8[ns]")
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        num = values.astype(float)
        if num.notna().any():
            unit = "ms" if num.abs().median() > 1e11 else "s"
            stamps = pd.to_datetime(num, unit=unit, utc=True, errors="coerce")
            return to_district_wallclock(stamps, tz)
        return out
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    present = text.notna()
    if not present.any():
        return out
    if text.str.contains("年|时|点", regex=True, na=False).any():
        for pattern, repl in _CJK_DATE:
            text = text.str.replace(pattern, repl, regex=True)
        text = text.str.strip()
    epoch = text.str.fullmatch(r"\d{10}(?:\.\d+)?|\d{13}", na=False)
    if epoch.any():
        num = pd.to_numeric(text[epoch], errors="coerce")
        ms = text[epoch].str.len() == 13
        num = num.where(~ms, num / 1000.0)
        out[epoch] = to_district_wallclock(pd.to_datetime(num, unit="s", utc=True), tz)
    rest = present & ~epoch
    has_offset = rest & text.str.contains(_OFFSET, regex=True, na=False)
    if has_offset.any():
        out[has_offset] = to_district_wallclock(_parse_group(text[has_offset], utc=True), tz)
    naive = rest & ~has_offset
    if naive.any():
        out[naive] = _localize(_parse_group(text[naive], utc=False), source_tz, tz)
    return out


def parse_time_arg(
    text: str | None, *, tz: str | None = None, name: str = "time"
) -> pd.Timestamp | None:
    """One time given by a person (``--start``, ``--end``, a form field).

    ``None`` or empty gives ``None``; anything :func:`parse_times` reads gives a naive
    wall-clock :class:`pandas.Timestamp` in ``tz`` (default the district's zone); anything
    else raises :class:`~gis.core.errors.InputError` naming the argument and the value.
    """
    if text is None or str(text).strip() == "":
        return None
    parsed = parse_times(pd.Series([str(text).strip()]), tz)
    value = parsed.iloc[0]
    if pd.isna(value):
        raise InputError(
            f"{name}: cannot read {text!r} as a date or time "
            "(use e.g. 2026-05-01 or '2026-05-01 08:30')"
        )
    return pd.Timestamp(value)


#: the sidebar's period presets, in the order offered
PERIOD_PRESETS = (
    "today",
    "this_week",
    "this_month",
    "last_month",
    "last_30_days",
    "this_year",
    "last_year_same",
)


def period_preset(
    name: str,
    today: date,
    *,
    current: tuple[date, date] | None = None,
    bounds: tuple[date, date] | None = None,
) -> tuple[date, date]:
    """The inclusive ``(first, last)`` days of a named period.

    Parameters
    ----------
    name
        One of :data:`PERIOD_PRESETS`: ``today`` (今日), ``this_week`` (本周, Monday to
        ``today``), ``this_month`` (本月), ``last_month`` (上月, the whole month),
        ``last_30_days`` (近30天, ``today`` and the 29 days before), ``this_year`` (今年),
        ``last_year_same`` (去年同期: ``current`` one year earlier; 29 February becomes the 28th).
    today
        The day the period is counted from (the app gives the last day with data when the
        data end before the calendar's today, so a preset is never empty).
    current
        The period shown now (for ``last_year_same``; default the last 30 days).
    bounds
        ``(first, last)`` days the result is clipped to (the data's), if given.

    Raises
    ------
    InputError
        An unknown name.
    """
    if name == "today":
        first, last = today, today
    elif name == "this_week":
        first, last = today - timedelta(days=today.weekday()), today
    elif name == "this_month":
        first, last = today.replace(day=1), today
    elif name == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        first = last.replace(day=1)
    elif name == "last_30_days":
        first, last = today - timedelta(days=29), today
    elif name == "this_year":
        first, last = today.replace(month=1, day=1), today
    elif name == "last_year_same":
        cur = current or (today - timedelta(days=29), today)
        first, last = (_year_earlier(d) for d in cur)
    else:
        raise InputError(f"unknown period {name!r}; use one of {', '.join(PERIOD_PRESETS)}")
    if bounds is not None:
        lo, hi = bounds
        first, last = min(max(first, lo), hi), min(max(last, lo), hi)
    return first, last


def _year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)
