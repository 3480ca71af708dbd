"""The sections of a period report, each from the library function that owns the idea:
incident counts from the store's incident cube (``gis.store.cube``), the case metrics and the
red light from ``gis.cases``, emerging hot spots from ``gis.hotspots``, patrol gaps from
``gis.patrol``, plan verdicts from ``gis.planning``. Nothing here recomputes what those do.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from gis import hotspots as hs
from gis import patrol, store
from gis.cases import case_metrics, red_light
from gis.core.errors import GridLensError
from gis.core.geometry import district_outline
from gis.planning import evaluate_plan, list_plans
from gis.reports.periods import ReportPeriod, count_change
from gis.store.cube import Cube, CubeFilter
from gis.units import UnitSpec

#: the emerging hot spot window per report kind: (time step, number of steps ending with the period)
HOTSPOT_WINDOWS = {"daily": ("day", 28), "weekly": ("week", 12), "monthly": ("month", 12)}
#: the patterns a leader acts on
NEW_PATTERNS = ("New Hot Spot", "Intensifying Hot Spot")
MICRO = UnitSpec.parse("grid:micro")


def cube_total(cube: Cube, start, end) -> int:
    """Incidents in ``[start, end)`` (whole days) from the incident cube."""
    rows = cube.select(CubeFilter(start=pd.Timestamp(start).date(), end=pd.Timestamp(end).date()))
    return int(cube.n[rows].sum())


def category_changes(cube: Cube, period: ReportPeriod, top: int = 8) -> pd.DataFrame:
    """Incidents per category this period against the previous one (exact C test).

    Returns
    -------
    pandas.DataFrame
        ``category_code, count, previous, change_pct, p_value``, the ``top`` largest first.
    """
    prev = period.previous()
    now = cube.by_category(CubeFilter(start=period.start.date(), end=period.end.date()))
    before = cube.by_category(CubeFilter(start=prev.start.date(), end=prev.end.date()))
    codes = sorted(set(now.index) | set(before.index))
    rows = []
    for code in codes:
        k1, k0 = int(now.get(code, 0)), int(before.get(code, 0))
        ch = count_change(k1, period.days, k0, prev.days)
        rows.append((str(code), k1, k0, ch.pct, ch.p_value))
    out = pd.DataFrame(
        rows, columns=["category_code", "count", "previous", "change_pct", "p_value"]
    )
    out = out.sort_values(["count", "category_code"], ascending=[False, True], kind="stable")
    return out.head(top).reset_index(drop=True)


def trend_steps(cube: Cube, period: ReportPeriod) -> pd.DataFrame:
    """Incidents per time step over the hot spot window (``HOTSPOT_WINDOWS``), the period last.

    Returns
    -------
    pandas.DataFrame
        ``step_start, step_end, count``.
    """
    edges = hotspot_edges(period)
    counts = [cube_total(cube, a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return pd.DataFrame({"step_start": edges[:-1], "step_end": edges[1:], "count": counts})


def hotspot_edges(period: ReportPeriod) -> pd.DatetimeIndex:
    """The step boundaries of the emerging hot spot window ending with ``period``."""
    step, n = HOTSPOT_WINDOWS[period.kind]
    if step == "month":
        start = period.start - pd.DateOffset(months=n - 1)
    else:
        start = period.end - pd.Timedelta(days=n * (1 if step == "day" else 7))
    return hs.step_edges(start, period.end, step)


def micro_counts(cube: Cube, start, end, unit_ids: np.ndarray) -> np.ndarray:
    """Incidents per micro-grid of ``unit_ids`` in ``[start, end)`` (zeros included)."""
    flt = CubeFilter(start=pd.Timestamp(start).date(), end=pd.Timestamp(end).date())
    counts = cube.counts(flt, MICRO)
    return counts.reindex(unit_ids).fillna(0).to_numpy(np.int64)


def emerging(cube: Cube, units: gpd.GeoDataFrame, period: ReportPeriod) -> pd.DataFrame:
    """Emerging hot spot patterns per micro-grid over the window ending with the period.

    The space-time cube comes from the incident cube (counts per micro-grid and step), the
    analysis is ``gis.hotspots.emerging_hotspots`` on queen contiguity, as on the Hotspots page.

    Returns
    -------
    pandas.DataFrame
        ``emerging_hotspots``'s columns plus ``count`` (this period) and ``previous`` (the
        step before), one row per micro-grid.
    """
    edges = hotspot_edges(period)
    ids = units["unit_id"].to_numpy()
    step, _ = HOTSPOT_WINDOWS[period.kind]
    counts = np.stack(
        [micro_counts(cube, a, b, ids) for a, b in zip(edges[:-1], edges[1:], strict=True)],
        axis=1,
    )
    stc = hs.SpaceTimeCube(counts, edges, ids, step, units, n_points=int(counts.sum()))
    W, _ = hs.unit_weights(units, "queen")
    out = pd.DataFrame(hs.emerging_hotspots(stc, W)).drop(columns="geometry", errors="ignore")
    out = out.set_index("unit_id").reindex(ids).reset_index()
    out["count"] = counts[:, -1]
    out["previous"] = counts[:, -2]
    out.attrs["step"] = step
    out.attrs["window"] = (edges[0], edges[-1])
    return out


def new_hotspots(patterns: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """The new and intensifying hot spots, most incidents first.

    Returns
    -------
    pandas.DataFrame
        ``unit_id, name, pattern, count, previous, trend_z, trend_p``.
    """
    hot = patterns[patterns["pattern"].isin(NEW_PATTERNS)].copy()
    hot["name"] = hot["unit_id"].map(names).fillna("")
    hot = hot.sort_values(["count", "unit_id"], ascending=[False, True], kind="stable")
    cols = ["unit_id", "name", "pattern", "count", "previous", "trend_z", "trend_p"]
    return hot[cols].reset_index(drop=True)


def overdue(engine: Engine, period: ReportPeriod) -> pd.DataFrame:
    """The red-light list at the period's end (``gis.cases.red_light``)."""
    return red_light(engine, at=period.end)


def red_light_grids(lights: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """Overdue open cases per micro-grid (the red-light grids), most first.

    Returns
    -------
    pandas.DataFrame
        ``grid_code, name, overdue_open, max_overdue_hours, supervision_pending``.
    """
    cols = ["grid_code", "name", "overdue_open", "max_overdue_hours", "supervision_pending"]
    if lights.empty:
        return pd.DataFrame(columns=cols)
    g = lights.groupby("grid_code", dropna=True).agg(
        overdue_open=("case_code", "size"),
        max_overdue_hours=("overdue_hours", "max"),
        supervision_pending=("supervision_pending", "sum"),
    )
    g = g.reset_index()
    g["supervision_pending"] = g["supervision_pending"].astype(np.int64)
    g["name"] = g["grid_code"].map(names).fillna("")
    g = g.sort_values(["overdue_open", "grid_code"], ascending=[False, True], kind="stable")
    return g[cols].reset_index(drop=True)


def rankings(engine: Engine, period: ReportPeriod, by: str) -> pd.DataFrame:
    """The case metrics per ``by`` unit for the period, best score first (红黑榜); units with
    nothing due (no score) last."""
    m = case_metrics(engine, by, period.start, period.end)
    m = m[m["unit"].notna()]
    return m.sort_values(
        ["score", "unit"], ascending=[False, True], na_position="last", kind="stable"
    ).reset_index(drop=True)


def patrol_gaps(
    engine: Engine, grids: gpd.GeoDataFrame, period: ReportPeriod, top: int = 10
) -> pd.DataFrame | None:
    """The ranked patrol gaps of the period (``gis.patrol.patrol_view`` on micro-grids, as
    ``gridlens gaps`` and the Patrol page), or None when no patrol track falls in it."""
    fixes = store.read_fixes(engine, period.start, period.end)
    if fixes.empty:
        return None
    try:
        data = patrol.track_data(fixes, district=district_outline(grids))
    except GridLensError:
        return None
    if data.clean.fixes.empty:
        return None
    incidents = store.read_incidents(engine, period.start, period.end)
    staff = store.read_table(engine, "staff")
    staff = staff[staff["staff_code"].isin(set(data.clean.fixes["staff_code"]))]
    view = patrol.patrol_view(
        data.samples,
        grids,
        incidents,
        units="grid:micro",
        segs=data.segs,
        staff=staff,
        start=period.start,
        end=period.end,
    )
    return view.gaps.ranked.head(top).reset_index(drop=True)


def plans_under_way(engine: Engine, period: ReportPeriod) -> pd.DataFrame:
    """The rectification plans whose period overlaps the report's (not cancelled), with the
    verdict of those already over (``gis.planning.evaluate_plan`` as of the period's end).

    Returns
    -------
    pandas.DataFrame
        ``id, name, status, period_start, period_end, departments, verdict, verdict_zh,
        verdict_en, wdq, rate_ratio, p_value``.
    """
    cols = [
        "id",
        "name",
        "status",
        "period_start",
        "period_end",
        "departments",
        "verdict",
        "verdict_zh",
        "verdict_en",
        "wdq",
        "rate_ratio",
        "p_value",
    ]
    plans = list_plans(engine)
    if plans.empty:
        return pd.DataFrame(columns=cols)
    ps, pe = pd.to_datetime(plans["period_start"]), pd.to_datetime(plans["period_end"])
    keep = (ps < period.end) & (pe > period.start) & (plans["status"] != "cancelled")
    rows = []
    for plan in plans[keep].itertuples(index=False):
        row = {c: getattr(plan, c, None) for c in cols[:6]}
        row.update(verdict="pending", verdict_zh="整治期未结束", verdict_en="period not over")
        row.update(wdq=np.nan, rate_ratio=np.nan, p_value=np.nan)
        if pd.Timestamp(plan.period_end) <= period.end:
            d = evaluate_plan(engine, int(plan.id), as_of=period.end).to_dict()
            row.update({k: d[k] for k in cols[6:]})
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


__all__ = [
    "HOTSPOT_WINDOWS",
    "NEW_PATTERNS",
    "category_changes",
    "cube_total",
    "emerging",
    "hotspot_edges",
    "micro_counts",
    "new_hotspots",
    "overdue",
    "patrol_gaps",
    "plans_under_way",
    "rankings",
    "red_light_grids",
    "trend_steps",
]
