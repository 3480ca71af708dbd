"""The period report as one self-contained HTML page: inline CSS, charts and map as inline PNG,
no external URL (``gis.viz.checks.assert_offline_html`` passes), printable on A4."""

from __future__ import annotations

import html

import pandas as pd

from gis.i18n import t
from gis.reports.period_charts import map_figure, png_data_uri, scores_figure, trend_figure
from gis.reports.period_model import PeriodReport
from gis.reports.period_tables import (
    MAX_ROWS,
    SECTIONS,
    headline_cells,
    headline_header,
    section_tables,
    text_rows,
)

_CSS = """
@page { size: A4; margin: 15mm; }
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       margin: 24px auto; max-width: 1000px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 17px; margin-top: 26px; border-bottom: 2px solid #c62828; padding-bottom: 3px; }
h3 { font-size: 14px; margin: 12px 0 4px; }
.meta, .note { color: #666; font-size: 12px; }
ol.actions li { margin: 5px 0; font-size: 15px; }
table { border-collapse: collapse; font-size: 12px; margin: 6px 0; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; }
th { background: #f2f2f2; } td.num { text-align: right; }
img { max-width: 100%; } .row { display: flex; flex-wrap: wrap; gap: 12px; }
.row > div { flex: 1 1 420px; }
"""


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for v in row:
            cls = ' class="num"' if v[:1].isdigit() or v[:1] in "+-" and v[1:2].isdigit() else ""
            cells.append(f"<td{cls}>{html.escape(v)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _frame(table: pd.DataFrame, lang: str) -> str:
    if table.empty:
        return f'<p class="note">{html.escape(t("reports.none", lang))}</p>'
    out = _table([str(c) for c in table.columns], text_rows(table, lang))
    if len(table) > MAX_ROWS:
        out += (
            f'<p class="note">{html.escape(t("reports.more", lang, n=len(table) - MAX_ROWS))}</p>'
        )
    return out


def _img(fig, alt: str) -> str:
    return f'<img src="{png_data_uri(fig)}" alt="{html.escape(alt)}">'


def render_period_html(r: PeriodReport, lang: str = "zh", generated_by: str = "gridlens") -> str:
    """The report as a self-contained HTML document (a str).

    Parameters
    ----------
    r
        From ``build_period_report``.
    lang
        ``zh`` or ``en``.
    generated_by
        Who or what made it (a user name, ``cron``, ``systemd``), printed under the title.
    """
    tables = section_tables(r, lang)
    title = r.title(lang)
    parts = [
        f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
        f'<meta charset="utf-8"><title>{html.escape(title)}</title><style>{_CSS}</style>'
        f"</head><body><h1>{html.escape(title)}</h1>"
    ]
    meta = t("reports.generated", lang, at=f"{r.generated_at:%Y-%m-%d %H:%M}", by=generated_by)
    parts.append(f'<p class="meta">{html.escape(meta)}</p>')
    for key, title_key in SECTIONS:
        parts.append(f'<h2 id="{key}">{html.escape(t(title_key, lang))}</h2>')
        if key == "actions":
            items = "".join(f"<li>{html.escape(a[lang])}</li>" for a in r.actions)
            parts.append(f'<ol class="actions">{items}</ol>')
            continue
        if key == "headline":
            parts.append(_table(headline_header(lang), headline_cells(r, lang)))
            parts.append(f'<p class="note">{html.escape(t("reports.sig_note", lang))}</p>')
            parts.append(_img(trend_figure(r, lang), t("reports.chart.trend", lang)))
            continue
        if key == "hotspots":
            a, b = r.patterns.attrs.get("window", (r.period.start, r.period.end))
            step = t(f"reports.step.{r.patterns.attrs.get('step', 'day')}", lang)
            window = t(
                "reports.window",
                lang,
                start=f"{a:%Y-%m-%d}",
                end=f"{pd.Timestamp(b) - pd.Timedelta(days=1):%Y-%m-%d}",
                step=step,
            )
            parts.append(f'<p class="note">{html.escape(window)}</p>')
            parts.append(
                '<div class="row"><div>'
                + _img(map_figure(r, lang), t("reports.chart.map", lang))
                + "</div><div>"
            )
            if r.hotspots.empty:
                parts.append(f"<p>{html.escape(t('reports.no_hotspots', lang))}</p>")
            else:
                parts.append(_frame(tables[key][0][1], lang))
            parts.append("</div></div>")
            continue
        if key == "plans" and r.plans.empty:
            parts.append(f"<p>{html.escape(t('reports.no_plans', lang))}</p>")
            continue
        if key == "rankings" and r.departments["score"].notna().any():
            parts.append(_img(scores_figure(r, lang), t("reports.chart.scores", lang)))
        for subtitle, table in tables[key]:
            if subtitle:
                parts.append(f"<h3>{html.escape(subtitle)}</h3>")
            parts.append(_frame(table, lang))
    parts.append("</body></html>")
    return "".join(parts)


__all__ = ["render_period_html"]
