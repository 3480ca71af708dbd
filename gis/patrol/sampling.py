"""Between fixes: straight fix-to-fix segments and presence samples interpolated along them."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.core.errors import InputError
from gis.core.geometry import to_metric_xy
from gis.patrol.clock import NS, times_ns


def _track_key(fixes: pd.DataFrame) -> np.ndarray:
    if "track_id" in fixes:
        return fixes["track_id"].to_numpy(dtype=np.int64)
    keys = [fixes["staff_code"].astype(object)]
    if "track_code" in fixes:
        keys.append(fixes["track_code"].astype(object))
    return (
        pd.MultiIndex.from_arrays(keys).factorize()[0]
        if len(keys) > 1
        else pd.factorize(keys[0])[0]
    )


def _sorted_fixes(fixes: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, np.ndarray, np.ndarray]:
    """Fixes sorted by track and time, with their track key and times (ns)."""
    track = _track_key(fixes)
    t = times_ns(fixes["t"].reset_index(drop=True))
    order = np.lexsort((t, track))
    return fixes.iloc[order], track[order], t[order]


def segments(fixes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Fix-to-fix straight line segments within each track.

    Parameters
    ----------
    fixes
        Cleaned fixes (``clean_fixes(...).fixes``: ``staff_code, track_id, t, geometry``). Without
        ``track_id``, tracks are ``staff_code`` (and ``track_code`` when present).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per pair of consecutive fixes of a track: ``staff_code, track_id, t_start,
        t_end, dt_s, length_m, speed_mps`` and a 2-point LineString (EPSG:4326). Lengths in the
        local metric CRS.
    """
    fx, track, t = _sorted_fixes(fixes)
    xy = shapely.get_coordinates(fx.geometry.to_numpy())
    if len(xy) != len(fx):
        raise InputError("segments() needs one point per fix: clean the fixes first")
    a = np.flatnonzero(track[1:] == track[:-1])
    b = a + 1
    coords = np.empty((2 * len(a), 2))
    coords[0::2], coords[1::2] = xy[a], xy[b]
    lines = shapely.linestrings(coords, indices=np.repeat(np.arange(len(a)), 2))
    if len(a):
        mx, my, _ = to_metric_xy(xy[:, 0], xy[:, 1])
        length = np.hypot(mx[b] - mx[a], my[b] - my[a])
    else:
        length = np.zeros(0)
    dt = (t[b] - t[a]) / NS
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.where(dt > 0, length / dt, np.nan)
    return gpd.GeoDataFrame(
        {
            "staff_code": fx["staff_code"].to_numpy(dtype=object)[a],
            "track_id": track[a],
            "t_start": t[a].view("datetime64[ns]"),
            "t_end": t[b].view("datetime64[ns]"),
            "dt_s": dt,
            "length_m": length,
            "speed_mps": speed,
        },
        geometry=lines,
        crs=4326,
    )


def interpolate(fixes: gpd.GeoDataFrame, *, step_s: float = 15.0) -> gpd.GeoDataFrame:
    """Presence samples at a regular time step along the straight fix-to-fix segments.

    Each segment of ``dt`` seconds is cut into ``ceil(dt / step_s)`` equal pieces; a sample at the
    start of each piece stands for the piece's duration (``w_s``). A track's last fix is a
    sample with ``w_s = 0``. So the samples of a track cover its whole duration, and sparse fixes
    (every 5 minutes) still count as presence along the path between them. Positions are linear
    in lon/lat (straight within the metre-scale error at district size).

    Returns
    -------
    geopandas.GeoDataFrame
        ``staff_code, track_id, t, w_s, interpolated`` (False for the fixes themselves) and point
        geometry (EPSG:4326), sorted by track and time.
    """
    fx, track, t = _sorted_fixes(fixes)
    xy = shapely.get_coordinates(fx.geometry.to_numpy())
    m = len(fx)
    has_next = np.zeros(m, dtype=bool)
    has_next[:-1] = track[1:] == track[:-1]
    dt = np.zeros(m)
    nxt = np.minimum(np.arange(m) + 1, max(m - 1, 0))
    dt[has_next] = (t[nxt][has_next] - t[has_next]) / NS
    pieces = np.where(has_next, np.maximum(1, np.ceil(dt / step_s - 1e-9)), 1).astype(np.int64)
    src = np.repeat(np.arange(m), pieces)
    first = np.repeat(np.cumsum(pieces) - pieces, pieces)
    j = np.arange(len(src)) - first
    frac = j / pieces[src]
    dxy = xy[nxt] - xy
    sx = xy[src, 0] + frac * dxy[src, 0] * has_next[src]
    sy = xy[src, 1] + frac * dxy[src, 1] * has_next[src]
    w = np.where(has_next[src], dt[src] / pieces[src], 0.0)
    st = t[src] + np.round(frac * dt[src] * NS).astype(np.int64)
    return gpd.GeoDataFrame(
        {
            "staff_code": fx["staff_code"].to_numpy(dtype=object)[src],
            "track_id": track[src],
            "t": st.view("datetime64[ns]"),
            "w_s": w,
            "interpolated": j > 0,
        },
        geometry=shapely.points(sx, sy),
        crs=4326,
    )


def as_samples(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Samples as they are (a frame with ``w_s``), or fixes turned into samples (``w_s`` = time
    to the next fix of the track, 0 for a track's last fix; ``track_id`` added)."""
    if "w_s" in frame:
        return frame
    fx, track, t = _sorted_fixes(frame)
    w = np.zeros(len(fx))
    same = track[1:] == track[:-1]
    w[:-1] = np.where(same, (t[1:] - t[:-1]) / NS, 0.0)
    out = fx.copy()
    out["track_id"] = track
    out["w_s"] = w
    return out
