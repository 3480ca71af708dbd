"""The period report as a PDF for A4 printing, with matplotlib's PDF backend: text is real text
in the Noto CJK font, embedded as a subset of glyph outlines (Type 3 fonts, ``pdf.fonttype`` 3,
with a ToUnicode map, so ``pdftotext`` gets the Chinese back), charts as images; the same on any
machine.

Why Type 3: Noto Sans CJK is an OpenType/CFF collection; matplotlib's Type 42 embedding subsets
it with fontTools in tens of seconds per face (and declares CFF data as TrueType, which poppler
warns about), while Type 3 draws the used glyphs as outlines in about a second.

A small flow layout: headings, wrapped paragraphs, tables (split over pages with the header
repeated) and pictures go down the page from the top margin; a new page starts when one does not
fit.
"""

from __future__ import annotations

import io
import unicodedata

import matplotlib
import matplotlib.image as mpimg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from gis.i18n import t
from gis.reports.period_charts import font_family, map_figure, scores_figure, trend_figure
from gis.reports.period_model import PeriodReport
from gis.reports.period_tables import (
    MAX_ROWS,
    SECTIONS,
    headline_cells,
    headline_header,
    section_tables,
    text_rows,
)

#: A4 portrait in inches, and the margins
A4_IN = (8.27, 11.69)
MARGIN_IN = 0.6
_PT = 1 / 72.0


def _em(text: str) -> float:
    """Width of ``text`` in ems (CJK and full-width characters 1, others about 0.55)."""
    return sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.56 for c in text)


def _wrap(text: str, size_pt: float, width_in: float) -> list[str]:
    limit = width_in / (size_pt * _PT)
    lines, line = [], ""
    for word in text.replace("\n", " \n ").split(" "):
        if word == "\n":
            lines.append(line)
            line = ""
            continue
        candidate = f"{line} {word}" if line else word
        if _em(candidate) <= limit:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for ch in word:  # CJK text has no spaces: break anywhere
            if _em(line + ch) > limit:
                lines.append(line)
                line = ""
            line += ch
    if line:
        lines.append(line)
    return lines or [""]


def _fit(text: str, size_pt: float, width_in: float) -> str:
    limit = width_in / (size_pt * _PT)
    if _em(text) <= limit:
        return text
    while text and _em(text + "…") > limit:
        text = text[:-1]
    return text + "…"


class _Pages:
    """A4 pages filled from the top; ``y`` is inches from the top of the current page."""

    def __init__(self, pdf: PdfPages, footer: str) -> None:
        self.pdf, self.footer, self.page = pdf, footer, 0
        self.fig: Figure | None = None
        self.family = font_family()
        self.width = A4_IN[0] - 2 * MARGIN_IN
        self._new()

    def _new(self) -> None:
        if self.fig is not None:
            self._flush()
        self.fig = Figure(figsize=A4_IN)
        self.page += 1
        self.y = MARGIN_IN

    def _flush(self) -> None:
        self.text(self.footer + f"  ·  {self.page}", 7, y=A4_IN[1] - MARGIN_IN / 2, color="#777")
        self.pdf.savefig(self.fig)

    def need(self, height_in: float) -> None:
        if self.y + height_in > A4_IN[1] - MARGIN_IN:
            self._new()

    def text(self, s: str, size: float, *, x: float = 0.0, y: float | None = None, **kw) -> None:
        yy = self.y if y is None else y
        self.fig.text(
            (MARGIN_IN + x) / A4_IN[0],
            1 - yy / A4_IN[1],
            s,
            fontsize=size,
            fontfamily=self.family,
            va="top",
            ha="left",
            **kw,
        )

    def heading(self, s: str, size: float) -> None:
        self.need(size * _PT * 2.2 + 1.2)  # keep a heading with something under it
        self.y += size * _PT * 0.6
        self.text(s, size, weight="bold")
        self.y += size * _PT * 1.5

    def paragraph(self, s: str, size: float = 9, indent: float = 0.0, **kw) -> None:
        for line in _wrap(s, size, self.width - indent):
            self.need(size * _PT * 1.5)
            self.text(line, size, x=indent, **kw)
            self.y += size * _PT * 1.5

    def table(self, header: list[str], rows: list[list[str]], size: float = 7) -> None:
        if not rows:
            self.paragraph("-", size)
            return
        widths = [max(_em(h), *(_em(r[i]) for r in rows)) + 1.0 for i, h in enumerate(header)]
        scale = self.width / (sum(widths) * size * _PT)
        widths = [w * size * _PT * min(scale, 1.6) for w in widths]
        if sum(widths) > self.width:
            widths = [w * self.width / sum(widths) for w in widths]
        row_h = size * _PT * 1.7

        def line(cells: list[str], bold: bool = False) -> None:
            x = 0.0
            for cell, w in zip(cells, widths, strict=True):
                self.text(_fit(cell, size, w - 0.05), size, x=x, weight="bold" if bold else None)
                x += w
            self.y += row_h

        self.need(row_h * 3)
        line(header, bold=True)
        for r in rows:
            if self.y + row_h > A4_IN[1] - MARGIN_IN:
                self._new()
                line(header, bold=True)
            line(r)
        self.y += row_h * 0.5

    def image(self, fig: Figure, width_in: float | None = None) -> None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=130, bbox_inches="tight")
        buf.seek(0)
        img = mpimg.imread(buf, format="png")
        h_px, w_px = img.shape[:2]
        width = min(width_in or self.width, self.width)
        height = width * h_px / w_px
        self.need(height + 0.1)
        ax = self.fig.add_axes(
            (
                MARGIN_IN / A4_IN[0],
                1 - (self.y + height) / A4_IN[1],
                width / A4_IN[0],
                height / A4_IN[1],
            )
        )
        ax.imshow(img, interpolation="none")  # embedded as is, no resampling
        ax.set_axis_off()
        self.y += height + 0.1

    def close(self) -> None:
        self._flush()


def period_pdf_bytes(r: PeriodReport, lang: str = "zh", generated_by: str = "gridlens") -> bytes:
    """The report as an A4 PDF (bytes), fonts embedded.

    Parameters
    ----------
    r
        From ``build_period_report``.
    lang
        ``zh`` or ``en``.
    generated_by
        Who or what made it, printed under the title.
    """
    tables = section_tables(r, lang)
    buf = io.BytesIO()
    title = r.title(lang)
    with matplotlib.rc_context({"pdf.fonttype": 3}), PdfPages(buf) as pdf:
        info = pdf.infodict()
        info["Title"] = title
        info["Creator"] = "GridLens"
        pages = _Pages(pdf, title)
        pages.heading(title, 16)
        meta = t("reports.generated", lang, at=f"{r.generated_at:%Y-%m-%d %H:%M}", by=generated_by)
        pages.paragraph(meta, 8, color="#666")
        for key, title_key in SECTIONS:
            pages.heading(t(title_key, lang), 12)
            if key == "actions":
                for i, a in enumerate(r.actions, start=1):
                    pages.paragraph(f"{i}. {a[lang]}", 10)
                continue
            if key == "headline":
                pages.table(headline_header(lang), headline_cells(r, lang), size=8)
                pages.paragraph(t("reports.sig_note", lang), 7, color="#666")
                pages.image(trend_figure(r, lang))
                continue
            if key == "hotspots":
                pages.image(map_figure(r, lang), width_in=4.6)
                if r.hotspots.empty:
                    pages.paragraph(t("reports.no_hotspots", lang), 9)
                    continue
            if key == "plans" and r.plans.empty:
                pages.paragraph(t("reports.no_plans", lang), 9)
                continue
            if key == "rankings" and r.departments["score"].notna().any():
                pages.image(scores_figure(r, lang), width_in=5.5)
            for subtitle, table in tables[key]:
                if subtitle:
                    pages.heading(subtitle, 10)
                if table.empty:
                    pages.paragraph(t("reports.none", lang), 8)
                    continue
                pages.table([str(c) for c in table.columns], text_rows(table, lang))
                if len(table) > MAX_ROWS:
                    pages.paragraph(t("reports.more", lang, n=len(table) - MAX_ROWS), 7)
        pages.close()
    return buf.getvalue()


__all__ = ["A4_IN", "period_pdf_bytes"]
