"""A tiny Streamlit app for the offline folium map test (tests/viz/test_leaflet.py).

Two grids with codes on a vector basemap, the Draw toolbar editing them; below the map, what
``st_folium`` returned as ``all_drawings`` (feature count, grid codes, which grids changed).

Streamlit serves ``static/`` from beside the main script: ``tests/viz/apps/static`` is a symlink to
the repository's ``static/``. By hand: ``.venv/bin/streamlit run tests/viz/apps/webmap_app.py``.
"""

from __future__ import annotations

import folium
import geopandas as gpd
import shapely
import streamlit as st
from shapely.geometry import shape
from streamlit_folium import st_folium

from gis import viz

st.set_page_config(page_title="webmap test", layout="wide")

X0, Y0, S = 112.925, 35.795, 0.004
GRIDS = gpd.GeoDataFrame(
    {
        "code": ["140581001001001", "140581001001002"],
        "name": ["网格一", "网格二"],
        "level": ["micro", "micro"],
    },
    geometry=[shapely.box(X0, Y0, X0 + S, Y0 + S), shapely.box(X0 + S, Y0, X0 + 2 * S, Y0 + S)],
    crs=4326,
)
STREETS = gpd.GeoDataFrame(
    {"highway": ["main", "street", "alley"], "name": ["大街", "小街", "巷"]},
    geometry=[
        shapely.LineString([(X0 - S, Y0 + S / 2), (X0 + 3 * S, Y0 + S / 2)]),
        shapely.LineString([(X0 + S, Y0 - S), (X0 + S, Y0 + 2 * S)]),
        shapely.LineString([(X0 - S, Y0 - S / 2), (X0 + 3 * S, Y0 + 1.5 * S)]),
    ],
    crs=4326,
)

m = viz.offline_map(GRIDS.total_bounds + [-S, -S, S, S])
viz.add_vector_basemap(m, STREETS, GRIDS)
viz.add_draw(m, folium.FeatureGroup(name="edit", control=False))
viz.editable_geojson(m, GRIDS, "code", fields=["name"])
out = st_folium(m, key="webmap", height=520, width=900, returned_objects=["all_drawings"])

drawings = (out or {}).get("all_drawings") or []
codes = sorted(f["properties"]["code"] for f in drawings if f["properties"].get("code"))
original = dict(zip(GRIDS["code"], GRIDS.geometry, strict=True))
changed = sorted(
    f["properties"]["code"]
    for f in drawings
    if f["properties"].get("code")
    # Leaflet writes 6 decimals: a moved vertex is a change, rounding is not
    and shapely.hausdorff_distance(shape(f["geometry"]), original[f["properties"]["code"]]) > 1e-5
)
st.markdown(f"drawings={len(drawings)}")
st.markdown(f"codes={','.join(codes) or '-'}")
st.markdown(f"changed={','.join(changed) or '-'}")
