"""Leaflet (folium) maps that work with no internet, for ``streamlit_folium.st_folium``.

folium loads Leaflet, jQuery, Bootstrap, Font Awesome and its plugins from public CDNs; offline
such a map is blank, not just tile-less. Maps made here load only the copies vendored under
``static/vendor/`` (``scripts/vendor-web-assets``), which Streamlit serves at
``/app/static/vendor/...`` (``server.enableStaticServing = true``), and draw no tiles: the
basemap is the district's own streets and grid outlines (:func:`add_vector_basemap`).

Only Leaflet and Leaflet.draw are vendored. jQuery, Bootstrap, Font Awesome and
Leaflet.awesome-markers are dropped from the default map, so ``folium.Icon`` (awesome markers),
``folium.Choropleth`` / branca colormaps (d3 from a CDN) and other folium plugins (each carries
its own CDN links) do not work here; :func:`gis.viz.checks.external_urls` finds them in a
rendered map.

Coordinates are EPSG:4326 throughout; folium takes ``(lat, lon)`` pairs, GeoPandas bounds are
``(minx, miny, maxx, maxy)`` = ``(west, south, east, north)``.

Typical editing map::

    m = offline_map(grids)                           # fits the grids' bounds
    add_vector_basemap(m, streets, grids)             # streets + outlines, not clickable
    fg = folium.FeatureGroup(name="edit", control=False)
    add_draw(m, fg)
    editable_geojson(m, grids[grids.code == code], "code")
    out = st_folium(m, returned_objects=["all_drawings"], key="grid-edit")
    # out["all_drawings"]: GeoJSON features of everything in fg after the last draw event,
    # the grids with their properties (``code``) and new shapes with empty properties
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.template import Template
from folium.utilities import JsCode
from shapely.geometry import shape

from gis import i18n
from gis.core.text import html_text
from gis.viz.palettes import LEVEL_ORDER, LEVEL_STYLE, STREET_STYLE, hex_and_opacity

#: URL under which Streamlit serves ``./static`` (``server.enableStaticServing``); behind a
#: ``server.baseUrlPath`` pass ``static_url="/<base>/app/static"``
STATIC_URL = "/app/static"
#: the folder served at :data:`STATIC_URL`
STATIC_DIR = Path(__file__).resolve().parents[2] / "static"

#: (name, path under static/) of the scripts and stylesheets every offline map loads
LEAFLET_JS = [("leaflet", "vendor/leaflet/leaflet.js")]
LEAFLET_CSS = [("leaflet_css", "vendor/leaflet/leaflet.css")]
DRAW_JS = [("leaflet_draw_js", "vendor/leaflet-draw/leaflet.draw.js")]
DRAW_CSS = [("leaflet_draw_css", "vendor/leaflet-draw/leaflet.draw.css")]

#: pane of the vector basemap: below overlays (400), above tiles (200), never clickable
BASEMAP_PANE = "gridlens-basemap"
#: background of a map without tiles (Leaflet's default is a grey #ddd)
BACKGROUND = "#f4f3ef"

#: draw tools for grid editing: polygons and rectangles only, no self-intersections
DEFAULT_DRAW_OPTIONS: dict[str, Any] = {
    "polyline": False,
    "circle": False,
    "circlemarker": False,
    "marker": False,
    "polygon": {"allowIntersection": False, "showArea": False},
    "rectangle": {"showArea": False},
}
DEFAULT_EDIT_OPTIONS: dict[str, Any] = {"poly": {"allowIntersection": False}}
#: style of the editable grids (Leaflet path options)
EDIT_STYLE: dict[str, Any] = {
    "color": "#c0392b",
    "weight": 2,
    "opacity": 0.9,
    "fillColor": "#e67e22",
    "fillOpacity": 0.15,
}


def vendor_url(path: str, static_url: str = STATIC_URL) -> str:
    """URL of ``static/<path>`` as Streamlit serves it, e.g. ``/app/static/vendor/leaflet/leaflet.js``."""
    return f"{static_url.rstrip('/')}/{path.lstrip('/')}"


def _links(pairs: list[tuple[str, str]], static_url: str) -> list[tuple[str, str]]:
    # a new list per element: folium's add_js_link mutates the list in place, and the class
    # attribute lists are shared by every instance
    return [(name, vendor_url(path, static_url)) for name, path in pairs]


def _center_and_bounds(
    bounds_or_center: Any,
) -> tuple[tuple[float, float], list[list[float]] | None]:
    """``((lat, lon), [[south, west], [north, east]] or None)`` from the accepted inputs."""
    if isinstance(bounds_or_center, gpd.GeoDataFrame | gpd.GeoSeries):
        geoms = bounds_or_center
        if geoms.crs is not None and not geoms.crs.equals("EPSG:4326"):
            geoms = geoms.to_crs(4326)
        bounds_or_center = tuple(float(v) for v in geoms.total_bounds)
    elif isinstance(bounds_or_center, shapely.Geometry):
        bounds_or_center = tuple(float(v) for v in bounds_or_center.bounds)
    arr = np.asarray(bounds_or_center, dtype=float)
    if arr.shape == (2,):
        lat, lon = arr
        return (float(lat), float(lon)), None
    if arr.shape == (4,):
        west, south, east, north = arr
    elif arr.shape == (2, 2):
        (south, west), (north, east) = arr
    else:
        raise ValueError(
            "bounds_or_center: (lat, lon), (minx, miny, maxx, maxy), [[s, w], [n, e]] or "
            f"geometries, not an array of shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or south > north or west > east:
        raise ValueError(f"empty or invalid bounds {arr.tolist()}")
    center = ((south + north) / 2, (west + east) / 2)
    return (float(center[0]), float(center[1])), [
        [float(south), float(west)],
        [float(north), float(east)],
    ]


#: what the attribution corner says by default: the data's own source, not Leaflet's flag link
DEFAULT_ATTRIBUTION = "GridLens"


class _MapControls(MacroElement):
    """A metric-only scale bar, and the attribution prefix set to the data's own attribution."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        L.control.scale({metric: true, imperial: false}).addTo({{ this._parent.get_name() }});
        {{ this._parent.get_name() }}.attributionControl.setPrefix({{ this.prefix|tojson }});
        {% endmacro %}"""
    )

    def __init__(self, prefix: str):
        super().__init__()
        self._name = "GridlensMapControls"
        self.prefix = prefix


def offline_map(
    bounds_or_center: Any,
    zoom: float | None = None,
    *,
    static_url: str = STATIC_URL,
    background: str = BACKGROUND,
    attribution: str = DEFAULT_ATTRIBUTION,
    **kw: Any,
) -> folium.Map:
    """A ``folium.Map`` with no tiles that loads only the vendored Leaflet.

    Parameters
    ----------
    bounds_or_center
        Where to look, in EPSG:4326: a centre ``(lat, lon)``; bounds as
        ``(minx, miny, maxx, maxy)`` (lon/lat, GeoPandas ``total_bounds`` order) or folium's
        ``[[south, west], [north, east]]``; or a GeoDataFrame / GeoSeries / shapely geometry
        (reprojected to EPSG:4326 when it has another CRS) whose bounds are used.
    zoom
        Initial zoom level. ``None`` with bounds fits the bounds; ``None`` with a centre is 15.
    static_url
        Where Streamlit serves ``./static`` (:data:`STATIC_URL`).
    background
        CSS colour of the map background (there are no tiles).
    attribution
        The text of the attribution corner, in place of Leaflet's prefix (its link and flag
        icon): the data's own source, e.g. the district's name.
    **kw
        Passed to ``folium.Map`` (``min_zoom``, ``max_zoom`` (default 20),
        ``prefer_canvas`` ...). ``tiles`` must be absent or None.

    Returns
    -------
    folium.Map
        Its ``default_js`` / ``default_css`` are only Leaflet under ``static_url``.
    """
    if kw.pop("tiles", None) is not None:
        raise ValueError("offline_map draws no tiles: add a vector basemap instead")
    center, bounds = _center_and_bounds(bounds_or_center)
    kw.setdefault("max_zoom", 20)
    # folium's own scale bar shows feet and miles too: a metric-only one is added below
    kw["control_scale"] = False
    m = folium.Map(
        location=list(center),
        zoom_start=zoom if zoom is not None else 15,
        tiles=None,
        **kw,
    )
    m.default_js = _links(LEAFLET_JS, static_url)
    m.default_css = _links(LEAFLET_CSS, static_url)
    m.gridlens_static_url = static_url
    m.get_root().header.add_child(
        Element(f"<style>.leaflet-container {{ background: {background}; }}</style>"),
        name="gridlens_background",
    )
    _MapControls(attribution).add_to(m)
    if bounds is not None and zoom is None:
        m.fit_bounds(bounds)
    return m


#: the Leaflet.draw texts (``L.drawLocal``) the app translates: path -> catalogue key
DRAW_TEXT_KEYS: dict[str, str] = {
    "draw.toolbar.actions.title": "draw.cancel_title",
    "draw.toolbar.actions.text": "draw.cancel",
    "draw.toolbar.finish.title": "draw.finish_title",
    "draw.toolbar.finish.text": "draw.finish",
    "draw.toolbar.undo.title": "draw.undo_title",
    "draw.toolbar.undo.text": "draw.undo",
    "draw.toolbar.buttons.polygon": "draw.polygon",
    "draw.toolbar.buttons.rectangle": "draw.rectangle",
    "draw.toolbar.buttons.polyline": "draw.polyline",
    "draw.handlers.polygon.tooltip.start": "draw.poly_start",
    "draw.handlers.polygon.tooltip.cont": "draw.poly_cont",
    "draw.handlers.polygon.tooltip.end": "draw.poly_end",
    "draw.handlers.polyline.tooltip.start": "draw.line_start",
    "draw.handlers.polyline.tooltip.cont": "draw.line_cont",
    "draw.handlers.polyline.tooltip.end": "draw.line_end",
    "draw.handlers.rectangle.tooltip.start": "draw.rect_start",
    "draw.handlers.simpleshape.tooltip.end": "draw.shape_end",
    "edit.toolbar.actions.save.title": "draw.save_title",
    "edit.toolbar.actions.save.text": "draw.save",
    "edit.toolbar.actions.cancel.title": "draw.cancel_edit_title",
    "edit.toolbar.actions.cancel.text": "draw.cancel",
    "edit.toolbar.actions.clearAll.title": "draw.clear_all_title",
    "edit.toolbar.actions.clearAll.text": "draw.clear_all",
    "edit.toolbar.buttons.edit": "draw.edit",
    "edit.toolbar.buttons.editDisabled": "draw.edit_disabled",
    "edit.toolbar.buttons.remove": "draw.remove",
    "edit.toolbar.buttons.removeDisabled": "draw.remove_disabled",
    "edit.handlers.edit.tooltip.text": "draw.edit_text",
    "edit.handlers.edit.tooltip.subtext": "draw.edit_subtext",
    "edit.handlers.remove.tooltip.text": "draw.remove_text",
}


def draw_texts(lang: str) -> dict[str, str]:
    """The Leaflet.draw toolbar's texts in ``lang`` (``L.drawLocal`` path -> text)."""
    return {path: i18n.t(key, lang) for path, key in DRAW_TEXT_KEYS.items()}


class _DrawTexts(MacroElement):
    """Set ``L.drawLocal`` texts before the Draw control builds its toolbar."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function () {
            var texts = {{ this.texts|tojson }};
            Object.keys(texts).forEach(function (path) {
                var keys = path.split("."), node = L.drawLocal;
                for (var i = 0; i < keys.length - 1; i++) {
                    node = node[keys[i]] = node[keys[i]] || {};
                }
                node[keys[keys.length - 1]] = texts[path];
            });
        })();
        {% endmacro %}"""
    )

    def __init__(self, texts: dict[str, str]):
        super().__init__()
        self._name = "GridlensDrawTexts"
        self.texts = texts


def add_draw(
    m: folium.Map,
    feature_group: folium.FeatureGroup | None = None,
    *,
    draw_options: dict[str, Any] | None = None,
    edit_options: dict[str, Any] | None = None,
    position: str = "topleft",
    static_url: str | None = None,
    lang: str | None = None,
) -> folium.plugins.Draw:
    """Add the Leaflet.draw toolbar, loading the vendored plugin, editing ``feature_group``.

    Parameters
    ----------
    m
        The map, from :func:`offline_map`. The Draw control is added as a direct child of it:
        ``st_folium`` finds the edited group (``window.drawnItems``) only there.
    feature_group
        The group whose layers the edit and delete tools act on, and whose content
        ``st_folium`` returns as ``all_drawings``; added to ``m`` if it has no parent yet.
        ``None`` creates an unlisted one. Put existing shapes in it with
        :func:`editable_geojson`.
    draw_options, edit_options
        Leaflet.draw ``draw`` / ``edit`` options, merged over :data:`DEFAULT_DRAW_OPTIONS`
        (polygons and rectangles only) and :data:`DEFAULT_EDIT_OPTIONS`.
    position
        Corner of the toolbar (``topleft``, ``topright``, ``bottomleft``, ``bottomright``).
    static_url
        Where Streamlit serves ``./static``; default: what ``m`` was made with.
    lang
        The language of the toolbar's buttons and hints (:func:`draw_texts`); None keeps
        Leaflet.draw's own English.

    Returns
    -------
    folium.plugins.Draw
        The control; ``draw.feature_group`` is the edited group.
    """
    static_url = static_url or getattr(m, "gridlens_static_url", STATIC_URL)
    if feature_group is None:
        feature_group = folium.FeatureGroup(name="drawn", control=False)
    if feature_group._parent is None:
        feature_group.add_to(m)
    draw = folium.plugins.Draw(
        feature_group=feature_group,
        position=position,
        show_geometry_on_click=False,
        draw_options={**DEFAULT_DRAW_OPTIONS, **(draw_options or {})},
        edit_options={**DEFAULT_EDIT_OPTIONS, **(edit_options or {})},
    )
    draw.default_js = _links(DRAW_JS, static_url)
    draw.default_css = _links(DRAW_CSS, static_url)
    if lang:
        _DrawTexts(draw_texts(lang)).add_to(m)  # before the control: it reads L.drawLocal
    draw.add_to(m)
    return draw


class _MoveIntoGroup(MacroElement):
    """Move the sublayers of a GeoJson layer into a FeatureGroup (so Leaflet.draw edits them).

    A GeoJson layer in the Draw group is one layer to Leaflet.draw, and not an editable one;
    its polygons, once members of the group themselves, are. Each keeps ``layer.feature``, so
    ``toGeoJSON()`` (hence ``st_folium``'s ``all_drawings``) returns their properties.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var gj = {{ this.geojson.get_name() }};
            var fg = {{ this.group.get_name() }};
            var fields = {{ this.tooltip_fields|tojson }};
            if (fg.hasLayer(gj)) { fg.removeLayer(gj); } else { gj.remove(); }
            gj.eachLayer(function (layer) {
                if (fields.length && layer.feature) {
                    var tip = document.createElement("div");
                    tip.textContent = fields.map(function (f) {
                        var v = layer.feature.properties[f];
                        return v === null || v === undefined ? "" : String(v);
                    }).join(" · ");
                    layer.bindTooltip(tip, {sticky: true});
                }
                fg.addLayer(layer);
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self, geojson: folium.GeoJson, group: folium.FeatureGroup, tooltip_fields: list[str]
    ):
        super().__init__()
        self._name = "MoveIntoGroup"
        self.geojson = geojson
        self.group = group
        self.tooltip_fields = tooltip_fields


def escape_properties(frame: gpd.GeoDataFrame, columns: Iterable[str] | None = None):
    """A copy of ``frame`` whose text columns (or ``columns``) are HTML-escaped
    (:func:`gis.core.text.html_text`), for folium layers whose tooltips and popups are
    written as HTML (``folium.GeoJsonTooltip``, ``GeoJsonPopup``): a grid named
    ``<img src=x onerror=...>`` then shows as that text instead of running."""
    out = frame.copy()
    geometry = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    names = [c for c in out.columns if c != geometry] if columns is None else list(columns)
    for col in names:
        values = out[col]
        if columns is None and not (
            pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)
        ):
            continue
        out[col] = [None if v is None or v is pd.NA else html_text(v) for v in values]
    return out


def _draw_group(m: folium.Map) -> folium.FeatureGroup:
    groups = [
        child.feature_group
        for child in m._children.values()
        if isinstance(child, folium.plugins.Draw) and child.feature_group is not None
    ]
    if len(groups) != 1:
        raise ValueError(
            f"the map has {len(groups)} Draw controls with a feature group: call add_draw first "
            "(once), or pass feature_group"
        )
    return groups[0]


def _to_4326(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        return gdf.to_crs(4326)
    return gdf


def editable_geojson(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    id_field: str,
    *,
    fields: Sequence[str] = (),
    feature_group: folium.FeatureGroup | None = None,
    style: dict[str, Any] | None = None,
    tooltip_fields: Sequence[str] | None = None,
) -> folium.GeoJson:
    """Put the polygons of ``gdf`` into the Draw group, editable, each keeping its id.

    Parameters
    ----------
    m
        The map, with a Draw control from :func:`add_draw`.
    gdf
        Polygons or multipolygons, EPSG:4326 (reprojected if its CRS is another; a frame with
        no CRS is taken as EPSG:4326).
    id_field
        Column with a unique, non-null id per row (the grid ``code``); it comes back in
        ``all_drawings[i]["properties"][id_field]`` for every feature that still exists.
    fields
        Further columns to carry as properties (JSON-serialisable; others become strings).
    feature_group
        The Draw group; default: the one of the map's Draw control.
    style
        Leaflet path options; default :data:`EDIT_STYLE`.
    tooltip_fields
        Properties shown as a (plain text) tooltip; default ``[id_field]``; ``[]`` for none.

    Returns
    -------
    folium.GeoJson
        The GeoJson layer whose features are moved into the group in the browser.

    Notes
    -----
    ``st_folium`` reports ``all_drawings`` after each draw/edit/delete event: the group's
    features, the given ones (edited or not) with their properties, new shapes with
    ``properties == {}``; deleted ones are absent.
    """
    if id_field not in gdf.columns:
        raise KeyError(f"id_field {id_field!r} is not a column of gdf")
    ids = gdf[id_field]
    if ids.isna().any() or not ids.is_unique:
        raise ValueError(f"{id_field!r} must be unique and non-null to identify edited features")
    group = feature_group if feature_group is not None else _draw_group(m)
    columns = [id_field, *(f for f in fields if f != id_field)]
    frame = _to_4326(gdf[[*columns, gdf.geometry.name]])
    # Leaflet.draw cannot edit a MultiPolygon (no vertex handles appear): each part goes on the
    # map as its own Polygon carrying the same id; read_drawings unions them back
    frame = frame.explode(index_parts=False).reset_index(drop=True)
    data = json.loads(frame.to_json(drop_id=True, default=str))
    gj = folium.GeoJson(
        data,
        name=f"editable {id_field}",
        control=False,
        style=dict(style or EDIT_STYLE),
    )
    gj.add_to(group)
    tips = [id_field] if tooltip_fields is None else list(tooltip_fields)
    _MoveIntoGroup(gj, group, tips).add_to(group)
    return gj


def _lean_geojson(
    gdf: gpd.GeoDataFrame, kind: Iterable[str], precision: float | None
) -> dict[str, Any]:
    """A FeatureCollection with one property ``k`` per feature and coordinates on a grid."""
    geoms = _to_4326(gdf).geometry.to_numpy()
    if precision:
        geoms = shapely.set_precision(geoms, precision)
    features = [
        {"type": "Feature", "geometry": json.loads(g), "properties": {"k": k}}
        for g, k in zip(shapely.to_geojson(geoms), kind, strict=True)
        if g is not None and g != "null"
    ]
    features = [f for f in features if f["geometry"] and f["geometry"].get("coordinates")]
    return {"type": "FeatureCollection", "features": features}


def _style_js(styles: dict[str, dict[str, Any]], default: str) -> JsCode:
    return JsCode(
        "function (feature) { var s = "
        + json.dumps(styles, sort_keys=True)
        + "; return s[feature.properties.k] || s["
        + json.dumps(default)
        + "]; }"
    )


def add_vector_basemap(
    m: folium.Map,
    streets_gdf: gpd.GeoDataFrame | None,
    grids_gdf: gpd.GeoDataFrame | None,
    *,
    levels: Sequence[str] = LEVEL_ORDER,
    precision: float | None = 1e-6,
    name: str = "basemap",
) -> folium.FeatureGroup:
    """Draw the district's own streets and grid outlines as a lightweight basemap (no tiles).

    Parameters
    ----------
    m
        The map. Call this before adding editable layers; the basemap sits in its own pane
        (:data:`BASEMAP_PANE`, z-index 350) under every overlay anyway and takes no clicks.
    streets_gdf
        Street lines, EPSG:4326, optional column ``highway`` (``main`` / ``street`` /
        ``alley``, styled as in :mod:`gis.viz.palettes`). ``None`` or empty: no streets.
    grids_gdf
        Grid polygons, EPSG:4326, optional column ``level`` (``l1`` / ``l2`` / ``micro`` /
        ``dedicated``). ``None`` or empty: no outlines.
    levels
        Grid levels to draw, finest first (later ones draw on top).
    precision
        Coordinates are snapped to this grid, in degrees (1e-6 deg is about 0.1 m), to keep the
        page small; ``None`` keeps them as they are. Only the drawing is affected.
    name
        Name of the returned FeatureGroup (not listed in a LayerControl).

    Returns
    -------
    folium.FeatureGroup
        Holding one GeoJson layer for the streets and one for the grids. Each feature carries
        only a style key; no other property reaches the browser.
    """
    folium.map.CustomPane(BASEMAP_PANE, z_index=350, pointer_events=False).add_to(m)
    group = folium.FeatureGroup(name=name, control=False).add_to(m)
    common = {"pane": BASEMAP_PANE, "interactive": False, "control": False}
    if grids_gdf is not None and len(grids_gdf):
        level = (
            grids_gdf["level"].astype(str)
            if "level" in grids_gdf.columns
            else np.full(len(grids_gdf), "micro")
        )
        order = {lvl: i for i, lvl in enumerate(levels)}
        keep = np.array([lv in order for lv in level])
        part = grids_gdf[keep]
        kinds = np.asarray(level)[keep]
        rank = np.argsort([order[k] for k in kinds], kind="stable")
        styles = {}
        for lvl, st in LEVEL_STYLE.items():
            line, line_op = hex_and_opacity(st["line"])
            fill, fill_op = hex_and_opacity(st["fill"])
            styles[lvl] = {
                "color": line,
                "opacity": line_op,
                "weight": st["width"],
                "fill": fill_op > 0,
                "fillColor": fill,
                "fillOpacity": fill_op,
            }
        folium.GeoJson(
            _lean_geojson(part.iloc[rank], kinds[rank], precision),
            name=f"{name} grids",
            style=_style_js(styles, "micro"),
            **common,
        ).add_to(group)
    if streets_gdf is not None and len(streets_gdf):
        highway = (
            streets_gdf["highway"].astype(str)
            if "highway" in streets_gdf.columns
            else np.full(len(streets_gdf), "street")
        )
        styles = {}
        for kind, (rgba, width) in STREET_STYLE.items():
            color, op = hex_and_opacity(rgba)
            # pydeck widths are pixels of a 3D view; Leaflet lines look heavier, so 2/3
            styles[kind] = {
                "color": color,
                "opacity": op,
                "weight": round(width * 2 / 3, 2),
                "lineCap": "round",
            }
        folium.GeoJson(
            _lean_geojson(streets_gdf, np.asarray(highway), precision),
            name=f"{name} streets",
            style=_style_js(styles, "alley"),
            **common,
        ).add_to(group)
    return group


def read_drawings(
    drawings: Sequence[dict[str, Any]] | None, id_field: str = "code"
) -> tuple[dict[str, shapely.Geometry], list[shapely.Geometry]]:
    """Split ``st_folium``'s ``all_drawings`` into edited grids and newly drawn shapes.

    Parameters
    ----------
    drawings
        GeoJSON features as ``st_folium`` returns them (EPSG:4326; Leaflet writes 6 decimals,
        about 0.1 m). ``None`` (nothing drawn yet) is an empty list.
    id_field
        The property that identifies a feature put on the map with :func:`editable_geojson`.

    Returns
    -------
    (dict, list)
        ``{id: geometry}`` of the features that carry an id (edited or not; the parts of a
        multi-part grid, drawn as separate polygons, are unioned back), and the geometries of
        the features drawn by hand (no id), in drawing order. Geometries are
        repaired with ``make_valid`` only when invalid (a ring Leaflet closed on itself).
    """
    by_id: dict[str, shapely.Geometry] = {}
    new: list[shapely.Geometry] = []
    for feature in drawings or []:
        geom_json = feature.get("geometry")
        if not geom_json:
            continue
        geom = shape(geom_json)
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        ident = (feature.get("properties") or {}).get(id_field)
        if ident is None or ident == "":
            new.append(geom)
        elif str(ident) in by_id:
            by_id[str(ident)] = shapely.union(by_id[str(ident)], geom)
        else:
            by_id[str(ident)] = geom
    return by_id, new


def changed_geometries(
    edited: dict[str, shapely.Geometry],
    original: dict[str, shapely.Geometry],
    tolerance_deg: float = 1e-5,
) -> dict[str, shapely.Geometry]:
    """The edited geometries that really moved: Hausdorff distance above ``tolerance_deg``.

    Leaflet rounds to 6 decimals, so an untouched polygon comes back a few centimetres off;
    1e-5 degrees (about 1 m) separates a dragged vertex from rounding.
    """
    return {
        code: geom
        for code, geom in edited.items()
        if code in original and shapely.hausdorff_distance(geom, original[code]) > tolerance_deg
    }


#: Leaflet path styles of the grids around the one being edited, by their role
NEIGHBOUR_STYLES: dict[str, dict[str, Any]] = {
    "selected": {"color": "#c0392b", "weight": 3, "fillOpacity": 0.05, "dashArray": "6 4"},
    "parent": {"color": "#8e44ad", "weight": 3, "fillOpacity": 0.0},
    "sibling": {"color": "#e67e22", "weight": 1.5, "fillColor": "#f5cba7", "fillOpacity": 0.15},
    "child": {"color": "#7f8c8d", "weight": 1, "fillOpacity": 0.0, "dashArray": "3 3"},
    "other": {"color": "#95a5a6", "weight": 1, "fillOpacity": 0.0},
}


def neighbour_style(role: str) -> dict[str, Any]:
    """Leaflet style of a grid drawn around the edited one (``selected``, ``parent`` ...)."""
    return dict(NEIGHBOUR_STYLES.get(role, NEIGHBOUR_STYLES["other"]))
