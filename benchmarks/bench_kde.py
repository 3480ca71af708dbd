"""Kernel density: ``gis.hotspots.kde`` against ``scipy.stats.gaussian_kde`` on the same grid.

100,000 clustered incident points (a synthetic sub-district: 25 hot places of 40-300 m spread
over a 30 % uniform background, 9 x 7 km around Gaoping), Gaussian kernel, the robust
Silverman bandwidth, a 500 x 500 raster. The peer is ``gaussian_kde`` with the same isotropic
bandwidth (its cached data covariance set to the identity, so ``set_bandwidth(h)`` gives the
kernel covariance h² I), evaluated at the cell centres and scaled by n: the exact direct sum.
scipy's cost is linear in the number of cells, so it is timed on a random subset of cells
and extrapolated to the whole raster (stated in the output). The same subset gives the
accuracy: the largest relative difference where the density exceeds 1 % of its maximum.

    python benchmarks/bench_kde.py [--points 100000] [--grid 500] [--peer-cells 2000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pyproj  # noqa: E402
from scipy.stats import gaussian_kde  # noqa: E402

from benchmarks._common import best_of, result_line  # noqa: E402
from gis import hotspots as hs  # noqa: E402

EPSG = 4547  # CGCS2000 GK CM 114E, what local_metric_crs picks for Gaoping
CENTER_M = (402_000.0, 3_962_000.0)


def clustered_points(n: int, seed: int = 0) -> np.ndarray:
    """(n, 2) lon/lat: 70 % around 25 hot places, 30 % uniform over 9 x 7 km."""
    rng = np.random.default_rng(seed)
    n_bg = int(0.3 * n)
    centres = rng.uniform([-4000, -3000], [4000, 3000], size=(25, 2))
    spread = rng.uniform(40, 300, 25)
    which = rng.integers(0, 25, n - n_bg)
    hot = centres[which] + rng.normal(size=(n - n_bg, 2)) * spread[which, None]
    bg = rng.uniform([-4500, -3500], [4500, 3500], size=(n_bg, 2))
    xy = np.vstack([hot, bg]) + CENTER_M
    tr = pyproj.Transformer.from_crs(EPSG, 4326, always_xy=True)
    lon, lat = tr.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--grid", type=int, default=500)
    parser.add_argument("--peer-cells", type=int, default=2000)
    args = parser.parse_args()

    ll = clustered_points(args.points)
    tr = pyproj.Transformer.from_crs(4326, EPSG, always_xy=True)
    x, y = (np.asarray(a) for a in tr.transform(ll[:, 0], ll[:, 1]))
    h = hs.silverman_bandwidth_m(x, y)
    # a square extent: the points' bounds padded by 3 bandwidths, cut into grid x grid cells
    side = max(x.max() - x.min(), y.max() - y.min()) + 6 * h
    cx, cy = (x.max() + x.min()) / 2, (y.max() + y.min()) / 2
    extent = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    cell = side / args.grid

    def ours():
        return hs.kde(ll, bandwidth_m=h, cell_m=cell, extent=extent, crs=EPSG)

    res = ours()
    assert res.density_km2.shape == (args.grid, args.grid)
    ours_s = best_of(ours, 3)

    peer = gaussian_kde(np.vstack([x, y]))
    peer._data_covariance = np.eye(2)
    peer._data_cho_cov = np.eye(2)
    peer.set_bandwidth(h)
    rng = np.random.default_rng(1)
    dens = res.density_km2.ravel()
    dense = np.flatnonzero(dens > 0.01 * dens.max())
    cells = rng.choice(dense, min(args.peer_cells, len(dense)), replace=False)
    gx, gy = np.meshgrid(res.x_m, res.y_m)
    pts = np.vstack([gx.ravel()[cells], gy.ravel()[cells]])
    t0 = time.perf_counter()
    ref = peer(pts) * len(x) * 1e6
    subset_s = time.perf_counter() - t0
    total_cells = res.density_km2.size
    peer_s = subset_s * total_cells / len(cells)
    max_rel = float(np.abs(dens[cells] / ref - 1).max())
    print(
        f"kde: {args.points} points, {args.grid}x{args.grid} cells of {cell:.1f} m, "
        f"bandwidth {h:.1f} m (robust Silverman), EPSG:{res.epsg}: {ours_s:.3f} s; "
        f"mass {res.mass:.0f} of {args.points}"
    )
    print(
        f"scipy gaussian_kde: {subset_s:.2f} s for {len(cells)} cells, extrapolated linearly "
        f"to {total_cells} cells: {peer_s:.1f} s; max relative difference where density > 1 % "
        f"of max: {max_rel:.2e}"
    )
    print(
        result_line(
            "kde",
            ours_s,
            "scipy_gaussian_kde",
            peer_s,
            points=args.points,
            cells=total_cells,
            bandwidth_m=round(h, 1),
            peer_cells_timed=len(cells),
            peer_extrapolated=True,
            max_rel_err=f"{max_rel:.2e}",
        )
    )
    return 0 if max_rel < 0.01 else 1


if __name__ == "__main__":
    raise SystemExit(main())
