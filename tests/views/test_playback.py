"""Time playback: a year of the demo district by week from the incident cube; every frame
equals the analysis of its own period run on the incidents themselves (points located again,
Gi* on the counts), in sliding-window and cumulative modes, with a category and grid filter."""

from __future__ import annotations

import time
from datetime import date

import numpy as np
import pytest

from gis import hotspots as hs
from gis import store
from gis.demo import DEMO_END, DEMO_START
from gis.grids import descendants
from gis.store.cube import CubeFilter, load_cube
from gis.units import UnitSpec
from gis.views import hotspots as hv
from gis.views.playback import playback_frames

START, END = DEMO_START.date(), DEMO_END.date()


@pytest.fixture(scope="module")
def data(demo_db):
    engine = store.open_store(demo_db)
    grids = store.read_grids(engine)
    inc = store.read_incidents(engine)
    cube = load_cube(engine, "h3")
    engine.dispose()
    units = hv.make_units("h3:9", grids)
    index = hs.unit_index(np.column_stack([inc.geometry.x, inc.geometry.y]), units)
    return grids, inc, cube, units, index


def reference(inc, units, index, start, end, mask=None):
    """Counts and Gi* bins of the period [start, end) from the incidents."""
    t = inc["occurred_at"]
    keep = (t >= str(start)) & (t < str(end))
    if mask is not None:
        keep &= mask
    counted = hv.count_from_index(index, units, keep.to_numpy())
    gi = hv.analyse(counted)
    return counted["count"].to_numpy(), gi["gi_bin"].to_numpy()


def test_a_year_by_week_sliding_window(data):
    grids, inc, cube, units, index = data
    t0 = time.perf_counter()
    pb = playback_frames(
        cube,
        units,
        UnitSpec.parse("h3:9"),
        CubeFilter(),
        start=START,
        end=END,
        step="week",
        mode="window",
    )
    elapsed = time.perf_counter() - t0
    assert pb.n_frames == 53  # 365 days: 52 weeks and one day
    assert (
        pb.starts[0] == START
        and pb.ends[-1] == END
        and pb.ends[-1] - pb.starts[-1] == END - pb.starts[-1]
    )
    assert pb.counts.sum() == len(inc) - int((index < 0).sum())  # every located incident once
    for k in (0, 17, 30, 52):
        counts, bins = reference(inc, units, index, pb.starts[k], pb.ends[k])
        np.testing.assert_array_equal(pb.counts[k], counts)
        np.testing.assert_array_equal(pb.gi_bins[k], bins)
    assert pb.step_totals.sum() == pb.counts.sum()
    assert pb.nbytes() < 5e6 and elapsed < 10


def test_cumulative_with_category_and_grid(data):
    grids, inc, cube, units, index = data
    l1 = grids[grids["level"] == "l1"].sort_values("code").iloc[3]["code"]
    inside = descendants(l1, grids)
    micros = tuple(grids.loc[grids["code"].isin(inside) & (grids["level"] == "micro"), "code"])
    flt = CubeFilter(categories=("05",), micros=micros)
    pb = playback_frames(
        cube,
        units,
        UnitSpec.parse("h3:9"),
        flt,
        start=date(2026, 1, 1),
        end=date(2026, 3, 1),
        step="day",
        mode="cumulative",
    )
    assert pb.n_frames == 59 and all(s == date(2026, 1, 1) for s in pb.starts)
    mask = inc["category_code"].str.startswith("05") & inc["grid_code"].isin(micros)
    for k in (0, 20, 58):
        counts, bins = reference(inc, units, index, pb.starts[k], pb.ends[k], mask)
        np.testing.assert_array_equal(pb.counts[k], counts)
        np.testing.assert_array_equal(pb.gi_bins[k], bins)
    assert np.all(np.diff(pb.counts.sum(axis=1)) >= 0)  # cumulative never falls
