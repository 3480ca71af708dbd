"""The basemap under every map: the sidebar's basemap switch and the page's choice applied to
the deck.gl and Leaflet maps (:mod:`gis.viz.mapstyle`)."""

from __future__ import annotations

import folium
import geopandas as gpd
import streamlit as st

from gis import viz
from gis.ui.language import t
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
