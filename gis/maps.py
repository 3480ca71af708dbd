"""Map layers built from analysis results, for pydeck (offline: no map provider, no tiles).

The basemap is the district's own data (streets, grid outlines), so a map renders on an intranet
with no internet. Functions here build layers; they never query the database.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pydeck as pdk
import shapely

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


def view_for(geoms: gpd.GeoSeries, pitch: float = 0.0) -> pdk.ViewState:
    """A view centred on ``geoms`` (EPSG:4326) with a zoom that shows all of them."""
    minx, miny, maxx, maxy = geoms.total_bounds
    span = max(maxx - minx, (maxy - miny) * 1.3, 1e-4)
    zoom = float(np.clip(np.log2(360.0 / span) - 0.1, 3, 18))
    return pdk.ViewState(
        longitude=(minx + maxx) / 2, latitude=(miny + maxy) / 2, zoom=zoom, pitch=pitch
    )


def grid_features(grids: gpd.GeoDataFrame, labels: dict[str, str] | None = None) -> dict:
    """A GeoJSON FeatureCollection of grids with style properties per level.

    Parameters
    ----------
    grids
        Columns ``code, name, level`` and polygon geometries in EPSG:4326.
    labels
        Display names of the levels (for the tooltip), e.g. ``{"l1": "一级网格"}``.
    """
    labels = labels or {}
    feats = []
    geo = shapely.to_geojson(grids.geometry.to_numpy())
    for (code, name, level), gj in zip(
        grids[["code", "name", "level"]].itertuples(index=False, name=None), geo, strict=True
    ):
        style = LEVEL_STYLE.get(level, LEVEL_STYLE["micro"])
        feats.append(
            {
                "type": "Feature",
                "geometry": _json(gj),
                "properties": {
                    "code": code,
                    "name": name,
                    "level": labels.get(level, level),
                    "line_color": style["line"],
                    "fill_color": style["fill"],
                    "line_width": style["width"],
                },
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def _json(text: str) -> dict:
    import json

    return json.loads(text)


def grid_layers(
    grids: gpd.GeoDataFrame, levels: list[str], labels: dict[str, str] | None = None
) -> list[pdk.Layer]:
    """One GeoJsonLayer per selected level, finest first so coarse outlines draw on top."""
    layers = []
    for level in LEVEL_ORDER:
        if level not in levels:
            continue
        part = grids[grids["level"] == level]
        if part.empty:
            continue
        layers.append(
            pdk.Layer(
                "GeoJsonLayer",
                data=grid_features(part, labels),
                id=f"grids-{level}",
                stroked=True,
                filled=True,
                get_fill_color="properties.fill_color",
                get_line_color="properties.line_color",
                get_line_width="properties.line_width",
                # quoted: pydeck turns bare strings into JS expressions
                line_width_units="'pixels'",
                pickable=True,
                auto_highlight=True,
            )
        )
    return layers


def street_layer(streets: gpd.GeoDataFrame) -> pdk.Layer:
    """The district's own streets as a PathLayer: the offline basemap."""
    coords = [np.asarray(g.coords)[:, :2].round(6).tolist() for g in streets.geometry]
    styles = [STREET_STYLE.get(h, STREET_STYLE["alley"]) for h in streets["highway"]]
    data = [
        {"path": c, "name": n or "", "color": s[0], "width": s[1]}
        for c, n, s in zip(coords, streets["name"], styles, strict=True)
    ]
    return pdk.Layer(
        "PathLayer",
        data=data,
        id="streets",
        get_path="path",
        get_color="color",
        get_width="width",
        width_units="'pixels'",
        pickable=False,
    )


def deck(layers: list[pdk.Layer], view: pdk.ViewState, tooltip: dict | None = None) -> pdk.Deck:
    """A pydeck Deck with no map provider: nothing is fetched from the internet."""
    # map_provider=None and NO map_style: pydeck then sends its "__MAP_STYLE__" sentinel, which
    # Streamlit reads as "no basemap". map_style=None would make Streamlit fetch a CARTO style.
    return pdk.Deck(
        layers=layers,
        initial_view_state=view,
        map_provider=None,
        tooltip=tooltip or {"text": "{name}\n{code}\n{level}"},
    )


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


def choropleth_layer(
    grids: gpd.GeoDataFrame, value_column: str, edges: np.ndarray, layer_id: str = "choropleth"
) -> pdk.Layer:
    """A pickable GeoJsonLayer of grids filled by ``value_column`` (properties keep ``code``)."""
    feats = grid_features(grids)
    colors = choropleth_colors(grids[value_column].to_numpy(), edges)
    for feat, color, value, n in zip(
        feats["features"], colors, grids[value_column], grids["incidents"], strict=True
    ):
        feat["properties"]["fill_color"] = color
        feat["properties"]["line_color"] = [90, 90, 90, 200]
        feat["properties"]["value"] = None if not np.isfinite(value) else round(float(value), 2)
        feat["properties"]["incidents"] = int(n)
    return pdk.Layer(
        "GeoJsonLayer",
        data=feats,
        id=layer_id,
        stroked=True,
        filled=True,
        get_fill_color="properties.fill_color",
        get_line_color="properties.line_color",
        get_line_width=1,
        line_width_units="'pixels'",
        pickable=True,
        auto_highlight=True,
    )
