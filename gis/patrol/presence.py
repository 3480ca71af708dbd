"""Presence per unit: visits, dwell time, last visit and the longest gap (per staff member,
day and/or shift), and the table of single visits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.core.errors import InputError
from gis.patrol.clock import DAY_NS, NS, parse_shifts, shift_index, time_bound, times_ns
from gis.patrol.sampling import as_samples
from gis.patrol.units import assign_units, parse_units, polygon_units

_BY_KEYS = ("unit", "staff", "day", "shift")


@dataclass
class _Prepared:
    unit: np.ndarray  # object ids
    ucode: np.ndarray
    uniques: np.ndarray
    staff: np.ndarray  # codes
    staff_uniques: np.ndarray
    t: np.ndarray  # ns
    w: np.ndarray  # s
    p0: int
    p1: int


def _prepare(samples, units, start, end, unit_ids: np.ndarray | None = None) -> _Prepared:
    samples = as_samples(samples)
    t = times_ns(samples["t"].reset_index(drop=True))
    w = samples["w_s"].to_numpy(dtype=np.float64)
    p0 = time_bound(start, t.min() if len(t) else 0)
    p1 = time_bound(end, (t + (w * NS).astype(np.int64)).max() if len(t) else 0)
    keep = (t >= p0) & (t < p1) if len(t) else np.zeros(0, dtype=bool)
    if end is not None and len(t):  # a sample reaching past the end counts up to the end
        w = np.minimum(w, (p1 - t) / NS)
    sub = samples.iloc[np.flatnonzero(keep)] if not keep.all() else samples
    unit = assign_units(sub, units) if unit_ids is None else unit_ids[keep]
    inside = pd.notna(unit)
    unit = unit[inside]
    t = t[keep][inside]
    w = w[keep][inside]
    staff_all = sub["staff_code"].to_numpy(dtype=object)[inside]
    ucode, uniques = pd.factorize(unit, sort=True)
    scode, suniq = pd.factorize(staff_all, sort=True)
    return _Prepared(
        unit,
        ucode,
        np.asarray(uniques, dtype=object),
        scode,
        np.asarray(suniq, dtype=object),
        t,
        w,
        p0,
        p1,
    )


def _new_visit(gid: np.ndarray, staff: np.ndarray, t: np.ndarray, w: np.ndarray, gap_s: float):
    """Order (by group, staff, time) and the new-visit flag in that order."""
    order = np.lexsort((t, staff, gid))
    g, s, tt, ww = gid[order], staff[order], t[order], w[order]
    new = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        away = (tt[1:] - tt[:-1]) / NS - ww[:-1]
        new[1:] = (g[1:] != g[:-1]) | (s[1:] != s[:-1]) | (away > gap_s)
    return order, new


def presence(
    samples: gpd.GeoDataFrame,
    units,
    *,
    by: Sequence[str] = ("unit",),
    shifts: Mapping[str, tuple[str, str]] | str | None = None,
    start=None,
    end=None,
    visit_gap_s: float = 60.0,
    unit_ids: np.ndarray | None = None,
) -> pd.DataFrame:
    """Presence per unit (and per staff member, day and/or shift), vectorised.

    Parameters
    ----------
    samples
        ``interpolate(...)`` output (``staff_code, t, w_s``, points in EPSG:4326), or fixes
        (then each fix stands for the time to the next fix of its track; no interpolation).
    units
        Polygon layer in EPSG:4326 (a grid layer with ``level``: its micro-grids, ids ``code``;
        otherwise ids from ``unit_id``/``code``), or ``"h3:11"`` for H3 cells of that resolution.
    by
        ``"unit"`` plus any of ``"staff"``, ``"day"``, ``"shift"``.
    shifts
        ``{name: ("HH:MM", "HH:MM")}``, default ``DEFAULT_SHIFTS`` (day 09:00-19:00, night
        19:00-09:00, crossing midnight); or ``"09:00-17:00"``. A sample belongs to the first
        shift containing its time; with ``"shift"`` in ``by``, samples in no shift are left out.
        A night shift belongs to the day it starts on.
    start, end
        The period (naive local times); default: first sample to the end of the last one.
        Samples outside are left out. ``time_since_last_visit_s`` is counted to ``end``.
    visit_gap_s
        Time away (s) from a unit after which coming back is a new visit (60 s absorbs GPS
        jitter along a boundary).
    unit_ids
        Precomputed unit id per sample (``assign_units``), to reuse across calls.

    Returns
    -------
    pandas.DataFrame
        ``unit_id, [staff_code], [day], [shift], visits, dwell_s, first_visit, last_visit,
        time_since_last_visit_s, max_gap_s``:

        - ``visits``: entries (see the module docstring); each staff member's entries count.
        - ``dwell_s``: sum of the sample durations in the unit (all staff together).
        - ``first_visit`` / ``last_visit``: first time present / end of the last presence.
        - ``time_since_last_visit_s``: ``end - last_visit``.
        - ``max_gap_s``: the longest time nobody (of the group) was in the unit, within the
          group's period: the whole period; with ``"day"`` that day; with ``"shift"`` each
          occurrence of the shift (the longest over occurrences, an occurrence without presence
          counting whole); gaps before the first and after the last presence count.

        For polygon units and ``by=("unit",)`` every unit has a row (unvisited: 0 visits,
        ``max_gap_s`` = the period, ``time_since_last_visit_s`` NaN). Otherwise only groups
        with presence. ``attrs["period"] = (start, end)``.
    """
    by = tuple(by)
    if "unit" not in by or any(k not in _BY_KEYS for k in by):
        raise InputError(f"by must contain 'unit' and only {', '.join(_BY_KEYS)}: got {by}")
    prep = _prepare(samples, units, start, end, unit_ids)
    sh = parse_shifts(shifts)
    t, w, p0, p1 = prep.t, prep.w, prep.p0, prep.p1
    d_first = (p0 // DAY_NS) * DAY_NS - DAY_NS
    nd = int((p1 - d_first) // DAY_NS) + 2
    names = list(sh)
    use_day, use_shift, use_staff = "day" in by, "shift" in by, "staff" in by

    # period instances: (shift or -1, day index or -1) -> [start, end) clipped to the period
    if use_shift:
        sidx, sday = shift_index(t, sh)
        ok = sidx >= 0
        inst = sidx * nd + (sday - d_first) // DAY_NS
        ki, kd = np.divmod(np.arange(len(names) * nd), nd)
        a = np.array([v[0] for v in sh.values()], dtype=np.int64)[ki]
        b = np.array([v[1] for v in sh.values()], dtype=np.int64)[ki]
        b = np.where(b <= a, b + DAY_NS, b)
        i_start = np.maximum(d_first + kd * DAY_NS + a, p0)
        i_end = np.minimum(d_first + kd * DAY_NS + b, p1)
        i_shift, i_day = ki, kd
    elif use_day:
        sidx = np.full(len(t), -1)
        ok = np.ones(len(t), dtype=bool)
        inst = (t - d_first) // DAY_NS
        kd = np.arange(nd)
        i_start = np.maximum(d_first + kd * DAY_NS, p0)
        i_end = np.minimum(d_first + (kd + 1) * DAY_NS, p1)
        i_shift, i_day = np.full(nd, -1), kd
    else:
        sidx = np.full(len(t), -1)
        ok = np.ones(len(t), dtype=bool)
        inst = np.zeros(len(t), dtype=np.int64)
        i_start, i_end = np.array([p0]), np.array([p1])
        i_shift, i_day = np.array([-1]), np.array([-1])
    i_len = np.maximum(i_end - i_start, 0)

    ucode, scode = prep.ucode[ok], prep.staff[ok]
    t, w, inst, sidx = t[ok], w[ok], inst[ok], sidx[ok]
    day_idx = i_day[inst] if use_day else np.zeros(len(t), dtype=np.int64)
    key = ucode.astype(np.int64)
    if use_staff:
        key = key * (len(prep.staff_uniques) + 1) + scode
    if use_day:
        key = key * (nd + 1) + day_idx
    if use_shift:
        key = key * (len(names) + 1) + sidx
    gid, gkey = pd.factorize(key, sort=True)
    n_g = len(gkey)

    # visits and dwell
    order, new = _new_visit(gid, scode, t, w, visit_gap_s)
    visits = np.bincount(gid[order][new], minlength=n_g)
    dwell = np.bincount(gid, weights=w, minlength=n_g)
    end_ns = t + np.round(w * NS).astype(np.int64)
    first = np.full(n_g, np.iinfo(np.int64).max)
    last = np.full(n_g, np.iinfo(np.int64).min)
    np.minimum.at(first, gid, t)
    np.maximum.at(last, gid, end_ns)

    # longest gap per (group, period instance), then per group
    o2 = np.lexsort((t, inst, gid))
    g2, i2 = gid[o2], inst[o2]
    ts = (t[o2] - p0) / NS
    te = ts + w[o2]
    sub_new = np.ones(len(o2), dtype=bool)
    if len(o2) > 1:
        sub_new[1:] = (g2[1:] != g2[:-1]) | (i2[1:] != i2[:-1])
    r = np.cumsum(sub_new) - 1
    big = (p1 - p0) / NS + float(w.max() if len(w) else 0.0) + 1.0
    cm = np.maximum.accumulate(te + r * big) - r * big
    gaps = np.empty(len(o2))
    if len(o2):
        gaps[1:] = ts[1:] - cm[:-1]
        starts = np.flatnonzero(sub_new)
        gaps[starts] = ts[starts] - (i_start[i2[starts]] - p0) / NS
        sub_max = np.maximum.reduceat(np.maximum(gaps, 0.0), starts)
        ends = np.append(starts[1:], len(o2)) - 1
        tail = (i_end[i2[ends]] - p0) / NS - cm[ends]
        sub_max = np.maximum(sub_max, np.maximum(tail, 0.0))
        max_gap = np.zeros(n_g)
        np.maximum.at(max_gap, g2[starts], sub_max)
    else:
        max_gap = np.zeros(n_g)
    if use_shift and not use_day and n_g:
        # occurrences of the group's shift without any presence count whole
        present = np.zeros((n_g, len(i_len)), dtype=bool)
        present[g2[sub_new], i2[sub_new]] = True
        g_shift = np.zeros(n_g, dtype=np.int64)
        g_shift[gid] = sidx
        relevant = i_shift[None, :] == g_shift[:, None]
        absent_len = np.where(relevant & ~present, i_len[None, :], 0).max(axis=1) / NS
        max_gap = np.maximum(max_gap, absent_len)

    # group labels
    rep = np.zeros(n_g, dtype=np.int64)
    rep[gid] = np.arange(len(gid))
    out = pd.DataFrame({"unit_id": prep.uniques[ucode[rep]] if n_g else np.array([], object)})
    if use_staff:
        out["staff_code"] = prep.staff_uniques[scode[rep]] if n_g else np.array([], object)
    if use_day:
        out["day"] = (d_first + day_idx[rep] * DAY_NS).view("datetime64[ns]")
    if use_shift:
        out["shift"] = np.array(names, dtype=object)[sidx[rep]] if n_g else np.array([], object)
    out["visits"] = visits.astype(np.int64)
    out["dwell_s"] = dwell
    out["first_visit"] = first.view("datetime64[ns]")
    out["last_visit"] = last.view("datetime64[ns]")
    out["time_since_last_visit_s"] = (p1 - last) / NS
    out["max_gap_s"] = max_gap

    kind, spec = parse_units(units)
    if kind == "polygons" and by == ("unit",):
        all_ids = polygon_units(spec)["unit_id"].to_numpy(dtype=object)
        missing = np.setdiff1d(all_ids.astype(str), out["unit_id"].astype(str).to_numpy())
        if len(missing):
            zero = pd.DataFrame(
                {
                    "unit_id": missing.astype(object),
                    "visits": 0,
                    "dwell_s": 0.0,
                    "first_visit": pd.NaT,
                    "last_visit": pd.NaT,
                    "time_since_last_visit_s": np.nan,
                    "max_gap_s": (p1 - p0) / NS,
                }
            )
            zero["first_visit"] = zero["first_visit"].astype("datetime64[ns]")
            zero["last_visit"] = zero["last_visit"].astype("datetime64[ns]")
            out = pd.concat([out, zero], ignore_index=True)
    sort = [c for c in ("unit_id", "staff_code", "day", "shift") if c in out]
    out = out.sort_values(sort, kind="stable").reset_index(drop=True)
    out.attrs["period"] = (pd.Timestamp(p0), pd.Timestamp(p1))
    return out


def visit_table(
    samples: gpd.GeoDataFrame,
    units,
    *,
    start=None,
    end=None,
    visit_gap_s: float = 60.0,
    unit_ids: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per visit: ``unit_id, staff_code, start, end, dwell_s, samples``.

    A visit as in ``presence`` (``visit_gap_s`` away ends it); ``end`` is the end of its last
    sample; ``dwell_s`` the time inside (excludes short absences).
    """
    prep = _prepare(samples, units, start, end, unit_ids)
    order, new = _new_visit(prep.ucode, prep.staff, prep.t, prep.w, visit_gap_s)
    vid = np.cumsum(new) - 1
    n_v = int(vid[-1] + 1) if len(vid) else 0
    t, w = prep.t[order], prep.w[order]
    end_ns = t + np.round(w * NS).astype(np.int64)
    starts = np.flatnonzero(new)
    v_end = np.maximum.reduceat(end_ns, starts) if n_v else np.zeros(0, dtype=np.int64)
    return pd.DataFrame(
        {
            "unit_id": prep.uniques[prep.ucode[order][starts]] if n_v else np.array([], object),
            "staff_code": prep.staff_uniques[prep.staff[order][starts]]
            if n_v
            else np.array([], object),
            "start": t[starts].view("datetime64[ns]"),
            "end": v_end.view("datetime64[ns]"),
            "dwell_s": np.bincount(vid, weights=w, minlength=n_v),
            "samples": np.bincount(vid, minlength=n_v),
        }
    )
