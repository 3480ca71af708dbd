"""The grid hierarchy: reading grid files into versioned grids.

Grids are versioned in the store: an import closes the versions it replaces (``valid_to``) and
adds new ones, so incidents stay attributable to the grid in force when they happened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gis.crs import areas_m2
from gis.errors import InputError
from gis.io import accounting_line, read_geo_file, rejected_rows
from gis.store.frames import read_frame, save_frame
from gis.store.models import GRID_LEVELS

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


@dataclass
class GridImportResult:
    """Counts of a grid import and the rejected rows with their ``reason``."""

    total: int
    imported: int
    closed: int
    rejected: pd.DataFrame = field(repr=False)

    def summary_line(self) -> str:
        line = accounting_line(self.imported, self.rejected, self.total)
        return f"{line}; {self.closed} earlier version(s) closed"


def prepare_grids(
    frame: gpd.GeoDataFrame,
    geometry_reason: pd.Series,
    *,
    mapping: dict[str, str] | None = None,
    default_level: str | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Map the file's fields to grid columns and split rows into accepted and rejected.

    Parameters
    ----------
    mapping
        ``{grid column: file column}``, e.g. ``{"code": "PRECINCT", "parent_code": "WARD"}``.
    default_level
        Level for rows whose file has no level column.
    """
    mapping = mapping or {}
    frame = frame.copy()
    for target, source in mapping.items():
        if source not in frame:
            raise InputError(f"field {source!r} (for {target}) is not in the file")
        frame[target] = frame[source]
    if "code" not in frame:
        raise InputError("no 'code' field; map one with --code-field")
    if "level" not in frame:
        if default_level is None:
            raise InputError("no 'level' field; map one or give --level")
        frame["level"] = default_level
    if "name" not in frame:
        frame["name"] = frame["code"]
    reason = geometry_reason.astype(object).copy()
    geoms = frame.geometry.to_numpy()
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6])
    reason[(reason == "") & ~polygonal] = "geometry is not a polygon"
    code = frame["code"].astype(object).where(frame["code"].notna(), None)
    code = code.map(lambda v: None if v is None else str(v).strip())
    frame["code"] = code
    reason[(reason == "") & (code.isna() | (code == ""))] = "no code"
    reason[(reason == "") & code.duplicated(keep="first")] = "duplicate code in the file"
    level_ok = frame["level"].isin(GRID_LEVELS)
    reason[(reason == "") & ~level_ok] = f"level not one of {', '.join(GRID_LEVELS)}"
    invalid = (reason == "") & ~shapely.is_valid(geoms)
    if invalid.any():  # repair rather than reject: the report (issue 4) shows what changed
        fixed = shapely.make_valid(geoms[invalid.to_numpy()])
        geoms = geoms.copy()
        geoms[invalid.to_numpy()] = fixed
    ok = (reason == "").to_numpy()
    keep = [c for c in GRID_COLUMNS if c in frame]
    accepted = gpd.GeoDataFrame(frame.loc[ok, keep], geometry=geoms[ok], crs=frame.crs)
    for col in ("households", "population", "businesses"):
        if col in accepted:
            accepted[col] = pd.to_numeric(accepted[col], errors="coerce").astype("Int64")
    if "parent_code" in accepted:
        accepted["parent_code"] = accepted["parent_code"].map(
            lambda v: None if v is None or pd.isna(v) else str(v).strip()
        )
    polys = accepted.geometry.to_numpy()
    is_poly = shapely.get_type_id(polys) == 3
    polys[is_poly] = [shapely.multipolygons([p]) for p in polys[is_poly]]
    # make_valid can return a collection: keep its polygonal parts
    coll = shapely.get_type_id(polys) == 7
    for i in np.flatnonzero(coll):
        parts = shapely.get_parts(polys[i])
        polys[i] = shapely.multipolygons(
            [q for p in parts for q in shapely.get_parts(p) if shapely.get_type_id(q) == 3]
        )
    accepted = accepted.set_geometry(list(polys), crs=accepted.crs)
    return accepted, rejected_rows(frame, reason)


def import_grids(
    engine: Engine,
    path: str | Path,
    *,
    mapping: dict[str, str] | None = None,
    level: str | None = None,
    replace: bool = False,
    imported_by: str = "cli",
    reason_text: str = "import",
    crs: str | int | None = None,
) -> GridImportResult:
    """Import grids from a file as new current versions, in one transaction.

    Codes already current in the store get a new version (the old one is closed). With
    ``replace``, every current grid not in the file is closed as well.
    """
    frame, reasons = read_geo_file(path, crs=crs)
    accepted, rejected = prepare_grids(frame, reasons, mapping=mapping, default_level=level)
    now = datetime.now().replace(microsecond=0)
    with engine.begin() as conn:
        current = read_frame(
            conn, "grids", columns=["id", "code", "version"], where="valid_to IS NULL"
        )
        version = dict(zip(current["code"], current["version"], strict=True))
        to_close = current if replace else current[current["code"].isin(accepted["code"])]
        if len(to_close):
            ids = ",".join(str(int(i)) for i in to_close["id"])
            conn.execute(
                sa.text(f"UPDATE grids SET valid_to = :now WHERE id IN ({ids})"), {"now": now}
            )
        accepted = accepted.assign(
            version=[int(version.get(c, 0)) + 1 for c in accepted["code"]],
            valid_from=now,
            created_by=imported_by,
        )
        save_frame(conn, "grids", accepted)
        edits = pd.DataFrame(
            {
                "grid_code": accepted["code"].to_numpy(),
                "action": "import",
                "version_before": [version.get(c) for c in accepted["code"]],
                "version_after": accepted["version"].to_numpy(),
                "edited_by": imported_by,
                "edited_at": now,
                "reason": reason_text,
                "details": json.dumps({"file": Path(path).name}, ensure_ascii=False),
            }
        )
        edits["version_before"] = edits["version_before"].astype("Int64")
        save_frame(
            conn,
            "grid_edits",
            gpd.GeoDataFrame(
                edits, geometry=accepted.geometry.to_numpy(), crs=accepted.crs
            ).rename_geometry("geom_after"),
        )
    return GridImportResult(
        total=len(frame), imported=len(accepted), closed=len(to_close), rejected=rejected
    )


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


OUTSIDE = "outside"


def assign_points(points: gpd.GeoSeries, grids: gpd.GeoDataFrame) -> pd.DataFrame:
    """The micro-grid of each point and its ancestors (level-2, level-1).

    Parameters
    ----------
    points
        Point geometries in the same CRS as ``grids`` (EPSG:4326 in the store).
    grids
        Current grids with ``code, level, parent_code`` (regular levels; dedicated are ignored).

    Returns
    -------
    pandas.DataFrame
        Index of ``points``; columns ``micro, l2, l1``. A point outside every micro-grid is
        labelled ``"outside"`` (never dropped). A point exactly on an edge shared by two grids
        goes to the one with the smaller code, so every point has exactly one micro-grid.
    """
    micro = grids[grids["level"] == "micro"].sort_values("code")
    codes = micro["code"].to_numpy()
    tree = shapely.STRtree(micro.geometry.to_numpy())
    pts = points.to_numpy()
    hit_pt, hit_poly = tree.query(pts, predicate="intersects")
    first = np.full(len(pts), -1, dtype=np.int64)
    # the smallest polygon index (= smallest code) wins on shared edges: reverse order, last wins
    order = np.lexsort((-hit_poly, hit_pt))
    first[hit_pt[order]] = hit_poly[order]
    micro_code = np.where(first >= 0, codes[np.maximum(first, 0)], OUTSIDE).astype(object)
    parent = dict(zip(grids["code"], grids["parent_code"], strict=True))
    l2 = np.array([parent.get(c, OUTSIDE) or OUTSIDE for c in micro_code], dtype=object)
    l1 = np.array([parent.get(c, OUTSIDE) or OUTSIDE for c in l2], dtype=object)
    return pd.DataFrame({"micro": micro_code, "l2": l2, "l1": l1}, index=points.index)


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
