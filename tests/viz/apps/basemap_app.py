"""A tiny Streamlit app for the basemap browser test (tests/viz/test_basemap_browser.py).

A deck.gl map (one translucent analysis polygon) and a Leaflet map, both over the basemap named
by ``GRIDLENS_BASEMAP`` (built by the test under ``static/basemap/``), with the intranet tile
service of ``GRIDLENS_TILE_URL`` when set. ``?map=deck`` or ``?map=leaflet`` shows one map.
"""

from __future__ import annotations

import folium
import geopandas as gpd
import shapely
import streamlit as st
from streamlit_folium import st_folium

from gis import viz

st.set_page_config(page_title="basemap test", layout="wide")
X0, Y0 = 112.925, 35.795
which = st.query_params.get("map", "deck")
bm = viz.find_basemap()
st.write(f"basemap: {bm.name if bm else 'none'}")
if which == "deck":
    cell = shapely.box(X0 - 0.002, Y0 - 0.002, X0 + 0.002, Y0 + 0.002)
    layer = viz.polygon_layer(
        [cell], [{"tip": "cell"}], layer_id="cells", fill=[[214, 47, 39, 120]]
    )
    view = viz.view_for(gpd.GeoSeries([cell.buffer(0.004)]))
    st.pydeck_chart(viz.deck([layer], view, basemap=bm), height=500)
else:
    m = viz.offline_map((Y0, X0), zoom=16, height=500)
    folium.GeoJson(
        shapely.to_geojson(shapely.box(X0 - 0.001, Y0 - 0.001, X0 + 0.001, Y0 + 0.001)),
        style_function=lambda _: {"color": "#d62f27", "fillOpacity": 0.3},
    ).add_to(m)
    tiles = viz.tile_server()
    initial = st.query_params.get("base", "vector")
    viz.add_leaflet_basemap(m, bm, tiles=tiles, initial=initial)
    st_folium(m, height=500, width=900, returned_objects=[], key="leaflet")
