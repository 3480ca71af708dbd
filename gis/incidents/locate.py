"""Geography of an import: the district outline, the grids of each point, the CRS hint."""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis.core import coords
from gis.core.geometry import REGULAR_LEVELS, district_outline, local_metric_crs
from gis.grids import OUTSIDE, assign_points


@dataclass
class District:
    """The district's outline (union of level-1 grids) in a metric CRS, for distance checks."""

    metric_crs: pyproj.CRS
    outline_m: shapely.Geometry
    to_metric: pyproj.Transformer = field(repr=False)

    @classmethod
    def from_grids(cls, grids: gpd.GeoDataFrame) -> District | None:
        """From current grids (EPSG:4326): ``gis.core.geometry.district_outline`` (the union of
        the level-1 grids, else of the coarsest regular level present); None without any."""
        if not grids["level"].isin(REGULAR_LEVELS).any():
            return None
        outline = gpd.GeoSeries([district_outline(grids)], crs=4326)
        metric = local_metric_crs(outline)
        outline_m = outline.to_crs(metric).iloc[0]
        shapely.prepare(outline_m)
        return cls(metric, outline_m, pyproj.Transformer.from_crs(4326, metric, always_xy=True))

    def metric(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Metric ``x, y`` (m, in ``metric_crs``) of WGS-84 ``lon, lat``."""
        return self.to_metric.transform(lon, lat)

    def within(self, lon: np.ndarray, lat: np.ndarray, tolerance_m: float) -> np.ndarray:
        """True where a WGS-84 point is inside the outline or within ``tolerance_m`` of it."""
        x, y = self.metric(lon, lat)
        ok = np.isfinite(x) & np.isfinite(y)
        out = np.zeros(len(x), dtype=bool)
        out[ok] = shapely.contains_xy(self.outline_m, x[ok], y[ok]) | shapely.intersects_xy(
            self.outline_m, x[ok], y[ok]
        )
        rest = ok & ~out
        if tolerance_m > 0 and rest.any():
            # dwithin on the prepared outline: no buffer of a long coastline needed
            out[rest] = shapely.dwithin(
                self.outline_m, shapely.points(x[rest], y[rest]), tolerance_m
            )
        return out


def crs_hint(
    raw_x: np.ndarray,
    raw_y: np.ndarray,
    crs: str,
    district: District,
    tolerance_m: float,
    *,
    max_points: int = 20_000,
) -> tuple[str | None, dict[str, float]]:
    """Would the points land inside the district if read as GCJ-02 or BD-09 (or WGS-84)?

    Parameters
    ----------
    raw_x, raw_y
        The file's numeric coordinates (finite ones), as given, before conversion.
    crs
        The coordinate system they were read as (``coords.normalize_crs`` name).

    Returns
    -------
    (hint or None, {system: share of points beyond the tolerance})
        A hint when at least 5 % (and 20 points) are outside as read and another reading at
        least halves that number: it names the system to pass (``--crs gcj02``).
    """
    if crs not in (coords.WGS84, coords.GCJ02, coords.BD09) or len(raw_x) == 0:
        return None, {}
    if len(raw_x) > max_points:
        pick = np.linspace(0, len(raw_x) - 1, max_points).astype(np.int64)
        raw_x, raw_y = raw_x[pick], raw_y[pick]
    outside = {}
    for name in (coords.WGS84, coords.GCJ02, coords.BD09):
        x, y = coords.to_wgs84(raw_x, raw_y, name)
        outside[name] = float((~district.within(x, y, tolerance_m)).mean())
    here = outside[crs]
    best = min((n for n in outside if n != crs), key=outside.get)
    if here * len(raw_x) >= 20 and here >= 0.05 and outside[best] <= here / 2:
        hint = (
            f"{here:.0%} of the points lie more than {tolerance_m:g} m outside the district "
            f"read as {crs}, only {outside[best]:.0%} read as {best}: the coordinates look like "
            f"{best.upper()}; import again with --crs {best}"
        )
        return hint, outside
    return None, outside


_ASSIGN_HAS_LEVEL = "level" in inspect.signature(assign_points).parameters


def _levels_chain(grids: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    level = dict(zip(grids["code"], grids["level"], strict=False))
    parent = dict(zip(grids["code"], grids["parent_code"], strict=False))
    return level, parent


def assign_incident_grids(
    lon: np.ndarray, lat: np.ndarray, grids: gpd.GeoDataFrame
) -> pd.DataFrame:
    """The finest grid (micro, else level-2, else level-1) of each point and its ancestors.

    Uses ``gis.grids.assign_points`` (a point on a shared edge goes to the smaller code); a
    point outside every grid (the tolerance band around the district) goes to the nearest one.

    Returns
    -------
    DataFrame
        ``grid_code`` (finest), ``grid_l2``, ``grid_l1`` (None where a level does not exist),
        ``snapped`` (True where the nearest grid was taken).
    """
    regular = grids[grids["level"].isin(["micro", "l2", "l1"])]
    n = len(lon)
    empty = pd.DataFrame(
        {"grid_code": [None] * n, "grid_l2": [None] * n, "grid_l1": [None] * n, "snapped": False}
    )
    if regular.empty or n == 0:
        return empty
    finest = next(lv for lv in ("micro", "l2", "l1") if (regular["level"] == lv).any())
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if _ASSIGN_HAS_LEVEL:  # assign_points((x, y), grids, level=...) assigns the finest level
        got = assign_points((lon, lat), regular, level=finest)
        code = got.iloc[:, 0].to_numpy(dtype=object).copy()
    else:  # micro-grids only: present the finest level as "micro"
        relabel = regular.copy()
        relabel["level"] = np.where(relabel["level"] == finest, "micro", "_" + relabel["level"])
        pts = gpd.GeoSeries(shapely.points(lon, lat), crs=grids.crs)
        code = assign_points(pts, relabel)["micro"].to_numpy(dtype=object)
    out_mask = code == OUTSIDE
    if out_mask.any():
        fine = regular[regular["level"] == finest]
        tree = shapely.STRtree(fine.geometry.to_numpy())
        pts_out = shapely.points(lon[out_mask], lat[out_mask])
        idx = tree.query_nearest(pts_out, return_distance=False, all_matches=False)
        code[np.flatnonzero(out_mask)[idx[0]]] = fine["code"].to_numpy()[idx[1]]
    level, parent = _levels_chain(regular)
    # distinct grids by hashing, not by sorting a million fixed-width strings
    inv, uniq = pd.factorize(code, use_na_sentinel=False)
    l2 = np.empty(len(uniq), dtype=object)
    l1 = np.empty(len(uniq), dtype=object)
    for i, c in enumerate(uniq):  # over distinct grids, not points
        chain, cur = [], (None if c is None else str(c))
        while cur is not None and cur in level and len(chain) < 6:
            chain.append(cur)
            cur = parent.get(cur)
            cur = None if cur is None or (isinstance(cur, float) and math.isnan(cur)) else cur
        by_level = {level[g]: g for g in chain}
        l2[i], l1[i] = by_level.get("l2"), by_level.get("l1")
    return pd.DataFrame(
        {"grid_code": code, "grid_l2": l2[inv], "grid_l1": l1[inv], "snapped": out_mask}
    )


def assign_grids_in_force(
    lon: np.ndarray, lat: np.ndarray, at: pd.Series, versions: gpd.GeoDataFrame
) -> tuple[pd.DataFrame, str]:
    """``assign_incident_grids`` with the grid versions in force at each incident's time.

    ``versions``: every grid version (``valid_from``, ``valid_to``). Times are split at the
    version changes; an incident older than every version gets the first hierarchy (grids are
    usually drawn after the history they are used on): the first version of every grid that
    started before any version was closed. Returns the frame and a note.
    """
    if versions.empty or len(lon) == 0:
        note = "no grids in the store: none assigned" if versions.empty else "no rows"
        return assign_incident_grids(lon, lat, versions.iloc[:0]), note
    starts = pd.to_datetime(versions["valid_from"])
    ends = pd.to_datetime(versions["valid_to"])
    changes = np.unique(np.concatenate([starts.to_numpy(), ends.dropna().to_numpy()]))
    t = pd.to_datetime(at).to_numpy()
    # -1: older than every version. Those get the first hierarchy: every version that started
    # before the first one was closed (a hierarchy loaded in several imports, a second apart,
    # is still one hierarchy), the earliest version of each code.
    slot = np.searchsorted(changes, t, side="right") - 1
    first_close = ends.min()
    initial = versions[starts < first_close] if pd.notna(first_close) else versions
    initial = initial.assign(_start=starts).sort_values("_start").drop_duplicates("code")
    initial = initial.drop(columns="_start")
    parts = []
    for s in np.unique(slot):
        if s < 0:
            live = initial
        else:
            when = changes[s]
            live = versions[(starts <= when) & (ends.isna() | (ends > when))]
        rows = np.flatnonzero(slot == s)
        part = assign_incident_grids(lon[rows], lat[rows], live)
        part.index = rows
        parts.append(part)
    out = pd.concat(parts).sort_index()
    note = "grids in force at each incident's time"
    if len(changes) == 1 or (ends.isna().all()):
        note = "current grids (no earlier grid versions)"
    return out.reset_index(drop=True), note
