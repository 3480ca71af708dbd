"""Self-contained HTML for ``gis.planning.Briefing``: map and charts drawn with matplotlib (Agg,
no pyplot state), embedded as base64 PNG; inline CSS; no external URL at all, so the file opens
offline on a government intranet.

matplotlib is imported inside the drawing functions: importing this module stays cheap.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.core.geometry import local_metric_crs, to_metric_geoms
from gis.core.settings import STORAGE_EPSG
from gis.core.text import html_text
from gis.planning import WEEKDAYS, Briefing
from gis.reports.tables import HEADERS, SHEETS, inclusive_period, localised_tables

_CJK_NAMES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Noto Serif CJK SC",
)
_COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#7f7f7f"]

_LABELS = {
    "zh": {
        "period": "时段",
        "map": "区域地图",
        "categories": "问题类别",
        "when": "发生时间（小时 × 星期）",
        "weekly": "每周事件数",
        "departments_to_call": "需要调度的部门",
        "by_department": "按责任部门",
        "peaks": "各类问题高发时段",
        "addresses": "高发地址",
        "grids": "涉及网格",
        "staff": "网格人员",
        "open": "未结案件",
        "incidents": "事件数",
        "hour": "小时",
        "more": "另有{n}条未列出",
        "generated": "由 GridLens 生成，可离线打开",
    },
    "en": {
        "period": "Period",
        "map": "Map of the area",
        "categories": "Categories",
        "when": "When (hour x weekday)",
        "weekly": "Incidents per week",
        "departments_to_call": "Departments to call",
        "by_department": "By responsible department",
        "peaks": "Peak hours per category",
        "addresses": "Top addresses",
        "grids": "Grids involved",
        "staff": "Grid staff",
        "open": "Open cases",
        "incidents": "incidents",
        "hour": "hour",
        "more": "{n} more not listed",
        "generated": "Made by GridLens; opens offline",
    },
}

_CSS = """
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       margin: 24px auto; max-width: 1100px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 26px;
     border-bottom: 1px solid #ccc; padding-bottom: 3px; }
ul.summary li { margin: 4px 0; } .meta { color: #666; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; }
th { background: #f2f2f2; } td.num { text-align: right; }
img { max-width: 100%; } .row { display: flex; flex-wrap: wrap; gap: 12px; }
.row > div { flex: 1 1 480px; }
"""


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    available = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in _CJK_NAMES if name in available), None)


def _png(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _img(src: str, alt: str) -> str:
    return f'<img src="{src}" alt="{html_text(alt)}">'


def _plot_geom(ax, geom, **kw) -> None:
    for part in shapely.get_parts(geom):
        if part.geom_type != "Polygon":
            continue
        for ring in [part.exterior, *part.interiors]:
            xy = np.asarray(ring.coords)
            ax.plot(xy[:, 0], xy[:, 1], **kw)


def _map(brief: Briefing, lang: str, names: dict[str, str]) -> str:
    from matplotlib.figure import Figure

    crs = local_metric_crs(gpd.GeoSeries([brief.area], crs=STORAGE_EPSG))
    fig = Figure(figsize=(7.5, 6.5))
    ax = fig.add_subplot(1, 1, 1)
    if brief.context is not None and len(brief.context):
        ctx = to_metric_geoms(brief.context.geometry.to_numpy(), crs)
        for g, level in zip(ctx, brief.context["level"], strict=True):
            color = "#9ecae1" if level == "dedicated" else "#bbbbbb"
            _plot_geom(ax, g, color=color, lw=0.6)
    if len(brief.points):
        rng = np.random.default_rng(0)
        pts = brief.points
        take = rng.choice(len(pts), size=min(len(pts), 5000), replace=False)
        pm = to_metric_geoms(shapely.points(pts[take]), crs)
        px, py = shapely.get_x(pm), shapely.get_y(pm)
        ax.scatter(px, py, s=3, color="#555555", alpha=0.5, lw=0, label=names["incidents"])
    _plot_geom(ax, to_metric_geoms([brief.area], crs)[0], color="#d62728", lw=2.0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    minx, miny, maxx, maxy = to_metric_geoms([brief.area], crs)[0].buffer(120).bounds
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    # a 100 m / 200 m scale bar (metric CRS)
    span = maxx - minx
    bar = 100.0 if span < 1500 else 200.0 if span < 3000 else 500.0
    ax.plot([minx + 30, minx + 30 + bar], [miny + 30, miny + 30], color="black", lw=3)
    ax.text(minx + 30, miny + 45, f"{bar:.0f} m", fontsize=9)
    return _png(fig)


def _bars(brief: Briefing, lang: str) -> str | None:
    from matplotlib.figure import Figure

    cats = brief.by_category.head(10).iloc[::-1]
    if cats.empty:
        return None
    fig = Figure(figsize=(6.5, 0.35 * len(cats) + 1.0))
    ax = fig.add_subplot(1, 1, 1)
    label = cats["name_zh"] if lang == "zh" else cats["name_en"]
    ax.barh(label.astype(str), cats["incidents"], color=_COLORS[1])
    ax.set_xlabel(_LABELS[lang]["incidents"])
    return _png(fig)


def _heat(brief: Briefing, lang: str) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0, 6.0))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(brief.hour_weekday.to_numpy(), aspect="auto", cmap="OrRd", origin="upper")
    ax.set_xticks(range(7), WEEKDAYS[lang])
    ax.set_yticks(range(0, 24, 2), [f"{h:02d}:00" for h in range(0, 24, 2)])
    fig.colorbar(im, ax=ax, label=_LABELS[lang]["incidents"])
    return _png(fig)


def _weekly(brief: Briefing, lang: str) -> str | None:
    from matplotlib.figure import Figure

    if brief.weekly.empty:
        return None
    fig = Figure(figsize=(6.5, 2.8))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(brief.weekly["week_start"], brief.weekly["incidents"], color=_COLORS[0], lw=1.5)
    ax.set_ylabel(_LABELS[lang]["incidents"])
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return _png(fig)


_PERCENT = frozenset(
    {"share", "overlap_share", "peak_share"}
    | {h for key in ("share", "overlap_share") for h in HEADERS[key]}
)


def _table(frame: pd.DataFrame, columns: dict[str, str], limit: int, lang: str) -> str:
    if frame is None or frame.empty:
        return "<p>—</p>"
    cols = [c for c in columns if c in frame.columns]
    sub = frame[cols].head(limit).copy()
    head = "".join(f"<th>{html_text(columns[c])}</th>" for c in cols)
    rows = []
    for rec in sub.itertuples(index=False):
        cells = []
        for col, v in zip(cols, rec, strict=True):
            if isinstance(v, float | np.floating):
                text = "" if np.isnan(v) else (f"{v:.1%}" if col in _PERCENT else f"{v:,.0f}")
                cells.append(f'<td class="num">{text}</td>')
            elif isinstance(v, int | np.integer):
                cells.append(f'<td class="num">{int(v):,}</td>')
            elif isinstance(v, pd.Timestamp):
                cells.append(f"<td>{v:%Y-%m-%d %H:%M}</td>")
            else:
                cells.append(
                    "<td>" + html_text("" if v is None or v is pd.NA else str(v)) + "</td>"
                )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if len(frame) > limit:
        more = (
            f'<p class="meta">{html_text(_LABELS[lang]["more"].format(n=len(frame) - limit))}</p>'
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def render_briefing_html(brief: Briefing, lang: str = "zh", path: str | Path | None = None) -> str:
    """The briefing as a self-contained HTML page (map and charts as embedded PNG, no external
    URL).

    Parameters
    ----------
    brief
        From ``gis.planning.briefing``.
    lang
        ``zh`` or ``en``.
    path
        Also write the page there (UTF-8).

    Returns
    -------
    str
        The page.
    """
    page = _render(brief, lang)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(page, encoding="utf-8")
    return page


def _render(brief: Briefing, lang: str) -> str:
    import matplotlib

    if lang not in _LABELS:
        raise ValueError(f"lang must be zh or en, got {lang!r}")
    names = _LABELS[lang]
    font = _cjk_font()
    chart_lang = lang if (lang == "en" or font) else "en"  # no CJK font: English chart labels
    rc = {
        "font.family": [font, "DejaVu Sans"] if font else ["DejaVu Sans"],
        "axes.unicode_minus": False,
    }
    with matplotlib.rc_context(rc):
        imgs = {
            "map": _map(brief, chart_lang, _LABELS[chart_lang]),
            "bars": _bars(brief, chart_lang),
            "heat": _heat(brief, chart_lang),
            "weekly": _weekly(brief, chart_lang),
        }
    zh = lang == "zh"
    title = brief.title_zh if zh else brief.title_en
    start, end = brief.period
    summary = "".join(f"<li>{html_text(s)}</li>" for s in brief.summary(lang))
    tables = localised_tables(brief, lang)

    def shown(sheet: str, limit: int, drop: tuple[str, ...] = ()) -> str:
        frame = tables[SHEETS[sheet][lang]]
        cols = {c: c for c in frame.columns if c not in {HEADERS[d][0 if zh else 1] for d in drop}}
        return _table(frame, cols, limit, lang)

    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if zh else "en"}"><head><meta charset="utf-8">',
        f"<title>{html_text(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html_text(title)}</h1>",
        f'<p class="meta">{names["period"]}: {inclusive_period(brief, lang)}</p>',
        f'<ul class="summary">{summary}</ul>',
        f"<h2>{names['map']}</h2>",
        _img(imgs["map"], names["map"]),
        f"<h2>{names['departments_to_call']}</h2>",
        shown("departments_to_call", 20),
        f"<h2>{names['categories']}</h2>",
        '<div class="row"><div>',
        _img(imgs["bars"], names["categories"]) if imgs["bars"] else "",
        "</div><div>",
        shown("categories", 15, drop=("severity_weighted", "co_departments")),
        "</div></div>",
        f"<h2>{names['when']}</h2>",
        '<div class="row"><div>',
        _img(imgs["heat"], names["when"]),
        "</div><div>",
        f"<h3>{names['weekly']}</h3>",
        _img(imgs["weekly"], names["weekly"]) if imgs["weekly"] else "",
        "</div></div>",
        f"<h2>{names['by_department']}</h2>",
        shown("departments", 15),
        f"<h2>{names['addresses']}</h2>",
        shown("top_addresses", 15),
        f"<h2>{names['grids']}</h2>",
        shown("grids", 60, drop=("overlap_ha",)),
        f"<h2>{names['staff']}</h2>",
        shown("staff", 60),
        f"<h2>{names['open']} ({len(brief.open_cases):,})</h2>",
        shown("open_cases", 50),
        f'<p class="meta">{names["generated"]}</p>',
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)
