"""The cached loaders of the app: the store's frames, and the pages' analyses keyed by plain
filter values (period, categories, sources, grid, unit choice), so a rerun with the same
filters costs nothing.

Each loader says which stored data it depends on (``@depends_on("incidents", "grids")``);
:func:`clear_caches` forgets every loader that depends on what changed (after an import, a grid
edit). The loaders only call the library (``gis.store``, ``gis.grids``, ``gis.hotspots_view``,
``gis.patrol``, ``gis.planning`` ...); the analysis itself lives there.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import streamlit as st

from gis import hotspots, patrol, planning, store, viz
from gis.core.geometry import as_area
from gis.grids import descendants, validate_hierarchy
from gis.incidents import detect, import_incidents
from gis.io import read_geo_file
from gis.reports import render_briefing_html, write_briefing_excel
from gis.store import cube as store_cube
from gis.store.batches import read_import_batches
from gis.store.incidents import select_incidents
from gis.taxonomy import category_mask
from gis.ui.language import lang
from gis.views import aggregates
from gis.views import home as dashboard
from gis.views import hotspots as hotspots_view

#: how far around the hot units the rectification zones read incidents (degrees, about 30 m)
ZONE_MARGIN_DEG = 0.0003
#: what a page may change in the store, and the loaders to forget when it does
DEPENDENCIES: dict[str, list[Callable]] = {"incidents": [], "grids": []}


def depends_on(*kinds: str) -> Callable[[Callable], Callable]:
    """Register a cached loader as depending on the stored ``kinds`` (``incidents``,
    ``grids``): :func:`clear_caches` of one of them clears it. Put it above ``st.cache_*``."""
    unknown = set(kinds) - set(DEPENDENCIES)
    if unknown:
        raise ValueError(f"unknown kinds of stored data: {sorted(unknown)}")

    def register(loader: Callable) -> Callable:
        for kind in kinds:
            DEPENDENCIES[kind].append(loader)
        return loader

    return register


def clear_caches(*kinds: str) -> None:
    """Forget everything cached that depends on ``kinds`` (all of them when none is given):
    ``clear_caches("incidents")`` after an import, ``clear_caches("grids")`` after a grid save,
    restore or import."""
    for kind in kinds or tuple(DEPENDENCIES):
        for loader in DEPENDENCIES[kind]:
            loader.clear()


# --------------------------------------------------------------------------- the store's frames
@st.cache_resource(show_spinner=False)
def engine():
    """One engine per process (``GRIDLENS_DB`` or the default SpatiaLite file)."""
    return store.open_store()


@depends_on("grids")
@st.cache_data(show_spinner=False)
def grids():
    """The grids in force (``store.read_grids``)."""
    return store.read_grids(engine())


@st.cache_data(show_spinner=False)
def streets():
    """The district's streets (the offline basemap)."""
    return store.read_frame(engine(), "streets")


@depends_on("grids")
@st.cache_data(show_spinner=False)
def staff():
    """The grid staff (each assigned to a grid)."""
    return store.read_table(engine(), "staff")


@st.cache_data(show_spinner=False)
def taxonomy():
    """The incident categories (``code``, ``name_zh``, ``name_en`` ...)."""
    return store.read_table(engine(), "taxonomy")


@st.cache_data(show_spinner=False)
def departments():
    """The departments (``code``, ``name_zh``, ``name_en`` ...)."""
    return store.read_table(engine(), "departments")


@st.cache_data(show_spinner=False)
def district() -> dict:
    """The district's description stored with the data (names in both languages ...)."""
    return store.get_meta(engine(), "district", {}) or {}


# --------------------------------------------------------------------------- the incident cube
# Pages read the store's incident cube, never every incident. Every loader below is keyed on the
# filters and on the store's change counter (``data_version``), so a write made anywhere (this
# app, the command line, another session) is seen at the next rerun; the cube itself is one
# shared resource per unit family and version, its size bounded by units x days x categories.
def data_version() -> int:
    """The store's change counter (``gis.store.cube.data_version``): one small query."""
    return store_cube.data_version(engine())


@depends_on("incidents", "grids")
@st.cache_resource(show_spinner=False, max_entries=6)
def _cube(kind: str, version: int) -> store_cube.Cube:
    return store_cube.load_cube(engine(), kind)


def cube(kind: str) -> store_cube.Cube:
    """The store's incident cube of one unit family (``grid``, ``h3``, ``fishnet``), shared
    between sessions and read-only; reloaded when the store's ``data_version`` changes."""
    return _cube(kind, data_version())


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False, max_entries=4)
def _fishnet_epsg(version: int) -> int | None:
    value = store.get_meta(engine(), "fishnet_epsg")
    return int(value) if value is not None else None


def fishnet_epsg() -> int | None:
    """The metric CRS (EPSG) of the stored fishnet keys; None in an empty store."""
    return _fishnet_epsg(data_version())


@depends_on("incidents")
@st.cache_data(show_spinner=False, max_entries=4)
def _time_range(version: int) -> tuple:
    return store.incident_time_range(engine())


def incident_time_range() -> tuple:
    """First and last ``occurred_at`` stored (``(None, None)`` without incidents)."""
    return _time_range(data_version())


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False, max_entries=64)
def _home_summary(start, end, categories, sources, grid_code, version):
    return dashboard.cube_summary(cube("grid"), start, end, categories, sources, grid_code, grids())


def home_summary(start, end, categories: tuple = (), sources: tuple = (), grid_code=None):
    """``gis.views.home.cube_summary`` for the filters: this week against last, the incidents
    in the filters and the daily trend, from the cube."""
    return _home_summary(start, end, categories, sources, grid_code, data_version())


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False, max_entries=64)
def _home_closure(this_start, end, categories, sources, grid_code, version):
    weeks = dashboard.Weeks(this_start=this_start, end=end)
    tax = taxonomy()
    lo, hi = dashboard.closure_window(weeks, tax)
    flt = aggregates.cube_filter(None, None, categories, sources, grid_code, grids())
    rows = select_incidents(
        engine(),
        ("category_code", "status", "reported_at", "closed_at"),
        start=lo,
        end=hi,
        time_column="reported_at",
        sources=flt.sources,
        micros=flt.micros,
        not_null=("status",),
    )
    rows = rows[category_mask(rows["category_code"], list(categories))]
    return dashboard.on_time_closure(rows, tax, weeks.this_start, weeks.end)


def home_closure(weeks, categories: tuple = (), sources: tuple = (), grid_code=None) -> dict:
    """``gis.views.home.on_time_closure`` of this week, on the few cases that can fall due in
    it (``closure_window``) read from the store."""
    return _home_closure(
        weeks.this_start, weeks.end, categories, sources, grid_code, data_version()
    )


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False, max_entries=64)
def _home_grid_counts(level, start, end, categories, sources, grid_code, version):
    flt = aggregates.cube_filter(start, end, categories, sources, grid_code, grids())
    return dashboard.cube_grid_counts(cube("grid"), flt, grids(), level)


def home_rates(level: str, start, end, categories: tuple = (), sources: tuple = (), grid_code=None):
    """``gis.views.home.grid_rates`` of ``level`` for the filters, counted from the cube."""
    counts = _home_grid_counts(level, start, end, categories, sources, grid_code, data_version())
    return dashboard.rates_from_counts(grids(), counts, level)


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False, max_entries=64)
def _home_card(code, start, end, categories, sources, grid_code, version):
    g = grids()
    flt = aggregates.cube_filter(start, end, categories, sources, grid_code, g)
    by_cat = dashboard.cube_card_categories(cube("grid"), flt, code, g)
    return dashboard.grid_card(code, g, staff(), by_category=by_cat)


def home_card(code: str, start, end, categories: tuple = (), sources: tuple = (), grid_code=None):
    """``gis.views.home.grid_card`` of one grid for the filters, its categories from the cube."""
    return _home_card(code, start, end, categories, sources, grid_code, data_version())


@depends_on("grids")
@st.cache_data(show_spinner=False)
def grid_report(sliver_m2: float = 50.0):
    """The validation report of the current hierarchy (``grids.validate_hierarchy``)."""
    return validate_hierarchy(grids(), sliver_m2=sliver_m2)


def impact_incidents(result) -> gpd.GeoDataFrame:
    """The incidents a grid edit (a ``gis.grids.edit.EditResult``) can move, as points
    (EPSG:4326), for ``gis.grids.edit.impact_preview``: those stored in a micro-grid at or below
    a grid the edit touched (in the hierarchy before or after it) and those stored outside every
    grid (an edit may take them in), read by ``select_incidents``, never every incident."""
    before = grids()
    micros: set[str] = set()
    for code in result.touched:
        micros |= descendants(code, before) | descendants(code, result.grids)
    rows = select_incidents(
        engine(),
        ("external_id", "category_code", "occurred_at"),
        micros=tuple(sorted(micros)),
        outside_grids=True,
        with_lonlat=True,
    )
    return gpd.GeoDataFrame(
        rows.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(rows["lon"], rows["lat"]),
        crs=4326,
    )


@st.cache_resource(show_spinner=False, max_entries=8)
def _names(table: str, language: str) -> dict[str, str]:
    """``code -> name`` of the taxonomy or the departments in a language, shared read-only
    between sessions (a page names thousands of rows: one dict lookup each, no unpickling).
    Like :func:`taxonomy` and :func:`departments`, read once per server."""
    frame = taxonomy() if table == "taxonomy" else departments()
    if frame.empty:
        return {}
    return dict(zip(frame["code"].astype(str), frame[f"name_{language}"], strict=True))


def category_name(code: str) -> str:
    """A category's name in the language (the code itself when unknown)."""
    return _names("taxonomy", lang()).get(code, code)


def category_names(codes: Iterable[str]) -> list[str]:
    """The names of many categories in the language (each code itself when unknown)."""
    names = _names("taxonomy", lang())
    return [names.get(c, c) for c in codes]


def department_name(code: str) -> str:
    """A department's name in the language (the code itself when unknown)."""
    return _names("departments", lang()).get(code, code)


def store_taxonomy() -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The store's taxonomy and departments, or ``(None, None)`` for the CSV defaults (as the
    ``gridlens zones | brief`` commands)."""
    tax, deps = taxonomy(), departments()
    if tax.empty or deps.empty:
        return None, None
    return tax, deps


@st.cache_data(show_spinner=False)
def file_columns(path: str) -> tuple[list[str], int]:
    """The attribute columns of a vector or table file and its row count (for field mapping)."""
    frame, _ = read_geo_file(path)
    return [c for c in frame.columns if c != frame.geometry.name], len(frame)


# --------------------------------------------------------------------------- hotspots
# Cached analysis for the Hotspots page, keyed by plain filter values, on the incident cube.
@depends_on("grids")
@st.cache_data(show_spinner=False)
def hotspot_unit_frame(by: str, within: str | None = None):
    """The analysis units (``hotspots_view.make_units``) of ``by`` in the district or grid."""
    return hotspots_view.make_units(by, grids(), within)


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False, max_entries=64)
def _hotspot_units(
    by, start, end, categories, sources, grid_code, weights, band_m, value, lisa, permutations,
    emerging_step, version,
):  # fmt: skip
    units = hotspot_unit_frame(by, grid_code)
    g = grids()
    flt = aggregates.cube_filter(start, end, categories, sources, grid_code, g)
    family = cube(aggregates.cube_kind(by))
    epsg = fishnet_epsg()
    counted = aggregates.unit_counts(family, flt, units, by, g, fishnet_epsg=epsg)
    out = hotspots_view.analyse(
        counted, weights=weights, band_m=band_m, value=value, lisa=lisa, permutations=permutations
    )
    if emerging_step:
        stc = aggregates.space_time_counts(
            family, flt, units, by, step=emerging_step, start=start, end=end, grids=g,
            fishnet_epsg=epsg,
        )  # fmt: skip
        out = hotspots_view.emerging_from_cube(
            out, units, stc, weights=weights, band_m=out.attrs.get("band_m")
        )
    return out


def hotspot_units(
    by: str,
    start,
    end,
    categories: tuple = (),
    sources: tuple = (),
    grid_code: str | None = None,
    weights: str = "queen",
    band_m: float | None = None,
    value: str = "count",
    lisa: bool = False,
    permutations: int | None = 9999,
    emerging_step: str | None = None,
):
    """Counts, Gi* (and local Moran, emerging patterns on demand) per unit for the filters,
    counted from the store's incident cube (``gis.views.aggregates``).

    Returns the frame of ``hotspots_view.analyse`` (plus ``pattern`` etc. with
    ``emerging_step``); ``attrs`` carry the band chosen.
    """
    return _hotspot_units(
        by, start, end, tuple(categories), tuple(sources), grid_code, weights, band_m, value,
        lisa, permutations, emerging_step, data_version(),
    )  # fmt: skip


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False, max_entries=16)
def _hotspot_period_counts(by, edges, categories, sources, grid_code, version):
    units = hotspot_unit_frame(by, grid_code)
    g = grids()
    flt = aggregates.cube_filter(None, None, categories, sources, grid_code, g)
    return aggregates.unit_period_counts(
        cube(aggregates.cube_kind(by)), flt, units, by, pd.DatetimeIndex(list(edges)), g,
        fishnet_epsg=fishnet_epsg(),
    )  # fmt: skip


def hotspot_period_counts(
    by: str,
    edges,
    categories: tuple = (),
    sources: tuple = (),
    grid_code: str | None = None,
) -> np.ndarray:
    """Incidents per unit of ``hotspot_unit_frame(by, grid_code)`` (rows, in its order) and
    period (columns: days ``[edges[t], edges[t + 1])``, midnights) from the incident cube: the
    frames of a time playback (``aggregates.unit_period_counts``), cached per filters and
    ``data_version``."""
    key = tuple(pd.Timestamp(e) for e in edges)
    return _hotspot_period_counts(
        by, key, tuple(categories), tuple(sources), grid_code, data_version()
    )


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False, max_entries=32)
def _hotspot_kde(start, end, categories, sources, grid_code, kernel, bandwidth_m, version):
    g = grids()
    epsg = fishnet_epsg()
    flt = aggregates.cube_filter(start, end, categories, sources, grid_code, g)
    pts, weights = (
        aggregates.binned_points(cube("fishnet"), flt, epsg) if epsg else (np.zeros((0, 2)), [])
    )
    area = g[g["code"] == grid_code] if grid_code else hotspots.study_area(g)
    if len(pts) == 0:
        return {"n": 0}
    res = hotspots.kde(pts, kernel=kernel, bandwidth_m=bandwidth_m, extent=area, weights=weights)
    image, bounds = viz.kde_image(res)
    return {
        "image": image,
        "bounds": bounds,
        "bandwidth_m": res.bandwidth_m,
        "bandwidth_rule": res.bandwidth_rule,
        "cell_m": res.cell_m,
        "max_km2": float(res.density_km2.max()),
        "n": int(np.sum(weights)),
    }


def hotspot_kde(
    start,
    end,
    categories: tuple = (),
    sources: tuple = (),
    grid_code: str | None = None,
    kernel: str = "gaussian",
    bandwidth_m: float | None = None,
) -> dict:
    """Kernel density of the filtered incidents over the district (or the filter's grid) and
    its heat-map image: ``{"image", "bounds", "bandwidth_m", "bandwidth_rule", "cell_m",
    "max_km2", "n"}``. The incidents come binned on the cube's 50-m fishnet (a cell's
    incidents at its centre), which the kernel's bandwidth of a few hundred metres smooths
    over."""
    return _hotspot_kde(
        start, end, tuple(categories), tuple(sources), grid_code, kernel, bandwidth_m,
        data_version(),
    )  # fmt: skip


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False, max_entries=32)
def _hotspot_detail(by, unit_id, start, end, categories, sources, grid_code, version):
    g = grids()
    flt = aggregates.cube_filter(start, end, categories, sources, grid_code, g)
    rows = select_incidents(
        engine(),
        ("category_code", "source", "occurred_at", "address", "grid_code"),
        sources=flt.sources,
        **aggregates.unit_selection(by, unit_id, g),
    )
    keep = category_mask(rows["category_code"], list(categories))
    if flt.micros is not None:
        keep &= rows["grid_code"].isin(flt.micros).to_numpy()
    history = rows[keep]
    t = history["occurred_at"]
    in_period = history[(t >= pd.Timestamp(start)) & (t < pd.Timestamp(end))]
    first, last = incident_time_range()
    coverage = (pd.Timestamp(first), pd.Timestamp(last)) if first is not None else None
    return hotspots_view.unit_detail(
        in_period, history=history, start=start, end=end, coverage=coverage
    )


def hotspot_detail(
    by: str,
    unit_id: str,
    start,
    end,
    categories: tuple = (),
    sources: tuple = (),
    grid_code: str | None = None,
) -> dict:
    """``hotspots_view.unit_detail`` of one unit's filtered incidents: only that unit's rows
    are read from the store (by its stored keys, ``aggregates.unit_selection``)."""
    return _hotspot_detail(
        by, unit_id, start, end, tuple(categories), tuple(sources), grid_code, data_version()
    )


# --------------------------------------------------------------------------- patrol
@depends_on("grids")
@st.cache_resource(show_spinner=False)
def patrol_tracks():
    """All patrol fixes in the store, cleaned (district: the level-1 grids), interpolated every
    15 s and as segments (``patrol.TrackData``); None without fixes. Shared read-only."""
    fixes = store.read_fixes(engine())
    if fixes.empty:
        return None
    g = grids()
    l1 = g[g["level"] == "l1"]
    return patrol.track_data(fixes, district=l1 if len(l1) else g)


def patrol_view(
    units: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    shift: str | None,
    categories: tuple[str, ...],
    sources: tuple[str, ...],
    with_staff: bool,
):
    """``patrol.patrol_view`` for the filters (incidents of the period, categories and sources
    as risk, counted from the store's incident cube; the staff who have tracks when
    ``with_staff``), keyed on the filters and the store's ``data_version``."""
    return _patrol_view(
        units, start, end, shift, tuple(categories), tuple(sources), with_staff, data_version()
    )


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False, max_entries=32)
def _patrol_view(
    units: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    shift: str | None,
    categories: tuple[str, ...],
    sources: tuple[str, ...],
    with_staff: bool,
    version: int,
):
    data = patrol_tracks()
    flt = aggregates.cube_filter(start, end, categories, sources)

    def counts(units_frame, by: str):  # the risk per unit, from the incident cube
        return aggregates.category_unit_counts(cube(aggregates.cube_kind(by)), flt, by, grids())

    people = None
    if with_staff:
        s = staff()
        people = s[s["staff_code"].isin(set(data.clean.fixes["staff_code"]))]
    return patrol.patrol_view(
        data.samples,
        grids(),
        None,
        counts=counts,
        units=units,
        streets=streets(),
        segs=data.segs,
        staff=people,
        start=start,
        end=end,
        shift=shift,
    )


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False)
def patrol_route(
    staff_code: str,
    budget_min: int,
    start: pd.Timestamp,
    end: pd.Timestamp,
    shift: str | None,
    categories: tuple[str, ...],
    sources: tuple[str, ...],
):
    """``patrol.route_for_staff`` on the micro-grid gaps of the filters, along the streets."""
    view = patrol_view("grid:micro", start, end, shift, categories, sources, True)
    return patrol.route_for_staff(
        view.gaps.ranked, staff_code, staff(), grids(), budget_s=budget_min * 60, streets=streets()
    )


# --------------------------------------------------------------------------- data (intake)
@depends_on("grids")
@st.cache_data(show_spinner=False, max_entries=8)
def intake_preview(path: str, overrides: tuple[tuple[str, str | None], ...] = ()):
    """``incidents.detect`` of an uploaded file with the store's grids and aliases."""
    return detect(path, mapping=dict(overrides), engine=engine())


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False, max_entries=4)
def intake_check(
    path: str,
    overrides: tuple[tuple[str, str | None], ...],
    crs: str | None,
    tz: str,
    unknown: str,
    tolerance_m: float,
):
    """The dry run of an import (``import_incidents(..., dry_run=True)``): nothing written."""
    return import_incidents(
        engine(),
        path,
        mapping=dict(overrides),
        crs=crs,
        tz=tz,
        unknown=unknown,
        tolerance_m=tolerance_m,
        dry_run=True,
    )


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False)
def import_history(limit: int = 200) -> pd.DataFrame:
    """The last imports (``store.batches.read_import_batches``), newest first: ``id, kind,
    file_name, imported_by, imported_at, total, imported, rejected, details`` (JSON text)."""
    frame = read_import_batches(engine(), limit)
    frame["imported_at"] = pd.to_datetime(frame["imported_at"])
    return frame


# --------------------------------------------------------------------------- rectification
# Cached analysis for the Joint rectification page (``gis.planning``), keyed by plain values:
# the unit choice and the filters; an area as the hex WKB of its polygon or a tuple of grid codes.
def area_incidents(
    area, start, end, categories: tuple = (), sources: tuple = (), grid_code=None, *, zone=False
):
    """The filtered incidents that can lie in ``area`` (EPSG:4326), as points: read from the
    store for the micro-grids meeting the area only (``aggregates.area_selection``), never
    every incident. The caller's point-in-area test then picks the area's own."""
    g = grids()
    flt = aggregates.cube_filter(start, end, categories, sources, grid_code, g)
    rows = select_incidents(
        engine(),
        ("external_id", "category_code", "source", "status", "occurred_at", "address"),
        start=start,
        end=end,
        sources=flt.sources,
        with_lonlat=True,
        # a zone fills its small holes and is simplified by 2 m: read ~30 m around it as well
        **aggregates.area_selection(
            area, g, flt, fill_holes=zone, margin_deg=ZONE_MARGIN_DEG if zone else 0.0
        ),
    )
    rows = rows[category_mask(rows["category_code"], list(categories))]
    rows = rows[rows["lon"].notna()]
    return gpd.GeoDataFrame(
        rows.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(rows["lon"], rows["lat"]),
        crs=4326,
    )


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False, max_entries=32)
def _rect_zones(by, start, end, categories, sources, grid_code, version):
    units = hotspot_units(by, start, end, categories, sources, grid_code)
    hot = units.geometry[planning.hot_unit_mask(units)]
    if len(hot):
        near = area_incidents(
            hot.union_all(), start, end, categories, sources, grid_code, zone=True
        )
    else:
        near = gpd.GeoDataFrame(
            {"category_code": [], "occurred_at": pd.to_datetime([])},
            geometry=gpd.GeoSeries([], crs=4326),
        )
    tax, deps = store_taxonomy()
    return planning.propose_zones(
        units,
        near,
        taxonomy=tax,
        departments=deps,
        period=(start, end),
        district_incidents=int(units["count"].sum()),
    )


def rect_zones(
    by: str,
    start,
    end,
    categories: tuple = (),
    sources: tuple = (),
    grid_code: str | None = None,
):
    """``planning.propose_zones`` on the Gi* of ``hotspot_units(by, ...)`` (from the cube) and
    the incidents around the hot units (a narrow selection), the trend over ``(start, end)``;
    ranked, with ``reason_zh`` / ``reason_en``."""
    return _rect_zones(by, start, end, tuple(categories), tuple(sources), grid_code, data_version())


def area_key(area) -> str | tuple[str, ...]:
    """The cache key of an area: hex WKB of a geometry (exact, unlike WKT), or grid codes."""
    if isinstance(area, shapely.Geometry):
        return shapely.to_wkb(area, hex=True)
    return tuple(str(c) for c in area)


def _area_value(key: str | tuple[str, ...]):
    return list(key) if isinstance(key, tuple) else shapely.from_wkb(bytes.fromhex(key))


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False, max_entries=32)
def rect_briefing(
    area: str | tuple[str, ...],
    start,
    end,
    categories: tuple = (),
    sources: tuple = (),
    title: tuple[str, str] | None = None,
):
    """``planning.briefing`` of an area (``area_key``) on the incidents of the period,
    categories and sources (not the grid filter: the area is the place), with the grids and
    staff of the store."""
    tax, deps = store_taxonomy()
    value = _area_value(area)
    geom = value if isinstance(value, shapely.Geometry) else as_area(value, grids())
    return planning.briefing(
        value,
        area_incidents(geom, start, end, categories, sources),
        grids=grids(),
        staff=staff(),
        taxonomy=tax,
        departments=deps,
        period=(start, end),
        title=title,
    )


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False, max_entries=16)
def rect_briefing_html(area, start, end, categories, sources, title, lang_code: str) -> bytes:
    """The self-contained HTML briefing (``gis.reports.render_briefing_html``), UTF-8."""
    brief = rect_briefing(area, start, end, categories, sources, title)
    return render_briefing_html(brief, lang_code).encode()


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False, max_entries=16)
def rect_briefing_xlsx(area, start, end, categories, sources, title, lang_code: str) -> bytes:
    """The briefing's tables as an Excel workbook (``gis.reports.write_briefing_excel``)."""
    brief = rect_briefing(area, start, end, categories, sources, title)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_briefing_excel(brief, Path(tmp) / "briefing.xlsx", lang=lang_code)
        return path.read_bytes()


def rect_plans():
    """The saved plans (``planning.list_plans``), read fresh: a save shows at once."""
    return planning.list_plans(engine())


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False, max_entries=64)
def rect_plan_evaluation(
    plan_id: int, period_end, buffer_m: float = 300.0, categories: tuple[str, ...] = ()
):
    """``planning.evaluate_plan`` of a plan whose period is over (the page checks), on all
    incidents or only ``categories``: a plan's area and period do not change, so its id and end
    are the key."""
    return planning.evaluate_plan(
        engine(),
        int(plan_id),
        buffer_m=buffer_m,
        categories=list(categories) or None,
        as_of=period_end,
    )
