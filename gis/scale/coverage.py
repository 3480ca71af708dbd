"""Patrol presence per unit over a city's GPS fixes: one process or a Dask cluster.

The partitions are staff buckets (:mod:`gis.scale.buckets`): each holds every fix of its staff
members, so a track never straddles two partitions. On each, the patrol pipeline runs as it
does for ``gridlens coverage`` on one machine (``gis.patrol.track_data``'s cleaning, track
splits and interpolation, without the segments that only street coverage reads;
``gis.patrol.assign_units``; ``gis.patrol.presence``), per unit *and
staff member*. The reduce, in the calling process:

- ``visits``: the sum over staff members (a visit is one staff member's: exact);
- ``first_visit`` / ``last_visit``: min / max (exact), ``time_since_last_visit_s`` from them;
- ``dwell_s``: the sum over staff members, in (unit, staff) order: equal to the single-process
  sum to floating-point rounding (1e-12 relative: the one process adds the samples one by one);
- ``max_gap_s``: the longest time nobody was in the unit needs every staff member at once:
  each partition sends its presence intervals per unit (samples merged where they touch,
  in integer nanoseconds; gaps under a millisecond, the rounding between interpolated samples,
  are not gaps), the reduce merges them across partitions and measures the gaps in
  ``[start, end)``. Equal to the single process within a millisecond.

Both engines run the same partition function on the same partitions and the same reduce in
the same order, so ``engine="dask"`` equals ``engine="local"`` exactly. Street coverage
(``covered_share``) and shifts are not computed at city scale yet (NaN / refused).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from distributed import Client, as_completed

from gis.core.errors import InputError
from gis.core.geometry import district_outline
from gis.hotspots import h3_units
from gis.patrol import (
    COVERAGE_COLUMNS,
    CYCLE_MAX_SPEED_MPS,
    CleanResult,
    assign_units,
    clean_fixes,
    default_period,
    interpolate,
    presence,
)
from gis.patrol.clock import NS, times_ns
from gis.scale.buckets import bucket_groups, rebucket
from gis.scale.cluster import ENGINES, dask_client
from gis.scale.sources import PointFolder, scan_points
from gis.units import UnitSpec

__all__ = [
    "MERGE_TOLERANCE_NS",
    "CoveragePartial",
    "CoverageResult",
    "coverage",
    "coverage_partition",
    "max_gaps",
    "merge_intervals",
    "reduce_coverage",
]

#: Presence intervals closer than this (ns) are one: the rounding between interpolated samples.
MERGE_TOLERANCE_NS = 1_000_000
_REST_COLUMNS = ["first_visit", "time_since_last_visit_s", "street_m", "covered_m"]
_SUMMARY_COUNTS = ("total", "kept", "dropped", "tracks", "splits_gap", "splits_jump")


# ------------------------------------------------------------------------------ intervals
def merge_intervals(
    unit: np.ndarray, start: np.ndarray, end: np.ndarray, tolerance_ns: int = MERGE_TOLERANCE_NS
) -> pd.DataFrame:
    """Union of ``[start, end)`` intervals (int64 ns) per unit: ``unit_id, start, end`` sorted
    by unit and start; intervals overlapping or within ``tolerance_ns`` are merged."""
    unit = np.asarray(unit, dtype=object)
    start = np.asarray(start, dtype=np.int64)
    end = np.asarray(end, dtype=np.int64)
    if not len(unit):
        return pd.DataFrame(
            {"unit_id": np.zeros(0, dtype=object), "start": start[:0], "end": end[:0]}
        )
    code, names = pd.factorize(unit, sort=True)
    order = np.lexsort((start, code))
    u, s, e = code[order], start[order], end[order]
    run = pd.Series(e).groupby(u).cummax().to_numpy()
    new = np.ones(len(u), dtype=bool)
    new[1:] = (u[1:] != u[:-1]) | (s[1:] > run[:-1] + tolerance_ns)
    first = np.flatnonzero(new)
    return pd.DataFrame(
        {
            "unit_id": np.asarray(names, dtype=object)[u[first]],
            "start": s[first],
            "end": np.maximum.reduceat(e, first),
        }
    )


def max_gaps(intervals: pd.DataFrame, p0: int, p1: int) -> pd.Series:
    """The longest time (s) in ``[p0, p1)`` (ns) not covered by any interval, per unit.

    ``intervals`` as :func:`merge_intervals` gives them (merged, sorted): the gap before the
    first, between consecutive ones and after the last.
    """
    if not len(intervals):
        return pd.Series([], dtype=float, index=pd.Index([], dtype=object, name="unit_id"))
    u = intervals["unit_id"].to_numpy(dtype=object)
    s = intervals["start"].to_numpy(dtype=np.int64)
    e = intervals["end"].to_numpy(dtype=np.int64)
    first = np.ones(len(u), dtype=bool)
    first[1:] = u[1:] != u[:-1]
    last = np.append(first[1:], True)
    gap = np.empty(len(u), dtype=np.int64)
    gap[1:] = s[1:] - e[:-1]
    gap[first] = s[first] - p0
    tail = np.where(last, p1 - e, 0)
    worst = np.maximum(np.maximum(gap, tail), 0)
    starts = np.flatnonzero(first)
    per_unit = np.maximum.reduceat(worst, starts)
    return pd.Series(per_unit / NS, index=pd.Index(u[starts], dtype=object, name="unit_id"))


# ------------------------------------------------------------------------------ the partition
@dataclass
class CoveragePartial:
    """What one staff bucket sends to the reduce: presence per unit and staff member,
    presence intervals per unit, the cleaning summary and the kept fixes' time range (ns)."""

    presence: pd.DataFrame
    intervals: pd.DataFrame
    summary: dict
    t_min: int | None = None
    t_max: int | None = None


def _empty_presence() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit_id": pd.Series([], dtype=object),
            "staff_code": pd.Series([], dtype=object),
            "visits": pd.Series([], dtype=np.int64),
            "dwell_s": pd.Series([], dtype=float),
            "first_ns": pd.Series([], dtype=np.int64),
            "last_ns": pd.Series([], dtype=np.int64),
        }
    )


def coverage_partition(
    files: list[Path],
    source: PointFolder,
    units,
    *,
    district: gpd.GeoDataFrame | None = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    visit_gap_s: float = 60.0,
    max_speed_mps: float = CYCLE_MAX_SPEED_MPS,
    split_gap_s: float = 600.0,
    step_s: float = 15.0,
) -> CoveragePartial:
    """Presence of one staff bucket (every fix of its staff members).

    Parameters
    ----------
    files
        The bucket's Parquet files (of ``source``).
    units
        A grid layer (its micro-grids) or ``"h3:RES"``, as ``gis.patrol.presence`` takes.
    district
        Fixes farther than 20 m outside it are dropped (``gis.patrol.clean_fixes``).
    start, end
        The period: fixes outside are left out before cleaning (as ``gridlens coverage``).
    """
    fixes = source.read_files(files)
    # rows without a time stay: cleaning reports them ("no time"), never a silent loss
    t_all = fixes["t"]
    keep = np.ones(len(fixes), dtype=bool)
    if start is not None:
        keep &= (t_all.isna() | (t_all >= start)).to_numpy()
    if end is not None:
        keep &= (t_all.isna() | (t_all < end)).to_numpy()
    fixes = fixes[keep]
    cols = ["staff_code", "t"]
    if "track_code" in source.columns:
        cols.insert(1, "track_code")
    frame = gpd.GeoDataFrame(
        fixes[cols].reset_index(drop=True),
        geometry=gpd.points_from_xy(fixes["lon"], fixes["lat"]),
        crs=4326,
    )
    summary = {k: 0 for k in _SUMMARY_COUNTS} | {"reasons": {}}
    if not len(frame):
        return CoveragePartial(_empty_presence(), merge_intervals([], [], []), summary)
    # the pipeline of gis.patrol.track_data, without the segments (street coverage only)
    clean = clean_fixes(
        frame, max_speed_mps=max_speed_mps, district=district, split_gap_s=split_gap_s
    )
    summary = dict(clean.summary)
    kept_t = times_ns(clean.fixes["t"].reset_index(drop=True))
    samples = interpolate(clean.fixes, step_s=step_s)
    if not len(samples):
        return CoveragePartial(_empty_presence(), merge_intervals([], [], []), summary)
    t = times_ns(samples["t"].reset_index(drop=True))
    w = samples["w_s"].to_numpy(dtype=np.float64)
    # the partition's own bounds keep every sample and clip none, as the default period does
    p0 = int(start.value) if start is not None else int(t.min())
    p1 = int(end.value) if end is not None else int((t + (w * NS).astype(np.int64)).max() + NS)
    unit_ids = assign_units(samples, units)
    pres = presence(
        samples,
        units,
        by=("unit", "staff"),
        start=pd.Timestamp(p0),
        end=pd.Timestamp(p1),
        visit_gap_s=visit_gap_s,
        unit_ids=unit_ids,
    )
    partial = pd.DataFrame(
        {
            "unit_id": pres["unit_id"].astype(str).to_numpy(dtype=object),
            "staff_code": pres["staff_code"].astype(str).to_numpy(dtype=object),
            "visits": pres["visits"].to_numpy(dtype=np.int64),
            "dwell_s": pres["dwell_s"].to_numpy(dtype=np.float64),
            "first_ns": pres["first_visit"].to_numpy(dtype="datetime64[ns]").view(np.int64),
            "last_ns": pres["last_visit"].to_numpy(dtype="datetime64[ns]").view(np.int64),
        }
    )
    inside = pd.notna(unit_ids) & (t >= p0) & (t < p1)
    w = np.minimum(w, (p1 - t) / NS)  # as presence clips a sample reaching past the end
    ends = t + np.round(w * NS).astype(np.int64)
    intervals = merge_intervals(
        np.asarray(unit_ids, dtype=object)[inside].astype(str), t[inside], ends[inside]
    )
    return CoveragePartial(partial, intervals, summary, int(kept_t.min()), int(kept_t.max()))


# ------------------------------------------------------------------------------ the reduce
@dataclass
class CoverageResult:
    """Coverage per unit (``gridlens coverage``'s table) with the cleaning summary.

    Attributes
    ----------
    table
        ``unit_id, visits, dwell_s, last_visit, max_gap_s, covered_share, first_visit,
        time_since_last_visit_s, street_m, covered_m`` sorted by unit (street columns NaN).
    clean
        A :class:`gis.patrol.CleanResult` with the summed summary (no rows):
        ``clean.summary_line()`` is ``N kept + M dropped = T total ...``.
    period
        ``(start, end)``.
    partitions
        Staff buckets computed.
    """

    table: pd.DataFrame
    clean: CleanResult
    period: tuple[pd.Timestamp, pd.Timestamp]
    engine: str
    partitions: int = 0
    extra: dict = field(default_factory=dict)


def _sum_summaries(parts: list[dict]) -> dict:
    out = {k: 0 for k in _SUMMARY_COUNTS}
    reasons: dict[str, int] = {}
    for s in parts:
        for k in _SUMMARY_COUNTS:
            out[k] += int(s.get(k, 0))
        for r, n in s.get("reasons", {}).items():
            reasons[r] = reasons.get(r, 0) + int(n)
    out["reasons"] = reasons
    return out


def reduce_coverage(
    partials: list[CoveragePartial],
    *,
    unit_ids: np.ndarray | None = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, dict, tuple[pd.Timestamp, pd.Timestamp]]:
    """Combine the partitions' presence into the coverage table (see the module docstring).

    ``unit_ids``: units that get a row without presence (the micro-grids, the district's H3
    cells). The result does not depend on the order of ``partials``.
    """
    summary = _sum_summaries([p.summary for p in partials])
    lows = [p.t_min for p in partials if p.t_min is not None]
    highs = [p.t_max for p in partials if p.t_max is not None]
    if not lows and (start is None or end is None):
        raise InputError("no usable fixes: " + CleanResult(None, None, summary).summary_line())
    if start is None or end is None:
        around = default_period(pd.DataFrame({"t": pd.to_datetime([min(lows), max(highs)])}))
        start = start if start is not None else around[0]
        end = end if end is not None else around[1]
    p0, p1 = (
        int(pd.Timestamp(start).as_unit("ns").value),
        int(pd.Timestamp(end).as_unit("ns").value),
    )
    pres = pd.concat([p.presence for p in partials], ignore_index=True)
    pres = pres.sort_values(["unit_id", "staff_code"], kind="stable")
    grouped = pres.groupby("unit_id", sort=True).agg(
        visits=("visits", "sum"),
        dwell_s=("dwell_s", "sum"),
        first_ns=("first_ns", "min"),
        last_ns=("last_ns", "max"),
    )
    spans = pd.concat([p.intervals for p in partials], ignore_index=True)
    merged = merge_intervals(
        spans["unit_id"].to_numpy(dtype=object),
        spans["start"].to_numpy(dtype=np.int64),
        spans["end"].to_numpy(dtype=np.int64),
    )
    grouped["max_gap_s"] = max_gaps(merged, p0, p1).reindex(grouped.index)
    # times as datetimes before reindexing: a missing unit is NaT, never a float nanosecond
    grouped["first_visit"] = grouped.pop("first_ns").to_numpy(np.int64).view("datetime64[ns]")
    grouped["last_visit"] = grouped.pop("last_ns").to_numpy(np.int64).view("datetime64[ns]")
    wanted = set(grouped.index.astype(str))
    if unit_ids is not None:
        wanted |= {str(u) for u in unit_ids}
    out = grouped.reindex(pd.Index(sorted(wanted), dtype=object, name="unit_id")).reset_index()
    out["visits"] = out["visits"].fillna(0).astype(np.int64)
    out["dwell_s"] = out["dwell_s"].fillna(0.0).astype(float)
    out["max_gap_s"] = out["max_gap_s"].fillna((p1 - p0) / NS).astype(float)
    for col in ("first_visit", "last_visit"):
        out[col] = out[col].astype("datetime64[ns]")
    last = out["last_visit"].to_numpy().view(np.int64)
    since = (p1 - last) / NS
    out["time_since_last_visit_s"] = np.where(out["last_visit"].isna(), np.nan, since)
    out["street_m"] = np.nan
    out["covered_m"] = np.nan
    out["covered_share"] = np.nan
    table = out[list(COVERAGE_COLUMNS) + _REST_COLUMNS]
    period = (pd.Timestamp(p0), pd.Timestamp(p1))
    return table, summary, period


def _unit_arg(spec: UnitSpec, grids: gpd.GeoDataFrame | None):
    """What gis.patrol takes as units, and the units that get a row without presence."""
    if spec.kind == "grid":
        if grids is None:
            raise InputError("coverage by grid:micro needs the grids")
        micro = grids[grids["level"] == "micro"]
        return grids, micro["code"].astype(str).to_numpy(dtype=object)
    if grids is None:
        return str(spec), None
    cells = h3_units(district_outline(grids), int(spec.h3_resolution))["unit_id"]
    return str(spec), cells.to_numpy(dtype=object)


def coverage(
    source: str | Path | PointFolder,
    by: str | UnitSpec = "grid:micro",
    grids: gpd.GeoDataFrame | None = None,
    engine: str = "local",
    client: Client | None = None,
    *,
    start=None,
    end=None,
    shift: str | None = None,
    scratch: str | Path | None = None,
    buckets: int | None = None,
    visit_gap_s: float = 60.0,
    max_speed_mps: float = CYCLE_MAX_SPEED_MPS,
) -> CoverageResult:
    """Presence per unit over a (Geo)Parquet folder of GPS fixes, on either engine.

    Parameters
    ----------
    source
        A folder of fixes (``staff_code``, a time, lon/lat or geometry; ``track_code``
        optional). A folder laid out by ``staff_bucket=NN`` (``gridlens export-parquet --what
        fixes``) is read bucket by bucket; any other is re-bucketed into ``scratch`` first.
    by
        ``grid:micro`` (every micro-grid gets a row) or ``h3:RES`` (with grids, every cell of
        the district gets a row).
    grids
        The grids: the units for ``grid:micro``; the district (fixes more than 20 m outside
        are dropped, as ``gridlens coverage`` does).
    engine, client
        ``local`` or ``dask`` (``client``: default the active one, else a LocalCluster).
    start, end
        The period (naive district time); default whole days around the kept fixes.
    scratch
        Where re-bucketed fixes go (default a temporary folder, removed afterwards; on a
        cluster of several machines give a folder every worker can read and write).
    buckets
        Staff buckets when re-bucketing (default about 500,000 fixes each).

    Returns
    -------
    CoverageResult
        The same table as ``gis.patrol.coverage_table`` for these units (street columns NaN),
        identical whichever the engine.
    """
    spec = UnitSpec.parse(by, allowed=("grid", "h3"))
    if spec.kind == "grid" and spec.level != "micro":
        raise InputError(f"coverage units must be grid:micro or h3:RES, got {spec}")
    if shift:
        raise InputError("shifts are not computed at city scale yet: leave out --shift")
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    folder = source if isinstance(source, PointFolder) else scan_points(source, "fixes")
    start = pd.Timestamp(start) if start is not None else None
    end = pd.Timestamp(end) if end is not None else None
    units, all_ids = _unit_arg(spec, grids)
    district = None
    if grids is not None:
        l1 = grids[grids["level"] == "l1"]
        district = l1 if len(l1) else grids
    kw = {
        "district": district,
        "start": start,
        "end": end,
        "visit_gap_s": visit_gap_s,
        "max_speed_mps": max_speed_mps,
    }
    with tempfile.TemporaryDirectory(prefix="gridlens-buckets-") as tmp:
        groups = bucket_groups(folder)
        if groups is None:
            where = Path(scratch) if scratch is not None else Path(tmp) / "buckets"
            folder = rebucket(folder, where, buckets=buckets, engine=engine, client=client)
            groups = bucket_groups(folder)
        partials: list[CoveragePartial] = []
        if engine == "local":
            for files in groups:
                partials.append(coverage_partition(files, folder, units, **kw))
        else:
            with dask_client(client) as c:
                shared = c.scatter(
                    {"folder": folder, "units": units, "district": district}, broadcast=True
                )
                futures = c.map(
                    _remote_partition,
                    groups,
                    folder=shared["folder"],
                    units=shared["units"],
                    district=shared["district"],
                    **{k: v for k, v in kw.items() if k != "district"},
                    pure=False,
                )
                for fut in as_completed(futures):
                    partials.append(fut.result())
                    fut.release()
    table, summary, period = reduce_coverage(partials, unit_ids=all_ids, start=start, end=end)
    clean = CleanResult(None, None, summary)
    return CoverageResult(table, clean, period, engine, len(groups))


def _remote_partition(files, folder, units, district, **kw) -> CoveragePartial:
    return coverage_partition(files, folder, units, district=district, **kw)
