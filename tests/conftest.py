"""Shared fixtures: engines on both backends, a small hand-made district, real-data paths.

PostGIS tests use ``GRIDLENS_TEST_PG_URL`` (``scripts/test`` sets it when a local server is
reachable). Without it they skip, unless ``GRIDLENS_REQUIRE_PG`` is set (CI), where they fail.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from gis import store

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"


def pytest_configure(config):
    os.environ.setdefault("GRIDLENS_ARTIFACTS", str(ROOT / "artifacts"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    """``../shared/data/real``; skips with a reason where a clone has no ``../shared``."""
    if not REAL.exists():
        pytest.skip(f"real data folder {REAL} not present (it sits beside the project in CI)")
    return REAL


def _pg_admin_url() -> str | None:
    return os.environ.get("GRIDLENS_TEST_PG_URL")


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A fresh PostGIS database for this test session (dropped afterwards)."""
    base = _pg_admin_url()
    required = bool(os.environ.get("GRIDLENS_REQUIRE_PG"))
    if not base:
        if required:
            pytest.fail("GRIDLENS_REQUIRE_PG is set but GRIDLENS_TEST_PG_URL is not")
        pytest.skip("no PostGIS server: set GRIDLENS_TEST_PG_URL (scripts/test does)")
    url = sa.engine.make_url(base)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg2")
    name = f"gl_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        if required:
            raise
        pytest.skip(f"PostGIS server not reachable: {exc.orig}")
    test_url = url.set(database=name).render_as_string(hide_password=False)
    yield test_url
    with admin.connect() as conn:
        conn.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(params=["spatialite", pytest.param("postgis", marks=pytest.mark.postgis)])
def engine(request, tmp_path):
    """An empty, migrated database on each backend."""
    if request.param == "spatialite":
        eng = store.open_store(str(tmp_path / "test.db"))
        yield eng
        eng.dispose()
    else:
        url = request.getfixturevalue("pg_url")
        eng = store.make_engine(url)
        store.migrate.downgrade(eng, "base") if store.migrate.current(eng) else None
        store.migrate.upgrade(eng)
        yield eng
        store.migrate.downgrade(eng, "base")
        eng.dispose()


def _square(x0: float, y0: float, size: float) -> shapely.Polygon:
    return shapely.box(x0, y0, x0 + size, y0 + size)


@pytest.fixture
def tiny_grids() -> gpd.GeoDataFrame:
    """Two communities, each two level-2 grids, each two micro-grids (a 0.02° square)."""
    rows = []
    x0, y0, s = 112.90, 35.79, 0.01
    for i in range(2):
        l1 = f"140581001{i + 1:03d}000"
        rows.append((l1, f"社区{i + 1}", "l1", None, _square(x0 + i * s, y0, s)))
        for j in range(2):
            l2 = l1[:12] + f"{j + 1}00"
            half = s / 2
            box2 = shapely.box(x0 + i * s, y0 + j * half, x0 + (i + 1) * s, y0 + (j + 1) * half)
            rows.append((l2, f"社区{i + 1}第{j + 1}网格", "l2", l1, box2))
            for k in range(2):
                mx = x0 + i * s + k * half
                micro = shapely.box(mx, y0 + j * half, mx + half, y0 + (j + 1) * half)
                rows.append((l2[:13] + f"{k + 1:02d}", f"微网格{i}{j}{k}", "micro", l2, micro))
    frame = pd.DataFrame(rows, columns=["code", "name", "level", "parent_code", "geometry"])
    frame["households"] = 400
    frame["population"] = 1000
    frame["businesses"] = 10
    frame.loc[frame["level"] == "l2", ["households", "population", "businesses"]] = [800, 2000, 20]
    frame.loc[frame["level"] == "l1", ["households", "population", "businesses"]] = [
        1600,
        4000,
        40,
    ]
    frame["geometry"] = [shapely.multipolygons([g]) for g in frame["geometry"]]
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=4326)


@pytest.fixture(scope="session")
def demo_small():
    """The demo district (seed 42) with one day of patrol tracks, generated once per session."""
    from gis.demo import generate_district

    return generate_district(seed=42, track_days=1)


@pytest.fixture(scope="session")
def demo_db(demo_small, tmp_path_factory) -> str:
    """A SpatiaLite file holding the demo district; its path is also put in ``GRIDLENS_DB``."""
    from gis.demo import load_demo

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    engine = store.open_store(str(path))
    store.init_db(engine)
    load_demo(engine, demo_small)
    from gis import auth

    auth.ensure_demo_users(engine)
    engine.dispose()
    os.environ["GRIDLENS_DB"] = str(path)
    return str(path)


@pytest.fixture
def page_db(demo_db, tmp_path, monkeypatch) -> str:
    """A copy of the demo database per test (pages write to it), in ``GRIDLENS_DB``; the app's
    Streamlit caches (engine, frames) are cleared before and after so each test starts on it."""
    import shutil

    import streamlit as st

    path = tmp_path / "page.db"
    shutil.copyfile(demo_db, path)
    monkeypatch.setenv("GRIDLENS_DB", str(path))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield str(path)
    st.cache_resource.clear()
    st.cache_data.clear()
