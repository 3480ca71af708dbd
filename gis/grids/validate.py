"""Validation of a grid hierarchy against the standards' rules: tiles with no gap or overlap,
every grid under its parent, well-formed unique codes. Areas are m² in a local metric CRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis.core.geometry import REGULAR_LEVELS, local_metric_crs
from gis.core.settings import STORAGE_EPSG
from gis.grids.hierarchy import LEVEL_ZH, PARENT_LEVEL, clean_code
from gis.grids.report import (
    PROBLEM_COLUMNS,
    ValidationReport,
    format_m2,
    sort_problems,
    validity_point,
)

#: Overlay pieces smaller than this (m²) are floating-point noise of the reprojection, not data.
NOISE_M2 = 0.01


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
        CRS for areas; default ``gis.core.geometry.local_metric_crs`` of the grids.
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
    codes = [clean_code(c) for c in frame["code"]]
    code_text = np.array([c if c is not None else "(no code)" for c in codes], dtype=object)
    levels = frame["level"].astype(object).to_numpy()
    parents = (
        [clean_code(p) for p in frame["parent_code"]] if "parent_code" in frame else [None] * n
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
            f"make_valid offers a repaired shape of {format_m2(fixed_area)} m²",
            f"网格 {code_text[i]} 几何无效（{reason}，如自相交）；已给出修复后的图形 "
            f"{format_m2(fixed_area)} m²",
            fixed_area,
            validity_point(reason, fixed),
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
                    f"{levels[c]} grid {cc}: {format_m2(a)} m² ({a / max(area[c], 1e-9):.0%}) lies "
                    f"outside its parent {pc}",
                    f"{LEVEL_ZH.get(levels[c], levels[c])} {cc} 有 {format_m2(a)} m² 超出上级网格 {pc}",
                    a,
                    pieces.big_geom[k],
                )
            if pieces.sliver_area[k] > 0:
                a, m = pieces.sliver_area[k], pieces.sliver_count[k]
                add(
                    "sliver",
                    "warning",
                    [cc, pc],
                    f"{m} sliver(s) of {cc}, {format_m2(a)} m² in all, lie outside its parent {pc}",
                    f"网格 {cc} 有 {m} 处碎片（共 {format_m2(a)} m²）超出上级网格 {pc}",
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
                    f"{levels[i]} grids {ci} and {cj} overlap by {format_m2(ar)} m²",
                    f"同级网格 {ci} 与 {cj} 重叠 {format_m2(ar)} m²",
                    ar,
                    pieces.big_geom[k],
                )
            if pieces.sliver_area[k] > 0:
                ar, m = pieces.sliver_area[k], pieces.sliver_count[k]
                add(
                    "sliver",
                    "warning",
                    [ci, cj],
                    f"{m} sliver overlap(s) between {ci} and {cj}, {format_m2(ar)} m² in all",
                    f"网格 {ci} 与 {cj} 之间有 {m} 处重叠碎片（共 {format_m2(ar)} m²）",
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
                    f"{format_m2(ar)} m² of {levels[p]} grid {pc} is covered by none of its children",
                    f"{lvl_zh} {pc} 有 {format_m2(ar)} m² 未被下级网格覆盖（未无缝拼接）",
                    ar,
                    pieces.big_geom[k],
                )
            if pieces.sliver_area[k] > 0:
                ar, m = pieces.sliver_area[k], pieces.sliver_count[k]
                add(
                    "sliver",
                    "warning",
                    [pc],
                    f"{m} sliver gap(s) in {pc} between its children, {format_m2(ar)} m² in all",
                    f"{lvl_zh} {pc} 的下级网格之间有 {m} 处缝隙碎片（共 {format_m2(ar)} m²）",
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
            f"grid {code_text[i]} is only {format_m2(area[i])} m²",
            f"网格 {code_text[i]} 面积仅 {format_m2(area[i])} m²（碎片）",
            area[i],
            geoms[i],
        )

    problems = sort_problems(pd.DataFrame(rows, columns=PROBLEM_COLUMNS))
    out = gpd.GeoDataFrame(
        problems.drop(columns="geometry").reset_index(drop=True),
        geometry=list(problems["geometry"]),
        crs=STORAGE_EPSG,
    )[PROBLEM_COLUMNS]
    out["area_m2"] = out["area_m2"].astype(float)
    crs_name = pyproj.CRS.from_user_input(metric_crs).to_string()
    return ValidationReport(problems=out, n_grids=n, metric_crs=crs_name)
