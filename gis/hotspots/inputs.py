"""Input helpers of the hotspot statistics: points to lon/lat arrays, the study area, the
metric projection of points, incident times.

Geometries come and go in EPSG:4326 (lon/lat); metric work happens in a local metric CRS chosen
by ``gis.core.crs.local_metric_crs`` (CGCS2000 3-degree Gauss-Kruger inside China, UTM
elsewhere).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis.core.crs import local_metric_crs
from gis.core.errors import InputError

STORAGE_EPSG = 4326


def points_lonlat(points) -> tuple[np.ndarray, np.ndarray]:
    """lon, lat (EPSG:4326) of points given as a Geo(Data)Frame/GeoSeries or an (n, 2) array."""
    if isinstance(points, gpd.GeoDataFrame):
        points = points.geometry
    if isinstance(points, gpd.GeoSeries):
        if points.crs is not None and points.crs.to_epsg() != STORAGE_EPSG:
            points = points.to_crs(STORAGE_EPSG)
        geoms = points.to_numpy()
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        if (shapely.get_type_id(geoms[keep]) != 0).any():
            raise InputError("points must be Point geometries")
        lon = np.full(len(geoms), np.nan)
        lat = np.full(len(geoms), np.nan)
        lon[keep] = shapely.get_x(geoms[keep])
        lat[keep] = shapely.get_y(geoms[keep])
        return lon, lat
    arr = np.asarray(points, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError("points must be a GeoSeries/GeoDataFrame or an (n, 2) lon/lat array")
    return arr[:, 0].copy(), arr[:, 1].copy()


def points_metric_crs(lon: np.ndarray, lat: np.ndarray) -> pyproj.CRS:
    """``local_metric_crs`` of the bounding box of the central 98 % of lon/lat arrays."""
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        raise InputError("no points with coordinates")
    # the central 98 % of the points: a few far-off reports must not pick the zone
    lo = np.quantile(lon[ok], [0.01, 0.99])
    la = np.quantile(lat[ok], [0.01, 0.99])
    box = shapely.box(lo[0], la[0], lo[1], la[1])
    return local_metric_crs(gpd.GeoSeries([box], crs=STORAGE_EPSG))


def lonlat_to_metric(
    lon: np.ndarray, lat: np.ndarray, crs: pyproj.CRS
) -> tuple[np.ndarray, np.ndarray]:
    """x, y in metres of the metric ``crs`` from lon/lat arrays (EPSG:4326)."""
    tr = pyproj.Transformer.from_crs(STORAGE_EPSG, crs, always_xy=True)
    x, y = tr.transform(lon, lat)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def area_geometry(area) -> shapely.Geometry:
    """One (multi)polygon in EPSG:4326 from a geometry, GeoSeries or GeoDataFrame."""
    if isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):
        gs = area.geometry if isinstance(area, gpd.GeoDataFrame) else area
        if gs.crs is not None and gs.crs.to_epsg() != STORAGE_EPSG:
            gs = gs.to_crs(STORAGE_EPSG)
        geoms = gs.to_numpy()
        geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
        if len(geoms) == 0:
            raise InputError("the study area is empty")
        if (shapely.get_type_id(geoms) == 0).all():  # points: their hull
            return _hull(geoms)
        return shapely.union_all(shapely.make_valid(geoms))
    if isinstance(area, shapely.Geometry):
        return area
    raise InputError("study area must be a shapely geometry, a GeoSeries or a GeoDataFrame")


def _hull(points: np.ndarray) -> shapely.Geometry:
    """Convex hull of point geometries (EPSG:4326), widened to a polygon when degenerate."""
    hull = shapely.convex_hull(shapely.multipoints(points))
    if hull.geom_type != "Polygon":  # one point or collinear points: buffer ~1 m
        hull = hull.buffer(1e-5)
    return hull


def study_area(
    grids: gpd.GeoDataFrame | None = None, points: gpd.GeoSeries | np.ndarray | None = None
) -> shapely.Geometry:
    """The study area in EPSG:4326: the district, else the convex hull of the incidents.

    Parameters
    ----------
    grids
        The grid hierarchy (``level`` column); the district is the union of its ``l1`` grids
        (all of its polygons when there is no ``level`` column).
    points
        Incident points (GeoSeries/GeoDataFrame or an (n, 2) lon/lat array), used when no
        grids are given.
    """
    if grids is not None and len(grids):
        sel = grids[grids["level"] == "l1"] if "level" in grids.columns else grids
        if len(sel) == 0:
            sel = grids
        return area_geometry(sel)
    if points is None:
        raise InputError("give the district grids or the incident points")
    lon, lat = points_lonlat(points)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        raise InputError("no points with coordinates")
    return _hull(shapely.points(lon[ok], lat[ok]))


def naive_times(times) -> pd.DatetimeIndex:
    """Incident times as a naive ``DatetimeIndex`` (NaT where unparsable); tz-aware times are
    taken at their wall-clock value."""
    t = pd.DatetimeIndex(
        pd.to_datetime(
            np.asarray(times) if not isinstance(times, pd.Series) else times, errors="coerce"
        )
    )
    if t.tz is not None:
        t = t.tz_localize(None)
    return t
