"""Input helpers of the hotspot statistics: points to lon/lat arrays, the study area and the
incident times.

Geometries come and go in EPSG:4326 (lon/lat). The shared rules live in ``gis.core``: the
metric CRS (``gis.core.geometry.local_metric_crs`` / ``metric_crs_for_points``: CGCS2000
3-degree Gauss-Kruger inside China, UTM elsewhere), area coercion (``as_area``), the district
(``district_outline``) and the time parser (``gis.core.times.parse_times``).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.core.errors import InputError
from gis.core.geometry import as_area, district_outline
from gis.core.settings import STORAGE_EPSG
from gis.core.times import parse_times


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


def study_area(
    grids: gpd.GeoDataFrame | None = None, points: gpd.GeoSeries | np.ndarray | None = None
) -> shapely.Geometry:
    """The study area in EPSG:4326: the district, else the convex hull of the incidents.

    Parameters
    ----------
    grids
        The grid hierarchy (``level`` column); the district is
        ``gis.core.geometry.district_outline``: the union of its ``l1`` grids (of the coarsest
        regular level present when there is none; all of its polygons when there is no
        ``level`` column).
    points
        Incident points (GeoSeries/GeoDataFrame or an (n, 2) lon/lat array), used when no
        grids are given: their convex hull (``gis.core.geometry.as_area``).
    """
    if grids is not None and len(grids):
        return district_outline(grids)
    if points is None:
        raise InputError("give the district grids or the incident points")
    lon, lat = points_lonlat(points)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        raise InputError("no points with coordinates")
    return as_area(gpd.GeoSeries(shapely.points(lon[ok], lat[ok]), crs=STORAGE_EPSG))


def naive_times(times) -> pd.DatetimeIndex:
    """Incident times as a naive wall-clock ``DatetimeIndex`` in the district's zone (NaT where
    unreadable), by ``gis.core.times.parse_times``: times with a zone or UTC offset are
    converted to the district's zone, naive times are taken as its wall clock."""
    return pd.DatetimeIndex(
        parse_times(times if isinstance(times, pd.Series) else pd.Series(times))
    )
