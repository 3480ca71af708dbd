"""The period report's pictures, drawn server-side with matplotlib (Agg, no pyplot state): the
trend, the map of micro-grids with the hot spots and red-light grids, the department scores.

Each function returns a ``matplotlib.figure.Figure``; ``png_data_uri`` turns one into an inline
image for the HTML, the PDF draws the same figures on its pages. Chinese labels use the Noto CJK
font (Debian ``fonts-noto-cjk``, installed by ``scripts/setup``).
"""

from __future__ import annotations

import base64
import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gis.i18n import t
from gis.reports.briefing_html import _cjk_font
from gis.reports.period_model import PeriodReport
from gis.viz.palettes import YL_OR_RD, class_breaks, hex_color

#: the red of the current period and of red-light grids, the blue of hot spot outlines
RED, BLUE, GREY = "#d62728", "#1f4e9c", "#9e9e9e"


def _figure(width_in: float, height_in: float) -> Figure:
    fig = Figure(figsize=(width_in, height_in), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def font_family() -> list[str]:
    """The font family list for the figures: the CJK font first when installed."""
    cjk = _cjk_font()
    return [cjk, "DejaVu Sans"] if cjk else ["DejaVu Sans"]


def png_data_uri(fig: Figure, dpi: int = 110) -> str:
    """``data:image/png;base64,...`` of ``fig``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _step_label(start, kind: str) -> str:
    if kind == "monthly":
        return f"{start:%Y-%m}"
    return f"{start:%m-%d}"


def trend_figure(r: PeriodReport, lang: str) -> Figure:
    """Incidents per step over the hot spot window, the report's period in red."""
    fig = _figure(7.0, 2.6)
    ax = fig.add_subplot(1, 1, 1)
    fam = font_family()
    trend = r.trend
    x = np.arange(len(trend))
    colors = [GREY] * len(trend)
    if len(trend):
        colors[-1] = RED
    ax.bar(x, trend["count"].to_numpy(), color=colors)
    step = max(1, len(trend) // 10)
    ax.set_xticks(x[::step])
    ax.set_xticklabels(
        [_step_label(s, r.period.kind) for s in trend["step_start"]][::step],
        fontsize=7,
        fontfamily=fam,
    )
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title(t("reports.chart.trend", lang), fontsize=9, fontfamily=fam)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def map_figure(r: PeriodReport, lang: str) -> Figure:
    """Incidents per micro-grid in the period (yellow to red); new and intensifying hot spots
    outlined in blue; red-light grids marked with a red dot."""
    fig = _figure(6.0, 5.6)
    ax = fig.add_subplot(1, 1, 1)
    fam = font_family()
    micro = r.micro
    counts = r.patterns.set_index("unit_id")["count"].reindex(micro["unit_id"]).fillna(0)
    values = counts.to_numpy(dtype=float)
    palette = [hex_color(c) for c in YL_OR_RD]
    edges = class_breaks(values)  # quantile classes, as the pages' choropleths
    idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    idx = np.minimum(idx, len(palette) - 1)
    face = [palette[i] for i in idx]
    micro.plot(ax=ax, color=face, edgecolor="#ffffff", linewidth=0.3)
    hot = micro[micro["unit_id"].isin(set(r.hotspots["unit_id"]))]
    if len(hot):
        hot.boundary.plot(ax=ax, color=BLUE, linewidth=1.6)
    red = micro[micro["unit_id"].isin(set(r.red_grids["grid_code"]))]
    if len(red):
        pts = red.geometry.representative_point()
        ax.scatter(pts.x, pts.y, s=10, color=RED, zorder=3)
    bounds = micro.total_bounds if len(micro) else np.zeros(4)
    lat = float((bounds[1] + bounds[3]) / 2)
    ax.set_aspect(1.0 / max(np.cos(np.radians(lat)), 0.1))
    ax.set_axis_off()
    ax.set_title(t("reports.chart.map", lang), fontsize=8, fontfamily=fam, wrap=True)
    fig.tight_layout()
    return fig


def scores_figure(r: PeriodReport, lang: str) -> Figure:
    """The departments' assessment scores, best at the top; bars coloured by grade."""
    scored = r.departments[r.departments["score"].notna()]
    fig = _figure(6.5, max(1.8, 0.28 * len(scored) + 0.8))
    ax = fig.add_subplot(1, 1, 1)
    fam = font_family()
    grade_color = {"A": "#1a9850", "B": "#91cf60", "C": "#fee08b", "D": "#fc8d59", "E": RED}
    names = [r.department_name(u, lang) for u in scored["unit"]]
    y = np.arange(len(scored))[::-1]
    ax.barh(
        y,
        scored["score"].to_numpy(float),
        color=[grade_color.get(g, GREY) for g in scored["grade"]],
    )
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=7, fontfamily=fam)
    ax.set_xlim(0, 100)
    ax.tick_params(axis="x", labelsize=7)
    for yy, s, g in zip(y, scored["score"], scored["grade"], strict=True):
        ax.text(float(s) + 1, yy, f"{s:.1f} {g}", va="center", fontsize=6)
    ax.set_title(t("reports.chart.scores", lang), fontsize=9, fontfamily=fam)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


__all__ = ["font_family", "map_figure", "png_data_uri", "scores_figure", "trend_figure"]
