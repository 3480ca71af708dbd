"""The Patrol page's model (``gis.views.patrol``): the period within the track days, the tables
scoped to the chosen grid, and the headline numbers, on a walk through ``tiny_grids``."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis import patrol
from gis.grids import descendants
from gis.views import patrol as page_model

T0 = pd.Timestamp("2026-01-05 10:00:00")
END = T0.floor("D") + pd.Timedelta(days=1)
WEST = "140581001001000"  # the western community (level 1) of tiny_grids


@pytest.fixture
def walk_data(tiny_grids):
    """A walk along the southern row of tiny_grids (both communities), cleaned and sampled."""
    t = np.arange(0, 1801, 10)
    fixes = gpd.GeoDataFrame(
        {"staff_code": "A", "t": T0 + pd.to_timedelta(t, "s")},
        geometry=shapely.points(112.90105 + 1e-5 * t, np.full(len(t), 35.7925)),
        crs=4326,
    )
    return patrol.track_data(fixes, district=tiny_grids[tiny_grids["level"] == "l1"])


@pytest.fixture
def views(tiny_grids, walk_data):
    micro = tiny_grids[tiny_grids["level"] == "micro"]
    pts = shapely.point_on_surface(micro.geometry.to_numpy())
    incidents = gpd.GeoDataFrame(
        {"category_code": ["05-04"] * len(pts)}, geometry=list(pts), crs=4326
    )
    staff = pd.DataFrame(
        {
            "staff_code": ["A", "B"],
            "name": ["甲", "乙"],
            "role": ["grid_worker", "grid_worker"],
            "grid_code": [WEST, "140581001002000"],
        }
    )
    args = dict(segs=walk_data.segs, start=T0.floor("D"), end=END)
    micro_view = patrol.patrol_view(walk_data.samples, tiny_grids, incidents, staff=staff, **args)
    h3_view = patrol.patrol_view(walk_data.samples, tiny_grids, incidents, units="h3:11", **args)
    return micro_view, h3_view


def test_track_period_is_the_filter_within_the_track_days(walk_data):
    fixes = walk_data.clean.fixes
    period = page_model.track_period(fixes, T0 - pd.Timedelta(days=30), END + pd.Timedelta(days=5))
    assert (period.start, period.end) == (T0.floor("D"), END)
    assert (period.first, period.last) == patrol.default_period(fixes)
    assert not period.empty
    later = page_model.track_period(fixes, END + pd.Timedelta(days=1), END + pd.Timedelta(days=2))
    assert later.empty


def test_scope_to_grid_keeps_the_grid_and_below(tiny_grids, views):
    micro_view, h3_view = views
    everything = page_model.scope_to_grid(micro_view, micro_view, tiny_grids, None)
    assert everything.coverage is micro_view.coverage and everything.staff is micro_view.staff
    inside = descendants(WEST, tiny_grids)
    west = page_model.scope_to_grid(micro_view, micro_view, tiny_grids, WEST)
    assert set(west.coverage["unit_id"]) == inside & set(micro_view.coverage["unit_id"])
    assert len(west.coverage) == 4  # the community's four micro-grids
    assert set(west.ranked["unit_id"]) <= inside and len(west.ranked) == 4
    assert set(west.unvisited["unit_id"]) <= inside
    assert list(west.staff["staff_code"]) == ["A"]
    # H3 cells: those whose centre lies in the community
    cells = page_model.scope_to_grid(h3_view, micro_view, tiny_grids, WEST)
    area = tiny_grids.loc[tiny_grids["code"] == WEST].geometry.iloc[0]
    ids = h3_view.coverage["unit_id"]
    assert list(cells.coverage["unit_id"]) == list(ids[patrol.h3_cells_within(ids, area)])
    assert set(cells.ranked["unit_id"]) == set(cells.coverage["unit_id"])
    assert len(cells.micro_coverage) == 4


def test_headline_numbers(tiny_grids, walk_data, views):
    micro_view, _ = views
    fixes = walk_data.clean.fixes
    west = page_model.scope_to_grid(micro_view, micro_view, tiny_grids, WEST)
    head = page_model.headline(fixes, west.micro_coverage, start=T0.floor("D"), end=END)
    cov = west.micro_coverage
    assert head.fixes_used == len(fixes)
    assert head.dwell_s == pytest.approx(cov["dwell_s"].sum())
    assert head.dwell_h == pytest.approx(head.dwell_s / 3600)
    assert (head.visited, head.micro_grids, head.unvisited) == (2, 4, 2)  # the southern row
    assert head.covered_share is None  # no streets given
    # the night shift has no fix of a morning walk
    night = page_model.headline(
        fixes, west.micro_coverage, start=T0.floor("D"), end=END, shift="night"
    )
    assert night.fixes_used == 0
    streets = cov.assign(street_m=[100.0, 100.0, 0.0, 0.0], covered_m=[50.0, 25.0, 0.0, 0.0])
    assert page_model.headline(fixes, streets, start=T0, end=END).covered_share == 0.375


def test_staff_micro_grids(tiny_grids):
    mine = page_model.staff_micro_grids(tiny_grids, WEST)
    assert set(mine["code"]) == descendants(WEST, tiny_grids) & set(
        tiny_grids.loc[tiny_grids["level"] == "micro", "code"]
    )
    assert (mine["level"] == "micro").all() and len(mine) == 4
