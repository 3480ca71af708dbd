"""Where a case is: its grids in force when it was reported, from a point or a named grid; and
its incident, stored as the incident intake stores one.

A case keeps the micro-grid (``grid_code``, with the ``grid_version`` in force then) and its
level-2 and level-1 ancestors, so it stays attributable to the grids of its time after the map
changes. A case reported with only a grid code (no coordinates) is placed at the grid's
representative point.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy.engine import Connection

from gis.grids import OUTSIDE, assign_points_at
from gis.store.cube import add_to_cube, fishnet_epsg
from gis.store.frames import save_frame
from gis.units import unit_keys

#: the columns ``locate_cases`` returns
LOCATION_COLUMNS = ("grid_code", "grid_version", "grid_l2", "grid_l1", "lon", "lat", "located")


def _versions_at(versions: pd.DataFrame, codes: pd.Series, times: pd.Series) -> pd.DataFrame:
    """Per row, the version row of ``codes[i]`` in force at ``times[i]`` (else its newest)."""
    rows = pd.DataFrame(
        {"code": codes.to_numpy(dtype=object), "t": pd.to_datetime(times).to_numpy()}
    )
    rows["i"] = np.arange(len(rows))
    cols = ["code", "version", "level", "parent_code", "valid_from", "valid_to", "geometry"]
    v = versions[[c for c in cols if c in versions.columns]].copy()
    if "version" not in v:
        v["version"] = 1
    for c in ("valid_from", "valid_to"):
        v[c] = pd.to_datetime(v[c]) if c in v else pd.NaT
    m = rows.merge(v, on="code", how="inner")
    ok = (m["valid_from"].isna() | (m["valid_from"] <= m["t"])) & (
        m["valid_to"].isna() | (m["valid_to"] > m["t"])
    )
    m["_rank"] = np.where(ok, 1, 0)
    m = m.sort_values(["i", "_rank", "version"]).drop_duplicates("i", keep="last")
    return m.set_index("i").reindex(np.arange(len(rows)))


def locate_cases(
    lon: np.ndarray,
    lat: np.ndarray,
    grid_codes: pd.Series,
    times: pd.Series,
    versions: gpd.GeoDataFrame,
) -> pd.DataFrame:
    """Grids in force at each case's time, from its point or, without one, its named grid.

    Parameters
    ----------
    lon, lat
        Coordinates (EPSG:4326); NaN where the row has none.
    grid_codes
        A grid code named by the row (used when it has no point); None/NaN otherwise.
    times
        The report times (naive wall clock).
    versions
        Every grid version (``read_frame(engine, "grids")``); may be empty.

    Returns
    -------
    pandas.DataFrame
        ``LOCATION_COLUMNS``: ``located`` is ``point``, ``grid`` (placed at the named grid),
        ``outside`` (a point outside every grid), ``unknown_grid`` (a named grid not in the store)
        or ``none`` (no point, no grid).
    """
    n = len(lon)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    times = pd.Series(pd.to_datetime(pd.Series(times)).to_numpy())
    codes = pd.Series(grid_codes, dtype=object).reset_index(drop=True)
    codes = codes.where(codes.notna() & (codes.astype(str).str.strip() != ""), None)
    out = pd.DataFrame(
        {
            "grid_code": pd.Series([None] * n, dtype=object),
            "grid_version": pd.array([pd.NA] * n, dtype="Int64"),
            "grid_l2": pd.Series([None] * n, dtype=object),
            "grid_l1": pd.Series([None] * n, dtype=object),
            "lon": lon.copy(),
            "lat": lat.copy(),
            "located": pd.Series(["none"] * n, dtype=object),
        }
    )
    has_point = np.isfinite(lon) & np.isfinite(lat)
    regular = versions[versions["level"].isin(["l1", "l2", "micro"])] if len(versions) else versions
    parents = {}
    if len(versions):
        newest = versions.sort_values("version") if "version" in versions else versions
        parents = dict(zip(newest["code"], newest["parent_code"], strict=True))
    pts = np.flatnonzero(has_point)
    out.loc[pts, "located"] = "point"
    if len(pts) and len(regular) and (regular["level"] == "micro").any():
        assigned = assign_points_at(lon[pts], lat[pts], times.iloc[pts].to_numpy(), regular)
        micro = assigned["micro"].to_numpy(dtype=object)
        inside = micro != OUTSIDE
        out.loc[pts[~inside], "located"] = "outside"
        idx = pts[inside]
        out.loc[idx, "grid_code"] = micro[inside]
        out.loc[idx, "grid_l2"] = assigned["l2"].to_numpy(dtype=object)[inside]
        out.loc[idx, "grid_l1"] = assigned["l1"].to_numpy(dtype=object)[inside]
        found = _versions_at(versions, out.loc[idx, "grid_code"], times.iloc[idx])
        out.loc[idx, "grid_version"] = pd.array(found["version"].to_numpy(), dtype="Int64")
    named = np.flatnonzero(~has_point & codes.notna().to_numpy())
    if len(named):
        found = (
            _versions_at(versions, codes.iloc[named], times.iloc[named]) if len(versions) else None
        )
        for k, i in enumerate(named):
            row = None if found is None else found.iloc[k]
            if row is None or pd.isna(row.get("level")):
                out.loc[i, "located"] = "unknown_grid"
                continue
            code, level = str(codes.iloc[i]).strip(), row["level"]
            chain = {"micro": None, "l2": None, "l1": None}
            if level in ("micro", "dedicated"):
                chain["micro"] = code
                chain["l2"] = parents.get(code) if level == "micro" else None
                chain["l1"] = parents.get(chain["l2"]) if chain["l2"] else parents.get(code)
            elif level == "l2":
                chain["l2"], chain["l1"] = code, parents.get(code)
            else:
                chain["l1"] = code
            point = shapely.point_on_surface(row["geometry"])
            out.loc[i, ["grid_code", "grid_l2", "grid_l1"]] = [
                chain["micro"],
                chain["l2"],
                chain["l1"],
            ]
            out.loc[i, "grid_version"] = int(row["version"])
            out.loc[i, ["lon", "lat"]] = [shapely.get_x(point), shapely.get_y(point)]
            out.loc[i, "located"] = "grid"
    return out


def store_case_incidents(conn: Connection, incidents: gpd.GeoDataFrame) -> int:
    """Write the incidents of new cases as the incident intake does: with the unit keys every
    page aggregates on (H3 cells, fishnet), merged into the cube, in the caller's transaction.

    Returns
    -------
    int
        Incidents written.
    """
    if len(incidents) == 0:
        return 0
    frame = incidents.copy()
    lon = shapely.get_x(frame.geometry.to_numpy())
    lat = shapely.get_y(frame.geometry.to_numpy())
    for col, keys in unit_keys(lon, lat, fishnet_epsg(conn, lon, lat)).items():
        frame[col] = keys
    save_frame(conn, "incidents", frame)
    add_to_cube(conn, frame)
    return len(frame)


__all__ = ["LOCATION_COLUMNS", "locate_cases", "store_case_incidents"]
