"""Coordinate reference systems: choosing a local metric CRS for areas and distances.

Storage is EPSG:4326. Metric work uses, inside China, the CGCS2000 3-degree Gauss-Kruger zone
whose central meridian is nearest (EPSG:4534-4554, CM 75E..135E, no false-easting zone prefix);
elsewhere the UTM zone (WGS-84) of the data's centre.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj


def cgcs2000_gk3_epsg(lon: float) -> int | None:
    """EPSG code of the CGCS2000 3-degree Gauss-Kruger CM zone for ``lon`` (None outside 73.5-136.5E)."""
    cm = int(np.round(lon / 3.0) * 3)
    if not 75 <= cm <= 135:
        return None
    return 4534 + (cm - 75) // 3


def in_china_extent(lon: float, lat: float) -> bool:
    """A coarse bounding box of China (for choosing a CRS, not for borders)."""
    return 73.5 <= lon <= 135.1 and 18.0 <= lat <= 53.6


def local_metric_crs(geoms: gpd.GeoSeries | gpd.GeoDataFrame) -> pyproj.CRS:
    """A metric CRS suited to ``geoms`` (EPSG:4326): CGCS2000 GK 3-degree in China, else UTM."""
    minx, miny, maxx, maxy = geoms.total_bounds
    lon, lat = (minx + maxx) / 2, (miny + maxy) / 2
    if in_china_extent(lon, lat):
        epsg = cgcs2000_gk3_epsg(lon)
        if epsg is not None:
            return pyproj.CRS.from_epsg(epsg)
    zone = int((lon + 180) // 6) + 1
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def areas_m2(geoms: gpd.GeoSeries) -> np.ndarray:
    """Area of each geometry in m², computed in the local metric CRS."""
    if len(geoms) == 0:
        return np.zeros(0)
    return geoms.to_crs(local_metric_crs(geoms)).area.to_numpy()
