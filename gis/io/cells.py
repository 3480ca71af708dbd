"""Cells safe for spreadsheets: text that a spreadsheet would run as a formula is neutralised.

OWASP's CSV-injection rule: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is prefixed with a single quote, so Excel, WPS and LibreOffice show it as text instead of
evaluating it (``=HYPERLINK(...)``, ``@SUM(...)``, ``-2+3+cmd|' /C calc'!A0``). Plain numbers
written as text (``-12.5``) are left as they are: they are not formulas.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["FORMULA_PREFIXES", "neutralize_formulas"]

#: First characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot run as spreadsheet formulas.

    Text columns (object or string dtype) and the column names are checked; a value starting
    with one of :data:`FORMULA_PREFIXES` gets a leading ``'`` unless it is a plain number.
    Numeric, datetime and geometry columns are returned unchanged.
    """
    out = pd.DataFrame(frame).copy()
    for col in out.columns:
        series = out[col]
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            continue
        text = series.astype("string")
        risky = text.str.startswith(FORMULA_PREFIXES, na=False) & ~text.str.fullmatch(
            _NUMBER, na=False
        )
        if risky.any():
            series = series.astype(object).copy()
            series[risky] = "'" + text[risky]
            out[col] = series
    out.columns = [
        "'" + c if isinstance(c, str) and c.startswith(FORMULA_PREFIXES) else c for c in out.columns
    ]
    return out
