"""Units of presence: polygon layers (micro-grids of a grid layer) or H3 cells, and the unit
each sample lies in."""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import h3
import numpy as np
import shapely

from gis.core.errors import InputError
from gis.grids import OUTSIDE, assign_points
from gis.units import UnitSpec, h3_cells


def parse_units(units) -> tuple[str, object]:
    """``("h3", res)`` for ``"h3:11"`` (``gis.units.UnitSpec``'s grammar) or ``("h3", 11)``,
    else ``("polygons", frame)`` for a polygon layer.

    Raises
    ------
    InputError
        Text that is not ``h3:RES`` (0-15) in the unit grammar, or anything else.
    """
    if isinstance(units, str | UnitSpec):
        spec = UnitSpec.parse(units, allowed=("h3",))
        return "h3", spec.h3_resolution
    if isinstance(units, tuple) and len(units) == 2 and units[0] == "h3":
        return "h3", int(units[1])
    if isinstance(units, gpd.GeoDataFrame):
        return "polygons", units
    raise InputError("units must be a polygon GeoDataFrame or 'h3:<res>'")


def _unit_ids(frame: gpd.GeoDataFrame) -> np.ndarray:
    for col in ("unit_id", "code", "grid_code", "id"):
        if col in frame:
            return frame[col].astype(str).to_numpy(dtype=object)
    return frame.index.astype(str).to_numpy(dtype=object)


def polygon_units(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The polygon units used: micro-grids of a grid layer (``level == "micro"``), else all."""
    if "level" in units:
        units = units[units["level"] == "micro"]
    out = gpd.GeoDataFrame(
        {"unit_id": _unit_ids(units)}, geometry=units.geometry.to_numpy(), crs=units.crs
    )
    return out.to_crs(4326) if out.crs is not None and out.crs.to_epsg() != 4326 else out


def assign_units(samples: gpd.GeoDataFrame, units) -> np.ndarray:
    """Unit id (object array; None outside every unit) of each sample point (EPSG:4326).

    Grid layers (with ``level``) go through ``gis.grids.assign_points`` (micro-grids; a point on
    a shared edge goes to the smaller code); other polygon layers use an STRtree (first unit in
    layer order); ``"h3:<res>"`` uses ``gis.units.h3_cells`` (h3 v4 ``latlng_to_cell``).
    """
    kind, spec = parse_units(units)
    geoms = samples.geometry.to_numpy()
    if kind == "h3":
        cells = h3_cells(shapely.get_x(geoms), shapely.get_y(geoms), int(spec))
        uniq, inv = np.unique(cells, return_inverse=True)
        names = np.array([h3.int_to_str(int(c)) if c else None for c in uniq], dtype=object)
        return names[inv]
    frame = spec
    if "level" in frame and "parent_code" in frame and "code" in frame:
        points = gpd.GeoSeries(geoms, crs=4326)
        micro = assign_points(points, frame)["micro"].to_numpy(dtype=object)
        return np.where(micro == OUTSIDE, None, micro)
    poly = polygon_units(frame)
    tree = shapely.STRtree(poly.geometry.to_numpy())
    hit_pt, hit_poly = tree.query(geoms, predicate="intersects")
    first = np.full(len(geoms), -1, dtype=np.int64)
    order = np.lexsort((-hit_poly, hit_pt))
    first[hit_pt[order]] = hit_poly[order]
    ids = poly["unit_id"].to_numpy(dtype=object)
    return np.where(first >= 0, ids[np.maximum(first, 0)], None)


def h3_cells_within(cells: Iterable[str], area: shapely.Geometry) -> np.ndarray:
    """Whether the centre of each H3 cell lies in ``area`` (EPSG:4326): a grid's cells."""
    cells = list(cells)
    if not cells:
        return np.zeros(0, dtype=bool)
    latlng = np.array([h3.cell_to_latlng(c) for c in cells], dtype=float)
    shapely.prepare(area)
    return shapely.contains_xy(area, latlng[:, 1], latlng[:, 0])
