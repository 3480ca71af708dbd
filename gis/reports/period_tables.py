"""The period report's sections as tables with Chinese or English headers: what the Excel
workbook writes (one sheet per section) and the HTML and PDF show.

``section_tables`` keeps the numbers as numbers (rates as fractions, p-values as floats) so the
workbook stays computable; ``format_cell`` is how HTML and PDF print them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gis.i18n import t
from gis.reports.period_model import LIST_SIZE, RATES, PeriodReport

#: the sections in report order: (key, catalogue key of the title)
SECTIONS = (
    ("actions", "reports.sec.actions"),
    ("headline", "reports.sec.headline"),
    ("categories", "reports.sec.categories"),
    ("hotspots", "reports.sec.hotspots"),
    ("overdue", "reports.sec.overdue"),
    ("rankings", "reports.sec.rankings"),
    ("patrol", "reports.sec.patrol"),
    ("plans", "reports.sec.plans"),
)
#: the most rows a table shows in HTML and PDF (the workbook has them all)
MAX_ROWS = 15
#: columns holding rates (printed as percentages)
PCT_COLUMNS = {"close_rate", "on_time_close_rate", "satisfaction_rate"}


def _h(key: str, lang: str) -> str:
    return t(f"reports.col.{key}", lang)


def headline_table(r: PeriodReport, lang: str) -> pd.DataFrame:
    """The headline numbers with their 环比 and 同比."""
    h = r.headline
    return pd.DataFrame(
        {
            _h("metric", lang): [t(f"reports.m.{m}", lang) for m in h["metric"]],
            _h("value", lang): h["value"],
            _h("previous", lang): h["previous"],
            _h("prev_change", lang): h["prev_change"],
            _h("p_prev", lang): h["p_prev"],
            _h("last_year", lang): h["last_year"],
            _h("ly_change", lang): h["ly_change"],
            _h("p_ly", lang): h["p_ly"],
        }
    ).assign(_metric=h["metric"].to_numpy())


def _ranking(frame: pd.DataFrame, lang: str, name) -> pd.DataFrame:
    scored = frame[frame["score"].notna()].reset_index(drop=True)
    n = min(LIST_SIZE, len(scored) // 2) if len(scored) > 1 else len(scored)
    best = scored.head(n).assign(_list=t("reports.red_list", lang), _rank=np.arange(1, n + 1))
    worst = scored.tail(n).iloc[::-1] if n and len(scored) > 1 else scored.iloc[0:0]
    worst = worst.assign(
        _list=t("reports.black_list", lang),
        _rank=np.arange(len(scored), len(scored) - len(worst), -1),
    )
    both = pd.concat([best, worst], ignore_index=True)
    return pd.DataFrame(
        {
            _h("list", lang): both["_list"],
            _h("rank", lang): both["_rank"],
            _h("unit", lang): [name(u) for u in both["unit"]],
            t("reports.m.score", lang): both["score"],
            _h("grade", lang): both["grade"],
            _h("due", lang): both["due"],
            t("reports.m.on_time_close_rate", lang): both["on_time_close_rate"],
            _h("overdue_open", lang): both["overdue_open"],
        }
    )


def section_tables(r: PeriodReport, lang: str) -> dict[str, list[tuple[str, pd.DataFrame]]]:
    """Every section's tables: ``{section: [(subtitle, table), ...]}`` (subtitle may be "")."""
    out: dict[str, list[tuple[str, pd.DataFrame]]] = {}
    out["actions"] = [("", pd.DataFrame({_h("action", lang): [a[lang] for a in r.actions]}))]
    out["headline"] = [("", headline_table(r, lang).drop(columns="_metric"))]
    c = r.categories
    out["categories"] = [
        (
            "",
            pd.DataFrame(
                {
                    _h("category", lang): [r.category_name(x, lang) for x in c["category_code"]],
                    _h("count", lang): c["count"],
                    _h("previous", lang): c["previous"],
                    _h("prev_change", lang): c["change_pct"],
                    _h("p_value", lang): c["p_value"],
                }
            ),
        )
    ]
    hs = r.hotspots
    out["hotspots"] = [
        (
            "",
            pd.DataFrame(
                {
                    _h("grid_code", lang): hs["unit_id"],
                    _h("name", lang): hs["name"],
                    _h("pattern", lang): [t(f"reports.pattern.{p}", lang) for p in hs["pattern"]],
                    _h("count", lang): hs["count"],
                    _h("previous", lang): hs["previous"],
                    _h("trend_z", lang): hs["trend_z"].round(2),
                }
            ),
        )
    ]
    o, g = r.overdue, r.red_grids
    out["overdue"] = [
        (
            _h("grid", lang),
            pd.DataFrame(
                {
                    _h("grid_code", lang): g["grid_code"],
                    _h("name", lang): g["name"],
                    _h("overdue_open", lang): g["overdue_open"],
                    _h("max_overdue", lang): g["max_overdue_hours"],
                    _h("supervision", lang): g["supervision_pending"],
                }
            ),
        ),
        (
            _h("case", lang),
            pd.DataFrame(
                {
                    _h("case", lang): o["case_code"],
                    _h("category", lang): [r.category_name(x, lang) for x in o["category_code"]],
                    _h("department", lang): [r.department_name(x, lang) for x in o["department"]],
                    _h("grid_code", lang): o["grid_code"],
                    _h("deadline", lang): o["deadline"],
                    _h("overdue_hours", lang): o["overdue_hours"],
                    _h("supervision", lang): o["supervision_pending"],
                }
            ),
        ),
    ]
    out["rankings"] = [
        (
            t("reports.dept_rank", lang),
            _ranking(r.departments, lang, lambda u: r.department_name(u, lang)),
        ),
        (t("reports.grid_rank", lang), _ranking(r.grids_rank, lang, r.grid_name)),
    ]
    if r.patrol is None:
        out["patrol"] = [("", pd.DataFrame({_h("reason", lang): [t("reports.no_tracks", lang)]}))]
    else:
        p = r.patrol
        out["patrol"] = [
            (
                "",
                pd.DataFrame(
                    {
                        _h("rank", lang): p["rank"],
                        _h("grid", lang): [r.grid_name(u) for u in p["unit_id"]],
                        _h("gap_score", lang): p["gap_score"].round(3),
                        _h("reason", lang): p[f"reason_{lang}"],
                    }
                ),
            )
        ]
    pl = r.plans
    out["plans"] = [
        (
            "",
            pd.DataFrame(
                {
                    _h("plan", lang): pl["name"],
                    _h("status", lang): pl["status"],
                    _h("period", lang): [
                        f"{pd.Timestamp(a):%Y-%m-%d} .. {pd.Timestamp(b):%Y-%m-%d}"
                        for a, b in zip(pl["period_start"], pl["period_end"], strict=True)
                    ],
                    _h("verdict", lang): pl[f"verdict_{lang}"],
                    _h("wdq", lang): pl["wdq"],
                    _h("p_value", lang): pl["p_value"],
                }
            ),
        )
    ]
    return out


def format_cell(value, column: str, lang: str) -> str:
    """A cell as text: rates as percentages, changes signed, p-values to 3 digits."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, (bool, np.bool_)):
        return "✓" if value else ""
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        if column.startswith("p") or "p值" in column or column.startswith("p-"):
            return f"{value:.3g}"
        if value == int(value) and abs(value) >= 1:
            return f"{int(value):,}"
        return f"{value:,.2f}"
    return str(value)


def _headline_value(v: float, metric: str) -> str:
    if not np.isfinite(v):
        return "-"
    if metric in RATES:
        return f"{v:.1%}"
    return f"{v:,.2f}" if metric == "score" else f"{v:,.0f}"


def _headline_change(v: float, p: float, metric: str, lang: str) -> str:
    if not np.isfinite(v):
        return "-"
    star = "*" if np.isfinite(p) and p < 0.05 else ""
    if metric in RATES:
        unit = " pp" if lang == "en" else "个百分点"
    else:
        unit = "" if metric == "score" else "%"
    return f"{v:+.1f}{unit}{star}"


def headline_cells(r: PeriodReport, lang: str) -> list[list[str]]:
    """The headline table as text: rates in %, changes with their sign (% or percentage
    points), a star where significant."""
    rows = []
    for row in r.headline.itertuples(index=False):
        m = row.metric
        rows.append(
            [
                t(f"reports.m.{m}", lang),
                _headline_value(row.value, m),
                _headline_value(row.previous, m),
                _headline_change(row.prev_change, row.p_prev, m, lang),
                _headline_value(row.last_year, m),
                _headline_change(row.ly_change, row.p_ly, m, lang),
            ]
        )
    return rows


def headline_header(lang: str) -> list[str]:
    """The headline table's columns as printed."""
    keys = ("metric", "value", "previous", "prev_change", "last_year", "ly_change")
    return [_h(k, lang) for k in keys]


def text_rows(table: pd.DataFrame, lang: str, limit: int | None = MAX_ROWS) -> list[list[str]]:
    """A table's rows as text (rates in %); at most ``limit`` rows."""
    shown = table if limit is None else table.head(limit)
    pct = {c for c in table.columns if any(t(f"reports.m.{m}", lang) == c for m in PCT_COLUMNS)}
    rows = []
    for values in shown.itertuples(index=False):
        rows.append(
            [
                (
                    f"{v:.1%}"
                    if c in pct and isinstance(v, float) and np.isfinite(v)
                    else format_cell(v, c, lang)
                )
                for c, v in zip(table.columns, values, strict=True)
            ]
        )
    return rows


__all__ = [
    "MAX_ROWS",
    "SECTIONS",
    "format_cell",
    "headline_cells",
    "headline_header",
    "headline_table",
    "section_tables",
    "text_rows",
]
