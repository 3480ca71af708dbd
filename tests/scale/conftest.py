"""A small hand-made district (16 micro-grids in 4 level-2 grids in 2 level-1 grids), incidents
with points outside it, without a location and without a time, and GPS fixes of a few staff
members whose patrols cross midnight; written as partitioned GeoParquet folders."""

from __future__ import annotations

import importlib

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis import store
from gis.scale import client_for
from gis.store import read_frame, save_frame

LON0, LAT0 = 112.90, 35.80
CELL = 0.005  # degrees, about 450 m x 550 m


def _grids() -> gpd.GeoDataFrame:
    rows = []
    for i in range(4):
        for j in range(4):
            l2 = f"L2-{i // 2}{j // 2}"
            box = shapely.box(
                LON0 + i * CELL, LAT0 + j * CELL, LON0 + (i + 1) * CELL, LAT0 + (j + 1) * CELL
            )
            rows.append((f"M-{i}{j}", "micro", l2, box))
    for a in range(2):
        for b in range(2):
            box = shapely.box(
                LON0 + 2 * a * CELL,
                LAT0 + 2 * b * CELL,
                LON0 + 2 * (a + 1) * CELL,
                LAT0 + 2 * (b + 1) * CELL,
            )
            rows.append((f"L2-{a}{b}", "l2", f"L1-{a}", box))
    for a in range(2):
        box = shapely.box(LON0 + 2 * a * CELL, LAT0, LON0 + 2 * (a + 1) * CELL, LAT0 + 4 * CELL)
        rows.append((f"L1-{a}", "l1", None, box))
    frame = pd.DataFrame(rows, columns=["code", "level", "parent_code", "geometry"])
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=4326)


@pytest.fixture(scope="session")
def grids() -> gpd.GeoDataFrame:
    return _grids()


def make_incidents(n: int, seed: int = 1) -> pd.DataFrame:
    """Incidents over 40 days: 3 % outside the district, 1 % without a location, 1 % without a
    time."""
    rng = np.random.default_rng(seed)
    lon = LON0 + rng.uniform(-0.1, 4.1, n) * CELL
    lat = LAT0 + rng.uniform(-0.1, 4.1, n) * CELL
    lon[rng.random(n) < 0.01] = np.nan
    t = pd.Timestamp("2025-01-20") + pd.to_timedelta(rng.uniform(0, 40 * 86400, n), unit="s")
    t = t.floor("s").to_series().reset_index(drop=True)
    t[rng.random(n) < 0.01] = pd.NaT
    cats = np.array(["05-01", "05-05", "06-01", "07-02"])
    return pd.DataFrame(
        {
            "external_id": [f"X{i:06d}" for i in range(n)],
            "category_code": cats[rng.integers(0, len(cats), n)],
            "source": np.where(rng.random(n) < 0.5, "hotline", "patrol"),
            "occurred_at": t.astype("datetime64[ns]"),
            "lon": lon,
            "lat": lat,
        }
    )


def make_fixes(staff: int = 5, days: int = 2, seed: int = 2) -> pd.DataFrame:
    """Random walks at walking speed, a fix every 20 s, evening shifts crossing midnight, a
    break of 20 minutes in each shift (a new track), some jitter outside the district."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(staff):
        for d in range(days):
            start = pd.Timestamp("2025-02-01 21:00") + pd.Timedelta(days=d, minutes=7 * s)
            n = 2 * 180  # two hours
            steps = rng.normal(0, 1.2e-4, (n, 2)).cumsum(axis=0)
            x = np.clip(LON0 + (0.5 + s % 4) * CELL + steps[:, 0], LON0 - CELL, LON0 + 5 * CELL)
            y = np.clip(LAT0 + (0.5 + s // 2) * CELL + steps[:, 1], LAT0 - CELL, LAT0 + 5 * CELL)
            dt = np.arange(n) * 20.0 + rng.uniform(0, 3, n).round(3)  # irregular clocks
            dt[n // 2 :] += 1200.0  # a 20-minute break: the track splits
            t = start + pd.to_timedelta(dt, unit="s")
            rows.append(
                pd.DataFrame(
                    {
                        "staff_code": f"S{s:03d}",
                        "track_code": f"T{d}-S{s:03d}",
                        "t": t,
                        "lon": x,
                        "lat": y,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def write_month_folders(frame: pd.DataFrame, folder, time_column: str, rows: int = 4000):
    """``frame`` as plain Parquet (lon/lat columns) in ``month=YYYY-MM`` folders, several part
    files each."""
    month = frame[time_column].dt.strftime("%Y-%m").fillna("none")
    for m, part in frame.groupby(month):
        out = folder / f"month={m}"
        out.mkdir(parents=True, exist_ok=True)
        for i in range(0, len(part), rows):
            part.iloc[i : i + rows].to_parquet(out / f"part-{i // rows}.parquet", index=False)
    return folder


@pytest.fixture(scope="session")
def incidents() -> pd.DataFrame:
    return make_incidents(8_000)


@pytest.fixture(scope="session")
def incident_folder(tmp_path_factory, incidents):
    return write_month_folders(
        incidents, tmp_path_factory.mktemp("incidents"), "occurred_at", rows=1500
    )


@pytest.fixture(scope="session")
def fixes() -> pd.DataFrame:
    return make_fixes()


@pytest.fixture(scope="session")
def fix_folder(tmp_path_factory, fixes):
    return write_month_folders(fixes, tmp_path_factory.mktemp("fixes"), "t", rows=800)


@pytest.fixture(scope="session")
def dask_client():
    """A LocalCluster of 2 worker processes, 1 thread each, shared by the module's tests."""
    with client_for("dask", workers=2, memory_limit="1GB") as client:
        client.run(importlib.import_module, "gis.scale")  # workers import the kernels once
        yield client


def load_store(engine, grids: gpd.GeoDataFrame, incidents: pd.DataFrame, fixes: pd.DataFrame):
    """Write grids, incidents, tracks and fixes into an empty store (as the demo loader does)."""
    g = grids.copy()
    g["name"] = g["code"]
    g["version"] = 1
    g["valid_from"] = pd.Timestamp("2024-01-01")
    g["valid_to"] = pd.NaT
    inc = gpd.GeoDataFrame(
        incidents.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(incidents["lon"], incidents["lat"]),
        crs=4326,
    )
    located = incidents["lon"].notna().to_numpy() & incidents["lat"].notna().to_numpy()
    inc = inc[located & inc["occurred_at"].notna().to_numpy()]
    tracks = (
        fixes.groupby("track_code")
        .agg(staff_code=("staff_code", "first"), started_at=("t", "min"), ended_at=("t", "max"))
        .reset_index()
    )
    with engine.begin() as conn:
        save_frame(conn, "grids", g)
        save_frame(conn, "incidents", inc)
        save_frame(conn, "patrol_tracks", tracks)
        ids = read_frame(conn, "patrol_tracks", columns=["id", "track_code"])
        fx = gpd.GeoDataFrame(
            fixes[["staff_code", "t"]].assign(
                track_id=fixes["track_code"]
                .map(dict(zip(ids.track_code, ids.id, strict=True)))
                .astype("int64")
            ),
            geometry=gpd.points_from_xy(fixes["lon"], fixes["lat"]),
            crs=4326,
        )
        save_frame(conn, "patrol_fixes", fx)
    return inc


@pytest.fixture(scope="session")
def stored(tmp_path_factory, grids):
    """A SpatiaLite store with the small district's grids, incidents and fixes."""
    path = tmp_path_factory.mktemp("store") / "city.db"
    engine = store.open_store(str(path))
    incidents = load_store(engine, grids, make_incidents(3000, seed=5), make_fixes(3, 2, seed=6))
    yield engine, incidents
    engine.dispose()
