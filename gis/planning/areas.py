"""Geometry helpers of the joint rectification tools: incident points in metric coordinates,
points inside an area, polygon cleaning; ``area_geometry`` is the shared area coercion.

Geometries come and go in EPSG:4326; areas and distances are computed in the local metric CRS
(``gis.core.geometry.local_metric_crs``: CGCS2000 3-degree Gauss-Kruger in China). The metric
conversions and the area coercion live in ``gis.core.geometry``.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from gis.core.geometry import as_area, polygonal, to_metric_xy
from gis.core.settings import STORAGE_EPSG

#: The area a user picked as one (multi)polygon in EPSG:4326: a geometry, WKT, GeoJSON, a
#: GeoSeries / GeoDataFrame or grid codes (with ``grids``). The shared rule,
#: ``gis.core.geometry.as_area``, under the name planning's callers know.
area_geometry = as_area


def points_metric(incidents: gpd.GeoDataFrame, crs: pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
    """Metric x, y of the incident points (NaN where missing)."""
    geoms = incidents.geometry
    if geoms.crs is not None and geoms.crs.to_epsg() != STORAGE_EPSG:
        geoms = geoms.to_crs(STORAGE_EPSG)
    arr = geoms.to_numpy()
    ok = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    lon = np.full(len(arr), np.nan)
    lat = np.full(len(arr), np.nan)
    lon[ok], lat[ok] = shapely.get_x(arr[ok]), shapely.get_y(arr[ok])
    x, y, _ = to_metric_xy(lon, lat, crs)
    return x, y


def points_inside(geom: shapely.Geometry, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Points inside ``geom`` (same CRS), with a bounding-box prefilter."""
    out = np.zeros(len(x), dtype=bool)
    if geom is None or geom.is_empty:
        return out
    minx, miny, maxx, maxy = geom.bounds
    cand = np.flatnonzero((x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy))
    if len(cand):
        shapely.prepare(geom)
        out[cand] = shapely.intersects_xy(geom, x[cand], y[cand])
    return out


def _fill_holes(geom: shapely.Geometry, max_hole_m2: float) -> shapely.Geometry:
    """Drop interior rings smaller than ``max_hole_m2`` (metric CRS)."""

    def fill(poly: shapely.Polygon) -> shapely.Polygon:
        keep = [r for r in poly.interiors if shapely.Polygon(r).area >= max_hole_m2]
        return shapely.Polygon(poly.exterior, keep)

    geom = polygonal(geom)
    if geom.is_empty or max_hole_m2 <= 0:
        return geom
    if geom.geom_type == "Polygon":
        return fill(geom)
    return shapely.MultiPolygon([fill(p) for p in geom.geoms])


def clean_polygon(
    geom: shapely.Geometry, max_hole_m2: float, simplify_m: float
) -> shapely.Geometry:
    """buffer(0), small holes filled, simplified (metric CRS), polygon parts only."""
    geom = polygonal(shapely.make_valid(geom)).buffer(0)
    geom = _fill_holes(geom, max_hole_m2)
    if simplify_m > 0:
        geom = shapely.simplify(geom, simplify_m, preserve_topology=True)
    return polygonal(geom.buffer(0))
