"""The app shell shared by every page: language, sign-in and roles, navigation, global filters,
and cached data loaders.

This is the only module besides the pages that imports Streamlit. Pages call ``ui.page(...)``
first; it enforces the page's permission, so a page is refused even when its URL is typed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import streamlit as st

from gis import auth, i18n, store
from gis.grids import assign_points
from gis.reports import render_briefing_html, write_briefing_excel

USER_KEY = "gridlens_user"
FILTERS_KEY = "gridlens_filters"


# --------------------------------------------------------------------------- language
def lang() -> str:
    """The current language (``zh`` by default)."""
    return st.session_state.get("lang", i18n.DEFAULT_LANG)


def t(key: str, **fmt) -> str:
    """Catalogue text in the current language."""
    return i18n.t(key, lang(), **fmt)


def language_switch() -> None:
    """The zh/en switch at the top of the sidebar; every label follows it."""
    st.sidebar.radio(
        i18n.t("app.language", lang()),
        options=list(i18n.LANGS),
        format_func=lambda code: {"zh": "中文", "en": "English"}[code],
        horizontal=True,
        key="lang",
    )


def keyed_choice(widget, label: str, options: list, key: str, default, **kw):
    """A choice widget whose labels follow the language and whose value survives the switch.

    Streamlit keeps a keyed widget's old labels when ``format_func`` changes, so the widget is
    keyed per language and its value is carried in ``session_state[key]``.
    """
    value = st.session_state.get(key, default)
    if widget is st.multiselect or getattr(widget, "__name__", "") == "multiselect":
        out = widget(label, options, default=value, key=f"{key}_{lang()}", **kw)
    else:
        index = options.index(value) if value in options else options.index(default)
        out = widget(label, options, index=index, key=f"{key}_{lang()}", **kw)
    st.session_state[key] = out
    return out


def fmt_int(value) -> str:
    return f"{int(value):,}"


def fmt_date(value) -> str:
    """Dates as the language writes them: 2026年10月31日 / 31 Oct 2026."""
    ts = pd.Timestamp(value)
    return f"{ts.year}年{ts.month}月{ts.day}日" if lang() == "zh" else ts.strftime("%d %b %Y")


# --------------------------------------------------------------------------- data
@st.cache_resource(show_spinner=False)
def engine():
    """One engine per process (``GRIDLENS_DB`` or the default SpatiaLite file)."""
    return store.open_store()


@st.cache_data(show_spinner=False)
def grids():
    return store.read_grids(engine())


@st.cache_data(show_spinner=False)
def streets():
    return store.read_frame(engine(), "streets")


@st.cache_data(show_spinner=False)
def staff():
    return store.read_table(engine(), "staff")


@st.cache_data(show_spinner=False)
def taxonomy():
    return store.read_table(engine(), "taxonomy")


@st.cache_data(show_spinner=False)
def departments():
    return store.read_table(engine(), "departments")


@st.cache_data(show_spinner=False)
def district() -> dict:
    return store.get_meta(engine(), "district", {}) or {}


@st.cache_data(show_spinner=False)
def incidents() -> pd.DataFrame:
    """All incidents with their micro-grid and ancestors (assigned once, then cached)."""
    frame = store.read_incidents(engine())
    assigned = assign_points(frame.geometry, grids())
    out = pd.DataFrame(frame.drop(columns="geometry"))
    out[["micro", "l2", "l1"]] = assigned
    out["lon"] = frame.geometry.x.to_numpy()
    out["lat"] = frame.geometry.y.to_numpy()
    return out


@st.cache_data(show_spinner=False)
def grid_report(sliver_m2: float = 50.0):
    """The validation report of the current hierarchy (``grids.validate_hierarchy``)."""
    from gis.grids import validate_hierarchy

    return validate_hierarchy(grids(), sliver_m2=sliver_m2)


def refresh_incidents() -> None:
    """Forget everything cached that depends on the incidents (after an import)."""
    for loader in (incidents, incidents_shared, incident_mask, import_history, intake_check):
        loader.clear()
    for loader in (hotspot_unit_index, hotspot_units, hotspot_kde, hotspot_detail):
        loader.clear()
    for loader in (patrol_view, patrol_route):
        loader.clear()


def refresh_grids() -> None:
    """Forget everything cached that depends on the grids (after a save, restore or import)."""
    for loader in (grids, incidents, grid_report, staff, incidents_shared):
        loader.clear()
    for loader in (hotspot_unit_frame, hotspot_unit_index, incident_mask):
        loader.clear()
    for loader in (hotspot_units, hotspot_kde, hotspot_detail):
        loader.clear()
    for loader in (rect_zones, rect_briefing, rect_briefing_html, rect_briefing_xlsx):
        loader.clear()


@st.cache_resource(show_spinner=False)
def incidents_shared() -> pd.DataFrame:
    """``incidents()`` as one shared frame (no copy per call: 1M rows cost ~1 s to copy).
    Read-only by contract; for the cached analyses below, which select from it."""
    return incidents()


def incident_points():
    """The incidents as a GeoDataFrame of points (EPSG:4326), for impact previews."""
    import geopandas as gpd

    inc = incidents()
    return gpd.GeoDataFrame(
        inc[["external_id", "category_code", "occurred_at"]],
        geometry=gpd.points_from_xy(inc["lon"], inc["lat"]),
        crs=4326,
    )


#: grid export formats: label -> (file suffix, MIME type)
GRID_EXPORT_FORMATS = {
    "GeoJSON": (".geojson", "application/geo+json"),
    "GeoPackage": (".gpkg", "application/geopackage+sqlite3"),
    "Shapefile (zip)": (".zip", "application/zip"),
    "Excel (WKT)": (".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "CSV (WKT)": (".csv", "text/csv"),
}


def grid_export(fmt: str, level: str | None) -> tuple[bytes, str, str]:
    """The current grids (optionally one level) as a file: ``(bytes, file name, MIME type)``."""
    import tempfile

    from gis.grids import export_grids

    suffix, mime = GRID_EXPORT_FORMATS[fmt]
    frame = grids()
    if level:
        frame = frame[frame["level"] == level]
    name = f"grids_{level or 'all'}{suffix}"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        if suffix == ".zip":  # a Shapefile is several files: send them zipped
            import zipfile

            shp = export_grids(frame, Path(tmp) / "shp" / f"grids_{level or 'all'}.shp")
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                for part in sorted(shp.parent.iterdir()):
                    zf.write(part, part.name)
        else:
            export_grids(frame, path)
        return path.read_bytes(), name, mime


def uploaded_file(upload) -> Path:
    """Write a Streamlit upload to a temporary file that keeps its name (the suffix picks the
    reader); the same upload gives the same path, so reruns do not pile up copies."""
    import hashlib
    import tempfile

    data = upload.getvalue()
    folder = (
        Path(tempfile.gettempdir()) / "gridlens_uploads" / hashlib.sha256(data).hexdigest()[:16]
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(upload.name).name
    if not path.exists():
        path.write_bytes(data)
    if path.suffix.lower() == ".zip":  # a zipped Shapefile (or one GeoPackage/GeoJSON/CSV)
        return _unzipped(path)
    return path


#: what a zip upload may hold, in order of preference
_ZIP_MEMBERS = (".shp", ".gpkg", ".geojson", ".json", ".csv", ".xlsx")


def _unzipped(path: Path) -> Path:
    """Extract ``path`` beside itself; the Shapefile (else other data file) inside it."""
    import zipfile

    from gis.core.errors import InputError

    out = path.parent / "unzipped"
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/") and "__MACOSX" not in n]
            if not out.exists():
                for n in names:  # flat: a member's folders are dropped (no path escapes)
                    target = out / Path(n).name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(zf.read(n))
    except zipfile.BadZipFile as exc:
        raise InputError(f"{path.name}: not a readable zip file") from exc
    for suffix in _ZIP_MEMBERS:
        found = sorted(p for p in out.iterdir() if p.suffix.lower() == suffix)
        if found:
            return found[0]
    raise InputError(f"{path.name}: no .shp, .gpkg, .geojson, .csv or .xlsx inside")


@st.cache_data(show_spinner=False)
def file_columns(path: str) -> tuple[list[str], int]:
    """The attribute columns of a vector or table file and its row count (for field mapping)."""
    from gis.io import read_geo_file

    frame, _ = read_geo_file(path)
    return [c for c in frame.columns if c != frame.geometry.name], len(frame)


def category_name(code: str) -> str:
    names = taxonomy().set_index("code")[f"name_{lang()}"]
    return names.get(code, code)


def department_name(code: str) -> str:
    names = departments().set_index("code")[f"name_{lang()}"]
    return names.get(code, code)


def level_name(level: str) -> str:
    return t(f"level.{level}")


# --------------------------------------------------------------------------- sign-in and roles
def current_user() -> auth.User | None:
    """The signed-in user, the desktop admin when sign-in is off, else None.

    Opens the database first, so a database problem is reported before anyone signs in.
    """
    engine()
    if not auth.auth_enabled():
        return auth.current_desktop_user()
    user = st.session_state.get(USER_KEY)
    if user is None:
        return None
    # re-read: a disabled account or changed role takes effect at once
    fresh = auth.get_user(engine(), user.username)
    if fresh is None or not fresh.active:
        st.session_state.pop(USER_KEY, None)
        return None
    st.session_state[USER_KEY] = fresh  # whatever was put in the session, the database decides
    return fresh


def sign_in_page() -> None:
    """The sign-in form (the only page a visitor who is not signed in can reach)."""
    st.title(t("signin.title"))
    st.caption(t("signin.caption"))
    with st.form("signin"):
        username = st.text_input(t("signin.username"), key="signin_username")
        password = st.text_input(t("signin.password"), type="password", key="signin_password")
        submitted = st.form_submit_button(t("signin.submit"), type="primary")
    if submitted:
        user = auth.authenticate(engine(), username.strip(), password)
        if user is None:
            st.error(t("signin.failed"))
        else:
            st.session_state[USER_KEY] = user
            st.rerun()


def sign_out() -> None:
    st.session_state.pop(USER_KEY, None)


def user_box(user: auth.User) -> None:
    """Who is signed in, with their role, and the sign-out button."""
    st.sidebar.markdown(f"**{user.label}** · {t('role.' + user.role)}")
    if auth.auth_enabled():
        st.sidebar.button(t("signin.signout"), on_click=sign_out, key="signout")


def page(action: str = "view") -> auth.User:
    """Call first on every page: stops the page unless the user may ``action``."""
    user = current_user()
    if user is None or not auth.can(user, action):
        st.error(t("auth.denied"))
        st.stop()
    return user


# --------------------------------------------------------------------------- global filters
@dataclass(frozen=True)
class Filters:
    """The sidebar filters every page applies: period, categories, sources, grid."""

    start: pd.Timestamp
    end: pd.Timestamp  # exclusive
    categories: tuple[str, ...]
    sources: tuple[str, ...]
    grid_code: str | None


SOURCES = ("patrol", "hotline", "camera", "wechat", "referral")


def sidebar_filters() -> Filters:
    """Render the global filters in the sidebar; their values are kept across pages."""
    inc = incidents()
    if inc.empty:
        today = date.today()
        first = last = today
    else:
        first = inc["occurred_at"].min().date()
        last = inc["occurred_at"].max().date()
    st.sidebar.subheader(t("filters.title"))
    default = (max(first, last - timedelta(days=89)), last)
    period = st.sidebar.date_input(
        t("filters.period"),
        value=st.session_state.get("flt_period", default),
        min_value=first,
        max_value=last,
        key="flt_period_widget",
    )
    if isinstance(period, tuple) and len(period) == 2:
        st.session_state["flt_period"] = period
    start, end = st.session_state.get("flt_period", default)
    tax = taxonomy()
    cats = st.sidebar.multiselect(
        t("filters.categories"),
        options=list(tax["code"]),
        default=st.session_state.get("flt_categories", []),
        format_func=lambda c: f"{c} {category_name(c)}",
        key=f"flt_categories_{lang()}",
        placeholder=t("filters.all"),
    )
    st.session_state["flt_categories"] = cats
    srcs = st.sidebar.multiselect(
        t("filters.sources"),
        options=list(SOURCES),
        default=st.session_state.get("flt_sources", []),
        format_func=lambda s: t(f"source.{s}"),
        key=f"flt_sources_{lang()}",
        placeholder=t("filters.all"),
    )
    st.session_state["flt_sources"] = srcs
    g = grids()
    regular = g[g["level"] != "dedicated"].sort_values(["level", "code"])
    order = {"l1": 0, "l2": 1, "micro": 2}
    regular = regular.assign(o=regular["level"].map(order)).sort_values(["o", "code"])
    options = [""] + list(regular["code"])
    names = dict(zip(regular["code"], regular["name"], strict=True))
    levels = dict(zip(regular["code"], regular["level"], strict=True))
    current = st.session_state.get("flt_grid", "")
    grid_code = st.sidebar.selectbox(
        t("filters.grid"),
        options=options,
        index=options.index(current) if current in options else 0,
        format_func=lambda c: (
            t("filters.all_grids") if not c else f"{names[c]} · {level_name(levels[c])} · {c}"
        ),
        key=f"flt_grid_{lang()}",
    )
    st.session_state["flt_grid"] = grid_code
    return Filters(
        start=pd.Timestamp(start),
        end=pd.Timestamp(end) + pd.Timedelta(days=1),
        categories=tuple(cats),
        sources=tuple(srcs),
        grid_code=grid_code or None,
    )


def filters() -> Filters:
    """The filters as last set in the sidebar (``app.py`` renders them before the page runs)."""
    return st.session_state[FILTERS_KEY]


def keyed_value(widget, label: str, key: str, default, **kw):
    """A value widget (checkbox, number input ...) whose label follows the language and whose
    value survives the switch (as ``keyed_choice``: keyed per language, value in state)."""
    value = st.session_state.get(key, default)
    out = widget(label, value=value, key=f"{key}_{lang()}", **kw)
    st.session_state[key] = out
    return out


# --------------------------------------------------------------------------- hotspots
# Cached analysis for the Hotspots page, keyed by plain filter values. The point -> unit index
# is computed once per unit choice; a filter change then only masks and re-counts.
@st.cache_data(show_spinner=False)
def hotspot_unit_frame(by: str, within: str | None = None):
    """The analysis units (``hotspots_view.make_units``) of ``by`` in the district or grid."""
    from gis import hotspots_view

    return hotspots_view.make_units(by, grids(), within)


@st.cache_data(show_spinner=False)
def hotspot_unit_index(by: str, within: str | None = None):
    """Row of ``hotspot_unit_frame(by, within)`` of every incident of ``incidents()``."""
    from gis import hotspots

    inc = incidents_shared()
    return hotspots.unit_index(inc[["lon", "lat"]].to_numpy(), hotspot_unit_frame(by, within))


@st.cache_data(show_spinner=False)
def incident_mask(start, end, categories: tuple, sources: tuple, grid_code: str | None):
    """Which rows of ``incidents()`` pass the filters (``dashboard.filter_incidents``)."""
    import numpy as np

    from gis import dashboard

    inc = incidents_shared()
    sub = dashboard.filter_incidents(
        inc,
        start=start,
        end=end,
        categories=categories,
        sources=sources,
        grid_code=grid_code,
        grids=grids(),
    )
    mask = np.zeros(len(inc), dtype=bool)
    mask[inc.index.get_indexer(sub.index)] = True
    return mask


@st.cache_data(show_spinner=False)
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
    """Counts, Gi* (and local Moran, emerging patterns on demand) per unit for the filters.

    Returns the frame of ``hotspots_view.analyse`` (plus ``pattern`` etc. with
    ``emerging_step``); ``attrs`` carry the band chosen.
    """
    from gis import hotspots_view

    mask = incident_mask(start, end, categories, sources, grid_code)
    units = hotspot_unit_frame(by, grid_code)
    counted = hotspots_view.count_from_index(hotspot_unit_index(by, grid_code), units, mask)
    out = hotspots_view.analyse(
        counted, weights=weights, band_m=band_m, value=value, lisa=lisa, permutations=permutations
    )
    if emerging_step:
        out = hotspots_view.add_emerging(
            out,
            units,
            incidents_shared()[["lon", "lat", "occurred_at"]][mask],
            step=emerging_step,
            start=start,
            end=end,
            weights=weights,
            band_m=out.attrs.get("band_m"),
        )
    return out


@st.cache_data(show_spinner=False)
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
    "max_km2", "n"}``."""
    from gis import hotspots, viz

    mask = incident_mask(start, end, categories, sources, grid_code)
    pts = incidents_shared()[["lon", "lat"]].to_numpy()[mask]
    g = grids()
    area = g[g["code"] == grid_code] if grid_code else hotspots.study_area(g)
    if len(pts) == 0:
        return {"n": 0}
    res = hotspots.kde(pts, kernel=kernel, bandwidth_m=bandwidth_m, extent=area)
    image, bounds = viz.kde_image(res)
    return {
        "image": image,
        "bounds": bounds,
        "bandwidth_m": res.bandwidth_m,
        "bandwidth_rule": res.bandwidth_rule,
        "cell_m": res.cell_m,
        "max_km2": float(res.density_km2.max()),
        "n": res.n_points,
    }


@st.cache_data(show_spinner=False)
def hotspot_detail(
    by: str,
    unit_id: str,
    start,
    end,
    categories: tuple = (),
    sources: tuple = (),
    grid_code: str | None = None,
) -> dict:
    """``hotspots_view.unit_detail`` of one unit's filtered incidents."""
    import numpy as np

    from gis import hotspots_view

    units = hotspot_unit_frame(by, grid_code)
    pos = np.flatnonzero(units["unit_id"].astype(str).to_numpy() == str(unit_id))
    in_unit = hotspot_unit_index(by, grid_code) == (pos[0] if len(pos) else -2)
    mask = incident_mask(start, end, categories, sources, grid_code) & in_unit
    any_time = incident_mask(None, None, categories, sources, grid_code) & in_unit
    inc = incidents_shared()
    coverage = (inc["occurred_at"].min(), inc["occurred_at"].max())
    return hotspots_view.unit_detail(
        inc[mask], history=inc[any_time], start=start, end=end, coverage=coverage
    )


# --------------------------------------------------------------------------- patrol
@st.cache_resource(show_spinner=False)
def patrol_tracks():
    """All patrol fixes in the store, cleaned (district: the level-1 grids), interpolated every
    15 s and as segments (``patrol.TrackData``); None without fixes. Shared read-only."""
    from gis import patrol

    fixes = store.read_fixes(engine())
    if fixes.empty:
        return None
    g = grids()
    l1 = g[g["level"] == "l1"]
    return patrol.track_data(fixes, district=l1 if len(l1) else g)


@st.cache_data(show_spinner=False)
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
    as risk; the staff who have tracks when ``with_staff``)."""
    from gis import dashboard, patrol

    data = patrol_tracks()
    inc = dashboard.filter_incidents(
        incidents(), start=start, end=end, categories=categories, sources=sources
    )
    people = None
    if with_staff:
        s = staff()
        people = s[s["staff_code"].isin(set(data.clean.fixes["staff_code"]))]
    return patrol.patrol_view(
        data.samples,
        grids(),
        inc,
        units=units,
        streets=streets(),
        segs=data.segs,
        staff=people,
        start=start,
        end=end,
        shift=shift,
    )


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
    from gis import patrol

    view = patrol_view("grid:micro", start, end, shift, categories, sources, True)
    return patrol.route_for_staff(
        view.gaps.ranked, staff_code, staff(), grids(), budget_s=budget_min * 60, streets=streets()
    )


# --------------------------------------------------------------------------- data (intake)
@st.cache_data(show_spinner=False, max_entries=8)
def intake_preview(path: str, overrides: tuple[tuple[str, str | None], ...] = ()):
    """``incidents.detect`` of an uploaded file with the store's grids and aliases."""
    from gis.incidents import detect

    return detect(path, mapping=dict(overrides), engine=engine())


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
    from gis.incidents import import_incidents

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


@st.cache_data(show_spinner=False)
def import_history(limit: int = 200) -> pd.DataFrame:
    """The last imports (``import_batches``), newest first: ``id, kind, file_name,
    imported_by, imported_at, total, imported, rejected, details`` (JSON text)."""
    import sqlalchemy as sa

    with engine().connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, kind, file_name, imported_by, imported_at, total, imported, rejected,"
                " details FROM import_batches ORDER BY imported_at DESC, id DESC LIMIT :n"
            ),
            {"n": int(limit)},
        ).fetchall()
    cols = ["id", "kind", "file_name", "imported_by", "imported_at", "total", "imported"]
    frame = pd.DataFrame.from_records(rows, columns=[*cols, "rejected", "details"])
    frame["imported_at"] = pd.to_datetime(frame["imported_at"])
    return frame


#: incident export formats: label -> (file suffix, MIME type)
INCIDENT_EXPORT_FORMATS = {
    "CSV": (".csv", "text/csv"),
    "Excel": (".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "GeoJSON": (".geojson", "application/geo+json"),
    "GeoPackage": (".gpkg", "application/geopackage+sqlite3"),
}


def incidents_file(
    frame: pd.DataFrame, fmt: str, crs: str, language: str, taxonomy: pd.DataFrame
) -> bytes:
    """Incidents of ``ui.incidents()`` (``lon``/``lat`` columns, WGS-84) as an export file
    (``incidents.export_incidents``): coordinates in ``crs`` (``wgs84``/``gcj02``), category
    names in ``language``. No Streamlit call: usable as a deferred download."""
    import tempfile

    import geopandas as gpd

    from gis.incidents import export_incidents

    suffix, _ = INCIDENT_EXPORT_FORMATS[fmt]
    geo = gpd.GeoDataFrame(
        frame.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
        crs=4326,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"incidents{suffix}"
        export_incidents(geo, path, crs=crs, lang=language, taxonomy=taxonomy)
        return path.read_bytes()


# --------------------------------------------------------------------------- rectification
# Cached analysis for the Joint rectification page (``gis.planning``), keyed by plain values:
# the unit choice and the filters; an area as the hex WKB of its polygon or a tuple of grid codes.
def store_taxonomy() -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The store's taxonomy and departments, or ``(None, None)`` for the CSV defaults (as the
    ``gridlens zones | brief`` commands)."""
    tax, deps = taxonomy(), departments()
    if tax.empty or deps.empty:
        return None, None
    return tax, deps


def incident_geoframe(mask):
    """The rows of ``incidents()`` picked by a boolean mask, as points (EPSG:4326)."""
    import geopandas as gpd

    rows = incidents_shared()[mask]
    return gpd.GeoDataFrame(
        rows.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(rows["lon"], rows["lat"]),
        crs=4326,
    )


@st.cache_data(show_spinner=False)
def rect_zones(
    by: str,
    start,
    end,
    categories: tuple = (),
    sources: tuple = (),
    grid_code: str | None = None,
):
    """``planning.propose_zones`` on the Gi* of ``hotspot_units(by, ...)`` and the incidents of
    the filters, the trend over ``(start, end)``; ranked, with ``reason_zh`` / ``reason_en``."""
    from gis import planning

    units = hotspot_units(by, start, end, categories, sources, grid_code)
    mask = incident_mask(start, end, categories, sources, grid_code)
    tax, deps = store_taxonomy()
    return planning.propose_zones(
        units, incident_geoframe(mask), taxonomy=tax, departments=deps, period=(start, end)
    )


def area_key(area) -> str | tuple[str, ...]:
    """The cache key of an area: hex WKB of a geometry (exact, unlike WKT), or grid codes."""
    import shapely

    if isinstance(area, shapely.Geometry):
        return shapely.to_wkb(area, hex=True)
    return tuple(str(c) for c in area)


def _area_value(key: str | tuple[str, ...]):
    import shapely

    return list(key) if isinstance(key, tuple) else shapely.from_wkb(bytes.fromhex(key))


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
    from gis import planning

    tax, deps = store_taxonomy()
    return planning.briefing(
        _area_value(area),
        incident_geoframe(incident_mask(start, end, categories, sources, None)),
        grids=grids(),
        staff=staff(),
        taxonomy=tax,
        departments=deps,
        period=(start, end),
        title=title,
    )


@st.cache_data(show_spinner=False, max_entries=16)
def rect_briefing_html(area, start, end, categories, sources, title, lang_code: str) -> bytes:
    """The self-contained HTML briefing (``gis.reports.render_briefing_html``), UTF-8."""
    brief = rect_briefing(area, start, end, categories, sources, title)
    return render_briefing_html(brief, lang_code).encode()


@st.cache_data(show_spinner=False, max_entries=16)
def rect_briefing_xlsx(area, start, end, categories, sources, title, lang_code: str) -> bytes:
    """The briefing's tables as an Excel workbook (``gis.reports.write_briefing_excel``)."""
    import tempfile

    brief = rect_briefing(area, start, end, categories, sources, title)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_briefing_excel(brief, Path(tmp) / "briefing.xlsx", lang=lang_code)
        return path.read_bytes()


def rect_plans():
    """The saved plans (``planning.list_plans``), read fresh: a save shows at once."""
    from gis import planning

    return planning.list_plans(engine())


@st.cache_data(show_spinner=False, max_entries=64)
def rect_plan_evaluation(
    plan_id: int, period_end, buffer_m: float = 300.0, categories: tuple[str, ...] = ()
):
    """``planning.evaluate_plan`` of a plan whose period is over (the page checks), on all
    incidents or only ``categories``: a plan's area and period do not change, so its id and end
    are the key."""
    from gis import planning

    return planning.evaluate_plan(
        engine(),
        int(plan_id),
        buffer_m=buffer_m,
        categories=list(categories) or None,
        as_of=period_end,
    )
