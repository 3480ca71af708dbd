"""The period report as an Excel workbook: one sheet per section (headers in the report's
language), numbers kept as numbers; a section with several tables stacks them with their
subtitles."""

from __future__ import annotations

import io

import pandas as pd

from gis.i18n import t
from gis.reports.period_model import PeriodReport
from gis.reports.period_tables import SECTIONS, section_tables


def period_excel_bytes(r: PeriodReport, lang: str = "zh", generated_by: str = "gridlens") -> bytes:
    """The workbook (.xlsx) as bytes; sheet names are the section titles (at most 31 chars)."""
    tables = section_tables(r, lang)
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        for key, title_key in SECTIONS:
            sheet = t(title_key, lang).replace("/", "-")[:31]
            row = 0
            head = pd.DataFrame(
                {
                    r.title(lang): [
                        t(
                            "reports.generated",
                            lang,
                            at=f"{r.generated_at:%Y-%m-%d %H:%M}",
                            by=generated_by,
                        )
                    ]
                }
            )
            head.to_excel(writer, sheet_name=sheet, index=False, startrow=row)
            row += 3
            for subtitle, table in tables[key]:
                if subtitle:
                    pd.DataFrame({subtitle: []}).to_excel(
                        writer, sheet_name=sheet, index=False, startrow=row
                    )
                    row += 1
                table.to_excel(writer, sheet_name=sheet, index=False, startrow=row)
                row += len(table) + 2
    return buf.getvalue()


__all__ = ["period_excel_bytes"]
