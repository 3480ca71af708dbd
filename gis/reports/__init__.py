"""Reports: finished documents made from the library's results, for people to read offline.

Above the domain packages in the layering (they import ``gis.planning``; nothing below imports
them).

==================  ==========================================================================
``briefing_html``   a joint rectification briefing as one self-contained HTML page
``briefing_excel``  the same briefing's tables as an Excel workbook
``tables``          the briefing's tables in the reader's language (names, not codes)
==================  ==========================================================================
"""

from gis.reports.briefing_excel import write_briefing_excel
from gis.reports.briefing_html import render_briefing_html
from gis.reports.tables import inclusive_period, localised_tables

__all__ = ["inclusive_period", "localised_tables", "render_briefing_html", "write_briefing_excel"]
