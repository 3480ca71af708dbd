"""Time playback: all the frames of a year by week from the incident cube
(``gis.views.playback_frames``, counts and Gi* per frame) against the same frames computed
per period from the incidents (``count_from_index`` on a precomputed point index, then
``analyse``: what the page would do without the cube). Also one frame change (colours and
the deck.gl JSON of the frame) and the payloads.

Needs a database with the demo district or real data (``gridlens demo``):

    python benchmarks/bench_playback.py --db data/gridlens.db [--by h3:9] [--step week]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks._common import best_of, result_line  # noqa: E402
from gis import hotspots as hs  # noqa: E402
from gis import store, viz  # noqa: E402
from gis.store.cube import CubeFilter, load_cube  # noqa: E402
from gis.units import UnitSpec  # noqa: E402
from gis.views import hotspots as hv  # noqa: E402
from gis.views.playback import playback_frames  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default=None)
    parser.add_argument("--by", default="h3:9")
    parser.add_argument("--step", default="week", choices=["day", "week"])
    args = parser.parse_args()
    engine = store.open_store(args.db)
    grids = store.read_grids(engine)
    spec = UnitSpec.parse(args.by)
    cube = load_cube(engine, spec.kind)
    units = hv.make_units(args.by, grids)
    first, last = cube.day_range()
    start, end = first, last + timedelta(days=1)

    def ours():
        return playback_frames(
            cube, units, spec, CubeFilter(), start=start, end=end, step=args.step
        )

    ours_s = best_of(ours, repeat=3)
    pb = ours()
    inc = store.read_incidents(engine)
    index = hs.unit_index(np.column_stack([inc.geometry.x, inc.geometry.y]), units)
    t = inc["occurred_at"]

    def peer():
        for a, b in zip(pb.starts, pb.ends, strict=True):
            keep = ((t >= str(a)) & (t < str(b))).to_numpy()
            hv.analyse(hv.count_from_index(index, units, keep))

    peer_s = best_of(peer, repeat=1)
    t0 = time.perf_counter()
    colors = viz.class_colors(pb.gi_bins[pb.n_frames // 2], viz.GI_BIN_RGB)
    layer = viz.units_layer(
        units.assign(n=pb.counts[pb.n_frames // 2]), colors, ["unit_id", "n"], layer_id="pb"
    )
    frame_json = viz.deck([layer], viz.view_for(units.geometry)).to_json()
    frame_s = time.perf_counter() - t0
    print(
        result_line(
            "playback_frames",
            ours_s,
            "per_period_count_and_gistar",
            peer_s,
            incidents=len(inc),
            frames=pb.n_frames,
            units=len(units),
            frames_bytes=pb.nbytes(),
            frame_change_s=round(frame_s, 3),
            frame_json_bytes=len(frame_json),
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
