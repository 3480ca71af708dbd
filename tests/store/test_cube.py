"""The incident cube: counts per unit from the aggregate equal counts from the incidents, on
both backends; an import merges, a rebuild recomputes, and both give the same cube."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely

from gis import hotspots as hs
from gis import store
from gis.grids import assign_points
from gis.store import cube as C
from gis.store import save_frame
from gis.units import UnitSpec, coarser_fishnet, fishnet_cells, h3_cells, unit_keys


def _incidents(n: int, seed: int, start="2026-01-20", days=45) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    lon = 112.90 + rng.random(n) * 0.02
    lat = 35.79 + rng.random(n) * 0.01
    t0 = pd.Timestamp(start)
    frame = pd.DataFrame(
        {
            "external_id": [f"s{seed}-{i}" for i in range(n)],
            "category_code": rng.choice(["05-05", "05-04", "01-07"], n),
            "source": rng.choice(["patrol", "hotline", None], n),
            "occurred_at": t0 + pd.to_timedelta(rng.integers(0, days * 86400, n), unit="s"),
            "grid_code": rng.choice(["A", "B", "C", None], n),
        }
    )
    keys = unit_keys(lon, lat, 4547)
    for c, v in keys.items():
        frame[c] = v
    return gpd.GeoDataFrame(frame, geometry=shapely.points(lon, lat), crs=4326)


def _store(engine, frame):
    with engine.begin() as conn:
        save_frame(conn, "incidents", frame)
        return C.add_to_cube(conn, frame)


def _reference(frame, flt: C.CubeFilter, spec: UnitSpec) -> pd.Series:
    sel = frame
    if flt.start:
        sel = sel[sel["occurred_at"] >= pd.Timestamp(flt.start)]
    if flt.end:
        sel = sel[sel["occurred_at"] < pd.Timestamp(flt.end)]
    if flt.categories:
        sel = sel[sel["category_code"].str[:2].isin([c[:2] for c in flt.categories])]
    if flt.sources:
        sel = sel[sel["source"].isin(flt.sources)]
    if flt.micros is not None:
        sel = sel[sel["grid_code"].isin(flt.micros)]
    lon, lat = sel.geometry.x.to_numpy(), sel.geometry.y.to_numpy()
    if spec.kind == "h3":
        ids = [h3.int_to_str(int(c)) for c in h3_cells(lon, lat, spec.h3_resolution)]
    elif spec.kind == "fishnet":
        import pyproj

        x, y = pyproj.Transformer.from_crs(4326, 4547, always_xy=True).transform(lon, lat)
        ix, iy = coarser_fishnet(*fishnet_cells(x, y, 50.0), spec.cell_m)
        ids = [f"{spec.cell_m:g}m_{a}_{b}" for a, b in zip(ix, iy, strict=True)]
    else:
        ids = sel["grid_code"].fillna("").to_numpy()
    out = pd.Series(1, index=pd.Index(ids)).groupby(level=0).sum()
    return out.drop(index="", errors="ignore").sort_index()


FILTERS = [
    C.CubeFilter(),
    C.CubeFilter(start=dt.date(2026, 2, 1), end=dt.date(2026, 2, 15)),
    C.CubeFilter(categories=("05",), sources=("hotline",)),
    C.CubeFilter(start=dt.date(2026, 1, 25), categories=("01-07",), micros=("A", "B")),
]


@pytest.mark.parametrize("by", ["grid:micro", "h3:9", "h3:11", "fishnet:100", "fishnet:250"])
def test_cube_counts_equal_counts_from_incidents(engine, by):
    first, second = _incidents(400, 1), _incidents(300, 2, start="2026-02-10")
    _store(engine, first)
    months = _store(engine, second)  # merged into months that already have rows
    assert months == {"2026-02": 205, "2026-03": 95} or sum(months.values()) == 300
    both = pd.concat([first, second], ignore_index=True)
    spec = UnitSpec.parse(by)
    kind = spec.kind
    cube = C.load_cube(engine, kind)
    assert cube.total == len(both)
    for flt in FILTERS:
        got = cube.counts(flt, spec).sort_index()
        pd.testing.assert_series_equal(got, _reference(both, flt, spec), check_names=False)


def test_rebuild_equals_the_merged_cube_and_counts_days(engine):
    frame = _incidents(500, 3)
    _store(engine, frame)
    merged = {k: C.load_cube(engine, k) for k in C.CUBE_KINDS}
    with engine.begin() as conn:
        counted = C.rebuild_cube(conn)
    assert sum(counted.values()) == 500
    for kind, before in merged.items():
        after = C.load_cube(engine, kind)
        for a in ("day", "cat", "src", "micro", "n"):
            np.testing.assert_array_equal(getattr(before, a), getattr(after, a))
        assert after.version > before.version
    daily = C.load_cube(engine, "grid").daily(C.CubeFilter())
    ref = frame.groupby(frame["occurred_at"].dt.normalize()).size()
    assert daily.to_dict() == ref.to_dict()
    cats = C.load_cube(engine, "grid").by_category(C.CubeFilter())
    assert cats.to_dict() == frame["category_code"].value_counts().to_dict()


def test_a_failed_import_leaves_the_cube_as_it_was(engine):
    _store(engine, _incidents(100, 4))
    before = C.load_cube(engine, "h3")
    version = C.data_version(engine)
    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            frame = _incidents(50, 5)
            save_frame(conn, "incidents", frame)
            C.add_to_cube(conn, frame)
            raise RuntimeError("the import fails after writing")
    after = C.load_cube(engine, "h3")
    assert after.total == before.total == 100
    assert C.data_version(engine) == version


def test_counts_by_period_and_ancestors(engine):
    frame = _incidents(300, 6)
    _store(engine, frame)
    cube = C.load_cube(engine, "grid")
    weekly = cube.counts_by_period(
        C.CubeFilter(), UnitSpec.parse("grid:l1"), 7, dt.date(2026, 1, 19),
        ancestors={"A": "L1", "B": "L1", "C": "L2"},
    )  # fmt: skip
    assert weekly["count"].sum() == frame["grid_code"].notna().sum()
    assert set(weekly["unit_id"]) == {"L1", "L2"}
    week = ((frame["occurred_at"] - pd.Timestamp("2026-01-19")).dt.days // 7).rename("step")
    ref = frame.assign(step=week).dropna(subset=["grid_code"])
    ref = ref[ref["grid_code"] == "C"].groupby("step").size()
    got = weekly[weekly["unit_id"] == "L2"].set_index("step")["count"]
    assert got.to_dict() == ref.to_dict()


def test_demo_cube_equals_the_in_memory_counts(demo_db):
    """The demo as loaded: counts per micro-grid, H3 cell and fishnet cell from the cube equal
    the page's in-memory path (every incident assigned and counted in Python)."""
    engine = store.open_store(demo_db)
    grids = store.read_grids(engine)
    inc = store.read_incidents(engine)
    flt = C.CubeFilter(start=dt.date(2026, 3, 1), end=dt.date(2026, 6, 1), categories=("05",))
    sel = inc[
        (inc["occurred_at"] >= "2026-03-01")
        & (inc["occurred_at"] < "2026-06-01")
        & inc["category_code"].str.startswith("05-")
    ]
    micro = assign_points(sel.geometry, grids)["micro"].value_counts()
    got = C.load_cube(engine, "grid").counts(flt, UnitSpec.parse("grid:micro"))
    assert got.to_dict() == micro.drop(index="outside", errors="ignore").to_dict()
    area = hs.study_area(grids)
    for by, units in (
        ("h3:9", hs.h3_units(area, 9)),
        ("fishnet:200", hs.fishnet_units(area, 200.0)),
    ):
        spec = UnitSpec.parse(by)
        ref = hs.count_by_unit(sel.geometry, units).set_index("unit_id")["count"]
        ref = ref[ref > 0].sort_index()
        cube = C.load_cube(engine, spec.kind).counts(flt, spec).sort_index()
        pd.testing.assert_series_equal(cube, ref, check_names=False, check_dtype=False)
    engine.dispose()
