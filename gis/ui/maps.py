"""The basemap under every map: the sidebar's basemap switch and the page's choice applied to
the deck.gl and Leaflet maps (:mod:`gis.viz.mapstyle`)."""

from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd
import streamlit as st

from gis import store, viz
from gis.ui.cache import engine, grids, streets
from gis.ui.language import lang, t
from gis.ui.widgets import keyed_choice

BASEMAP_KEY = "gridlens_basemap"


def basemap_choices() -> list[str]:
    """``vector`` (when built), ``tiles`` (when an intranet service is configured), ``none``."""
    out = []
    if viz.find_basemap() is not None:
        out.append("vector")
    if viz.tile_server() is not None:
        out.append("tiles")
    return [*out, "none"]


def basemap_switch() -> str:
    """The basemap choice in the sidebar (kept across pages and the language switch)."""
    options = basemap_choices()
    if options == ["none"]:
        st.session_state[BASEMAP_KEY] = "none"
        return "none"
    return keyed_choice(
        st.sidebar.radio,
        t("map.basemap"),
        options,
        BASEMAP_KEY,
        options[0],
        format_func=lambda k: t(f"map.basemap.{k}"),
        horizontal=True,
    )


def basemap() -> viz.Basemap | None:
    """The vector basemap for a deck.gl map, None when switched off or not built.

    deck.gl maps draw the vector basemap for the ``tiles`` choice too (the intranet raster
    tiles are offered on the Leaflet maps).
    """
    if st.session_state.get(BASEMAP_KEY, "vector") == "none":
        return None
    return viz.find_basemap()


def leaflet_basemap(
    m: folium.Map, streets: gpd.GeoDataFrame | None, grids: gpd.GeoDataFrame | None
) -> None:
    """Add the basemap and its layer switch to a Leaflet map (names in the page's language),
    and the grid outlines; the district's own street lines only where no basemap is built
    (:func:`gis.viz.leaflet.add_vector_basemap`)."""
    bm = viz.find_basemap()
    viz.add_vector_basemap(m, streets if bm is None else None, grids)
    choice = st.session_state.get(BASEMAP_KEY, "vector")
    names = {k: t(f"map.basemap.{k}") for k in ("vector", "tiles", "none", "labels")}
    tiles = viz.tile_server()
    if bm is None:
        return
    initial = choice if choice in ("vector", "none") or tiles is not None else "vector"
    viz.add_leaflet_basemap(m, bm, tiles=tiles, names=names, initial=initial)


@st.cache_data(show_spinner=False)
def basemap_source_layers() -> dict:
    """The basemap's source layers (streets, communities, places) for the map export."""
    eng = engine()
    return viz.district_layers(streets(), grids(), store.read_frame(eng, "places"))


def export_panel(
    units: gpd.GeoDataFrame,
    colors: list,
    legend: list,
    *,
    title: str,
    legend_title: str,
    start,
    end,
    categories=(),
    sources=(),
    grid_code: str | None = None,
    key: str = "map_export",
) -> None:
    """A button that draws the page's map for print (PNG 300 dpi and PDF, in the page's
    language) and its two download buttons (:func:`gis.viz.export.export_map`)."""
    everything = t("export.all")
    subtitle = (
        t("export.period", start=f"{start:%Y-%m-%d}", end=f"{end - pd.Timedelta(days=1):%Y-%m-%d}")
        + " · "
        + t(
            "export.filters",
            cats=", ".join(categories) or everything,
            srcs=", ".join(sources) or everything,
            grid=grid_code or everything,
        )
    )
    if st.button(t("export.make"), key=f"{key}_make"):
        kw = dict(
            title=title,
            subtitle=subtitle,
            legend_title=legend_title,
            source=t("export.source"),
            date=f"{pd.Timestamp.now():%Y-%m-%d}",
            lang=lang(),
            basemap_layers=basemap_source_layers(),
        )
        st.session_state[key] = {
            "png": viz.export_map(units, colors, legend, fmt="png", **kw),
            "pdf": viz.export_map(units, colors, legend, fmt="pdf", **kw),
        }
    made = st.session_state.get(key)
    if made:
        c = st.columns(2)
        c[0].download_button(t("export.png"), made["png"], f"{key}.png", "image/png")
        c[1].download_button(t("export.pdf"), made["pdf"], f"{key}.pdf", "application/pdf")
