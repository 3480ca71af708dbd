"""The cases page's model (案件办理): the queue with its countdowns, a case's card and the steps
the signed-in account may take, and the place of a click on the map.

Pure functions of frames the page reads (``gis.store.casework``); no Streamlit, no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.auth import User
from gis.cases import (
    STATES,
    STEPS,
    WORKING_TYPES,
    CaseScope,
    allowed_steps,
    department_label,
    may_take,
    remaining_ns,
    suggest_route,
)
from gis.cases.clocks import limit_durations_ns
from gis.cases.states import OPEN_STATES
from gis.core.geometry import to_metric

#: the countdown's lights: overdue, less than ``AMBER_SHARE`` of the limit left, the rest;
#: ``paused`` for a suspended case, ``none`` without a deadline
LIGHTS = ("red", "amber", "green", "paused", "none")
LIGHT_RGB: dict[str, list[int]] = {
    "red": [215, 25, 28],
    "amber": [253, 174, 97],
    "green": [26, 150, 65],
    "paused": [120, 120, 120],
    "none": [171, 171, 171],
}
#: a case turns amber when less than this share of its time limit is left
AMBER_SHARE = 0.25
#: steps offered on the card in this order
CARD_ORDER = (
    "accept",
    "register",
    "dispatch",
    "handle",
    "verify",
    "close",
    "rework",
    "return",
    "request_extension",
    "extend",
    "suspend",
    "resume",
    "supervise",
    "reply",
    "refuse",
    "void",
    "evaluate",
)


@dataclass(frozen=True)
class QueueFilters:
    """What the queue shows (None or empty: everything)."""

    states: tuple[str, ...] = OPEN_STATES
    departments: tuple[str, ...] = ()
    grid_code: str | None = None
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    overdue_only: bool = False


def queue_arguments(scope: CaseScope, filters: QueueFilters, now: datetime) -> dict:
    """Keyword arguments of ``gis.store.casework.read_queue`` for a scope and the filters.

    The scope always wins: a handler's query is limited to its department (and the cases it
    assists), a grid worker's to its grids, whatever the filters say.
    """
    args: dict = {"states": list(filters.states) or None}
    if filters.categories:
        args["categories"] = list(filters.categories)
    if filters.sources:
        args["sources"] = list(filters.sources)
    if filters.departments:
        args["departments"] = list(filters.departments)
    if filters.grid_code:
        args["grid_codes"] = [filters.grid_code]
    if filters.overdue_only:
        args["deadline_before"] = now
    if not scope.everything:
        if scope.department is not None:
            wanted = args.get("departments")
            if wanted is not None and scope.department not in wanted:
                args["departments"] = []
            else:
                args["departments"] = [scope.department]
                args["co_department"] = scope.department
        else:
            mine = list(scope.grid_codes)
            args["grid_codes"] = (
                [filters.grid_code]
                if filters.grid_code in mine
                else []
                if filters.grid_code
                else mine
            )
    return args


def with_countdown(queue: pd.DataFrame, now: datetime, *, calendar=None) -> pd.DataFrame:
    """The queue with each case's remaining time and light.

    Adds ``remaining_h`` (hours left to the deadline at ``now``: working hours for a working
    limit, clock hours otherwise; negative once overdue; NaN without a deadline or while
    suspended), ``limit_h`` (the limit in the same hours), ``overdue`` and ``light``
    (``LIGHTS``).
    """
    out = queue.copy()
    n = len(out)
    if n == 0:
        for col, dtype in (("remaining_h", float), ("limit_h", float), ("overdue", bool)):
            out[col] = pd.Series(dtype=dtype)
        out["light"] = pd.Series(dtype=object)
        return out
    working = out["limit_type"].isin(WORKING_TYPES).to_numpy()
    has = out["deadline"].notna().to_numpy()
    deadlines = pd.to_datetime(out["deadline"]).to_numpy()
    left = np.full(n, np.nan)
    if has.any():
        ns = remaining_ns(
            deadlines[has], np.full(has.sum(), np.datetime64(pd.Timestamp(now))),
            working=working[has], calendar=calendar,
        )  # fmt: skip
        left[has] = ns / 3.6e12
    types = out["limit_type"].where(out["limit_type"].notna(), "work_hour").to_numpy()
    values = pd.to_numeric(out["limit_value"], errors="coerce").to_numpy(dtype=float)
    total = limit_durations_ns(values, types, calendar=calendar).astype(float)
    total[total < 0] = np.nan
    out["limit_h"] = total / 3.6e12
    paused = (out["state"] == "suspended").to_numpy()
    left[paused] = np.nan
    out["remaining_h"] = left
    out["overdue"] = np.nan_to_num(left, nan=1.0) < 0
    light = np.where(
        paused,
        "paused",
        np.where(
            np.isnan(left),
            "none",
            np.where(
                left < 0,
                "red",
                np.where(
                    left < AMBER_SHARE * np.nan_to_num(out["limit_h"], nan=0), "amber", "green"
                ),
            ),
        ),
    )
    out["light"] = light
    return out


def countdown_text(remaining_h: float, lang: str = "zh") -> str:
    """``剩余 3.5 小时`` / ``超时 2.0 小时`` (``3.5 h left`` / ``2.0 h overdue``); ``—`` for NaN."""
    if remaining_h is None or np.isnan(remaining_h):
        return "—"
    if remaining_h >= 0:
        return f"剩余 {remaining_h:.1f} 小时" if lang == "zh" else f"{remaining_h:.1f} h left"
    return f"超时 {-remaining_h:.1f} 小时" if lang == "zh" else f"{-remaining_h:.1f} h overdue"


def state_name(state: str, lang: str = "zh") -> str:
    """A state's name in the language (``派遣`` / ``dispatched``)."""
    zh, en = STATES.get(state, (state, state))
    return zh if lang == "zh" else en


def step_name(action: str, lang: str = "zh") -> str:
    """A step's name in the language (``受理`` / ``accept``)."""
    step = STEPS[action]
    return step.zh if lang == "zh" else step.en


def timeline(transitions: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """A case's steps for its card: when, step, who, department, reason or note, new state."""
    frame = transitions.sort_values("seq")
    words = []
    for reason, note in zip(frame["reason"], frame["note"], strict=True):
        parts = [str(x) for x in (reason, note) if isinstance(x, str) and x]
        words.append(" · ".join(parts))
    return pd.DataFrame(
        {
            "seq": frame["seq"].astype(int).to_numpy(),
            "at": pd.to_datetime(frame["at"]).to_numpy(),
            "step": [step_name(a, lang) for a in frame["action"]],
            "actor": frame["actor"].to_numpy(),
            "department": [
                department_label(d, lang) if isinstance(d, str) and d else ""
                for d in frame["department"]
            ],
            "state": [state_name(s, lang) for s in frame["to_state"]],
            "remark": words,
        }
    )


def pending_extension(transitions: pd.DataFrame) -> bool:
    """Whether the last 申请延期 has not been answered by a 延期 yet."""
    steps = transitions.sort_values("seq")["action"].tolist()
    if "request_extension" not in steps:
        return False
    last = len(steps) - 1 - steps[::-1].index("request_extension")
    return "extend" not in steps[last + 1 :]


def actions_for(user: User | None, case: dict, scope: CaseScope) -> list[str]:
    """The steps ``user`` may take on ``case`` now, in the card's order."""
    allowed = set(allowed_steps(case))
    return [a for a in CARD_ORDER if a in allowed and may_take(user, a, case, scope)]


def suggestion(case: dict, at: datetime, lang: str = "zh") -> tuple[str, str, list[str]]:
    """The suggested level-1 dispatch target of a case: (department code, reason in words,
    suggested assisting departments)."""
    route = suggest_route(case.get("category_code") or "99-99", at)
    reason = route.reason_zh if lang == "zh" else route.reason_en
    return route.department, reason, list(route.co_departments)


def click_place(
    lon: float, lat: float, grids: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None
) -> dict:
    """The grid and address of a point clicked on the map (EPSG:4326).

    Returns
    -------
    dict
        ``grid_code, grid_name`` of the smallest current grid holding the point (micro before
        level-2 before level-1; None outside), ``street`` the nearest named street within
        200 m (None without one) and ``address`` in words (``<street>附近``).
    """
    point = shapely.Point(lon, lat)
    order = {"micro": 0, "dedicated": 1, "l2": 2, "l1": 3}
    hit = grids[grids.geometry.contains(point)]
    grid_code = grid_name = None
    if len(hit):
        hit = hit.assign(o=hit["level"].map(order).fillna(9)).sort_values("o")
        grid_code, grid_name = str(hit["code"].iloc[0]), str(hit["name"].iloc[0])
    street = None
    if streets is not None and len(streets):
        named = streets[streets["name"].notna()]
        if len(named):
            metric, crs = to_metric(named)
            p = to_metric(gpd.GeoSeries([point], crs=4326), crs)[0].iloc[0]
            dist = metric.geometry.distance(p)
            if dist.min() <= 200:
                street = str(named["name"].iloc[int(np.argmin(dist.to_numpy()))])
    address = f"{street}附近" if street else (grid_name or f"{lat:.5f}, {lon:.5f}")
    return {"grid_code": grid_code, "grid_name": grid_name, "street": street, "address": address}


__all__ = [
    "AMBER_SHARE",
    "CARD_ORDER",
    "LIGHTS",
    "LIGHT_RGB",
    "QueueFilters",
    "actions_for",
    "click_place",
    "countdown_text",
    "pending_extension",
    "queue_arguments",
    "state_name",
    "step_name",
    "suggestion",
    "timeline",
    "with_countdown",
]
