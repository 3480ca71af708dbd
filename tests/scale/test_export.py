"""The store exported as partitioned GeoParquet and read back; a city's counts loaded into the
store's incident cube equal the aggregate."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from gis import store
from gis.core.errors import InputError
from gis.scale import (
    aggregate,
    bucket_groups,
    export_fixes_parquet,
    export_incidents_parquet,
    load_into_store,
    read_points_folder,
    scan_points,
)
from gis.store.cube import CubeFilter, load_cube
from gis.store.pages import iter_incident_pages
from gis.units import UnitSpec


def test_incidents_round_trip(stored, tmp_path):
    engine, incidents = stored
    result = export_incidents_parquet(engine, tmp_path / "inc", chunk=500, file_rows=400)
    assert result.rows == len(incidents)
    assert (
        set(result.months) == {"2025-01", "2025-02"} and sum(result.months.values()) == result.rows
    )
    assert all(p.parent.name.startswith("month=") for p in result.files)
    back = read_points_folder(tmp_path / "inc")
    got = back.sort_values(["t", "lon"]).reset_index(drop=True)
    want = incidents.sort_values(["occurred_at"]).reset_index(drop=True)
    assert np.allclose(np.sort(got["lon"]), np.sort(want.geometry.x))
    assert (np.sort(got["t"].to_numpy()) == np.sort(want["occurred_at"].to_numpy())).all()
    assert sorted(got["category_code"]) == sorted(want["category_code"])
    # GeoParquet: geopandas reads the files as lon/lat points
    geo = gpd.read_parquet(result.files[0])
    assert geo.crs.to_epsg() == 4326 or geo.crs.to_string() == "OGC:CRS84"
    assert np.allclose(geo.geometry.x, geo["lon"])
    with pytest.raises(InputError, match="not empty"):
        export_incidents_parquet(engine, tmp_path / "inc")


def test_pages_by_id(stored):
    engine, incidents = stored
    pages = list(iter_incident_pages(engine, chunk=1000))
    assert [len(p) for p in pages][:2] == [1000, 1000] and len(pages) == -(-len(incidents) // 1000)
    ids = pd.concat(pages)["id"]
    assert ids.is_monotonic_increasing and ids.is_unique and len(ids) == len(incidents)


def test_fixes_by_staff_bucket(stored, tmp_path, grids):
    engine, _ = stored
    result = export_fixes_parquet(engine, tmp_path / "fix", buckets=3)
    assert result.rows == store.count_rows(engine, "patrol_fixes")
    folder = scan_points(tmp_path / "fix", "fixes")
    groups = bucket_groups(folder)
    assert groups is not None
    staff = [set(folder.read_files(files)["staff_code"]) for files in groups]
    assert sum(len(s) for s in staff) == len(set().union(*staff))  # each staff in one bucket
    assert {"track_code", "staff_code", "t"} <= set(folder.columns)


def test_into_db_equals_aggregate(stored, tmp_path, grids, dask_client):
    engine, _ = stored
    export_incidents_parquet(engine, tmp_path / "inc", chunk=2000)
    city = store.open_store(str(tmp_path / "aggregates.db"))
    loaded = load_into_store(city, tmp_path / "inc", grids=grids, engine="dask", client=dask_client)
    epsg = int(store.get_meta(city, "fishnet_epsg"))
    for kind, by in (("grid", "grid:micro"), ("h3", "h3:9"), ("fishnet", "fishnet:200")):
        counts = aggregate(tmp_path / "inc", by, "day", grids=grids, epsg=epsg).counts
        cube = load_cube(city, kind)
        assert cube.total == loaded.counted == int(counts["count"].sum())
        from_cube = cube.counts(CubeFilter(), UnitSpec.parse(by))
        expected = counts.groupby("unit_id")["count"].sum()
        assert from_cube.sort_index().to_dict() == expected.sort_index().to_dict()
    assert sum(loaded.months.values()) == loaded.counted
    # the same folder again replaces, never doubles
    again = load_into_store(city, tmp_path / "inc", grids=grids)
    assert load_cube(city, "grid").total == again.counted == loaded.counted
    # a store holding raw incidents for those months refuses
    with pytest.raises(InputError, match="raw incidents"):
        load_into_store(engine, tmp_path / "inc", grids=grids)
    city.dispose()
