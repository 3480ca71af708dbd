"""The edit operations: reshape, split, merge, move, add a dedicated grid, retire one.

Each takes the current hierarchy and returns an :class:`EditResult` with the whole new one;
none changes its input or touches the database.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Collection, Sequence

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import shape

from gis.core.errors import InputError
from gis.grids.codes import number_west_east_north_south
from gis.grids.edit.geometry import (
    EXTEND_M,
    OUTSIDE_TOLERANCE_M2,
    SLIVER_M2,
    SNAP_M,
    Scale,
    diff,
    inter,
    polygon_parts,
    polygonal,
    union,
    union_all,
)
from gis.grids.edit.result import DEDICATED, EditResult
from gis.grids.edit.tiling import EditDraft


def _geometry_errors(func):
    """Report a GEOS failure (an invalid stored shape, usually) as an InputError."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except shapely.errors.GEOSException as exc:
            raise InputError(
                f"{func.__name__}: a geometry operation failed ({exc}); repair the grids first "
                "(gis.grids.validate_hierarchy offers repaired shapes)"
            ) from exc

    return wrapper


def _as_shape(geometry, what: str) -> shapely.Geometry:
    if geometry is None:
        raise InputError(f"no {what} given")
    if isinstance(geometry, dict):
        geometry = shape(geometry.get("geometry", geometry))
    if isinstance(geometry, str):
        geometry = shapely.from_wkt(geometry)
    if not isinstance(geometry, shapely.Geometry):
        raise InputError(f"{what} is not a geometry")
    return geometry


def _as_polygon_input(geometry, what: str = "new shape") -> shapely.Geometry:
    geom = _as_shape(geometry, what)
    if shapely.get_type_id(geom) not in (3, 6, 7):
        raise InputError(f"the {what} must be a polygon, not a {geom.geom_type}")
    if not shapely.is_valid(geom):
        geom = shapely.make_valid(geom)
    geom = polygonal(geom)
    if shapely.is_empty(geom):
        raise InputError(f"the {what} is empty")
    return geom


@_geometry_errors
def reshape(
    grids: gpd.GeoDataFrame,
    code: str,
    new_geometry: shapely.Geometry,
    *,
    update_parent: bool = False,
    snap_m: float = SNAP_M,
    sliver_m2: float = SLIVER_M2,
) -> EditResult:
    """Give grid ``code`` a new shape; its siblings give or take the area.

    Parameters
    ----------
    grids
        The current hierarchy (EPSG:4326); not modified.
    code
        The grid to reshape (any level; a dedicated grid just takes the shape).
    new_geometry
        The new (Multi)Polygon in EPSG:4326 (a shapely geometry, WKT or GeoJSON mapping).
    update_parent
        When the new shape leaves the parent: False refuses the edit; True grows the parent
        (and its ancestors, as needed) to contain it, taking the area from the parent's
        siblings by the same rule. A level-1 grid's "parent" is the district.
    snap_m
        Vertices of the drawing within this distance (m) of existing vertices snap to them.
    sliver_m2
        Detached parts of neighbours below this area (m²) are handed on.

    Returns
    -------
    EditResult
        ``targets=[code]``; siblings that gave or took area and children that were clipped
        or extended are in ``changed``.

    Raises
    ------
    InputError
        Unknown code; not a polygon; the shape leaves the parent (how many m², which parent)
        and ``update_parent`` is False; the edit would swallow a sibling; area given up that
        borders no sibling (it would be a gap).
    """
    work = EditDraft(grids, snap_m=snap_m, sliver_m2=sliver_m2)
    code = work.require(code)
    geom = _as_polygon_input(new_geometry)
    work.targets = [code]
    _reshape(work, code, geom, update_parent=update_parent)
    return work.finish("reshape")


def _reshape(work: EditDraft, code: str, geom, *, update_parent: bool) -> None:
    parent = work.parent[code]
    siblings = work.children(parent, dedicated=work.level[code] == DEDICATED)
    geom = work.snap(geom, [code, parent, *siblings])
    if shapely.is_empty(geom):
        raise InputError(f"the new shape of {code} is empty")
    if work.level[code] == DEDICATED:
        if parent is None:
            work.geom[code] = geom
            return
        pg = work.geom[parent]
        outside = work.area_m2(shapely.difference(geom, pg))
        if outside > OUTSIDE_TOLERANCE_M2:
            raise InputError(
                f"the new shape of dedicated grid {code} lies {outside:,.0f} m² outside its "
                f"parent {parent}; a dedicated grid must stay inside its parent"
            )
        work.geom[code] = work.clean(inter(geom, pg))
        return
    pg = work.parent_geom(parent)
    outside = shapely.difference(geom, pg)
    outside_m2 = work.area_m2(outside)
    if outside_m2 > OUTSIDE_TOLERANCE_M2:
        if not update_parent:
            where = "the district" if parent is None else f"its parent {parent}"
            raise InputError(
                f"the new shape of {code} lies {outside_m2:,.0f} m² outside {where}; "
                "keep it inside, or choose to extend the parent"
            )
        if parent is None:
            work.extend_district(geom)
            work.notes.append(f"the district grows by {outside_m2:,.0f} m²")
        else:
            work.notes.append(f"parent {parent} extended by {outside_m2:,.0f} m² to contain {code}")
            _reshape(work, parent, union(pg, geom), update_parent=True)
        pg = work.parent_geom(parent)
    if parent is None and update_parent:
        work.allow_district_change = True
    geom = work.clean(inter(geom, pg))
    if shapely.is_empty(geom):
        raise InputError(f"the new shape of {code} does not overlap {work.label(parent)}")
    work.retile(parent, {code: geom}, no_receive={code})
    if len(polygon_parts(work.geom[code])) > 1:
        work.notes.append(f"{code} is now in {len(polygon_parts(work.geom[code]))} separate parts")


@_geometry_errors
def split(
    grids: gpd.GeoDataFrame,
    code: str,
    line: shapely.Geometry,
    *,
    extend_m: float = EXTEND_M,
    sliver_m2: float = SLIVER_M2,
    reserved: Collection[str] = (),
) -> EditResult:
    """Split a regular grid along a drawn line.

    The line's ends are extended by ``extend_m`` along their last segment, so a line drawn
    nearly across the grid still cuts it. Pieces smaller than ``sliver_m2`` join the piece
    they share the longest border with. The original code is **retired**; every piece gets a
    new code under the same parent (:func:`gis.grids.next_free_codes`), numbered west→east,
    north→south, and the name ``<name>-<n>``. Households etc. are shared by area. Each child
    of the split grid goes to the piece holding most of its area (and is re-coded under it);
    pieces are then re-tiled, so a child the line cuts gives its smaller side to the
    neighbouring child in the other piece.

    Parameters
    ----------
    line
        A (Multi)LineString in EPSG:4326.
    reserved
        Codes that must not be issued (e.g. retired codes, :func:`used_codes`).

    Raises
    ------
    InputError
        The grid is dedicated or unknown, or the line does not cut it into at least two parts.
    """
    work = EditDraft(grids, sliver_m2=sliver_m2, reserved=reserved)
    code = work.require(code)
    if not work.is_regular(code):
        raise InputError(f"{code} is a dedicated grid: retire it and add new ones instead")
    line = _as_shape(line, "split line")
    if shapely.get_type_id(line) not in (1, 5):
        raise InputError(f"the split line must be a line, not a {line.geom_type}")
    work.targets = [code]
    geom = work.geom[code]
    cutter = _extend_line(line, extend_m, work.scale)
    pieces = _cut(geom, cutter, work)
    if len(pieces) < 2:
        raise InputError(
            f"the line does not cut grid {code} into two parts (its ends are extended by "
            f"{extend_m:g} m): draw it from one edge of the grid to another"
        )
    parent = work.parent[code]
    reps = shapely.point_on_surface(np.array(pieces, dtype=object))
    order = _west_east_north_south(reps, pieces, work.scale)
    pieces = [pieces[i] for i in order]
    codes = work.new_codes(parent, len(pieces), like=code)
    name = work.before_attr(code, "name")
    kids = work.children(code)
    dkids = work.children(code, dedicated=True)
    for i, (new_code, piece) in enumerate(zip(codes, pieces, strict=True)):
        work.add_grid(
            new_code,
            like=code,
            geom=work.clean(piece),
            parent=parent,
            level=work.level[code],
            name=f"{name}-{i + 1}",
        )
    work.retire_grid(code)
    pgeoms = np.array([work.geom[c] for c in codes], dtype=object)
    for k in kids + dkids:
        share = shapely.area(shapely.intersection(pgeoms, work.geom[k]))
        work.recode(k, codes[int(np.argmax(share))])
    for new_code in codes:
        work.retile(new_code)
        work.fit_dedicated(new_code)
    work.notes.append(
        f"{code} split into {', '.join(codes)}; households, population and businesses "
        "shared by area"
    )
    return work.finish("split")


def _extend_line(line, extend_m: float, scale: Scale) -> shapely.Geometry:
    """Extend both ends of each part of ``line`` by ``extend_m`` along its end segments."""
    out = []
    for part in shapely.get_parts(line):
        xy = shapely.get_coordinates(part)
        if len(xy) < 2:
            continue
        xy = xy.copy()
        for end, prev in ((0, 1), (-1, -2)):
            d = xy[end] - xy[prev]
            norm = math.hypot(d[0] * scale.mx, d[1] * scale.my)
            if norm > 0:
                xy[end] = xy[end] + d / norm * extend_m
        out.append(shapely.linestrings(xy))
    return shapely.MultiLineString(out) if len(out) > 1 else (out[0] if out else line)


def _cut(geom, cutter, work: EditDraft) -> list:
    """Pieces of ``geom`` cut by ``cutter``; pieces below the sliver area join a neighbour.

    A part of a multi-part grid that the line does not cut joins the nearest piece.
    """
    big: list = []
    uncut: list = []
    for part in polygon_parts(geom):
        inside = shapely.intersection(cutter, shapely.buffer(part, work.scale.deg(0.01)))
        noded = shapely.union(shapely.boundary(part), inside)
        faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
        shapely.prepare(part)
        faces = [f for f in faces if shapely.covers(part, shapely.point_on_surface(f))]
        faces = [work.clean(inter(f, part)) for f in faces]
        faces = [f for f in faces if not shapely.is_empty(f)]
        faces.sort(key=lambda f: -work.area_m2(f))
        keep = [f for f in faces if work.area_m2(f) >= work.sliver_m2]
        small = [f for f in faces if work.area_m2(f) < work.sliver_m2]
        if len(keep) < 2:
            uncut.append(part)
            continue
        # small faces (a line grazing a corner) go to the face with the longest border
        for f in small:
            borders = [work.shared_border_m(f, b) for b in keep]
            i = int(np.argmax(borders))
            keep[i] = work.clean(union(keep[i], f))
        big.extend(keep)
    if len(big) < 2:
        return []
    for part in uncut:
        i = int(np.argmin([shapely.distance(part, b) for b in big]))
        big[i] = work.clean(union(big[i], part))
    return big


def _west_east_north_south(reps: np.ndarray, pieces: list, scale: Scale) -> list[int]:
    """Order of pieces west→east in rows north→south (:func:`gis.grids.number_west_east_north_south`)."""
    xy = shapely.get_coordinates(reps) * np.array([scale.mx, scale.my])
    band = math.sqrt(max(np.mean([scale.area_m2(p) for p in pieces]), 1e-6))
    seq = number_west_east_north_south(xy, band)
    return [int(i) for i in np.argsort(seq)]


@_geometry_errors
def merge(grids: gpd.GeoDataFrame, codes: Sequence[str]) -> EditResult:
    """Merge adjacent grids of the same parent and level into one.

    The merged grid **keeps the smallest code** (and its name) and the others are retired;
    households, population and businesses are summed. Children of the retired grids move
    under the kept grid and get new codes under it; children of the kept grid keep theirs.

    Raises
    ------
    InputError
        Fewer than two codes, unknown or dedicated grids, different parents or levels, or
        grids that do not form one connected group sharing borders (touching at a corner is
        not adjacent).
    """
    work = EditDraft(grids)
    codes = list(dict.fromkeys(str(c) for c in codes))
    if len(codes) < 2:
        raise InputError("choose at least two grids to merge")
    for c in codes:
        work.require(c)
        if not work.is_regular(c):
            raise InputError(f"{c} is a dedicated grid; only regular grids are merged")
    levels = {work.level[c] for c in codes}
    parents = {work.parent[c] for c in codes}
    if len(levels) > 1:
        raise InputError(
            f"grids of different levels cannot be merged ({', '.join(sorted(levels))})"
        )
    if len(parents) > 1:
        raise InputError(
            "only grids with the same parent can be merged; these sit under "
            + ", ".join(sorted(str(p) for p in parents))
            + " (move one first)"
        )
    _require_connected(work, codes)
    keep = min(codes)
    others = [c for c in codes if c != keep]
    work.targets = [keep, *others]
    merged = work.clean(union_all([work.geom[c] for c in codes]))
    movers = [k for c in others for k in work.children(c) + work.children(c, dedicated=True)]
    work.geom[keep] = merged
    for c in others:
        work.retire_grid(c)
    for k in movers:
        work.recode(k, keep)
    work.retile(keep)
    work.notes.append(
        f"{', '.join(others)} merged into {keep}; households, population and businesses summed"
    )
    return work.finish("merge")


def _require_connected(work: EditDraft, codes: list[str]) -> None:
    n = len(codes)
    adj = {i: set() for i in range(n)}
    for i in range(n):
        for j in range(i + 1, n):
            if work.shared_border_m(work.geom[codes[i]], work.geom[codes[j]]) > 1.0:
                adj[i].add(j)
                adj[j].add(i)
    seen, stack = {0}, [0]
    while stack:
        for j in adj[stack.pop()]:
            if j not in seen:
                seen.add(j)
                stack.append(j)
    if len(seen) < n:
        lone = [codes[i] for i in range(n) if i not in seen]
        raise InputError(
            f"grids {', '.join(lone)} share no border with the others: only adjacent grids "
            "can be merged"
        )


@_geometry_errors
def move(
    grids: gpd.GeoDataFrame,
    code: str,
    new_parent: str,
    *,
    reserved: Collection[str] = (),
) -> EditResult:
    """Move a grid (a micro-grid, typically) under another, adjacent parent of the same level.

    The grid keeps its shape. Its old parent loses the area and the new parent gains it
    (and so on up: if the two parents sit under different level-1 grids, those change too),
    so both stay tiled. The grid is re-coded under its new parent (the old code is retired);
    its own children follow.

    Raises
    ------
    InputError
        Unknown grids; a level-1 or dedicated grid; ``new_parent`` at another level than the
        current parent, the current parent, or not sharing a border with the grid; or the
        grid is its parent's last child (merge the parent instead).
    """
    work = EditDraft(grids, reserved=reserved)
    code = work.require(code)
    new_parent = work.require(new_parent)
    if not work.is_regular(code):
        raise InputError(f"{code} is a dedicated grid: reshape it or retire and add it instead")
    old_parent = work.parent[code]
    if old_parent is None:
        raise InputError(f"{code} is a level-1 grid: it has no parent to move from")
    if new_parent == old_parent:
        raise InputError(f"{code} is already under {new_parent}")
    if work.level[new_parent] != work.level[old_parent]:
        raise InputError(
            f"the new parent {new_parent} is at level {work.level[new_parent]}; {code} needs a "
            f"parent at level {work.level[old_parent]}"
        )
    geom = work.geom[code]
    border = work.shared_border_m(geom, work.geom[new_parent])
    if border <= 1.0:
        raise InputError(
            f"{code} shares no border with {new_parent}: a grid can move only to an adjacent parent"
        )
    if len(work.children(old_parent)) <= 1:
        raise InputError(
            f"{code} is the last grid of {old_parent}: merge {old_parent} with {new_parent} instead"
        )
    work.targets = [code]
    a, b = old_parent, new_parent
    while a is not None and b is not None and a != b:
        work.geom[a] = work.clean(diff(work.geom[a], geom))
        work.geom[b] = work.clean(union(work.geom[b], geom))
        work.fit_dedicated(a)
        a, b = work.parent[a], work.parent[b]
    new_code = work.recode(code, new_parent)
    if len(polygon_parts(work.geom[old_parent])) > 1:
        work.notes.append(
            f"{old_parent} is now in {len(polygon_parts(work.geom[old_parent]))} parts"
        )
    work.notes.append(f"{code} moved from {old_parent} to {new_parent} as {new_code}")
    return work.finish("move")


@_geometry_errors
def add_dedicated(
    grids: gpd.GeoDataFrame,
    *,
    name: str,
    kind: str,
    geometry: shapely.Geometry,
    parent_code: str,
    households: int = 0,
    population: int = 0,
    businesses: int = 1,
    snap_m: float = SNAP_M,
    reserved: Collection[str] = (),
) -> EditResult:
    """Add a dedicated grid (school, hospital, market ...) inside a regular grid.

    Dedicated grids overlay the regular ones and do not change them. The code is
    ``<parent's first 12 digits>9<seq>`` (the first free sequence number). A shape sticking
    out of the parent by less than 1 m² is clipped; more is refused.

    Raises
    ------
    InputError
        Empty name, unknown or dedicated parent, not a polygon, or outside the parent.
    """
    work = EditDraft(grids, snap_m=snap_m, reserved=reserved)
    parent_code = work.require(parent_code)
    if not (name or "").strip():
        raise InputError("a dedicated grid needs a name")
    if not work.is_regular(parent_code):
        raise InputError(f"{parent_code} is itself a dedicated grid: choose a regular parent")
    geom = _as_polygon_input(geometry, "dedicated grid shape")
    geom = work.snap(geom, [parent_code])
    pg = work.geom[parent_code]
    outside = work.area_m2(shapely.difference(geom, pg))
    if outside > OUTSIDE_TOLERANCE_M2:
        raise InputError(
            f"the dedicated grid lies {outside:,.0f} m² outside its parent {parent_code}; "
            "draw it inside, or choose the parent that contains it"
        )
    geom = work.clean(inter(geom, pg))
    if shapely.is_empty(geom):
        raise InputError(f"the dedicated grid does not overlap {parent_code}")
    code = work.new_dedicated_codes(parent_code, 1)[0]
    work.add_grid(
        code,
        like=None,
        geom=geom,
        parent=parent_code,
        level=DEDICATED,
        name=name.strip(),
        kind=kind,
        households=households,
        population=population,
        businesses=businesses,
    )
    work.targets = [code]
    return work.finish("add_dedicated")


@_geometry_errors
def retire(grids: gpd.GeoDataFrame, code: str) -> EditResult:
    """Retire a dedicated grid (its history is kept in the store).

    Raises
    ------
    InputError
        Unknown code, or a regular grid: it tiles its parent, so retiring it would leave a
        gap; merge it into a neighbour instead.
    """
    work = EditDraft(grids)
    code = work.require(code)
    if work.is_regular(code):
        raise InputError(
            f"{code} is a regular grid and tiles its parent: merge it into a neighbour instead "
            "of retiring it"
        )
    work.targets = [code]
    work.retire_grid(code)
    return work.finish("retire")
