"""What the store guarantees the pages, on SpatiaLite and on PostGIS.

- A failed incident import (failing after its rows and its cube merge are written, or at the
  commit itself) and a failed grid edit (failing at the commit, after every row is written)
  leave the incidents, their unit keys, the cube and the change counter as they were.
- The cube equals an independent in-memory count: pandas groupby over the stored incidents, with
  H3 cells computed by the h3 library and fishnet cells by pyproj from each point, not from the
  stored keys, on the demo district and on Boston's real 311 requests.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip

import h3
import numpy as np
import pandas as pd
import pyproj
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from gis import store
from gis.demo import load_demo
from gis.grids import edit, import_grids
from gis.incidents import import_incidents
from gis.incidents import intake as intake_module
from gis.store import cube as C
from gis.units import UnitSpec

# the tiny district of conftest: x 112.90-112.92, y 35.79-35.80
TEXTS = ["违停", "占道经营", "私搭乱建"]
SOURCES = ["网格员巡查", "12345热线"]


def _csv(path, n: int, seed: int, prefix: str) -> str:
    rng = np.random.default_rng(seed)
    t = pd.Timestamp("2026-02-10") + pd.to_timedelta(rng.integers(0, 70 * 86400, n), "s")
    pd.DataFrame(
        {
            "事件编号": [f"{prefix}{i:05d}" for i in range(n)],
            "事件类型": rng.choice(TEXTS, n),
            "上报时间": t.strftime("%Y-%m-%d %H:%M:%S"),
            "经度": np.round(112.9003 + rng.random(n) * 0.0194, 6),
            "纬度": np.round(35.7903 + rng.random(n) * 0.0094, 6),
            "来源": rng.choice(SOURCES, n),
        }
    ).to_csv(path, index=False)
    return str(path)


@pytest.fixture
def district(engine, tiny_grids, tmp_path):
    """The tiny district's grids and 400 incidents imported by the intake (keys and cube)."""
    store.init_db(engine)
    frame = tiny_grids.assign(version=1, valid_from=pd.Timestamp("2020-01-01"), created_by="t")
    store.save_frame(engine, "grids", frame)
    result = import_incidents(engine, _csv(tmp_path / "first.csv", 400, 1, "A"), imported_by="t")
    assert result.imported == 400
    return engine


def snapshot(engine) -> dict:
    """Everything a failed write must leave as it was."""
    with engine.connect() as conn:
        incidents = conn.execute(
            sa.text(
                "SELECT id, external_id, grid_code, grid_l2, grid_l1, h3_r8, h3_r9, h3_r10,"
                " h3_r11, fx50, fy50, duplicate_of FROM incidents ORDER BY id"
            )
        ).all()
        cube = [
            (k, m, bytes(p), r, n)
            for k, m, p, r, n in conn.execute(
                sa.text(
                    "SELECT kind, month, payload, n_rows, n_incidents FROM incident_cube"
                    " ORDER BY kind, month"
                )
            ).all()
        ]
        grids = conn.execute(
            sa.text("SELECT id, code, version, valid_to FROM grids ORDER BY id")
        ).all()
        batches = conn.execute(sa.text("SELECT COUNT(*) FROM import_batches")).scalar()
    return {
        "incidents": [tuple(r) for r in incidents],
        "cube": cube,
        "grids": [tuple(r) for r in grids],
        "batches": batches,
        "version": C.data_version(engine),
    }


@contextlib.contextmanager
def failing_commit(engine, seen: dict):
    """Every commit on ``engine`` fails (after recording what the transaction wrote)."""

    def boom(conn):
        seen["incidents"] = conn.execute(sa.text("SELECT COUNT(*) FROM incidents")).scalar()
        seen["grid_rows"] = conn.execute(sa.text("SELECT COUNT(*) FROM grids")).scalar()
        seen["version"] = C.data_version(conn)
        raise RuntimeError("injected: the commit fails")

    event.listen(engine, "commit", boom)
    try:
        yield
    finally:
        event.remove(engine, "commit", boom)


def test_a_failed_import_mid_write_leaves_incidents_and_cube(district, tmp_path, monkeypatch):
    before = snapshot(district)
    seen = {}
    real = intake_module.add_to_cube

    def merge_then_fail(conn, frame):
        added = real(conn, frame)  # the rows and the cube's months are written ...
        seen["added"] = sum(added.values())
        seen["incidents"] = conn.execute(sa.text("SELECT COUNT(*) FROM incidents")).scalar()
        raise RuntimeError("injected: the import fails after writing")  # ... then it fails

    monkeypatch.setattr(intake_module, "add_to_cube", merge_then_fail)
    with pytest.raises(RuntimeError, match="injected"):
        import_incidents(district, _csv(tmp_path / "second.csv", 300, 2, "B"), imported_by="t")
    assert seen == {"added": 300, "incidents": 700}  # the failure came after the writes
    assert snapshot(district) == before


def test_a_failed_import_at_commit_leaves_incidents_and_cube(district, tmp_path):
    before = snapshot(district)
    seen: dict = {}
    with failing_commit(district, seen), pytest.raises(RuntimeError, match="injected"):
        import_incidents(district, _csv(tmp_path / "second.csv", 300, 3, "B"), imported_by="t")
    assert seen["incidents"] == 700 and seen["version"] > before["version"]
    assert snapshot(district) == before
    # and the store still takes the same import afterwards, cube and all
    again = import_incidents(district, _csv(tmp_path / "second.csv", 300, 3, "B"))
    assert again.imported == 300
    assert C.load_cube(district, "grid").total == 700


def test_a_failed_grid_edit_leaves_incidents_and_cube(district):
    grids = store.read_grids(district)
    micros = sorted(grids.loc[grids["level"] == "micro", "code"])
    siblings = [c for c in micros if c[:13] == micros[0][:13]][:2]
    result = edit.merge(grids, siblings)  # the second's incidents would change micro-grid
    before = snapshot(district)
    moved = [r for r in before["incidents"] if r[2] == siblings[1]]
    assert moved, "the edit moves some incidents"
    seen: dict = {}
    with failing_commit(district, seen), pytest.raises(RuntimeError, match="injected"):
        edit.save_edit(district, result, user="admin", reason="merge (fails)")
    assert seen["grid_rows"] > len(before["grids"])  # the new versions were written ...
    assert snapshot(district) == before  # ... and rolled back with whatever else moved
    # the same edit then saves, and the cube still counts every incident
    edit.save_edit(district, result, user="admin", reason="merge")
    assert C.load_cube(district, "grid").total == 400


# ------------------------------------------------------------------------------ equality
def unit_ids(frame: pd.DataFrame, spec: UnitSpec, epsg: int) -> pd.Series:
    """Each incident's unit id by the h3 library or pyproj from its point (never the stored
    keys), or its stored grid; None where it has none."""
    if spec.kind == "grid":
        return frame["grid_code" if spec.level == "micro" else "grid_l1"].astype(object)
    ok = frame["lon"].notna().to_numpy()
    lon, lat = frame["lon"].to_numpy()[ok], frame["lat"].to_numpy()[ok]
    out = np.full(len(frame), None, dtype=object)
    if spec.kind == "h3":
        res = spec.h3_resolution
        out[ok] = [h3.latlng_to_cell(y, x, res) for x, y in zip(lon, lat, strict=True)]
    else:
        x, y = pyproj.Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
        ix = np.floor(x / spec.cell_m).astype(np.int64)
        iy = np.floor(y / spec.cell_m).astype(np.int64)
        out[ok] = [f"{spec.cell_m:g}m_{a}_{b}" for a, b in zip(ix, iy, strict=True)]
    return pd.Series(out, index=frame.index)


def in_filter(frame: pd.DataFrame, flt: C.CubeFilter) -> np.ndarray:
    """Rows of ``frame`` within ``flt``, by pandas."""
    keep = np.ones(len(frame), dtype=bool)
    if flt.start is not None:
        keep &= (frame["occurred_at"] >= pd.Timestamp(flt.start)).to_numpy()
    if flt.end is not None:
        keep &= (frame["occurred_at"] < pd.Timestamp(flt.end)).to_numpy()
    if flt.categories:
        majors = [c for c in flt.categories if len(c) == 2]
        codes = [c for c in flt.categories if len(c) > 2]
        cat = frame["category_code"]
        keep &= (cat.isin(codes) | cat.str[:2].isin(majors)).to_numpy()
    if flt.sources:
        keep &= frame["source"].isin(flt.sources).to_numpy()
    return keep


def stored(engine) -> pd.DataFrame:
    """The stored incidents' own columns and coordinates (no unit key)."""
    frame = store.read_frame(
        engine,
        "incidents",
        columns=["occurred_at", "category_code", "source", "grid_code", "grid_l1", "geom"],
    )
    located = ~frame.geometry.is_empty & frame.geometry.notna()
    frame["lon"] = np.where(located, frame.geometry.x, np.nan)
    frame["lat"] = np.where(located, frame.geometry.y, np.nan)
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"])
    return pd.DataFrame(frame.drop(columns="geometry"))


def ancestors(engine) -> dict[str, str]:
    """micro-grid (or the finest level stored as ``grid_code``) -> its level-1 grid."""
    grids = store.read_grids(engine)
    parent = dict(zip(grids["code"], grids["parent_code"], strict=True))
    level = dict(zip(grids["code"], grids["level"], strict=True))
    out = {}
    for code in grids["code"]:
        up = code
        while up is not None and level.get(up) != "l1":
            up = parent.get(up)
        if up is not None:
            out[code] = up
    return out


def assert_cube_equals_groupby(engine, filters, specs) -> int:
    """Every filter x unit spec, plus days and categories; returns the comparisons made."""
    frame = stored(engine)
    epsg = int(store.get_meta(engine, "fishnet_epsg"))
    up = ancestors(engine)
    cubes = {k: C.load_cube(engine, k) for k in C.CUBE_KINDS}
    assert cubes["grid"].total == len(frame)
    ids = {by: unit_ids(frame, UnitSpec.parse(by), epsg) for by in specs}
    made = 0
    for flt in filters:
        keep = in_filter(frame, flt)
        assert keep.any(), flt
        for by in specs:
            spec = UnitSpec.parse(by)
            got = cubes[spec.kind].counts(flt, spec, ancestors=up).sort_index()
            ref = ids[by][keep].dropna().value_counts()
            ref = ref[ref.index != ""].sort_index()
            pd.testing.assert_series_equal(
                got, ref, check_names=False, check_dtype=False, check_index_type=False
            )
            made += 1
        days = frame.loc[keep, "occurred_at"].dt.normalize().value_counts()
        assert cubes["grid"].daily(flt).to_dict() == days.to_dict()
        cats = frame.loc[keep, "category_code"].value_counts()
        assert cubes["grid"].by_category(flt).to_dict() == cats.to_dict()
        made += 2
    return made


DEMO_FILTERS = [
    C.CubeFilter(),
    C.CubeFilter(start=dt.date(2026, 3, 1), end=dt.date(2026, 6, 1), categories=("05",)),
    C.CubeFilter(start=dt.date(2026, 8, 10), categories=("05-05", "01-07"), sources=("hotline",)),
]
DEMO_SPECS = ["grid:micro", "grid:l1", "h3:8", "h3:10", "fishnet:200"]


@pytest.fixture(
    scope="module", params=["spatialite", pytest.param("postgis", marks=pytest.mark.postgis)]
)
def demo_engine(request, demo_db):
    """The demo district as ``gridlens demo`` loads it, on each backend."""
    if request.param == "spatialite":
        engine = store.open_store(demo_db)
        yield engine
        engine.dispose()
        return
    engine = store.make_engine(request.getfixturevalue("pg_url"))
    if store.migrate.current(engine):
        store.migrate.downgrade(engine, "base")
    store.init_db(engine)
    load_demo(engine, request.getfixturevalue("demo_small"))
    yield engine
    store.migrate.downgrade(engine, "base")
    engine.dispose()


def test_the_demo_cube_equals_a_pandas_count(demo_engine):
    sources = set(store.read_frame(demo_engine, "incidents", columns=["source"])["source"])
    assert "hotline" in sources  # the filter above selects something
    assert assert_cube_equals_groupby(demo_engine, DEMO_FILTERS, DEMO_SPECS) == 21


@pytest.fixture(
    scope="module", params=["spatialite", pytest.param("postgis", marks=pytest.mark.postgis)]
)
def boston(request, real_data, tmp_path_factory):
    """Boston's wards > precincts and its 29,556 abandoned-vehicle requests, imported."""
    tmp = tmp_path_factory.mktemp("boston")
    if request.param == "spatialite":
        engine = store.open_store(str(tmp / "boston.db"))
    else:
        engine = store.make_engine(request.getfixturevalue("pg_url"))
        if store.migrate.current(engine):
            store.migrate.downgrade(engine, "base")
    store.init_db(engine)
    folder = real_data / "boston"
    import_grids(engine, folder / "boston_wards.geojson", mapping={"code": "WARD"}, level="l1")
    import_grids(
        engine,
        folder / "boston_precincts.geojson",
        mapping={"code": "WARD_PRECINCT", "parent_code": "WARD"},
        level="l2",
        allow_errors=True,
    )
    plain = tmp / "abandoned.csv"
    plain.write_bytes(
        gzip.decompress((folder / "boston311_abandoned_vehicle_2008_2020.csv.gz").read_bytes())
    )
    result = import_incidents(
        engine,
        plain,
        columns={
            "external_id": "service_request_id",
            "occurred_at": "requested_datetime",
            "status": "status",
            "address": "address",
        },
        lon="long",
        lat="lat",
        tz="America/New_York",
    )
    assert result.imported > 29_000
    yield engine
    if request.param == "postgis":
        store.migrate.downgrade(engine, "base")
    engine.dispose()


def test_the_boston_cube_equals_a_pandas_count(boston):
    frame = stored(boston)
    years = frame["occurred_at"].dt.year
    assert years.min() <= 2009 and years.max() >= 2019  # twelve years of real requests
    assert frame["grid_code"].notna().mean() > 0.9  # in a precinct: the grid counts count
    filters = [
        C.CubeFilter(),
        C.CubeFilter(start=dt.date(2015, 1, 1), end=dt.date(2016, 7, 1)),
        C.CubeFilter(start=dt.date(2019, 12, 1)),
    ]
    specs = ["grid:micro", "grid:l1", "h3:11", "fishnet:100"]
    assert assert_cube_equals_groupby(boston, filters, specs) == 18
