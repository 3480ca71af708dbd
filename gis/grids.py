"""The grid hierarchy: validation, codes, point assignment, and grid files.

- ``validate_hierarchy`` checks a hierarchy against the standards' rules (tiles with no gap or
  overlap, every grid under its parent, well-formed unique codes) and returns a
  ``ValidationReport`` (a GeoDataFrame of problems with areas in m², and readable zh/en text).
- ``grid_code``, ``parse_code``, ``next_free_codes``, ``number_children``: 15-digit codes
  (legacy 14-digit accepted), numbered west->east, north->south; overflow is an error.
- ``assign_points`` / ``GridIndex`` / ``assign_points_at``: each point's micro-grid and
  ancestors by integer cell keys with exact tests only near boundaries, optionally with the
  grid version in force at each point's time.
- ``import_grids`` / ``validate_grid_file`` / ``export_grids``: files in and out. Grids are
  versioned in the store: an import closes the versions it replaces (``valid_to``) and adds new
  ones, so incidents stay attributable to the grid in force when they happened; it validates
  the would-be hierarchy before writing anything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gis.core.crs import areas_m2, local_metric_crs
from gis.core.errors import InputError
from gis.core.settings import STORAGE_EPSG
from gis.io import accounting_line, read_geo_file, rejected_rows, write_geo_file
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
    """Counts of a grid import, the rejected rows with their ``reason``, and the validation
    report of the hierarchy as it is (or, for a dry run, would be) after the import."""

    total: int
    imported: int
    closed: int
    rejected: pd.DataFrame = field(repr=False)
    report: ValidationReport | None = field(default=None, repr=False)
    written: bool = True
    dry_run: bool = False

    def summary_line(self) -> str:
        line = accounting_line(self.imported, self.rejected, self.total)
        if self.dry_run:
            return f"dry run, nothing written: {line}; {self.closed} version(s) would be closed"
        if not self.written:
            return f"refused, nothing written: {line}"
        return f"{line}; {self.closed} earlier version(s) closed"


class GridImportRefused(InputError):
    """The imported hierarchy would have errors; nothing was written. ``report`` says which."""

    def __init__(self, report: ValidationReport, result: GridImportResult) -> None:
        self.report = report
        self.result = result
        super().__init__(
            f"import refused, nothing written: the hierarchy would have {report.errors} "
            f"error(s) (allow_errors=True imports anyway)\n{report.text()}"
        )


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
    if "parent_code" not in frame and "parent_cod" in frame:  # Shapefile's 10-character names
        frame["parent_code"] = frame["parent_cod"]
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


#: file column names (lower case) that usually hold each grid field, in order of preference
GRID_FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "code": ("code", "编码", "网格编码", "precinct"),
    "name": ("name", "名称", "网格名称"),
    "parent_code": ("parent_code", "parent", "上级编码", "ward"),
    "level": ("level", "层级"),
}


def guess_grid_fields(columns: list[str]) -> dict[str, str]:
    """The file column that probably holds each grid field (``code, name, parent_code,
    level``), matched case-insensitively against :data:`GRID_FIELD_NAMES`; fields with no
    likely column are absent. A starting point for the mapping a person confirms."""
    lower = {str(c).lower(): c for c in reversed(columns)}  # first column wins on a tie
    out = {}
    for field_name, names in GRID_FIELD_NAMES.items():
        hit = next((lower[n] for n in names if n in lower), None)
        if hit is not None:
            out[field_name] = hit
    return out


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
    allow_errors: bool = False,
    check_only: bool = False,
    sliver_m2: float = 50.0,
) -> GridImportResult:
    """Import grids from a file as new current versions, in one transaction, after validating
    the hierarchy they would make.

    Codes already current in the store get a new version (the old one is closed). With
    ``replace``, every current grid not in the file is closed as well. Before anything is
    written, the would-be hierarchy (current grids merged with the file's) is checked with
    ``validate_hierarchy``; geometries ``prepare_grids`` repaired are reported as
    ``invalid_geometry`` warnings.

    Parameters
    ----------
    mapping
        ``{grid column: file column}`` for ``code``, ``name``, ``parent_code``, ``level``.
    level
        Level of every row when the file has no level field.
    crs
        CRS of a file that declares none (tables: of the WKT or lon/lat columns).
    allow_errors
        Import even when the report has errors (otherwise ``GridImportRefused``, an
        ``InputError`` carrying the report text, and nothing is written).
    check_only
        Dry run: validate and count, write nothing (``result.written`` is False).

    Raises
    ------
    GridImportRefused
        When the would-be hierarchy has errors and ``allow_errors`` is False.
    """
    frame, reasons = read_geo_file(path, crs=crs)
    accepted, rejected = prepare_grids(frame, reasons, mapping=mapping, default_level=level)
    repaired = _repaired_on_import(frame, reasons, accepted)
    now = datetime.now().replace(microsecond=0)
    with engine.begin() as conn:
        current = read_frame(conn, "grids", where="valid_to IS NULL")
        version = dict(zip(current["code"], current["version"], strict=True))
        to_close = current if replace else current[current["code"].isin(accepted["code"])]
        kept = current.iloc[0:0] if replace else current[~current["code"].isin(accepted["code"])]
        cols = ["code", "name", "level", "parent_code", "geometry"]
        would_be = pd.concat([kept[cols], accepted[[c for c in cols if c in accepted]]])
        would_be = gpd.GeoDataFrame(would_be, geometry="geometry", crs=STORAGE_EPSG)
        report = _add_repairs(validate_hierarchy(would_be, sliver_m2=sliver_m2), repaired)
        result = GridImportResult(
            total=len(frame),
            imported=len(accepted),
            closed=len(to_close),
            rejected=rejected,
            report=report,
            written=False,
            dry_run=check_only,
        )
        if check_only:
            return result
        if report.errors and not allow_errors:
            raise GridImportRefused(report, result)
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
    result.written = True
    return result


def validate_grid_file(
    path: str | Path,
    *,
    mapping: dict[str, str] | None = None,
    level: str | None = None,
    crs: str | int | None = None,
    sliver_m2: float = 50.0,
) -> tuple[ValidationReport, pd.DataFrame]:
    """Validate the hierarchy a grid file holds by itself (nothing is read from a database).

    Returns
    -------
    (ValidationReport, pandas.DataFrame)
        The report (repaired geometries as warnings) and the rows ``prepare_grids`` rejected.
    """
    frame, reasons = read_geo_file(path, crs=crs)
    accepted, rejected = prepare_grids(frame, reasons, mapping=mapping, default_level=level)
    report = validate_hierarchy(accepted, sliver_m2=sliver_m2)
    return _add_repairs(report, _repaired_on_import(frame, reasons, accepted)), rejected


def export_grids(
    engine_or_frame: Engine | gpd.GeoDataFrame,
    path: str | Path,
    *,
    level: str | None = None,
    at=None,
) -> Path:
    """Write grids to GeoJSON, GeoPackage, Shapefile, GeoParquet, CSV or Excel (WKT column).

    Parameters
    ----------
    engine_or_frame
        A store engine (its grids in force at ``at``, default the current ones) or a grid
        frame (filtered by ``valid_from`` / ``valid_to`` when it has them and ``at`` is given).
    level
        Only this level.

    Returns
    -------
    pathlib.Path
        The file written (``import_grids`` reads it back; Shapefile's ``parent_cod`` included).
    """
    if isinstance(engine_or_frame, gpd.GeoDataFrame):
        grids = engine_or_frame
        if at is not None:
            grids = grids[_in_force(grids, at)]
        if level is not None:
            grids = grids[grids["level"] == level]
    else:
        from gis.store import read_grids

        grids = read_grids(engine_or_frame, level=level, at=at)
    cols = [c for c in grids.columns if c not in {"id", "created_by"}]
    out = gpd.GeoDataFrame(grids[cols]).reset_index(drop=True)
    if Path(path).suffix.lower() == ".shp":  # Shapefile field names hold 10 characters
        out = out.rename(columns={c: c[:10] for c in cols if c != out.geometry.name})
    return write_geo_file(out, path)


def _repaired_on_import(
    frame: gpd.GeoDataFrame, reasons: pd.Series, accepted: gpd.GeoDataFrame
) -> pd.DataFrame:
    """Accepted rows whose file geometry was invalid (``prepare_grids`` repaired it)."""
    geoms = frame.geometry.to_numpy()
    bad = (reasons == "").to_numpy() & ~shapely.is_missing(geoms) & ~shapely.is_valid(geoms)
    rows = [i for i in np.flatnonzero(bad) if frame.index[i] in accepted.index]
    labels = frame.index[rows]
    return pd.DataFrame(
        {
            "code": accepted.loc[labels, "code"].to_numpy(),
            "reason": shapely.is_valid_reason(geoms[rows]) if rows else [],
            "geometry": accepted.loc[labels].geometry.to_numpy(),
        }
    )


def _add_repairs(report: ValidationReport, repaired: pd.DataFrame) -> ValidationReport:
    """Report the geometries repaired on import as ``invalid_geometry`` warnings."""
    if not len(repaired):
        return report
    area = areas_m2(gpd.GeoSeries(repaired["geometry"].to_numpy(), crs=STORAGE_EPSG))
    rows = gpd.GeoDataFrame(
        {
            "kind": "invalid_geometry",
            "severity": "warning",
            "codes": repaired["code"].to_numpy(),
            "message": [
                f"grid {c}: the file's geometry is invalid ({r}); imported as repaired by "
                f"make_valid ({_m2(a)} m²)"
                for c, r, a in zip(repaired["code"], repaired["reason"], area, strict=True)
            ],
            "message_zh": [
                f"网格 {c} 的几何无效（{r}），已按 make_valid 修复后导入（{_m2(a)} m²）"
                for c, r, a in zip(repaired["code"], repaired["reason"], area, strict=True)
            ],
            "area_m2": area,
            "repaired": list(repaired["geometry"]),
        },
        geometry=[
            _validity_point(r, g)
            for r, g in zip(repaired["reason"], repaired["geometry"], strict=True)
        ],
        crs=STORAGE_EPSG,
    )[PROBLEM_COLUMNS]
    problems = pd.concat([report.problems, rows], ignore_index=True)
    problems = _sort_problems(problems)
    report.problems = gpd.GeoDataFrame(problems, geometry="geometry", crs=STORAGE_EPSG)
    return report


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
_LEVEL_CHAIN = {"micro": ["micro", "l2", "l1"], "l2": ["l2", "l1"], "l1": ["l1"]}
#: Bytes the finest lookup raster of a GridIndex may take (int32 cells).
_MAX_RASTER_BYTES = 64 * 2**20


def _finest_regular_level(grids: pd.DataFrame) -> str:
    present = set(grids["level"])
    for level in ("micro", "l2", "l1"):
        if level in present:
            return level
    raise InputError("no regular grids (l1, l2 or micro) to assign points to")


class GridIndex:
    """Point-in-grid lookup for one set of grids: built once, queried many times.

    A fishnet over the grids' bounds is refined where it straddles boundaries (a quadtree
    flattened into one integer raster): every cell of the raster is either *inside* exactly one
    grid (the cell, slightly enlarged, lies properly inside it and touches no other), *outside*
    every grid, or *straddling*. A point takes its cell's answer by integer arithmetic; only
    points in straddling cells get an exact test (``shapely.intersects_xy``) against the few
    grids that cell touches.

    Rule for points on boundaries: a point on the edge shared by two grids, or on a grid's
    outer edge, belongs to the grid it touches with the smallest code (grids are tested by
    ``intersects``, so boundary points are never lost); elsewhere the answer is the one grid
    that contains the point, identical to ``geopandas.sjoin(predicate="within")``.

    Parameters
    ----------
    grids
        Grids with ``code, level, parent_code, geometry`` (EPSG:4326, or the CRS the points
        will be given in). Dedicated grids are ignored.
    level
        Level points are assigned to; default the finest regular level present (``micro``,
        else ``l2``, else ``l1``).
    base_cells
        Cells of the coarse fishnet per grid (default 16).
    min_cell
        Refinement stops at cells this size (CRS units; default half the coarse cell: one
        halving, which balanced build time against exact tests for 10^5-10^6 points on the demo
        district; finer rasters build slower than the exact tests they save).
    """

    def __init__(
        self,
        grids: gpd.GeoDataFrame,
        *,
        level: str | None = None,
        base_cells: int = 16,
        min_cell: float | None = None,
    ) -> None:
        regular = grids[grids["level"].isin(REGULAR_LEVELS)]
        self.level = level or _finest_regular_level(regular)
        leaves = regular[regular["level"] == self.level].sort_values("code", kind="stable")
        leaves = leaves[~(leaves.geometry.is_empty | leaves.geometry.isna())]
        self.crs = grids.crs
        self.codes = leaves["code"].astype(str).to_numpy(dtype=object)
        self.polys = leaves.geometry.to_numpy()
        shapely.prepare(self.polys)
        # ancestors of each leaf, "outside" appended at index len(leaves)
        parent = dict(
            zip(
                grids["code"].astype(str),
                grids.get("parent_code", [None] * len(grids)),
                strict=True,
            )
        )
        chain = _LEVEL_CHAIN[self.level]
        self.columns = chain
        labels = {chain[0]: list(self.codes)}
        current = list(self.codes)
        for name in chain[1:]:
            current = [_clean_code(parent.get(c)) if c is not None else None for c in current]
            labels[name] = current
        self.labels = {
            k: np.array([OUTSIDE if c is None else c for c in v] + [OUTSIDE], dtype=object)
            for k, v in labels.items()
        }
        self._build(base_cells, min_cell)

    # ---- construction -----------------------------------------------------------------------
    def _classify(self, x0: np.ndarray, y0: np.ndarray, size: float):
        """State of square cells with lower-left corners ``x0, y0``: polygon index (inside),
        -1 (outside) or -2 (straddling), and the (cell, polygon) pairs that touch."""
        eps = size * 1e-6
        boxes = shapely.box(x0 - eps, y0 - eps, x0 + size + eps, y0 + size + eps)
        cell, poly = self.tree.query(boxes, predicate="intersects")
        count = np.bincount(cell, minlength=len(boxes))
        state = np.where(count == 0, -1, -2).astype(np.int64)
        one = count[cell] == 1
        c1, p1 = cell[one], poly[one]
        inside = shapely.contains_properly(self.polys[p1], boxes[c1])
        state[c1[inside]] = p1[inside]
        return state, cell, poly

    def _build(self, base_cells: int, min_cell: float | None) -> None:
        n = len(self.polys)
        self.tree = shapely.STRtree(self.polys)
        if n == 0:
            self.x0 = self.y0 = 0.0
            self.size = 1.0
            self.raster = np.full((1, 1), -1, dtype=np.int32)
            self.cand_ptr = np.zeros(1, dtype=np.int64)
            self.cand = np.zeros(0, dtype=np.int64)
            return
        minx, miny, maxx, maxy = shapely.total_bounds(self.polys)
        width, height = max(maxx - minx, 1e-12), max(maxy - miny, 1e-12)
        size = float(np.sqrt(width * height / max(base_cells * n, 1)))
        nx, ny = int(np.ceil(width / size)) + 1, int(np.ceil(height / size)) + 1
        if min_cell is None:
            min_cell = size / 2 * 0.999
        # deepest level the raster budget allows
        depth = 0
        while size / 2 ** (depth + 1) >= min_cell and (nx * ny * 4 ** (depth + 1) * 4) <= (
            _MAX_RASTER_BYTES
        ):
            depth += 1
        self.x0, self.y0 = float(minx - size / 2), float(miny - size / 2)
        iy, ix = np.divmod(np.arange(nx * ny), nx)
        raster = np.full((ny, nx), -1, dtype=np.int64)
        cells_y, cells_x = iy, ix
        cell_size = size
        for level in range(depth + 1):
            state, cell, poly = self._classify(
                self.x0 + cells_x * cell_size, self.y0 + cells_y * cell_size, cell_size
            )
            raster[cells_y, cells_x] = state
            straddle = np.flatnonzero(state == -2)
            if level == depth or len(straddle) == 0:
                break
            # refine: upsample the raster and split straddling cells in four
            raster = np.repeat(np.repeat(raster, 2, axis=0), 2, axis=1)
            cell_size /= 2
            sy, sx = cells_y[straddle] * 2, cells_x[straddle] * 2
            cells_y = np.concatenate([sy, sy, sy + 1, sy + 1])
            cells_x = np.concatenate([sx, sx + 1, sx, sx + 1])
        # candidate polygons of the straddling cells of the finest level (CSR)
        straddle = np.flatnonzero(state == -2)
        sid = np.full(len(state), -1, dtype=np.int64)
        sid[straddle] = np.arange(len(straddle))
        keep = sid[cell] >= 0
        order = np.argsort(sid[cell[keep]], kind="stable")
        self.cand = poly[keep][order]
        self.cand_ptr = np.concatenate(
            [[0], np.cumsum(np.bincount(sid[cell[keep]], minlength=len(straddle)))]
        )
        raster[cells_y[straddle], cells_x[straddle]] = -2 - np.arange(len(straddle))
        self.raster = raster.astype(np.int32)
        self.size = cell_size
        self.depth = depth

    # ---- queries -----------------------------------------------------------------------------
    def locate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index (into the sorted leaf grids) of the grid of each point; ``len(grids)`` outside.

        Parameters
        ----------
        x, y
            Coordinates in the grids' CRS (lon, lat for EPSG:4326). NaN is outside.
        """
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        n_poly = len(self.polys)
        out = np.full(len(x), n_poly, dtype=np.int64)
        ny, nx = self.raster.shape
        inv = 1.0 / self.size
        fx = (x - self.x0) * inv
        fy = (y - self.y0) * inv
        ok = (fx >= 0) & (fx < nx) & (fy >= 0) & (fy < ny)  # NaN compares False
        if ok.all():
            idx = np.arange(len(x))
            flat = fy.astype(np.intp) * nx + fx.astype(np.intp)  # truncation = floor here
        else:
            idx = np.flatnonzero(ok)
            flat = fy[idx].astype(np.intp) * nx + fx[idx].astype(np.intp)
        state = self.raster.ravel().take(flat)
        inside = state >= 0
        out[idx[inside]] = state[inside]
        strad = state <= -2
        if strad.any():
            pts = idx[strad]
            s = -2 - state[strad].astype(np.int64)
            start, stop = self.cand_ptr[s], self.cand_ptr[s + 1]
            counts = stop - start
            rep = np.repeat(np.arange(len(pts)), counts)
            offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            cand = self.cand[np.repeat(start, counts) + offs]
            hit = shapely.intersects_xy(self.polys[cand], x[pts[rep]], y[pts[rep]])
            best = np.full(len(pts), n_poly, dtype=np.int64)
            np.minimum.at(best, rep[hit], cand[hit])  # smallest code wins on shared edges
            out[pts] = best
        return out

    def assign(self, x: np.ndarray, y: np.ndarray, index=None) -> pd.DataFrame:
        """The grid of each point and its ancestors (columns ``self.columns``, e.g.
        ``micro, l2, l1``); ``"outside"`` where a point is in no grid."""
        hit = self.locate(x, y)
        # object columns: pandas would otherwise convert a million labels to its str dtype
        columns = {k: pd.Series(self.labels[k][hit], dtype=object) for k in self.columns}
        out = pd.DataFrame(columns, copy=False)
        if index is not None:
            out.index = index
        return out


def _points_xy(points) -> tuple[np.ndarray, np.ndarray, pd.Index | None, object]:
    """``(x, y, index, crs)`` from a GeoSeries / GeoDataFrame or an ``(x, y)`` pair of arrays."""
    if isinstance(points, tuple) and len(points) == 2:
        x, y = (np.asarray(v, dtype=float) for v in points)
        return x, y, None, None
    geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    arr = geoms.to_numpy()
    x = np.full(len(arr), np.nan)
    y = np.full(len(arr), np.nan)
    ok = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    x[ok], y[ok] = shapely.get_x(arr[ok]), shapely.get_y(arr[ok])
    return x, y, geoms.index, getattr(geoms, "crs", None)


def _in_force(versions: pd.DataFrame, at) -> np.ndarray:
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


def assign_points(
    points,
    grids: gpd.GeoDataFrame,
    *,
    level: str | None = None,
    at=None,
) -> pd.DataFrame:
    """The grid of each point (micro-grid by default) and every ancestor.

    Parameters
    ----------
    points
        A GeoSeries / GeoDataFrame of points, or a pair ``(x, y)`` of coordinate arrays
        (lon, lat), in the CRS of ``grids`` (EPSG:4326 in the store).
    grids
        Grids with ``code, level, parent_code, geometry`` (dedicated grids are ignored). With
        ``valid_from`` / ``valid_to`` columns it may hold several versions (see ``at``).
    level
        Level to assign to; default ``micro``, or the finest regular level present.
    at
        A time: use the versions in force then. An array of times (one per point): each point
        gets the version in force at its own time (see ``assign_points_at``). None: ``grids``
        are used as given (the current versions, as the store reads them).

    Returns
    -------
    pandas.DataFrame
        Index of ``points`` (a RangeIndex for arrays); columns ``micro, l2, l1`` (from the
        assigned level up). A point outside every grid is labelled ``"outside"`` (never
        dropped). A point exactly on an edge shared by two grids goes to the one with the
        smaller code; elsewhere the answer equals ``geopandas.sjoin(predicate="within")``.
    """
    x, y, index, _ = _points_xy(points)
    if at is not None and not np.isscalar(at) and not isinstance(at, (pd.Timestamp, datetime)):
        return assign_points_at(x, y, at, grids, level=level, index=index)
    if at is not None:
        grids = grids[_in_force(grids, at)]
    return grid_index(grids, level=level).assign(x, y, index=index)


_INDEX_CACHE: dict[tuple, GridIndex] = {}


def grid_index(grids: gpd.GeoDataFrame, *, level: str | None = None) -> GridIndex:
    """A ``GridIndex`` for ``grids``, cached by content (codes, parents and geometry bytes), so
    repeated calls on the same grids (the app's reruns) build it once."""
    regular = grids[grids["level"].isin(REGULAR_LEVELS)]
    digest = hashlib.sha1()
    for col in ("code", "level", "parent_code"):
        if col in regular:
            digest.update("\x1f".join(map(str, regular[col].tolist())).encode())
    digest.update(b"".join(shapely.to_wkb(regular.geometry.to_numpy(), include_srid=False)))
    key = (digest.hexdigest(), level, str(grids.crs))
    if key not in _INDEX_CACHE:
        if len(_INDEX_CACHE) >= 8:
            _INDEX_CACHE.pop(next(iter(_INDEX_CACHE)))
        _INDEX_CACHE[key] = GridIndex(grids, level=level)
    return _INDEX_CACHE[key]


def assign_points_at(
    x: np.ndarray,
    y: np.ndarray,
    times,
    versions: gpd.GeoDataFrame,
    *,
    level: str | None = None,
    index=None,
) -> pd.DataFrame:
    """Assign each point with the grid versions in force at its own time.

    The time axis is cut at every ``valid_from`` / ``valid_to`` of ``versions``; inside one
    piece the set of versions in force is fixed, so the points of each piece are assigned
    together with one (cached) ``GridIndex``.

    Parameters
    ----------
    x, y
        Coordinates (lon, lat, EPSG:4326).
    times
        One time per point (naive local wall-clock, as stored). NaT is assigned with the
        current versions.
    versions
        Grid versions with ``valid_from`` (None/NaT = always) and ``valid_to`` (None/NaT = still
        in force), e.g. ``read_frame(engine, "grids")``.

    Returns
    -------
    pandas.DataFrame
        As ``assign_points``.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    t = pd.to_datetime(pd.Series(np.asarray(times))).to_numpy(dtype="datetime64[ns]")
    start = pd.to_datetime(versions.get("valid_from", pd.Series(pd.NaT, index=versions.index)))
    end = pd.to_datetime(versions.get("valid_to", pd.Series(pd.NaT, index=versions.index)))
    cuts = np.unique(np.concatenate([start.dropna().to_numpy(), end.dropna().to_numpy()]))
    cuts = cuts.astype("datetime64[ns]")
    # piece k holds the times in [cuts[k-1], cuts[k]); NaT (piece -1) takes the current versions
    piece = np.searchsorted(cuts, t, side="right")
    piece[np.isnat(t)] = -1
    level = level or _finest_regular_level(versions[versions["level"].isin(REGULAR_LEVELS)])
    parts = []
    for k in np.unique(piece):
        if k == -1:
            in_force = end.isna().to_numpy()
        elif k == 0:
            in_force = (
                _in_force(versions, cuts[0] - np.timedelta64(1, "ns"))
                if len(cuts)
                else (np.ones(len(versions), dtype=bool))
            )
        else:
            in_force = _in_force(versions, cuts[k - 1])
        rows = np.flatnonzero(piece == k)
        current = versions[in_force]
        if not (current["level"] == level).any():
            frame = pd.DataFrame(OUTSIDE, index=rows, columns=_LEVEL_CHAIN[level])
        else:
            frame = grid_index(current, level=level).assign(x[rows], y[rows], index=rows)
        parts.append(frame)
    out = pd.concat(parts).sort_index() if parts else pd.DataFrame(columns=_LEVEL_CHAIN[level])
    out.index = index if index is not None else pd.RangeIndex(len(x))
    return out


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


# --------------------------------------------------------------------------------------------
# Grid codes (15 digits: county 6 + street 3 + community 3 + grid sequence 3; legacy 14 digits)
# --------------------------------------------------------------------------------------------
class SequenceFullError(InputError, ValueError):
    """顺序码已满: a parent has no sequence number left for another child (never wraps)."""


def number_west_east_north_south(
    points_xy: np.ndarray, band_m: float, max_seq: int | None = None
) -> np.ndarray:
    """Sequence numbers west->east, north->south (the grid-code numbering rule).

    Points are cut into horizontal rows of height ``band_m`` counted down from the northernmost
    point; rows are numbered north to south and, inside a row, points west to east.

    Parameters
    ----------
    points_xy
        ``(n, 2)`` representative points in a metric CRS (x east, y north; metres).
    band_m
        Row height in metres; about ``sqrt(mean child area)`` works well.
    max_seq
        Largest sequence number the code has room for (8 level-2 grids, 99 micro-grids);
        ``None`` for no limit.

    Returns
    -------
    numpy.ndarray
        ``int64`` array of 1-based sequence numbers, aligned with ``points_xy``.

    Raises
    ------
    SequenceFullError
        ``顺序码已满`` when there are more points than ``max_seq`` (never wraps); it is both an
        ``InputError`` and a ``ValueError``.
    ValueError
        On bad input.
    """
    pts = np.asarray(points_xy, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points_xy must have shape (n, 2), got {pts.shape}")
    if not band_m > 0:
        raise ValueError(f"band_m must be positive, got {band_m}")
    n = len(pts)
    if max_seq is not None and n > max_seq:
        raise SequenceFullError(
            f"顺序码已满 (sequence full): {n} grids but only {max_seq} sequence numbers in the parent"
        )
    if n == 0:
        return np.empty(0, dtype=np.int64)
    row = np.floor((pts[:, 1].max() - pts[:, 1]) / band_m).astype(np.int64)
    order = np.lexsort((pts[:, 0], row))
    seq = np.empty(n, dtype=np.int64)
    seq[order] = np.arange(1, n + 1)
    return seq


def parse_code(code: str) -> dict[str, str | int]:
    """Split a 15-digit (or legacy 14-digit) grid code into its parts.

    Returns
    -------
    dict
        ``county`` (6 digits, GB/T 2260), ``street`` (3), ``community`` (3), ``seq`` (the grid
        sequence block as text: 3 digits, or 2 in a legacy code; ``"000"`` for a community-level
        grid), ``digits`` (14 or 15).

    Raises
    ------
    InputError
        When ``code`` is not 14 or 15 digits.
    """
    text = _clean_code(code) or ""
    if not (text.isdigit() and len(text) in (14, 15)):
        raise InputError(f"{code!r} is not a 15-digit (or legacy 14-digit) grid code")
    return {
        "county": text[:6],
        "street": text[6:9],
        "community": text[9:12],
        "seq": text[12:],
        "digits": len(text),
    }


def _child_slot(parent_code: str, digits: int, dedicated: bool) -> tuple[str, str, int]:
    """``(prefix, suffix, width)``: a child's code is prefix + seq (``width`` digits) + suffix.

    GridLens fills the grid sequence from the left, one level at a time: below a community
    (its level-1 grid ends in ``000``) a level-2 grid takes the first digit (1-8; 9 is kept for
    dedicated grids, ``9nn``), below a level-2 grid (``d00``) a micro-grid takes the last two
    (01-99). A 12-digit community code takes a plain 3-digit sequence, a 9-digit street code a
    3-digit community number (the child is the community's level-1 grid, ``...000``). Legacy
    14-digit codes work the same way with a 2-digit sequence.
    """
    code = _clean_code(parent_code) or ""
    if not code.isdigit():
        raise InputError(f"parent code {parent_code!r} is not a digit code")
    if digits not in (14, 15):
        raise InputError(f"digits must be 15 or 14 (legacy), not {digits}")
    tail = digits - 12
    if len(code) == 9:
        return code, "0" * tail, 3
    if len(code) == 12:
        return code, "", tail
    if len(code) not in (14, 15):
        raise InputError(f"parent code {parent_code!r} is not 9, 12, 14 or 15 digits")
    prefix, block = code[:12], code[12:]
    if set(block) == {"0"}:
        if dedicated:
            return prefix + "9", "", len(block) - 1
        return prefix, "0" * (len(block) - 1), 1
    if block[1:] == "0" * (len(block) - 1) and not dedicated:
        return prefix + block[0], "", len(block) - 1
    raise InputError(f"grid {code} has no room for child grids in its code")


def _max_seq(parent_code: str, width: int, dedicated: bool) -> int:
    code = _clean_code(parent_code) or ""
    if len(code) in (14, 15) and width == 1 and not dedicated:
        return 8  # level-2 digit 9 is kept for dedicated grids
    return 10**width - 1


def grid_code(parent_code: str, seq: int, *, digits: int = 15, dedicated: bool = False) -> str:
    """The code of child number ``seq`` of ``parent_code``.

    Parameters
    ----------
    parent_code
        A 15- or legacy 14-digit grid code (the child keeps its length), a 12-digit community
        code or a 9-digit street code (the child gets ``digits`` digits).
    seq
        1-based sequence number.
    digits
        Length of the code for children of 9- and 12-digit codes: 15, or 14 (legacy).
    dedicated
        Code a dedicated grid (专属网格) under a community-level grid: ``9nn``.

    Raises
    ------
    SequenceFullError
        ``顺序码已满`` when ``seq`` does not fit (1-8 level-2 grids, 1-99 micro-grids ...).

    Examples
    --------
    >>> grid_code("140581001001000", 3)
    '140581001001300'
    >>> grid_code("140581001001300", 12)
    '140581001001312'
    """
    code = _clean_code(parent_code) or ""
    if len(code) in (14, 15):
        digits = len(code)
    prefix, suffix, width = _child_slot(code, digits, dedicated)
    top = _max_seq(code, width, dedicated)
    if not 1 <= int(seq) <= top:
        if int(seq) > top:
            raise SequenceFullError(
                f"顺序码已满 (sequence full): {code} has room for {top} children, not {seq}"
            )
        raise InputError(f"sequence numbers start at 1, not {seq}")
    return f"{prefix}{int(seq):0{width}d}{suffix}"


def _used_sequences(existing_codes, parent_code: str, digits: int, dedicated: bool) -> set[int]:
    prefix, suffix, width = _child_slot(parent_code, digits, dedicated)
    used = set()
    for c in existing_codes:
        c = _clean_code(c)
        if (
            c
            and len(c) == len(prefix) + width + len(suffix)
            and c.startswith(prefix)
            and c.endswith(suffix)
        ):
            body = c[len(prefix) : len(prefix) + width]
            if body.isdigit() and int(body) > 0:
                used.add(int(body))
    return used


def next_free_codes(
    existing_codes,
    parent_code: str,
    n: int,
    *,
    digits: int = 15,
    dedicated: bool = False,
    reuse: bool = False,
) -> list[str]:
    """``n`` new child codes for ``parent_code`` that no existing code uses.

    New numbers follow the highest one in use, so a retired grid's code is not handed to a
    different area (pass every code ever used, history included, to be sure). With ``reuse``
    the lowest unused numbers are taken instead, gaps first.

    Raises
    ------
    SequenceFullError
        ``顺序码已满`` when fewer than ``n`` numbers are left.
    """
    code = _clean_code(parent_code) or ""
    if len(code) in (14, 15):
        digits = len(code)
    _, _, width = _child_slot(code, digits, dedicated)
    top = _max_seq(code, width, dedicated)
    used = _used_sequences(existing_codes, code, digits, dedicated)
    if reuse:
        free = [s for s in range(1, top + 1) if s not in used][:n]
    else:
        start = max(used, default=0) + 1
        free = list(range(start, min(start + n, top + 1)))
    if len(free) < n:
        hint = "" if reuse else "; reuse=True would fill the gaps" if len(used) < top else ""
        raise SequenceFullError(
            f"顺序码已满 (sequence full): {code} has {len(free)} free sequence number(s), "
            f"{n} needed{hint}"
        )
    return [grid_code(code, s, digits=digits, dedicated=dedicated) for s in free]


def number_children(
    children: gpd.GeoDataFrame,
    parent_code: str,
    *,
    start: int = 1,
    digits: int = 15,
    dedicated: bool = False,
) -> pd.Series:
    """Codes for ``children`` of ``parent_code``, numbered west->east, north->south.

    Representative points (``point_on_surface``) are taken in the local metric CRS and numbered
    by ``number_west_east_north_south`` with rows ``sqrt(mean child area)`` high, the rule the
    demo district was coded with.

    Parameters
    ----------
    children
        Polygons (EPSG:4326 or any CRS).
    start
        First sequence number (e.g. one after the highest in use).

    Returns
    -------
    pandas.Series
        Codes (str), index of ``children``.

    Raises
    ------
    SequenceFullError
        ``顺序码已满`` when the children do not fit in the parent's sequence.
    """
    if len(children) == 0:
        return pd.Series([], index=children.index, dtype=object)
    frame = children if children.crs is not None else children.set_crs(STORAGE_EPSG)
    metric = frame.geometry.to_crs(local_metric_crs(frame.geometry.to_crs(STORAGE_EPSG)))
    rep = shapely.get_coordinates(shapely.point_on_surface(metric.to_numpy()))
    band = float(np.sqrt(max(metric.area.mean(), 1e-6)))
    code = _clean_code(parent_code) or ""
    width = _child_slot(code, len(code) if len(code) in (14, 15) else digits, dedicated)[2]
    top = _max_seq(code, width, dedicated)
    seq = number_west_east_north_south(rep, band, max_seq=max(top - int(start) + 1, 0))
    seq = seq + int(start) - 1
    codes = [grid_code(code, int(s), digits=digits, dedicated=dedicated) for s in seq]
    return pd.Series(codes, index=children.index, dtype=object)


# --------------------------------------------------------------------------------------------
# Validation of a hierarchy
# --------------------------------------------------------------------------------------------
#: Overlay pieces smaller than this (m²) are floating-point noise of the reprojection, not data.
NOISE_M2 = 0.01
#: Which level a regular grid's parent must have (dedicated grids may sit under any regular one).
PARENT_LEVEL = {"l2": "l1", "micro": "l2"}
REGULAR_LEVELS = ("l1", "l2", "micro")
LEVEL_ZH = {"l1": "一级网格", "l2": "二级网格", "micro": "微网格", "dedicated": "专属网格"}
PROBLEM_COLUMNS = [
    "kind",
    "severity",
    "codes",
    "message",
    "message_zh",
    "area_m2",
    "geometry",
    "repaired",
]
#: Display order of the kinds in reports (errors of a kind before its warnings).
PROBLEM_KINDS = (
    "invalid_geometry",
    "duplicate_code",
    "malformed_code",
    "orphan",
    "outside_parent",
    "sibling_overlap",
    "coverage_gap",
    "sliver",
    "isolated",
    "multipart",
)
KIND_ZH = {
    "invalid_geometry": "几何无效",
    "duplicate_code": "编码重复",
    "malformed_code": "编码格式错误",
    "orphan": "上级网格缺失或不符",
    "outside_parent": "超出上级网格",
    "sibling_overlap": "同级网格重叠",
    "coverage_gap": "上级网格未拼接完整（空白）",
    "sliver": "碎片",
    "isolated": "孤立网格（无相邻同级网格）",
    "multipart": "多部件网格",
}


@dataclass
class ValidationReport:
    """The problems of a grid hierarchy, one row each, and how to read them.

    Attributes
    ----------
    problems
        GeoDataFrame (EPSG:4326) with columns ``kind, severity ("error" | "warning"), codes
        (comma-separated grid codes involved), message (English), message_zh, area_m2 (m² in a
        local metric CRS), geometry (where: the offending area, or the grid), repaired`` (for
        ``invalid_geometry`` the ``make_valid`` shape offered, in EPSG:4326; else None).
    n_grids
        Number of grids validated.
    metric_crs
        The CRS areas were measured in.
    """

    problems: gpd.GeoDataFrame
    n_grids: int = 0
    metric_crs: str = ""

    @property
    def errors(self) -> int:
        """Number of problems with severity ``error``."""
        return int((self.problems["severity"] == "error").sum())

    @property
    def warnings(self) -> int:
        """Number of problems with severity ``warning``."""
        return int((self.problems["severity"] == "warning").sum())

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return self.errors == 0

    def counts(self) -> dict[str, int]:
        """Problems per ``kind:severity`` (e.g. ``{"sliver:warning": 12}``)."""
        keys = self.problems["kind"] + ":" + self.problems["severity"]
        return {k: int(v) for k, v in keys.value_counts().sort_index().items()}

    def text(self, lang: str = "en", *, limit: int | None = None) -> str:
        """The report as readable lines: a summary line, then one line per problem.

        Parameters
        ----------
        lang
            ``"en"`` or ``"zh"`` (Chinese, in the terms of the grid standards).
        limit
            Show at most this many problem lines (the summary always counts all).
        """
        zh = lang == "zh"
        if zh:
            head = f"网格校验：{self.n_grids} 个网格，{self.errors} 个错误，{self.warnings} 个警告"
        else:
            head = (
                f"Grid validation: {self.n_grids} grids, {self.errors} error(s), "
                f"{self.warnings} warning(s)"
            )
        lines = [head]
        rows = self.problems if limit is None else self.problems.head(limit)
        for row in rows.itertuples(index=False):
            if zh:
                sev = "错误" if row.severity == "error" else "警告"
                lines.append(f"{sev} [{KIND_ZH.get(row.kind, row.kind)}] {row.message_zh}")
            else:
                lines.append(f"{row.severity.upper()} [{row.kind}] {row.message}")
        if limit is not None and len(self.problems) > limit:
            more = len(self.problems) - limit
            lines.append(f"……另有 {more} 条" if zh else f"... and {more} more")
        return "\n".join(lines)


def _m2(value: float) -> str:
    """An area in m² for messages: whole m² when large, two decimals when tiny."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _sort_problems(problems: pd.DataFrame) -> pd.DataFrame:
    """Errors first, then by kind (``PROBLEM_KINDS`` order) and codes."""
    if not len(problems):
        return problems
    rank = {k: r for r, k in enumerate(PROBLEM_KINDS)}
    sev = (problems["severity"] != "error").astype(int)
    kind = problems["kind"].map(rank)
    order = np.lexsort((problems["codes"].astype(str).to_numpy(), kind.to_numpy(), sev.to_numpy()))
    return problems.iloc[order].reset_index(drop=True)


def _is_blank(value) -> bool:
    return (
        value is None
        or (isinstance(value, float) and np.isnan(value))
        or value is pd.NA
        or (isinstance(value, str) and value.strip() == "")
    )


def _clean_code(value) -> str | None:
    if _is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _polygonal(geom: shapely.Geometry | None) -> shapely.Geometry | None:
    """The polygonal parts of ``geom`` as a MultiPolygon (None when there are none)."""
    if geom is None:
        return None
    parts = [p for p in shapely.get_parts(geom) for p in shapely.get_parts(p)]
    polys = [p for p in parts if shapely.get_type_id(p) == 3 and not p.is_empty]
    return shapely.multipolygons(polys) if polys else None


def _mean_width_m(geoms: np.ndarray) -> np.ndarray:
    """Mean width of polygons, ``2 * area / perimeter`` (m): ~w for a long strip of width w."""
    perimeter = shapely.length(geoms)
    return np.where(perimeter > 0, 2.0 * shapely.area(geoms) / np.maximum(perimeter, 1e-300), 0.0)


class _LocalMetric:
    """Project EPSG:4326 geometries to ``crs`` and shift them to a local origin (metres).

    Shifting keeps areas of thin overlay pieces exact: the shoelace sum on raw projected
    coordinates (millions of metres) loses ~0.1 m² to rounding, near the origin it does not.
    """

    def __init__(self, geoms: np.ndarray, crs) -> None:
        self.transformer = pyproj.Transformer.from_crs(STORAGE_EPSG, crs, always_xy=True)
        minx, miny, maxx, maxy = shapely.total_bounds(geoms) if len(geoms) else (0, 0, 0, 0)
        x0, y0 = self.transformer.transform((minx + maxx) / 2, (miny + maxy) / 2)
        self.origin = np.array([x0, y0]) if np.isfinite([x0, y0]).all() else np.zeros(2)

    def _xy(self, xy: np.ndarray) -> np.ndarray:
        x, y = self.transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y]) - self.origin

    def __call__(self, geoms: np.ndarray) -> np.ndarray:
        return shapely.transform(np.asarray(geoms, dtype=object), self._xy)

    def affine(self, geoms: np.ndarray) -> np.ndarray:
        """Each geometry mapped by the projection's tangent (Jacobian) at its own centre.

        An affine map keeps straight lines straight, so a strip that is degenerate in lon/lat
        (two nearly equal edges, one with an extra vertex) stays degenerate: projecting its
        vertices instead would bend the edge with the extra vertex and invent a sliver.
        """
        geoms = np.asarray(geoms, dtype=object)
        if len(geoms) == 0:
            return geoms
        coords, owner = shapely.get_coordinates(geoms, return_index=True)
        b = shapely.bounds(geoms)
        cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        h = 1e-5  # degrees
        x0, y0 = self.transformer.transform(cx, cy)
        xe, ye = self.transformer.transform(cx + h, cy)
        xn, yn = self.transformer.transform(cx, cy + h)
        jxx, jyx = (np.asarray(xe) - x0) / h, (np.asarray(ye) - y0) / h
        jxy, jyy = (np.asarray(xn) - x0) / h, (np.asarray(yn) - y0) / h
        dx, dy = coords[:, 0] - cx[owner], coords[:, 1] - cy[owner]
        out = np.column_stack(
            [
                x0[owner] - self.origin[0] + jxx[owner] * dx + jxy[owner] * dy,
                y0[owner] - self.origin[1] + jyx[owner] * dx + jyy[owner] * dy,
            ]
        )
        return shapely.set_coordinates(geoms.copy(), out)


@dataclass
class _Pieces:
    """Overlay result per owner: area and geometry of the substantial and the sliver pieces."""

    big_area: np.ndarray
    big_geom: np.ndarray
    sliver_area: np.ndarray
    sliver_geom: np.ndarray
    sliver_count: np.ndarray


def _classify_pieces(
    geoms: np.ndarray, n: int, sliver_m2: float, sliver_width_m: float, to_metric
) -> _Pieces:
    """Split overlay results into polygon pieces; pieces below ``sliver_m2`` or narrower than
    ``sliver_width_m`` are slivers, pieces below ``NOISE_M2`` are dropped as noise."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    # collections (from intersection) hold polygons one level down
    nested = np.isin(shapely.get_type_id(parts), [4, 5, 6, 7])
    if nested.any():
        sub, sub_owner = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], sub])
        owner = np.concatenate([owner[~nested], owner[nested][sub_owner]])
    keep = shapely.get_type_id(parts) == 3
    parts, owner = parts[keep], owner[keep]
    measured = to_metric.affine(parts)
    area = shapely.area(measured)
    keep = area >= NOISE_M2
    parts, owner, area, measured = parts[keep], owner[keep], area[keep], measured[keep]
    sliver = (area < sliver_m2) | (_mean_width_m(measured) < sliver_width_m)
    big_geom = np.full(n, None, dtype=object)
    sliver_geom = np.full(n, None, dtype=object)
    for mask, out in ((~sliver, big_geom), (sliver, sliver_geom)):
        if mask.any():
            idx = np.unique(owner[mask])
            out[idx] = shapely.multipolygons(parts[mask], indices=np.searchsorted(idx, owner[mask]))
    return _Pieces(
        big_area=np.bincount(owner[~sliver], area[~sliver], minlength=n),
        big_geom=big_geom,
        sliver_area=np.bincount(owner[sliver], area[sliver], minlength=n),
        sliver_geom=sliver_geom,
        sliver_count=np.bincount(owner[sliver], minlength=n),
    )


def _validity_point(reason: str, fallback: shapely.Geometry | None) -> shapely.Geometry | None:
    """The location GEOS gives in ``is_valid_reason`` (``"Self-intersection[x y]"``)."""
    if "[" in reason and reason.endswith("]"):
        try:
            x, y = map(float, reason[reason.rindex("[") + 1 : -1].split()[:2])
            return shapely.Point(x, y)
        except ValueError:
            pass
    return None if fallback is None else shapely.point_on_surface(fallback)


def _gb_code_format(codes: list[str | None]) -> bool:
    """``code_format="auto"``: GB checks when most codes are 14- or 15-digit numbers."""
    present = [c for c in codes if c]
    if not present:
        return False
    gb = sum(1 for c in present if c.isdigit() and len(c) in (14, 15))
    return gb * 2 > len(present)


def _code_stem(code: str) -> str:
    """The prefix every child code of ``code`` starts with: the 12-digit community prefix plus
    the grid sequence without its trailing zeros (``140581001001100`` -> ``1405810010011``)."""
    return code[:12] + code[12:].rstrip("0")


def validate_hierarchy(
    grids: gpd.GeoDataFrame,
    *,
    sliver_m2: float = 50.0,
    sliver_width_m: float = 1.5,
    metric_crs=None,
    code_format: str | None = "auto",
) -> ValidationReport:
    """Check a grid hierarchy against the rules of the standards; report every problem.

    Errors: ``invalid_geometry`` (self-intersections etc.; the ``make_valid`` repair is offered
    in ``repaired`` and used by the other checks), ``duplicate_code``, ``malformed_code``,
    ``orphan`` (no parent where one is required, parent code not found, parent of the wrong
    level, a level-1 grid under another grid), ``outside_parent`` (child area outside its
    parent), ``sibling_overlap`` (grids of the same level and parent overlapping),
    ``coverage_gap`` (part of a parent not covered by its regular children; only for parents
    that have children). Warnings: ``sliver``, ``isolated`` (a grid with no sibling within
    ``sliver_width_m``, e.g. an island), ``multipart``, and an l1 grid naming a parent code
    that is not a grid (a street code, say).

    Tolerance: every overlap, gap and outside area is cut into its polygon pieces. A piece is a
    *sliver* (a warning, kind ``sliver``) when its area is below ``sliver_m2`` or its mean width
    (2·area/perimeter) is below ``sliver_width_m`` -- the thin strips left where two layers were
    digitised separately. Bigger pieces are errors. Pieces below 0.01 m² (``NOISE_M2``) are
    ignored: they are rounding noise of the reprojection. A grid smaller than ``sliver_m2`` (or a
    part of a multipart grid) is reported as a sliver too. Dedicated grids may overlap regular
    grids (never an overlap error) and each other, but must lie inside their parent if they have
    one.

    Parameters
    ----------
    grids
        Columns ``code, level (l1|l2|micro|dedicated), parent_code, geometry`` (``name``
        optional), EPSG:4326 (or any CRS; it is reprojected).
    sliver_m2
        Area (m²) below which an overlap, gap or outside piece is a sliver warning.
    sliver_width_m
        Mean width (m) below which a piece is a sliver whatever its area; also the distance
        within which two siblings count as neighbours for ``isolated``.
    metric_crs
        CRS for areas; default ``gis.core.crs.local_metric_crs`` of the grids.
    code_format
        ``"gb"``: codes must be 14- or 15-digit numbers that extend their parent's code
        (GB/T 2260 county + street + community + sequence); ``None``: no format check;
        ``"auto"`` (default): ``"gb"`` when more than half the codes are 14/15-digit numbers,
        so foreign codes such as Boston's ``WWPP`` are not flagged.

    Returns
    -------
    ValidationReport
        ``report.problems`` (GeoDataFrame, EPSG:4326), ``report.errors``, ``report.warnings``,
        ``report.ok``, ``report.text(lang)``.
    """
    frame = grids.reset_index(drop=True)
    if frame.crs is None:
        frame = frame.set_crs(STORAGE_EPSG)
    elif frame.crs.to_epsg() != STORAGE_EPSG:
        frame = frame.to_crs(STORAGE_EPSG)
    n = len(frame)
    codes = [_clean_code(c) for c in frame["code"]]
    code_text = np.array([c if c is not None else "(no code)" for c in codes], dtype=object)
    levels = frame["level"].astype(object).to_numpy()
    parents = (
        [_clean_code(p) for p in frame["parent_code"]] if "parent_code" in frame else [None] * n
    )
    rows: list[dict] = []

    def add(kind, severity, involved, en, zh, area, geom, repaired=None):
        rows.append(
            {
                "kind": kind,
                "severity": severity,
                "codes": ",".join(str(c) for c in involved),
                "message": en,
                "message_zh": zh,
                "area_m2": float(area),
                "geometry": geom,
                "repaired": repaired,
            }
        )

    # ---- geometry validity (repair first: the other checks use the repaired shapes) ----------
    geoms = frame.geometry.to_numpy().copy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    valid = shapely.is_valid(geoms)
    invalid = ~missing & ~valid
    reasons = shapely.is_valid_reason(geoms[invalid]) if invalid.any() else []
    repaired_at = {}
    for i, reason in zip(np.flatnonzero(invalid), reasons, strict=True):
        fixed = _polygonal(shapely.make_valid(geoms[i]))
        repaired_at[i] = (fixed, reason)
        geoms[i] = fixed
    missing |= shapely.is_missing(geoms)
    if metric_crs is None:
        ok_geoms = gpd.GeoSeries(geoms[~missing], crs=STORAGE_EPSG)
        metric_crs = local_metric_crs(ok_geoms) if len(ok_geoms) else STORAGE_EPSG
    to_metric = _LocalMetric(geoms[~missing], metric_crs)
    metric = to_metric(geoms)
    tolerance = (sliver_m2, sliver_width_m, to_metric)
    area = np.where(missing, 0.0, shapely.area(metric))
    for i in np.flatnonzero(missing):
        add(
            "invalid_geometry",
            "error",
            [code_text[i]],
            f"grid {code_text[i]} has no (or an empty) geometry",
            f"网格 {code_text[i]} 没有几何图形（或为空）",
            0.0,
            None,
        )
    for i, (fixed, reason) in repaired_at.items():
        fixed_area = 0.0 if fixed is None else float(area[i])
        add(
            "invalid_geometry",
            "error",
            [code_text[i]],
            f"grid {code_text[i]} has an invalid geometry ({reason}); "
            f"make_valid offers a repaired shape of {_m2(fixed_area)} m²",
            f"网格 {code_text[i]} 几何无效（{reason}，如自相交）；已给出修复后的图形 "
            f"{_m2(fixed_area)} m²",
            fixed_area,
            _validity_point(reason, fixed),
            fixed,
        )

    # ---- codes -------------------------------------------------------------------------------
    first_of: dict[str, int] = {}
    dup_groups: dict[str, list[int]] = {}
    for i, c in enumerate(codes):
        if c is None:
            continue
        if c in first_of:
            dup_groups.setdefault(c, [first_of[c]]).append(i)
        else:
            first_of[c] = i
    for c, idx in dup_groups.items():
        add(
            "duplicate_code",
            "error",
            [c],
            f"code {c} is used by {len(idx)} grids ({', '.join(str(levels[i]) for i in idx)})",
            f"编码 {c} 被 {len(idx)} 个网格重复使用",
            float(area[idx].sum()),
            geoms[idx[0]],
        )
    if code_format == "auto":
        code_format = "gb" if _gb_code_format(codes) else None
    gb_ok = np.array([bool(c) and c.isdigit() and len(c) in (14, 15) for c in codes], dtype=bool)
    if code_format == "gb":
        for i in np.flatnonzero(~gb_ok):
            add(
                "malformed_code",
                "error",
                [code_text[i]],
                f"code {code_text[i]} is not a 15-digit (or legacy 14-digit) grid code",
                f"编码 {code_text[i]} 不是15位（或旧版14位）网格编码",
                area[i],
                geoms[i],
            )

    # ---- parents -----------------------------------------------------------------------------
    parent_idx = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        level, parent, code = levels[i], parents[i], code_text[i]
        p = first_of.get(parent, -1) if parent is not None else -1
        parent_idx[i] = p
        lvl_zh = LEVEL_ZH.get(level, str(level))
        if level == "l1":
            if p >= 0:
                add(
                    "orphan",
                    "error",
                    [code, parent],
                    f"level-1 grid {code} has a parent grid {parent}; level-1 grids have none",
                    f"一级网格 {code} 不应有上级网格（现为 {parent}）",
                    area[i],
                    geoms[i],
                )
                parent_idx[i] = -1
            elif parent is not None:
                add(
                    "orphan",
                    "warning",
                    [code, parent],
                    f"level-1 grid {code} names parent {parent}, which is not a grid here",
                    f"一级网格 {code} 的上级编码 {parent} 不在网格中",
                    area[i],
                    geoms[i],
                )
            continue
        if parent is None:
            if level in PARENT_LEVEL:
                add(
                    "orphan",
                    "error",
                    [code],
                    f"{level} grid {code} has no parent (needs a {PARENT_LEVEL[level]} grid)",
                    f"{lvl_zh} {code} 没有上级网格（应属于{LEVEL_ZH[PARENT_LEVEL[level]]}）",
                    area[i],
                    geoms[i],
                )
            continue
        if p < 0:
            add(
                "orphan",
                "error",
                [code, parent],
                f"{level} grid {code}: parent {parent} not found",
                f"{lvl_zh} {code} 的上级网格 {parent} 不存在",
                area[i],
                geoms[i],
            )
            continue
        want = PARENT_LEVEL.get(level)
        plevel = levels[p]
        bad_level = (want is not None and plevel != want) or (
            level == "dedicated" and plevel == "dedicated"
        )
        if bad_level:
            need = want or "regular"
            add(
                "orphan",
                "error",
                [code, parent],
                f"{level} grid {code}: parent {parent} is {plevel}, not {need}",
                f"{lvl_zh} {code} 的上级网格 {parent} 层级不符（{LEVEL_ZH.get(plevel, plevel)}）",
                area[i],
                geoms[i],
            )
        if code_format == "gb" and gb_ok[i] and gb_ok[p]:
            pc = codes[p]
            if len(pc) != len(code) or not code.startswith(_code_stem(pc)) or code == pc:
                add(
                    "malformed_code",
                    "error",
                    [code, pc],
                    f"code {code} does not extend its parent's code {pc} "
                    f"(expected to start with {_code_stem(pc)})",
                    f"编码 {code} 与上级网格编码 {pc} 不一致（应以 {_code_stem(pc)} 开头）",
                    area[i],
                    geoms[i],
                )

    # ---- children outside their parent -------------------------------------------------------
    has_geom = ~missing
    child = np.flatnonzero((parent_idx >= 0) & has_geom)
    child = child[has_geom[parent_idx[child]]]
    if len(child):
        par = parent_idx[child]
        shapely.prepare(geoms[par])
        inside = shapely.covers(geoms[par], geoms[child])
        child, par = child[~inside], par[~inside]
        pieces = _classify_pieces(
            shapely.difference(geoms[child], geoms[par]), len(child), *tolerance
        )
        for k, (c, p) in enumerate(zip(child, par, strict=True)):
            cc, pc = code_text[c], code_text[p]
            if pieces.big_area[k] > 0:
                a = pieces.big_area[k]
                add(
                    "outside_parent",
                    "error",
                    [cc, pc],
                    f"{levels[c]} grid {cc}: {_m2(a)} m² ({a / max(area[c], 1e-9):.0%}) lies "
                    f"outside its parent {pc}",
                    f"{LEVEL_ZH.get(levels[c], levels[c])} {cc} 有 {_m2(a)} m² 超出上级网格 {pc}",
                    a,
                    pieces.big_geom[k],
                )
            if pieces.sliver_area[k] > 0:
                a, m = pieces.sliver_area[k], pieces.sliver_count[k]
                add(
                    "sliver",
                    "warning",
                    [cc, pc],
                    f"{m} sliver(s) of {cc}, {_m2(a)} m² in all, lie outside its parent {pc}",
                    f"网格 {cc} 有 {m} 处碎片（共 {_m2(a)} m²）超出上级网格 {pc}",
                    a,
                    pieces.sliver_geom[k],
                )

    # ---- siblings: overlaps and isolation (regular levels only) -------------------------------
    regular = np.flatnonzero(np.isin(levels, REGULAR_LEVELS) & has_geom)
    group = np.array(
        [f"{levels[i]}|{parents[i] if levels[i] != 'l1' else ''}" for i in range(n)], dtype=object
    )
    if len(regular):
        tree = shapely.STRtree(geoms[regular])
        a_i, b_i = tree.query(geoms[regular], predicate="intersects")
        a, b = regular[a_i], regular[b_i]
        pair = (a < b) & (group[a] == group[b])
        a, b = a[pair], b[pair]
        pieces = _classify_pieces(shapely.intersection(geoms[a], geoms[b]), len(a), *tolerance)
        for k, (i, j) in enumerate(zip(a, b, strict=True)):
            ci, cj = code_text[i], code_text[j]
            if pieces.big_area[k] > 0:
                ar = pieces.big_area[k]
                add(
                    "sibling_overlap",
                    "error",
                    [ci, cj],
                    f"{levels[i]} grids {ci} and {cj} overlap by {_m2(ar)} m²",
                    f"同级网格 {ci} 与 {cj} 重叠 {_m2(ar)} m²",
                    ar,
                    pieces.big_geom[k],
                )
            if pieces.sliver_area[k] > 0:
                ar, m = pieces.sliver_area[k], pieces.sliver_count[k]
                add(
                    "sliver",
                    "warning",
                    [ci, cj],
                    f"{m} sliver overlap(s) between {ci} and {cj}, {_m2(ar)} m² in all",
                    f"网格 {ci} 与 {cj} 之间有 {m} 处重叠碎片（共 {_m2(ar)} m²）",
                    ar,
                    pieces.sliver_geom[k],
                )
        # isolated: no sibling within sliver_width_m, in a group of two or more
        near_tree = shapely.STRtree(metric[regular])
        a_i, b_i = near_tree.query(metric[regular], predicate="dwithin", distance=sliver_width_m)
        a, b = regular[a_i], regular[b_i]
        near = (a != b) & (group[a] == group[b])
        n_near = np.bincount(a[near], minlength=n)
        group_size = pd.Series(group[regular]).value_counts()
        for i in regular:
            if n_near[i] == 0 and group_size[group[i]] > 1:
                add(
                    "isolated",
                    "warning",
                    [code_text[i]],
                    f"{levels[i]} grid {code_text[i]} has no neighbouring sibling "
                    f"(an island, or detached from the others)",
                    f"{LEVEL_ZH.get(levels[i], levels[i])} {code_text[i]} 没有相邻的同级网格"
                    "（飞地或孤岛）",
                    area[i],
                    geoms[i],
                )

    # ---- coverage gaps: a parent not tiled by its regular children ---------------------------
    kids = [i for i in regular if parent_idx[i] >= 0]
    if kids:
        by_parent = pd.Series(kids).groupby(parent_idx[kids]).apply(list)
        par = by_parent.index.to_numpy()
        par = par[has_geom[par]]
        unions = np.array([shapely.union_all(geoms[by_parent[p]]) for p in par], dtype=object)
        pieces = _classify_pieces(shapely.difference(geoms[par], unions), len(par), *tolerance)
        for k, p in enumerate(par):
            pc = code_text[p]
            lvl_zh = LEVEL_ZH.get(levels[p], levels[p])
            if pieces.big_area[k] > 0:
                ar = pieces.big_area[k]
                add(
                    "coverage_gap",
                    "error",
                    [pc],
                    f"{_m2(ar)} m² of {levels[p]} grid {pc} is covered by none of its children",
                    f"{lvl_zh} {pc} 有 {_m2(ar)} m² 未被下级网格覆盖（未无缝拼接）",
                    ar,
                    pieces.big_geom[k],
                )
            if pieces.sliver_area[k] > 0:
                ar, m = pieces.sliver_area[k], pieces.sliver_count[k]
                add(
                    "sliver",
                    "warning",
                    [pc],
                    f"{m} sliver gap(s) in {pc} between its children, {_m2(ar)} m² in all",
                    f"{lvl_zh} {pc} 的下级网格之间有 {m} 处缝隙碎片（共 {_m2(ar)} m²）",
                    ar,
                    pieces.sliver_geom[k],
                )

    # ---- multipart grids and tiny grids -------------------------------------------------------
    nparts = np.where(has_geom, shapely.get_num_geometries(metric), 0)
    for i in np.flatnonzero(nparts > 1):
        parts = shapely.get_parts(metric[i])
        part_area = shapely.area(parts)
        small = part_area < sliver_m2
        add(
            "multipart",
            "warning",
            [code_text[i]],
            f"grid {code_text[i]} is in {nparts[i]} separate parts"
            + (f", {small.sum()} of them below {sliver_m2:g} m²" if small.any() else ""),
            f"网格 {code_text[i]} 由 {nparts[i]} 个互不相连的部分组成",
            area[i],
            geoms[i],
        )
    for i in np.flatnonzero(has_geom & (area < sliver_m2)):
        add(
            "sliver",
            "warning",
            [code_text[i]],
            f"grid {code_text[i]} is only {_m2(area[i])} m²",
            f"网格 {code_text[i]} 面积仅 {_m2(area[i])} m²（碎片）",
            area[i],
            geoms[i],
        )

    problems = _sort_problems(pd.DataFrame(rows, columns=PROBLEM_COLUMNS))
    out = gpd.GeoDataFrame(
        problems.drop(columns="geometry").reset_index(drop=True),
        geometry=list(problems["geometry"]),
        crs=STORAGE_EPSG,
    )[PROBLEM_COLUMNS]
    out["area_m2"] = out["area_m2"].astype(float)
    crs_name = pyproj.CRS.from_user_input(metric_crs).to_string()
    return ValidationReport(problems=out, n_grids=n, metric_crs=crs_name)


# ----------------------------------------------------------------------------- for the grid page
#: kinds of dedicated grid (专属网格) the demo district and DOMAIN.md name
DEDICATED_KINDS = ("school", "hospital", "market", "park", "enterprise", "government")


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
