"""Gi* hot spots: ``gis.hotspots.gi_star`` against ``esda.G_Local(..., permutations=0)``.

100,000 fishnet cells (500 x 200 lattice) with synthetic Poisson counts (a smooth background
and a few hot places), queen contiguity (8 neighbours) from ``lattice_weights``. Both get the
same neighbours: ours the scipy CSR matrix, esda a ``libpysal.graph.Graph.from_sparse`` of it,
``star=True, transform="B"`` (Gi* with binary weights, self included). Analytic z only
(esda's permutations would JIT-compile and take far longer). Prints the largest |z| difference.

    python benchmarks/bench_gistar.py [--cols 500] [--rows 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks._common import best_of, result_line  # noqa: E402
from gis import hotspots as hs  # noqa: E402


def synthetic_counts(
    cols: int, rows: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lattice indices and Poisson counts: a smooth gradient plus 30 hot places."""
    rng = np.random.default_rng(seed)
    ix, iy = (a.ravel() for a in np.meshgrid(np.arange(cols), np.arange(rows)))
    lam = 0.5 + 1.5 * ix / cols
    for cx, cy, r, peak in zip(
        rng.uniform(0, cols, 30),
        rng.uniform(0, rows, 30),
        rng.uniform(2, 8, 30),
        rng.uniform(3, 15, 30),
        strict=True,
    ):
        lam = lam + peak * np.exp(-((ix - cx) ** 2 + (iy - cy) ** 2) / (2 * r * r))
    return ix, iy, rng.poisson(lam).astype(float)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cols", type=int, default=500)
    parser.add_argument("--rows", type=int, default=200)
    args = parser.parse_args()

    import esda
    from libpysal.graph import Graph

    ix, iy, y = synthetic_counts(args.cols, args.rows)
    n = len(y)
    t0 = time.perf_counter()
    W = hs.lattice_weights(ix, iy)
    weights_s = time.perf_counter() - t0
    graph = Graph.from_sparse(W)

    res = hs.gi_star(y, W)
    ref = esda.G_Local(y, graph, star=True, transform="B", permutations=0)
    max_dz = float(np.abs(res.z - ref.Zs).max())

    ours_s = best_of(lambda: hs.gi_star(y, W), 3)
    peer_s = best_of(lambda: esda.G_Local(y, graph, star=True, transform="B", permutations=0), 3)
    hot = int((res.bins == 3).sum())
    print(
        f"gi_star: {n} cells, {W.nnz} neighbour pairs (queen lattice, built in {weights_s:.3f} s): "
        f"{ours_s:.4f} s with z, two-sided p and FDR bins ({hot} cells at +3); "
        f"esda.G_Local(permutations=0) with a libpysal Graph: {peer_s:.4f} s; "
        f"max |z difference| {max_dz:.1e}"
    )
    print(
        result_line(
            "gistar",
            ours_s,
            "esda_G_Local",
            peer_s,
            cells=n,
            max_abs_z_diff=f"{max_dz:.1e}",
            weights_s=round(weights_s, 4),
        )
    )
    return 0 if max_dz < 1e-8 else 1


if __name__ == "__main__":
    raise SystemExit(main())
