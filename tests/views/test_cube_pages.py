"""Page models read from the incident cube equal the in-memory path on the demo district.

The in-memory path is what the app did before: every incident read, located in the current
grids (``assign_points``) and filtered with ``gis.views.home.filter_incidents``; the cube path
is what the app does now (``gis.views.aggregates``, ``gis.views.home.cube_*`` and a narrow
``select_incidents`` for the on-time closure and one unit's incidents).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gis import store
from gis.grids import assign_points, descendants
from gis.store.cube import load_cube
from gis.store.incidents import select_incidents
from gis.taxonomy import category_mask
from gis.views import aggregates, home

FILTERS = [
    # (start, end, categories, sources, grid level to pick or None)
    ("2026-08-01", "2026-11-01", (), (), None),
    ("2026-05-10", "2026-06-20", ("05",), ("patrol", "hotline"), "l1"),
    ("2025-11-01", "2026-11-01", ("05-05", "01"), (), "l2"),
    ("2026-09-15", "2026-10-15", (), ("camera",), "micro"),
]


@pytest.fixture(scope="module")
def demo(demo_db):
    engine = store.open_store(demo_db)
    grids = store.read_grids(engine)
    frame = store.read_incidents(engine)
    assigned = assign_points(frame.geometry, grids)
    inc = pd.DataFrame(frame.drop(columns="geometry"))
    inc[["micro", "l2", "l1"]] = assigned
    inc["lon"], inc["lat"] = frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()
    yield {
        "engine": engine,
        "grids": grids,
        "incidents": inc,
        "taxonomy": store.read_table(engine, "taxonomy"),
        "staff": store.read_table(engine, "staff"),
        "cube": load_cube(engine, "grid"),
    }
    engine.dispose()


def _grid(grids, level):
    if level is None:
        return None
    codes = grids.loc[grids["level"] == level, "code"].sort_values()
    return codes.iloc[len(codes) // 3]


@pytest.mark.parametrize("case", FILTERS)
def test_home_numbers_from_the_cube_equal_the_in_memory_path(demo, case):
    start, end, cats, srcs, level = case
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    grids, inc, cube = demo["grids"], demo["incidents"], demo["cube"]
    grid_code = _grid(grids, level)
    # the in-memory path, as the page computed it before
    scoped = home.filter_incidents(
        inc, categories=cats, sources=srcs, grid_code=grid_code, grids=grids
    )
    in_period = home.filter_incidents(scoped, start=start, end=end)
    assert len(in_period) > 0
    weeks = home.weeks_ending(end - pd.Timedelta(seconds=1))
    # the cube path
    got = home.cube_summary(cube, start, end, cats, srcs, grid_code, grids)
    assert got["weeks"] == weeks
    pd.testing.assert_frame_equal(got["by_category"], home.week_by_category(scoped, weeks))
    assert got["in_filter"] == len(in_period)
    pd.testing.assert_series_equal(got["daily"], home.daily_counts(in_period, start, end))
    flt = aggregates.cube_filter(start, end, cats, srcs, grid_code, grids)
    for level_ in ("l1", "l2", "micro"):
        counts = home.cube_grid_counts(cube, flt, grids, level_)
        want = home.grid_rates(grids, in_period, level_)
        mine = home.rates_from_counts(grids, counts, level_)
        assert mine["incidents"].tolist() == want["incidents"].tolist()
        np.testing.assert_allclose(mine["per_km2"], want["per_km2"])
    card_code = grid_code or _grid(grids, "l2")
    want_card = home.grid_card(card_code, grids, demo["staff"], in_period)
    by_cat = home.cube_card_categories(cube, flt, card_code, grids)
    card = home.grid_card(card_code, grids, demo["staff"], by_category=by_cat)
    assert card["incidents"] == want_card["incidents"]
    pd.testing.assert_series_equal(
        card["by_category"].sort_index(), want_card["by_category"].sort_index(), check_names=False
    )
    # the on-time closure: a fortnight's rows from the store, not every incident
    lo, hi = home.closure_window(weeks, demo["taxonomy"])
    rows = select_incidents(
        demo["engine"],
        ("category_code", "status", "reported_at", "closed_at"),
        start=lo,
        end=hi,
        time_column="reported_at",
        sources=flt.sources,
        micros=flt.micros,
        not_null=("status",),
    )
    rows = rows[category_mask(rows["category_code"], list(cats))]
    assert len(rows) < len(scoped)
    want_closure = home.on_time_closure(scoped, demo["taxonomy"], weeks.this_start, weeks.end)
    got_closure = home.on_time_closure(rows, demo["taxonomy"], weeks.this_start, weeks.end)
    assert want_closure["due"] > 0
    assert got_closure == pytest.approx(want_closure, nan_ok=True)


def test_grid_filter_equals_the_hierarchy(demo):
    grids = demo["grids"]
    l1 = _grid(grids, "l1")
    flt = aggregates.cube_filter(None, None, grid_code=l1, grids=grids)
    assert set(flt.micros) == descendants(l1, grids)
    anc = aggregates.level_ancestors(grids, "l1")
    micro = grids[grids["level"] == "micro"]
    assert set(anc) == set(micro["code"])
    assert {m for m, a in anc.items() if a == l1} == set(flt.micros) & set(micro["code"])
