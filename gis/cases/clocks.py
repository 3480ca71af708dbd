"""SLA clocks: deadlines, elapsed and remaining time on a working calendar.

Four limit types (from the national practice; DOMAIN.md "The closed loop in detail"):

``work_hour``
    hours of working time: only the calendar's working slots on working days count.
``work_day``
    working days of ``WorkCalendar.day_seconds`` (8 working hours with the default slots).
``natural_hour`` / ``natural_day``
    clock time, running continuously (nights, weekends and holidays count).

Rules
-----
- A working-time clock starts at the next working moment when it starts outside working time
  (a case registered at 19:00 on a Friday starts counting at 08:00 on Monday).
- A deadline that falls exactly at the end of a slot is that instant: 12:00, not 14:00.
- Paused intervals (挂起) never count. For working-time types the working time inside a pause is
  skipped; for natural types the paused duration is added to the deadline. A pause that starts
  at or after the deadline has no effect.

Everything is computed on int64 nanoseconds with numpy, so a million deadlines take one pass.
Times are naive wall-clock times in the district's zone (as stored).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from gis.cases.calendar import WorkCalendar, default_calendar
from gis.core.errors import InputError

#: The time-limit types.
LIMIT_TYPES = ("work_hour", "work_day", "natural_hour", "natural_day")
#: The types that count working time only.
WORKING_TYPES = ("work_hour", "work_day")

_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS
_NAT = np.iinfo(np.int64).min


def check_limit_type(limit_type: str) -> str:
    """``limit_type`` if it is one of ``LIMIT_TYPES``; otherwise ``InputError`` listing them."""
    if limit_type not in LIMIT_TYPES:
        raise InputError(f"unknown limit type {limit_type!r}; one of {', '.join(LIMIT_TYPES)}")
    return limit_type


def _as_ns(values) -> np.ndarray:
    """Times (anything ``pd.to_datetime`` reads) as int64 ns; NaT as int64 min."""
    arr = pd.to_datetime(pd.Series(np.atleast_1d(np.asarray(values, dtype=object))))
    if getattr(arr.dt, "tz", None) is not None:
        raise InputError("clock times must be naive wall-clock times, not tz-aware ones")
    return arr.to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _from_ns(ns: np.ndarray) -> np.ndarray:
    return np.asarray(ns, dtype=np.int64).astype("datetime64[ns]")


def limit_durations_ns(
    values: Sequence[float] | np.ndarray,
    limit_types: Sequence[str] | np.ndarray,
    calendar: WorkCalendar | None = None,
) -> np.ndarray:
    """Durations of limits in nanoseconds (working ns for working types); -1 where missing.

    Raises
    ------
    InputError
        An unknown limit type or a negative limit.
    """
    cal = calendar or default_calendar()
    vals = np.asarray(values, dtype=float)
    types = np.asarray(limit_types, dtype=object)
    present = ~np.isnan(vals)
    unknown = set(types[present].tolist()) - set(LIMIT_TYPES)
    if unknown:
        check_limit_type(str(sorted(map(str, unknown))[0]))
    if (vals[present] < 0).any():
        raise InputError("a time limit cannot be negative")
    per_unit = np.select(
        [
            types == "work_hour",
            types == "work_day",
            types == "natural_hour",
            types == "natural_day",
        ],
        [3600.0, float(cal.day_seconds), 3600.0, 86400.0],
        np.nan,
    )
    out = np.full(len(vals), -1, dtype=np.int64)
    ok = present & ~np.isnan(per_unit)
    out[ok] = np.round(vals[ok] * per_unit[ok] * _NS).astype(np.int64)
    return out


class WorkTimeline:
    """Cumulative working time ``W(t)``: working nanoseconds from a first day to ``t``.

    ``W`` is piecewise linear and non-decreasing (flat outside working time). Adding working time
    ``d`` to ``t`` is ``inverse(W(t) + d)``: the earliest instant at which ``W`` reaches the value,
    which puts a deadline at a slot's end (12:00) rather than the next slot's start (14:00).
    The day table grows on demand; its first day is fixed, so ``W`` values never change.
    """

    def __init__(self, calendar: WorkCalendar, first_day, n_days: int = 400) -> None:
        self.calendar = calendar
        self.first_ns = int(
            np.datetime64(pd.Timestamp(first_day).floor("D"), "ns").astype(np.int64)
        )
        starts, ends = calendar.slot_bounds_s
        self.slot_start = starts * _NS
        self.slot_len = (ends - starts) * _NS
        self.slot_cum_end = np.cumsum(self.slot_len)
        self.slot_cum_start = self.slot_cum_end - self.slot_len
        self._build(max(int(n_days), 8))

    def _build(self, n_days: int) -> None:
        first = np.datetime64(self.first_ns, "ns").astype("datetime64[D]")
        days = first + np.arange(n_days)
        self.working = self.calendar.working_day_mask(days)
        day_len = np.where(self.working, self.slot_len.sum(), 0).astype(np.int64)
        self.cum_end = np.cumsum(day_len)
        self.cum_start = self.cum_end - day_len
        self.n_days = n_days

    def _grow_to_day(self, last_day: int) -> None:
        if last_day >= self.n_days:
            self._build(max(last_day + 1, 2 * self.n_days))

    def cumulative(self, t_ns: np.ndarray) -> np.ndarray:
        """``W(t)`` for int64 ns times (none before the first day)."""
        t = np.asarray(t_ns, dtype=np.int64)
        if t.size == 0:
            return t.copy()
        k = (t - self.first_ns) // _DAY_NS
        if (k < 0).any():
            raise ValueError("time before the timeline's first day")
        self._grow_to_day(int(k.max()))
        tod = t - (self.first_ns + k * _DAY_NS)
        within = np.clip(tod[:, None] - self.slot_start[None, :], 0, self.slot_len[None, :])
        return self.cum_start[k] + np.where(self.working[k], within.sum(axis=1), 0)

    def inverse(self, w: np.ndarray) -> np.ndarray:
        """The earliest int64 ns time at which ``W`` reaches each value of ``w``."""
        w = np.asarray(w, dtype=np.int64)
        if w.size == 0:
            return w.copy()
        while self.cum_end[-1] < w.max():
            self._build(2 * self.n_days)
        k = np.searchsorted(self.cum_end, w, side="left")
        r = w - self.cum_start[k]
        j = np.minimum(np.searchsorted(self.slot_cum_end, r, side="left"), len(self.slot_len) - 1)
        return self.first_ns + k * _DAY_NS + self.slot_start[j] + (r - self.slot_cum_start[j])

    @classmethod
    def covering(cls, calendar: WorkCalendar, t_ns: np.ndarray) -> WorkTimeline:
        """A timeline from the day before the earliest of ``t_ns`` (NaT ignored)."""
        t = np.asarray(t_ns, dtype=np.int64)
        t = t[t != _NAT]
        lo = int(t.min()) if t.size else 0
        hi = int(t.max()) if t.size else 0
        first = np.datetime64(lo, "ns").astype("datetime64[D]") - np.timedelta64(1, "D")
        span = int((hi - lo) // _DAY_NS) + 60
        return cls(calendar, pd.Timestamp(first), span)


def _pause_table(pauses, n: int) -> pd.DataFrame:
    """Pauses as ``pos, p0, p1`` (int64 ns), overlapping ones of a case merged, sorted."""
    if pauses is None or len(pauses) == 0:
        return pd.DataFrame({"pos": [], "p0": [], "p1": []}, dtype=np.int64)
    frame = pd.DataFrame(pauses).reset_index(drop=True)
    if not {"pos", "start", "end"} <= set(frame.columns):
        raise InputError("pauses need the columns pos, start, end")
    pos = frame["pos"].to_numpy(dtype=np.int64)
    p0, p1 = _as_ns(frame["start"]), _as_ns(frame["end"])
    if ((p0 == _NAT) | (p1 == _NAT)).any():
        raise InputError("a pause needs a start and an end")
    if (p1 <= p0).any():
        raise InputError("a pause must end after it starts")
    if ((pos < 0) | (pos >= n)).any():
        raise InputError("a pause refers to no clock")
    order = np.lexsort((p0, pos))
    pos, p0, p1 = pos[order], p0[order], p1[order]
    # merge overlapping pauses of one case (a running max of the ends within the case)
    same = np.r_[False, pos[1:] == pos[:-1]]
    run_end = pd.Series(p1).groupby(pos).cummax().to_numpy()
    prev_end = np.r_[_NAT, run_end[:-1]]
    new = ~same | (p0 > prev_end)
    group = np.cumsum(new) - 1
    merged = pd.DataFrame({"pos": pos, "p0": p0, "p1": p1, "g": group}).groupby("g")
    return merged.agg(pos=("pos", "first"), p0=("p0", "min"), p1=("p1", "max")).reset_index(
        drop=True
    )


def deadlines(
    starts,
    limit_values,
    limit_types,
    *,
    calendar: WorkCalendar | None = None,
    pauses: pd.DataFrame | None = None,
) -> np.ndarray:
    """Deadlines of many clocks at once.

    Parameters
    ----------
    starts
        Start times (naive wall clock), one per clock.
    limit_values, limit_types
        The limit of each clock: a number (NaN for no limit) and one of ``LIMIT_TYPES``.
    calendar
        Working calendar (default ``data/calendar.csv``, 08:00-12:00 and 14:00-18:00).
    pauses
        Optional frame ``pos, start, end``: clock ``pos`` (0-based position in ``starts``) is
        paused in ``[start, end)``. Overlapping pauses of one clock are merged.

    Returns
    -------
    numpy.ndarray
        ``datetime64[ns]``; NaT where the start or the limit is missing.
    """
    cal = calendar or default_calendar()
    s = _as_ns(starts)
    n = len(s)
    types = np.broadcast_to(np.asarray(limit_types, dtype=object), (n,))
    values = np.broadcast_to(np.asarray(limit_values, dtype=float), (n,))
    dur = limit_durations_ns(values, types, cal)
    valid = (s != _NAT) & (dur >= 0)
    working = np.isin(types, WORKING_TYPES) & valid
    natural = valid & ~working
    out = np.full(n, _NAT, dtype=np.int64)
    out[natural] = s[natural] + dur[natural]
    timeline = WorkTimeline.covering(cal, s[working]) if working.any() else None
    cur = s.copy()
    rem = dur.copy()
    table = _pause_table(pauses, n)
    if len(table):
        table = table[valid[table["pos"].to_numpy()]]
        rank = table.groupby("pos").cumcount().to_numpy()
        done = np.zeros(n, dtype=bool)
        for r in range(int(rank.max()) + 1 if len(rank) else 0):
            rows = table[(rank == r)]
            pos = rows["pos"].to_numpy()
            keep = ~done[pos]
            pos, p0, p1 = pos[keep], rows["p0"].to_numpy()[keep], rows["p1"].to_numpy()[keep]
            nat = natural[pos]
            if nat.any():
                q, a, b = pos[nat], p0[nat], p1[nat]
                start = s[q]
                hit = (b > start) & (a < out[q])
                done[q[(b > start) & (a >= out[q])]] = True
                out[q[hit]] += b[hit] - np.maximum(a[hit], start[hit])
            wk = ~nat
            if wk.any() and timeline is not None:
                q, a, b = pos[wk], p0[wk], p1[wk]
                c = cur[q]
                live = b > c
                q, a, b, c = q[live], a[live], b[live], c[live]
                w_c = timeline.cumulative(c)
                cand = timeline.inverse(w_c + rem[q])
                stop = a >= cand
                done[q[stop]] = True
                go = ~stop
                q, a, b, c, w_c = q[go], a[go], b[go], c[go], w_c[go]
                rem[q] -= timeline.cumulative(np.maximum(a, c)) - w_c
                cur[q] = np.maximum(c, b)
    if working.any() and timeline is not None:
        idx = np.flatnonzero(working)
        positive = rem[idx] > 0
        res = cur[idx].copy()
        if positive.any():
            j = idx[positive]
            res[positive] = timeline.inverse(timeline.cumulative(cur[j]) + rem[j])
        out[idx] = res
    return _from_ns(out)


def deadline(
    start,
    limit_value: float,
    limit_type: str,
    *,
    calendar: WorkCalendar | None = None,
    pauses: Iterable[tuple] = (),
) -> pd.Timestamp:
    """The deadline of one clock (see ``deadlines``); ``pauses`` as ``(start, end)`` pairs."""
    check_limit_type(limit_type)
    rows = [{"pos": 0, "start": a, "end": b} for a, b in pauses]
    out = deadlines(
        [start],
        [limit_value],
        [limit_type],
        calendar=calendar,
        pauses=pd.DataFrame(rows) if rows else None,
    )
    return pd.Timestamp(out[0])


def add_time(
    starts,
    durations_ns: np.ndarray,
    *,
    working: bool | np.ndarray = True,
    calendar: WorkCalendar | None = None,
) -> np.ndarray:
    """``starts`` plus a duration in nanoseconds of working time (``working``) or clock time.

    A working duration of 0 leaves the start as it is. Returns ``datetime64[ns]``.
    """
    cal = calendar or default_calendar()
    s = _as_ns(starts)
    d = np.broadcast_to(np.asarray(durations_ns, dtype=np.int64), s.shape)
    flags = np.broadcast_to(np.asarray(working, dtype=bool), s.shape)
    if (d < 0).any():
        raise InputError("cannot add a negative duration")
    out = np.where(s == _NAT, _NAT, s + d)
    wk = flags & (s != _NAT) & (d > 0)
    if wk.any():
        tl = WorkTimeline.covering(cal, s[wk])
        out[wk] = tl.inverse(tl.cumulative(s[wk]) + d[wk])
    return _from_ns(out)


def _overlap_sums(table: pd.DataFrame, a: np.ndarray, b: np.ndarray, measure) -> np.ndarray:
    """Per clock, the measure of the pauses' overlap with ``[a, b)``."""
    out = np.zeros(len(a), dtype=np.int64)
    if len(table) == 0:
        return out
    pos = table["pos"].to_numpy()
    lo = np.maximum(table["p0"].to_numpy(), a[pos])
    hi = np.minimum(table["p1"].to_numpy(), b[pos])
    ok = (hi > lo) & (a[pos] != _NAT) & (b[pos] != _NAT)
    if ok.any():
        np.add.at(out, pos[ok], measure(hi[ok]) - measure(lo[ok]))
    return out


def elapsed_ns(
    starts,
    ends,
    *,
    working: bool | np.ndarray = True,
    calendar: WorkCalendar | None = None,
    pauses: pd.DataFrame | None = None,
) -> np.ndarray:
    """Time on the clock between ``starts`` and ``ends`` in ns (negative if ``end < start``).

    ``working`` (one flag or one per clock) counts working time only; pauses never count.
    Returns int64 ns with -2**63 where a time is missing.
    """
    cal = calendar or default_calendar()
    a, b = _as_ns(starts), _as_ns(ends)
    n = len(a)
    flags = np.broadcast_to(np.asarray(working, dtype=bool), (n,))
    ok = (a != _NAT) & (b != _NAT)
    out = np.full(n, _NAT, dtype=np.int64)
    out[ok & ~flags] = b[ok & ~flags] - a[ok & ~flags]
    table = _pause_table(pauses, n)
    nat_tab = table[~flags[table["pos"].to_numpy()]] if len(table) else table
    out[ok & ~flags] -= _overlap_sums(nat_tab, a, b, lambda t: t)[ok & ~flags]
    wk = ok & flags
    if wk.any():
        tl = WorkTimeline.covering(cal, np.r_[a[wk], b[wk]])
        out[wk] = tl.cumulative(b[wk]) - tl.cumulative(a[wk])
        wk_tab = table[flags[table["pos"].to_numpy()]] if len(table) else table
        if len(wk_tab):
            out[wk] -= _overlap_sums(wk_tab, a, b, tl.cumulative)[wk]
    return out


def remaining_ns(
    deadlines_, at, *, working: bool | np.ndarray = True, calendar: WorkCalendar | None = None
) -> np.ndarray:
    """Time left on the clock from ``at`` to each deadline in ns; negative once overdue."""
    return elapsed_ns(at, deadlines_, working=working, calendar=calendar)


def next_working_moment(t, calendar: WorkCalendar | None = None) -> pd.Timestamp:
    """``t`` itself inside working time, else the start of the next working slot."""
    cal = calendar or default_calendar()
    ns = _as_ns([t])
    tl = WorkTimeline.covering(cal, ns)
    return pd.Timestamp(_from_ns(tl.inverse(tl.cumulative(ns) + 1) - 1)[0])


__all__ = [
    "LIMIT_TYPES",
    "add_time",
    "WORKING_TYPES",
    "WorkTimeline",
    "check_limit_type",
    "deadline",
    "deadlines",
    "elapsed_ns",
    "limit_durations_ns",
    "next_working_moment",
    "remaining_ns",
]
