"""The ``plans`` table (joint rectification plans, 联合整治方案): insert, read, update.

Plain storage: checks of names, periods, statuses and permissions are ``gis.planning.plans``'s.
Geometries come and go in EPSG:4326; the area is stored as a MultiPolygon.
"""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gis.core.errors import InputError
from gis.core.settings import STORAGE_EPSG
from gis.store.frames import read_frame


def _multipolygon_wkb(geom: shapely.Geometry) -> bytes:
    if geom.geom_type == "Polygon":
        geom = shapely.MultiPolygon([geom])
    if geom.geom_type != "MultiPolygon":
        raise InputError(f"a plan's area is a polygon, got a {geom.geom_type}")
    return shapely.to_wkb(geom, include_srid=False)


def insert_plan(
    engine: Engine,
    *,
    name: str,
    period_start: datetime,
    period_end: datetime,
    departments: str | None,
    status: str,
    notes: str | None,
    created_by: str,
    created_at: datetime,
    area: shapely.Geometry,
) -> int:
    """Insert one plan row; returns its id (from ``RETURNING``).

    Parameters
    ----------
    departments
        Department codes, ";"-joined.
    area
        A Polygon or MultiPolygon in EPSG:4326 (stored as a MultiPolygon).
    """
    fn = "ST_GeomFromWKB" if engine.dialect.name == "postgresql" else "GeomFromWKB"
    sql = sa.text(
        "INSERT INTO plans (name, period_start, period_end, departments, status, notes, "
        "created_by, created_at, geom) VALUES (:name, :start, :end, :deps, :status, :notes, "
        f":by, :at, {fn}(:wkb, {STORAGE_EPSG})) RETURNING id"
    ).bindparams(
        sa.bindparam("start", type_=sa.DateTime),
        sa.bindparam("end", type_=sa.DateTime),
        sa.bindparam("at", type_=sa.DateTime),
        sa.bindparam("wkb", type_=sa.LargeBinary),
    )
    with engine.begin() as conn:
        new_id = conn.execute(
            sql,
            {
                "name": name,
                "start": period_start,
                "end": period_end,
                "deps": departments,
                "status": status,
                "notes": notes,
                "by": created_by,
                "at": created_at,
                "wkb": _multipolygon_wkb(area),
            },
        ).scalar_one()
    return int(new_id)


def read_plans(engine: Engine) -> gpd.GeoDataFrame:
    """All plans, oldest first: ``id, name, period_start, period_end, departments, status,
    notes, created_by, created_at, geometry`` (EPSG:4326)."""
    return read_frame(engine, "plans", order_by="id")


def read_plan(engine: Engine, plan_id: int) -> gpd.GeoDataFrame:
    """The plan of that id as a one-row frame (the columns of ``read_plans``), empty when none."""
    return read_frame(engine, "plans", where="id = :id", params={"id": int(plan_id)})


def update_plan(engine: Engine, plan_id: int, *, status: str, notes: str | None = None) -> bool:
    """Set a plan's status (and its notes when given); False when there is no such plan."""
    sets, params = ["status = :status"], {"status": status, "id": int(plan_id)}
    if notes is not None:
        sets.append("notes = :notes")
        params["notes"] = notes
    with engine.begin() as conn:
        done = conn.execute(
            sa.text(f"UPDATE plans SET {', '.join(sets)} WHERE id = :id"), params
        ).rowcount
    return bool(done)
