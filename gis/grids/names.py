"""THE human name of a unit or an area: its community, then the nearest place or street.

An H3 cell reads ``89409312837ffff`` and a zone ``Z01``; people know places by their community
(社区, the level-1 grid), the street and the landmark nearby. :func:`unit_names` names any
polygons (H3 cells, fishnet squares, grids, candidate zones) the same way, so the tables,
tooltips, details and exports of every page and command say ``Z01 · 凤凰社区 · 东关蔬菜批发市场``.
"""

from __future__ import annotations

from collections import Counter

import geopandas as gpd
import numpy as np
import shapely

from gis.core.geometry import metric_crs_for_points, to_metric_geoms

#: a place (market, school ...) within this distance of a unit's centre names it, metres
PLACE_NEAR_M = 250.0
#: a street within this distance names a unit no place is near, metres
STREET_NEAR_M = 400.0
#: the separator of a name's parts
SEP = " · "


def unit_names(
    geoms: gpd.GeoSeries | np.ndarray,
    grids: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame | None = None,
    places: gpd.GeoDataFrame | None = None,
    prefixes: list[str] | None = None,
    unique: bool = True,
) -> list[str]:
    """Human names of polygons: ``[prefix · ]community · nearest place or street``.

    Parameters
    ----------
    geoms
        The units' polygons in EPSG:4326 (H3 cells, fishnet cells, grids, zones).
    grids
        The grid hierarchy (``code, name, level`` and polygons, EPSG:4326): the community is
        the level-1 grid under the unit's representative point (else the nearest one).
    streets, places
        ``name`` and geometry (EPSG:4326): the place within :data:`PLACE_NEAR_M` of the unit's
        representative point, else the street within :data:`STREET_NEAR_M`, names it.
    prefixes
        Put in front of each name (``Z01``, a grid's own name ...); empty ones are left out.
    unique
        Number repeated names (``… (2)``) so that no two units read the same.

    Returns
    -------
    list of str
        One name per polygon; a part that cannot be found is left out.
    """
    geo = np.asarray(geoms.to_numpy() if hasattr(geoms, "to_numpy") else geoms, dtype=object)
    n = len(geo)
    if n == 0:
        return []
    empty = shapely.is_missing(geo) | shapely.is_empty(geo)
    pts = shapely.point_on_surface(np.where(empty, shapely.Point(0, 0), geo))
    lon, lat = shapely.get_x(pts), shapely.get_y(pts)
    crs = metric_crs_for_points(lon, lat)
    pts_m = to_metric_geoms(pts, crs)
    parts: list[list[str]] = [[] for _ in range(n)]
    if prefixes is not None:
        for k, p in enumerate(prefixes):
            if p:
                parts[k].append(str(p))
    l1 = grids[grids["level"] == "l1"] if "level" in grids.columns else grids.iloc[:0]
    if len(l1):
        community = _nearest_names(pts_m, l1, crs, max_m=None)
        for k, c in enumerate(community):
            if c and not any(c in p for p in parts[k]):
                parts[k].append(c)
    near = [""] * n
    if places is not None and len(places):
        near = _nearest_names(pts_m, places, crs, max_m=PLACE_NEAR_M)
    if streets is not None and len(streets):
        street = _nearest_names(pts_m, streets, crs, max_m=STREET_NEAR_M)
        near = [p or s for p, s in zip(near, street, strict=True)]
    for k, p in enumerate(near):
        if p:
            parts[k].append(p)
    for k in np.flatnonzero(empty):
        parts[k] = [str(prefixes[k])] if prefixes is not None and prefixes[k] else []
    names = [SEP.join(p) for p in parts]
    return _numbered(names) if unique else names


def _nearest_names(
    pts_m: np.ndarray, frame: gpd.GeoDataFrame, crs, *, max_m: float | None
) -> list[str]:
    """The ``name`` of the feature of ``frame`` nearest each metric point (within ``max_m``)."""
    named = frame[frame["name"].notna() & (frame["name"].astype(str).str.strip() != "")]
    if named.empty:
        return [""] * len(pts_m)
    geo_m = to_metric_geoms(named.geometry.to_numpy(), crs)
    tree = shapely.STRtree(geo_m)
    idx = tree.query_nearest(pts_m, max_distance=max_m, all_matches=False, return_distance=False)
    out = [""] * len(pts_m)
    names = named["name"].astype(str).to_numpy()
    for i, j in zip(idx[0], idx[1], strict=True):
        out[int(i)] = str(names[int(j)])
    return out


def _numbered(names: list[str]) -> list[str]:
    """Repeated names get `` (2)``, `` (3)`` … in their order; the first keeps its name."""
    total = Counter(names)
    seen: Counter = Counter()
    out = []
    for name in names:
        seen[name] += 1
        out.append(name if total[name] == 1 or seen[name] == 1 else f"{name} ({seen[name]})")
    return out
