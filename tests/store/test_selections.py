"""The narrow incident selections the pages read besides the cube (one unit, one area, a
closure window) and the paged export, on both backends: each equals the same selection made
with pandas on every incident."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from gis.incidents import export_incident_pages, export_incidents
from gis.store import save_frame
from gis.store.incidents import select_incidents
from gis.store.pages import iter_export_pages
from gis.units import unit_keys

N = 600


def _frame(seed: int = 5) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    lon = 112.90 + rng.random(N) * 0.03
    lat = 35.79 + rng.random(N) * 0.02
    t0 = pd.Timestamp("2026-03-01")
    occurred = t0 + pd.to_timedelta(rng.integers(0, 40 * 86400, N), unit="s")
    reported = occurred + pd.to_timedelta(rng.integers(0, 3600, N), unit="s")
    closed = reported + pd.to_timedelta(rng.integers(0, 72 * 3600, N), unit="s")
    frame = pd.DataFrame(
        {
            "external_id": [f"e{i}" for i in range(N)],
            "category_code": rng.choice(["05-05", "05-04", "01-07"], N),
            "source": rng.choice(["patrol", "hotline", "camera"], N),
            "status": rng.choice(["closed", "handling", None], N),
            "occurred_at": occurred,
            "reported_at": reported,
            "closed_at": closed.where(rng.random(N) < 0.8),
            "address": rng.choice(["一路1号", "二路2号", None], N),
            "grid_code": rng.choice(["A", "B", "C", None], N),
        }
    )
    for c, v in unit_keys(lon, lat, 4547).items():
        frame[c] = v
    return gpd.GeoDataFrame(frame, geometry=shapely.points(lon, lat), crs=4326)


@pytest.fixture
def stored(engine):
    frame = _frame()
    with engine.begin() as conn:
        save_frame(conn, "incidents", frame)
    return engine, frame


def _ids(rows) -> list[str]:
    return sorted(rows["external_id"])


def test_period_sources_grids_and_closure_window(stored):
    engine, frame = stored
    cols = ("external_id", "category_code", "reported_at", "closed_at", "status")
    lo, hi = pd.Timestamp("2026-03-10 06:00"), pd.Timestamp("2026-03-20")
    got = select_incidents(
        engine, cols, start=lo, end=hi, time_column="reported_at",
        sources=("patrol", "camera"), micros=("A", "C"), not_null=("status",),
    )  # fmt: skip
    f = frame
    want = f[
        (f["reported_at"] >= lo) & (f["reported_at"] < hi) & f["source"].isin(["patrol", "camera"])
        & f["grid_code"].isin(["A", "C"]) & f["status"].notna()
    ]  # fmt: skip
    assert len(want) > 20 and _ids(got) == _ids(want)
    assert got["reported_at"].dtype == "datetime64[ns]"
    merged = got.merge(want[["external_id", "closed_at"]], on="external_id", suffixes=("", "_w"))
    never = pd.Timestamp(0)
    assert (merged["closed_at"].fillna(never) == merged["closed_at_w"].fillna(never)).all()
    # the incidents outside every grid come with outside_grids
    both = select_incidents(engine, ("external_id",), micros=("B",), outside_grids=True)
    assert _ids(both) == _ids(f[f["grid_code"].isin(["B"]) | f["grid_code"].isna()])
    assert select_incidents(engine, ("external_id",), micros=()).empty


@pytest.mark.parametrize("resolution", [8, 9, 10, 11])
def test_one_h3_cell_by_its_key(stored, resolution):
    engine, frame = stored
    keys = frame[f"h3_r{resolution}"].astype(np.int64)
    cell = int(keys.value_counts().index[0])
    got = select_incidents(
        engine, ("external_id", "h3_r11"), h3_cell=(resolution, cell), with_lonlat=True
    )
    want = frame[keys == cell]
    assert len(want) >= 1 and _ids(got) == _ids(want)
    lonlat = frame.set_index("external_id").loc[got["external_id"]]
    np.testing.assert_allclose(got["lon"], lonlat.geometry.x, atol=1e-9)
    assert {h3.get_resolution(h3.int_to_str(int(c))) for c in got["h3_r11"]} == {11}


def test_one_fishnet_cell_by_its_key_range(stored):
    engine, frame = stored
    x, y = pyproj.Transformer.from_crs(4326, 4547, always_xy=True).transform(
        frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()
    )
    ix, iy = np.floor(x / 200).astype(int), np.floor(y / 200).astype(int)
    a, b = pd.Series(list(zip(ix, iy, strict=True))).value_counts().index[0]
    got = select_incidents(
        engine, ("external_id",), fishnet_range=(a * 4, a * 4 + 3, b * 4, b * 4 + 3)
    )
    want = frame[(ix == a) & (iy == b)]
    assert len(want) >= 2 and _ids(got) == _ids(want)


@pytest.mark.parametrize("suffix", [".csv", ".gpkg"])
def test_export_page_by_page_equals_the_whole_export(stored, tmp_path, suffix):
    engine, frame = stored
    start, end = pd.Timestamp("2026-03-05"), pd.Timestamp("2026-04-01")
    pages = list(iter_export_pages(engine, start=start, end=end, chunk=97))
    assert len(pages) > 3 and max(len(p) for p in pages) <= 97
    rows = pd.concat(pages, ignore_index=True)
    want = frame[(frame["occurred_at"] >= start) & (frame["occurred_at"] < end)]
    assert _ids(rows) == _ids(want) and rows["id"].is_monotonic_increasing

    def geo(p):
        return gpd.GeoDataFrame(
            p.drop(columns=["id", "lon", "lat"]),
            geometry=gpd.points_from_xy(p["lon"], p["lat"]),
            crs=4326,
        )

    paged, n = export_incident_pages(
        (geo(p) for p in pages), tmp_path / f"paged{suffix}", crs="gcj02", lang="en"
    )
    whole = export_incidents(geo(rows), tmp_path / f"whole{suffix}", crs="gcj02", lang="en")
    assert n == len(rows)
    if suffix == ".csv":
        assert paged.read_bytes() == whole.read_bytes()
    else:
        a, b = gpd.read_file(paged), gpd.read_file(whole)
        pd.testing.assert_frame_equal(
            pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
        )
        assert a.geometry.geom_equals_exact(b.geometry, 1e-12).all()
    # nothing in the filters: an empty file, as the whole export writes
    empty, n0 = export_incident_pages(iter([]), tmp_path / f"empty{suffix}")
    assert n0 == 0 and empty.exists()
