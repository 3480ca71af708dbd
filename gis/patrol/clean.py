"""Cleaning fixes: each dropped fix gets its reason, tracks split at gaps and jumps."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.core.geometry import to_metric_geoms, to_metric_xy
from gis.patrol.clock import NS, times_ns

#: GPS accuracy buffer (m): tolerance outside the district and street-coverage buffer.
GPS_ACCURACY_M = 20.0
#: Speed limits (m/s) for "impossible jump": cycling (default) and walking.
CYCLE_MAX_SPEED_MPS = 7.0
WALK_MAX_SPEED_MPS = 2.5

DROP_REASONS = (
    "no coordinates",
    "no time",
    "no staff id",
    "duplicate",
    "outside district",
    "impossible jump",
    "speed above limit",
)


@dataclass
class CleanResult:
    """Kept fixes (sorted by staff and time, with ``track_id``), dropped fixes with ``reason``,
    and counts: ``summary["kept"] + summary["dropped"] == summary["total"]``."""

    fixes: gpd.GeoDataFrame
    dropped: pd.DataFrame
    summary: dict = field(default_factory=dict)

    def summary_line(self) -> str:
        """``N kept + M dropped = T total (reason: count; ...); K tracks``."""
        s = self.summary
        detail = "; ".join(f"{r}: {n}" for r, n in s["reasons"].items() if n)
        line = f"{s['kept']} kept + {s['dropped']} dropped = {s['total']} total"
        line += f" ({detail})" if detail else ""
        return (
            f"{line}; {s['tracks']} tracks ({s['splits_gap']} split at gaps, "
            f"{s['splits_jump']} at jumps)"
        )


def _district_geometry(district) -> shapely.Geometry:
    if isinstance(district, gpd.GeoDataFrame | gpd.GeoSeries):
        geo = district.to_crs(4326) if district.crs is not None else district
        return shapely.union_all(geo.geometry.to_numpy() if hasattr(geo, "geometry") else geo)
    return district


def clean_fixes(
    fixes: gpd.GeoDataFrame,
    *,
    max_speed_mps: float = CYCLE_MAX_SPEED_MPS,
    district=None,
    tolerance_m: float = GPS_ACCURACY_M,
    split_gap_s: float = 600.0,
    noise_m: float = 10.0,
    now=None,
) -> CleanResult:
    """Drop bad fixes, each with its reason, and split tracks at gaps and jumps.

    Reasons, in this order of precedence (a fix gets the first that applies):

    - ``no coordinates`` / ``no time`` / ``no staff id``: unreadable or missing values.
    - ``time in the future``: later than ``now`` (wall clock; no check when ``now`` is None).
    - ``duplicate``: same staff and same timestamp as an earlier fix (the first in file order is
      kept).
    - ``outside district``: farther than ``tolerance_m`` outside ``district`` (a polygon or a
      GeoDataFrame/GeoSeries in EPSG:4326; skipped when None).
    - ``impossible jump``: a spike. With links to the neighbouring fixes of the same track, a
      link is *fast* when ``(distance - noise_m) / interval > max_speed_mps`` (distances in the
      local metric CRS; ``noise_m`` lets a standing phone's jitter at 1 s sampling pass). A fix
      B between A and C is a spike when A->B and B->C are fast but A->C is not: B is dropped,
      A and C are kept. Runs of 2 or 3 fixes off the path (fast in, slow inside, fast out, the
      bridge plausible) are spikes too. Repeated until none is left (vectorised per pass).
    - ``speed above limit``: after spikes are gone, a fix whose every link is fast (e.g. moving
      in a vehicle faster than the limit: not patrol).

    A remaining single fast link (the fixes on both sides are consistent with their own
    neighbours) splits the track there, as does a gap longer than ``split_gap_s`` between
    consecutive fixes, a new ``track_code`` or a new staff member. No segment is drawn across a
    split.

    Parameters
    ----------
    max_speed_mps
        7.0 m/s (cycling, the default); use ``WALK_MAX_SPEED_MPS`` (2.5 m/s) for foot patrols.

    Returns
    -------
    CleanResult
        ``fixes``: kept rows (original index) sorted by staff, time, with ``track_id`` (int,
        0..n-1); ``dropped``: the dropped rows (original index, no geometry, ``lon, lat`` and
        ``reason``); ``summary``: ``total, kept, dropped, reasons{reason: n}, tracks,
        splits_gap, splits_jump``.
    """
    n = len(fixes)
    geoms = fixes.geometry.to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    lon[~empty] = shapely.get_x(geoms[~empty])
    lat[~empty] = shapely.get_y(geoms[~empty])
    t = times_ns(fixes["t"].reset_index(drop=True))
    nat = t == np.iinfo(np.int64).min
    staff = fixes["staff_code"].to_numpy(dtype=object)
    staff_missing = pd.isna(staff) | (pd.Series(staff).astype(str).str.strip() == "").to_numpy()

    reason = np.full(n, "", dtype=object)
    bad_xy = ~(np.isfinite(lon) & np.isfinite(lat)) | (np.abs(lon) > 180) | (np.abs(lat) > 90)
    bad_xy |= (lon == 0) & (lat == 0)
    reason[bad_xy] = "no coordinates"
    reason[(reason == "") & nat] = "no time"
    reason[(reason == "") & staff_missing] = "no staff id"
    if now is not None:
        reason[(reason == "") & (t > pd.Timestamp(now).value)] = "time in the future"

    staff_code, staff_uniques = pd.factorize(pd.Series(staff).astype(object), sort=True)
    has_track = "track_code" in fixes
    if has_track:
        track_code = pd.factorize(fixes["track_code"].astype(object), sort=True)[0]
    else:
        track_code = np.zeros(n, dtype=np.int64)

    # sorted order of the valid fixes: staff, time, file order
    valid = np.flatnonzero(reason == "")
    order = valid[np.lexsort((valid, t[valid], staff_code[valid]))]
    dup = np.zeros(len(order), dtype=bool)
    if len(order) > 1:
        dup[1:] = (staff_code[order[1:]] == staff_code[order[:-1]]) & (
            t[order[1:]] == t[order[:-1]]
        )
    reason[order[dup]] = "duplicate"
    order = order[~dup]

    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    crs = None
    if len(order):
        x[order], y[order], crs = to_metric_xy(lon[order], lat[order])
    if district is not None and len(order):
        geom = _district_geometry(district)
        metric = to_metric_geoms([geom], crs)[0]
        area = shapely.buffer(metric, tolerance_m) if tolerance_m > 0 else metric
        shapely.prepare(area)
        inside = shapely.contains_xy(area, x[order], y[order])
        reason[order[~inside]] = "outside district"
        order = order[inside]

    ts = t.astype(np.float64) / NS

    def links(o: np.ndarray):
        """linked[k], fast[k] for the link o[k] -> o[k+1]."""
        same = (staff_code[o[1:]] == staff_code[o[:-1]]) & (track_code[o[1:]] == track_code[o[:-1]])
        dt = ts[o[1:]] - ts[o[:-1]]
        linked = same & (dt <= split_gap_s)
        d = np.hypot(x[o[1:]] - x[o[:-1]], y[o[1:]] - y[o[:-1]])
        fast = linked & ((d - noise_m) > max_speed_mps * dt)
        return linked, fast

    def plausible(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        dt = ts[b] - ts[a]
        d = np.hypot(x[b] - x[a], y[b] - y[a])
        same = (staff_code[a] == staff_code[b]) & (track_code[a] == track_code[b])
        return same & (dt <= split_gap_s) & ((d - noise_m) <= max_speed_mps * dt)

    for _ in range(50):  # each pass is vectorised; real data needs a handful
        m = len(order)
        if m < 3:
            break
        linked, fast = links(order)
        drop = np.zeros(m, dtype=bool)
        for k in (1, 2, 3):  # runs of k fixes off the path: order[i : i + k]
            if m < k + 2:
                break
            i = np.arange(1, m - k)
            cond = fast[i - 1] & fast[i + k - 1]
            for j in range(k - 1):
                cond &= linked[i + j] & ~fast[i + j]
            cond &= plausible(order[i - 1], order[i + k])
            starts = i[cond]
            if k == 1:  # of two adjacent single spikes drop the first; the next pass decides
                keep_first = np.ones(len(starts), dtype=bool)
                keep_first[1:] = starts[1:] != starts[:-1] + 1
                starts = starts[keep_first]
            for j in range(k):
                drop[starts + j] = True
            if drop.any():
                break
        if not drop.any():
            break
        reason[order[drop]] = "impossible jump"
        order = order[~drop]

    m = len(order)
    if m >= 2:
        linked, fast = links(order)
        in_link = np.concatenate([[False], linked])
        in_fast = np.concatenate([[False], fast])
        out_link = np.concatenate([linked, [False]])
        out_fast = np.concatenate([fast, [False]])
        too_fast = (in_link | out_link) & (~in_link | in_fast) & (~out_link | out_fast)
        reason[order[too_fast]] = "speed above limit"
        order = order[~too_fast]

    # track ids after splitting
    m = len(order)
    new_track = np.ones(m, dtype=bool)
    splits_gap = splits_jump = 0
    if m >= 2:
        same = (staff_code[order[1:]] == staff_code[order[:-1]]) & (
            track_code[order[1:]] == track_code[order[:-1]]
        )
        linked, fast = links(order)
        gap = same & ~linked
        jump = linked & fast
        splits_gap, splits_jump = int(gap.sum()), int(jump.sum())
        new_track[1:] = ~same | gap | jump
    track_id = np.cumsum(new_track) - 1

    kept = fixes.iloc[order].copy()
    kept["track_id"] = track_id.astype(np.int64)
    kept["t"] = kept["t"].astype("datetime64[ns]")
    cols = ["staff_code"] + (["track_code"] if has_track else []) + ["track_id", "t"]
    cols += [c for c in kept.columns if c not in cols and c != kept.geometry.name]
    kept = kept[cols + [kept.geometry.name]]
    bad = reason != ""
    dropped = pd.DataFrame(fixes.loc[bad].drop(columns=fixes.geometry.name))
    dropped["lon"] = lon[bad]
    dropped["lat"] = lat[bad]
    dropped["reason"] = reason[bad]
    counts = pd.Series(reason[bad]).value_counts()
    summary = {
        "total": n,
        "kept": len(kept),
        "dropped": int(bad.sum()),
        "reasons": {r: int(counts.get(r, 0)) for r in DROP_REASONS},
        "tracks": int(track_id[-1] + 1) if m else 0,
        "splits_gap": splits_gap,
        "splits_jump": splits_jump,
        "staff": len(staff_uniques),
    }
    return CleanResult(fixes=kept, dropped=dropped, summary=summary)
