"""Page models on the store's incident cube (:mod:`gis.store.cube`): the sidebar's filters as a
cube filter, counts per analysis unit, counts per unit and time step, binned points for the
heat, and the narrow selection that reads one unit's own incidents.

The pages never hold every incident: they hold one :class:`gis.store.cube.Cube` per unit family
(bounded by units x days x categories x sources) and answer every filter from it. The results
equal the in-memory path (locating every incident in the units, ``count_from_index``,
``space_time_cube``): the cube's unit keys are the same cells (H3 cells, the 50-m fishnet
lattice at origin 0 in the district's metric CRS, the micro-grid located at import), and the
tests compare both paths on the demo district.

Pure functions on the cube, frames and arrays (no Streamlit; the database only through the
arguments the callers pass to :func:`gis.store.incidents.select_incidents`).
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis import hotspots as hs
from gis.core.errors import InputError
from gis.core.geometry import as_area
from gis.grids import descendants
from gis.store.cube import Cube, CubeFilter
from gis.units import FISHNET_BASE_M, UnitSpec

__all__ = [
    "area_selection",
    "binned_points",
    "category_unit_counts",
    "cube_filter",
    "cube_kind",
    "level_ancestors",
    "space_time_counts",
    "unit_counts",
    "unit_period_counts",
    "unit_selection",
]


def cube_kind(by: str | UnitSpec) -> str:
    """The cube family (``grid``, ``h3``, ``fishnet``) that counts by ``by``."""
    spec = UnitSpec.parse(by, allowed=("h3", "fishnet", "grid"))
    return spec.kind


def _day(value) -> object:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    stamp = pd.Timestamp(value)
    if stamp != stamp.normalize():
        raise InputError(f"the cube counts whole days; {stamp} is not midnight")
    return stamp.date()


def cube_filter(
    start=None,
    end=None,
    categories: Iterable[str] = (),
    sources: Iterable[str] = (),
    grid_code: str | None = None,
    grids: pd.DataFrame | None = None,
) -> CubeFilter:
    """The sidebar's filters as a :class:`CubeFilter`.

    Parameters
    ----------
    start, end
        The period ``[start, end)``: midnights (whole days), or None.
    categories, sources
        As ``gis.views.home.filter_incidents`` (THE category rule).
    grid_code
        A grid of any level: the incidents whose micro-grid is it or below it (``grids`` gives
        the hierarchy).
    """
    micros = None
    if grid_code:
        if grids is None:
            raise InputError("filtering by grid needs the grid hierarchy")
        micros = tuple(sorted(descendants(grid_code, grids)))
    return CubeFilter(
        start=_day(start),
        end=_day(end),
        categories=tuple(categories or ()),
        sources=tuple(sources or ()),
        micros=micros,
    )


def level_ancestors(grids: pd.DataFrame, level: str) -> dict[str, str]:
    """Micro-grid code -> the code of its grid at ``level`` (``micro``, ``l2``, ``l1``)."""
    parent = dict(zip(grids["code"], grids["parent_code"], strict=True))
    micros = grids.loc[grids["level"] == "micro", "code"]
    steps = {"micro": 0, "l2": 1, "l1": 2}
    if level not in steps:
        raise InputError(f"grid level must be micro, l2 or l1, got {level!r}")
    out = {}
    for code in micros:
        up = code
        for _ in range(steps[level]):
            up = parent.get(up)
            if up is None or (not isinstance(up, str) and pd.isna(up)):
                break
        if isinstance(up, str):
            out[code] = up
    return out


def _ancestors(spec: UnitSpec, grids: pd.DataFrame | None) -> dict[str, str] | None:
    if spec.kind != "grid" or spec.level == "micro":
        return None
    if grids is None:
        raise InputError(f"units {spec} need the grid hierarchy")
    return level_ancestors(grids, spec.level)


def _check_fishnet(cube_epsg: int | None, units: gpd.GeoDataFrame, spec: UnitSpec) -> None:
    if spec.kind != "fishnet":
        return
    if spec.cell_m % FISHNET_BASE_M:
        raise InputError(f"the cube counts fishnet cells of multiples of {FISHNET_BASE_M:g} m")
    unit_epsg = units.attrs.get("metric_epsg")
    if cube_epsg is not None and unit_epsg is not None and int(unit_epsg) != int(cube_epsg):
        raise InputError(f"fishnet units in EPSG:{unit_epsg}, the cube's keys in EPSG:{cube_epsg}")
    if tuple(units.attrs.get("origin", (0.0, 0.0))) != (0.0, 0.0):
        raise InputError("the cube's fishnet lattice starts at the origin (0, 0)")


def unit_counts(
    cube: Cube,
    flt: CubeFilter,
    units: gpd.GeoDataFrame,
    by: str | UnitSpec,
    grids: pd.DataFrame | None = None,
    *,
    fishnet_epsg: int | None = None,
) -> gpd.GeoDataFrame:
    """Incidents per unit of ``units`` within ``flt``, from the cube.

    The same frame as ``gis.views.hotspots.count_from_index`` on the filtered incidents:
    ``unit_id, count, ..., area_km2, density_km2, rate_per_1000, geometry``, zero-count units
    kept, ``attrs`` of ``units`` plus ``n_points`` (incidents in the filters) and
    ``n_outside`` (those in none of ``units``).

    Parameters
    ----------
    cube
        The family of ``by`` (:func:`cube_kind`).
    units
        From ``gis.views.hotspots.make_units(by, ...)``.
    grids
        The hierarchy (for ``grid:l2`` / ``grid:l1``).
    fishnet_epsg
        The CRS of the stored fishnet keys (``gis.store.cube.fishnet_epsg``), checked against
        the units' lattice.
    """
    spec = UnitSpec.parse(by, allowed=("h3", "fishnet", "grid"))
    _check_fishnet(fishnet_epsg, units, spec)
    rows = cube.select(flt)
    ids = cube.unit_of_rows(rows, spec, _ancestors(spec, grids))
    n = cube.n[rows].astype(np.int64)
    pos = pd.Index(units["unit_id"].astype(str)).get_indexer(ids.astype(str))
    inside = pos >= 0
    counts = np.bincount(pos[inside], weights=n[inside], minlength=len(units)).astype(np.int64)
    out = hs.unit_counts_frame(units, counts)
    total = int(n.sum())
    out.attrs.update(n_points=total, n_outside=total - int(counts.sum()))
    return out


def unit_period_counts(
    cube: Cube,
    flt: CubeFilter,
    units: gpd.GeoDataFrame,
    by: str | UnitSpec,
    edges: pd.DatetimeIndex,
    grids: pd.DataFrame | None = None,
    *,
    fishnet_epsg: int | None = None,
) -> np.ndarray:
    """Incidents per unit and period, from the cube: an ``(len(units), len(edges) - 1)`` int64
    matrix, row i the unit ``units.unit_id[i]``, column t the days ``[edges[t], edges[t+1])``.

    ``edges`` are midnights, ascending (e.g. ``gis.hotspots.step_edges``, or any frames of a
    time playback). Incidents outside ``[edges[0], edges[-1])`` or in no unit are not counted;
    ``flt``'s own period also applies.
    """
    spec = UnitSpec.parse(by, allowed=("h3", "fishnet", "grid"))
    _check_fishnet(fishnet_epsg, units, spec)
    edges = pd.DatetimeIndex(edges)
    if len(edges) < 2:
        raise InputError("periods need at least two edges")
    if (edges != edges.normalize()).any():
        raise InputError("the cube counts whole days: period edges must be midnights")
    rows = cube.select(flt)
    ids = cube.unit_of_rows(rows, spec, _ancestors(spec, grids))
    edge_days = (
        edges.to_numpy().astype("datetime64[D]") - np.datetime64("1970-01-01", "D")
    ).astype(np.int64)
    step = np.searchsorted(edge_days, cube.day[rows].astype(np.int64), side="right") - 1
    pos = pd.Index(units["unit_id"].astype(str)).get_indexer(ids.astype(str))
    n_steps = len(edges) - 1
    keep = (pos >= 0) & (step >= 0) & (step < n_steps)
    flat = np.bincount(
        pos[keep] * n_steps + step[keep],
        weights=cube.n[rows][keep].astype(np.int64),
        minlength=len(units) * n_steps,
    )
    return flat.reshape(len(units), n_steps).astype(np.int64)


def space_time_counts(
    cube: Cube,
    flt: CubeFilter,
    units: gpd.GeoDataFrame,
    by: str | UnitSpec,
    *,
    step: str = "week",
    start=None,
    end=None,
    grids: pd.DataFrame | None = None,
    fishnet_epsg: int | None = None,
) -> hs.SpaceTimeCube:
    """``gis.hotspots.space_time_cube`` of the filtered incidents, from the cube.

    ``start`` / ``end`` (midnights) give the steps (``gis.hotspots.step_edges``); default the
    filter's period. The counts equal ``space_time_cube`` on the same incidents;
    ``n_points``, ``n_outside``, ``n_out_of_period`` are counted the same way.
    """
    start = pd.Timestamp(start if start is not None else flt.start)
    end = pd.Timestamp(end if end is not None else flt.end)
    edges = hs.step_edges(start, end, step)
    counts = unit_period_counts(cube, flt, units, by, edges, grids, fishnet_epsg=fishnet_epsg)
    per_unit = unit_counts(cube, flt, units, by, grids, fishnet_epsg=fishnet_epsg)
    n_points = int(per_unit.attrs["n_points"])
    n_outside = int(per_unit.attrs["n_outside"])
    return hs.SpaceTimeCube(
        counts=counts,
        edges=edges,
        unit_ids=units["unit_id"].to_numpy(),
        step=step,
        units=units,
        n_points=n_points,
        n_outside=n_outside,
        n_out_of_period=int(n_points - n_outside - counts.sum()),
    )


def binned_points(cube: Cube, flt: CubeFilter, fishnet_epsg: int) -> tuple[np.ndarray, np.ndarray]:
    """The filtered incidents binned on the 50-m fishnet: ``(lonlat, weights)``, one point per
    cell with incidents at the cell's centre (EPSG:4326) weighted by its incidents. Enough for
    a kernel density whose bandwidth is several cells (``gis.hotspots.kde(..., weights=)``)."""
    if cube.kind != "fishnet":
        raise InputError(f"binned points come from the fishnet cube, not {cube.kind!r}")
    rows = cube.select(flt)
    fx, fy = cube.units["fx50"][rows], cube.units["fy50"][rows]
    ok = fx != np.iinfo(np.int64).min
    pairs = np.stack([fx[ok], fy[ok]], axis=1)
    if not len(pairs):
        return np.zeros((0, 2)), np.zeros(0)
    uniq, inv = np.unique(pairs, axis=0, return_inverse=True)
    weights = np.bincount(inv.ravel(), weights=cube.n[rows][ok], minlength=len(uniq))
    x = (uniq[:, 0] + 0.5) * FISHNET_BASE_M
    y = (uniq[:, 1] + 0.5) * FISHNET_BASE_M
    to_ll = pyproj.Transformer.from_crs(int(fishnet_epsg), 4326, always_xy=True)
    lon, lat = to_ll.transform(x, y)
    return np.column_stack([lon, lat]), weights.astype(float)


def unit_selection(by: str | UnitSpec, unit_id: str, grids: pd.DataFrame | None = None) -> dict:
    """The keyword arguments of :func:`gis.store.incidents.select_incidents` that pick one
    unit's incidents by its stored keys: ``micros`` (a grid's micro-grids), ``h3_cell`` (an
    H3 cell of resolution 8-11) or ``fishnet_range`` (a fishnet cell, ``"{M}m_{ix}_{iy}"``)."""
    spec = UnitSpec.parse(by, allowed=("h3", "fishnet", "grid"))
    if spec.kind == "grid":
        if grids is None:
            raise InputError(f"units {spec} need the grid hierarchy")
        inside = descendants(str(unit_id), grids)
        micro = grids.loc[grids["level"] == "micro", "code"]
        return {"micros": tuple(sorted(set(micro) & inside))}
    if spec.kind == "h3":
        return {"h3_cell": (h3.get_resolution(str(unit_id)), h3.str_to_int(str(unit_id)))}
    if spec.cell_m % FISHNET_BASE_M:
        raise InputError(f"fishnet cells of multiples of {FISHNET_BASE_M:g} m only")
    _, ix, iy = str(unit_id).rsplit("_", 2)
    k = int(spec.cell_m // FISHNET_BASE_M)
    ix, iy = int(ix), int(iy)
    return {"fishnet_range": (ix * k, ix * k + k - 1, iy * k, iy * k + k - 1)}


def category_unit_counts(
    cube: Cube,
    flt: CubeFilter,
    by: str | UnitSpec,
    grids: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Incidents per unit of ``by`` and category within ``flt``, from the cube:
    ``unit_id, category_code, count`` (rows without a unit dropped; for
    ``gis.patrol.unit_risk_from_counts`` and the rectification zones)."""
    spec = UnitSpec.parse(by, allowed=("h3", "fishnet", "grid"))
    rows = cube.select(flt)
    ids = cube.unit_of_rows(rows, spec, _ancestors(spec, grids))
    frame = pd.DataFrame(
        {
            "unit_id": ids.astype(str),
            "category_code": cube.cats[cube.cat[rows]].astype(object),
            "count": cube.n[rows].astype(np.int64),
        }
    )
    frame = frame[frame["unit_id"] != ""]
    return frame.groupby(["unit_id", "category_code"], as_index=False, sort=True)["count"].sum()


def area_selection(
    area,
    grids: pd.DataFrame,
    flt: CubeFilter | None = None,
    *,
    fill_holes: bool = False,
    margin_deg: float = 0.0,
) -> dict:
    """The keyword arguments of :func:`gis.store.incidents.select_incidents` that read every
    incident that can lie in ``area`` (a geometry in EPSG:4326, e.g. the hot units of a
    rectification, a drawn polygon), and few others: those of the micro-grids meeting the
    area, and those stored outside every grid (unless ``flt`` limits the grids: then only its
    micro-grids that meet the area). A point inside the area lies in a micro-grid that meets
    it, so the caller's exact point-in-area test on these rows gives every incident of the area.
    ``fill_holes`` and ``margin_deg`` (degrees, ~111 km each) widen the area first, for an area
    the caller will itself widen (rectification zones fill holes and are simplified).
    """
    micro = grids[grids["level"] == "micro"]
    geom = as_area(area)
    if fill_holes:  # a zone fills the small holes between its units: read them too
        parts = shapely.get_parts(geom)
        geom = shapely.union_all(shapely.polygons(shapely.get_exterior_ring(parts)))
    if margin_deg:
        geom = shapely.buffer(geom, margin_deg)
    hit = micro.loc[micro.intersects(geom).to_numpy(), "code"]
    codes = set(hit)
    if flt is not None and flt.micros is not None:
        codes &= set(flt.micros)
    limited = flt is not None and flt.micros is not None
    return {"micros": tuple(sorted(codes)), "outside_grids": not limited}
