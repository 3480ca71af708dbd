"""The grid hierarchy: its levels, the grid table's columns, and walking it.

Regular grids (``l1`` community grids, ``l2`` grids, ``micro``-grids) tile their parent;
dedicated grids (专属网格: a school, a hospital ...) overlay a regular one. Grids are versioned
in the store (``valid_from`` / ``valid_to``): :func:`in_force` picks the versions in force at
a time.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.core.geometry import areas_m2
from gis.store.models import GRID_LEVELS

#: attribute columns of the ``grids`` table a grid file and an edit carry (besides geometry)
GRID_COLUMNS = [
    "code",
    "name",
    "level",
    "parent_code",
    "kind",
    "households",
    "population",
    "businesses",
]


#: Which level a regular grid's parent must have (dedicated grids may sit under any regular one).
PARENT_LEVEL = {"l2": "l1", "micro": "l2"}
LEVEL_ZH = {"l1": "一级网格", "l2": "二级网格", "micro": "微网格", "dedicated": "专属网格"}
#: kinds of dedicated grid (专属网格) the demo district and DOMAIN.md name
DEDICATED_KINDS = ("school", "hospital", "market", "park", "enterprise", "government")


def _is_blank(value) -> bool:
    return (
        value is None
        or (isinstance(value, float) and np.isnan(value))
        or value is pd.NA
        or (isinstance(value, str) and value.strip() == "")
    )


def clean_code(value) -> str | None:
    """A grid code as stripped text; None for a blank value (None, NaN, NA, empty text).

    A whole-number float (a code a spreadsheet read as a number) gives its integer digits.
    """
    if _is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def in_force(versions: pd.DataFrame, at) -> np.ndarray:
    """Mask of the grid versions in force at time ``at`` (valid_from <= at < valid_to)."""
    at = pd.Timestamp(at)
    start = pd.to_datetime(versions["valid_from"]) if "valid_from" in versions else None
    end = pd.to_datetime(versions["valid_to"]) if "valid_to" in versions else None
    ok = np.ones(len(versions), dtype=bool)
    if start is not None:
        ok &= (start.isna() | (start <= at)).to_numpy()
    if end is not None:
        ok &= (end.isna() | (end > at)).to_numpy()
    return ok


def descendants(code: str, grids: pd.DataFrame) -> set[str]:
    """``code`` and every grid below it (children, grandchildren ...)."""
    children: dict[str, list[str]] = {}
    for child, parent in zip(grids["code"], grids["parent_code"], strict=True):
        if parent is not None and not pd.isna(parent):
            children.setdefault(parent, []).append(child)
    out, stack = set(), [code]
    while stack:
        current = stack.pop()
        if current in out:
            continue
        out.add(current)
        stack.extend(children.get(current, []))
    return out


def hierarchy_summary(grids: gpd.GeoDataFrame) -> dict[str, float | int | dict[str, int]]:
    """Headline numbers of a hierarchy: grids per level, district area, households, population.

    Area (km²) and totals come from the level-1 grids (they tile the district); when there are
    none, from the micro-grids.
    """
    counts = {level: int((grids["level"] == level).sum()) for level in GRID_LEVELS}
    base = grids[grids["level"] == "l1"]
    if base.empty:
        base = grids[grids["level"] == "micro"]
    total = base[["households", "population", "businesses"]].apply(pd.to_numeric, errors="coerce")
    return {
        "levels": counts,
        "area_km2": float(areas_m2(base.geometry).sum() / 1e6) if len(base) else 0.0,
        "households": int(total["households"].sum()),
        "population": int(total["population"].sum()),
        "businesses": int(total["businesses"].sum()),
    }
