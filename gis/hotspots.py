"""Hotspot analytics: analysis units, kernel density, Getis-Ord Gi* and local Moran's I.

Pure functions on GeoDataFrames and numpy arrays (no database, no Streamlit). Geometries come
and go in EPSG:4326 (lon/lat); metric work happens in a local metric CRS chosen by
``gis.crs.local_metric_crs`` (CGCS2000 3-degree Gauss-Kruger inside China, UTM elsewhere).

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

from gis.crs import local_metric_crs
from gis.errors import InputError

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
