"""Time playback: the Hotspots map (counts, Gi* bins) and its chart, period after period.

Frames come from the incident cube (:class:`gis.store.cube.Cube`, counts per unit per day), not
from the incidents: one pass groups the filtered cube rows by unit and day step, then a frame
is a cumulative sum or a sliding window over steps (numpy), and its Gi* bins use weights built
once for the units. At a district's real volume (1,000,000 incidents) the frames are computed
in well under a second and their data is ``n_frames x n_units`` small integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from gis import hotspots as hs
from gis.store.cube import Cube, CubeFilter
from gis.units import UnitSpec

#: days per step
STEP_DAYS = {"day": 1, "week": 7}


@dataclass
class Playback:
    """Frames of a playback over the same units.

    ``counts[k, i]`` is the number of incidents in unit ``i`` during frame ``k``'s period
    ``[starts[k], ends[k])``; ``gi_bins[k]`` the Gi* bins (-3..3, FDR) of that frame's counts;
    ``step_totals`` the incidents per step (the chart under the map).
    """

    unit_ids: np.ndarray
    starts: list[date]
    ends: list[date]  # exclusive
    counts: np.ndarray  # (frames, units) int32
    gi_bins: np.ndarray | None  # (frames, units) int8
    step_totals: pd.Series  # incidents per step, indexed by the step's first day

    @property
    def n_frames(self) -> int:
        return len(self.starts)

    def nbytes(self) -> int:
        """Bytes of the frames' data (counts and bins)."""
        return int(self.counts.nbytes + (0 if self.gi_bins is None else self.gi_bins.nbytes))


def playback_frames(
    cube: Cube,
    units: gpd.GeoDataFrame,
    spec: UnitSpec,
    flt: CubeFilter,
    *,
    start: date,
    end: date,
    step: Literal["day", "week"] = "week",
    mode: Literal["cumulative", "window"] = "window",
    window: int = 1,
    gi: bool = True,
    ancestors: dict[str, str] | None = None,
) -> Playback:
    """The frames of a playback from ``start`` to ``end`` (exclusive), step by step.

    Parameters
    ----------
    cube
        The loaded cube of the units' family (``grid`` / ``h3`` / ``fishnet``).
    units
        The analysis units (``unit_id``, geometry; :func:`gis.views.hotspots.make_units`);
        frames hold every unit, zero where nothing happened.
    spec
        The units' spec (``h3:9``, ``fishnet:200``, ``grid:micro`` ...).
    flt
        Categories, sources, micro-grids (its period is replaced by ``start``/``end``).
    step
        ``day`` or ``week``; the last step may be shorter when the period is not a multiple.
    mode
        ``cumulative`` (frame ``k``: from ``start`` to the end of step ``k``) or ``window``
        (the last ``window`` steps up to the end of step ``k``).
    gi
        Also compute each frame's Gi* bins (queen contiguity, as the page's default).
    ancestors
        Micro-grid -> ancestor code, for ``grid:l1`` / ``grid:l2`` units.
    """
    days = STEP_DAYS[step]
    n_steps = max(0, -(-(end - start).days // days))
    flt = CubeFilter(
        start=start,
        end=end,
        categories=flt.categories,
        sources=flt.sources,
        micros=flt.micros,
    )
    per = cube.counts_by_period(flt, spec, days, start, ancestors)
    ids = units["unit_id"].astype(str).to_numpy()
    pos = pd.Index(ids).get_indexer(per["unit_id"].astype(str))
    ok = (pos >= 0) & (per["step"].to_numpy() >= 0) & (per["step"].to_numpy() < n_steps)
    steps = np.zeros((n_steps, len(ids)), dtype=np.int64)
    np.add.at(steps, (per["step"].to_numpy()[ok], pos[ok]), per["count"].to_numpy()[ok])
    csum = np.cumsum(steps, axis=0)
    if mode == "cumulative":
        counts = csum
        first = [0] * n_steps
    else:
        w = max(1, int(window))
        before = np.vstack([np.zeros((w, len(ids)), dtype=np.int64), csum])[:n_steps]
        counts = csum - before
        first = [max(0, k - w + 1) for k in range(n_steps)]
    starts = [start + timedelta(days=days * f) for f in first]
    ends = [min(end, start + timedelta(days=days * (k + 1))) for k in range(n_steps)]
    bins = None
    if gi and n_steps and len(ids) > 1:
        W, _ = hs.unit_weights(units, "queen")
        bins = np.vstack([hs.gi_star(c.astype(float), W).bins.astype(np.int8) for c in counts])
    totals = pd.Series(
        steps.sum(axis=1),
        index=pd.to_datetime([start + timedelta(days=days * k) for k in range(n_steps)]),
    )
    return Playback(ids, starts, ends, counts.astype(np.int32), bins, totals)
