"""The store on both backends: migrations, round trips, transactions, versions, taxonomy."""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from gis import store
from gis.core.errors import InputError, WriteError
from gis.store import migrate

T0 = datetime(2025, 1, 1)


def _current_tables(engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_migrations_up_and_down(engine):
    tables = {"grids", "grid_edits", "incidents", "staff", "taxonomy", "users", "plans"}
    assert migrate.current(engine) == migrate.head()
    assert tables <= _current_tables(engine)
    migrate.downgrade(engine, "base")
    assert migrate.current(engine) is None
    assert not (tables & _current_tables(engine))
    if engine.dialect.name == "sqlite":  # SpatiaLite's metadata must forget the geometry columns
        with engine.connect() as conn:
            left = conn.execute(sa.text("SELECT f_table_name FROM geometry_columns")).fetchall()
        assert left == []
        # ... and its own internal tables must survive a downgrade
        assert {"spatial_ref_sys", "geometry_columns"} <= _current_tables(engine)
    migrate.upgrade(engine)
    assert tables <= _current_tables(engine)


def test_init_db_loads_taxonomy_and_departments(engine):
    deps, classes = store.init_db(engine)
    assert deps >= 4 and classes >= 15
    tax = store.read_table(engine, "taxonomy").set_index("code")
    assert tax.loc["05-05", "name_zh"] == "机动车乱停放"
    assert tax.loc["05-05", "department"] == "jiaojing"
    assert tax.loc["01-07", "list_type"] == "service"
    # loading twice replaces, it does not duplicate
    store.init_db(engine)
    assert store.count_rows(engine, "taxonomy") == classes


def test_grid_round_trip_is_exact(engine, tiny_grids):
    frame = tiny_grids.assign(version=1, valid_from=T0, created_by="test")
    assert store.save_frame(engine, "grids", frame) == len(frame)
    back = store.read_grids(engine).set_index("code").loc[frame["code"]]
    assert list(back["level"]) == list(frame["level"])
    assert back["parent_code"].isna().sum() == 2
    assert shapely.equals_exact(back.geometry.to_numpy(), frame.geometry.to_numpy(), 0).all()
    assert back.crs.to_epsg() == 4326
    assert (back["households"].astype(int).to_numpy() == frame["households"].to_numpy()).all()


def test_incident_round_trip_keeps_times_and_nulls(engine):
    n = 500
    rng = np.random.default_rng(1)
    occurred = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 86400 * 30, n), "s")
    frame = gpd.GeoDataFrame(
        {
            "external_id": [f"E{i:05d}" for i in range(n)],
            "category_code": rng.choice(["05-05", "05-04"], n),
            "source": "patrol",
            "status": "closed",
            "severity": "general",
            "occurred_at": occurred,
            "reported_at": occurred + pd.Timedelta(minutes=5),
            "closed_at": pd.Series(occurred + pd.Timedelta(hours=1)).where(np.arange(n) % 3 > 0),
            "description": ["占道经营 \t tab\nnewline \\ backslash"] * n,
        },
        geometry=shapely.points(112.9 + rng.random(n) * 0.02, 35.79 + rng.random(n) * 0.02),
        crs=4326,
    )
    store.save_frame(engine, "incidents", frame)
    back = store.read_incidents(engine).set_index("external_id").loc[frame["external_id"]]
    assert (back["occurred_at"].to_numpy() == frame["occurred_at"].to_numpy()).all()
    assert back["closed_at"].isna().sum() == frame["closed_at"].isna().sum()
    assert back["description"].iloc[0] == frame["description"].iloc[0]
    assert shapely.equals_exact(back.geometry.to_numpy(), frame.geometry.to_numpy(), 0).all()
    sub = store.read_incidents(
        engine, start=datetime(2026, 1, 10), end=datetime(2026, 1, 20), categories=["05-05"]
    )
    expected = frame[
        (frame["occurred_at"] >= "2026-01-10")
        & (frame["occurred_at"] < "2026-01-20")
        & (frame["category_code"] == "05-05")
    ]
    assert len(sub) == len(expected) > 0
    counts = store.incident_counts(engine).set_index("key")["n"]
    assert counts.sum() == n


def test_failed_write_leaves_database_unchanged(engine, tiny_grids):
    frame = tiny_grids.assign(version=1, valid_from=T0)
    store.save_frame(engine, "grids", frame)
    before = store.count_rows(engine, "grids")
    clash = frame.copy()  # same (code, version): violates the unique constraint half-way
    fresh = frame.copy()
    fresh["code"] = fresh["code"].str[:-1] + "9"
    both = pd.concat([fresh, clash], ignore_index=True)
    with pytest.raises(WriteError, match="nothing written"):
        store.save_frame(engine, "grids", gpd.GeoDataFrame(both, crs=4326))
    assert store.count_rows(engine, "grids") == before


def test_wrong_geometry_type_and_crs_are_refused(engine, tiny_grids):
    pts = tiny_grids.assign(version=1, valid_from=T0)
    pts["geometry"] = pts.geometry.representative_point()
    with pytest.raises(InputError, match="expected MULTIPOLYGON"):
        store.save_frame(engine, "grids", pts)
    with pytest.raises(InputError, match="CRS"):
        store.save_frame(engine, "grids", tiny_grids.assign(version=1, valid_from=T0).to_crs(3857))
    with pytest.raises(InputError, match="unknown column"):
        store.save_frame(engine, "grids", tiny_grids.assign(colour="red"))
    assert store.count_rows(engine, "grids") == 0


def test_grid_versions_answer_what_was_in_force(engine, tiny_grids):
    v1 = tiny_grids.assign(version=1, valid_from=T0)
    store.save_frame(engine, "grids", v1)
    code = v1["code"].iloc[-1]
    change = datetime(2026, 3, 1)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE grids SET valid_to = :t WHERE code = :c AND version = 1"),
            {"t": change, "c": code},
        )
    v2 = v1[v1["code"] == code].assign(version=2, valid_from=change)
    v2["geometry"] = v2.geometry.scale(0.5, 0.5)
    store.save_frame(engine, "grids", v2)
    now = store.read_grids(engine).set_index("code")
    then = store.read_grids(engine, at=datetime(2026, 2, 1)).set_index("code")
    assert len(now) == len(then) == len(v1)
    assert int(now.loc[code, "version"]) == 2 and int(then.loc[code, "version"]) == 1
    assert now.loc[code, "geometry"].area < then.loc[code, "geometry"].area


@pytest.mark.parametrize(
    "table,frame",
    [
        (
            "streets",
            lambda: gpd.GeoDataFrame(
                {"name": ["凤凰路"], "highway": ["main"]},
                geometry=[shapely.LineString([(112.9, 35.8), (112.91, 35.8)])],
                crs=4326,
            ),
        ),
        (
            "places",
            lambda: gpd.GeoDataFrame(
                {"name": ["人民医院"], "kind": ["hospital"]},
                geometry=[shapely.Point(112.9, 35.8)],
                crs=4326,
            ),
        ),
        (
            "plans",
            lambda: gpd.GeoDataFrame(
                {
                    "name": ["联合整治"],
                    "period_start": [T0],
                    "period_end": [T0],
                    "status": ["draft"],
                    "departments": ["chengguan;jiaojing"],
                    "created_by": ["leader"],
                    "created_at": [T0],
                },
                geometry=[shapely.box(112.9, 35.8, 112.91, 35.81)],
                crs=4326,
            ),
        ),
    ],
)
def test_other_spatial_tables_round_trip(engine, table, frame):
    frame = frame()
    store.save_frame(engine, table, frame)
    back = store.read_frame(engine, table)
    assert len(back) == 1
    geom = back.geometry.iloc[0]
    expected = frame.geometry.iloc[0]
    if table == "plans":
        expected = shapely.multipolygons([expected])
    assert geom.equals_exact(expected, 0)
    assert back["name"].iloc[0] == frame["name"].iloc[0]


def test_meta_round_trip(engine):
    store.set_meta(engine, "demo_truth", {"hotspots": [{"name": "酒吧街", "radius_m": 150}]})
    assert store.get_meta(engine, "demo_truth")["hotspots"][0]["name"] == "酒吧街"
    assert store.get_meta(engine, "missing", "x") == "x"
