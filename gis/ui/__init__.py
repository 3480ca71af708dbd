"""Streamlit glue: the app shell, the language, the sidebar filters, the cached loaders, widgets,
files in and out, and the one error guard. The only ``gis`` package that imports Streamlit;
it sits above the whole library and below the pages.

- :mod:`gis.ui.shell` page setup, sign-in and roles, navigation, the page gate (``page``)
- :mod:`gis.ui.language` the language switch (``lang``, ``t``), numbers and dates in it
- :mod:`gis.ui.sidebar` the global sidebar filters (``filters``)
- :mod:`gis.ui.cache` the cached loaders (store frames, the pages' analyses) and ``clear_caches``
- :mod:`gis.ui.names` the cached human names of units and areas (``unit_labels``)
- :mod:`gis.ui.playback` time playback on the Hotspots page (frames from the incident cube)
- :mod:`gis.ui.maps` the map export panel, the basemap switch and the basemap under the deck.gl and Leaflet maps
- :mod:`gis.ui.widgets` widgets whose values survive the language switch
- :mod:`gis.ui.files` uploads to disk, grids and incidents as download files
- :mod:`gis.ui.errors` the one error guard (``guard``): library errors as one message, never a
  traceback (titiler's ``errors.py``: one map from exception class to response)

(No module is named after a function it exports, so ``gis.ui.lang``, ``gis.ui.filters`` and
``gis.ui.guard`` are always the functions.)

Pages use the package: ``from gis import ui``; ``ui.page("view")``, ``ui.t(...)``,
``ui.hotspot_units(...)``, ``with ui.guard(): ...``.
"""

from gis.ui.cache import (
    DEPENDENCIES,
    area_key,
    category_name,
    category_names,
    clear_caches,
    cube,
    data_version,
    department_name,
    departments,
    depends_on,
    district,
    engine,
    file_columns,
    fishnet_epsg,
    grid_report,
    grids,
    home_card,
    home_closure,
    home_rates,
    home_summary,
    hotspot_detail,
    hotspot_kde,
    hotspot_period_counts,
    hotspot_unit_frame,
    hotspot_units,
    impact_incidents,
    import_history,
    incident_time_range,
    intake_check,
    intake_preview,
    patrol_route,
    patrol_tracks,
    patrol_view,
    rect_briefing,
    rect_briefing_html,
    rect_briefing_xlsx,
    rect_plan_evaluation,
    rect_plans,
    rect_zones,
    staff,
    store_taxonomy,
    streets,
    taxonomy,
)
from gis.ui.errors import Guard, Outcome, guard, show_error
from gis.ui.files import (
    GRID_EXPORT_FORMATS,
    INCIDENT_EXPORT_FORMATS,
    csv_bytes,
    grid_export,
    incidents_file,
    uploaded_file,
)
from gis.ui.language import (
    fmt_date,
    fmt_int,
    lang,
    language_switch,
    level_name,
    md_text,
    t,
    t_plain,
)
from gis.ui.maps import basemap, basemap_switch, export_panel, leaflet_basemap
from gis.ui.names import area_labels, places, unit_labels
from gis.ui.playback import playback, playback_panel
from gis.ui.shell import (
    PAGES,
    TOKEN_KEY,
    TOKEN_PARAM,
    USER_KEY,
    current_user,
    page,
    run_app,
    sign_in_page,
    sign_out,
    user_box,
)
from gis.ui.sidebar import FILTERS_KEY, SOURCES, Filters, filters, sidebar_filters
from gis.ui.widgets import keyed_choice, keyed_value

__all__ = [
    # shell
    "PAGES",
    "TOKEN_KEY",
    "TOKEN_PARAM",
    "USER_KEY",
    "current_user",
    "page",
    "run_app",
    "sign_in_page",
    "sign_out",
    "user_box",
    # language
    "fmt_date",
    "fmt_int",
    "lang",
    "language_switch",
    "level_name",
    "t",
    "t_plain",
    "md_text",
    # filters
    "FILTERS_KEY",
    "SOURCES",
    "Filters",
    "filters",
    "sidebar_filters",
    # cache
    "DEPENDENCIES",
    "area_key",
    "category_name",
    "category_names",
    "clear_caches",
    "cube",
    "data_version",
    "department_name",
    "departments",
    "depends_on",
    "district",
    "engine",
    "file_columns",
    "grid_report",
    "fishnet_epsg",
    "grids",
    "home_card",
    "home_closure",
    "home_rates",
    "home_summary",
    "hotspot_detail",
    "hotspot_kde",
    "hotspot_period_counts",
    "hotspot_unit_frame",
    "hotspot_units",
    "import_history",
    "impact_incidents",
    "incident_time_range",
    "intake_check",
    "intake_preview",
    "patrol_route",
    "patrol_tracks",
    "patrol_view",
    "rect_briefing",
    "rect_briefing_html",
    "rect_briefing_xlsx",
    "rect_plan_evaluation",
    "rect_plans",
    "rect_zones",
    "staff",
    "store_taxonomy",
    "streets",
    "taxonomy",
    # names
    "area_labels",
    "places",
    "unit_labels",
    # the basemap under the maps
    "basemap",
    "basemap_switch",
    "leaflet_basemap",
    "export_panel",
    "playback",
    "playback_panel",
    # widgets
    "keyed_choice",
    "keyed_value",
    # files
    "GRID_EXPORT_FORMATS",
    "INCIDENT_EXPORT_FORMATS",
    "csv_bytes",
    "grid_export",
    "incidents_file",
    "uploaded_file",
    # guard
    "Guard",
    "Outcome",
    "guard",
    "show_error",
]
