"""Hotspot analytics: analysis units, kernel density, Getis-Ord Gi* and local Moran's I.

Pure functions on GeoDataFrames and numpy arrays (no database, no Streamlit). Geometries come
and go in EPSG:4326 (lon/lat); metric work happens in a local metric CRS chosen by
``gis.core.crs.local_metric_crs`` (CGCS2000 3-degree Gauss-Kruger inside China, UTM elsewhere).

Pieces, meant to be reused by the space-time (emerging hot spot) analysis, the CLI and the page:

- **Units** -- ``h3_units``, ``fishnet_units`` (square cells on a fixed metric lattice),
  ``grid_units`` (a level of the grid hierarchy); ``count_by_unit`` counts points per unit with
  zero-count units kept, densities per real unit area and rates per 1,000 residents.
- **Kernel density** -- ``kde`` (Gaussian or quartic kernel; linear binning + FFT convolution),
  ``silverman_bandwidth_m`` (the robust spatial Silverman rule ArcGIS documents).
- **Weights** -- scipy.sparse CSR matrices, binary, without the diagonal: ``queen_weights``,
  ``h3_ring_weights``, ``lattice_weights``, ``distance_band_weights``; ``auto_band`` picks a
  distance band like ArcGIS's Optimized Hot Spot Analysis.
- **Statistics** -- ``gi_star(y, W)`` (analytic z, two-sided p, FDR-corrected confidence bins) and
  ``local_moran(y, W)`` (conditional-permutation pseudo p-values), both functions of a value
  vector and a sparse matrix only, so a space-time neighbourhood matrix works unchanged.
- ``hotspots(units_frame, ...)`` ties them together for a counted units frame.
- **Emerging hot spots** -- ``space_time_cube`` (day/week/month counts per unit),
  ``space_time_weights`` / ``space_time_gi_star`` (Gi* per bin with time-lagged neighbours),
  ``mann_kendall`` (vectorised, ties corrected), ``classify_emerging`` (ArcGIS's 17 patterns)
  and ``emerging_hotspots`` tying them together.
- **When** -- ``hour_weekday`` (24 x 7 counts) and ``period_comparison`` (this period vs the
  previous one and the same period last year, exact conditional Poisson test).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from h3._cy import latlng_to_cell as _h3_latlng_to_cell  # the C function, no str conversion
from scipy import special
from scipy.signal import fftconvolve
from scipy.spatial import cKDTree

from gis.core.crs import local_metric_crs
from gis.core.errors import InputError

STORAGE_EPSG = 4326

#: Gaussian kernels are truncated at this many standard deviations (exp(-12.5) = 4e-6 of peak).
GAUSS_TRUNCATE_SD = 5.0
#: Default padding of the KDE extent around the points, in bandwidths (Gaussian kernel).
GAUSS_PAD_BANDWIDTHS = 3.0
#: Largest KDE raster built without an explicit ``cell_m`` (cells); the cell grows beyond it.
KDE_MAX_CELLS = 4_000_000
#: Points are binned on a grid with spacing <= bandwidth / KDE_BIN_RATIO (then < 1 % error
#: against the exact sum even next to a lone point), finer than the output cells if need be.
KDE_BIN_RATIO = 12
#: Cap on that binning grid (nodes); beyond it the binning grid coarsens (less accurate).
KDE_MAX_FINE_CELLS = 25_000_000
#: Confidence levels of the Gi* bins: bin 1, 2, 3 = 90, 95, 99 % (alpha 0.10, 0.05, 0.01).
GI_ALPHAS = (0.10, 0.05, 0.01)
#: Local Moran quadrants as esda numbers them.
LISA_LABELS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
#: Work budget of the default permutation count (cells x permutations x max neighbours).
PERMUTATION_BUDGET = 4e8
PERMUTATIONS_MIN = 999
PERMUTATIONS_MAX = 99_999

# --------------------------------------------------------------------------------------------
# Input helpers


def _lonlat(points) -> tuple[np.ndarray, np.ndarray]:
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


def _metric_crs_for(lon: np.ndarray, lat: np.ndarray) -> pyproj.CRS:
    """``local_metric_crs`` of the bounding box of lon/lat arrays."""
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        raise InputError("no points with coordinates")
    # the central 98 % of the points: a few far-off reports must not pick the zone
    lo = np.quantile(lon[ok], [0.01, 0.99])
    la = np.quantile(lat[ok], [0.01, 0.99])
    box = shapely.box(lo[0], la[0], lo[1], la[1])
    return local_metric_crs(gpd.GeoSeries([box], crs=STORAGE_EPSG))


def _to_metric(lon: np.ndarray, lat: np.ndarray, crs: pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
    tr = pyproj.Transformer.from_crs(STORAGE_EPSG, crs, always_xy=True)
    x, y = tr.transform(lon, lat)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def _area_geometry(area) -> shapely.Geometry:
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
        return _area_geometry(sel)
    if points is None:
        raise InputError("give the district grids or the incident points")
    lon, lat = _lonlat(points)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        raise InputError("no points with coordinates")
    return _hull(shapely.points(lon[ok], lat[ok]))


# --------------------------------------------------------------------------------------------
# Units


def _units_frame(unit_id, geometry, area_km2, attrs: dict, **columns) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"unit_id": np.asarray(unit_id, dtype=object), **columns, "area_km2": area_km2},
        geometry=geometry,
        crs=STORAGE_EPSG,
    )
    frame.attrs.update(attrs)
    return frame


def h3_cells_lonlat(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cell (uint64) of each lon/lat point; 0 where a coordinate is missing.

    h3 4.x has no vectorised API: this loops over the C function ``latlng_to_cell`` (about
    2 M points/s here), which beats converting to strings by 40 %.
    """
    ok = np.isfinite(lon) & np.isfinite(lat)
    out = np.zeros(len(lon), dtype=np.uint64)
    la, lo = lat[ok].tolist(), lon[ok].tolist()
    out[ok] = np.fromiter(
        (_h3_latlng_to_cell(a, b, resolution) for a, b in zip(la, lo, strict=True)),
        dtype=np.uint64,
        count=len(la),
    )
    return out


def _h3_polygons(cells: list[str]) -> np.ndarray:
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
    geom = _area_geometry(area)
    shape = h3.geo_to_h3shape(geom)  # GeoJSON order (lng, lat): no axis swap possible
    cells = sorted(h3.h3shape_to_cells_experimental(shape, int(resolution), contain="overlap"))
    areas = np.array([h3.cell_area(c, unit="km^2") for c in cells])
    return _units_frame(
        cells,
        _h3_polygons(cells),
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
    geom = _area_geometry(area)
    series = gpd.GeoSeries([geom], crs=STORAGE_EPSG)
    metric = pyproj.CRS.from_user_input(crs) if crs is not None else local_metric_crs(series)
    geom_m = series.to_crs(metric).iloc[0]
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
    metric = local_metric_crs(sel.geometry)
    area = sel.geometry.to_crs(metric).area.to_numpy() / 1e6
    ids = sel["code"].to_numpy() if "code" in sel.columns else np.arange(len(sel)).astype(str)
    return _units_frame(
        ids, sel.geometry.to_numpy(), area, {"unit_kind": "grid", "level": level}, **cols
    )


def _unit_kind(units: pd.DataFrame) -> str:
    kind = units.attrs.get("unit_kind")
    if kind:
        return kind
    if {"ix", "iy"} <= set(units.columns):
        return "fishnet"
    return "polygon"


def _assign_units(lon: np.ndarray, lat: np.ndarray, units: gpd.GeoDataFrame) -> np.ndarray:
    """Index (row position) of the unit of each point; -1 outside every unit or no coordinate."""
    ok = np.isfinite(lon) & np.isfinite(lat)
    out = np.full(len(lon), -1, dtype=np.int64)
    kind = _unit_kind(units)
    if kind == "h3":
        res = int(units.attrs["h3_resolution"])
        unit_int = np.array([h3.str_to_int(c) for c in units["unit_id"]], dtype=np.uint64)
        order = np.argsort(unit_int)
        sorted_int = unit_int[order]
        pts = h3_cells_lonlat(lon, lat, res)
        pos = np.minimum(np.searchsorted(sorted_int, pts), len(sorted_int) - 1)
        hit = ok & (sorted_int[pos] == pts)
        out[hit] = order[pos[hit]]
        return out
    if kind == "fishnet" and "cell_m" in units.attrs:
        cell = units.attrs["cell_m"]
        x0, y0 = units.attrs["origin"]
        x, y = _to_metric(lon[ok], lat[ok], pyproj.CRS.from_epsg(units.attrs["metric_epsg"]))
        ix = np.floor((x - x0) / cell).astype(np.int64)
        iy = np.floor((y - y0) / cell).astype(np.int64)
        table, ixmin, iymin = _lattice_table(units["ix"].to_numpy(), units["iy"].to_numpy())
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
    lon, lat = _lonlat(points)
    return _assign_units(lon, lat, units)


def _unit_counts_frame(units: gpd.GeoDataFrame, counts: np.ndarray) -> gpd.GeoDataFrame:
    """``units`` with ``count`` (second column), ``density_km2`` (per km² of ``area_km2``) and
    ``rate_per_1000`` (per 1,000 residents where ``population`` > 0, else NaN), geometry last,
    EPSG:4326, ``attrs`` copied from ``units``; shared by ``count_by_unit`` and
    ``gis.hotspots_view.count_from_index``."""
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
    lon, lat = _lonlat(points)
    idx = _assign_units(lon, lat, units)
    inside = idx >= 0
    w = None if weights is None else np.asarray(weights, dtype=float)[inside]
    counts = np.bincount(idx[inside], weights=w, minlength=len(units))
    if weights is None:
        counts = counts.astype(np.int64)
    out = _unit_counts_frame(units, counts)
    n_valid = int((np.isfinite(lon) & np.isfinite(lat)).sum())
    out.attrs.update(n_points=int(len(lon)), n_outside=int(n_valid - inside.sum()))
    return out


# --------------------------------------------------------------------------------------------
# Kernel density


def silverman_bandwidth_m(
    x_m: np.ndarray, y_m: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """The robust spatial Silverman rule ArcGIS documents for Kernel Density (10.2.1 and later).

    ``h = 0.9 * min(SD, sqrt(1 / ln 2) * Dm) * n ** -0.2`` where SD is the (weighted)
    standard distance of the points about their (weighted) mean centre, Dm the (weighted)
    median distance to that centre, and n the number of points (the sum of the weights when
    given). Dm makes the rule robust to a few far-away points.

    Parameters
    ----------
    x_m, y_m
        Point coordinates in a metric CRS, metres.
    weights
        Optional non-negative weight per point.

    Returns
    -------
    float
        The bandwidth in metres.
    """
    w = np.ones(len(x_m)) if weights is None else np.asarray(weights, dtype=float)
    n = w.sum()
    if not n > 0:
        raise InputError("no points (or all weights zero): no bandwidth")
    cx, cy = (w * x_m).sum() / n, (w * y_m).sum() / n
    d2 = (x_m - cx) ** 2 + (y_m - cy) ** 2
    sd = math.sqrt((w * d2).sum() / n)
    d = np.sqrt(d2)
    order = np.argsort(d)
    cum = np.cumsum(w[order])
    dm = float(d[order][np.searchsorted(cum, 0.5 * n)])
    h = 0.9 * min(sd, math.sqrt(1.0 / math.log(2.0)) * dm) * n**-0.2
    if not h > 0:
        raise InputError("the points (nearly) coincide: give bandwidth_m explicitly")
    return float(h)


@dataclass(frozen=True)
class KDEResult:
    """A kernel density raster; cell centres on a regular grid of a metric CRS.

    Attributes
    ----------
    x_m, y_m
        Cell-centre eastings (nx,) and northings (ny,) in ``epsg``, metres.
    density_km2
        (ny, nx) incidents per km²; row j is northing ``y_m[j]``.
    epsg
        The metric CRS (EPSG code).
    bandwidth_m
        Gaussian: the kernel's standard deviation; quartic: its radius. Metres.
    cell_m, kernel, n_points, total_weight, bandwidth_rule
        Cell side (m), kernel name, points used, their total weight, and ``"silverman"`` or
        ``"given"``.
    """

    x_m: np.ndarray
    y_m: np.ndarray
    density_km2: np.ndarray
    epsg: int
    bandwidth_m: float
    cell_m: float
    kernel: str
    n_points: int
    total_weight: float
    bandwidth_rule: str = "given"
    n_outside: int = 0

    @property
    def cell_area_km2(self) -> float:
        return self.cell_m * self.cell_m / 1e6

    @property
    def mass(self) -> float:
        """Sum of density x cell area: the (weighted) number of incidents the raster holds."""
        return float(self.density_km2.sum() * self.cell_area_km2)

    def lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """(ny, nx) lon and lat (EPSG:4326) of the cell centres."""
        gx, gy = np.meshgrid(self.x_m, self.y_m)
        tr = pyproj.Transformer.from_crs(self.epsg, STORAGE_EPSG, always_xy=True)
        lon, lat = tr.transform(gx, gy)
        return np.asarray(lon), np.asarray(lat)

    def to_frame(self, min_density_km2: float = 0.0) -> pd.DataFrame:
        """One row per cell centre: ``x_m, y_m, lon, lat, density_km2``.

        Cells with density below ``min_density_km2`` are left out (default: none).
        ``attrs``: ``epsg``, ``bandwidth_m``, ``cell_m``, ``kernel``.
        """
        gx, gy = np.meshgrid(self.x_m, self.y_m)
        keep = (self.density_km2 >= min_density_km2).ravel()
        x, y = gx.ravel()[keep], gy.ravel()[keep]
        tr = pyproj.Transformer.from_crs(self.epsg, STORAGE_EPSG, always_xy=True)
        lon, lat = tr.transform(x, y)
        frame = pd.DataFrame(
            {
                "x_m": x,
                "y_m": y,
                "lon": lon,
                "lat": lat,
                "density_km2": self.density_km2.ravel()[keep],
            }
        )
        frame.attrs.update(
            epsg=self.epsg, bandwidth_m=self.bandwidth_m, cell_m=self.cell_m, kernel=self.kernel
        )
        return frame

    def contours(self, levels: int | list[float] = 5) -> gpd.GeoDataFrame:
        """Filled contour bands as polygons (EPSG:4326).

        Parameters
        ----------
        levels
            Density thresholds (per km², increasing), or a number k of equally spaced
            thresholds ``max * i / (k + 1)``, i = 1..k. Band i holds density in
            ``[levels[i], levels[i+1])``; the last band is everything above the last level.

        Returns
        -------
        geopandas.GeoDataFrame
            ``level`` (lower bound, per km²), ``level_upper`` (inf for the top band),
            geometry (MultiPolygon, EPSG:4326); empty bands are left out.
        """
        import contourpy  # matplotlib's contouring engine, outer rings grouped with holes

        top = float(self.density_km2.max())
        if isinstance(levels, int):
            lv = [top * i / (levels + 1) for i in range(1, levels + 1)]
        else:
            lv = sorted(float(v) for v in levels)
        gen = contourpy.contour_generator(
            self.x_m, self.y_m, self.density_km2, name="serial", fill_type="OuterOffset"
        )
        rows = []
        for i, lower in enumerate(lv):
            upper = lv[i + 1] if i + 1 < len(lv) else math.inf
            points, offsets = gen.filled(lower, upper if math.isfinite(upper) else top * 2 + 1)
            polys = [
                shapely.Polygon(
                    pts[off[0] : off[1]],
                    [pts[a:b] for a, b in zip(off[1:-1], off[2:], strict=True)],
                )
                for pts, off in zip(points, offsets, strict=True)
            ]
            if polys:
                rows.append((lower, upper, shapely.MultiPolygon(polys)))
        frame = gpd.GeoDataFrame(
            rows, columns=["level", "level_upper", "geometry"], geometry="geometry", crs=self.epsg
        )
        out = frame.to_crs(STORAGE_EPSG)
        out.attrs.update(epsg=self.epsg, bandwidth_m=self.bandwidth_m, kernel=self.kernel)
        return out


def _kernel_grid(kernel: str, h: float, cell: float) -> tuple[np.ndarray, int]:
    """The kernel sampled on cell offsets, normalised so that sum * cell² = 1 (per m²)."""
    support = GAUSS_TRUNCATE_SD * h if kernel == "gaussian" else h
    r = int(math.ceil(support / cell))
    off = np.arange(-r, r + 1) * cell
    d2 = off[None, :] ** 2 + off[:, None] ** 2
    if kernel == "gaussian":
        k = np.exp(-0.5 * d2 / (h * h)) / (2 * math.pi * h * h)
        k[d2 > support * support] = 0.0
    else:  # quartic (biweight), Silverman 1986 eq. 4.5, as ArcGIS uses
        u = d2 / (h * h)
        k = np.where(u < 1.0, 3.0 / (math.pi * h * h) * (1.0 - u) ** 2, 0.0)
    total = k.sum() * cell * cell
    if total > 0:
        k /= total
    else:  # kernel narrower than a cell: all mass in the centre cell
        k[r, r] = 1.0 / (cell * cell)
    return k, r


def kde(
    points,
    *,
    kernel: Literal["gaussian", "quartic"] = "gaussian",
    bandwidth_m: float | None = None,
    cell_m: float | None = None,
    extent: tuple[float, float, float, float] | shapely.Geometry | gpd.GeoSeries | None = None,
    weights: np.ndarray | None = None,
    crs: pyproj.CRS | int | None = None,
    pad_bandwidths: float | None = None,
) -> KDEResult:
    """Kernel density of incidents on a raster in a local metric CRS.

    The points are linearly binned (each point's weight split between the four nearest nodes)
    onto a grid whose spacing is at most 1/12 of the bandwidth -- the output grid itself,
    or one s times finer whose every s-th node is an output cell centre -- and the grid is
    convolved with the sampled kernel by FFT: the standard fast KDE. It agrees with the
    direct sum (what ``scipy.stats.gaussian_kde`` computes) to under 1 % wherever the
    density exceeds 1 % of its maximum, even next to a lone point.

    Parameters
    ----------
    points
        GeoSeries/GeoDataFrame (EPSG:4326) or (n, 2) lon/lat array.
    kernel
        ``"gaussian"`` (``bandwidth_m`` = standard deviation, truncated at 5 SD) or
        ``"quartic"`` (``bandwidth_m`` = radius, as ArcGIS's Kernel Density).
    bandwidth_m
        Bandwidth in metres; default ``silverman_bandwidth_m`` (ArcGIS's robust spatial
        Silverman rule: ``0.9 * min(SD, sqrt(1/ln 2) * Dm) * n ** -0.2``).
    cell_m
        Cell side in metres; default the shorter side of the extent / 250 (ArcGIS's default),
        at most bandwidth / 4 (so the raster resolves the kernel), grown if the raster would
        exceed ``KDE_MAX_CELLS`` cells.
    extent
        The raster's extent: an area (shapely geometry, GeoSeries or GeoDataFrame in
        EPSG:4326, e.g. the district; its bounds in the metric CRS, which is chosen from it
        unless ``crs`` is given), or (minx, miny, maxx, maxy) in metres of ``crs`` (then
        required). Default: the points' bounds padded by ``pad_bandwidths`` bandwidths.
        Points outside the extent still contribute where their kernel reaches into it.
    weights
        Optional weight per point (the raster then integrates to the sum of weights).
    crs
        Metric CRS; default ``local_metric_crs`` of the extent area or of the central 98 % of
        the points (CGCS2000 3-degree GK in China, else UTM).
    pad_bandwidths
        Padding of the default extent; default 3 for the Gaussian kernel (so at most ~0.5 %
        of a point's mass falls outside), 1 for the quartic (its whole support).

    Returns
    -------
    KDEResult
        Density per km² at the cell centres: sum(density x cell area) equals the number of
        incidents (sum of weights), less the mass that falls outside the extent.
    """
    if kernel not in ("gaussian", "quartic"):
        raise InputError(f"kernel must be 'gaussian' or 'quartic', got {kernel!r}")
    lon, lat = _lonlat(points)
    w = np.ones(len(lon)) if weights is None else np.asarray(weights, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat) & np.isfinite(w)
    lon, lat, w = lon[ok], lat[ok], w[ok]
    if len(lon) == 0:
        raise InputError("no points with coordinates")
    area_bounds = None
    if extent is not None and not isinstance(extent, tuple | list | np.ndarray):
        area = gpd.GeoSeries([_area_geometry(extent)], crs=STORAGE_EPSG)
        metric = pyproj.CRS.from_user_input(crs) if crs is not None else local_metric_crs(area)
        area_bounds = tuple(area.to_crs(metric).total_bounds)
    elif extent is not None:
        if crs is None:
            raise InputError("an extent in metres needs its crs (or give the extent as an area)")
        metric = pyproj.CRS.from_user_input(crs)
    else:
        metric = pyproj.CRS.from_user_input(crs) if crs is not None else _metric_crs_for(lon, lat)
    x, y = _to_metric(lon, lat, metric)
    rule = "given"
    if bandwidth_m is None:
        h, rule = silverman_bandwidth_m(x, y, w), "silverman"
    else:
        h = float(bandwidth_m)
        if not h > 0:
            raise InputError(f"bandwidth must be positive, got {bandwidth_m}")
    if area_bounds is not None:
        extent = area_bounds
    elif extent is None:
        pad = (GAUSS_PAD_BANDWIDTHS if kernel == "gaussian" else 1.0) * h
        if pad_bandwidths is not None:
            pad = pad_bandwidths * h
        extent = (x.min() - pad, y.min() - pad, x.max() + pad, y.max() + pad)
    minx, miny, maxx, maxy = (float(v) for v in extent)
    if not (maxx > minx and maxy > miny):
        raise InputError(f"empty extent {extent}")
    if cell_m is None:
        cell = min(min(maxx - minx, maxy - miny) / 250.0, h / 4.0)
        cell = max(cell, math.sqrt((maxx - minx) * (maxy - miny) / KDE_MAX_CELLS))
    else:
        cell = float(cell_m)
        if not cell > 0:
            raise InputError(f"cell size must be positive, got {cell_m}")
    nx = max(1, int(math.ceil((maxx - minx) / cell - 1e-9)))
    ny = max(1, int(math.ceil((maxy - miny) / cell - 1e-9)))
    # Bin on a grid s times finer than the output (spacing <= kernel scale / KDE_BIN_RATIO):
    # linear binning widens each point by up to (spacing / 2)² of variance, which on the
    # output grid alone would cost several % near isolated (or stacked) points.
    s = max(1, int(math.ceil(KDE_BIN_RATIO * cell / h - 1e-9)))
    while s > 1 and ((nx - 1) * s + 1) * ((ny - 1) * s + 1) > KDE_MAX_FINE_CELLS:
        s -= 1
    fine = cell / s
    kern, r = _kernel_grid(kernel, h, fine)
    # fine nodes: the output cell centres are every s-th node; r extra nodes on every side
    big_nx, big_ny = (nx - 1) * s + 1 + 2 * r, (ny - 1) * s + 1 + 2 * r
    u = (x - (minx + 0.5 * cell)) / fine + r
    v = (y - (miny + 0.5 * cell)) / fine + r
    i0, j0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    fx, fy = u - i0, v - j0
    inside = (i0 >= 0) & (i0 + 1 < big_nx) & (j0 >= 0) & (j0 + 1 < big_ny)
    i0, j0, fx, fy, wi = i0[inside], j0[inside], fx[inside], fy[inside], w[inside]
    grid = np.zeros(big_nx * big_ny)
    base = j0 * big_nx + i0
    for shift, share in (
        (0, (1 - fx) * (1 - fy)),
        (1, fx * (1 - fy)),
        (big_nx, (1 - fx) * fy),
        (big_nx + 1, fx * fy),
    ):
        grid += np.bincount(base + shift, weights=wi * share, minlength=big_nx * big_ny)
    dens_m2 = fftconvolve(grid.reshape(big_ny, big_nx), kern, mode="valid")[::s, ::s]
    np.maximum(dens_m2, 0.0, out=dens_m2)  # FFT round-off
    return KDEResult(
        x_m=minx + (np.arange(nx) + 0.5) * cell,
        y_m=miny + (np.arange(ny) + 0.5) * cell,
        density_km2=dens_m2 * 1e6,
        epsg=int(metric.to_epsg()),
        bandwidth_m=h,
        cell_m=cell,
        kernel=kernel,
        n_points=int(len(x)),
        total_weight=float(w.sum()),
        bandwidth_rule=rule,
        n_outside=int((~inside).sum()),
    )


# --------------------------------------------------------------------------------------------
# Spatial weights (scipy.sparse CSR, binary, zero diagonal)


def _pairs_to_csr(i: np.ndarray, j: np.ndarray, n: int, symmetric: bool) -> sp.csr_matrix:
    if symmetric:
        i, j = np.concatenate([i, j]), np.concatenate([j, i])
    keep = i != j
    m = sp.csr_matrix((np.ones(int(keep.sum())), (i[keep], j[keep])), shape=(n, n))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def queen_weights(polygons, *, tolerance: float = 0.0) -> sp.csr_matrix:
    """Queen contiguity: units sharing a vertex or an edge (any intersection) are neighbours.

    Parameters
    ----------
    polygons
        GeoSeries/GeoDataFrame or array of polygons (one CRS).
    tolerance
        Also count units within this distance (CRS units) as neighbours, for digitised
        boundaries with slivers or gaps; 0 = touching only.

    Returns
    -------
    scipy.sparse.csr_matrix
        (n, n) binary, symmetric, zero diagonal.
    """
    if isinstance(polygons, gpd.GeoDataFrame):
        polygons = polygons.geometry
    geoms = np.asarray(polygons.to_numpy() if hasattr(polygons, "to_numpy") else polygons)
    tree = shapely.STRtree(geoms)
    if tolerance > 0:
        i, j = tree.query(geoms, predicate="dwithin", distance=tolerance)
    else:
        i, j = tree.query(geoms, predicate="intersects")
    return _pairs_to_csr(i, j, len(geoms), symmetric=False)


def h3_ring_weights(cells, k: int = 1) -> sp.csr_matrix:
    """H3 cells within grid distance ``k`` of each other (k = 1: the six edge neighbours).

    Parameters
    ----------
    cells
        H3 cells (strings or integers), all of one resolution; neighbours outside the list
        are ignored.

    Returns
    -------
    scipy.sparse.csr_matrix
        (n, n) binary, symmetric, zero diagonal, rows in the order of ``cells``.
    """
    from h3._cy import grid_disk

    ints = np.array(
        [h3.str_to_int(c) if isinstance(c, str) else int(c) for c in cells], dtype=np.uint64
    )
    disks = [np.asarray(grid_disk(int(c), k), dtype=np.uint64) for c in ints.tolist()]
    sizes = np.array([len(d) for d in disks], dtype=np.int64)
    nbr = np.concatenate(disks) if disks else np.zeros(0, dtype=np.uint64)
    src = np.repeat(np.arange(len(ints)), sizes)
    order = np.argsort(ints)
    pos = np.minimum(np.searchsorted(ints[order], nbr), max(len(ints) - 1, 0))
    hit = ints[order][pos] == nbr
    return _pairs_to_csr(src[hit], order[pos[hit]], len(ints), symmetric=False)


def _lattice_table(ix: np.ndarray, iy: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Dense (rows, cols) table of unit positions over the lattice bounding box (-1 = none)."""
    ixmin, iymin = int(ix.min()), int(iy.min())
    table = np.full((int(iy.max()) - iymin + 1, int(ix.max()) - ixmin + 1), -1, dtype=np.int64)
    table[iy - iymin, ix - ixmin] = np.arange(len(ix))
    return table, ixmin, iymin


def lattice_weights(ix: np.ndarray, iy: np.ndarray, *, queen: bool = True) -> sp.csr_matrix:
    """Contiguity of square lattice cells (fishnet) by integer arithmetic on (ix, iy).

    Queen: the 8 surrounding cells; rook (``queen=False``): the 4 edge neighbours. Cells
    missing from the units (outside the study area) are simply absent.
    """
    ix, iy = np.asarray(ix, dtype=np.int64), np.asarray(iy, dtype=np.int64)
    table, ixmin, iymin = _lattice_table(ix, iy)
    rows, cols = table.shape
    offsets = [(1, 0), (0, 1)] + ([(1, 1), (1, -1)] if queen else [])
    src_all, dst_all = [], []
    for dx, dy in offsets:  # half of the offsets; symmetric fill below
        jx, jy = ix - ixmin + dx, iy - iymin + dy
        ok = (jx >= 0) & (jx < cols) & (jy >= 0) & (jy < rows)
        dst = np.full(len(ix), -1, dtype=np.int64)
        dst[ok] = table[jy[ok], jx[ok]]
        hit = dst >= 0
        src_all.append(np.flatnonzero(hit))
        dst_all.append(dst[hit])
    return _pairs_to_csr(np.concatenate(src_all), np.concatenate(dst_all), len(ix), True)


def distance_band_weights(centroids_m: np.ndarray, band_m: float) -> sp.csr_matrix:
    """Units whose centroids lie within ``band_m`` metres of each other (inclusive).

    Parameters
    ----------
    centroids_m
        (n, 2) coordinates in a metric CRS, metres.
    band_m
        The distance band, metres.
    """
    pts = np.asarray(centroids_m, dtype=float)
    pairs = cKDTree(pts).query_pairs(float(band_m), output_type="ndarray")
    return _pairs_to_csr(pairs[:, 0], pairs[:, 1], len(pts), symmetric=True)


def _drop_diagonal(W) -> sp.csr_matrix:
    W = sp.csr_matrix(W, dtype=float)
    if W.shape[0] != W.shape[1]:
        raise InputError(f"weights must be square, got {W.shape}")
    diag = W.diagonal()
    if diag.any():
        W = (W - sp.diags(diag)).tocsr()
        W.eliminate_zeros()
    return W


def row_standardise(W) -> sp.csr_matrix:
    """Rows scaled to sum to 1 (rows without neighbours stay 0): esda's transformation 'r'."""
    W = sp.csr_matrix(W, dtype=float)
    rs = np.asarray(W.sum(axis=1)).ravel()
    inv = np.divide(1.0, rs, out=np.zeros_like(rs), where=rs != 0)
    return (sp.diags(inv) @ W).tocsr()


# --------------------------------------------------------------------------------------------
# Global Moran's I and the automatic distance band


def moran_global(y: np.ndarray, W, *, transformation: str = "r") -> tuple[float, float]:
    """Global Moran's I and its z-score under the randomisation assumption.

    Parameters
    ----------
    y
        Values per unit.
    W
        Binary sparse weights (diagonal ignored).
    transformation
        ``"r"`` row-standardised (default, as ArcGIS's Incremental Spatial Autocorrelation)
        or ``"b"`` binary.

    Returns
    -------
    (I, z)
        Equal to ``esda.Moran(y, w, transformation=...)``'s ``I`` and ``z_rand``.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    W = _drop_diagonal(W)
    if transformation == "r":
        W = row_standardise(W)
    z = y - y.mean()
    m2 = (z * z).sum()
    s0 = W.sum()
    if not (s0 > 0 and m2 > 0):
        return math.nan, math.nan
    i_stat = n / s0 * (z @ (W @ z)) / m2
    wt = (W + W.T).tocsr()
    s1 = 0.5 * (wt.multiply(wt)).sum()
    s2 = ((np.asarray(W.sum(axis=1)).ravel() + np.asarray(W.sum(axis=0)).ravel()) ** 2).sum()
    return float(i_stat), _moran_z_rand(i_stat, z, s0, s1, s2)


def _moran_z_rand(i_stat: float, z: np.ndarray, s0: float, s1: float, s2: float) -> float:
    """z of Moran's I under randomisation (Cliff & Ord), from the weights' S0, S1, S2."""
    n = len(z)
    m2 = (z * z).sum()
    b2 = n * (z**4).sum() / m2**2
    ei = -1.0 / (n - 1)
    a = n * ((n * n - 3 * n + 3) * s1 - n * s2 + 3 * s0 * s0)
    b = b2 * ((n * n - n) * s1 - 2 * n * s2 + 6 * s0 * s0)
    vi = (a - b) / ((n - 1) * (n - 2) * (n - 3) * s0 * s0) - ei * ei
    return float((i_stat - ei) / math.sqrt(vi))


def _moran_z_pairs(z: np.ndarray, ii: np.ndarray, jj: np.ndarray) -> float:
    """Moran's z_rand for row-standardised binary weights given as unordered pairs (i < j).

    The same number as ``moran_global`` on the CSR matrix, from bincounts over the pairs.
    """
    n = len(z)
    m2 = (z * z).sum()
    k = np.bincount(ii, minlength=n) + np.bincount(jj, minlength=n)
    has = k > 0
    s0 = float(has.sum())
    if not (s0 > 0 and m2 > 0):
        return math.nan
    inv = np.divide(1.0, k, out=np.zeros(n), where=has)
    zsum = np.bincount(ii, z[jj], n) + np.bincount(jj, z[ii], n)
    i_stat = n / s0 * (z * zsum * inv).sum() / m2
    s1 = float(((inv[ii] + inv[jj]) ** 2).sum())  # 0.5 * sum over both orders of (w_ij + w_ji)²
    col = np.bincount(ii, inv[jj], n) + np.bincount(jj, inv[ii], n)
    s2 = float(((has + col) ** 2).sum())
    return _moran_z_rand(i_stat, z, s0, s1, s2)


@dataclass(frozen=True)
class BandChoice:
    """The distance band chosen by ``auto_band`` and the evidence for it.

    ``rule`` is ``"first_peak"``, ``"max_z"`` (no peak: the band with the largest z) or
    ``"start"`` (no usable z at all).
    """

    band_m: float
    rule: str
    start_m: float
    increment_m: float
    bands_m: np.ndarray = field(repr=False)
    z_scores: np.ndarray = field(repr=False)


def auto_band(
    y: np.ndarray, centroids_m: np.ndarray, *, n_bands: int = 10, max_mean_neighbours: int = 500
) -> BandChoice:
    """A distance band like ArcGIS's Optimized Hot Spot Analysis (incremental autocorrelation).

    Global Moran's I (row-standardised, z under randomisation) is computed for ``n_bands``
    increasing distance bands; the band at the first peak of its z-score is chosen.

    - **Start**: the smallest distance that gives every unit at least one neighbour (the
      largest nearest-neighbour distance), unless that is an outlier (more than the mean
      nearest-neighbour distance + 3 standard deviations, e.g. an island far away): then
      the mean nearest-neighbour distance.
    - **Increment**: the mean nearest-neighbour distance.
    - **Choice**: the first local peak of z (a band whose z exceeds both neighbours' z); if
      z never peaks (it keeps rising or falling), the band with the largest z; if no z is
      defined (no variation in ``y``), the start band. Bands whose mean neighbour count
      (estimated on a sample of 2,000 units) exceeds ``max_mean_neighbours`` are not tried
      (memory); the pairs within the largest band are found once and masked per band.

    Parameters
    ----------
    y
        Values per unit (e.g. counts).
    centroids_m
        (n, 2) unit centroids in a metric CRS, metres.
    """
    pts = np.asarray(centroids_m, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(pts) < 4:
        raise InputError("at least 4 units are needed to choose a distance band")
    tree = cKDTree(pts)
    d, _ = tree.query(pts, k=2)
    nn = d[:, 1]
    mean_nn, sd_nn = float(nn.mean()), float(nn.std())
    start = float(nn.max())
    if start > mean_nn + 3 * sd_nn and mean_nn > 0:
        start = mean_nn
    inc = mean_nn if mean_nn > 0 else max(start, 1.0)
    n = len(pts)
    candidates = start + inc * np.arange(n_bands)
    # drop the bands whose mean neighbour count (estimated on a sample) is unaffordable
    sample = pts[np.random.default_rng(0).choice(n, min(n, 2000), replace=False)]
    mean_nb = [
        tree.query_ball_point(sample, r=b, return_length=True).mean() - 1 for b in candidates
    ]
    candidates = candidates[: max(1, int(np.searchsorted(mean_nb, max_mean_neighbours, "right")))]
    # all pairs within the largest band once; each band is a distance mask over them
    pairs = tree.query_pairs(float(candidates[-1]), output_type="ndarray")
    dist = np.hypot(*(pts[pairs[:, 0]] - pts[pairs[:, 1]]).T)
    z = y - y.mean()
    bands, zs = [], []
    chosen, rule = None, None
    for band in candidates:
        sel = dist <= band
        bands.append(float(band))
        zs.append(_moran_z_pairs(z, pairs[sel, 0], pairs[sel, 1]))
        if len(zs) >= 3 and np.isfinite(zs[-3:]).all() and zs[-3] < zs[-2] > zs[-1]:
            chosen, rule = bands[-2], "first_peak"
            break
    z_arr = np.array(zs)
    if chosen is None:
        if np.isfinite(z_arr).any():
            chosen, rule = bands[int(np.nanargmax(z_arr))], "max_z"
        else:
            chosen, rule = start, "start"
    return BandChoice(float(chosen), rule, start, inc, np.array(bands), z_arr)


# --------------------------------------------------------------------------------------------
# Getis-Ord Gi*


def fdr_cutoffs(p: np.ndarray, alphas) -> list[float]:
    """Benjamini-Hochberg p-value cut-offs, one per false discovery rate in ``alphas``.

    For each alpha the largest k with ``p_(k) <= k / n * alpha`` sets the cut-off ``p_(k)``
    (all p <= it pass); -1 when nothing passes. One sort serves every alpha.
    """
    p = np.asarray(p, dtype=float)
    n = len(p)
    ps = np.sort(np.where(np.isnan(p), np.inf, p))
    ranks = np.arange(1, n + 1) / max(n, 1)
    out = []
    for alpha in alphas:
        ok = np.flatnonzero(ps <= alpha * ranks)
        out.append(float(ps[ok[-1]]) if len(ok) else -1.0)
    return out


def fdr_mask(p: np.ndarray, alpha: float) -> np.ndarray:
    """Benjamini-Hochberg: which p-values are significant at false discovery rate ``alpha``.

    The largest k with ``p_(k) <= k / n * alpha`` sets the cut-off; all p <= p_(k) pass
    (the same cells as ``p <= esda.fdr(p, alpha)``).
    """
    p = np.asarray(p, dtype=float)
    return np.nan_to_num(p, nan=np.inf) <= fdr_cutoffs(p, [alpha])[0]


def confidence_bins(z: np.ndarray, p: np.ndarray, *, fdr: bool = True) -> np.ndarray:
    """ArcGIS's Gi_Bin: ±3 / ±2 / ±1 at 99 / 95 / 90 % confidence (sign of z), 0 otherwise.

    With ``fdr`` the levels are the Benjamini-Hochberg corrected ones (applied to the bins
    only: z and p stay as computed).
    """
    z, p = np.asarray(z, dtype=float), np.asarray(p, dtype=float)
    pn = np.nan_to_num(p, nan=np.inf)
    cuts = fdr_cutoffs(p, GI_ALPHAS) if fdr else list(GI_ALPHAS)
    level = np.zeros(len(p), dtype=np.int64)
    for k, cut in enumerate(cuts, start=1):
        level[pn <= cut] = k
    return (np.sign(np.nan_to_num(z)) * level).astype(np.int64)


@dataclass(frozen=True)
class GiStarResult:
    """Gi* per unit: ``z``, two-sided ``p``, FDR ``bins`` and ``n_neighbors`` (self excluded)."""

    z: np.ndarray
    p: np.ndarray
    bins: np.ndarray
    n_neighbors: np.ndarray
    fdr: bool = True

    def to_frame(self) -> pd.DataFrame:
        """Columns ``gi_z, gi_p, gi_bin, n_neighbors``."""
        return pd.DataFrame(
            {"gi_z": self.z, "gi_p": self.p, "gi_bin": self.bins, "n_neighbors": self.n_neighbors}
        )


def gi_star(y: np.ndarray, W, *, fdr: bool = True) -> GiStarResult:
    """Getis-Ord Gi* with analytic z-scores (ArcGIS's Hot Spot Analysis; Ord & Getis 1995).

    ``z_i = (sum_j w_ij y_j - ybar W_i) / (S sqrt((n S1_i - W_i²) / (n - 1)))`` with the unit
    itself among its neighbours (w_ii = 1), ``W_i = sum_j w_ij``, ``S1_i = sum_j w_ij²``,
    ybar and S the mean and (population) standard deviation of y over all n units. For
    binary weights this is ``esda.G_Local(y, w, star=True, transform="B").Zs``.

    Parameters
    ----------
    y
        Value per unit (counts, densities).
    W
        (n, n) sparse weights, binary without the diagonal (any diagonal is replaced by 1).
        Any neighbourhood works, e.g. a space-time one for emerging hot spots.
    fdr
        Apply the False Discovery Rate correction to the bins (default, as ArcGIS).

    Returns
    -------
    GiStarResult
        z, two-sided p (normal), bins ±3/±2/±1/0 and the neighbour count (self excluded).
        When y does not vary, z = 0 and p = 1 everywhere.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    W = _drop_diagonal(W)
    if W.shape[0] != n:
        raise InputError(f"weights are {W.shape[0]}x{W.shape[0]} but there are {n} values")
    n_nb = np.diff(W.indptr)
    # the self weight 1 is added arithmetically: sum_j w_ij y_j + y_i, W_i + 1, S1_i + 1
    wi = W @ np.ones(n) + 1.0
    if W.nnz and (W.data == 1.0).all():
        s1 = wi
    else:
        s1 = W.multiply(W) @ np.ones(n) + 1.0
    ybar = y.mean()
    s = math.sqrt(max((y * y).mean() - ybar * ybar, 0.0))
    if not s > 0 or n < 2:
        z = np.zeros(n)
    else:
        num = W @ y + y - ybar * wi
        den = s * np.sqrt(np.maximum(n * s1 - wi * wi, 0.0) / (n - 1))
        z = np.divide(num, den, out=np.zeros(n), where=den > 0)
    p = 2.0 * special.ndtr(-np.abs(z))  # two-sided, normal
    return GiStarResult(z, p, confidence_bins(z, p, fdr=fdr), n_nb.astype(np.int64), fdr)


# --------------------------------------------------------------------------------------------
# Local Moran's I


def default_permutations(n: int, max_neighbours: int) -> int:
    """Permutations for local Moran: enough for FDR to find 99 % cells, within a work budget.

    The smallest pseudo p-value is ``1 / (P + 1)``; Benjamini-Hochberg at alpha = 0.01 over
    n cells lets a single extreme cell through only if ``1 / (P + 1) <= 0.01 / n``, i.e.
    ``P >= 100 n - 1``; m cells at the floor pass together when ``P >= 100 n / m - 1``.
    Default: ``100 n - 1``, capped at 99,999 and at a budget of ``PERMUTATION_BUDGET``
    neighbour draws (n x P x max neighbours, a few seconds), never below 999. For a few
    hundred micro-grids that is the ideal count; for 10,000 H3 cells 99 % cells still pass
    FDR when they come in groups of at least ``100 n / (P + 1)`` cells.
    """
    ideal = 100 * int(n) - 1
    budget = int(PERMUTATION_BUDGET // max(1, int(n) * max(1, int(max_neighbours))))
    return int(max(PERMUTATIONS_MIN, min(ideal, PERMUTATIONS_MAX, budget)))


def _sample_without_replacement(
    rng: np.random.Generator, population: int, size: int, k: int
) -> np.ndarray:
    """(size, k) rows of k distinct integers from range(population), in random order."""
    if k == 0:
        return np.zeros((size, 0), dtype=np.int64)
    if population <= 32 * k:  # small populations: random keys, the k smallest, sorted
        keys = rng.random((size, population))
        return np.argsort(keys, axis=1)[:, :k].astype(np.int64)
    r = rng.integers(0, population, size=(size, k), dtype=np.int64)
    while True:  # redraw the (rare) rows with a repeated index
        srt = np.sort(r, axis=1)
        bad = np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))
        if len(bad) == 0:
            return r
        r[bad] = rng.integers(0, population, size=(len(bad), k), dtype=np.int64)


@dataclass(frozen=True)
class LocalMoranResult:
    """Local Moran's I per unit (esda's ``Is``, ``q``, folded ``p_sim``) and FDR clusters."""

    i: np.ndarray
    q: np.ndarray
    p: np.ndarray
    cluster: np.ndarray
    n_neighbors: np.ndarray
    permutations: int
    alpha: float

    def to_frame(self) -> pd.DataFrame:
        """Columns ``lisa_i, lisa_q, lisa_p, lisa_cluster, n_neighbors``."""
        return pd.DataFrame(
            {
                "lisa_i": self.i,
                "lisa_q": self.q,
                "lisa_p": self.p,
                "lisa_cluster": self.cluster,
                "n_neighbors": self.n_neighbors,
            }
        )


def local_moran(
    y: np.ndarray,
    W,
    *,
    permutations: int | None = None,
    seed: int = 0,
    alpha: float = 0.05,
    fdr: bool = True,
) -> LocalMoranResult:
    """Local Moran's I (Anselin 1995) with conditional-permutation pseudo p-values.

    I and quadrants equal ``esda.Moran_Local(y, w, transformation="r")``: z = (y - ybar) /
    sd(y), ``I_i = (n - 1) z_i (W_r z)_i / sum z²`` with W row-standardised, quadrant 1 HH,
    2 LH, 3 LL, 4 HL. Pseudo p-values as esda's ``p_sim``: for each permutation the unit's
    k_i neighbours are replaced by k_i distinct other units drawn at random (the same draws
    for all units, shifted past the unit itself, as esda does), and ``p = (min(#{I_sim >=
    I}, P - #{I_sim >= I}) + 1) / (P + 1)``; a draw whose I equals the observed one up to
    rounding counts as ``>=`` (esda leaves such ties to rounding). Vectorised over units and
    permutation batches.

    Parameters
    ----------
    y
        Value per unit.
    W
        (n, n) sparse binary weights without the diagonal (rows are standardised here).
    permutations
        Default ``default_permutations(n, max neighbours)`` (enough for FDR at 99 % where
        affordable). 0 skips inference (p = NaN, no clusters).
    seed
        Seed of numpy's Generator: same seed, same p-values.
    alpha
        FDR level of the cluster labels.
    fdr
        Benjamini-Hochberg on the pseudo p-values for the labels (else plain p <= alpha).

    Returns
    -------
    LocalMoranResult
        ``cluster`` is HH / LL (clusters), HL / LH (outliers) where significant, else "ns".
        Units without neighbours get I = 0, p = 1 (esda reports the permutation floor there).
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    W = _drop_diagonal(W)
    if W.shape[0] != n:
        raise InputError(f"weights are {W.shape[0]}x{W.shape[0]} but there are {n} values")
    n_nb = np.diff(W.indptr).astype(np.int64)
    Wr = row_standardise(W)
    sd = y.std()
    z = (y - y.mean()) / sd if sd > 0 else np.zeros(n)
    den = (z * z).sum()
    lag = Wr @ z
    i_stat = (n - 1) * z * lag / den if den > 0 else np.zeros(n)
    zp, lp = z > 0, lag > 0
    q = np.select([zp & lp, ~zp & lp, ~zp & ~lp], [1, 2, 3], default=4).astype(np.int64)
    kmax = int(n_nb.max()) if n else 0
    if permutations is None:
        permutations = default_permutations(n, kmax)
    p = np.full(n, np.nan)
    if permutations and kmax > 0 and den > 0:
        p = _conditional_p(z, Wr, n_nb, i_stat, int(permutations), kmax, seed, den)
        p[n_nb == 0] = 1.0
    if fdr:
        sig = fdr_mask(np.nan_to_num(p, nan=1.0), alpha)
    else:
        sig = np.nan_to_num(p, nan=1.0) <= alpha
    labels = np.array([LISA_LABELS[k] for k in (1, 2, 3, 4)], dtype=object)
    cluster = np.where(sig, labels[q - 1], "ns").astype(object)
    return LocalMoranResult(i_stat, q, p, cluster, n_nb, int(permutations or 0), alpha)


def _conditional_p(
    z: np.ndarray,
    Wr: sp.csr_matrix,
    n_nb: np.ndarray,
    i_obs: np.ndarray,
    permutations: int,
    kmax: int,
    seed: int,
    den: float,
) -> np.ndarray:
    n = len(z)
    # neighbour weights of each unit, padded to kmax columns (row-standardised values)
    wmat = np.zeros((n, kmax))
    col = np.arange(Wr.nnz) - np.repeat(Wr.indptr[:-1], n_nb)
    wmat[np.repeat(np.arange(n), n_nb), col] = Wr.data
    rng = np.random.default_rng(seed)
    larger = np.zeros(n, dtype=np.int64)
    scale = (n - 1) * z / den
    ids = np.arange(n)[:, None, None]
    # a permuted neighbourhood with the same values as the real one gives the same I, but the
    # sums round differently: count such ties (1e-10 relative) as >= I, as exact arithmetic
    # would (with discrete counts a few % of draws tie, enough to move p by 0.03)
    threshold = i_obs - 1e-10 * np.maximum(1.0, np.abs(i_obs))
    chunk = max(1, int(4_000_000 // max(1, n * kmax)))
    done = 0
    while done < permutations:
        size = min(chunk, permutations - done)
        r = _sample_without_replacement(rng, n - 1, size, kmax)  # (size, kmax)
        idx = r[None, :, :] + (r[None, :, :] >= ids)  # skip the unit itself: (n, size, kmax)
        lag_sim = np.einsum("npk,nk->np", z[idx], wmat)
        larger += (scale[:, None] * lag_sim >= threshold[:, None]).sum(axis=1)
        done += size
    low = (permutations - larger) < larger
    larger[low] = permutations - larger[low]
    return (larger + 1.0) / (permutations + 1.0)


# --------------------------------------------------------------------------------------------
# Putting it together


def unit_centroids_m(units: gpd.GeoDataFrame, crs: pyproj.CRS | int | None = None) -> np.ndarray:
    """(n, 2) unit centroids in a metric CRS (the units' own, or ``local_metric_crs``)."""
    if crs is None:
        epsg = units.attrs.get("metric_epsg")
        crs = pyproj.CRS.from_epsg(epsg) if epsg else local_metric_crs(units.geometry)
    cent = units.geometry.to_crs(crs).centroid
    return np.column_stack([cent.x.to_numpy(), cent.y.to_numpy()])


def unit_weights(
    units: gpd.GeoDataFrame,
    weights: Literal["queen", "ring", "band"] = "queen",
    *,
    band_m: float | None = None,
    k: int = 1,
    y: np.ndarray | None = None,
) -> tuple[sp.csr_matrix, BandChoice | None]:
    """The weights matrix for a units frame, by the fastest route for its kind.

    ``queen``: fishnet by lattice arithmetic, H3 by ring 1 (hexagons sharing an edge),
    other polygons by ``queen_weights``. ``ring``: H3 only, ring ``k``. ``band``: centroid
    distance band ``band_m`` metres, or ``auto_band(y, centroids)`` when ``band_m`` is None.
    Returns the matrix and the ``BandChoice`` (None unless the band was chosen here).
    """
    kind = _unit_kind(units)
    if weights == "queen":
        if kind == "fishnet":
            return lattice_weights(units["ix"].to_numpy(), units["iy"].to_numpy()), None
        if kind == "h3":
            return h3_ring_weights(units["unit_id"].to_numpy(), 1), None
        return queen_weights(units.geometry), None
    if weights == "ring":
        if kind != "h3":
            raise InputError("ring weights need H3 units (use queen or band)")
        return h3_ring_weights(units["unit_id"].to_numpy(), k), None
    if weights == "band":
        cents = unit_centroids_m(units)
        choice = None
        if band_m is None:
            if y is None:
                raise InputError("an automatic band needs the values (y)")
            choice = auto_band(y, cents)
            band_m = choice.band_m
        return distance_band_weights(cents, band_m), choice
    raise InputError(f"weights must be queen, ring or band, got {weights!r}")


def hotspots(
    units_frame: gpd.GeoDataFrame,
    *,
    method: Literal["gi_star", "local_moran"] = "gi_star",
    weights: Literal["queen", "ring", "band"] = "queen",
    band_m: float | None = None,
    value: str = "count",
    k: int = 1,
    permutations: int | None = None,
    seed: int = 0,
    alpha: float = 0.05,
) -> gpd.GeoDataFrame:
    """Hot spots (Gi*) or clusters and outliers (local Moran) of a counted units frame.

    Parameters
    ----------
    units_frame
        From ``count_by_unit`` (``unit_id, count, density_km2, ..., geometry``).
    method
        ``"gi_star"`` (analytic, FDR bins) or ``"local_moran"`` (permutation inference).
    weights
        ``"queen"`` contiguity, ``"ring"`` (H3 ring ``k``) or ``"band"`` (distance band of
        ``band_m`` metres; automatic like Optimized Hot Spot Analysis when None).
    value
        Column analysed (``count`` or ``density_km2`` ...).
    permutations, seed, alpha
        Local Moran only (see ``local_moran``).

    Returns
    -------
    geopandas.GeoDataFrame
        The input columns plus ``gi_z, gi_p, gi_bin, n_neighbors`` (Gi*) or ``lisa_i,
        lisa_q, lisa_p, lisa_cluster, n_neighbors`` (local Moran). ``attrs``: the input's plus
        ``method``, ``weights``, ``band_m`` (metres, None unless a band was used) and, for an
        automatic band, ``band_rule`` and ``band_z`` (list of (band_m, z)).
    """
    if value not in units_frame.columns:
        raise InputError(f"no column {value!r} in the units frame")
    y = pd.to_numeric(units_frame[value], errors="coerce").fillna(0).to_numpy(dtype=float)
    W, choice = unit_weights(units_frame, weights, band_m=band_m, k=k, y=y)
    if method == "gi_star":
        stats_frame = gi_star(y, W).to_frame()
    elif method == "local_moran":
        stats_frame = local_moran(
            y, W, permutations=permutations, seed=seed, alpha=alpha
        ).to_frame()
    else:
        raise InputError(f"method must be gi_star or local_moran, got {method!r}")
    out = units_frame.drop(
        columns=[c for c in stats_frame.columns if c in units_frame.columns]
    ).copy()
    geom = out.pop("geometry")
    for c in stats_frame.columns:
        out[c] = stats_frame[c].to_numpy()
    out["geometry"] = geom
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=units_frame.crs)
    out.attrs = dict(units_frame.attrs)
    used_band = (choice.band_m if choice else band_m) if weights == "band" else None
    out.attrs.update(method=method, weights=weights, band_m=used_band)
    if choice is not None:
        out.attrs.update(
            band_rule=choice.rule,
            band_z=[
                (float(b), float(z)) for b, z in zip(choice.bands_m, choice.z_scores, strict=True)
            ],
        )
    return out


# --------------------------------------------------------------------------------------------
# Space-time cube and emerging hot spots

#: ArcGIS's Emerging Hot Spot Analysis pattern names, in the order of its documentation.
PATTERNS = (
    "New Hot Spot",
    "Consecutive Hot Spot",
    "Intensifying Hot Spot",
    "Persistent Hot Spot",
    "Diminishing Hot Spot",
    "Sporadic Hot Spot",
    "Oscillating Hot Spot",
    "Historical Hot Spot",
    "New Cold Spot",
    "Consecutive Cold Spot",
    "Intensifying Cold Spot",
    "Persistent Cold Spot",
    "Diminishing Cold Spot",
    "Sporadic Cold Spot",
    "Oscillating Cold Spot",
    "Historical Cold Spot",
    "No Pattern Detected",
)
NO_PATTERN = "No Pattern Detected"
#: Share of the time steps that makes a location a persistent / intensifying / diminishing /
#: historical hot (cold) spot ("at least 90 percent of the time-step intervals").
EMERGING_SHARE = 0.9
STEPS = ("day", "week", "month")


@dataclass(frozen=True)
class SpaceTimeCube:
    """Incident counts per analysis unit and time step (ArcGIS's space-time cube).

    Attributes
    ----------
    counts
        (n_units, n_steps) int64 counts; row i is ``unit_ids[i]``, column t the step
        ``[edges[t], edges[t + 1])``.
    edges
        n_steps + 1 step boundaries (``pandas.DatetimeIndex``, the incidents' wall-clock time).
    unit_ids
        (n_units,) unit ids, in the order of the units frame.
    step
        ``"day"``, ``"week"`` or ``"month"``.
    units
        The units frame the cube was built on (geometry, areas), or None.
    n_points, n_outside, n_out_of_period
        Points given, points in no unit, points with a unit but outside ``[edges[0],
        edges[-1])`` (or without a time).
    """

    counts: np.ndarray
    edges: pd.DatetimeIndex
    unit_ids: np.ndarray
    step: str
    units: gpd.GeoDataFrame | None = field(default=None, repr=False)
    n_points: int = 0
    n_outside: int = 0
    n_out_of_period: int = 0

    @property
    def n_units(self) -> int:
        return int(self.counts.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.counts.shape[1])

    @property
    def step_starts(self) -> pd.DatetimeIndex:
        return self.edges[:-1]

    def to_frame(self) -> pd.DataFrame:
        """Long format: one row per bin, ``unit_id, step_start, step_end, count``."""
        nu, nt = self.counts.shape
        return pd.DataFrame(
            {
                "unit_id": np.repeat(self.unit_ids, nt),
                "step_start": np.tile(self.edges[:-1].to_numpy(), nu),
                "step_end": np.tile(self.edges[1:].to_numpy(), nu),
                "count": self.counts.ravel(),
            }
        )


def _as_naive_times(times) -> pd.DatetimeIndex:
    t = pd.DatetimeIndex(
        pd.to_datetime(
            np.asarray(times) if not isinstance(times, pd.Series) else times, errors="coerce"
        )
    )
    if t.tz is not None:
        t = t.tz_localize(None)
    return t


def step_edges(start, end, step: str) -> pd.DatetimeIndex:
    """Boundaries of whole time steps covering ``[start, end)``, aligned on ``end``.

    ``month``: calendar months from the month of ``start`` to the month that holds the
    instant before ``end`` (``end`` is rounded up to a month start). ``day`` and ``week``:
    steps of 1 or 7 days counted back from ``end`` (ArcGIS's default time-step alignment, so
    the final step -- the one the patterns hinge on -- is complete); a partial first step
    (when ``end - start`` is not a whole number of steps) is left out.
    """
    if step not in STEPS:
        raise InputError(f"step must be one of {', '.join(STEPS)}, got {step!r}")
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if not end > start:
        raise InputError(f"the period is empty: start {start} is not before end {end}")
    if step == "month":
        first = start.to_period("M").to_timestamp()
        last = (end - pd.Timedelta(1, "ns")).to_period("M").to_timestamp()
        return pd.date_range(first, last + pd.offsets.MonthBegin(1), freq="MS").as_unit("ns")
    delta = pd.Timedelta(days=1 if step == "day" else 7)
    k = int((end - start) // delta)
    if k < 1:
        raise InputError(f"the period {start} .. {end} is shorter than one {step}")
    return pd.DatetimeIndex([end - delta * i for i in range(k, -1, -1)]).as_unit("ns")


def space_time_cube(
    points,
    times,
    units: gpd.GeoDataFrame,
    *,
    step: Literal["day", "week", "month"] = "week",
    start=None,
    end=None,
) -> SpaceTimeCube:
    """Count incidents per unit and time step, zero bins included (a space-time cube).

    Parameters
    ----------
    points
        Incident points (GeoSeries/GeoDataFrame in EPSG:4326, or an (n, 2) lon/lat array).
    times
        One time per point (wall-clock, as stored; tz-aware times are taken at their wall-clock
        value), e.g. ``incidents["occurred_at"]``.
    units
        From ``h3_units``, ``fishnet_units`` or ``grid_units``; points go to units as in
        ``count_by_unit`` (``unit_index``).
    step
        ``"day"``, ``"week"`` (7 days counted back from ``end``) or ``"month"`` (calendar).
    start, end
        The period ``[start, end)``; default from the first incident's day to the day after
        the last incident. See ``step_edges`` for the alignment of the steps.

    Returns
    -------
    SpaceTimeCube
    """
    t = _as_naive_times(times)
    idx = unit_index(points, units)
    if len(t) != len(idx):
        raise InputError(f"{len(idx)} points but {len(t)} times")
    ok_t = ~t.isna()
    if start is None or end is None:
        if not ok_t.any():
            raise InputError("no incident times")
        tmin, tmax = t[ok_t].min(), t[ok_t].max()
        start = tmin.floor("D") if start is None else start
        end = tmax.floor("D") + pd.Timedelta(days=1) if end is None else end
    edges = step_edges(start, end, step)
    tv = t.to_numpy(dtype="datetime64[ns]")
    step_i = np.searchsorted(edges.to_numpy(), tv, side="right") - 1
    in_period = ok_t & (step_i >= 0) & (step_i < len(edges) - 1)
    keep = in_period & (idx >= 0)
    n_steps = len(edges) - 1
    flat = np.bincount(idx[keep] * n_steps + step_i[keep], minlength=len(units) * n_steps)
    return SpaceTimeCube(
        counts=flat.reshape(len(units), n_steps).astype(np.int64),
        edges=edges,
        unit_ids=units["unit_id"].to_numpy(),
        step=step,
        units=units,
        n_points=int(len(idx)),
        n_outside=int((idx < 0).sum()),
        n_out_of_period=int(((idx >= 0) & ~in_period).sum()),
    )


def space_time_weights(W, n_steps: int, time_lag: int = 1) -> sp.csr_matrix:
    """Space-time neighbours of ArcGIS's Emerging Hot Spot Analysis, as one sparse matrix.

    Bin (unit i, step t) -- row ``t * n_units + i`` (time-major) -- has as neighbours the
    bins of i's spatial neighbours at step t, and of i and its spatial neighbours at the
    ``time_lag`` previous steps: ``kron(L, W + I) - I`` with L the (n_steps, n_steps)
    lower band ``L[t, t'] = 1 for t - time_lag <= t' <= t``. Not symmetric (the
    neighbourhood looks back in time only).

    Parameters
    ----------
    W
        (n_units, n_units) binary spatial weights (diagonal ignored).
    n_steps
        Number of time steps.
    time_lag
        Previous steps in the neighbourhood (ArcGIS's "Neighborhood Time Step"; 0 = none).
    """
    if time_lag < 0:
        raise InputError(f"time_lag must be >= 0, got {time_lag}")
    S = _drop_diagonal(W)
    S1 = (S + sp.identity(S.shape[0], format="csr")).tocsr()
    L = sp.diags(
        [np.ones(n_steps - k) for k in range(min(time_lag, n_steps - 1) + 1)],
        [-k for k in range(min(time_lag, n_steps - 1) + 1)],
        shape=(n_steps, n_steps),
        format="csr",
    )
    return _drop_diagonal(sp.kron(L, S1, format="csr"))


@dataclass(frozen=True)
class SpaceTimeGi:
    """Gi* of every bin of a cube: (n_units, n_steps) ``z``, ``p``, ``bins``, ``n_neighbors``."""

    z: np.ndarray
    p: np.ndarray
    bins: np.ndarray
    n_neighbors: np.ndarray
    time_lag: int
    fdr: bool


def space_time_gi_star(
    cube: SpaceTimeCube,
    W,
    *,
    time_lag: int = 1,
    fdr: bool = True,
    global_window: Literal["cube", "neighborhood"] = "cube",
) -> SpaceTimeGi:
    """Getis-Ord Gi* per bin with space-time neighbours (``space_time_weights``).

    Parameters
    ----------
    cube, W, time_lag
        The cube, the units' spatial weights and the previous steps in the neighbourhood.
    fdr
        False Discovery Rate correction of the bins, over all bins of the cube.
    global_window
        What each bin is compared with (ArcGIS's "Define Global Window"): ``"cube"`` (default:
        the mean and standard deviation of all bins -- ``gi_star`` on the space-time weights)
        or ``"neighborhood"`` (those of the bins of all units in the steps ``t - time_lag ..
        t``, n = n_units x the steps in that window), which compares each step with its own
        time and so takes out district-wide seasonality.
    """
    Wst = space_time_weights(W, cube.n_steps, time_lag)
    y = cube.counts.T.ravel().astype(float)  # time-major, as the weights
    shape = (cube.n_steps, cube.n_units)
    if global_window == "cube":
        res = gi_star(y, Wst, fdr=fdr)
        z, p, bins, n_nb = res.z, res.p, res.bins, res.n_neighbors
    elif global_window == "neighborhood":
        nu, nt = cube.n_units, cube.n_steps
        slice_sum = cube.counts.sum(axis=0).astype(float)
        slice_sq = (cube.counts.astype(float) ** 2).sum(axis=0)
        c1 = np.concatenate([[0.0], np.cumsum(slice_sum)])
        c2 = np.concatenate([[0.0], np.cumsum(slice_sq)])
        t = np.arange(nt)
        lo = np.maximum(0, t - time_lag)
        n_win = (t - lo + 1) * nu
        mean = (c1[t + 1] - c1[lo]) / n_win
        sd = np.sqrt(np.maximum((c2[t + 1] - c2[lo]) / n_win - mean * mean, 0.0))
        Wd = _drop_diagonal(Wst)
        n_nb = np.diff(Wd.indptr).astype(np.int64)
        wi = Wd @ np.ones(len(y)) + 1.0  # binary: S1_i = W_i
        mean_b, sd_b, n_b = (np.repeat(a, nu) for a in (mean, sd, n_win))
        num = Wd @ y + y - mean_b * wi
        den = sd_b * np.sqrt(np.maximum(n_b * wi - wi * wi, 0.0) / np.maximum(n_b - 1, 1))
        z = np.divide(num, den, out=np.zeros(len(y)), where=den > 0)
        p = 2.0 * special.ndtr(-np.abs(z))
        bins = confidence_bins(z, p, fdr=fdr)
    else:
        raise InputError(f"global_window must be 'cube' or 'neighborhood', got {global_window!r}")
    return SpaceTimeGi(
        z.reshape(shape).T.copy(),
        p.reshape(shape).T.copy(),
        bins.reshape(shape).T.copy(),
        n_nb.reshape(shape).T.copy(),
        int(time_lag),
        fdr,
    )


@dataclass(frozen=True)
class MannKendallResult:
    """Mann-Kendall trend test per series: ``s``, ``var_s``, ``z``, two-sided ``p``, ``tau``."""

    s: np.ndarray
    var_s: np.ndarray
    z: np.ndarray
    p: np.ndarray
    tau: np.ndarray


def mann_kendall(x: np.ndarray, *, continuity: bool = True) -> MannKendallResult:
    """Mann-Kendall trend test of each row of ``x`` against time, with the ties correction.

    ``S = sum_{i<j} sign(x_j - x_i)``; ``Var S = (n(n-1)(2n+5) - sum_g t_g(t_g-1)(2t_g+5))
    / 18`` over the groups g of tied values (sizes t_g); ``z = (S - sign S) / sqrt(Var S)``
    (continuity correction; ``continuity=False`` gives ``S / sqrt(Var S)``, the asymptotic
    z of ``scipy.stats.kendalltau(range(n), x)``); p two-sided normal; ``tau = S / (n(n-1)/2)``
    (Kendall's tau-a). Vectorised over rows (a loop over the n - 1 lags).

    Parameters
    ----------
    x
        (m, n) series, one per row (or one series of length n).
    """
    x = np.atleast_2d(np.asarray(x, dtype=float))
    m, n = x.shape
    s = np.zeros(m)
    for k in range(1, n):
        s += np.sign(x[:, k:] - x[:, :-k]).sum(axis=1)
    # ties: runs of equal values in each sorted row
    xs = np.sort(x, axis=1)
    start = np.ones((m, n), dtype=bool)
    start[:, 1:] = xs[:, 1:] != xs[:, :-1]
    gid = np.cumsum(start.ravel()) - 1
    sizes = np.bincount(gid).astype(float)
    g_row = np.flatnonzero(start.ravel()) // n
    ties = np.bincount(g_row, weights=sizes * (sizes - 1) * (2 * sizes + 5), minlength=m)
    var_s = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    num = s - np.sign(s) if continuity else s
    z = np.divide(num, np.sqrt(var_s), out=np.zeros(m), where=var_s > 0)
    p = 2.0 * special.ndtr(-np.abs(z))
    tau = s / (n * (n - 1) / 2.0) if n > 1 else np.zeros(m)
    return MannKendallResult(s, var_s, z, p, tau)


def _trailing_run(flags: np.ndarray) -> np.ndarray:
    """Length of the run of True at the end of each row."""
    return np.cumprod(flags[:, ::-1], axis=1).sum(axis=1)


def classify_emerging(
    bins: np.ndarray,
    trend_z: np.ndarray,
    trend_p: np.ndarray,
    *,
    min_bin: int = 1,
    trend_alpha: float = 0.05,
) -> np.ndarray:
    """ArcGIS's 17 emerging hot spot patterns from per-bin Gi* bins and the z-score trend.

    Per location (row), with n steps, a bin "hot" when ``bins >= min_bin`` and "cold" when
    ``bins <= -min_bin``, H the number of hot steps, R the length of the final run of hot
    steps, and a trend significant when ``trend_p < trend_alpha``. The final step decides the
    side first; hot side (cold mirrored with hot <-> cold, up <-> down):

    - final step hot and ``H >= 90 %`` of the steps: **Intensifying Hot Spot** (significant
      upward trend), **Diminishing Hot Spot** (significant downward), else **Persistent Hot
      Spot**;
    - final step hot and ``H < 90 %``: **Oscillating Hot Spot** if it was ever a cold spot;
      otherwise **New Hot Spot** if it was never hot before (H = 1), **Consecutive Hot Spot**
      if the only hot steps are the final run of at least two (H = R >= 2), else **Sporadic
      Hot Spot** (on and off, hot before the final run, never cold);
    - final step neither hot nor cold: **Historical Hot Spot** if ``H >= 90 %`` (Historical
      Cold Spot likewise), else **No Pattern Detected**.

    The ArcGIS definitions leave one overlap open: a location cold in the past and hot only in
    the final step(s) matches both "New/Consecutive" and "Oscillating"; it is Oscillating here
    (the flip from cold to hot is what the analyst needs to see).

    Returns
    -------
    numpy.ndarray
        Pattern names (object), one per row.
    """
    bins = np.asarray(bins)
    m, n = bins.shape
    out = np.full(m, NO_PATTERN, dtype=object)
    sig = np.asarray(trend_p) < trend_alpha
    up, down = sig & (np.asarray(trend_z) > 0), sig & (np.asarray(trend_z) < 0)
    for side, flags, other, rising, falling in (
        ("Hot", bins >= min_bin, bins <= -min_bin, up, down),
        ("Cold", bins <= -min_bin, bins >= min_bin, down, up),
    ):
        count = flags.sum(axis=1)
        run = _trailing_run(flags)
        most = count * 10 >= 9 * n  # at least 90 % of the steps, exact in integers
        last = flags[:, -1]
        ever_other = other.any(axis=1)
        rules = [
            (last & most & rising, "Intensifying"),
            (last & most & falling, "Diminishing"),
            (last & most & ~rising & ~falling, "Persistent"),
            (last & ~most & ever_other, "Oscillating"),
            (last & ~most & ~ever_other & (count == 1), "New"),
            (last & ~most & ~ever_other & (count == run) & (run >= 2), "Consecutive"),
            (last & ~most & ~ever_other & (count > run), "Sporadic"),
        ]
        for mask, name in rules:
            out[mask] = f"{name} {side} Spot"
    neither = ~(bins[:, -1] >= min_bin) & ~(bins[:, -1] <= -min_bin)
    hot_n, cold_n = (bins >= min_bin).sum(axis=1), (bins <= -min_bin).sum(axis=1)
    out[neither & (hot_n * 10 >= 9 * n)] = "Historical Hot Spot"
    out[neither & (cold_n * 10 >= 9 * n)] = "Historical Cold Spot"
    return out


def emerging_hotspots(
    cube: SpaceTimeCube,
    W,
    *,
    time_lag: int = 1,
    fdr: bool = True,
    confidence: float = 0.90,
    trend_alpha: float = 0.05,
    global_window: Literal["cube", "neighborhood"] = "cube",
    skip_edge: bool = True,
) -> pd.DataFrame:
    """Emerging hot spots (ArcGIS's Emerging Hot Spot Analysis) of a space-time cube.

    1. Gi* of every bin with space-time neighbours: the unit's spatial neighbours at the same
       step, and the unit and its neighbours at the ``time_lag`` previous steps
       (``space_time_weights``), against the mean and spread of the whole cube, bins with the
       FDR correction over all bins (``space_time_gi_star``).
    2. Mann-Kendall trend (ties corrected) of each unit's series of Gi* z-scores -- the
       "intensity of clustering" ArcGIS tests -- and, for information, of its counts.
    3. The 17 patterns (``classify_emerging``), a bin significant at ``confidence``.

    Parameters
    ----------
    cube
        From ``space_time_cube``.
    W
        (n_units, n_units) binary spatial weights of the cube's units (``unit_weights``:
        queen contiguity, H3 ring, distance band).
    time_lag
        Previous time steps in the neighbourhood (ArcGIS's "Neighborhood Time Step", default 1).
    fdr
        False Discovery Rate correction of the bins (default, as ArcGIS).
    confidence
        0.90, 0.95 or 0.99: a bin is a significant hot (cold) spot at this confidence.
    trend_alpha
        Significance level of the Mann-Kendall trend that makes a location intensifying or
        diminishing.
    global_window
        ``"cube"`` (default, as ArcGIS) or ``"neighborhood"``; see ``space_time_gi_star``.
    skip_edge
        Leave the first ``time_lag`` steps out of the trend and the pattern (default). Their
        neighbourhoods are cut off by the start of the cube (no earlier steps), so the same
        local intensity gives them a smaller z: kept, they bias every hot spot's trend
        upwards (and every cold spot's downwards). They still serve as the time neighbours
        of the next steps. ``False`` classifies all steps, as ArcGIS does.

    Returns
    -------
    pandas.DataFrame (a GeoDataFrame with the units' geometry when the cube holds units)
        One row per unit: ``unit_id, pattern, trend_z, trend_p`` (Mann-Kendall of the Gi*
        z-scores: what the pattern uses), ``count_trend_z, count_trend_p`` (Mann-Kendall of
        the counts), ``n_hot_steps, n_cold_steps`` (significant at ``confidence``),
        ``last_bin`` and ``last_z`` (Gi* bin and z of the final step), ``total`` (incidents).
        ``attrs``: ``step``, ``n_steps``, ``time_lag``, ``fdr``, ``confidence``,
        ``trend_alpha``, ``start``, ``end`` (ISO strings).
    """
    levels = {0.90: 1, 0.95: 2, 0.99: 3}
    if round(confidence, 2) not in levels:
        raise InputError(f"confidence must be 0.90, 0.95 or 0.99, got {confidence}")
    min_bin = levels[round(confidence, 2)]
    if cube.n_steps < 2:
        raise InputError("emerging hot spots need at least two time steps")
    first = int(time_lag) if skip_edge else 0
    if cube.n_steps - first < 2:
        raise InputError(
            f"{cube.n_steps} steps leave fewer than two to classify after the first "
            f"{first} (time_lag); use more steps or skip_edge=False"
        )
    gi = space_time_gi_star(cube, W, time_lag=time_lag, fdr=fdr, global_window=global_window)
    bins, zs = gi.bins[:, first:], gi.z[:, first:]
    trend = mann_kendall(zs)
    count_trend = mann_kendall(cube.counts[:, first:])
    pattern = classify_emerging(bins, trend.z, trend.p, min_bin=min_bin, trend_alpha=trend_alpha)
    out = pd.DataFrame(
        {
            "unit_id": cube.unit_ids,
            "pattern": pattern,
            "trend_z": trend.z,
            "trend_p": trend.p,
            "count_trend_z": count_trend.z,
            "count_trend_p": count_trend.p,
            "n_hot_steps": (bins >= min_bin).sum(axis=1),
            "n_cold_steps": (bins <= -min_bin).sum(axis=1),
            "last_bin": gi.bins[:, -1],
            "last_z": gi.z[:, -1],
            "total": cube.counts.sum(axis=1),
        }
    )
    if cube.units is not None and "geometry" in cube.units.columns:
        out = gpd.GeoDataFrame(out, geometry=cube.units.geometry.to_numpy(), crs=cube.units.crs)
    out.attrs.update(
        step=cube.step,
        n_steps=cube.n_steps,
        n_steps_classified=cube.n_steps - first,
        time_lag=int(time_lag),
        fdr=bool(fdr),
        global_window=global_window,
        confidence=float(confidence),
        trend_alpha=float(trend_alpha),
        start=cube.edges[0].isoformat(),
        end=cube.edges[-1].isoformat(),
    )
    return out


# --------------------------------------------------------------------------------------------
# When: hour x weekday profiles and period comparisons

WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _select(incidents: pd.DataFrame, category=None, area=None) -> pd.DataFrame:
    """Incidents of some categories (codes, or major-class prefixes like ``"05"``) in an area."""
    sel = incidents
    if category is not None:
        cats = [category] if isinstance(category, str) else list(category)
        codes = sel["category_code"].astype(str)
        keep = np.zeros(len(sel), dtype=bool)
        for c in cats:
            keep |= (codes == c).to_numpy() if "-" in c else codes.str.startswith(c).to_numpy()
        sel = sel[keep]
    if area is not None:
        if isinstance(area, str) or (
            isinstance(area, list | tuple) and area and isinstance(area[0], str)
        ):
            if "grid_code" not in sel.columns:
                raise InputError("selecting by grid code needs a grid_code column")
            grids = [area] if isinstance(area, str) else list(area)
            sel = sel[sel["grid_code"].isin(grids).to_numpy()]
        else:
            geom = _area_geometry(area)
            shapely.prepare(geom)
            lon, lat = _lonlat(sel)
            ok = np.isfinite(lon) & np.isfinite(lat)
            inside = np.zeros(len(sel), dtype=bool)
            inside[ok] = shapely.contains_xy(geom, lon[ok], lat[ok])
            sel = sel[inside]
    return sel


def hour_weekday(
    incidents: pd.DataFrame,
    *,
    category: str | list[str] | None = None,
    area=None,
    time_column: str = "occurred_at",
) -> pd.DataFrame:
    """Incident counts by hour of day x day of week (the "when" heat table).

    Parameters
    ----------
    incidents
        Incidents with ``occurred_at`` (wall-clock local time, as stored), ``category_code``
        and, for an area, a point geometry (EPSG:4326) or a ``grid_code`` column.
    category
        A minor-class code (``"05-05"``), a major-class prefix (``"05"``) or a list of them.
    area
        A polygon (shapely geometry, GeoSeries or GeoDataFrame in EPSG:4326: points inside
        it), or grid code(s) matched against ``grid_code``.

    Returns
    -------
    pandas.DataFrame
        24 x 7 int64 counts: index ``hour`` 0..23, columns ``weekday`` 0..6 (Monday = 0;
        ``WEEKDAYS_EN`` has short names), zeros included. ``attrs["n"]``: incidents counted.
    """
    sel = _select(incidents, category, area)
    t = _as_naive_times(sel[time_column])
    ok = ~t.isna()
    cell = np.asarray(t.hour[ok]) * 7 + np.asarray(t.day_of_week[ok])
    counts = np.bincount(cell, minlength=24 * 7).reshape(24, 7).astype(np.int64)
    out = pd.DataFrame(
        counts, index=pd.RangeIndex(24, name="hour"), columns=pd.RangeIndex(7, name="weekday")
    )
    out.attrs["n"] = int(ok.sum())
    return out


def poisson_rate_test(count_a, count_b, length_a=1.0, length_b=1.0) -> np.ndarray:
    """Two-sided p-value that two Poisson counts come from the same rate per unit length.

    The conditional (exact) test: given the total ``a + b``, a is binomial with
    ``p = length_a / (length_a + length_b)`` under equal rates (p = 0.5 for equal periods);
    the p-value is ``scipy.stats.binomtest(a, a + b, p).pvalue``. 1.0 when both are zero.
    Vectorised over arrays of counts (lengths may be scalars or arrays).
    """
    from scipy.stats import binomtest

    a = np.atleast_1d(np.asarray(count_a, dtype=np.int64))
    b = np.atleast_1d(np.asarray(count_b, dtype=np.int64))
    la = np.broadcast_to(np.asarray(length_a, dtype=float), a.shape)
    lb = np.broadcast_to(np.asarray(length_b, dtype=float), a.shape)
    out = np.ones(a.shape)
    for k in np.flatnonzero(a + b > 0):  # one exact test per key (a few dozen categories)
        out[k] = binomtest(int(a[k]), int(a[k] + b[k]), la[k] / (la[k] + lb[k])).pvalue
    return out


def period_comparison(
    incidents: pd.DataFrame,
    start,
    end,
    *,
    by: str | None = "category",
    alpha: float = 0.05,
    fdr: bool = False,
    coverage: tuple | None = None,
    time_column: str = "occurred_at",
) -> pd.DataFrame:
    """This period against the previous period (环比) and the same period last year (同比).

    Periods are half-open: this ``[start, end)``; previous ``[start - (end - start), start)``;
    last year ``[start - 1 year, end - 1 year)`` (calendar years, so its length differs by a
    day across 29 February). Each comparison is the conditional binomial test of two Poisson
    counts (``poisson_rate_test``), with the periods' lengths in days -- an exact test that
    is ``binomtest(this, this + other, 0.5)`` for equal lengths.

    Parameters
    ----------
    incidents
        Incidents with ``occurred_at`` and the grouping column.
    start, end
        This period (dates or timestamps, wall-clock time as stored).
    by
        ``"category"`` (``category_code``), any other column (``source``, ``grid_code`` ...),
        or None for one total row (key ``"all"``).
    alpha
        Significance level for ``significant_prev`` / ``significant_ly``.
    fdr
        Benjamini-Hochberg over the keys of each comparison instead of plain ``p < alpha``.
    coverage
        (first, last) instants the incident data cover; a comparison period that starts
        before ``first`` has no data, and its counts, changes and p-values are NaN. Default:
        the first and last time in ``incidents``.

    Returns
    -------
    pandas.DataFrame
        ``key, this, previous, last_year`` (counts), ``change_prev, change_ly`` (relative
        change of the daily rate: ``(this / days) / (other / other_days) - 1``, NaN when the
        other count is 0), ``p_prev, p_ly`` (two-sided), ``significant_prev, significant_ly``
        (bool); sorted by ``this`` descending. ``attrs``: the three periods (ISO strings) and
        their lengths in days.
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if not end > start:
        raise InputError(f"the period is empty: start {start} is not before end {end}")
    length = end - start
    periods = {
        "this": (start, end),
        "previous": (start - length, start),
        "last_year": (start - pd.DateOffset(years=1), end - pd.DateOffset(years=1)),
    }
    days = {k: (b - a) / pd.Timedelta(days=1) for k, (a, b) in periods.items()}
    t = _as_naive_times(incidents[time_column])
    if coverage is None:
        valid = t[~t.isna()]
        coverage = (valid.min(), valid.max()) if len(valid) else (start, start)
    first = pd.Timestamp(coverage[0])
    col = {"category": "category_code"}.get(by, by) if by is not None else None
    if col is not None and col not in incidents.columns:
        raise InputError(f"no column {col!r} to group by")
    keys_all = (
        incidents[col].astype(object).fillna("(none)").to_numpy()
        if col
        else np.full(len(incidents), "all", dtype=object)
    )
    tv = t.to_numpy(dtype="datetime64[ns]")
    counts = {}
    for name, (a, b) in periods.items():
        m = (tv >= a.to_datetime64()) & (tv < b.to_datetime64())
        counts[name] = pd.Series(keys_all[m]).value_counts()
    keys = sorted(set().union(*(c.index for c in counts.values())), key=str)
    if not keys:
        keys = ["all"] if col is None else []
    frame = pd.DataFrame({"key": pd.Series(keys, dtype=object)})
    for name in periods:
        frame[name] = counts[name].reindex(keys).fillna(0).astype(np.int64).to_numpy()
    for name, tag in (("previous", "prev"), ("last_year", "ly")):
        covered = periods[name][0] >= first.floor("D")
        other = frame[name].to_numpy()
        if not covered:
            frame[name] = np.nan
            frame[f"change_{tag}"] = np.nan
            frame[f"p_{tag}"] = np.nan
            frame[f"significant_{tag}"] = False
            continue
        rate_this = frame["this"].to_numpy() / days["this"]
        rate_other = other / days[name]
        with np.errstate(divide="ignore", invalid="ignore"):
            frame[f"change_{tag}"] = np.where(other > 0, rate_this / rate_other - 1.0, np.nan)
        p = poisson_rate_test(frame["this"].to_numpy(), other, days["this"], days[name])
        frame[f"p_{tag}"] = p
        sig = fdr_mask(p, alpha) if fdr else p < alpha
        frame[f"significant_{tag}"] = sig & ((frame["this"].to_numpy() + other) > 0)
    frame = frame[
        [
            "key",
            "this",
            "previous",
            "last_year",
            "change_prev",
            "change_ly",
            "p_prev",
            "p_ly",
            "significant_prev",
            "significant_ly",
        ]
    ]
    frame = frame.sort_values(["this", "key"], ascending=[False, True], kind="stable")
    frame = frame.reset_index(drop=True)
    frame.attrs.update(
        {name: [a.isoformat(), b.isoformat()] for name, (a, b) in periods.items()},
        days=days,
        alpha=alpha,
        fdr=fdr,
    )
    return frame
