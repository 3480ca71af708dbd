"""Patrol presence per unit over a folder of fixes: the Dask engine equals the local engine,
and both equal ``gridlens coverage`` on one machine (gis.patrol)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from gis import patrol
from gis.core.errors import InputError
from gis.scale import (
    bucket_groups,
    coverage,
    max_gaps,
    merge_intervals,
    rebucket,
    scan_points,
    staff_bucket,
)

EXACT = ["unit_id", "visits", "first_visit", "last_visit", "time_since_last_visit_s"]


def single_process(fixes: pd.DataFrame, grids, by: str) -> tuple[pd.DataFrame, str]:
    """What ``gridlens coverage --tracks FILE`` computes, all fixes in one process."""
    frame = gpd.GeoDataFrame(
        fixes[["staff_code", "track_code", "t"]],
        geometry=gpd.points_from_xy(fixes["lon"], fixes["lat"]),
        crs=4326,
    )
    data = patrol.track_data(frame, district=grids[grids["level"] == "l1"])
    start, end = patrol.default_period(data.clean.fixes)
    units = grids if by == "grid:micro" else by
    return patrol.coverage_table(data.samples, units, start=start, end=end), data


@pytest.mark.parametrize("by", ["grid:micro", "h3:10"])
def test_local_equals_single_process(by, fixes, fix_folder, grids):
    expected, data = single_process(fixes, grids, by)
    got = coverage(fix_folder, by, grids=grids, buckets=4)
    assert got.partitions > 1
    table = got.table
    if by != "grid:micro":  # the single process lists only cells with presence
        table = table[table["unit_id"].isin(expected["unit_id"])].reset_index(drop=True)
    assert got.clean.summary_line() == data.clean.summary_line()
    pd.testing.assert_frame_equal(table[EXACT], expected[EXACT])
    assert np.allclose(table["dwell_s"], expected["dwell_s"], rtol=1e-12, atol=0)
    assert np.allclose(table["max_gap_s"], expected["max_gap_s"], rtol=0, atol=1e-3)
    assert got.period == expected.attrs["period"]


def test_dask_equals_local(fix_folder, grids, dask_client):
    local = coverage(fix_folder, "grid:micro", grids=grids, buckets=4)
    dask = coverage(
        fix_folder, "grid:micro", grids=grids, buckets=4, engine="dask", client=dask_client
    )
    pd.testing.assert_frame_equal(local.table, dask.table)
    assert local.clean.summary == dask.clean.summary
    assert local.period == dask.period


def test_buckets_keep_tracks_whole(fixes, fix_folder, tmp_path):
    """A staff member's fixes of every month land in one bucket; the layout is reused."""
    folder = rebucket(scan_points(fix_folder, "fixes"), tmp_path / "b", buckets=3)
    groups = bucket_groups(folder)
    assert groups is not None and 1 <= len(groups) <= 3
    seen = {}
    for i, files in enumerate(groups):
        for staff in folder.read_files(files)["staff_code"].unique():
            assert seen.setdefault(staff, i) == i
    assert sum(len(folder.read_files(f)) for f in groups) == len(fixes)
    assert set(staff_bucket(pd.Series(["S000", "S001"]), 3)) <= {0, 1, 2}
    # same answer from the bucketed folder as from the month folders
    a = coverage(folder, "h3:9", grids=None).table
    b = coverage(fix_folder, "h3:9", grids=None, buckets=2).table
    pd.testing.assert_frame_equal(a, b)


def test_period_and_errors(fix_folder, grids, fixes):
    start, end = pd.Timestamp("2025-02-01 22:00"), pd.Timestamp("2025-02-02 01:00")
    got = coverage(fix_folder, "grid:micro", grids=grids, start=start, end=end)
    assert got.period == (start, end)
    inside = fixes[(fixes["t"] >= start) & (fixes["t"] < end)]
    expected = patrol.coverage_table(
        patrol.track_data(
            gpd.GeoDataFrame(
                inside[["staff_code", "track_code", "t"]],
                geometry=gpd.points_from_xy(inside["lon"], inside["lat"]),
                crs=4326,
            ),
            district=grids[grids["level"] == "l1"],
        ).samples,
        grids,
        start=start,
        end=end,
    )
    pd.testing.assert_frame_equal(got.table[EXACT], expected[EXACT])
    with pytest.raises(InputError, match="shift"):
        coverage(fix_folder, "grid:micro", grids=grids, shift="day")
    with pytest.raises(InputError, match="grid:micro"):
        coverage(fix_folder, "grid:l1", grids=grids)


def test_intervals():
    merged = merge_intervals(
        np.array(["a", "a", "a", "b"], dtype=object),
        np.array([0, 5, 20, 3]),
        np.array([10, 12, 25, 4]),
        tolerance_ns=0,
    )
    assert merged.values.tolist() == [["a", 0, 12], ["a", 20, 25], ["b", 3, 4]]
    gaps = max_gaps(merged, 0, 40)
    assert gaps.to_dict() == {"a": 15e-9, "b": 36e-9}
