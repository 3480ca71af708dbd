"""What the grid page shows, computed: the hierarchy as a tree table, the edit operations that
fit a grid, its neighbours, and the map frame around it. Pure: no Streamlit, no database.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.core.geometry import areas_m2


def hierarchy_table(grids: gpd.GeoDataFrame, query: str = "") -> pd.DataFrame:
    """The hierarchy as a table in tree order (each grid after its parent), optionally searched.

    Parameters
    ----------
    grids
        Current grids (EPSG:4326).
    query
        Case-insensitive text matched against code and name; a match keeps its ancestors too,
        so the tree around it stays readable.

    Returns
    -------
    pandas.DataFrame
        ``code, name, level, parent_name, version, area_km2, households, population``; ``name``
        indented by depth.
    """
    frame = grids[["code", "name", "level", "parent_code", "version", "households", "population"]]
    frame = pd.DataFrame(frame).assign(area_km2=areas_m2(grids.geometry) / 1e6)
    parent = dict(zip(frame["code"], frame["parent_code"], strict=True))
    name = dict(zip(frame["code"], frame["name"], strict=True))

    def path(code: str) -> tuple[str, ...]:
        out: list[str] = []
        seen: set[str] = set()
        while code is not None and not pd.isna(code) and code in parent and code not in seen:
            seen.add(code)
            out.append(code)
            code = parent[code]
        return tuple(reversed(out))

    paths = [path(c) for c in frame["code"]]
    dedicated = (frame["level"] == "dedicated").to_numpy()
    # dedicated grids sort after the regular children of their parent
    keys = [p[:-1] + (("~" + p[-1]),) if d else p for p, d in zip(paths, dedicated, strict=True)]
    frame = frame.assign(_key=keys, _depth=[len(p) - 1 for p in paths])
    if query.strip():
        q = query.strip().lower()
        hit = frame["code"].str.lower().str.contains(q, regex=False) | frame[
            "name"
        ].str.lower().str.contains(q, regex=False)
        keep = set()
        for p in np.asarray(paths, dtype=object)[hit.to_numpy()]:
            keep.update(p)
        frame = frame[frame["code"].isin(keep)]
    frame = frame.sort_values("_key")
    frame["name"] = ["\u3000" * d + n for d, n in zip(frame["_depth"], frame["name"], strict=True)]
    frame["parent_name"] = [name.get(p, "") if p else "" for p in frame["parent_code"]]
    frame["version"] = frame["version"].astype(int)
    cols = ["code", "name", "level", "parent_name", "version", "area_km2", "households"]
    return frame[[*cols, "population"]].reset_index(drop=True)


def operations_for(grids: gpd.GeoDataFrame, code: str) -> list[str]:
    """The edit operations that make sense for one grid, in the page's order."""
    level = grids.loc[grids["code"] == code, "level"].iloc[0]
    if level == "dedicated":
        return ["reshape", "retire"]
    ops = ["reshape", "split", "merge"]
    if level == "micro":
        ops.append("move")
    if level == "l1" or level == "l2":
        ops.append("add_dedicated")
    return ops


def community_of(grids: gpd.GeoDataFrame, code: str) -> str | None:
    """The level-1 grid (community) above ``code`` (``code`` itself for a level-1 grid)."""
    parent = dict(zip(grids["code"], grids["parent_code"], strict=True))
    level = dict(zip(grids["code"], grids["level"], strict=True))
    seen: set[str] = set()
    while code is not None and code not in seen:
        if level.get(code) == "l1":
            return code
        seen.add(code)
        code = parent.get(code)
    return None


def _touching(grids: gpd.GeoDataFrame, code: str, candidates: gpd.GeoDataFrame) -> list[str]:
    geom = grids.loc[grids["code"] == code].geometry.iloc[0]
    cand = candidates[candidates["code"] != code]
    # shared boundary of positive length (not only a corner)
    shared = shapely.length(shapely.intersection(cand.geometry.boundary.to_numpy(), geom.boundary))
    return sorted(cand["code"].to_numpy()[shared > 0].tolist())


def adjacent_siblings(grids: gpd.GeoDataFrame, code: str) -> list[str]:
    """Grids of the same level and parent sharing a border (not only a corner) with ``code``."""
    row = grids.loc[grids["code"] == code].iloc[0]
    same = grids[(grids["level"] == row["level"]) & (grids["parent_code"] == row["parent_code"])]
    return _touching(grids, code, same)


def adjacent_parents(grids: gpd.GeoDataFrame, code: str) -> list[str]:
    """Level-2 grids, other than its own parent, that share a border with micro-grid ``code``."""
    row = grids.loc[grids["code"] == code].iloc[0]
    l2 = grids[(grids["level"] == "l2") & (grids["code"] != row["parent_code"])]
    return _touching(grids, code, l2)


def neighbourhood(grids: gpd.GeoDataFrame, code: str, margin: float = 0.3) -> gpd.GeoDataFrame:
    """The grids around ``code`` worth drawing: everything within ``margin`` × its size."""
    geom = grids.loc[grids["code"] == code].geometry.iloc[0]
    minx, miny, maxx, maxy = geom.bounds
    dx, dy = (maxx - minx) * margin + 1e-4, (maxy - miny) * margin + 1e-4
    box = shapely.box(minx - dx, miny - dy, maxx + dx, maxy + dy)
    return grids[shapely.intersects(grids.geometry.to_numpy(), box)]


def neighbour_frame(view: gpd.GeoDataFrame, code: str) -> gpd.GeoDataFrame:
    """``view`` with a ``role`` per grid (``selected``, ``parent``, ``sibling``, ``child``,
    ``other``) for styling the map around the selected grid."""
    row = view.loc[view["code"] == code].iloc[0]
    role = np.full(len(view), "other", dtype=object)
    role[(view["parent_code"] == row["parent_code"]).to_numpy()] = "sibling"
    role[(view["parent_code"] == code).to_numpy()] = "child"
    role[(view["code"] == row["parent_code"]).to_numpy()] = "parent"
    role[(view["code"] == code).to_numpy()] = "selected"
    out = view[["code", "name", "level", view.geometry.name]].copy()
    out["role"] = role
    return out
