"""Reports: finished documents made from the library's results, for people to read offline.

Above the domain packages in the layering (they import ``gis.planning``; nothing below imports
them).

==================  ==========================================================================
``briefing_html``   a joint rectification briefing as one self-contained HTML page
``briefing_excel``  the same briefing's tables as an Excel workbook
==================  ==========================================================================
"""

from gis.reports.briefing_excel import write_briefing_excel
from gis.reports.briefing_html import render_briefing_html

__all__ = ["render_briefing_html", "write_briefing_excel"]
