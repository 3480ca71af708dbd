"""Drawing the offline basemap (:mod:`gis.viz.basemap`) under every map, and intranet tiles.

One style (:data:`BASEMAP_STYLE`: muted fills and lines, dark labels with a white halo, so the
analysis layers on top stay readable) drawn three ways from the same source layers:

- Leaflet maps: the vendored protomaps-leaflet reads ``/app/static/basemap/NAME.pmtiles`` with
  range requests and paints it on canvas; labels (street names along the streets, communities,
  places) go in a pane above the overlays. Text is drawn with the browser's own fonts (Noto Sans
  CJK, Microsoft YaHei ...): no glyph or font file is fetched. A layer switch chooses the
  vector basemap, the intranet tiles (when configured) or none, and the labels on or off.
- deck.gl maps (pydeck): two ``MVTLayer`` over ``/app/static/basemap/NAME/{z}/{x}/{y}.pbf``,
  the geometry under the analysis layers and the labels (deck.gl ``TextLayer`` with
  ``characterSet: "auto"``, again the browser's fonts) above them; the tiles are parsed by the
  vendored loaders.gl MVT worker (deck.gl would fetch it from a CDN).
- matplotlib (the map export, :mod:`gis.viz.export`) reads the source layers themselves.

Intranet tile servers (:class:`TileServer`, configured in :mod:`gis.core.settings`): an XYZ or
WMTS-KVP URL template with its attribution; GCJ-02 tiles are shifted onto the WGS-84 overlays
by the offset at the map's centre (a few metres of variation across a district).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import folium
import numpy as np
import pydeck as pdk
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

from gis.core.coords import wgs84_to_gcj02
from gis.core.settings import basemap_name, tile_server_settings
from gis.viz.basemap import MAX_ZOOM
from gis.viz.leaflet import STATIC_DIR, STATIC_URL, _links, vendor_url

#: where basemaps live under static/
BASEMAP_DIR = "basemap"
#: the vendored protomaps-leaflet (IIFE, global ``protomapsL``)
PROTOMAPS_JS = [("protomaps_leaflet", "vendor/protomaps-leaflet/protomaps-leaflet.js")]
#: the MVT parser worker of Streamlit's deck.gl (loaders.gl would fetch it from a CDN)
MVT_WORKER = "vendor/loaders.gl-mvt/mvt-worker.js"
#: Leaflet panes: the vector basemap under the overlays (400), its labels above them
BASE_PANE, LABEL_PANE = "gridlens-base", "gridlens-labels"
#: fonts for labels, the browser's own (Chinese first): nothing is downloaded
LABEL_FONTS = '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", "WenQuanYi Micro Hei", sans-serif'

#: the basemap's style per source layer and ``kind``: fill / line RGBA, line width (pixels)
BASEMAP_STYLE: dict[str, dict[str, dict[str, Any]]] = {
    "water": {"*": {"fill": [178, 210, 232, 255], "line": [150, 188, 216, 255], "width": 0.6}},
    "green": {"*": {"fill": [214, 231, 200, 255], "line": [196, 218, 180, 255], "width": 0.4}},
    "buildings": {"*": {"fill": [224, 219, 210, 255], "line": [204, 198, 188, 255], "width": 0.5}},
    "roads": {
        "main": {"line": [188, 182, 172, 255], "width": 6.0},
        "street": {"line": [204, 199, 190, 255], "width": 3.5},
        "alley": {"line": [218, 214, 207, 255], "width": 1.6},
        "*": {"line": [210, 206, 198, 255], "width": 2.5},
    },
    "boundaries": {"*": {"line": [150, 120, 150, 200], "width": 1.5}},
    "places": {
        "school": {"fill": [52, 120, 190, 255]},
        "hospital": {"fill": [200, 50, 60, 255]},
        "market": {"fill": [220, 140, 30, 255]},
        "*": {"fill": [110, 110, 110, 255]},
    },
}
#: label colours and sizes (pixels) per kind of label
LABEL_STYLE: dict[str, dict[str, Any]] = {
    "main": {"color": [60, 60, 60, 255], "size": 14},
    "street": {"color": [70, 70, 70, 255], "size": 13},
    "alley": {"color": [95, 95, 95, 255], "size": 11},
    "community": {"color": [110, 50, 110, 255], "size": 15},
    "place": {"color": [30, 60, 110, 255], "size": 12},
}
#: labels' white halo
HALO = [255, 255, 255, 230]


@dataclass(frozen=True)
class Basemap:
    """A built basemap under ``static/basemap/``: its PMTiles file and XYZ tile folder."""

    name: str
    pmtiles_url: str  # /app/static/basemap/NAME.pmtiles
    tiles_url: str  # /app/static/basemap/NAME/{z}/{x}/{y}.pbf
    path: Path


@dataclass(frozen=True)
class TileServer:
    """An intranet raster tile service (XYZ ``{z}/{x}/{y}`` or WMTS KVP with
    ``TileMatrix={z}&TileCol={x}&TileRow={y}``)."""

    url: str
    attribution: str
    crs: str = "wgs84"  # or "gcj02"
    max_zoom: int = 18

    @property
    def host(self) -> str:
        """``host[:port]`` of the service: the only one the offline check allows."""
        return urlsplit(self.url).netloc

    @property
    def leaflet_url(self) -> str:
        """The template with WMTS's names turned into Leaflet's ``{z}``/``{x}``/``{y}``."""
        return (
            self.url.replace("{TileMatrix}", "{z}")
            .replace("{TileCol}", "{x}")
            .replace("{TileRow}", "{y}")
        )


def find_basemap(
    name: str | None = None, *, static_dir: Path = STATIC_DIR, static_url: str = STATIC_URL
) -> Basemap | None:
    """The built basemap ``name`` (default: the configured one, ``GRIDLENS_BASEMAP``), or None
    when ``static/basemap/NAME.pmtiles`` does not exist yet."""
    name = name or basemap_name()
    path = static_dir / BASEMAP_DIR / f"{name}.pmtiles"
    if not path.is_file():
        return None
    base = f"{static_url.rstrip('/')}/{BASEMAP_DIR}/{name}"
    return Basemap(name, f"{base}.pmtiles", base + "/{z}/{x}/{y}.pbf", path)


def tile_server() -> TileServer | None:
    """The configured intranet tile service (``GRIDLENS_TILE_URL`` ...), or None."""
    conf = tile_server_settings()
    if not conf.get("url"):
        return None
    crs = conf.get("crs", "wgs84").lower().replace("-", "")
    if crs not in ("wgs84", "gcj02"):
        raise ValueError(f"GRIDLENS_TILE_CRS must be wgs84 or gcj02, not {crs!r}")
    return TileServer(
        conf["url"], conf.get("attribution", ""), crs, int(conf.get("max_zoom") or 18)
    )


def gcj_offset_deg(lon: float, lat: float) -> tuple[float, float]:
    """``(dlon, dlat)`` in degrees from WGS-84 to GCJ-02 at a point (about 300-600 m in
    China): a GCJ-02 tile shows the place at ``(lon, lat)`` at ``(lon + dlon, lat + dlat)``."""
    x, y = wgs84_to_gcj02(np.array([lon]), np.array([lat]))
    return float(x[0] - lon), float(y[0] - lat)


# ---- deck.gl ------------------------------------------------------------------------------


def _rgba(c: list[int]) -> str:
    return "[" + ", ".join(str(int(v)) for v in c) + "]"


def _by_kind(field: str, rules: dict[str, dict[str, Any]], default: Any, fmt=_rgba) -> str:
    """A deck.gl JSON expression choosing a value by ``properties.kind`` (nested ternaries)."""
    expr = fmt(rules.get("*", {}).get(field, default))
    for kind, rule in rules.items():
        if kind != "*" and field in rule:
            expr = f"properties.kind === {json.dumps(kind)} ? {fmt(rule[field])} : ({expr})"
    return expr


def _by_layer(field: str, default: Any, fmt=_rgba) -> str:
    expr = fmt(default)
    for layer, rules in BASEMAP_STYLE.items():
        inner = _by_kind(field, rules, default, fmt)
        expr = f"properties.layerName === {json.dumps(layer)} ? ({inner}) : ({expr})"
    return expr


def deck_basemap_layers(
    basemap: Basemap, static_url: str = STATIC_URL
) -> tuple[list[pdk.Layer], list[pdk.Layer]]:
    """The basemap as deck.gl layers: ``(under, over)`` the analysis layers.

    ``under`` draws water, green, buildings, roads, community boundaries and place dots;
    ``over`` the labels (street and community names, place names) with a white halo.
    """
    common = {
        "min_zoom": 10,
        "max_zoom": MAX_ZOOM,
        "binary": False,
        "pickable": False,
    }
    worker = vendor_url(MVT_WORKER, static_url)
    under = pdk.Layer(
        "MVTLayer",
        data=basemap.tiles_url,
        id="basemap",
        load_options={"mvt": {"layers": list(BASEMAP_STYLE), "workerUrl": worker}},
        filled=True,
        stroked=True,
        get_fill_color=_by_layer("fill", [0, 0, 0, 0]),
        get_line_color=_by_layer("line", [0, 0, 0, 0]),
        get_line_width=_by_layer("width", 0, fmt=lambda v: str(float(v))),
        get_point_radius=4,
        point_radius_units="'pixels'",
        line_width_units="'pixels'",
        line_cap_rounded=True,
        line_joint_rounded=True,
        point_type="'circle'",
        **common,
    )
    size = (
        "properties.kind === 'community' ? {c} : (properties.road === 'main' ? {m} : "
        "(properties.road === 'alley' ? {a} : {s}))"
    ).format(
        c=LABEL_STYLE["community"]["size"],
        m=LABEL_STYLE["main"]["size"],
        a=LABEL_STYLE["alley"]["size"],
        s=LABEL_STYLE["street"]["size"],
    )
    color = (
        f"properties.kind === 'community' ? {_rgba(LABEL_STYLE['community']['color'])} : "
        f"(properties.layerName === 'places' ? {_rgba(LABEL_STYLE['place']['color'])} : "
        f"{_rgba(LABEL_STYLE['street']['color'])})"
    )
    over = pdk.Layer(
        "MVTLayer",
        data=basemap.tiles_url,
        id="basemap-labels",
        load_options={"mvt": {"layers": ["labels", "places"], "workerUrl": worker}},
        point_type="'text'",
        get_text="properties.name",
        get_text_size=size,
        get_text_color=color,
        get_text_pixel_offset="properties.layerName === 'places' ? [0, -12] : [0, 0]",
        text_character_set="'auto'",
        text_font_family=f"'{LABEL_FONTS.replace(chr(34), '')}'",
        text_font_settings={"sdf": True, "fontSize": 40, "buffer": 6},
        text_outline_width=3,
        text_outline_color=HALO,
        text_size_units="'pixels'",
        text_billboard=True,
        stroked=False,
        filled=False,
        **common,
    )
    return [under], [over]


def with_basemap(layers: list[pdk.Layer], basemap: Basemap | None) -> list[pdk.Layer]:
    """``layers`` between the basemap's geometry and its labels; without a basemap, as given.

    The district's own street layer (id ``streets``, :func:`gis.viz.layers.street_layer`) is
    dropped when the basemap draws the streets.
    """
    if basemap is None:
        return list(layers)
    under, over = deck_basemap_layers(basemap)
    own = [layer for layer in layers if getattr(layer, "id", None) != "streets"]
    return [*under, *own, *over]


# ---- Leaflet ------------------------------------------------------------------------------


def _hex(c: list[int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(v) for v in c[:3]))


def leaflet_style() -> dict[str, Any]:
    """The style as plain data for the protomaps-leaflet rules built in the browser."""
    paint = []
    for layer, rules in BASEMAP_STYLE.items():
        for kind, rule in rules.items():
            entry: dict[str, Any] = {"layer": layer, "kind": kind}
            if "fill" in rule:
                entry["fill"] = _hex(rule["fill"])
                entry["fillOpacity"] = round(rule["fill"][3] / 255, 3)
            if "line" in rule:
                entry["line"] = _hex(rule["line"])
                entry["lineOpacity"] = round(rule["line"][3] / 255, 3)
                entry["width"] = rule.get("width", 1)
            paint.append(entry)
    labels = {k: {"color": _hex(v["color"]), "size": v["size"]} for k, v in LABEL_STYLE.items()}
    return {"paint": paint, "labels": labels, "halo": _hex(HALO), "fonts": LABEL_FONTS}


class VectorBasemap(JSCSSMixin, MacroElement):
    """protomaps-leaflet layers (basemap + labels) and a layer switch on a folium map."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var S = {{ this.style|tojson }};
            var P = window.protomapsL;
            map.createPane("{{ this.base_pane }}").style.zIndex = 250;
            var lp = map.createPane("{{ this.label_pane }}");
            lp.style.zIndex = 450; lp.style.pointerEvents = "none";
            function pick(layer) {
                var own = {}, fallback = null;
                S.paint.forEach(function (r) {
                    if (r.layer !== layer) return;
                    if (r.kind === "*") fallback = r; else own[r.kind] = r;
                });
                return function (f) { return own[f.props.kind] || fallback; };
            }
            var paint = [];
            ["water", "green", "buildings"].forEach(function (layer) {
                var rule = pick(layer);
                paint.push({dataLayer: layer, symbolizer: new P.PolygonSymbolizer({
                    fill: function (z, f) { return rule(f).fill; },
                    opacity: function (z, f) { return rule(f).fillOpacity; },
                    stroke: function (z, f) { return rule(f).line; },
                    width: function (z, f) { return rule(f).width; }})});
            });
            ["roads", "boundaries"].forEach(function (layer) {
                var rule = pick(layer);
                paint.push({dataLayer: layer, symbolizer: new P.LineSymbolizer({
                    color: function (z, f) { return rule(f).line; },
                    opacity: function (z, f) { return rule(f).lineOpacity; },
                    width: function (z, f) {
                        return rule(f).width * Math.pow(2, Math.min(0, z - 16) / 2); },
                    lineCap: "round", lineJoin: "round"})});
            });
            var place = pick("places");
            paint.push({dataLayer: "places", symbolizer: new P.CircleSymbolizer({
                radius: 4, fill: function (z, f) { return place(f).fill; },
                stroke: "#ffffff", width: 1.5})});
            var L_ = S.labels;
            function road(f) { return L_[f.props.road] || L_.street; }
            var labels = [
                {dataLayer: "labels", filter: function (z, f) { return f.props.kind === "community"; },
                 symbolizer: new P.CenteredTextSymbolizer({
                    fontFamily: S.fonts, fontWeight: 600, fontSize: L_.community.size,
                    fill: L_.community.color, stroke: S.halo, width: 3})},
                {dataLayer: "places", symbolizer: new P.OffsetTextSymbolizer({
                    fontFamily: S.fonts, fontSize: L_.place.size,
                    fill: L_.place.color, stroke: S.halo, width: 3, offsetY: 6})},
                {dataLayer: "roads", minzoom: 14, symbolizer: new P.LineLabelSymbolizer({
                    fontFamily: S.fonts,
                    fontSize: function (z, f) { return (L_[f.props.kind] || L_.street).size; },
                    fill: function (z, f) { return (L_[f.props.kind] || L_.street).color; },
                    stroke: S.halo, width: 3, repeatDistance: 400})},
                {dataLayer: "labels", maxzoom: 13, filter: function (z, f) { return f.props.kind === "street" && f.props.road === "main"; },
                 symbolizer: new P.CenteredTextSymbolizer({
                    fontFamily: S.fonts, fontSize: function (z, f) { return road(f).size; },
                    fill: function (z, f) { return road(f).color; }, stroke: S.halo, width: 3})}
            ];
            var opts = {url: {{ this.url|tojson }}, maxDataZoom: {{ this.max_data_zoom }},
                        attribution: {{ this.attribution|tojson }}};
            var base = P.leafletLayer(Object.assign({}, opts, {
                paintRules: paint, labelRules: [], pane: "{{ this.base_pane }}"}));
            var text = P.leafletLayer(Object.assign({}, opts, {
                paintRules: [], labelRules: labels, pane: "{{ this.label_pane }}",
                attribution: ""}));
            var bases = {}, overlays = {};
            bases[{{ this.names.vector|tojson }}] = base;
            {% if this.tiles %}
            var T = {{ this.tiles|tojson }};
            var tiles = L.tileLayer(T.url, {attribution: T.attribution, maxZoom: 20,
                maxNativeZoom: T.max_zoom, pane: "{{ this.base_pane }}"});
            if (T.dlon || T.dlat) {
                // GCJ-02 tiles: a place at WGS-84 (lon, lat) is drawn at (lon+dlon, lat+dlat);
                // move the tiles back by that offset in pixels at every zoom
                var shift = function () {
                    var c = map.getCenter();
                    var a = map.project(c), b = map.project([c.lat + T.dlat, c.lng + T.dlon]);
                    var el = tiles.getContainer();
                    if (el) el.style.transform = "translate(" + (a.x - b.x) + "px," + (a.y - b.y) + "px)";
                };
                tiles.on("load tileload", shift); map.on("zoomend", shift);
            }
            bases[{{ this.names.tiles|tojson }}] = tiles;
            {% endif %}
            bases[{{ this.names.none|tojson }}] = L.layerGroup();
            overlays[{{ this.names.labels|tojson }}] = text;
            bases[{{ this.names[this.initial] |tojson }}].addTo(map);
            text.addTo(map);
            window.gridlensBasemap = {base: base, labels: text, map: map};
            L.control.layers(bases, overlays, {position: "topright", collapsed: true}).addTo(map);
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        basemap: Basemap,
        tiles: TileServer | None,
        names: dict[str, str],
        initial: str,
        center: tuple[float, float],
    ):
        super().__init__()
        self._name = "GridLensVectorBasemap"
        self.url = basemap.pmtiles_url
        self.max_data_zoom = MAX_ZOOM
        self.style = leaflet_style()
        self.base_pane, self.label_pane = BASE_PANE, LABEL_PANE
        self.names = names
        self.initial = initial
        self.attribution = "GridLens"
        self.tiles = None
        if tiles is not None:
            dlon, dlat = gcj_offset_deg(center[1], center[0]) if tiles.crs == "gcj02" else (0, 0)
            self.tiles = {
                "url": tiles.leaflet_url,
                "attribution": tiles.attribution,
                "max_zoom": tiles.max_zoom,
                "dlon": dlon,
                "dlat": dlat,
            }


#: layer switch names when the caller gives none
DEFAULT_NAMES = {"vector": "矢量底图", "tiles": "内网地图", "none": "无底图", "labels": "标注"}


def add_leaflet_basemap(
    m: folium.Map,
    basemap: Basemap | None = None,
    *,
    tiles: TileServer | None = None,
    names: dict[str, str] | None = None,
    initial: str = "vector",
    static_url: str | None = None,
) -> VectorBasemap | None:
    """Draw the PMTiles basemap (and the intranet tiles, when configured) under a Leaflet map.

    Parameters
    ----------
    m
        A map from :func:`gis.viz.leaflet.offline_map`.
    basemap
        From :func:`find_basemap`; None: nothing is added (the district's own vector basemap,
        :func:`gis.viz.leaflet.add_vector_basemap`, still works).
    tiles
        An intranet tile service (:func:`tile_server`) offered in the layer switch.
    names
        Names in the layer switch, keys ``vector, tiles, none, labels`` (the page's language).
    initial
        The base layer shown first: ``vector``, ``tiles`` or ``none``.

    Returns
    -------
    VectorBasemap or None
    """
    if basemap is None:
        return None
    static_url = static_url or getattr(m, "gridlens_static_url", STATIC_URL)
    center = tuple(m.location) if m.location else (0.0, 0.0)
    element = VectorBasemap(basemap, tiles, {**DEFAULT_NAMES, **(names or {})}, initial, center)
    element.default_js = _links(PROTOMAPS_JS, static_url)
    element.add_to(m)
    return element
