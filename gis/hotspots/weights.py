"""Spatial weights: scipy.sparse CSR matrices, binary, without the diagonal.

``queen_weights``, ``h3_ring_weights``, ``lattice_weights`` (fishnet), ``distance_band_weights``;
``auto_band`` picks a distance band like ArcGIS's Optimized Hot Spot Analysis (incremental global
Moran's I, ``moran_global``); ``unit_weights`` takes the fastest route for a units frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import h3
import numpy as np
import pyproj
import scipy.sparse as sp
import shapely
from h3._cy import grid_disk
from scipy.spatial import cKDTree

from gis.core.errors import InputError
from gis.core.geometry import to_metric
from gis.hotspots.counts import lattice_table, unit_kind


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


def lattice_weights(ix: np.ndarray, iy: np.ndarray, *, queen: bool = True) -> sp.csr_matrix:
    """Contiguity of square lattice cells (fishnet) by integer arithmetic on (ix, iy).

    Queen: the 8 surrounding cells; rook (``queen=False``): the 4 edge neighbours. Cells
    missing from the units (outside the study area) are simply absent.
    """
    ix, iy = np.asarray(ix, dtype=np.int64), np.asarray(iy, dtype=np.int64)
    table, ixmin, iymin = lattice_table(ix, iy)
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


def drop_diagonal(W) -> sp.csr_matrix:
    """``W`` as a float CSR matrix without its diagonal (InputError unless square)."""
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
    W = drop_diagonal(W)
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


def unit_centroids_m(units: gpd.GeoDataFrame, crs: pyproj.CRS | int | None = None) -> np.ndarray:
    """(n, 2) unit centroids in a metric CRS (the units' own, or ``local_metric_crs``)."""
    if crs is None:
        epsg = units.attrs.get("metric_epsg")
        crs = pyproj.CRS.from_epsg(epsg) if epsg else None
    cent = to_metric(units.geometry, crs)[0].centroid
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
    kind = unit_kind(units)
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
