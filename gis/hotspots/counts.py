"""Analysis units and incident counts per unit.

``h3_units``, ``fishnet_units`` (square cells on a fixed metric lattice) and ``grid_units`` (a
level of the grid hierarchy) cover the study area with zero-count units kept; ``count_by_unit``
counts points per unit with densities per real unit area and rates per 1,000 residents;
``analysis_units`` builds the units of a ``--by`` choice (``gis.units.UnitSpec``).
"""

from __future__ import annotations

import math

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis.core.errors import InputError
from gis.core.geometry import as_area, to_metric, to_metric_xy
from gis.core.settings import STORAGE_EPSG
from gis.hotspots.inputs import points_lonlat, study_area
from gis.units import UnitSpec, h3_cells


def _units_frame(unit_id, geometry, area_km2, attrs: dict, **columns) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"unit_id": np.asarray(unit_id, dtype=object), **columns, "area_km2": area_km2},
        geometry=geometry,
        crs=STORAGE_EPSG,
    )
    frame.attrs.update(attrs)
    return frame


def h3_polygons(cells: list[str]) -> np.ndarray:
    """Shapely polygons (lon/lat) of H3 cells, built per vertex count in one call each."""
    rings = [h3.cell_to_boundary(c) for c in cells]
    out = np.empty(len(cells), dtype=object)
    sizes = np.array([len(r) for r in rings])
    for k in np.unique(sizes):
        idx = np.flatnonzero(sizes == k)
        coords = np.array([rings[i] for i in idx], dtype=float)[:, :, ::-1]  # (lat,lng)->(x,y)
        out[idx] = shapely.polygons(coords)
    return out


def h3_units(area, resolution: int) -> gpd.GeoDataFrame:
    """All H3 cells of ``resolution`` that intersect the study area, as units.

    Parameters
    ----------
    area
        The study area (shapely geometry, GeoSeries or GeoDataFrame, EPSG:4326), e.g. from
        ``study_area``; point input means the convex hull of the points.
    resolution
        H3 resolution 0-15 (9: ~0.1 km² cells, 10: ~0.015 km²).

    Returns
    -------
    geopandas.GeoDataFrame
        ``unit_id`` (H3 cell string), ``area_km2`` (``h3.cell_area``: the real area, which
        varies with latitude), geometry (EPSG:4326), sorted by cell. ``attrs``:
        ``unit_kind="h3"``, ``h3_resolution``.
    """
    if not 0 <= int(resolution) <= 15:
        raise InputError(f"H3 resolution must be 0..15, got {resolution}")
    if isinstance(area, np.ndarray) and area.ndim == 2:
        area = study_area(points=area)
    geom = as_area(area)
    shape = h3.geo_to_h3shape(geom)  # GeoJSON order (lng, lat): no axis swap possible
    cells = sorted(h3.h3shape_to_cells_experimental(shape, int(resolution), contain="overlap"))
    areas = np.array([h3.cell_area(c, unit="km^2") for c in cells])
    return _units_frame(
        cells,
        h3_polygons(cells),
        areas,
        {"unit_kind": "h3", "h3_resolution": int(resolution)},
    )


def fishnet_units(
    area,
    cell_m: float,
    *,
    origin: tuple[float, float] = (0.0, 0.0),
    crs: pyproj.CRS | int | None = None,
) -> gpd.GeoDataFrame:
    """All square cells of a fixed metric lattice that intersect the study area, as units.

    Parameters
    ----------
    area
        The study area (shapely geometry, GeoSeries or GeoDataFrame, EPSG:4326).
    cell_m
        Cell side in metres.
    origin
        Lattice origin (x, y) in the metric CRS, metres. The default (0, 0) makes the lattice
        the same whatever the study area, so cell ids stay comparable between runs.
    crs
        Metric CRS of the lattice; default ``local_metric_crs`` of the area (CGCS2000 GK in
        China, else UTM).

    Returns
    -------
    geopandas.GeoDataFrame
        ``unit_id`` (``"{cell_m}m_{ix}_{iy}"``), ``ix``, ``iy`` (lattice column and row),
        ``area_km2`` (``cell_m² / 1e6``: the area in the metric CRS), geometry (EPSG:4326).
        ``attrs``: ``unit_kind="fishnet"``, ``cell_m``, ``origin``, ``metric_epsg``.
    """
    if not cell_m > 0:
        raise InputError(f"cell size must be positive, got {cell_m}")
    series = gpd.GeoSeries([as_area(area)], crs=STORAGE_EPSG)
    metric = pyproj.CRS.from_user_input(crs) if crs is not None else None
    series_m, metric = to_metric(series, metric)
    geom_m = series_m.iloc[0]
    minx, miny, maxx, maxy = geom_m.bounds
    x0, y0 = origin
    ix = np.arange(math.floor((minx - x0) / cell_m), math.floor((maxx - x0) / cell_m) + 1)
    iy = np.arange(math.floor((miny - y0) / cell_m), math.floor((maxy - y0) / cell_m) + 1)
    gx, gy = (a.ravel() for a in np.meshgrid(ix, iy))
    boxes = shapely.box(
        x0 + gx * cell_m, y0 + gy * cell_m, x0 + (gx + 1) * cell_m, y0 + (gy + 1) * cell_m
    )
    shapely.prepare(geom_m)
    keep = shapely.intersects(geom_m, boxes)
    gx, gy, boxes = gx[keep], gy[keep], boxes[keep]
    ids = [f"{cell_m:g}m_{a}_{b}" for a, b in zip(gx.tolist(), gy.tolist(), strict=True)]
    geoms = gpd.GeoSeries(boxes, crs=metric).to_crs(STORAGE_EPSG).to_numpy()
    return _units_frame(
        ids,
        geoms,
        np.full(len(ids), cell_m * cell_m / 1e6),
        {
            "unit_kind": "fishnet",
            "cell_m": float(cell_m),
            "origin": (float(x0), float(y0)),
            "metric_epsg": metric.to_epsg(),
        },
        ix=gx.astype(np.int64),
        iy=gy.astype(np.int64),
    )


def grid_units(grids: gpd.GeoDataFrame, level: str = "micro") -> gpd.GeoDataFrame:
    """The grids of one level (``micro``, ``l2``, ``l1`` or ``dedicated``) as units.

    Returns
    -------
    geopandas.GeoDataFrame
        ``unit_id`` (grid code), ``name`` and ``population`` where present, ``area_km2``
        (metric area), geometry (EPSG:4326). ``attrs``: ``unit_kind="grid"``, ``level``.
    """
    sel = grids[grids["level"] == level] if "level" in grids.columns else grids
    if len(sel) == 0:
        raise InputError(f"no grids of level {level!r}")
    sel = sel.to_crs(STORAGE_EPSG) if sel.crs is not None else sel.set_crs(STORAGE_EPSG)
    sel = sel.sort_values("code") if "code" in sel.columns else sel
    cols = {c: sel[c].to_numpy() for c in ("name", "population") if c in sel.columns}
    area = to_metric(sel.geometry)[0].area.to_numpy() / 1e6
    ids = sel["code"].to_numpy() if "code" in sel.columns else np.arange(len(sel)).astype(str)
    return _units_frame(
        ids, sel.geometry.to_numpy(), area, {"unit_kind": "grid", "level": level}, **cols
    )


def analysis_units(
    by: str | UnitSpec,
    grids: gpd.GeoDataFrame | None = None,
    points=None,
) -> gpd.GeoDataFrame:
    """The analysis units of a unit choice over the study area, zero-count units included.

    Parameters
    ----------
    by
        ``h3:RES``, ``fishnet:METRES`` or ``grid:LEVEL``: THE unit grammar
        (``gis.units.UnitSpec``; ``streets`` are patrol units and are refused here).
    grids
        The grid hierarchy (EPSG:4326). The study area is the district (``study_area``);
        ``grid:LEVEL`` units are its grids of that level (``grid_units``).
    points
        Incident points (GeoSeries/GeoDataFrame or an (n, 2) lon/lat array): without grids,
        the study area is their convex hull.

    Returns
    -------
    geopandas.GeoDataFrame
        From ``h3_units``, ``fishnet_units`` or ``grid_units``.
    """
    spec = UnitSpec.parse(by, allowed=("h3", "fishnet", "grid"))
    if spec.kind == "grid":
        if grids is None or not len(grids):
            raise InputError(f"units {spec} need the grids")
        return grid_units(grids, spec.level)
    area = study_area(grids, points)
    if spec.kind == "h3":
        return h3_units(area, spec.h3_resolution)
    return fishnet_units(area, spec.cell_m)


def unit_kind(units: pd.DataFrame) -> str:
    """``"h3"``, ``"fishnet"`` or ``"grid"`` from ``attrs["unit_kind"]``; else ``"fishnet"`` for a
    frame with ``ix, iy`` columns and ``"polygon"`` for any other polygons."""
    kind = units.attrs.get("unit_kind")
    if kind:
        return kind
    if {"ix", "iy"} <= set(units.columns):
        return "fishnet"
    return "polygon"


def lattice_table(ix: np.ndarray, iy: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Dense (rows, cols) table of unit positions over the lattice bounding box (-1 = none)."""
    ixmin, iymin = int(ix.min()), int(iy.min())
    table = np.full((int(iy.max()) - iymin + 1, int(ix.max()) - ixmin + 1), -1, dtype=np.int64)
    table[iy - iymin, ix - ixmin] = np.arange(len(ix))
    return table, ixmin, iymin


def _assign_units(lon: np.ndarray, lat: np.ndarray, units: gpd.GeoDataFrame) -> np.ndarray:
    """Index (row position) of the unit of each point; -1 outside every unit or no coordinate."""
    ok = np.isfinite(lon) & np.isfinite(lat)
    out = np.full(len(lon), -1, dtype=np.int64)
    kind = unit_kind(units)
    if kind == "h3":
        res = int(units.attrs["h3_resolution"])
        unit_int = np.array([h3.str_to_int(c) for c in units["unit_id"]], dtype=np.uint64)
        order = np.argsort(unit_int)
        sorted_int = unit_int[order]
        pts = h3_cells(lon, lat, res)
        pos = np.minimum(np.searchsorted(sorted_int, pts), len(sorted_int) - 1)
        hit = ok & (sorted_int[pos] == pts)
        out[hit] = order[pos[hit]]
        return out
    if kind == "fishnet" and "cell_m" in units.attrs:
        cell = units.attrs["cell_m"]
        x0, y0 = units.attrs["origin"]
        x, y, _ = to_metric_xy(lon[ok], lat[ok], pyproj.CRS.from_epsg(units.attrs["metric_epsg"]))
        ix = np.floor((x - x0) / cell).astype(np.int64)
        iy = np.floor((y - y0) / cell).astype(np.int64)
        table, ixmin, iymin = lattice_table(units["ix"].to_numpy(), units["iy"].to_numpy())
        jx, jy = ix - ixmin, iy - iymin
        inside = (jx >= 0) & (jx < table.shape[1]) & (jy >= 0) & (jy < table.shape[0])
        found = np.full(len(ix), -1, dtype=np.int64)
        found[inside] = table[jy[inside], jx[inside]]
        out[ok] = found
        return out
    # any polygons: STRtree; a point on a shared edge goes to the first unit (smallest row)
    tree = shapely.STRtree(units.geometry.to_numpy())
    pts = shapely.points(lon[ok], lat[ok])
    hit_pt, hit_poly = tree.query(pts, predicate="intersects")
    first = np.full(len(pts), -1, dtype=np.int64)
    order = np.lexsort((-hit_poly, hit_pt))
    first[hit_pt[order]] = hit_poly[order]
    out[ok] = first
    return out


def unit_index(points, units: gpd.GeoDataFrame) -> np.ndarray:
    """Row position in ``units`` of each point (-1: in no unit, or no coordinate).

    The point-to-unit step of ``count_by_unit``, for analyses that bin points further (by
    time step, category): integer keys for H3 and fishnet units, an STRtree otherwise.
    """
    lon, lat = points_lonlat(points)
    return _assign_units(lon, lat, units)


def unit_counts_frame(units: gpd.GeoDataFrame, counts: np.ndarray) -> gpd.GeoDataFrame:
    """``units`` with ``count`` (second column), ``density_km2`` (per km² of ``area_km2``) and
    ``rate_per_1000`` (per 1,000 residents where ``population`` > 0, else NaN), geometry last,
    EPSG:4326, ``attrs`` copied from ``units``; shared by ``count_by_unit`` and
    ``gis.views.hotspots.count_from_index``."""
    out = units.drop(columns=["count", "density_km2", "rate_per_1000"], errors="ignore")
    out.insert(1, "count", counts)
    area = out["area_km2"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["density_km2"] = np.where(area > 0, counts / area, np.nan)
        if "population" in out.columns:
            pop = pd.to_numeric(out["population"], errors="coerce").to_numpy(dtype=float)
            out["rate_per_1000"] = np.where(pop > 0, counts / pop * 1000.0, np.nan)
        else:
            out["rate_per_1000"] = np.nan
    geom = out.pop("geometry")
    out["geometry"] = geom
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=STORAGE_EPSG)
    out.attrs = dict(units.attrs)
    return out


def count_by_unit(
    points, units: gpd.GeoDataFrame, *, weights: np.ndarray | None = None
) -> gpd.GeoDataFrame:
    """Count points per unit, zero-count units included, with densities and rates.

    Parameters
    ----------
    points
        Incident points: GeoSeries/GeoDataFrame (any CRS; EPSG:4326 expected) or an (n, 2)
        lon/lat array. Points without coordinates are ignored (and counted in ``attrs``).
    units
        From ``h3_units``, ``fishnet_units`` or ``grid_units`` (or any polygons with a
        ``unit_id`` and an ``area_km2`` column). H3 and fishnet units are found by integer
        keys; other polygons by an STRtree point-in-polygon test.
    weights
        Optional weight per point (counts become sums of weights).

    Returns
    -------
    geopandas.GeoDataFrame
        The units' rows and order, with ``unit_id, count, area_km2, density_km2 (count per
        km² of the unit's real area), rate_per_1000 (count per 1,000 residents where the unit
        has a positive ``population``, else NaN), geometry`` (plus the units' other columns).
        ``attrs``: those of ``units`` plus ``n_points``, ``n_outside`` (points in no unit).
    """
    lon, lat = points_lonlat(points)
    idx = _assign_units(lon, lat, units)
    inside = idx >= 0
    w = None if weights is None else np.asarray(weights, dtype=float)[inside]
    counts = np.bincount(idx[inside], weights=w, minlength=len(units))
    if weights is None:
        counts = counts.astype(np.int64)
    out = unit_counts_frame(units, counts)
    n_valid = int((np.isfinite(lon) & np.isfinite(lat)).sum())
    out.attrs.update(n_points=int(len(lon)), n_outside=int(n_valid - inside.sum()))
    return out
