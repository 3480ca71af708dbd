"""Metric coordinates for distances and speeds, and times as integer nanoseconds.

Lengths are measured in a local metric CRS (``gis.core.crs.local_metric_crs``: CGCS2000
3-degree Gauss-Kruger in China, UTM elsewhere); all ``*_m`` are metres, ``*_s`` seconds.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis.core.crs import local_metric_crs

#: nanoseconds per second (times are ``datetime64[ns]`` viewed as int64)
NS = 10**9


def metric_transformer(lon: np.ndarray, lat: np.ndarray) -> pyproj.Transformer:
    """EPSG:4326 -> the local metric CRS of the points (``always_xy``; lon/lat in degrees)."""
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        lon0, lat0 = 116.4, 39.9
    else:
        lon0, lat0 = float(np.median(lon[ok])), float(np.median(lat[ok]))
    crs = local_metric_crs(gpd.GeoSeries([shapely.Point(lon0, lat0)], crs=4326))
    return pyproj.Transformer.from_crs(4326, crs, always_xy=True)


def metric_xy(lon: np.ndarray, lat: np.ndarray, tr: pyproj.Transformer | None = None):
    """Metric ``x, y`` (m) of lon/lat points and the transformer used (``metric_transformer``
    of the points unless ``tr`` is given, so that several layers share one CRS)."""
    tr = tr or metric_transformer(lon, lat)
    x, y = tr.transform(lon, lat)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), tr


def times_ns(t) -> np.ndarray:
    """Naive times as int64 nanoseconds (NaT is ``np.iinfo(np.int64).min``)."""
    return pd.Series(t).astype("datetime64[ns]").to_numpy().view(np.int64)


def time_bound(value, default: int) -> int:
    """A period bound as int64 nanoseconds: ``value`` (any timestamp) or ``default`` when None."""
    if value is None:
        return int(default)
    return int(pd.Timestamp(value).as_unit("ns").value)
