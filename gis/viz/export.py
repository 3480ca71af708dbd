"""Map export for reports: an analysis map as PNG (300 dpi) or PDF, drawn on the server.

:func:`export_map` draws with matplotlib the same analysis units in the same colours as the
page (the RGBA list the deck.gl layer gets) over the basemap's source layers
(:func:`gis.viz.basemap.district_layers`: streets with their names, community outlines,
places, and any city layers), in a metric CRS (CGCS2000 Gauss-Kruger in China), with a title,
the period and filters, the legend, a scale bar, a north arrow, the source and the date, in the
page's language. Nothing is fetched: no tiles, no screenshot; Chinese text uses the system's
Noto Sans CJK (Debian ``fonts-noto-cjk``, installed by ``scripts/setup``).

The figure is returned too (:class:`MapFigure`) so tests can read the scale bar and colours.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import matplotlib
import matplotlib.patheffects as path_effects
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from gis.core.crs import local_metric_crs
from gis.viz.mapstyle import BASEMAP_STYLE, HALO, LABEL_STYLE

#: fonts tried in order for Chinese and Latin text
FONTS = [
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "DejaVu Sans",
]
#: matplotlib settings of the export: CJK fonts, TrueType embedded in the PDF
RC = {"font.family": "sans-serif", "font.sans-serif": FONTS, "pdf.fonttype": 42}
#: page size of the export (inches): A4 landscape
PAGE_IN = (11.69, 8.27)
#: words of the frame around the map, per language
WORDS = {
    "zh": {"north": "北", "source": "数据来源", "date": "制图日期", "legend": "图例"},
    "en": {"north": "N", "source": "Source", "date": "Made on", "legend": "Legend"},
}


@dataclass
class MapFigure:
    """A drawn export: the figure, its map axes, the metric CRS and the scale bar (metres)."""

    figure: Figure
    ax: Axes
    crs: str
    scale_m: float
    unit_facecolors: np.ndarray  # (n, 4) RGBA in [0, 1], in the order of the units given


def _rgba(c: Sequence[int]) -> tuple[float, ...]:
    c = list(c) + [255] * (4 - len(c))
    return tuple(v / 255 for v in c[:4])


def nice_length(span_m: float) -> float:
    """A round scale bar length (1, 2 or 5 x 10^k metres) near a quarter of ``span_m``."""
    target = max(span_m / 4.0, 1.0)
    k = np.floor(np.log10(target))
    for m in (5, 2, 1):
        if m * 10**k <= target:
            return float(m * 10**k)
    return float(10**k)


def _fmt_m(m: float) -> str:
    return f"{m / 1000:g} km" if m >= 1000 else f"{m:g} m"


def _basemap(ax: Axes, layers: Mapping[str, gpd.GeoDataFrame], crs, extent) -> None:
    for name in ("water", "green", "buildings"):
        frame = layers.get(name)
        if frame is None or not len(frame):
            continue
        st = BASEMAP_STYLE[name]["*"]
        frame.to_crs(crs).plot(
            ax=ax,
            color=_rgba(st["fill"]),
            edgecolor=_rgba(st["line"]),
            linewidth=st["width"] * 0.5,
            zorder=1,
        )
    roads = layers.get("roads")
    if roads is not None and len(roads):
        r = roads.to_crs(crs)
        for kind in ("alley", "street", "main", "*"):
            part = (
                r[r["kind"] == kind]
                if kind != "*"
                else r[~r["kind"].isin(["alley", "street", "main"])]
            )
            if len(part):
                st = BASEMAP_STYLE["roads"].get(kind, BASEMAP_STYLE["roads"]["*"])
                part.plot(ax=ax, color=_rgba(st["line"]), linewidth=st["width"] * 0.45, zorder=2)
    bounds = layers.get("boundaries")
    if bounds is not None and len(bounds):
        st = BASEMAP_STYLE["boundaries"]["*"]
        bounds.to_crs(crs).plot(
            ax=ax, color=_rgba(st["line"]), linewidth=0.8, linestyle="--", zorder=3
        )


def _labels(ax: Axes, layers: Mapping[str, gpd.GeoDataFrame], crs, extent) -> None:
    x0, x1, y0, y1 = extent
    halo = [path_effects.withStroke(linewidth=2.2, foreground=_rgba(HALO))]
    labels = layers.get("labels")
    if labels is not None and len(labels):
        lab = labels.to_crs(crs)
        for row, pt in zip(lab.itertuples(index=False), lab.geometry, strict=True):
            if not (x0 <= pt.x <= x1 and y0 <= pt.y <= y1):
                continue
            kind = (
                "community" if row.kind == "community" else (getattr(row, "road", "") or "street")
            )
            if kind == "alley":
                continue  # too many for a printed page
            st = LABEL_STYLE.get(kind, LABEL_STYLE["street"])
            ax.text(
                pt.x,
                pt.y,
                row.name,
                fontsize=st["size"] * 0.5,
                color=_rgba(st["color"]),
                ha="center",
                va="center",
                zorder=6,
                path_effects=halo,
                clip_on=True,
                fontweight="bold" if kind == "community" else "normal",
            )
    places = layers.get("places")
    if places is not None and len(places):
        pl = places.to_crs(crs)
        for row, pt in zip(pl.itertuples(index=False), pl.geometry, strict=True):
            if not (x0 <= pt.x <= x1 and y0 <= pt.y <= y1):
                continue
            st = BASEMAP_STYLE["places"].get(row.kind, BASEMAP_STYLE["places"]["*"])
            ax.plot(pt.x, pt.y, "o", ms=3, color=_rgba(st["fill"]), mec="white", mew=0.6, zorder=6)
            ax.text(
                pt.x,
                pt.y + 25,
                row.name,
                fontsize=5.5,
                color=_rgba(LABEL_STYLE["place"]["color"]),
                ha="center",
                va="bottom",
                zorder=6,
                path_effects=halo,
                clip_on=True,
            )


def draw_map(
    units: gpd.GeoDataFrame,
    colors: Sequence[Sequence[int]],
    legend: Sequence[tuple[Sequence[int], str]],
    *,
    title: str,
    subtitle: str = "",
    legend_title: str = "",
    source: str = "",
    date: str = "",
    lang: str = "zh",
    basemap_layers: Mapping[str, gpd.GeoDataFrame] | None = None,
) -> MapFigure:
    """Draw an analysis map for print; see :func:`export_map` for the parameters.

    Call inside ``matplotlib.rc_context(RC)`` (the fonts) when drawing Chinese text.
    """
    words = WORDS.get(lang, WORDS["en"])
    crs = local_metric_crs(units.to_crs(4326))
    proj = units.to_crs(crs)
    fig = Figure(figsize=PAGE_IN)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.03, 0.1, 0.72, 0.78))
    minx, miny, maxx, maxy = proj.total_bounds
    pad = 0.03 * max(maxx - minx, maxy - miny)
    extent = (minx - pad, maxx + pad, miny - pad, maxy + pad)
    ax.set_facecolor("#f4f3ef")
    if basemap_layers:
        _basemap(ax, basemap_layers, crs, extent)
    faces = np.array([_rgba(c) for c in colors]) if len(colors) else np.zeros((0, 4))
    proj.plot(ax=ax, color=faces, edgecolor=(0.35, 0.35, 0.35, 0.55), linewidth=0.25, zorder=4)
    if basemap_layers:
        _labels(ax, basemap_layers, crs, extent)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    # scale bar: a rectangle in map units (metres) at the lower left
    span = extent[1] - extent[0]
    scale_m = nice_length(span)
    sx, sy = extent[0] + 0.04 * span, extent[2] + 0.04 * (extent[3] - extent[2])
    h = 0.008 * (extent[3] - extent[2])
    for i in range(2):
        ax.add_patch(
            Rectangle(
                (sx + i * scale_m / 2, sy),
                scale_m / 2,
                h,
                facecolor="black" if i == 0 else "white",
                edgecolor="black",
                linewidth=0.6,
                zorder=8,
                gid=f"scalebar-{i}",
            )
        )
    ax.text(sx, sy + 2.2 * h, "0", fontsize=7, ha="center", zorder=8)
    ax.text(
        sx + scale_m,
        sy + 2.2 * h,
        _fmt_m(scale_m),
        fontsize=7,
        ha="center",
        zorder=8,
        gid="scalebar-label",
    )
    # north arrow (grid north of the Gauss-Kruger zone; within a district it differs from true
    # north by well under a degree)
    ax.annotate(
        words["north"],
        xy=(0.95, 0.95),
        xytext=(0.95, 0.86),
        xycoords="axes fraction",
        ha="center",
        va="center",
        fontsize=12,
        fontweight="bold",
        zorder=9,
        gid="north-arrow",
        arrowprops={"facecolor": "black", "width": 4, "headwidth": 11, "headlength": 10},
    )
    fig.text(0.03, 0.95, title, fontsize=17, fontweight="bold", va="center", gid="title")
    if subtitle:
        fig.text(0.03, 0.91, subtitle, fontsize=9.5, color="#444444", va="center", gid="subtitle")
    handles = [Patch(facecolor=_rgba(c), edgecolor="#666666", label=label) for c, label in legend]
    leg = fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.77, 0.88),
        frameon=False,
        title=legend_title or words["legend"],
        fontsize=9,
        title_fontsize=10,
        alignment="left",
    )
    leg.set_gid("legend")
    foot = f"{words['source']}: {source}" if source else ""
    if date:
        foot += ("    " if foot else "") + f"{words['date']}: {date}"
    fig.text(0.03, 0.05, foot, fontsize=8, color="#444444", gid="footer")
    fig.text(0.75, 0.05, f"{crs.name}", fontsize=6.5, color="#777777", ha="right")
    return MapFigure(fig, ax, crs.to_string(), scale_m, faces)


def export_map(
    units: gpd.GeoDataFrame,
    colors: Sequence[Sequence[int]],
    legend: Sequence[tuple[Sequence[int], str]],
    *,
    title: str,
    fmt: str = "png",
    dpi: int = 300,
    **kw,
) -> bytes:
    """An analysis map as PNG or PDF bytes, for a report.

    Parameters
    ----------
    units
        The analysis units (H3 cells, fishnet squares, grids) with their geometry, any CRS.
    colors
        RGBA (0-255) per unit, the very list the page gives its deck.gl layer.
    legend
        ``(colour, label)`` per class, as on the page.
    title
        The map's title; ``subtitle`` (period and filters), ``legend_title``, ``source``,
        ``date`` (strings, in the page's language) and ``lang`` (``zh``/``en``: the words
        around the map) and ``basemap_layers`` (:func:`gis.viz.basemap.district_layers`) go
        to :func:`draw_map`.
    fmt
        ``png`` or ``pdf``.
    dpi
        Resolution of the PNG (300 for print; the PDF is vector).
    """
    if fmt not in ("png", "pdf"):
        raise ValueError(f"fmt must be png or pdf, not {fmt!r}")
    with matplotlib.rc_context(RC):
        drawn = draw_map(units, colors, legend, title=title, **kw)
        buf = io.BytesIO()
        drawn.figure.savefig(buf, format=fmt, dpi=dpi)
    return buf.getvalue()
