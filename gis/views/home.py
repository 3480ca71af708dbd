"""The numbers of the home dashboard: filters, week against week, on-time closure, trends, grid
rates and the grid card. Pure functions on frames; no Streamlit, no database.

Incident frames carry the store's columns plus ``micro, l2, l1`` from ``grids.assign_points``.
Times are naive local wall-clock times.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.core.geometry import areas_m2
from gis.grids import descendants
from gis.taxonomy import category_mask

LEVEL_COLUMN = {"micro": "micro", "l2": "l2", "l1": "l1"}


def filter_incidents(
    incidents: pd.DataFrame,
    *,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    categories: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
    grid_code: str | None = None,
    grids: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Incidents with ``start <= occurred_at < end``, of the given categories
    (``gis.taxonomy.category_mask``: ``"05"`` is the whole major class) and sources, inside
    ``grid_code`` (a grid of any level; ``grids`` gives the hierarchy)."""
    keep = np.ones(len(incidents), dtype=bool)
    t = incidents["occurred_at"]
    if start is not None:
        keep &= (t >= start).to_numpy()
    if end is not None:
        keep &= (t < end).to_numpy()
    if categories:
        keep &= category_mask(incidents["category_code"], list(categories))
    if sources:
        keep &= incidents["source"].isin(list(sources)).to_numpy()
    if grid_code:
        if grids is None:
            raise ValueError("filtering by grid needs the grid hierarchy")
        inside = descendants(grid_code, grids)
        keep &= incidents["micro"].isin(inside).to_numpy() | incidents["l2"].isin(inside).to_numpy()
    return incidents[keep]


@dataclass(frozen=True)
class Weeks:
    """Two consecutive 7-day windows ending at ``end`` (exclusive): this week and last week."""

    this_start: pd.Timestamp
    end: pd.Timestamp

    @property
    def last_start(self) -> pd.Timestamp:
        return self.this_start - pd.Timedelta(days=7)


def weeks_ending(reference: pd.Timestamp) -> Weeks:
    """This week = the 7 days up to the end of ``reference``'s day; last week = the 7 before."""
    end = pd.Timestamp(reference).normalize() + pd.Timedelta(days=1)
    return Weeks(this_start=end - pd.Timedelta(days=7), end=end)


def week_by_category(incidents: pd.DataFrame, weeks: Weeks) -> pd.DataFrame:
    """New incidents per category this week and last week, with the change (count and %).

    Returns
    -------
    DataFrame indexed by ``category_code`` with ``this_week, last_week, change, change_pct``
    (``change_pct`` NaN where last week had none), largest this week first.
    """
    t = incidents["occurred_at"]
    this = incidents.loc[(t >= weeks.this_start) & (t < weeks.end), "category_code"]
    last = incidents.loc[(t >= weeks.last_start) & (t < weeks.this_start), "category_code"]
    out = (
        pd.DataFrame({"this_week": this.value_counts(), "last_week": last.value_counts()})
        .fillna(0)
        .astype(int)
    )
    out["change"] = out["this_week"] - out["last_week"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["change_pct"] = np.where(
            out["last_week"] > 0, 100.0 * out["change"] / out["last_week"], np.nan
        )
    out.index.name = "category_code"
    return out.sort_values(["this_week", "last_week"], ascending=False)


def on_time_closure(
    incidents: pd.DataFrame,
    taxonomy: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> dict[str, float | int]:
    """Closure on time (按期结案率) for cases that fell due in ``[start, end)``.

    A case is due at ``reported_at + time_limit_h`` of its class; it is on time when it was
    closed by then. Cases of unknown status or class are left out.

    Returns
    -------
    dict
        ``due`` (cases due in the window), ``closed_on_time``, ``share`` (NaN when none due).
    """
    limits = taxonomy.set_index("code")["time_limit_h"]
    frame = incidents[incidents["status"].notna() & incidents["category_code"].isin(limits.index)]
    due_at = frame["reported_at"] + pd.to_timedelta(
        frame["category_code"].map(limits).astype(float), unit="h"
    )
    in_window = (due_at >= start) & (due_at < end)
    closed_on_time = frame["closed_at"].notna() & (frame["closed_at"] <= due_at)
    due = int(in_window.sum())
    ok = int((in_window & closed_on_time).sum())
    return {"due": due, "closed_on_time": ok, "share": ok / due if due else float("nan")}


def daily_counts(incidents: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Incidents per day in ``[start, end)``, days without incidents included as 0."""
    days = pd.date_range(start.normalize(), end - pd.Timedelta(seconds=1), freq="D")
    counts = incidents["occurred_at"].dt.normalize().value_counts()
    return counts.reindex(days, fill_value=0).rename("incidents")


def grid_rates(grids: gpd.GeoDataFrame, incidents: pd.DataFrame, level: str) -> gpd.GeoDataFrame:
    """Incidents per grid of ``level`` (l1, l2 or micro), per km² and per 1,000 residents.

    Area is computed in the local metric CRS. ``per_1000`` is NaN where population is unknown
    or zero.
    """
    if level not in LEVEL_COLUMN:
        raise ValueError(f"level must be one of {sorted(LEVEL_COLUMN)}")
    part = grids[grids["level"] == level].copy()
    counts = incidents[LEVEL_COLUMN[level]].value_counts()
    part["incidents"] = part["code"].map(counts).fillna(0).astype(int)
    part["area_km2"] = areas_m2(part.geometry) / 1e6
    part["per_km2"] = part["incidents"] / part["area_km2"]
    pop = pd.to_numeric(part["population"], errors="coerce").astype(float)
    part["per_1000"] = np.where(pop > 0, 1000.0 * part["incidents"] / pop, np.nan)
    return part


def grid_card(
    code: str,
    grids: pd.DataFrame,
    staff: pd.DataFrame,
    incidents: pd.DataFrame,
) -> dict:
    """What a click on a grid shows: code, name, level, parent, staff, households, population,
    and incidents by category (of ``incidents``, already filtered)."""
    row = grids.set_index("code").loc[code]
    inside = descendants(code, grids)
    own = incidents[incidents["micro"].isin(inside) | incidents["l2"].isin(inside)]
    people = staff[staff["grid_code"] == code]
    return {
        "code": code,
        "name": row["name"],
        "level": row["level"],
        "parent_code": row["parent_code"],
        "households": row["households"],
        "population": row["population"],
        "businesses": row["businesses"],
        "staff": people[["name", "role", "phone"]].reset_index(drop=True),
        "incidents": int(len(own)),
        "by_category": own["category_code"].value_counts(),
    }
