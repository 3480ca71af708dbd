"""Patrol dosage at hot spots (Koper 1995): 10-15 minute stops, revisits every 2 hours."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.core.errors import InputError
from gis.patrol.clock import DAY_NS, NS, time_bound, times_ns
from gis.patrol.presence import visit_table
from gis.patrol.sampling import as_samples
from gis.patrol.units import polygon_units


def dosage(
    samples: gpd.GeoDataFrame,
    hotspot_units,
    *,
    units=None,
    stop_min_s: float = 600.0,
    stop_max_s: float = 900.0,
    revisit_s: float = 7200.0,
    period: tuple | None = None,
    active_hours: Iterable[int] | Mapping[str, Iterable[int]] | None = None,
    visit_gap_s: float = 60.0,
) -> pd.DataFrame:
    """Patrol dosage at hot spots after Koper (1995): 10-15 minute stops, revisits every 2 hours.

    Definitions
    -----------
    - *stop*: a visit (see ``presence``) with ``dwell_s >= stop_min_s``. Stops between
      ``stop_min_s`` and ``stop_max_s`` (10-15 min) are Koper's optimum (``stops_optimal``);
      longer ones still count as stops (``stops_long``: diminishing returns).
    - A stop *covers* the time from its start until ``revisit_s`` after its end.
    - *hotspot-hours*: the whole clock hours of the period (``[h, h + 1 h)``, inside
      ``period``) at the hotspot's active hours of day (``active_hours``; default all 24).
    - An hour is *met* when it lies entirely within the union of the stops' covered time: at
      every instant of the hour a stop of at least ``stop_min_s`` was under way or ended no more
      than ``revisit_s`` before. Stops at most ``revisit_s`` apart thus meet every hour between
      them.

    Parameters
    ----------
    samples
        ``interpolate`` output (or fixes).
    hotspot_units
        A polygon GeoDataFrame of the hot spots (ids ``unit_id``/``code``), or unit ids of
        ``units`` (e.g. H3 cells with ``units="h3:11"`` or micro-grid codes with a grid layer).
    period
        ``(start, end)`` naive local times; default the samples' extent.
    active_hours
        Hours of day (0-23) when hot spots are active, for all or per unit id.

    Returns
    -------
    pandas.DataFrame
        Per hot spot: ``unit_id, visits, dwell_s, stops, stops_optimal, stops_long,
        stop_dwell_s, hours_active, hours_met, share_hours_met, longest_without_stop_s``
        (longest stretch of the period with no stop in progress, from period start to end).
    """
    if isinstance(hotspot_units, gpd.GeoDataFrame):
        layer = polygon_units(hotspot_units)
        ids = layer["unit_id"].to_numpy(dtype=object)
        units = layer
    else:
        ids = np.array([str(u) for u in hotspot_units], dtype=object)
        if units is None:
            raise InputError("dosage: give units= (a polygon layer or 'h3:<res>') for unit ids")
    start, end = period if period is not None else (None, None)
    vt = visit_table(samples, units, start=start, end=end, visit_gap_s=visit_gap_s)
    s_all = as_samples(samples)
    t_all = times_ns(s_all["t"].reset_index(drop=True))
    w_all = s_all["w_s"].to_numpy(dtype=np.float64)
    p0 = time_bound(start, t_all.min() if len(t_all) else 0)
    p1 = time_bound(end, (t_all + (w_all * NS).astype(np.int64)).max() if len(t_all) else 0)
    hour = 3600 * NS
    h_first = -(-p0 // hour) * hour
    hours = np.arange(h_first, p1 - hour + 1, hour, dtype=np.int64)
    hod = (hours % DAY_NS) // hour
    rows = []
    vt = vt[vt["unit_id"].isin(set(ids))]
    by_unit = dict(tuple(vt.groupby("unit_id", sort=False)))
    for uid in ids:
        v = by_unit.get(uid, vt.iloc[0:0])
        stop = v[v["dwell_s"] >= stop_min_s].sort_values("start")
        a = times_ns(stop["start"])
        b = times_ns(stop["end"])
        if isinstance(active_hours, Mapping):
            act = set(int(h) for h in active_hours.get(uid, range(24)))
        else:
            act = set(range(24)) if active_hours is None else {int(h) for h in active_hours}
        h_act = hours[np.isin(hod, sorted(act))]
        met = 0
        longest = (p1 - p0) / NS
        if len(a):
            cs, ce = a, b + int(revisit_s * NS)
            ce = np.maximum.accumulate(ce)
            new = np.ones(len(cs), dtype=bool)
            new[1:] = cs[1:] > ce[:-1]
            m_start = cs[new]
            m_end = np.maximum.reduceat(ce, np.flatnonzero(new))
            k = np.searchsorted(m_start, h_act, side="right") - 1
            ok = (k >= 0) & (m_end[np.maximum(k, 0)] >= h_act + hour)
            met = int(ok.sum())
            # longest stretch with no stop in progress
            se = np.maximum.accumulate(b)
            gaps = np.concatenate([[a[0] - p0], a[1:] - se[:-1], [p1 - se[-1]]]) / NS
            longest = float(max(gaps.max(), 0.0))
        n_act = len(h_act)
        d = stop["dwell_s"].to_numpy()
        rows.append(
            {
                "unit_id": uid,
                "visits": len(v),
                "dwell_s": float(v["dwell_s"].sum()),
                "stops": len(stop),
                "stops_optimal": int(((d >= stop_min_s) & (d <= stop_max_s)).sum()),
                "stops_long": int((d > stop_max_s).sum()),
                "stop_dwell_s": float(d.sum()),
                "hours_active": n_act,
                "hours_met": met,
                "share_hours_met": met / n_act if n_act else np.nan,
                "longest_without_stop_s": longest,
            }
        )
    return pd.DataFrame(rows)
