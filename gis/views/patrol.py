"""The Patrol page's model: what the page shows, computed from the library's patrol view (no
Streamlit, no database).

The page asks ``gis.patrol.patrol_view`` for the chosen units and for micro-grids (the headline
numbers and the staff table are always over micro-grids), then this module narrows the period
to the days with tracks, scopes every table to the grid chosen in the sidebar, and computes the
headline numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from gis.grids import descendants
from gis.patrol import PatrolView, default_period, h3_cells_within, in_shift

__all__ = [
    "hotspot_gaps",
    "PatrolHeadline",
    "PatrolScope",
    "TrackPeriod",
    "headline",
    "scope_to_grid",
    "staff_micro_grids",
    "track_period",
]


@dataclass(frozen=True)
class TrackPeriod:
    """The page's period: the filter's ``[start, end)`` within the whole days that have tracks
    (``first`` to ``last``, ``gis.patrol.default_period``). ``empty`` when they do not meet."""

    start: pd.Timestamp
    end: pd.Timestamp
    first: pd.Timestamp
    last: pd.Timestamp

    @property
    def empty(self) -> bool:
        """No time of the filter's period has tracks."""
        return self.start >= self.end


def track_period(fixes: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> TrackPeriod:
    """The filter's period ``[start, end)`` narrowed to the days of the ``fixes``."""
    first, last = default_period(fixes)
    return TrackPeriod(max(start, first), min(end, last), first, last)


@dataclass
class PatrolScope:
    """The page's tables inside the chosen grid (the whole district without one).

    ``coverage`` and ``ranked`` are over the view's units (micro-grids, or the H3 cells whose
    centre lies in the grid); ``micro_coverage``, ``unvisited`` and ``staff`` over micro-grids
    (``staff``: the members whose grid is the chosen one or below it)."""

    coverage: pd.DataFrame
    ranked: pd.DataFrame
    micro_coverage: pd.DataFrame
    unvisited: pd.DataFrame
    staff: pd.DataFrame | None


def scope_to_grid(
    view: PatrolView,
    micro_view: PatrolView,
    grids: gpd.GeoDataFrame,
    grid_code: str | None = None,
) -> PatrolScope:
    """The tables of ``view`` (any units) and ``micro_view`` (``grid:micro`` with staff) inside
    ``grid_code`` (a grid of any level and its descendants, ``gis.grids.descendants``); all of
    them when ``grid_code`` is None or empty."""
    cov, ranked = view.coverage, view.gaps.ranked
    micro_cov, unvisited, people = (
        micro_view.coverage,
        micro_view.gaps.unvisited,
        micro_view.staff,
    )
    if grid_code:
        inside = descendants(grid_code, grids)
        if view.units == "grid:micro":
            cov, ranked = cov[cov["unit_id"].isin(inside)], ranked[ranked["unit_id"].isin(inside)]
        else:
            area = grids.loc[grids["code"] == grid_code].geometry.iloc[0]
            cov = cov[h3_cells_within(cov["unit_id"], area)]
            ranked = ranked[ranked["unit_id"].isin(set(cov["unit_id"]))]
        micro_cov = micro_cov[micro_cov["unit_id"].isin(inside)]
        unvisited = unvisited[unvisited["unit_id"].isin(inside)]
        if people is not None:
            people = people[people["grid_code"].isin(inside)]
    return PatrolScope(cov, ranked, micro_cov, unvisited, people)


@dataclass(frozen=True)
class PatrolHeadline:
    """The page's headline numbers (micro-grids of the scope).

    ``fixes_used``: cleaned fixes in the period and shift; ``dwell_s``: patrol time in the
    micro-grids; ``visited`` of ``micro_grids`` had a visit; ``covered_share``: street length
    passed within the GPS buffer over street length (None without streets)."""

    fixes_used: int
    dwell_s: float
    visited: int
    micro_grids: int
    covered_share: float | None

    @property
    def unvisited(self) -> int:
        """Micro-grids with no visit."""
        return self.micro_grids - self.visited

    @property
    def dwell_h(self) -> float:
        """Patrol time in hours."""
        return self.dwell_s / 3600


def headline(
    fixes: pd.DataFrame,
    micro_coverage: pd.DataFrame,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    shift=None,
) -> PatrolHeadline:
    """Headline numbers from the cleaned ``fixes`` (``CleanResult.fixes``) and the scope's
    ``micro_coverage`` (``coverage_table`` rows); ``shift`` as in ``gis.patrol.in_shift``."""
    t = fixes["t"]
    used = (t >= start) & (t < end) & in_shift(t, shift)
    street_m = micro_coverage["street_m"].sum()
    return PatrolHeadline(
        fixes_used=int(used.sum()),
        dwell_s=float(micro_coverage["dwell_s"].sum()),
        visited=int((micro_coverage["visits"] > 0).sum()),
        micro_grids=len(micro_coverage),
        covered_share=float(micro_coverage["covered_m"].sum() / street_m) if street_m > 0 else None,
    )


def staff_micro_grids(grids: gpd.GeoDataFrame, grid_code: str) -> gpd.GeoDataFrame:
    """The micro-grids a staff member answers for: ``grid_code`` and the micro-grids below it."""
    micro = grids[grids["level"] == "micro"]
    return micro[micro["code"].isin(descendants(grid_code, grids))]


def hotspot_gaps(
    ranked: pd.DataFrame, n: int = 20, *, min_bin: int = 1, max_presence: float = 0.5
) -> pd.DataFrame:
    """The gaps the map outlines over the hotspots: units that are Gi* hot spots (``gi_bin >=
    min_bin``, 90 % confidence by default) AND where patrol presence is low (``presence_score <
    max_presence``: under half the median dwell of the visited units), the ``n`` with the
    highest ``gap_score``.

    ``ranked`` is ``coverage_gaps(...).ranked`` (its order is the gap score, which ranks by the
    incident density's percentile and can put a dense unit that is no hot spot first; the map
    shows hotspot colours, so its outlines must lie on hot spots).
    """
    if "gi_bin" not in ranked.columns:
        return ranked.iloc[:0]
    bins = pd.to_numeric(ranked["gi_bin"], errors="coerce").fillna(0).to_numpy()
    low = pd.to_numeric(ranked["presence_score"], errors="coerce").fillna(0).to_numpy()
    keep = (bins >= min_bin) & (low < max_presence)
    return ranked[keep].sort_values("gap_score", ascending=False, kind="stable").head(n)
