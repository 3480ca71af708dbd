"""Cached human names of the analysis units and areas (``gis.grids.unit_names``).

Kept apart from :mod:`gis.ui.cache` (which loads the analyses): names depend only on the units
and the district's grids, streets and places, so they are computed once per unit choice.
"""

from __future__ import annotations

import geopandas as gpd
import streamlit as st

from gis import store
from gis.grids import unit_names
from gis.ui.cache import depends_on, engine, grids, hotspot_unit_frame, streets


@st.cache_data(show_spinner=False)
def places() -> gpd.GeoDataFrame:
    """The district's places (markets, schools, hospital ...), which name the units near them."""
    return store.read_frame(engine(), "places")


@depends_on("grids")
@st.cache_data(show_spinner=False)
def unit_labels(by: str, within: str | None = None) -> dict[str, str]:
    """``unit_id -> name`` of the units of ``hotspot_unit_frame(by, within)``: a grid by its
    own name, a cell by its community and the place or street nearby."""
    units = hotspot_unit_frame(by, within)
    return area_labels(units)


def area_labels(units: gpd.GeoDataFrame, prefixes: list[str] | None = None) -> dict[str, str]:
    """``unit_id -> name`` of any units or areas (EPSG:4326) by ``gis.grids.unit_names``; a
    ``name`` column (grids) goes in front, or ``prefixes`` (a zone's ``Z01``)."""
    if prefixes is None and "name" in units.columns:
        prefixes = [str(x) if isinstance(x, str) else "" for x in units["name"]]
    names = unit_names(
        units.geometry, grids(), streets=streets(), places=places(), prefixes=prefixes
    )
    return dict(zip(units["unit_id"].astype(str), names, strict=True))
