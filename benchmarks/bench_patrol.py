"""Patrol coverage speed (issue 7).

(a) 1,000,000 GPS samples -> presence per micro-grid (447 demo micro-grids) and per H3 res-11
    cell with ``gis.patrol.presence`` (target <= 3 s each). The grid index of
    ``gis.grids.assign_points`` is built once and cached (its build time is printed apart).
(b) Street coverage of the demo tracks: sampled street points + STRtree of fix-to-fix segments
    (``street_coverage``) against buffering and unioning the segments
    (``street_coverage_buffer_union``), same run; ratio >= 20x, covered shares within 1 point.

    python benchmarks/bench_patrol.py [--fixes 1000000] [--track-days 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402

from benchmarks._common import best_of, result_line  # noqa: E402
from gis import patrol  # noqa: E402
from gis.demo import generate_district  # noqa: E402


def many_samples(fixes: gpd.GeoDataFrame, n: int, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` samples: the demo day's fixes repeated on earlier days, jittered by ~3 m."""
    rng = np.random.default_rng(seed)
    base = patrol.interpolate(fixes, step_s=15.0)
    reps = int(np.ceil(n / len(base)))
    idx = np.tile(np.arange(len(base)), reps)[:n]
    day = np.repeat(np.arange(reps), len(base))[:n]
    xy = shapely.get_coordinates(base.geometry.to_numpy())[idx]
    xy = xy + rng.normal(0.0, 3e-5, xy.shape)
    t = base["t"].to_numpy()[idx] - day.astype("timedelta64[D]")
    return gpd.GeoDataFrame(
        {
            "staff_code": base["staff_code"].to_numpy()[idx],
            "track_id": base["track_id"].to_numpy()[idx] + day * (base["track_id"].max() + 1),
            "t": t.astype("datetime64[ns]"),
            "w_s": base["w_s"].to_numpy()[idx],
        },
        geometry=shapely.points(xy),
        crs=4326,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixes", type=int, default=1_000_000)
    parser.add_argument("--track-days", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    demo = generate_district(seed=42, track_days=args.track_days)
    clean = patrol.clean_fixes(demo.fixes, district=demo.boundary)
    print(f"demo fixes: {clean.summary_line()}")

    # (a) presence on n samples
    samples = many_samples(clean.fixes, args.fixes)
    t0 = time.perf_counter()
    patrol.presence(samples.iloc[:1000], demo.grids)  # builds and caches the grid index
    print(f"grid index build (cached afterwards): {time.perf_counter() - t0:.2f} s")
    grid_s = best_of(lambda: patrol.presence(samples, demo.grids), repeat=args.repeat)
    h3_s = best_of(lambda: patrol.presence(samples, "h3:11"), repeat=args.repeat)
    by_grid = patrol.presence(samples, demo.grids)
    by_h3 = patrol.presence(samples, "h3:11")
    print(
        f"presence: {len(samples):,} samples -> {len(by_grid)} micro-grids in {grid_s:.2f} s, "
        f"{len(by_h3):,} H3 res-11 cells in {h3_s:.2f} s (target <= 3 s each)"
    )
    # the peer for (a): geopandas.sjoin of the points onto the micro-grids + a groupby (dwell)
    micro = patrol.polygon_units(demo.grids)

    def sjoin_dwell() -> pd.Series:
        joined = gpd.sjoin(samples[["w_s", "geometry"]], micro, predicate="within")
        return joined.groupby("unit_id")["w_s"].sum()

    sjoin_s = best_of(sjoin_dwell, repeat=1)
    ref = sjoin_dwell()
    ours = by_grid.set_index("unit_id")["dwell_s"].reindex(ref.index)
    dwell_diff = float(np.abs(ours - ref).max())
    print(f"presence per micro-grid vs sjoin+groupby: max dwell difference {dwell_diff:.3f} s")
    print(
        result_line(
            "patrol_presence_micro",
            grid_s,
            "gpd.sjoin+groupby(dwell only)",
            sjoin_s,
            samples=len(samples),
            h3_s=f"{h3_s:.3f}",
            target_s=3,
            within_target=grid_s <= 3 and h3_s <= 3,
        )
    )

    # (b) street coverage
    segs = patrol.segments(clean.fixes)
    ours_s = best_of(lambda: patrol.street_coverage(demo.streets, segs), repeat=args.repeat)
    t0 = time.perf_counter()
    peer = patrol.street_coverage_buffer_union(demo.streets, segs)
    peer_s = time.perf_counter() - t0
    ours = patrol.street_coverage(demo.streets, segs)
    diff_pp = abs(ours.covered_share - peer.covered_share) * 100
    print(
        f"street coverage of {len(segs):,} segments over {len(demo.streets):,} streets: "
        f"sampled {ours.covered_share:.4f} in {ours_s:.3f} s, buffer-union "
        f"{peer.covered_share:.4f} in {peer_s:.2f} s ({diff_pp:.2f} points apart)"
    )
    print(
        result_line(
            "patrol_street_coverage",
            ours_s,
            "buffer+union_all",
            peer_s,
            segments=len(segs),
            share=f"{ours.covered_share:.4f}",
            peer_share=f"{peer.covered_share:.4f}",
            diff_pp=f"{diff_pp:.3f}",
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
