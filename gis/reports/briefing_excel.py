"""The briefing's tables as an Excel workbook: one sheet per table of ``Briefing.tables``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gis.core.errors import InputError
from gis.io import neutralize_formulas
from gis.planning import Briefing


def write_briefing_excel(brief: Briefing, path: str | Path, lang: str = "zh") -> Path:
    """Write the briefing's tables to an .xlsx workbook (one sheet per table); returns the path.

    Parameters
    ----------
    brief
        From ``gis.planning.briefing``.
    path
        The workbook to write (its folder is created).
    lang
        ``zh`` or ``en`` (the summary sentences and the weekday names).

    Raises
    ------
    InputError
        The file cannot be written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with pd.ExcelWriter(path, engine="openpyxl") as writer:
            for name, table in brief.tables(lang).items():
                neutralize_formulas(table).to_excel(writer, sheet_name=name[:31], index=False)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc})") from exc
    return path
