"""Geometry helpers shared by every package: metric coordinates, areas, the study area, the
district outline.

One rule for the metric CRS (:func:`gis.core.crs.local_metric_crs`: the CGCS2000 3-degree
Gauss-Kruger zone in China, else UTM, from the centre of the data's bounds; for points, the
bounds of their central 98 % so that a few far-off reports do not pick the zone). Storage is
EPSG:4326 (:data:`gis.core.settings.STORAGE_EPSG`).
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis.core.crs import areas_m2, local_metric_crs
from gis.core.errors import InputError
from gis.core.settings import STORAGE_EPSG

__all__ = [
    "REGULAR_LEVELS",
    "areas_m2",
    "as_area",
    "district_outline",
    "local_metric_crs",
    "metric_crs_for_points",
    "polygonal",
    "to_lonlat_geoms",
    "to_metric",
    "to_metric_geoms",
    "to_metric_xy",
]

#: The regular grid levels, coarsest first (dedicated grids overlay them and are not part of
#: the district's tiling).
REGULAR_LEVELS = ("l1", "l2", "micro")


def metric_crs_for_points(lon: np.ndarray, lat: np.ndarray) -> pyproj.CRS:
    """The metric CRS for WGS-84 points: :func:`local_metric_crs` of their central 98 %.

    Raises
    ------
    InputError
        No point has finite coordinates.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        raise InputError("no points with coordinates")
    lo = np.quantile(lon[ok], [0.01, 0.99])
    la = np.quantile(lat[ok], [0.01, 0.99])
    box = shapely.box(lo[0], la[0], lo[1], la[1])
    return local_metric_crs(gpd.GeoSeries([box], crs=STORAGE_EPSG))


def to_metric_xy(
    lon: np.ndarray, lat: np.ndarray, crs: pyproj.CRS | None = None
) -> tuple[np.ndarray, np.ndarray, pyproj.CRS]:
    """Metric ``x, y`` (m) of WGS-84 ``lon, lat`` in ``crs`` (default: chosen from the points).

    Returns ``(x, y, crs)``; NaN coordinates stay NaN.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    crs = crs or metric_crs_for_points(lon, lat)
    tr = pyproj.Transformer.from_crs(STORAGE_EPSG, crs, always_xy=True)
    x, y = tr.transform(lon, lat)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), crs


def to_metric_geoms(geoms, crs: pyproj.CRS) -> np.ndarray:
    """Shapely geometries in EPSG:4326 as an array of geometries in ``crs``."""
    return gpd.GeoSeries(np.asarray(geoms, dtype=object), crs=STORAGE_EPSG).to_crs(crs).to_numpy()


def to_lonlat_geoms(geoms, crs: pyproj.CRS) -> np.ndarray:
    """Shapely geometries in ``crs`` as an array of geometries in EPSG:4326."""
    return gpd.GeoSeries(np.asarray(geoms, dtype=object), crs=crs).to_crs(STORAGE_EPSG).to_numpy()


def to_metric(
    frame: gpd.GeoDataFrame | gpd.GeoSeries, crs: pyproj.CRS | None = None
) -> tuple[gpd.GeoDataFrame | gpd.GeoSeries, pyproj.CRS]:
    """``frame`` reprojected to ``crs`` (default :func:`local_metric_crs` of the frame)."""
    if frame.crs is None:
        frame = frame.set_crs(STORAGE_EPSG)
    crs = crs or local_metric_crs(frame.to_crs(STORAGE_EPSG))
    return frame.to_crs(crs), crs


def polygonal(geom: shapely.Geometry | None) -> shapely.Geometry:
    """Only the polygon parts of a geometry (a Polygon or MultiPolygon, possibly empty)."""
    if geom is None or geom.is_empty:
        return shapely.Polygon()
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _hull(points: np.ndarray) -> shapely.Geometry:
    """Convex hull of point geometries (EPSG:4326), widened to a polygon when degenerate."""
    hull = shapely.convex_hull(shapely.multipoints(points))
    if hull.geom_type != "Polygon" or hull.area == 0:
        hull = hull.buffer(1e-4)
    return hull


def as_area(
    area: shapely.Geometry | gpd.GeoSeries | gpd.GeoDataFrame | str | dict | Iterable[str],
    grids: pd.DataFrame | None = None,
) -> shapely.Geometry:
    """One (multi)polygon in EPSG:4326 from whatever a user picked as a study area.

    Parameters
    ----------
    area
        A shapely geometry (EPSG:4326), WKT text, a GeoJSON geometry ``dict``, a GeoSeries or
        GeoDataFrame (unioned, any CRS; points give their convex hull), or a sequence of grid
        codes (their union; needs ``grids``).
    grids
        The grid layer (``code``, geometry in EPSG:4326), for grid codes.

    Raises
    ------
    InputError
        Empty or non-polygonal area, unreadable WKT, unknown grid codes, codes without ``grids``.
    """
    if isinstance(area, str):
        try:
            area = shapely.from_wkt(area)
        except Exception as exc:  # shapely raises its own GEOSException
            raise InputError(f"cannot read the area as WKT ({exc})") from exc
    elif isinstance(area, dict):
        try:
            area = shapely.geometry.shape(area.get("geometry", area))
        except Exception as exc:
            raise InputError(f"cannot read the area as GeoJSON ({exc})") from exc
    if isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):
        gs = area.geometry if isinstance(area, gpd.GeoDataFrame) else area
        if gs.crs is not None and gs.crs.to_epsg() != STORAGE_EPSG:
            gs = gs.to_crs(STORAGE_EPSG)
        geoms = gs.to_numpy()
        geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
        if len(geoms) == 0:
            raise InputError("the area is empty")
        if (shapely.get_type_id(geoms) == 0).all():  # points: their hull
            return _hull(geoms)
        area = shapely.union_all(shapely.make_valid(geoms))
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


def district_outline(grids: gpd.GeoDataFrame, *, level: str | None = None) -> shapely.Geometry:
    """The district: the union of the level-1 grids (EPSG:4326).

    Where a layer has no level-1 grids (a file of micro-grids only, say), the coarsest regular
    level present is used; dedicated grids overlay the tiling and never count. Without a
    ``level`` column every grid counts. ``level`` forces one level.

    Raises
    ------
    InputError
        No grid to build the outline from.
    """
    if grids is None or len(grids) == 0:
        raise InputError("no grids: the district's outline is the union of its level-1 grids")
    gs = grids if grids.crs is None or grids.crs.to_epsg() == STORAGE_EPSG else grids.to_crs(4326)
    part = gs
    if "level" in gs:
        levels = gs["level"].astype(str)
        order = (level,) if level else REGULAR_LEVELS
        part = gs.iloc[0:0]
        for lev in order:
            part = gs[levels == lev]
            if len(part):
                break
        if part.empty:
            raise InputError(
                f"no {'grids of level ' + level if level else 'regular grids'} to build "
                "the district's outline from"
            )
    geoms = part.geometry.to_numpy()
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if len(geoms) == 0:
        raise InputError("the grids have no geometry to build the district's outline from")
    return shapely.union_all(geoms)
