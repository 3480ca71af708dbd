"""Joint rectification plans: save, list, read and move through their statuses.

The checks (name, period, status, who may save) are here; the rows are written and read by
``gis.store.plans``. Leaders and admins may save and update plans (``gis.auth`` action
``save_plan``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import geopandas as gpd
import pandas as pd

from gis import auth
from gis.core.errors import InputError
from gis.core.geometry import as_area
from gis.store import plans as plan_rows
from gis.store.models import PLAN_STATUSES


def _user_name(user) -> str:
    auth.require(user, "save_plan")
    return user.username


def _join_codes(values) -> str | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = values.replace(",", ";").split(";")
    codes = [str(v).strip() for v in values if str(v).strip()]
    return ";".join(dict.fromkeys(codes)) or None


def _check_status(status: str) -> None:
    if status not in PLAN_STATUSES:
        raise InputError(f"status must be one of {', '.join(PLAN_STATUSES)}, got {status!r}")


def save_plan(
    engine,
    *,
    name: str,
    area,
    period_start,
    period_end,
    departments: Iterable[str] | str | None = None,
    status: str = "draft",
    notes: str | None = None,
    user,
    grids: pd.DataFrame | None = None,
) -> int:
    """Save a joint rectification plan; leaders and admins only.

    Parameters
    ----------
    engine
        The store (SpatiaLite or PostGIS).
    name
        The plan's name, e.g. "医院周边机动车乱停放专项整治".
    area
        See ``area_geometry`` (grid codes need ``grids``); stored as a MultiPolygon, EPSG:4326.
    period_start, period_end
        The operation's period (naive local times), end after start.
    departments
        Department codes (stored ";"-joined).
    status
        One of ``gis.store.models.PLAN_STATUSES``.
    user
        The signed-in ``gis.auth.User``; must be allowed ``save_plan``.

    Returns
    -------
    int
        The new plan's id.

    Raises
    ------
    gis.auth.PermissionDenied
        The user may not save plans.
    InputError
        Empty name or area, period end not after start, unknown status.
    """
    by = _user_name(user)
    name = (name or "").strip()
    if not name:
        raise InputError("a plan needs a name")
    _check_status(status)
    start, end = pd.Timestamp(period_start), pd.Timestamp(period_end)
    if not end > start:
        raise InputError(f"the plan ends ({end}) before it starts ({start})")
    geom = as_area(area, grids)
    return plan_rows.insert_plan(
        engine,
        name=name,
        period_start=start.to_pydatetime(),
        period_end=end.to_pydatetime(),
        departments=_join_codes(departments),
        status=status,
        notes=notes,
        created_by=by,
        created_at=datetime.now().replace(microsecond=0),
        area=geom,
    )


def list_plans(engine) -> gpd.GeoDataFrame:
    """All plans, oldest first: ``id, name, period_start, period_end, departments, status,
    notes, created_by, created_at, geometry`` (EPSG:4326)."""
    return plan_rows.read_plans(engine)


def get_plan(engine, plan_id: int) -> pd.Series:
    """One plan as a row (``geometry`` in EPSG:4326); ``InputError`` when there is none."""
    frame = plan_rows.read_plan(engine, plan_id)
    if frame.empty:
        raise InputError(f"no plan with id {plan_id}")
    return frame.iloc[0]


def update_plan_status(
    engine, plan_id: int, status: str, *, user, notes: str | None = None
) -> None:
    """Move a plan to another status (leaders and admins only); ``notes`` replaces the notes.

    Raises
    ------
    gis.auth.PermissionDenied, InputError
        Not allowed; unknown plan or status.
    """
    _user_name(user)
    _check_status(status)
    if not plan_rows.update_plan(engine, plan_id, status=status, notes=notes):
        raise InputError(f"no plan with id {plan_id}")
