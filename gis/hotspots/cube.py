"""The space-time cube: incident counts per unit and day / week / month step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.core.errors import InputError
from gis.hotspots.counts import unit_index
from gis.hotspots.inputs import naive_times

STEPS = ("day", "week", "month")


@dataclass(frozen=True)
class SpaceTimeCube:
    """Incident counts per analysis unit and time step (ArcGIS's space-time cube).

    Attributes
    ----------
    counts
        (n_units, n_steps) int64 counts; row i is ``unit_ids[i]``, column t the step
        ``[edges[t], edges[t + 1])``.
    edges
        n_steps + 1 step boundaries (``pandas.DatetimeIndex``, the incidents' wall-clock time).
    unit_ids
        (n_units,) unit ids, in the order of the units frame.
    step
        ``"day"``, ``"week"`` or ``"month"``.
    units
        The units frame the cube was built on (geometry, areas), or None.
    n_points, n_outside, n_out_of_period
        Points given, points in no unit, points with a unit but outside ``[edges[0],
        edges[-1])`` (or without a time).
    """

    counts: np.ndarray
    edges: pd.DatetimeIndex
    unit_ids: np.ndarray
    step: str
    units: gpd.GeoDataFrame | None = field(default=None, repr=False)
    n_points: int = 0
    n_outside: int = 0
    n_out_of_period: int = 0

    @property
    def n_units(self) -> int:
        return int(self.counts.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.counts.shape[1])

    @property
    def step_starts(self) -> pd.DatetimeIndex:
        return self.edges[:-1]

    def to_frame(self) -> pd.DataFrame:
        """Long format: one row per bin, ``unit_id, step_start, step_end, count``."""
        nu, nt = self.counts.shape
        return pd.DataFrame(
            {
                "unit_id": np.repeat(self.unit_ids, nt),
                "step_start": np.tile(self.edges[:-1].to_numpy(), nu),
                "step_end": np.tile(self.edges[1:].to_numpy(), nu),
                "count": self.counts.ravel(),
            }
        )


def step_edges(start, end, step: str) -> pd.DatetimeIndex:
    """Boundaries of whole time steps covering ``[start, end)``, aligned on ``end``.

    ``month``: calendar months from the month of ``start`` to the month that holds the
    instant before ``end`` (``end`` is rounded up to a month start). ``day`` and ``week``:
    steps of 1 or 7 days counted back from ``end`` (ArcGIS's default time-step alignment, so
    the final step -- the one the patterns hinge on -- is complete); a partial first step
    (when ``end - start`` is not a whole number of steps) is left out.
    """
    if step not in STEPS:
        raise InputError(f"step must be one of {', '.join(STEPS)}, got {step!r}")
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if not end > start:
        raise InputError(f"the period is empty: start {start} is not before end {end}")
    if step == "month":
        first = start.to_period("M").to_timestamp()
        last = (end - pd.Timedelta(1, "ns")).to_period("M").to_timestamp()
        return pd.date_range(first, last + pd.offsets.MonthBegin(1), freq="MS").as_unit("ns")
    delta = pd.Timedelta(days=1 if step == "day" else 7)
    k = int((end - start) // delta)
    if k < 1:
        raise InputError(f"the period {start} .. {end} is shorter than one {step}")
    return pd.DatetimeIndex([end - delta * i for i in range(k, -1, -1)]).as_unit("ns")


def space_time_cube(
    points,
    times,
    units: gpd.GeoDataFrame,
    *,
    step: Literal["day", "week", "month"] = "week",
    start=None,
    end=None,
) -> SpaceTimeCube:
    """Count incidents per unit and time step, zero bins included (a space-time cube).

    Parameters
    ----------
    points
        Incident points (GeoSeries/GeoDataFrame in EPSG:4326, or an (n, 2) lon/lat array).
    times
        One time per point (wall-clock, as stored; times with a zone or UTC offset are
        converted to the district's zone, ``naive_times``), e.g. ``incidents["occurred_at"]``.
    units
        From ``h3_units``, ``fishnet_units`` or ``grid_units``; points go to units as in
        ``count_by_unit`` (``unit_index``).
    step
        ``"day"``, ``"week"`` (7 days counted back from ``end``) or ``"month"`` (calendar).
    start, end
        The period ``[start, end)``; default from the first incident's day to the day after
        the last incident. See ``step_edges`` for the alignment of the steps.

    Returns
    -------
    SpaceTimeCube
    """
    t = naive_times(times)
    idx = unit_index(points, units)
    if len(t) != len(idx):
        raise InputError(f"{len(idx)} points but {len(t)} times")
    ok_t = ~t.isna()
    if start is None or end is None:
        if not ok_t.any():
            raise InputError("no incident times")
        tmin, tmax = t[ok_t].min(), t[ok_t].max()
        start = tmin.floor("D") if start is None else start
        end = tmax.floor("D") + pd.Timedelta(days=1) if end is None else end
    edges = step_edges(start, end, step)
    tv = t.to_numpy(dtype="datetime64[ns]")
    step_i = np.searchsorted(edges.to_numpy(), tv, side="right") - 1
    in_period = ok_t & (step_i >= 0) & (step_i < len(edges) - 1)
    keep = in_period & (idx >= 0)
    n_steps = len(edges) - 1
    flat = np.bincount(idx[keep] * n_steps + step_i[keep], minlength=len(units) * n_steps)
    return SpaceTimeCube(
        counts=flat.reshape(len(units), n_steps).astype(np.int64),
        edges=edges,
        unit_ids=units["unit_id"].to_numpy(),
        step=step,
        units=units,
        n_points=int(len(idx)),
        n_outside=int((idx < 0).sum()),
        n_out_of_period=int(((idx >= 0) & ~in_period).sum()),
    )
