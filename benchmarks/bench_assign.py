"""Point-in-grid assignment: ``gis.grids`` against ``geopandas.sjoin(predicate="within")``.

Random points (seeded) over the bounds of the demo district, assigned to its 447 micro-grids.
Ours is timed cold (``GridIndex`` built inside the timed call, as on a first request) and warm
(the cached index the app reuses); the ratio in the RESULT line is the cold one. Answers are
checked to be identical wherever sjoin gives exactly one grid.

    python benchmarks/bench_assign.py [--points 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import shapely  # noqa: E402

from benchmarks._common import best_of, result_line  # noqa: E402
from gis.demo import generate_district  # noqa: E402
from gis.grids import OUTSIDE, GridIndex  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    t0 = time.perf_counter()
    grids = generate_district(seed=42, track_days=1).grids
    print(f"demo district generated in {time.perf_counter() - t0:.1f} s")
    micro = grids[grids["level"] == "micro"]
    minx, miny, maxx, maxy = micro.total_bounds
    rng = np.random.default_rng(20260101)
    x = minx + rng.random(args.points) * (maxx - minx)
    y = miny + rng.random(args.points) * (maxy - miny)
    points = gpd.GeoDataFrame(geometry=shapely.points(x, y), crs=4326)
    polys = micro[["code", "geometry"]].reset_index(drop=True)

    def peer():
        return gpd.sjoin(points, polys, predicate="within", how="left")

    def cold():
        return GridIndex(grids).assign(x, y)

    index = GridIndex(grids)

    def warm():
        return index.assign(x, y)

    peer_s = best_of(peer, args.repeat)
    cold_s = best_of(cold, args.repeat)
    warm_s = best_of(warm, args.repeat)
    build_s = best_of(lambda: GridIndex(grids), args.repeat)

    joined = peer()
    n_hits = (
        joined["index_right"]
        .notna()
        .groupby(level=0)
        .sum()
        .reindex(range(args.points), fill_value=0)
    )
    first = joined[~joined.index.duplicated()]["code"].reindex(range(args.points)).to_numpy()
    ours = warm()["micro"].to_numpy()
    one = (n_hits == 1).to_numpy()
    same = int((ours[one] == first[one]).sum())
    none_ours_outside = int((ours[(n_hits == 0).to_numpy()] == OUTSIDE).sum())
    print(
        f"{args.points:,} points, {len(polys)} micro-grids: sjoin gives one grid for "
        f"{int(one.sum()):,}, none for {int((n_hits == 0).sum()):,}, several for "
        f"{int((n_hits > 1).sum()):,}; ours identical on {same:,} of the single answers, "
        f"'outside' on {none_ours_outside:,} of the none"
    )
    print(
        f"sjoin {peer_s:.3f} s; ours cold {cold_s:.3f} s (index build {build_s:.3f} s), "
        f"warm {warm_s:.3f} s; raster {index.raster.shape}, "
        f"{len(index.cand_ptr) - 1:,} straddling cells"
    )
    identical = same == int(one.sum())
    print(
        result_line(
            "assign",
            cold_s,
            "geopandas.sjoin_within",
            peer_s,
            points=args.points,
            grids=len(polys),
            warm_s=f"{warm_s:.4f}",
            warm_ratio=f"{peer_s / warm_s:.2f}",
            identical=str(identical).lower(),
        )
    )
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
