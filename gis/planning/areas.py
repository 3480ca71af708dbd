"""Areas of the joint rectification tools: coercion of a user's choice to one polygon, the
local metric CRS and the conversions to and from it, points inside an area, polygon cleaning.

Geometries come and go in EPSG:4326; areas and distances are computed in the local metric CRS
of ``gis.core.crs.local_metric_crs`` (CGCS2000 3-degree Gauss-Kruger in China).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis.core.crs import local_metric_crs
from gis.core.errors import InputError
from gis.core.settings import STORAGE_EPSG


def metric_crs(geoms) -> pyproj.CRS:
    """The local metric CRS of some geometries (a GeoSeries, or EPSG:4326 geometries)."""
    series = geoms if isinstance(geoms, gpd.GeoSeries) else gpd.GeoSeries(geoms, crs=STORAGE_EPSG)
    return local_metric_crs(series)


def to_metric(geoms, crs: pyproj.CRS) -> np.ndarray:
    """EPSG:4326 geometries projected to the metric ``crs``, as an array."""
    return gpd.GeoSeries(np.asarray(geoms, dtype=object), crs=STORAGE_EPSG).to_crs(crs).to_numpy()


def to_lonlat(geoms, crs: pyproj.CRS) -> np.ndarray:
    """Geometries in the metric ``crs`` back to EPSG:4326, as an array."""
    return gpd.GeoSeries(np.asarray(geoms, dtype=object), crs=crs).to_crs(STORAGE_EPSG).to_numpy()


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
    tr = pyproj.Transformer.from_crs(STORAGE_EPSG, crs, always_xy=True)
    x, y = tr.transform(lon, lat)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


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


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Only the polygon parts of a geometry (a MultiPolygon or Polygon, possibly empty)."""
    if geom is None or geom.is_empty:
        return shapely.Polygon()
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


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


def area_geometry(area, grids: pd.DataFrame | None = None) -> shapely.Geometry:
    """One (multi)polygon in EPSG:4326 from whatever a user picked.

    Parameters
    ----------
    area
        A shapely geometry (EPSG:4326), WKT text, a GeoSeries / GeoDataFrame (unioned, any CRS),
        or a sequence of grid codes (their union; needs ``grids``).
    grids
        The grid layer (``code``, geometry in EPSG:4326) for grid codes.

    Raises
    ------
    InputError
        Empty or non-polygonal area, unknown grid codes, codes without ``grids``.
    """
    if isinstance(area, str):
        try:
            area = shapely.from_wkt(area)
        except Exception as exc:  # shapely raises its own GEOSException
            raise InputError(f"cannot read the area as WKT ({exc})") from exc
    if isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):
        gs = area.geometry if isinstance(area, gpd.GeoDataFrame) else area
        if gs.crs is not None and gs.crs.to_epsg() != STORAGE_EPSG:
            gs = gs.to_crs(STORAGE_EPSG)
        geoms = gs.to_numpy()
        geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
        area = shapely.union_all(shapely.make_valid(geoms)) if len(geoms) else shapely.Polygon()
    elif not isinstance(area, shapely.Geometry):
        codes = [str(c).strip() for c in area if str(c).strip()]
        if grids is None:
            raise InputError("choosing grids by code needs the grid layer")
        sel = grids[grids["code"].astype(str).isin(codes)]
        unknown = sorted(set(codes) - set(sel["code"].astype(str)))
        if unknown:
            raise InputError(f"unknown grid code(s): {', '.join(unknown[:10])}")
        area = shapely.union_all(shapely.make_valid(sel.geometry.to_numpy()))
    geom = polygonal(area)
    if geom.is_empty:
        raise InputError("the area is empty or not a polygon")
    return geom
