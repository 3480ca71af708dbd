"""Street coverage: the share of street length passed within the GPS buffer of a track, in
all and per unit, and streets as presence units."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis.core.geometry import (
    metric_crs_for_points,
    to_lonlat_geoms,
    to_metric_geoms,
    to_metric_xy,
)
from gis.core.settings import STORAGE_EPSG
from gis.patrol.clean import GPS_ACCURACY_M
from gis.patrol.units import assign_units


@dataclass
class StreetCoverage:
    """Per street: ``street_id, length_m, covered_m, covered_share``; and the overall share."""

    streets: pd.DataFrame
    covered_share: float
    length_m: float
    covered_m: float


def metric_streets(
    streets: gpd.GeoDataFrame, crs: pyproj.CRS | None
) -> tuple[np.ndarray, np.ndarray, pyproj.CRS]:
    """Street ids (``street_id``, else ``id``, else position), the street lines in the metric
    ``crs`` (default: ``gis.core.geometry.metric_crs_for_points`` of the streets' vertices) and
    that CRS."""
    geo = (
        streets.to_crs(4326)
        if streets.crs is not None and streets.crs.to_epsg() != 4326
        else streets
    )
    geoms = geo.geometry.to_numpy()
    if crs is None:
        xy = shapely.get_coordinates(geoms)
        # no street: nothing to measure, any CRS will do
        crs = metric_crs_for_points(xy[:, 0], xy[:, 1]) if len(xy) else STORAGE_EPSG
    ids = (
        streets["street_id"].to_numpy()
        if "street_id" in streets
        else (streets["id"].to_numpy() if "id" in streets else np.arange(len(streets)))
    )
    return ids, to_metric_geoms(geoms, crs), crs


def _coverage_result(ids, length, covered) -> StreetCoverage:
    share = np.divide(covered, length, out=np.zeros(len(length)), where=length > 0)
    frame = pd.DataFrame(
        {"street_id": ids, "length_m": length, "covered_m": covered, "covered_share": share}
    )
    total, cov = float(length.sum()), float(covered.sum())
    return StreetCoverage(frame, cov / total if total > 0 else 0.0, total, cov)


def _sampled_street_hits(
    lines: np.ndarray, crs, tracks, *, buffer_m: float, sample_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Streets (metric ``lines`` from ``metric_streets``, in ``crs``) cut into
    ``ceil(length / sample_m)`` equal pieces, and whether each piece's midpoint is within
    ``buffer_m`` metres of a track geometry (STRtree ``dwithin``, local metric CRS).

    Returns ``length`` (m, per street), ``pieces`` (per street), ``src`` (street of each piece),
    ``points`` (piece midpoints, metric) and ``hit`` (bool per piece); shared by
    ``street_coverage`` and ``street_coverage_by_unit``.
    """
    length = shapely.length(lines)
    pieces = np.maximum(1, np.ceil(length / sample_m)).astype(np.int64)
    src = np.repeat(np.arange(len(lines)), pieces)
    j = np.arange(len(src)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    points = shapely.line_interpolate_point(lines[src], (j + 0.5) / pieces[src], normalized=True)
    geo = tracks.geometry if isinstance(tracks, gpd.GeoDataFrame) else tracks
    geo = geo.to_crs(4326) if geo.crs is not None and geo.crs.to_epsg() != 4326 else geo
    track_geoms = to_metric_geoms(geo.to_numpy(), crs)
    track_geoms = track_geoms[~(shapely.is_missing(track_geoms) | shapely.is_empty(track_geoms))]
    hit = np.zeros(len(points), dtype=bool)
    if len(track_geoms):
        idx = shapely.STRtree(track_geoms).query(points, predicate="dwithin", distance=buffer_m)[0]
        hit[idx] = True
    return length, pieces, src, points, hit


def street_coverage(
    streets: gpd.GeoDataFrame,
    tracks: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    buffer_m: float = GPS_ACCURACY_M,
    sample_m: float = 10.0,
) -> StreetCoverage:
    """Share of street length passed within ``buffer_m`` of a track.

    Each street (lines, EPSG:4326) is cut into ``ceil(length / sample_m)`` equal pieces; the
    piece's midpoint stands for it. A piece is covered when its midpoint is within ``buffer_m``
    of any track geometry (``segments(...)`` lines, or fix points to measure fixes alone),
    found with an STRtree ``dwithin`` query in the local metric CRS. Error: at most one piece per
    street end of the buffer's edge, i.e. about ``sample_m / length`` per street.

    Returns
    -------
    StreetCoverage
        ``streets``: ``street_id`` (or ``id``, else position), ``length_m, covered_m,
        covered_share``; overall ``covered_share`` (length-weighted).
    """
    ids, lines, crs = metric_streets(streets, None)
    length, pieces, src, points, hit = _sampled_street_hits(
        lines, crs, tracks, buffer_m=buffer_m, sample_m=sample_m
    )
    covered = np.bincount(src[hit], weights=(length / pieces)[src[hit]], minlength=len(lines))
    return _coverage_result(ids, length, covered)


def street_coverage_buffer_union(
    streets: gpd.GeoDataFrame,
    tracks: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    buffer_m: float = GPS_ACCURACY_M,
) -> StreetCoverage:
    """Reference for ``street_coverage``: buffer every track geometry by ``buffer_m``, union the
    buffers, and intersect each street with the union (exact up to the buffer's polygon
    approximation; slow for many segments)."""
    ids, lines, crs = metric_streets(streets, None)
    geo = tracks.geometry if isinstance(tracks, gpd.GeoDataFrame) else tracks
    track_geoms = to_metric_geoms(geo.to_numpy(), crs)
    area = shapely.union_all(shapely.buffer(track_geoms, buffer_m))
    shapely.prepare(area)
    covered = shapely.length(shapely.intersection(lines, area))
    return _coverage_result(ids, shapely.length(lines), covered)


def ids_as_text(values) -> np.ndarray:
    """Ids as an object array of text (None stays None)."""
    return np.asarray([None if v is None else str(v) for v in values], dtype=object)


def _street_ids(streets: gpd.GeoDataFrame) -> np.ndarray:
    for col in ("street_id", "id"):
        if col in streets:
            return ids_as_text(streets[col].to_numpy())
    return np.arange(len(streets)).astype(str).astype(object)


def street_units(streets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Streets as presence units: ``unit_id`` (``street_id``/``id`` as text), ``name``,
    ``highway`` where present, line geometry (EPSG:4326)."""
    geo = (
        streets.to_crs(4326)
        if streets.crs is not None and streets.crs.to_epsg() != 4326
        else streets
    )
    cols = {c: geo[c].to_numpy() for c in ("name", "highway") if c in geo}
    return gpd.GeoDataFrame(
        {"unit_id": _street_ids(geo), **cols}, geometry=geo.geometry.to_numpy(), crs=4326
    )


def assign_streets(
    samples: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, *, max_distance_m: float = GPS_ACCURACY_M
) -> np.ndarray:
    """Street id (text; None when no street is within ``max_distance_m``) of each sample.

    The nearest street (STRtree ``query_nearest`` in the local metric CRS); on a tie the first
    street in layer order.
    """
    ids = _street_ids(streets)
    geoms = samples.geometry.to_numpy()
    out = np.full(len(geoms), None, dtype=object)
    if not len(geoms) or not len(streets):
        return out
    xy = shapely.get_coordinates(geoms)
    mx, my, crs = to_metric_xy(xy[:, 0], xy[:, 1])
    _, lines, _ = metric_streets(streets, crs)
    pts = shapely.points(mx, my)
    tree = shapely.STRtree(lines)
    pi, li = tree.query_nearest(pts, max_distance=max_distance_m, all_matches=True)
    order = np.lexsort((li, pi))
    pi, li = pi[order], li[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    out[pi[first]] = ids[li[first]]
    return out


def street_coverage_by_unit(
    streets: gpd.GeoDataFrame,
    tracks: gpd.GeoDataFrame | gpd.GeoSeries,
    units,
    *,
    buffer_m: float = GPS_ACCURACY_M,
    sample_m: float = 10.0,
) -> pd.DataFrame:
    """Street length and the part of it passed within ``buffer_m`` of a track, per unit.

    The same sampled pieces as ``street_coverage`` (midpoints every ``sample_m`` metres, an
    STRtree ``dwithin`` query against the track segments); each piece belongs to the unit (a
    polygon layer, micro-grids of a grid layer, or ``"h3:<res>"``) its midpoint falls in.

    Returns
    -------
    pandas.DataFrame
        ``unit_id, street_m, covered_m, covered_share`` for the units with streets in them
        (``covered_share = covered_m / street_m``).
    """
    cols = ["unit_id", "street_m", "covered_m", "covered_share"]
    if streets is None or not len(streets):
        return pd.DataFrame(columns=cols)
    _, lines, crs = metric_streets(streets, None)
    length, pieces, src, points, hit = _sampled_street_hits(
        lines, crs, tracks, buffer_m=buffer_m, sample_m=sample_m
    )
    lonlat = to_lonlat_geoms(points, crs)
    unit = assign_units(gpd.GeoDataFrame(geometry=lonlat, crs=4326), units)
    inside = pd.notna(unit)
    code, uniq = pd.factorize(unit[inside], sort=True)
    w = (length / pieces)[src][inside]
    street_m = np.bincount(code, weights=w, minlength=len(uniq))
    covered_m = np.bincount(code, weights=w * hit[inside], minlength=len(uniq))
    return pd.DataFrame(
        {
            "unit_id": np.asarray(uniq, dtype=object),
            "street_m": street_m,
            "covered_m": covered_m,
            "covered_share": np.divide(
                covered_m, street_m, out=np.zeros(len(uniq)), where=street_m > 0
            ),
        }
    )
