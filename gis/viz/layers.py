"""Map layers built from analysis results, for pydeck (offline: no map provider, no tiles).

The basemap is the district's own data (streets, grid outlines), so a map renders on an intranet
with no internet. Functions here build layers; they never query the database. Colours come from
:mod:`gis.viz.palettes`.
"""

from __future__ import annotations

import base64
import io
import json

import geopandas as gpd
import numpy as np
import pydeck as pdk
import pyproj
import shapely
from PIL import Image

from gis.viz.mapstyle import Basemap, with_basemap
from gis.viz.palettes import (
    LEVEL_ORDER,
    LEVEL_STYLE,
    STREET_STYLE,
    choropleth_colors,
    ramp_rgb,
)

#: deck.gl's world at zoom 0 is 512 pixels wide (its tiles are 512 px)
DECK_WORLD_PX = 512.0


def _merc_y(lat: float) -> float:
    """Web Mercator y of a latitude as a fraction of the world (0 at the equator)."""
    phi = np.radians(np.clip(lat, -85.0, 85.0))
    return float(np.log(np.tan(np.pi / 4 + phi / 2)) / (2 * np.pi))


def view_for(
    geoms: gpd.GeoSeries,
    pitch: float = 0.0,
    *,
    width_px: float = 640.0,
    height_px: float = 560.0,
    margin: float = 0.06,
) -> pdk.ViewState:
    """A view that shows all of ``geoms`` (EPSG:4326) in a map of ``width_px`` x ``height_px``
    with ``margin`` (a fraction of each side) left free around them.

    The zoom is the largest at which the bounds, in Web Mercator on deck.gl's 512-pixel world,
    fit inside the map less its margins; the centre is the middle of the bounds in Mercator, so
    the south edge is not cut off. Give the smallest size the map is drawn at (the default suits
    a map beside its legend on a laptop screen).
    """
    minx, miny, maxx, maxy = geoms.total_bounds
    dx = max((maxx - minx) / 360.0, 1e-9)
    y0, y1 = _merc_y(miny), _merc_y(maxy)
    dy = max(y1 - y0, 1e-9)
    free = max(1.0 - 2.0 * margin, 0.1)
    zoom = np.log2(
        min(width_px * free / (DECK_WORLD_PX * dx), height_px * free / (DECK_WORLD_PX * dy))
    )
    mid = (y0 + y1) / 2
    lat = float(np.degrees(2 * np.arctan(np.exp(mid * 2 * np.pi)) - np.pi / 2))
    return pdk.ViewState(
        longitude=float((minx + maxx) / 2),
        latitude=lat,
        zoom=float(np.clip(zoom, 3, 18)),
        pitch=pitch,
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


def deck(
    layers: list[pdk.Layer],
    view: pdk.ViewState,
    tooltip: dict | None = None,
    basemap: Basemap | None = None,
) -> pdk.Deck:
    """A pydeck Deck with no map provider: nothing is fetched from the internet.

    With ``basemap`` (:func:`gis.viz.mapstyle.find_basemap`) the offline vector basemap is drawn
    under ``layers`` and its labels over them (:func:`gis.viz.mapstyle.with_basemap`).

    ``tooltip`` is a text tooltip (``{"text": "{name}\n{code}"}``): the browser shows it as
    text (``innerText``), so grid and incident names cannot inject HTML. An ``html`` tooltip
    (written as HTML) is refused.
    """
    if tooltip is not None and "html" in tooltip:
        raise ValueError("deck tooltips are text only: user names would be written as HTML")
    layers = with_basemap(layers, basemap)
    # map_provider=None and NO map_style: pydeck then sends its "__MAP_STYLE__" sentinel, which
    # Streamlit reads as "no basemap". map_style=None would make Streamlit fetch a CARTO style.
    return pdk.Deck(
        layers=layers,
        initial_view_state=view,
        map_provider=None,
        tooltip=tooltip or {"text": "{name}\n{code}\n{level}"},
    )


def choropleth_layer(
    grids: gpd.GeoDataFrame,
    value_column: str,
    edges: np.ndarray,
    layer_id: str = "choropleth",
    tips: list[str] | None = None,
) -> pdk.Layer:
    """A pickable GeoJsonLayer of grids filled by ``value_column`` (properties keep ``code``;
    ``tips``, one labelled text per grid, go in the ``tip`` property for the tooltip)."""
    feats = grid_features(grids)
    for feat, tip in zip(feats["features"], tips or [], strict=False):
        feat["properties"]["tip"] = tip
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


def _native(value):
    """A JSON-safe Python value (NaN -> None; numpy scalars -> Python)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def unit_features(
    units: gpd.GeoDataFrame, fill_colors: list[list[int]], properties: list[str]
) -> dict:
    """A GeoJSON FeatureCollection of analysis units (coordinates rounded to 1e-6 degree) with
    ``fill_color`` and the ``properties`` columns (NaN as null: JSON has no NaN)."""
    geoms = shapely.set_precision(units.geometry.to_numpy(), 1e-6)
    texts = shapely.to_geojson(geoms)
    cols = [units[c].to_numpy() for c in properties]
    feats = []
    for i, (gj, color) in enumerate(zip(texts, fill_colors, strict=True)):
        props = {c: _native(col[i]) for c, col in zip(properties, cols, strict=True)}
        props["fill_color"] = color
        feats.append({"type": "Feature", "geometry": _json(gj), "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def units_layer(
    units: gpd.GeoDataFrame,
    fill_colors: list[list[int]],
    properties: list[str],
    layer_id: str = "units",
    line_color: tuple[int, ...] = (90, 90, 90, 140),
) -> pdk.Layer:
    """A pickable GeoJsonLayer of analysis units (H3 cells, fishnet squares or grids) filled
    with precomputed RGBA colours; a click selects a feature whose properties hold ``unit_id``."""
    return pdk.Layer(
        "GeoJsonLayer",
        data=unit_features(units, fill_colors, properties),
        id=layer_id,
        stroked=True,
        filled=True,
        get_fill_color="properties.fill_color",
        get_line_color=list(line_color),
        get_line_width=1,
        line_width_units="'pixels'",
        pickable=True,
        auto_highlight=True,
    )


def kde_image(kde_result, max_pixels: int = 640, floor: float = 0.02) -> tuple[str, list[float]]:
    """A KDE raster as a PNG ``data:`` URL on a regular lon/lat grid, and its bounds.

    The raster's cells are squares of a metric CRS, slightly rotated against lon/lat; the
    image is resampled (nearest cell) on a lon/lat grid over the raster's footprint, so a
    BitmapLayer places it exactly. Densities under ``floor`` x the maximum are transparent.

    Returns
    -------
    (str, list)
        ``data:image/png;base64,...`` and ``[west, south, east, north]`` (EPSG:4326).
    """
    x, y, dens = kde_result.x_m, kde_result.y_m, kde_result.density_km2
    half = kde_result.cell_m / 2.0
    to_ll = pyproj.Transformer.from_crs(kde_result.epsg, 4326, always_xy=True)
    # the footprint: the raster's outline, sampled densely (its edges bend a little in lon/lat)
    sx = np.linspace(x[0] - half, x[-1] + half, 50)
    sy = np.linspace(y[0] - half, y[-1] + half, 50)
    ex = np.concatenate([sx, sx, np.full(50, sx[0]), np.full(50, sx[-1])])
    ey = np.concatenate([np.full(50, sy[0]), np.full(50, sy[-1]), sy, sy])
    lon, lat = to_ll.transform(ex, ey)
    west, east, south, north = (
        float(np.min(lon)),
        float(np.max(lon)),
        float(np.min(lat)),
        float(np.max(lat)),
    )
    ratio = (north - south) / max(east - west, 1e-12) / np.cos(np.radians((north + south) / 2))
    w = int(min(max_pixels, max(len(x), 2)))
    h = int(max(2, min(max_pixels, round(w * ratio))))
    plon = west + (np.arange(w) + 0.5) * (east - west) / w
    plat = north - (np.arange(h) + 0.5) * (north - south) / h  # row 0 = north
    glon, glat = np.meshgrid(plon, plat)
    to_m = pyproj.Transformer.from_crs(4326, kde_result.epsg, always_xy=True)
    mx, my = to_m.transform(glon, glat)
    ix = np.floor((np.asarray(mx) - (x[0] - half)) / kde_result.cell_m).astype(np.int64)
    iy = np.floor((np.asarray(my) - (y[0] - half)) / kde_result.cell_m).astype(np.int64)
    inside = (ix >= 0) & (ix < len(x)) & (iy >= 0) & (iy < len(y))
    vals = np.zeros((h, w))
    vals[inside] = dens[iy[inside], ix[inside]]
    top = float(dens.max()) if dens.size else 0.0
    t = vals / top if top > 0 else vals
    rgba = np.zeros((h, w, 4), dtype=np.uint8)
    rgba[..., :3] = ramp_rgb(t).round().astype(np.uint8)
    rgba[..., 3] = np.where(inside & (t >= floor), 90 + 140 * np.sqrt(t), 0).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG", optimize=False)
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return url, [west, south, east, north]


def kde_layer(image: str, bounds: list[float], layer_id: str = "kde") -> pdk.Layer:
    """The KDE heat map as a BitmapLayer of an in-page PNG (``kde_image``; nothing fetched)."""
    # quoted: a bare string would be read as a JavaScript expression by pydeck
    return pdk.Layer("BitmapLayer", data=None, id=layer_id, image=f"'{image}'", bounds=bounds)


def polygon_layer(
    geoms: gpd.GeoSeries | np.ndarray,
    properties: list[dict],
    *,
    layer_id: str,
    fill: list[list[int]] | None = None,
    line: list[int] | None = None,
    line_width: float = 1.0,
    pickable: bool = True,
) -> pdk.Layer:
    """A GeoJsonLayer of polygons (EPSG:4326) with a precomputed fill colour per feature (None:
    outlines only) and the given properties for the tooltip."""
    geo = shapely.to_geojson(np.asarray(geoms, dtype=object))
    feats = []
    for k, (gj, props) in enumerate(zip(geo, properties, strict=True)):
        p = dict(props)
        p["fill_color"] = fill[k] if fill is not None else [0, 0, 0, 0]
        p["line_color"] = line or [90, 90, 90, 200]
        feats.append({"type": "Feature", "geometry": _json(gj), "properties": p})
    return pdk.Layer(
        "GeoJsonLayer",
        data={"type": "FeatureCollection", "features": feats},
        id=layer_id,
        stroked=True,
        filled=fill is not None,
        get_fill_color="properties.fill_color",
        get_line_color="properties.line_color",
        get_line_width=line_width,
        line_width_units="'pixels'",
        pickable=pickable,
        auto_highlight=pickable,
    )


#: the outline of a selected unit: dark ink over a white halo, never a data colour
SELECTION_LINE = [20, 20, 20, 255]
SELECTION_HALO = [255, 255, 255, 230]


def selection_layers(geoms: gpd.GeoSeries | np.ndarray, layer_id: str = "selected") -> list:
    """The selected unit(s) drawn as an outline only (a white halo under a dark line), so the
    data colours stay readable and no fill can be mistaken for a class; not pickable."""
    props = [{} for _ in range(len(geoms))]
    return [
        polygon_layer(
            geoms,
            props,
            layer_id=f"{layer_id}-halo",
            line=SELECTION_HALO,
            line_width=7,
            pickable=False,
        ),
        polygon_layer(
            geoms, props, layer_id=layer_id, line=SELECTION_LINE, line_width=3, pickable=False
        ),
    ]


def h3_layer(
    records: list[dict],
    *,
    layer_id: str,
    filled: bool = True,
    line: list[int] | None = None,
    line_width: float = 1.0,
) -> pdk.Layer:
    """An H3HexagonLayer of records with ``hex`` (cell id) and ``color`` (RGBA) keys: cells are
    drawn by deck.gl from their ids, so only the ids travel to the browser."""
    return pdk.Layer(
        "H3HexagonLayer",
        data=records,
        id=layer_id,
        get_hexagon="hex",
        get_fill_color="color",
        get_line_color=line or [60, 60, 60, 120],
        filled=filled,
        stroked=True,
        extruded=False,
        get_line_width=line_width,
        line_width_units="'pixels'",
        pickable=True,
        auto_highlight=True,
    )


def route_layers(line: shapely.LineString | None, stops) -> list[pdk.Layer]:
    """A suggested route: its path, the stops as dots and their order numbers.

    ``stops`` has ``order, lon, lat`` (``gis.patrol.Route.stops``).
    """
    layers = []
    if line is not None:
        path = np.asarray(line.coords)[:, :2].round(6).tolist()
        layers.append(
            pdk.Layer(
                "PathLayer",
                data=[{"path": path}],
                id="route-line",
                get_path="path",
                get_color=[0, 90, 200, 230],
                get_width=5,
                width_units="'pixels'",
            )
        )
    data = [
        {"lon": float(r.lon), "lat": float(r.lat), "label": str(int(r.order))}
        for r in stops.itertuples(index=False)
    ]
    layers.append(
        pdk.Layer(
            "ScatterplotLayer",
            data=data,
            id="route-stops",
            get_position=["lon", "lat"],
            get_fill_color=[255, 255, 255, 255],
            get_line_color=[0, 90, 200, 255],
            stroked=True,
            get_radius=9,
            radius_units="'pixels'",
            line_width_min_pixels=3,
        )
    )
    layers.append(
        pdk.Layer(
            "TextLayer",
            data=data,
            id="route-order",
            get_position=["lon", "lat"],
            get_text="label",
            get_size=13,
            get_color=[0, 60, 150, 255],
        )
    )
    return layers
