"""Kernel density: ``kde`` (Gaussian or quartic kernel; linear binning + FFT convolution) and
``silverman_bandwidth_m`` (the robust spatial Silverman rule ArcGIS documents).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import contourpy  # matplotlib's contouring engine, outer rings grouped with holes
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.signal import fftconvolve

from gis.core.errors import InputError
from gis.core.geometry import as_area, local_metric_crs, metric_crs_for_points, to_metric_xy
from gis.core.settings import STORAGE_EPSG
from gis.hotspots.inputs import points_lonlat

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
    lon, lat = points_lonlat(points)
    w = np.ones(len(lon)) if weights is None else np.asarray(weights, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat) & np.isfinite(w)
    lon, lat, w = lon[ok], lat[ok], w[ok]
    if len(lon) == 0:
        raise InputError("no points with coordinates")
    area_bounds = None
    if extent is not None and not isinstance(extent, tuple | list | np.ndarray):
        area = gpd.GeoSeries([as_area(extent)], crs=STORAGE_EPSG)
        metric = pyproj.CRS.from_user_input(crs) if crs is not None else local_metric_crs(area)
        area_bounds = tuple(area.to_crs(metric).total_bounds)
    elif extent is not None:
        if crs is None:
            raise InputError("an extent in metres needs its crs (or give the extent as an area)")
        metric = pyproj.CRS.from_user_input(crs)
    else:
        metric = (
            pyproj.CRS.from_user_input(crs) if crs is not None else metric_crs_for_points(lon, lat)
        )
    x, y, _ = to_metric_xy(lon, lat, metric)
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
