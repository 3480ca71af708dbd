"""Drawing analysis results, offline: palettes, pydeck layers, Leaflet maps, charts, checks.

- :mod:`gis.viz.palettes` the one palette set (grid levels, streets, YlOrRd, Gi* bins, local
  Moran classes, emerging patterns, ranks) shared by the pages, the reports and the notebooks,
  with HTML legends and ``#rrggbb`` helpers
- :mod:`gis.viz.layers` pydeck layers and decks with no map provider
- :mod:`gis.viz.leaflet` folium maps that load only the vendored Leaflet (editing, drawing)
- :mod:`gis.viz.basemap` the offline vector basemap: the district's and a city's layers as
  PMTiles (tippecanoe) and XYZ tiles under ``static/basemap/``
- :mod:`gis.viz.mapstyle` drawing that basemap under the Leaflet and deck.gl maps (one style,
  labels in the browser's Chinese fonts, a layer switch) and intranet tile services
- :mod:`gis.viz.charts` Altair charts (the hour x weekday heat map)
- :mod:`gis.viz.checks` checking rendered HTML: no external URL, no missing static file

Nothing here queries the database or calls Streamlit.
"""

from gis.viz.basemap import (
    SOURCE_LAYERS,
    BasemapInfo,
    build_basemap,
    district_layers,
    merge_layers,
    read_city_layer,
)
from gis.viz.charts import hour_weekday_chart
from gis.viz.checks import allowed_hosts, assert_offline_html, external_urls, missing_static_files
from gis.viz.export import MapFigure, draw_map, export_map
from gis.viz.layers import (
    choropleth_layer,
    deck,
    grid_features,
    grid_layers,
    h3_layer,
    kde_image,
    kde_layer,
    polygon_layer,
    route_layers,
    street_layer,
    unit_features,
    units_layer,
    view_for,
)
from gis.viz.leaflet import (
    BACKGROUND,
    BASEMAP_PANE,
    DEFAULT_DRAW_OPTIONS,
    DEFAULT_EDIT_OPTIONS,
    DRAW_CSS,
    DRAW_JS,
    EDIT_STYLE,
    LEAFLET_CSS,
    LEAFLET_JS,
    NEIGHBOUR_STYLES,
    STATIC_DIR,
    STATIC_URL,
    add_draw,
    add_vector_basemap,
    changed_geometries,
    editable_geojson,
    neighbour_style,
    offline_map,
    read_drawings,
    vendor_url,
)
from gis.viz.mapstyle import (
    BASEMAP_STYLE,
    LABEL_STYLE,
    Basemap,
    TileServer,
    add_leaflet_basemap,
    deck_basemap_layers,
    find_basemap,
    gcj_offset_deg,
    tile_server,
    with_basemap,
)
from gis.viz.palettes import (
    GI_BIN_ALPHA,
    GI_BIN_COLORS,
    GI_BIN_RGB,
    LEVEL_ORDER,
    LEVEL_STYLE,
    LISA_COLORS,
    PATTERN_COLORS,
    STREET_STYLE,
    YL_OR_RD,
    choropleth_colors,
    class_breaks,
    class_colors,
    gi_bin_colors,
    hex_and_opacity,
    hex_color,
    hex_palette,
    legend_html,
    ramp_legend_html,
    ramp_rgb,
    rank_colors,
)

__all__ = [
    # palettes
    "GI_BIN_ALPHA",
    "GI_BIN_COLORS",
    "GI_BIN_RGB",
    "LEVEL_ORDER",
    "LEVEL_STYLE",
    "LISA_COLORS",
    "PATTERN_COLORS",
    "STREET_STYLE",
    "YL_OR_RD",
    "choropleth_colors",
    "class_breaks",
    "class_colors",
    "gi_bin_colors",
    "hex_and_opacity",
    "hex_color",
    "hex_palette",
    "legend_html",
    "ramp_legend_html",
    "ramp_rgb",
    "rank_colors",
    # pydeck layers
    "choropleth_layer",
    "deck",
    "grid_features",
    "grid_layers",
    "h3_layer",
    "kde_image",
    "kde_layer",
    "polygon_layer",
    "route_layers",
    "street_layer",
    "unit_features",
    "units_layer",
    "view_for",
    # Leaflet maps
    "BACKGROUND",
    "BASEMAP_PANE",
    "DEFAULT_DRAW_OPTIONS",
    "DEFAULT_EDIT_OPTIONS",
    "DRAW_CSS",
    "DRAW_JS",
    "EDIT_STYLE",
    "LEAFLET_CSS",
    "LEAFLET_JS",
    "NEIGHBOUR_STYLES",
    "STATIC_DIR",
    "STATIC_URL",
    "add_draw",
    "add_vector_basemap",
    "changed_geometries",
    "editable_geojson",
    "neighbour_style",
    "offline_map",
    "read_drawings",
    "vendor_url",
    # offline basemap
    "SOURCE_LAYERS",
    "BasemapInfo",
    "build_basemap",
    "district_layers",
    "merge_layers",
    "read_city_layer",
    "BASEMAP_STYLE",
    "LABEL_STYLE",
    "Basemap",
    "TileServer",
    "add_leaflet_basemap",
    "deck_basemap_layers",
    "find_basemap",
    "gcj_offset_deg",
    "tile_server",
    "with_basemap",
    # map export
    "MapFigure",
    "draw_map",
    "export_map",
    # charts
    "hour_weekday_chart",
    # checks
    "allowed_hosts",
    "assert_offline_html",
    "external_urls",
    "missing_static_files",
]
