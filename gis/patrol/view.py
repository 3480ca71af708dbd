"""The patrol view of one period: the track pipeline (clean, interpolate, segments) and the
coverage, risk, gaps and staff tables that ``gridlens gaps`` and the Patrol page show."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from gis import hotspots as hs
from gis.core.errors import InputError
from gis.core.geometry import district_outline
from gis.patrol.clean import CYCLE_MAX_SPEED_MPS, CleanResult, clean_fixes
from gis.patrol.clock import format_window, shift_window
from gis.patrol.coverage import coverage_table
from gis.patrol.gaps import GapReport, coverage_gaps
from gis.patrol.presence import presence
from gis.patrol.risk import unit_risk, unit_risk_from_counts
from gis.patrol.sampling import interpolate, segments
from gis.patrol.staff import staff_summary
from gis.taxonomy import category_mask
from gis.units import UnitSpec


@dataclass
class TrackData:
    """Cleaned fixes and what the coverage functions read: ``clean`` (``CleanResult``),
    ``samples`` (``interpolate``) and ``segs`` (``segments``)."""

    clean: CleanResult
    samples: gpd.GeoDataFrame
    segs: gpd.GeoDataFrame


def track_data(
    fixes: gpd.GeoDataFrame,
    *,
    district=None,
    max_speed_mps: float = CYCLE_MAX_SPEED_MPS,
    split_gap_s: float = 600.0,
    step_s: float = 15.0,
) -> TrackData:
    """``clean_fixes`` then ``interpolate`` (every ``step_s`` seconds) and ``segments``: the
    pipeline the CLI and the Patrol page run on fixes from the store or a file."""
    clean = clean_fixes(
        fixes, max_speed_mps=max_speed_mps, district=district, split_gap_s=split_gap_s
    )
    return TrackData(clean, interpolate(clean.fixes, step_s=step_s), segments(clean.fixes))


def default_period(fixes: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Whole days around the fixes: midnight before the first, midnight after the last."""
    if not len(fixes):
        raise InputError("no patrol fixes in the period")
    t = pd.to_datetime(fixes["t"])
    first, last = t.min().floor("D"), t.max().floor("D") + pd.Timedelta(days=1)
    return first, last


@dataclass
class PatrolView:
    """What the Patrol page and ``gridlens gaps`` show for one period, shift and kind of unit.

    ``coverage``: ``coverage_table``; ``risk``: ``unit_risk``; ``gaps``: ``coverage_gaps``
    (``staff_unpatrolled`` filled when staff were given); ``staff``: ``staff_summary`` (None
    without staff); ``period``: (start, end)."""

    units: str
    coverage: pd.DataFrame
    risk: pd.DataFrame
    gaps: GapReport
    staff: pd.DataFrame | None
    period: tuple[pd.Timestamp, pd.Timestamp]


def patrol_view(
    samples: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    incidents: pd.DataFrame,
    *,
    units: str = "grid:micro",
    streets: gpd.GeoDataFrame | None = None,
    segs: gpd.GeoDataFrame | None = None,
    staff: pd.DataFrame | None = None,
    start=None,
    end=None,
    shift=None,
    area=None,
    categories: str | Sequence[str] | None = None,
    counts: Callable[[gpd.GeoDataFrame, str], pd.DataFrame] | None = None,
) -> PatrolView:
    """Coverage, risk and ranked gaps for ``units`` (``grid:micro`` or ``h3:<res>``).

    ``incidents`` should already be those of the period: the risk is their density and Gi* bin
    per unit (``unit_risk``) on the same units. ``categories`` keeps the incidents of those
    categories by THE category rule (``gis.taxonomy.category_mask``: ``"05"`` is the major class,
    every ``05-xx``; ``"05-04"`` exactly; None keeps all). ``units`` is in the
    unit grammar (``gis.units.UnitSpec``). H3 units are the cells of ``area`` (default: the
    district, ``gis.core.geometry.district_outline``: the union of the level-1 grids). With
    ``staff`` (``staff_code, name, role, grid_code``), the micro-grids each member answers for
    and did not patrol, and ``staff_summary``.

    ``counts`` replaces ``incidents`` at a district's volume: a function of a units frame and
    its unit choice (``"grid:micro"``, ``"h3:10"``) giving the filtered incidents per unit and
    category (``unit_id, category_code, count``, e.g. from the store's incident cube); the risk
    is then ``unit_risk_from_counts``, equal to ``unit_risk`` on the incidents counted.
    """
    spec = UnitSpec.parse(units, allowed=("grid", "h3"))
    if categories and counts is None:
        if "category_code" not in incidents:
            raise InputError("choosing categories needs a category_code column in the incidents")
        incidents = incidents[category_mask(incidents["category_code"], categories)]
    if spec.kind == "grid" and spec.level != "micro":
        raise InputError(f"units must be grid:micro or h3:<res>, got {units!r}")
    kind = str(spec)
    if spec.kind == "grid":
        unit_arg = grids
        units_frame = hs.grid_units(grids, "micro")
        all_units = None
    else:
        unit_arg = kind
        if area is None:
            area = district_outline(grids)
        units_frame = hs.h3_units(area, spec.h3_resolution)
        all_units = units_frame["unit_id"].to_numpy()
    cov = coverage_table(
        samples,
        unit_arg,
        streets=streets,
        segs=segs,
        all_units=all_units,
        start=start,
        end=end,
        shift=shift,
    )
    period = cov.attrs["period"]

    def risk_of(frame: gpd.GeoDataFrame, by: str) -> pd.DataFrame:
        if counts is None:
            return unit_risk(incidents, frame)
        return unit_risk_from_counts(counts(frame, by), frame)

    risk = risk_of(units_frame, kind)
    report = coverage_gaps(cov, risk, grids=grids if kind == "grid:micro" else None, period=period)
    table = None
    if staff is not None:
        window = shift_window(shift)
        if window is not None:
            sp = presence(
                samples,
                grids,
                by=("unit", "staff", "shift"),
                shifts={k: format_window(v) for k, v in window.items()},
                start=period[0],
                end=period[1],
            ).drop(columns="shift")
        else:
            sp = presence(samples, grids, by=("unit", "staff"), start=period[0], end=period[1])
        if kind == "grid:micro":
            micro_rank = report.ranked
        else:
            micro_cov = coverage_table(samples, grids, start=period[0], end=period[1], shift=shift)
            micro_risk = risk_of(hs.grid_units(grids, "micro"), "grid:micro")
            micro_rank = coverage_gaps(micro_cov, micro_risk, period=period).ranked
        micro_risk_tbl = micro_rank[["unit_id", "risk", "gap_score"]]
        per_staff = coverage_gaps(
            sp, micro_risk_tbl.drop(columns="gap_score"), staff=staff, grids=grids, period=period
        )
        unpatrolled = per_staff.staff_unpatrolled
        if len(unpatrolled):  # scores of the unit ranking (all staff together), not per member
            score = dict(zip(micro_rank["unit_id"], micro_rank["gap_score"], strict=True))
            unpatrolled = unpatrolled.assign(gap_score=unpatrolled["unit_id"].map(score))
            unpatrolled = unpatrolled.sort_values(
                ["staff_code", "gap_score"], ascending=[True, False], na_position="last"
            ).reset_index(drop=True)
        report = GapReport(report.ranked, report.unvisited, unpatrolled)
        table = staff_summary(staff, sp, grids, unpatrolled)
    return PatrolView(kind, cov, risk, report, table, period)
