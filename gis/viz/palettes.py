"""The palettes every map, report and notebook draws with: grid levels, streets, the YlOrRd
ramp, Gi* bins, local Moran classes, emerging hot spot patterns, ranked areas.

Colours are RGB(A) lists of ints (what pydeck takes); :func:`hex_color` and
:func:`hex_palette` give the same colours as ``#rrggbb`` for matplotlib, Leaflet and HTML, so a
notebook or a report draws a Gi* map in the colours of the Hotspots page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

import numpy as np

from gis.core.text import html_text, markdown_text

_K = TypeVar("_K")

#: line colour (RGBA), line width (pixels) and fill colour per grid level
LEVEL_STYLE: dict[str, dict] = {
    "l1": {"line": [192, 57, 43, 255], "width": 3.5, "fill": [0, 0, 0, 0]},
    "l2": {"line": [230, 126, 34, 230], "width": 2.0, "fill": [0, 0, 0, 0]},
    "micro": {"line": [127, 140, 141, 200], "width": 0.8, "fill": [236, 240, 241, 60]},
    "dedicated": {"line": [41, 128, 185, 255], "width": 1.5, "fill": [52, 152, 219, 90]},
}
STREET_STYLE: dict[str, tuple[list[int], float]] = {
    "main": ([120, 120, 120, 255], 6.0),
    "street": ([160, 160, 160, 230], 3.0),
    "alley": ([190, 190, 190, 200], 1.5),
}
LEVEL_ORDER = ("micro", "l2", "l1", "dedicated")


#: YlOrRd, light to dark (ColorBrewer, 7 classes)
YL_OR_RD = [
    [255, 255, 178],
    [254, 217, 118],
    [254, 178, 76],
    [253, 141, 60],
    [252, 78, 42],
    [227, 26, 28],
    [177, 0, 38],
]


def class_breaks(values: np.ndarray, n: int = len(YL_OR_RD)) -> np.ndarray:
    """Quantile class breaks (``n + 1`` edges, duplicates removed) of the finite ``values``."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return np.array([0.0, 1.0])
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, n + 1)))
    return edges if edges.size > 1 else np.array([edges[0], edges[0] + 1.0])


def class_labels(edges: np.ndarray, decimals: int = 0) -> list[str]:
    """Labels of the classes between ``edges``: ``lo–hi`` with thousands separators, the top
    class open-ended (``≥ lo``) so one extreme value does not stretch it (``3813–19439``)."""
    edges = np.asarray(edges, dtype=float)
    fmt = f"{{:,.{decimals}f}}"
    out = [
        f"{fmt.format(lo)}–{fmt.format(hi)}" for lo, hi in zip(edges[:-2], edges[1:-1], strict=True)
    ]
    out.append(f"≥ {fmt.format(edges[-2])}")
    return out


def choropleth_colors(values: np.ndarray, edges: np.ndarray, alpha: int = 190) -> list[list[int]]:
    """RGBA colour per value from its class (grey for NaN); pydeck cannot call JS, so precompute."""
    values = np.asarray(values, dtype=float)
    cls = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    ramp = np.asarray(YL_OR_RD)[
        np.linspace(0, len(YL_OR_RD) - 1, len(edges) - 1).round().astype(int)
    ]
    out = [[*ramp[c].tolist(), alpha] for c in cls]
    for i in np.flatnonzero(~np.isfinite(values)):
        out[i] = [200, 200, 200, 120]
    return out


#: ArcGIS's Hot Spot Analysis colours (RGB) per Gi* bin (99/95/90 % hot, not significant,
#: cold); ``GI_BIN_COLORS`` below adds an opacity per bin
GI_BIN_RGB: dict[int, list[int]] = {
    3: [214, 47, 39],
    2: [237, 117, 81],
    1: [250, 185, 132],
    0: [238, 238, 224],
    -1: [192, 204, 190],
    -2: [132, 158, 186],
    -3: [69, 117, 181],
}
#: local Moran clusters (HH, LL) and outliers (HL, LH), GeoDa's colours; "ns" not significant
LISA_COLORS: dict[str, list[int]] = {
    "HH": [215, 25, 28],
    "LL": [44, 123, 182],
    "HL": [253, 174, 97],
    "LH": [171, 217, 233],
    "ns": [238, 238, 238],
}
#: emerging hot spot patterns (ArcGIS's names): reds for hot, blues for cold
PATTERN_COLORS: dict[str, list[int]] = {
    "New Hot Spot": [128, 0, 38],
    "Consecutive Hot Spot": [189, 0, 38],
    "Intensifying Hot Spot": [227, 26, 28],
    "Persistent Hot Spot": [252, 78, 42],
    "Diminishing Hot Spot": [253, 141, 60],
    "Sporadic Hot Spot": [254, 178, 76],
    "Oscillating Hot Spot": [231, 41, 138],
    "Historical Hot Spot": [201, 148, 199],
    "New Cold Spot": [8, 48, 107],
    "Consecutive Cold Spot": [8, 81, 156],
    "Intensifying Cold Spot": [33, 113, 181],
    "Persistent Cold Spot": [66, 146, 198],
    "Diminishing Cold Spot": [107, 174, 214],
    "Sporadic Cold Spot": [158, 202, 225],
    "Oscillating Cold Spot": [65, 182, 196],
    "Historical Cold Spot": [161, 217, 155],
    "No Pattern Detected": [238, 238, 238],
}


def class_colors(
    values, palette: dict, alpha: int = 190, missing: tuple[int, ...] = (200, 200, 200, 80)
) -> list[list[int]]:
    """RGBA colour per value from a class -> RGB ``palette`` (``missing`` for other values);
    classes with a light, 'nothing here' colour are drawn more transparent."""
    quiet = {0, "ns", "No Pattern Detected"}
    out = []
    for v in values:
        key = v.item() if hasattr(v, "item") else v
        rgb = palette.get(key)
        if rgb is None:
            out.append(list(missing))
        else:
            out.append([*rgb[:3], 110 if key in quiet else alpha])
    return out


def ramp_rgb(t: np.ndarray) -> np.ndarray:
    """YlOrRd colours (n, 3) for t in [0, 1], linearly interpolated between the 7 classes
    (the KDE heat map image and its legend)."""
    stops = np.asarray(YL_OR_RD, dtype=float)
    pos = np.clip(t, 0.0, 1.0) * (len(stops) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(stops) - 2)
    frac = (pos - lo)[..., None]
    return stops[lo] * (1 - frac) + stops[lo + 1] * frac


def legend_html(items: list[tuple[list[int], str]], *, vertical: bool = False) -> str:
    """An HTML legend: a colour swatch then its label, for ``st.markdown``; inline, or one
    item per line (``vertical``, for a legend beside the map)."""
    tag, sep = ("div", "") if vertical else ("span", " ")
    return sep.join(
        f"<{tag} style='white-space:nowrap;margin:0 10px 3px 0'>"
        f"<span style='background:rgb({c[0]},{c[1]},{c[2]});border:1px solid #999;"
        f"padding:0 9px;margin-right:4px'></span>{html_text(markdown_text(label))}</{tag}>"
        for c, label in items
    )


def ramp_legend_html(low: str, high: str, n: int = 7) -> str:
    """A colour ramp (YlOrRd) from ``low`` to ``high`` labels, for the KDE heat map."""
    cells = "".join(
        f"<span style='background:rgb({int(r)},{int(g)},{int(b)});padding:0 8px'></span>"
        for r, g, b in ramp_rgb(np.linspace(0, 1, n))
    )
    return f"{html_text(low)} {cells} {html_text(high)}"


#: opacity per Gi* bin where the bins are drawn over another layer (the patrol page's gaps map)
GI_BIN_ALPHA: dict[int, int] = {3: 200, 2: 180, 1: 160, 0: 40, -1: 150, -2: 170, -3: 190}
#: :data:`GI_BIN_RGB` with :data:`GI_BIN_ALPHA`: one palette for every Gi* map (RGBA)
GI_BIN_COLORS: dict[int, list[int]] = {b: [*GI_BIN_RGB[b], GI_BIN_ALPHA[b]] for b in GI_BIN_RGB}


def gi_bin_colors(bins: np.ndarray) -> list[list[int]]:
    """RGBA colour per Gi* bin (-3..3), as ArcGIS's hot spot map (red hot, blue cold)."""
    return [GI_BIN_COLORS.get(int(b), GI_BIN_COLORS[0]) for b in np.asarray(bins)]


def rank_colors(n: int, alpha: int = 170) -> list[list[int]]:
    """RGBA colour per rank 1..n (first = the darkest YlOrRd class, lighter down the ranking),
    for ranked areas such as the proposed rectification zones."""
    if n <= 0:
        return []
    top = len(YL_OR_RD) - 1
    idx = np.linspace(top, 1, n).round().astype(int) if n > 1 else np.array([top])
    return [[*YL_OR_RD[i], alpha] for i in idx]


def hex_color(rgb: Sequence[int]) -> str:
    """``#rrggbb`` of an RGB or RGBA colour (the opacity is dropped)."""
    r, g, b = (int(v) for v in rgb[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def hex_and_opacity(rgba: Sequence[int]) -> tuple[str, float]:
    """``("#rrggbb", opacity in [0, 1])`` of an RGBA colour (RGB: opacity 1), for Leaflet."""
    r, g, b, *a = rgba
    return f"#{r:02x}{g:02x}{b:02x}", round((a[0] if a else 255) / 255, 3)


def hex_palette(palette: Mapping[_K, Sequence[int]]) -> dict[_K, str]:
    """A class -> ``#rrggbb`` palette from a class -> RGB(A) one (e.g. :data:`GI_BIN_RGB`),
    for ``GeoDataFrame.plot(color=frame[column].map(...))``."""
    return {key: hex_color(rgb) for key, rgb in palette.items()}
