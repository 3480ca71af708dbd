"""Bulk load of incidents into the store, against the usual ways of doing it.

SpatiaLite: ``gis.store.save_frame`` (executemany + GeomFromWKB) against a SQLAlchemy Core
``insert()`` with GeoAlchemy2 WKT elements (the documented ORM-level path).
PostGIS (when ``GRIDLENS_BENCH_PG_URL`` or ``GRIDLENS_TEST_PG_URL`` is set): ``save_frame`` (COPY
with hex EWKB) against ``GeoDataFrame.to_postgis``.

    python benchmarks/bench_store_load.py [--rows 200000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from geoalchemy2 import WKTElement  # noqa: E402

from benchmarks._common import best_of, result_line  # noqa: E402
from gis import store  # noqa: E402
from gis.store.models import Incident  # noqa: E402


def incidents(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    t = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 365 * 86400, n), "s")
    return gpd.GeoDataFrame(
        {
            "external_id": [f"B{i:08d}" for i in range(n)],
            "category_code": rng.choice(["05-05", "05-04", "05-06", "01-07"], n),
            "source": rng.choice(["patrol", "hotline", "camera"], n),
            "status": "closed",
            "severity": "general",
            "occurred_at": t,
            "reported_at": t + pd.Timedelta(minutes=3),
            "department": "chengguan",
            "description": "占道经营",
        },
        geometry=shapely.points(112.9 + rng.random(n) * 0.05, 35.78 + rng.random(n) * 0.04),
        crs=4326,
    )


def _clear(engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM incidents"))


def core_insert(engine, frame: gpd.GeoDataFrame) -> None:
    """The peer: SQLAlchemy Core insert with GeoAlchemy2 WKT elements, one transaction."""
    records = pd.DataFrame(frame.drop(columns="geometry")).to_dict("records")
    for rec, geom in zip(records, shapely.to_wkt(frame.geometry.to_numpy()), strict=True):
        rec["geom"] = WKTElement(geom, srid=4326)
        for key in ("occurred_at", "reported_at"):
            rec[key] = rec[key].to_pydatetime()
    with engine.begin() as conn:
        conn.execute(sa.insert(Incident), records)


def measure(engine, frame, name: str, peer_name: str, peer_load, peer_repeat: int) -> str:
    """Time ``save_frame`` and the peer loading the same rows into a cleared table."""
    ours = best_of(lambda: store.save_frame(engine, "incidents", frame), 3, lambda: _clear(engine))
    assert store.count_rows(engine, "incidents") == len(frame)
    peer = best_of(lambda: peer_load(engine, frame), peer_repeat, lambda: _clear(engine))
    assert store.count_rows(engine, "incidents") == len(frame)
    _clear(engine)
    return result_line(
        name, ours, peer_name, peer, rows=len(frame), rows_per_s=int(len(frame) / ours)
    )


def to_postgis(engine, frame: gpd.GeoDataFrame) -> None:
    """The PostGIS peer: geopandas' own COPY-based writer."""
    frame.rename_geometry("geom").to_postgis("incidents", engine, if_exists="append", index=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    frame = incidents(args.rows)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        engine = store.open_store(str(Path(tmp) / "bench.db"))
        lines.append(
            measure(
                engine, frame, "store_load_spatialite", "sqlalchemy_core_insert", core_insert, 1
            )
        )
        engine.dispose()
    pg = os.environ.get("GRIDLENS_BENCH_PG_URL") or os.environ.get("GRIDLENS_TEST_PG_URL")
    if pg:
        engine = store.open_store(pg)
        lines.append(
            measure(engine, frame, "store_load_postgis", "geopandas_to_postgis", to_postgis, 3)
        )
        engine.dispose()
    else:
        print("(PostGIS case skipped: set GRIDLENS_BENCH_PG_URL)")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
