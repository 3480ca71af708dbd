"""The numbers of the home dashboard: filters, week against week, on-time closure, trends, grid
rates and the grid card. Pure functions on frames; no Streamlit, no database.

Two paths give the same numbers: the in-memory one on incident frames (the store's columns plus
``micro, l2, l1`` from ``grids.assign_points``), and the one the app uses at a district's
volume, on the store's incident cube (:func:`cube_summary`, :func:`cube_grid_counts`,
:func:`cube_card_categories`) plus a fortnight's rows for the on-time closure
(:func:`closure_window`). Times are naive local wall-clock times.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.core.geometry import areas_m2
from gis.grids import descendants
from gis.store.cube import Cube, CubeFilter
from gis.taxonomy import category_mask
from gis.views.aggregates import cube_filter, level_ancestors

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
    return week_table(this.value_counts(), last.value_counts())


def week_table(this_week: pd.Series, last_week: pd.Series) -> pd.DataFrame:
    """The table of :func:`week_by_category` from counts per category code of each week."""
    out = pd.DataFrame({"this_week": this_week, "last_week": last_week}).fillna(0).astype(int)
    out = out[(out["this_week"] > 0) | (out["last_week"] > 0)].sort_index()
    out["change"] = out["this_week"] - out["last_week"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["change_pct"] = np.where(
            out["last_week"] > 0, 100.0 * out["change"] / out["last_week"], np.nan
        )
    out.index.name = "category_code"
    # ties in code order, whichever path counted
    return out.sort_values(["this_week", "last_week"], ascending=False, kind="stable")


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
    return rates_from_counts(grids, incidents[LEVEL_COLUMN[level]].value_counts(), level)


def rates_from_counts(grids: gpd.GeoDataFrame, counts: pd.Series, level: str) -> gpd.GeoDataFrame:
    """:func:`grid_rates` from incidents per grid code (``counts``: a Series by code)."""
    if level not in LEVEL_COLUMN:
        raise ValueError(f"level must be one of {sorted(LEVEL_COLUMN)}")
    part = grids[grids["level"] == level].copy()
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
    incidents: pd.DataFrame | None = None,
    *,
    by_category: pd.Series | None = None,
) -> dict:
    """What a click on a grid shows: code, name, level, parent, staff, households, population,
    and incidents by category (of ``incidents``, already filtered; or ``by_category``, the
    grid's counts per category code, e.g. :func:`cube_card_categories`)."""
    row = grids.set_index("code").loc[code]
    if by_category is None:
        inside = descendants(code, grids)
        own = incidents[incidents["micro"].isin(inside) | incidents["l2"].isin(inside)]
        by_category = own["category_code"].value_counts()
    else:
        by_category = by_category[by_category > 0].sort_values(ascending=False, kind="stable")
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
        "incidents": int(by_category.sum()),
        "by_category": by_category,
    }


# --------------------------------------------------------------------------- from the cube
def closure_window(weeks: Weeks, taxonomy: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The ``reported_at`` range ``[lo, hi)`` holding every case that falls due this week: a
    case reported at r is due at r + its limit, so only r in ``[this_start - longest limit,
    end)`` can be due in ``[this_start, end)``. :func:`on_time_closure` of those rows (read by
    ``gis.store.incidents.select_incidents``) equals it on every incident."""
    limits = pd.to_numeric(taxonomy["time_limit_h"], errors="coerce")
    longest = float(limits.max()) if limits.notna().any() else 0.0
    return weeks.this_start - pd.Timedelta(hours=max(longest, 0.0)), weeks.end


def cube_summary(
    cube: Cube,
    start: pd.Timestamp,
    end: pd.Timestamp,
    categories: tuple[str, ...] = (),
    sources: tuple[str, ...] = (),
    grid_code: str | None = None,
    grids: pd.DataFrame | None = None,
) -> dict:
    """The home page's headline numbers from the cube (a ``grid`` family cube).

    Returns
    -------
    dict
        ``weeks`` (:func:`weeks_ending` of the period's last day), ``by_category`` (the table
        of :func:`week_by_category`), ``in_filter`` (incidents in the filters and period),
        ``daily`` (:func:`daily_counts` over the period) — each equal to the in-memory
        function on the filtered incidents.
    """
    weeks = weeks_ending(pd.Timestamp(end) - pd.Timedelta(seconds=1))
    scope = dict(categories=categories, sources=sources, grid_code=grid_code, grids=grids)
    this = cube.by_category(cube_filter(weeks.this_start, weeks.end, **scope))
    last = cube.by_category(cube_filter(weeks.last_start, weeks.this_start, **scope))
    period = cube_filter(start, end, **scope)
    days = pd.date_range(start.normalize(), end - pd.Timedelta(seconds=1), freq="D")
    daily = cube.daily(period).reindex(days, fill_value=0).rename("incidents")
    return {
        "weeks": weeks,
        "by_category": week_table(this, last),
        "in_filter": int(cube.n[cube.select(period)].sum()),
        "daily": daily,
    }


def cube_grid_counts(cube: Cube, flt: CubeFilter, grids: pd.DataFrame, level: str) -> pd.Series:
    """Incidents per grid code of ``level`` within ``flt`` (the counts of :func:`grid_rates`)."""
    if level not in LEVEL_COLUMN:
        raise ValueError(f"level must be one of {sorted(LEVEL_COLUMN)}")
    rows = cube.select(flt)
    ancestors = level_ancestors(grids, level)
    table = np.array([ancestors.get(m, "") for m in cube.micros], dtype=object)
    codes = table[cube.micro[rows]] if len(table) else np.array([], dtype=object)
    out = pd.Series(cube.n[rows].astype(np.int64)).groupby(codes).sum()
    return out.drop(index="", errors="ignore")


def cube_card_categories(cube: Cube, flt: CubeFilter, code: str, grids: pd.DataFrame) -> pd.Series:
    """A grid's incidents per category code within ``flt`` (for :func:`grid_card`)."""
    inside = set(descendants(code, grids))
    if flt.micros is not None:
        inside &= set(flt.micros)
    own = CubeFilter(flt.start, flt.end, flt.categories, flt.sources, tuple(sorted(inside)))
    return cube.by_category(own)
