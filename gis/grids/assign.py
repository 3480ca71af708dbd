"""Point-in-grid assignment: each point's micro-grid and its ancestors, by integer cell keys
with exact tests only near boundaries, optionally with the grid version in force at each
point's time.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.core.errors import InputError
from gis.core.geometry import REGULAR_LEVELS
from gis.grids.hierarchy import clean_code, in_force

#: the label of a point that lies in no grid (never dropped)
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
            current = [clean_code(parent.get(c)) if c is not None else None for c in current]
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
        grids = grids[in_force(grids, at)]
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
            live = end.isna().to_numpy()
        elif k == 0:
            live = (
                in_force(versions, cuts[0] - np.timedelta64(1, "ns"))
                if len(cuts)
                else (np.ones(len(versions), dtype=bool))
            )
        else:
            live = in_force(versions, cuts[k - 1])
        rows = np.flatnonzero(piece == k)
        current = versions[live]
        if not (current["level"] == level).any():
            frame = pd.DataFrame(OUTSIDE, index=rows, columns=_LEVEL_CHAIN[level])
        else:
            frame = grid_index(current, level=level).assign(x[rows], y[rows], index=rows)
        parts.append(frame)
    out = pd.concat(parts).sort_index() if parts else pd.DataFrame(columns=_LEVEL_CHAIN[level])
    out.index = index if index is not None else pd.RangeIndex(len(x))
    return out
