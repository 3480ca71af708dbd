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
    "DATE_ORDERS",
    "MAX_YEAR",
    "MIN_YEAR",
    "PERIOD_PRESETS",
    "district_tz",
    "period_preset",
    "parse_time_arg",
    "parse_times",
    "parse_times_checked",
    "to_district_wallclock",
]

#: Day/month orders of numeric dates a caller may impose (``None``: read from the values).
DATE_ORDERS = ("dmy", "mdy")
#: Times before this year are refused (``0000000000``, 1970 epochs, typos like 1026).
MIN_YEAR = 1990
#: Times after this year are refused (``3000-01-01``, beyond pandas' nanosecond range).
MAX_YEAR = 2200
#: A numeric date ``D/M/Y``, ``M/D/Y`` (``/``, ``.`` or ``-``), year of 2 or 4 digits.
_NUMERIC_DATE = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?!\d)"

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


def _in_range(parsed: pd.Series) -> pd.Series:
    """``parsed`` (any resolution) with years outside ``MIN_YEAR..MAX_YEAR`` as NaT, and the
    mask of those values (they are out of range, not unreadable)."""
    years = parsed.dt.year
    bad = parsed.notna() & ((years < MIN_YEAR) | (years > MAX_YEAR))
    return parsed.mask(bad), bad


def _to_datetime(text: pd.Series, utc: bool, **kwargs) -> pd.Series:
    """``pd.to_datetime`` coerced, never raising (out of range and odd values give NaT)."""
    try:
        return pd.to_datetime(text, errors="coerce", utc=utc, **kwargs)
    except (ValueError, TypeError, OverflowError):
        return pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]" if utc else "M8[ns]")


def _parse_group(text: pd.Series, utc: bool) -> tuple[pd.Series, pd.Series]:
    """Parse with the format guessed from the first value, then the rest one by one; also the
    mask of values read but out of ``MIN_YEAR..MAX_YEAR``."""
    dtype = "datetime64[ns, UTC]" if utc else "M8[ns]"
    out = pd.Series(pd.NaT, index=text.index, dtype=dtype)
    far = pd.Series(False, index=text.index)
    if text.empty:
        return out, far
    fmt = guess_datetime_format(str(text.iloc[0]))
    head = text.iloc[:200]
    best = _to_datetime(head, utc, format=fmt).notna().mean() if fmt else 0
    if best < 0.9:  # the guess failed: try the usual export formats on the first rows
        for cand in COMMON_FORMATS:
            share = _to_datetime(head, utc, format=cand).notna().mean()
            if share > best:
                fmt, best = cand, share
    if fmt is not None:
        parsed, far = _in_range(_to_datetime(text, utc, format=fmt))
        out = parsed.astype(dtype) if len(parsed) else out
    left = out.isna() & ~far
    if left.any():
        rest, rest_far = _in_range(_to_datetime(text[left], utc, format="mixed"))
        out[left] = rest.astype(dtype)
        far[left] = rest_far
    return out, far


def _localize(naive: pd.Series, source_tz: str, tz: str) -> pd.Series:
    """Naive times taken in ``source_tz``, as naive wall clock in ``tz``."""
    if source_tz == tz:
        return naive
    aware = naive.dt.tz_localize(source_tz, ambiguous="NaT", nonexistent="NaT")
    return aware.dt.tz_convert(tz).dt.tz_localize(None).astype("M8[ns]")


def _numeric_dates(
    text: pd.Series, date_order: str | None, two_digit_years: bool, reasons: pd.Series
) -> pd.Series:
    """Numeric dates (``05/03/2026``) rewritten as ISO ``2026-03-05`` in the file's one order.

    The order is read from all values: a first number above 12 means day first, a second above
    12 month first; both in one file is refused, and so is a file where neither occurs and some
    value reads differently both ways (unless ``date_order`` says; 12-hour ``AM``/``PM`` times
    are US exports, month first). Two-digit years get a reason unless ``two_digit_years``.
    """
    parts = text.str.extract(_NUMERIC_DATE)
    numeric = parts[0].notna()
    if not numeric.any():
        return text
    first = parts.loc[numeric, 0].astype(int)
    second = parts.loc[numeric, 1].astype(int)
    order = date_order
    if order is None:
        day_first = bool((first > 12).any())
        month_first = bool((second > 12).any())
        if day_first and month_first:
            raise InputError(
                "dates in both day/month orders in one column (e.g. "
                f"{text[numeric][first > 12].iloc[0]!r} and {text[numeric][second > 12].iloc[0]!r}); "
                "fix the file or say the order (dmy or mdy)"
            )
        if day_first:
            order = "dmy"
        elif month_first or not bool((first != second).any()):
            order = "mdy"
        elif text[numeric].str.contains(r"\d\s*[AaPp][Mm]\b", regex=True).any():
            order = "mdy"
        else:
            sample = text[numeric][first != second].iloc[0]
            raise InputError(
                f"ambiguous dates: {sample!r} reads as day/month or month/day and no value "
                "decides it; say the order (dmy = day first, mdy = month first)"
            )
    if order not in DATE_ORDERS:
        raise InputError(f"date order {order!r}; one of {', '.join(DATE_ORDERS)}")
    day, month = (first, second) if order == "dmy" else (second, first)
    year_text = parts.loc[numeric, 2]
    year = year_text.astype(int)
    short = year_text.str.len() == 2
    if short.any():
        if two_digit_years:
            year = year.where(~short, 2000 + year)
        else:
            reasons[short[short].index] = "two-digit year (give the year in full)"
    iso = (
        year.astype(str).str.zfill(4)
        + "-"
        + month.astype(str).str.zfill(2)
        + "-"
        + day.astype(str).str.zfill(2)
    )
    rest = text[numeric].str.replace(_NUMERIC_DATE, "", regex=True)
    out = text.copy()
    out[numeric] = (iso + rest).where(~short | two_digit_years, pd.NA)
    return out


def parse_times_checked(
    values: pd.Series,
    tz: str | None = None,
    *,
    source_tz: str | None = None,
    date_order: str | None = None,
    two_digit_years: bool = False,
) -> tuple[pd.Series, pd.Series]:
    """:func:`parse_times` with the reason each unreadable value was refused.

    Returns
    -------
    (times, reasons)
        ``times`` as :func:`parse_times`; ``reasons`` a string Series on the same index: why a
        value that has a date's form was refused (out of ``MIN_YEAR..MAX_YEAR``, two-digit
        year); ``""`` for values read, empty or not a date at all.

    Raises
    ------
    InputError
        When the day/month order of numeric dates is ambiguous or mixed (see ``date_order``).
    """
    tz = tz or settings.DISTRICT_TZ
    source_tz = source_tz or tz
    values = pd.Series(values)
    reasons = pd.Series("", index=values.index, dtype=object)
    far_reason = f"time out of range (before {MIN_YEAR} or after {MAX_YEAR})"
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            return to_district_wallclock(values, tz), reasons
        return _localize(values.astype("M8[ns]"), source_tz, tz), reasons
    out = pd.Series(pd.NaT, index=values.index, dtype="M8[ns]")
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        num = values.astype(float)
        if num.notna().any():
            unit = "ms" if num.abs().median() > 1e11 else "s"
            stamps, far = _in_range(_to_datetime(num, True, unit=unit))
            reasons[far] = far_reason
            return to_district_wallclock(stamps.astype("datetime64[ns, UTC]"), tz), reasons
        return out, reasons
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    present = text.notna()
    if not present.any():
        return out, reasons
    if text.str.contains("年|时|点", regex=True, na=False).any():
        for pattern, repl in _CJK_DATE:
            text = text.str.replace(pattern, repl, regex=True)
        text = text.str.strip()
    text = _numeric_dates(text, date_order, two_digit_years, reasons)
    epoch = text.str.fullmatch(r"\d{10}(?:\.\d+)?|\d{13}", na=False)
    if epoch.any():
        num = pd.to_numeric(text[epoch], errors="coerce")
        ms = text[epoch].str.len() == 13
        num = num.where(~ms, num / 1000.0)
        stamps, far = _in_range(_to_datetime(num, True, unit="s"))
        reasons[far[far].index] = far_reason
        out[epoch] = to_district_wallclock(stamps.astype("datetime64[ns, UTC]"), tz)
    rest = text.notna() & ~epoch
    has_offset = rest & text.str.contains(_OFFSET, regex=True, na=False)
    if has_offset.any():
        parsed, far = _parse_group(text[has_offset], utc=True)
        reasons[far[far].index] = far_reason
        out[has_offset] = to_district_wallclock(parsed, tz)
    naive = rest & ~has_offset
    if naive.any():
        parsed, far = _parse_group(text[naive], utc=False)
        reasons[far[far].index] = far_reason
        out[naive] = _localize(parsed, source_tz, tz)
    return out, reasons


def parse_times(
    values: pd.Series,
    tz: str | None = None,
    *,
    source_tz: str | None = None,
    date_order: str | None = None,
    two_digit_years: bool = False,
) -> pd.Series:
    """Parse times in any common format to naive wall-clock times in ``tz``.

    Parameters
    ----------
    values
        Text, numbers or datetimes. Accepted besides ISO 8601 and the usual ``Y/m/d``,
        ``m/d/Y I:M:S p`` forms: Chinese dates (``2026年5月1日 8时30分``), Unix epoch seconds
        (10 digits) or milliseconds (13 digits; numeric columns by magnitude), and datetime
        columns. The format is guessed from the first value and applied to all at once; values
        that do not fit are parsed one by one. Numeric dates (``05/03/2026``) are read in one
        day/month order for the whole column, found from all values.
    tz
        The zone of the result (default: the district's, ``GRIDLENS_TZ``).
    source_tz
        The zone of values *without* an offset (default ``tz``). Values with a UTC offset
        (``+08:00``, ``-0400``, ``Z``) and epoch numbers are converted from UTC.
    date_order
        ``"dmy"`` or ``"mdy"`` for numeric dates; ``None`` reads it from the values and raises
        :class:`~gis.core.errors.InputError` when they do not decide it.
    two_digit_years
        Read ``05/03/26`` as 2026; by default two-digit years are refused (NaT).

    Returns
    -------
    pandas.Series
        ``datetime64[ns]``, naive, on the index of ``values``; NaT where unreadable, empty or
        outside ``MIN_YEAR..MAX_YEAR`` (:func:`parse_times_checked` says why).
    """
    return parse_times_checked(
        values, tz, source_tz=source_tz, date_order=date_order, two_digit_years=two_digit_years
    )[0]


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
