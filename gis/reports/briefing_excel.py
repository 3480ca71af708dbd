"""The briefing's tables as an Excel workbook: one sheet per table of ``Briefing.tables``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gis.core.errors import InputError
from gis.io import neutralize_formulas
from gis.planning import Briefing
from gis.reports.tables import HEADERS, localised_tables

#: headers of share columns, shown as percentages
SHARE_HEADERS = frozenset(h for key in ("share", "overlap_share") for h in HEADERS[key])


def write_briefing_excel(brief: Briefing, path: str | Path, lang: str = "zh") -> Path:
    """Write the briefing's tables to an .xlsx workbook (one sheet per table, sheet names,
    headers and values in ``lang``: ``gis.reports.tables.localised_tables``); returns the path.

    Parameters
    ----------
    brief
        From ``gis.planning.briefing``.
    path
        The workbook to write (its folder is created).
    lang
        ``zh`` or ``en``.

    Raises
    ------
    InputError
        The file cannot be written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with pd.ExcelWriter(path, engine="openpyxl") as writer:
            for name, table in localised_tables(brief, lang).items():
                neutralize_formulas(table).to_excel(writer, sheet_name=name[:31], index=False)
                sheet = writer.sheets[name[:31]]
                for col in sheet.columns:  # wide enough to read, and shares as percentages
                    header = str(col[0].value or "")
                    sheet.column_dimensions[col[0].column_letter].width = min(
                        60, max(10, 2 * len(header) + 4)
                    )
                    if header in SHARE_HEADERS:
                        for cell in col[1:]:
                            cell.number_format = "0.0%"
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc})") from exc
    return path
