"""Counts per unit x period x category: the Dask engine equals the local engine and the single
process, every point is counted or reported outside."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest

from gis.core.errors import InputError
from gis.grids import assign_points
from gis.scale import aggregate, count_partition, period_keys, period_labels, scan_points
from gis.units import UnitSpec

UNITS = ["grid:micro", "h3:9", "fishnet:200"]


@pytest.mark.parametrize("by", UNITS)
def test_dask_equals_local(by, incident_folder, grids, dask_client):
    local = aggregate(incident_folder, by, "day", grids=grids)
    dask = aggregate(incident_folder, by, "day", grids=grids, engine="dask", client=dask_client)
    pd.testing.assert_frame_equal(local.counts, dask.counts)
    assert (local.counted, local.outside, local.total) == (dask.counted, dask.outside, dask.total)
    assert local.reasons == dask.reasons
    assert local.total == scan_points(incident_folder).rows
    assert local.counted + local.outside == local.total
    assert local.reasons["outside"] > 0 and local.reasons["no location"] > 0
    assert local.reasons["no time"] > 0


@pytest.mark.parametrize("by", UNITS)
def test_local_equals_one_partition(by, incidents, incident_folder, grids):
    """Partitioning never changes a count: the folder in batches equals all points at once."""
    from_folder = aggregate(incident_folder, by, "week", grids=grids, batch_rows=700)
    points = scan_points(incident_folder).read_files(scan_points(incident_folder).files)
    whole = aggregate(points, by, "week", grids=grids, batch_rows=10**9)
    pd.testing.assert_frame_equal(from_folder.counts, whole.counts)


def test_grid_counts_match_assign_points(incidents, grids):
    """grid:micro counts are THE grid index's assignment, outside points reported."""
    located = incidents.dropna(subset=["lon", "lat"])
    micro = assign_points((located["lon"].to_numpy(), located["lat"].to_numpy()), grids)["micro"]
    timed = located["occurred_at"].notna().to_numpy()
    expected = micro[(micro != "outside").to_numpy() & timed].value_counts().sort_index()
    points = scan_points_frame(incidents)
    result = aggregate(points, "grid:micro", "month", grids=grids)
    got = result.counts.groupby("unit_id")["count"].sum().sort_index()
    assert got.to_dict() == expected.to_dict()
    assert result.reasons["outside"] == int((micro == "outside").sum())


def scan_points_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lon": frame["lon"],
            "lat": frame["lat"],
            "t": frame["occurred_at"],
            "category_code": frame["category_code"].astype(object),
            "source": frame["source"].astype(object),
        }
    )


def test_h3_ids_are_cell_strings(incidents):
    points = scan_points_frame(incidents.dropna(subset=["lon", "occurred_at"]).head(50))
    partial = count_partition(points, UnitSpec.parse("h3:9"), "day")
    assert partial["count"].sum() == 50
    cell = h3.latlng_to_cell(points["lat"].iloc[0], points["lon"].iloc[0], 9)
    assert h3.str_to_int(cell) in set(partial["unit_key"])
    counts = aggregate(points, "h3:9", "day").counts
    assert cell in set(counts["unit_id"]) and counts["count"].sum() == 50


def test_periods():
    t = pd.to_datetime(["2025-01-01 08:00", "2025-01-05 23:59", "2025-01-06 00:00", None])
    t = t.to_numpy(dtype="datetime64[ns]")
    assert list(period_labels(period_keys(t, "day"), "day")) == [
        "2025-01-01",
        "2025-01-05",
        "2025-01-06",
        "",
    ]
    # weeks start on Monday: 2024-12-30 and 2025-01-06 are Mondays
    assert list(period_labels(period_keys(t, "week"), "week")) == [
        "2024-12-30",
        "2024-12-30",
        "2025-01-06",
        "",
    ]
    assert list(period_labels(period_keys(t, "month"), "month"))[:3] == ["2025-01"] * 3


def test_fishnet_cells_nest(incident_folder, grids):
    """fishnet:400 counts are fishnet:200 counts summed over 2 x 2 cells (one lattice)."""
    fine = aggregate(incident_folder, "fishnet:200", "month", grids=grids).counts
    coarse = aggregate(incident_folder, "fishnet:400", "month", grids=grids).counts
    ij = fine["unit_id"].str.extract(r"200m_(-?\d+)_(-?\d+)").astype(int)
    parent = "400m_" + (ij[0] // 2).astype(str) + "_" + (ij[1] // 2).astype(str)
    rolled = fine.assign(unit_id=parent).groupby(["unit_id", "period", "category_code"])
    rolled = rolled["count"].sum().reset_index()
    pd.testing.assert_frame_equal(rolled, coarse, check_dtype=False)


def test_errors(incident_folder, grids):
    with pytest.raises(InputError, match="needs grids"):
        aggregate(incident_folder, "grid:micro", "day")
    with pytest.raises(InputError, match="step"):
        aggregate(incident_folder, "h3:9", "hour", grids=grids)
    with pytest.raises(InputError):
        aggregate(incident_folder, "streets", "day", grids=grids)
    with pytest.raises(InputError, match="no such file"):
        aggregate(incident_folder / "nothing-here", "h3:9")


def test_geometry_column_only(tmp_path, incidents, grids):
    """A GeoParquet file without lon/lat columns is read through its geometry."""
    frame = incidents.dropna(subset=["lon", "lat"]).head(2000)
    geo = gpd.GeoDataFrame(
        frame.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
        crs=4326,
    ).to_crs(3857)  # a projected GeoParquet: read back to lon/lat
    geo.to_parquet(tmp_path / "points.parquet")
    got = aggregate(tmp_path, "grid:micro", "month", grids=grids)
    expected = aggregate(scan_points_frame(frame), "grid:micro", "month", grids=grids)
    pd.testing.assert_frame_equal(got.counts, expected.counts)
    assert np.isclose(got.total, 2000)
