"""Time parsing of incident files: any common format to naive wall-clock times in one zone."""

from __future__ import annotations

import pandas as pd
from pandas.tseries.api import guess_datetime_format

from gis.core import settings

_OFFSET = r"(?:[+-]\d{2}:?\d{2}|Z|UTC|GMT)$"
_CJK_DATE = [
    (r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?", r"\1-\2-\3 "),
    (r"(\d{1,2})\s*[时点]\s*(\d{1,2})\s*分\s*(?:(\d{1,2})\s*秒)?", r"\1:\2:\3"),
    (r"(\d{1,2})\s*[时点]", r"\1:00"),
    (r":$", r""),
]


_COMMON_FORMATS = (
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


def _parse_group(text: pd.Series, utc: bool) -> pd.Series:
    """Parse with the format guessed from the first value, then the rest one by one."""
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]" if utc else "M8[ns]")
    if text.empty:
        return out
    fmt = guess_datetime_format(str(text.iloc[0]))
    head = text.iloc[:200]
    best = pd.to_datetime(head, format=fmt, errors="coerce", utc=utc).notna().mean() if fmt else 0
    if best < 0.9:  # the guess failed: try the usual export formats on the first rows
        for cand in _COMMON_FORMATS:
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


def parse_times(values: pd.Series, tz: str = settings.DISTRICT_TZ) -> pd.Series:
    """Parse times in any common format to naive wall-clock times in ``tz``.

    Text with a UTC offset (``+08:00``, ``-0400``, ``Z``) is converted to ``tz``; text without
    one is taken as ``tz`` wall-clock already. Accepted besides ISO 8601 and the usual
    ``Y/m/d``, ``m/d/Y I:M:S p`` forms: Chinese dates (``2026年5月1日 8时30分``), compact
    ``20260501083000``, Unix epoch seconds (10 digits) or milliseconds (13 digits, UTC), and
    datetime columns (tz-aware ones converted). The format is guessed from the first value and
    applied to all at once; values that do not fit are parsed one by one. Unparseable or empty
    values become NaT.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            return values.dt.tz_convert(tz).dt.tz_localize(None).astype("M8[ns]")
        return values.astype("M8[ns]")
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    out = pd.Series(pd.NaT, index=values.index, dtype="M8[ns]")
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
        stamp = pd.to_datetime(num, unit="s", utc=True)
        out[epoch] = stamp.dt.tz_convert(tz).dt.tz_localize(None).astype("M8[ns]")
    rest = present & ~epoch
    has_offset = rest & text.str.contains(_OFFSET, regex=True, na=False)
    if has_offset.any():
        aware = _parse_group(text[has_offset], utc=True)
        out[has_offset] = aware.dt.tz_convert(tz).dt.tz_localize(None).astype("M8[ns]")
    naive = rest & ~has_offset
    if naive.any():
        out[naive] = _parse_group(text[naive], utc=False)
    return out
