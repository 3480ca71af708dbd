"""Reports: finished documents made from the library's results, for people to read offline.

Above the domain packages in the layering (they import ``gis.planning``, ``gis.cases`` ...;
nothing below imports them).

===================  =========================================================================
``briefing_html``    a joint rectification briefing as one self-contained HTML page
``briefing_excel``   the same briefing's tables as an Excel workbook
``tables``           the briefing's tables in the reader's language (names, not codes)
``periods``          report periods (日/周/月), 环比 and 同比 with exact tests
``period_sections``  the period report's sections from the functions that own them
``period_model``     the period report (日碰头 / 周点评 / 月通报), language-neutral
``period_tables``    its sections as tables with zh/en headers
``period_charts``    its trend, map and score charts (matplotlib)
``period_html``      ... as self-contained HTML
``period_excel``     ... as an Excel workbook, one sheet per section
``period_pdf``       ... as an A4 PDF with the CJK font embedded
``period_archive``   generate, write and archive one report, all or nothing
===================  =========================================================================
"""

from gis.reports.briefing_excel import write_briefing_excel
from gis.reports.briefing_html import render_briefing_html
from gis.reports.period_archive import (
    FORMATS,
    MEDIA_TYPES,
    GeneratedReport,
    ReportFailed,
    archived_bytes,
    format_of,
    generate_report,
    latest_report_day,
    list_archive,
    render_report,
    report_file_name,
)
from gis.reports.period_excel import period_excel_bytes
from gis.reports.period_html import render_period_html
from gis.reports.period_model import HEADLINE, PeriodReport, build_period_report
from gis.reports.period_pdf import A4_IN, period_pdf_bytes
from gis.reports.period_tables import SECTIONS, section_tables
from gis.reports.periods import (
    KINDS,
    Change,
    ReportPeriod,
    count_change,
    rate_change,
    report_period,
)
from gis.reports.tables import inclusive_period, localised_tables

__all__ = [
    "inclusive_period",
    "localised_tables",
    "A4_IN",
    "Change",
    "FORMATS",
    "GeneratedReport",
    "HEADLINE",
    "KINDS",
    "MEDIA_TYPES",
    "PeriodReport",
    "ReportFailed",
    "ReportPeriod",
    "SECTIONS",
    "archived_bytes",
    "build_period_report",
    "count_change",
    "format_of",
    "generate_report",
    "latest_report_day",
    "list_archive",
    "period_excel_bytes",
    "period_pdf_bytes",
    "rate_change",
    "render_briefing_html",
    "render_period_html",
    "render_report",
    "report_file_name",
    "report_period",
    "section_tables",
    "write_briefing_excel",
]
