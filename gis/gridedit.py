"""Editing the grid hierarchy: pure edit operations, an impact preview, versioned saves.

The operations take the current hierarchy (a GeoDataFrame in EPSG:4326 with ``code, name,
level, parent_code, kind, households, population, businesses, version, geometry``) and return an
:class:`EditResult` holding the whole new hierarchy; they never change their input and never
touch the database. :func:`impact_preview` says what an edit does before it is saved;
:func:`save_edit` writes it as new grid versions in one transaction, refusing with
:class:`gis.core.errors.EditConflict` when someone saved a newer version in between;
:func:`grid_history`, :func:`edit_log` and :func:`restore_version` read and undo the history.

Typical use (a page or a notebook)::

    grids = store.read_grids(engine)                       # current grids, with ``version``
    result = gridedit.reshape(grids, code, drawn_polygon)   # or split / merge / move ...
    preview = gridedit.impact_preview(grids, result, incidents=inc, staff=staff)
    print(preview.text("en"))
    group = gridedit.save_edit(engine, result, user="admin", reason="road moved")

Rules
-----
Tiling
    Regular grids (``l1``, ``l2``, ``micro``) tile their parent; the level-1 grids tile the
    district (their union). Every operation keeps that: after the edited grids are set, each
    affected parent is *re-tiled*: its other children lose what the edited grids now cover,
    and any area left uncovered (area a grid gave up, or a tiny piece cut off) goes, one
    connected piece at a time, to the child sharing the **longest border** with that piece
    (the edited grid itself does not take back what it gave up, except a sliver below
    ``sliver_m2`` that borders no other grid; ties go to the smallest code). A piece that
    borders no child that may take it is a gap: the edit is refused. A
    grid whose geometry changed has its own children re-tiled down to the micro-grids:
    children are clipped to a parent that shrank, and area the parent gained is shared among
    the children bordering it, each taking the part nearest to it (a Voronoi split in metres
    seeded along their borders, so their common borders run on into the new area: the
    children are "extended likewise"). A grandchild left with less than half its area in
    its parent moves (re-coded) under the grid now holding most of it, but every grid keeps
    at least one child. Dedicated grids overlay the regular ones: they are
    clipped to their parent when it shrinks (said in ``notes``) and never take part in tiling.
Precision
    Geometry stays in EPSG:4326 so that untouched vertices keep their exact stored values
    (a projection round trip would move them by float noise and open hairline gaps against
    grids that did not change). A drawn shape is first snapped to the vertices of the grid,
    its siblings and its parent within ``snap_m`` (Leaflet rounds to 6 decimals, ~0.1 m);
    polygon parts below :data:`NOISE_M2` are dust and dropped, and a detached part of a
    neighbour smaller than ``sliver_m2`` is handed on by the longest-border rule, so no
    sliver is left behind. Areas in messages and previews are m² in the local metric CRS
    (:func:`gis.core.crs.local_metric_crs`).
Codes
    A grid never changes code in place: a grid whose parent changes (``move``, children of a
    ``split`` or ``merge``) gets a new code under its new parent from
    :func:`gis.grids.next_free_codes` and its old code is retired, recursively for its own
    children (their codes carry the parent's prefix). ``split`` retires the original and gives
    every piece a new code, numbered west→east, north→south. ``merge`` keeps the smallest code
    of the merged grids and retires the others. Dedicated grids are numbered
    ``<community 12 digits>9<2-digit seq>`` as in the demo.
Attributes
    Households, population and businesses of changed leaf grids are re-estimated by area
    share: each grid of the state before the edit passes its numbers on in proportion to the
    area it hands over (people are assumed spread evenly inside a micro-grid), rounded so that
    totals are kept exactly. A changed parent gets the sum of its children. ``merge`` thus
    sums, ``split`` shares by area.
"""

from __future__ import annotations

import functools
import json
import math
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gis import grids as _grids
from gis.core.crs import areas_m2
from gis.core.errors import EditConflict, InputError
from gis.core.settings import STORAGE_EPSG
from gis.store.frames import read_frame, save_frame, typed_text

if TYPE_CHECKING:  # pragma: no cover
    from gis.auth import User

#: regular levels, top to bottom; dedicated grids overlay them
REGULAR_LEVELS = ("l1", "l2", "micro")
DEDICATED = "dedicated"
#: default snapping distance of a drawn shape to existing vertices (m); Leaflet rounds to ~0.1 m
SNAP_M = 0.5
#: pieces smaller than this (m²) are float dust: dropped, or absorbed by a neighbour
NOISE_M2 = 0.01
#: a detached part of a neighbour below this area (m²) is handed on; matches validation's default
SLIVER_M2 = 50.0
#: a new shape may stick out of its parent by this much (m²) and is simply clipped
OUTSIDE_TOLERANCE_M2 = 1.0
#: default extension of a split line's ends (m) so a line drawn nearly across still cuts
EXTEND_M = 20.0
ATTRIBUTES = ("households", "population", "businesses")
REQUIRED_COLUMNS = ("code", "name", "level", "parent_code", "geometry")


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------
@dataclass
class EditResult:
    """The outcome of one edit operation: the whole new hierarchy and what changed in it.

    Attributes
    ----------
    grids
        The complete hierarchy after the edit (EPSG:4326, the input's columns). ``version`` is
        the version each grid was loaded with (``<NA>`` for created grids); :func:`save_edit`
        assigns the new versions.
    changed
        Codes kept but with a new geometry or attributes (parent, name, households ...).
    created
        New codes (split pieces, re-coded grids, a new dedicated grid), west→east north→south.
    retired
        Codes that stop being in force (merged away, split, re-coded, retired).
    action
        ``reshape``, ``split``, ``merge``, ``move``, ``add_dedicated`` or ``retire`` (a
        :func:`restore_version` is logged as ``restore``).
    notes
        Human-readable remarks (English): what was clipped, snapped, re-coded, estimated.
    targets
        The grid(s) the user acted on (the others changed as a consequence).
    base
        The rows of the changed and retired grids as they were loaded (geometry and
        ``version``): what :func:`save_edit` expects to find in the store.
    recoded
        ``{old code: new code}`` for grids that only changed code (parent changed).
    """

    grids: gpd.GeoDataFrame
    changed: list[str]
    created: list[str]
    retired: list[str]
    action: str
    notes: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    base: gpd.GeoDataFrame | None = field(default=None, repr=False)
    recoded: dict[str, str] = field(default_factory=dict)

    @property
    def touched(self) -> list[str]:
        """Every code the edit writes or closes: changed, created and retired."""
        return [*self.changed, *self.created, *self.retired]

    @property
    def is_noop(self) -> bool:
        """True when nothing changed (e.g. a drawing equal to the stored shape)."""
        return not (self.changed or self.created or self.retired)

    @property
    def base_versions(self) -> dict[str, int]:
        """``{code: version loaded}`` of the grids the edit closes (changed and retired)."""
        if self.base is None or "version" not in self.base:
            return {}
        out = {}
        for code, version in zip(self.base["code"], self.base["version"], strict=True):
            if version is not None and not pd.isna(version):
                out[code] = int(version)
        return out


# --------------------------------------------------------------------------------------------
# geometry helpers (EPSG:4326 with a local metre scale)
# --------------------------------------------------------------------------------------------
class _Scale:
    """Metres per degree near the data (WGS-84 ellipsoid), for tolerances and quick areas."""

    def __init__(self, lat: float):
        phi = math.radians(lat)
        self.mx = 111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi) + 0.118 * math.cos(5 * phi)
        self.my = 111_132.954 - 559.822 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
        self.m2 = self.mx * self.my

    def deg(self, metres: float) -> float:
        """A distance in degrees that is at least ``metres`` in every direction."""
        return metres / min(self.mx, self.my)

    def area_m2(self, geom) -> float:
        return float(shapely.area(geom)) * self.m2

    def length_m(self, geom) -> float:
        return float(shapely.length(geom)) * math.sqrt(self.m2)


def _polygonal(geom) -> shapely.Geometry:
    """The polygonal part of ``geom`` as a (possibly empty) MultiPolygon."""
    if geom is None or shapely.is_empty(geom):
        return shapely.MultiPolygon()
    tid = shapely.get_type_id(geom)
    if tid == 3:
        return shapely.MultiPolygon([geom])
    if tid == 6:
        return geom
    if tid == 7:
        parts = [
            q
            for p in shapely.get_parts(geom)
            for q in shapely.get_parts(_polygonal(p))
            if shapely.get_type_id(q) == 3
        ]
        return shapely.MultiPolygon(parts)
    return shapely.MultiPolygon()


#: precision grid (degrees, ~1 µm) of the overlays that make new shapes: edges that should
#: coincide but differ in the last float bits (112.90 + 0.01 vs 112.905 + 0.005) snap together
GRID_DEG = 1e-11


def _inter(a, b):
    return shapely.intersection(a, b, grid_size=GRID_DEG)


def _diff(a, b):
    return shapely.difference(a, b, grid_size=GRID_DEG)


def _union(a, b):
    return shapely.union(a, b, grid_size=GRID_DEG)


def _union_all(geoms):
    return shapely.union_all(geoms, grid_size=GRID_DEG)


def _parts(geom) -> list[shapely.Polygon]:
    return list(shapely.get_parts(_polygonal(geom)))


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


def _missing(value) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))


# --------------------------------------------------------------------------------------------
# the working state of one edit
# --------------------------------------------------------------------------------------------
class _Work:
    """A mutable copy of the hierarchy that one operation edits, then turns into a result."""

    def __init__(
        self,
        grids: gpd.GeoDataFrame,
        *,
        snap_m: float = SNAP_M,
        sliver_m2: float = SLIVER_M2,
        reserved: Collection[str] = (),
    ):
        _check_frame(grids)
        self.before = grids
        self.snap_m = snap_m
        self.sliver_m2 = sliver_m2
        self.reserved = set(reserved)
        codes = grids["code"].astype(str).to_numpy()
        self.order = list(codes)
        self.geom: dict[str, Any] = dict(zip(codes, grids.geometry.to_numpy(), strict=True))
        self.orig_geom = dict(self.geom)
        self.level = dict(zip(codes, grids["level"], strict=True))
        self.parent = {
            c: (None if _missing(p) else str(p))
            for c, p in zip(codes, grids["parent_code"], strict=True)
        }
        self.orig_parent = dict(self.parent)
        self.index = {c: i for i, c in enumerate(codes)}
        self.rows: dict[str, dict] = {}  # created grids: their attributes
        self.attr_override: dict[str, dict] = {}  # kept grids: new attribute values
        self.created: list[str] = []
        self.retired: list[str] = []
        self.recoded: dict[str, str] = {}
        self.notes: list[str] = []
        self.targets: list[str] = []
        minx, miny, maxx, maxy = grids.total_bounds
        self.scale = _Scale((miny + maxy) / 2 if len(grids) else 0.0)
        self._district = None
        self.allow_district_change = False

    # ---- lookups ------------------------------------------------------------------------
    def exists(self, code: str) -> bool:
        return code in self.geom and code not in self.retired

    def require(self, code: str) -> str:
        code = str(code)
        if not self.exists(code):
            raise InputError(f"no current grid with code {code}")
        return code

    def is_regular(self, code: str) -> bool:
        return self.level[code] != DEDICATED

    def children(self, parent: str | None, *, dedicated: bool = False) -> list[str]:
        out = []
        for c in self.live():
            if self.parent[c] != parent:
                continue
            if (self.level[c] == DEDICATED) == dedicated:
                out.append(c)
        if parent is None and not dedicated:
            out = [c for c in out if self.level[c] in REGULAR_LEVELS]
        return sorted(out)  # ties (equal borders) go to the smallest code

    def live(self) -> list[str]:
        retired = set(self.retired)
        return [c for c in self.geom if c not in retired]

    def area_m2(self, geom) -> float:
        return self.scale.area_m2(geom)

    def district(self):
        if self._district is None:
            tops = [self.orig_geom[c] for c in self.children(None)]
            self._district = _union_all(tops) if tops else shapely.MultiPolygon()
        return self._district

    def parent_geom(self, parent: str | None):
        if parent is None:
            return self.district()
        if parent not in self.geom:
            raise InputError(
                f"parent grid {parent} is not among the grids given: pass the whole current "
                "hierarchy (all levels) to an edit"
            )
        return self.geom[parent]

    def label(self, code: str | None) -> str:
        return "the district" if code is None else code

    # ---- cleaning -------------------------------------------------------------------------
    def clean(self, geom) -> shapely.Geometry:
        """Valid MultiPolygon without dust parts."""
        geom = _polygonal(geom)
        if not shapely.is_valid(geom):
            geom = _polygonal(shapely.make_valid(geom))
        parts = [p for p in shapely.get_parts(geom) if self.area_m2(p) >= NOISE_M2]
        if len(parts) == len(shapely.get_parts(geom)):
            return geom
        return shapely.MultiPolygon(parts)

    def snap(self, geom, codes: Iterable[str | None]) -> shapely.Geometry:
        """Snap a drawn shape to the vertices of ``codes`` (within ``snap_m``)."""
        if self.snap_m <= 0:
            return geom
        refs = [self.parent_geom(c) for c in codes]
        refs = [r for r in refs if r is not None and not shapely.is_empty(r)]
        if not refs:
            return geom
        coords = np.unique(np.concatenate([shapely.get_coordinates(r) for r in refs]), axis=0)
        # only vertices near the drawing matter; a smaller reference snaps faster
        near = shapely.buffer(shapely.boundary(geom), self.scale.deg(self.snap_m) * 2)
        shapely.prepare(near)
        coords = coords[shapely.contains_xy(near, coords[:, 0], coords[:, 1])]
        if len(coords) == 0:
            return geom
        snapped = shapely.snap(geom, shapely.multipoints(coords), self.scale.deg(self.snap_m))
        if not shapely.is_valid(snapped):
            snapped = shapely.make_valid(snapped)
        return self.clean(snapped)

    def shared_border_m(self, piece, geom) -> float:
        """Length (m) of the border ``piece`` shares with ``geom`` (robust to float noise)."""
        if geom is None or shapely.is_empty(geom):
            return 0.0
        eps = self.scale.deg(0.01)
        near = shapely.buffer(piece, eps)
        if not shapely.intersects(near, geom):
            return 0.0
        return self.scale.length_m(shapely.intersection(shapely.boundary(geom), near))

    def changed_geom(self, code: str) -> bool:
        old = self.orig_geom.get(code)
        new = self.geom[code]
        if old is None:
            return True
        if old is new:
            return False
        return self.area_m2(shapely.symmetric_difference(old, new)) > NOISE_M2

    # ---- re-tiling ------------------------------------------------------------------------
    def retile(
        self,
        parent: str | None,
        fixed: Mapping[str, Any] | None = None,
        no_receive: Collection[str] = (),
        *,
        recurse: bool = True,
    ) -> None:
        """Make ``parent``'s regular children tile it again (see the module's rules).

        ``fixed`` children get exactly the given shape (clipped to the parent); the others
        lose what the fixed ones cover and share out the uncovered area by longest border.
        """
        fixed = dict(fixed or {})
        kids = self.children(parent)
        if not kids:
            return
        pg = self.parent_geom(parent)
        before = {k: self.geom[k] for k in kids}
        new: dict[str, Any] = {}
        for k, g in fixed.items():
            new[k] = self.clean(_inter(g, pg))
        fixed_union = _union_all(list(new.values())) if new else None
        for k in kids:
            if k in new:
                continue
            g = self.geom[k]
            if not shapely.covers(pg, g):
                g = _inter(g, pg)
            if fixed_union is not None and shapely.intersects(g, fixed_union):
                g = _diff(g, fixed_union)
            new[k] = self.clean(g)
        # detached small parts of the neighbours are handed on like gaps
        pool: list = []
        for k in kids:
            if k in fixed:
                continue
            parts = _parts(new[k])
            if len(parts) <= 1:
                continue
            areas = [self.area_m2(p) for p in parts]
            big = int(np.argmax(areas))
            keep = [p for i, p in enumerate(parts) if i == big or areas[i] >= self.sliver_m2]
            drop = [p for i, p in enumerate(parts) if i != big and areas[i] < self.sliver_m2]
            if drop:
                new[k] = shapely.MultiPolygon(keep)
                pool.extend(drop)
        for k in kids:
            if k not in fixed and shapely.is_empty(new[k]):
                what = ", ".join(fixed) if fixed else "the edit"
                raise InputError(
                    f"{what} would cover all of grid {k} (in {self.label(parent)}): "
                    "merge the grids instead"
                )
        covered = _union_all(list(new.values()))
        gap = _diff(pg, covered)
        pieces = [p for p in _parts(gap)] + pool
        receivers = [k for k in kids if k not in no_receive]
        dropped_m2 = 0.0
        while pieces:
            progress = False
            rest = []
            for piece in pieces:
                borders = [self.shared_border_m(piece, new[k]) for k in receivers]
                best = int(np.argmax(borders)) if borders else -1
                if best < 0 or borders[best] <= 0.0:
                    rest.append(piece)
                    continue
                progress = True
                touching = [k for k, b in zip(receivers, borders, strict=True) if b > 0.0]
                if fixed or len(touching) == 1:  # the edited level: longest border takes all
                    k = receivers[best]
                    new[k] = self.clean(_union(new[k], piece))
                    continue
                # children of a changed grid: each takes the part of the piece nearest to it
                shares = self.nearest_split(piece, {k: new[k] for k in touching})
                for k, part in shares.items():
                    for q in _parts(part):
                        if self.shared_border_m(q, new[k]) > 0.0:
                            new[k] = self.clean(_union(new[k], q))
                        else:  # a stray bit (Voronoi cell beyond a neighbour): next round
                            rest.append(q)
            if not progress:
                break
            pieces = rest
        else:
            rest = []
        for piece in rest:
            a = self.area_m2(piece)
            if a < NOISE_M2:
                continue
            if a < self.sliver_m2:  # a sliver left beside the edited grid: it keeps it
                borders = {k: self.shared_border_m(piece, new[k]) for k in kids}
                k = max(borders, key=borders.get)
                if borders[k] > 0.0:
                    new[k] = self.clean(_union(new[k], piece))
                    continue
            if parent is None and self.allow_district_change:
                dropped_m2 += a
                continue
            raise InputError(
                f"the edit would leave a gap of {_m2_text(a)} m² in {self.label(parent)} that "
                f"borders no grid able to take it (near {_where(piece)}); keep that area in "
                "the grid or draw it into a neighbour"
            )
        if dropped_m2:
            self.notes.append(f"the district lost {dropped_m2:,.0f} m² on its outer edge")
            self._district = _union_all(list(new.values()))
        for k in kids:
            self.geom[k] = new[k]
            n_parts = len(_parts(new[k]))
            if k not in fixed and n_parts > len(_parts(before[k])) and n_parts > 1:
                self.notes.append(f"{k} is now in {n_parts} separate parts")
        if not recurse:
            return
        changed = []
        for k in kids:
            if before[k] is new[k]:
                continue
            if self.area_m2(shapely.symmetric_difference(before[k], new[k])) <= NOISE_M2:
                self.geom[k] = before[k]
                continue
            changed.append(k)
        gained = self.follow_majority(kids, changed)
        for k in kids:
            if k in changed or k in gained:
                self.fit_dedicated(k)
                self.retile(k)

    def follow_majority(self, kids: list[str], changed: list[str]) -> set[str]:
        """Move a grandchild that now lies mostly in another of ``kids`` under that one.

        Children go with the grid that holds most of their area (re-coded under it), rather
        than being clipped to a sliver of their old parent. Returns the kids that gained
        children.
        """
        if not changed:
            return set()
        gained: set[str] = set()
        geoms = np.array([self.geom[k] for k in kids], dtype=object)
        for k in changed:
            moves = []
            grandkids = self.children(k)
            for g in grandkids:
                own = self.geom[g]
                overlap = shapely.area(shapely.intersection(geoms, own))
                best = int(np.argmax(overlap))
                here = overlap[kids.index(k)]
                if kids[best] != k and here < 0.5 * shapely.area(own) and overlap[best] > here:
                    moves.append((here / max(shapely.area(own), 1e-300), g, kids[best]))
            # a grid keeps at least one child: the one with the most of its area in it stays
            moves.sort()
            if len(moves) == len(grandkids):
                moves = moves[:-1]
            for _, g, target in moves:
                best = kids.index(target)
                new_code = self.recode(g, kids[best])
                self.notes.append(f"{g} now lies mostly in {target}: moved there as {new_code}")
                gained.add(target)
        return gained

    def nearest_split(self, piece, owners: Mapping[str, Any]) -> dict[str, Any]:
        """Cut ``piece`` among ``owners`` so that each point goes to the nearest owner (m).

        Points along each owner's border with the piece are the sites of a Voronoi diagram
        (built in metres: x scaled by the metres per degree of longitude); points on the
        borders of two owners (their common corner) are left out, so the dividing line
        continues the owners' common border into the piece.
        """
        eps = self.scale.deg(0.01)
        near = shapely.buffer(piece, eps)
        step = self.scale.deg(max(1.0, self.scale.length_m(shapely.boundary(piece)) / 2000))
        sites, owner = [], []
        for i, g in enumerate(owners.values()):
            line = shapely.intersection(shapely.boundary(g), near)
            xy = shapely.get_coordinates(shapely.segmentize(line, step))
            sites.append(xy)
            owner.append(np.full(len(xy), i))
        xy, own = np.concatenate(sites), np.concatenate(owner)
        keys = np.round(xy / (eps / 10)).astype(np.int64)
        _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
        inverse = inverse.ravel()
        owners_per_key = pd.Series(own).groupby(inverse).nunique().to_numpy()
        first = np.unique(inverse, return_index=True)[1]
        keep = first[owners_per_key == 1]
        xy, own = xy[keep], own[keep]
        codes = list(owners)
        if len(np.unique(own)) < 2:
            k = codes[int(own[0])] if len(own) else codes[0]
            return {k: piece}
        scale = np.array([self.scale.mx, self.scale.my])
        minx, miny, maxx, maxy = shapely.bounds(near)
        frame = shapely.box(minx * scale[0], miny * scale[1], maxx * scale[0], maxy * scale[1])
        cells = shapely.get_parts(
            shapely.voronoi_polygons(
                shapely.multipoints(xy * scale), extend_to=frame.buffer(10.0), ordered=True
            )
        )
        cells = shapely.transform(cells, lambda c: c / scale)
        out = {}
        for i, k in enumerate(codes):
            mine = cells[own == i]
            if len(mine):
                part = self.clean(_inter(_union_all(mine), piece))
                if not shapely.is_empty(part):
                    out[k] = part
        # what the cells miss (float edges) goes to the owner sharing the longest border
        rest = self.clean(_diff(piece, _union_all(list(out.values()))))
        for q in _parts(rest):
            borders = {k: self.shared_border_m(q, g) for k, g in out.items()}
            k = max(borders, key=borders.get)
            out[k] = self.clean(_union(out[k], q))
        return out

    def fit_dedicated(self, parent: str) -> None:
        """Clip the dedicated grids of ``parent`` to it (they overlay, never tile)."""
        pg = self.geom[parent]
        for d in self.children(parent, dedicated=True):
            g = self.geom[d]
            if shapely.covers(pg, g):
                continue
            clipped = self.clean(_inter(g, pg))
            lost = self.area_m2(g) - self.area_m2(clipped)
            if lost <= NOISE_M2:
                continue
            if shapely.is_empty(clipped):
                raise InputError(
                    f"dedicated grid {d} would lie wholly outside its parent {parent}: "
                    "retire it or move it first"
                )
            self.geom[d] = clipped
            self.notes.append(
                f"dedicated grid {d} clipped to its parent {parent} (-{lost:,.0f} m²)"
            )

    # ---- codes ------------------------------------------------------------------------------
    def taken_codes(self) -> set[str]:
        return set(self.geom) | self.reserved

    def new_codes(self, parent: str | None, n: int, *, like: str | None = None) -> list[str]:
        """``n`` unused codes for regular children of ``parent`` (after the highest in use).

        Level-1 grids (no parent) are numbered under the street of ``like`` (its first 9
        digits, a GB code).
        """
        if parent is None:
            if like is not None and like.isdigit() and len(like) in (14, 15):
                digits = len(like)
                return list(
                    _grids.next_free_codes(sorted(self.taken_codes()), like[:9], n, digits=digits)
                )
            raise InputError("new level-1 grids cannot be numbered automatically (no parent)")
        return _child_codes(self.taken_codes(), parent, n, dedicated=False)

    def new_dedicated_codes(self, parent: str, n: int) -> list[str]:
        return _child_codes(self.taken_codes(), parent, n, dedicated=True)

    def add_grid(self, code: str, *, like: str | None, geom, parent, level, **attrs) -> None:
        row = {}
        if like is not None:
            row = {
                c: self.before_attr(like, c)
                for c in _grids.GRID_COLUMNS
                if c in self.before and c != "code"
            }
            row.update(self.attr_override.get(like, {}))
        row.update(attrs)
        row.update(level=level, parent_code=parent)
        self.rows[code] = row
        self.geom[code] = geom
        self.level[code] = level
        self.parent[code] = parent
        self.created.append(code)

    def before_attr(self, code: str, column: str):
        if code in self.rows:
            return self.rows[code].get(column)
        if column not in self.before:
            return None
        return self.before[column].iloc[self.index[code]]

    def retire_grid(self, code: str) -> None:
        if code not in self.retired:
            self.retired.append(code)

    def recode(self, code: str, new_parent: str) -> str:
        """Give ``code`` a new code under ``new_parent`` (and its children, recursively)."""
        level = self.level[code]
        if level == DEDICATED:
            new = self.new_dedicated_codes(new_parent, 1)[0]
        else:
            new = self.new_codes(new_parent, 1)[0]
        kids = self.children(code) + self.children(code, dedicated=True)
        self.add_grid(new, like=code, geom=self.geom[code], parent=new_parent, level=level)
        self.retire_grid(code)
        self.recoded[code] = new
        for k in kids:
            self.recode(k, new)
        return new

    # ---- result -----------------------------------------------------------------------------
    def finish(self, action: str) -> EditResult:
        retired = [c for c in self.retired if c in self.orig_geom]
        created = [c for c in self.created if c not in self.retired]
        # a code created then retired inside one operation leaves no trace
        for code in self.geom:
            if code in self.orig_geom and code not in self.retired and not self.changed_geom(code):
                self.geom[code] = self.orig_geom[code]
        self._redistribute(created)
        changed = []
        for code in self.order:
            if code in self.retired:
                continue
            if self.changed_geom(code) or code in self.attr_override:
                changed.append(code)
        frame = self.before.copy()
        keep = ~frame["code"].astype(str).isin(self.retired).to_numpy()
        frame = frame.loc[keep].copy()
        frame_codes = frame["code"].astype(str).to_numpy()
        geoms = np.array([_as_multi(self.geom[c]) for c in frame_codes], dtype=object)
        frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=self.before.crs))
        for code, values in self.attr_override.items():
            if code in self.retired:
                continue
            mask = frame_codes == code
            for col, v in values.items():
                if col in frame:
                    frame.loc[mask, col] = v
        if created:
            gname = frame.geometry.name
            new_rows = []
            for code in created:
                row = {c: self.rows[code].get(c) for c in frame.columns if c != gname}
                row["code"] = code
                if "version" in frame:
                    row["version"] = pd.NA
                row[gname] = _as_multi(self.geom[code])
                new_rows.append(row)
            add = gpd.GeoDataFrame(
                pd.DataFrame(new_rows, columns=list(frame.columns)),
                geometry=gname,
                crs=self.before.crs,
            )
            frame = pd.concat([frame, add], ignore_index=True)
            frame = gpd.GeoDataFrame(frame, geometry=gname, crs=self.before.crs)
        frame = frame.reset_index(drop=True)
        for col in ATTRIBUTES:
            if col in frame:
                frame[col] = pd.to_numeric(frame[col], errors="coerce").round().astype("Int64")
        if "version" in frame:
            frame["version"] = pd.to_numeric(frame["version"], errors="coerce").astype("Int64")
        base_codes = set(changed) | set(retired)
        base = self.before[self.before["code"].astype(str).isin(base_codes)].copy()
        return EditResult(
            grids=frame,
            changed=changed,
            created=created,
            retired=retired,
            action=action,
            notes=list(dict.fromkeys(self.notes)),
            targets=list(self.targets),
            base=base,
            recoded={k: v for k, v in self.recoded.items() if v in created},
        )

    # ---- attributes -------------------------------------------------------------------------
    def _redistribute(self, created: list[str]) -> None:
        """Households etc. of changed/created regular grids by area share (module rules)."""
        attrs = [c for c in ATTRIBUTES if c in self.before]
        if not attrs:
            return
        live = self.live()
        live_set = set(live)
        dirty = {
            c
            for c in live
            if self.is_regular(c) and (c in created or self.changed_geom(c) or c in self.rows)
        }
        if not dirty:
            return
        has_kids = {self.parent[c] for c in live if self.is_regular(c)}
        before_codes = [c for c in self.orig_geom if self.level[c] in REGULAR_LEVELS]
        before_has_kids = {self.orig_parent[c] for c in before_codes}
        values: dict[str, dict[str, float]] = {}
        # leaves first: area share from the leaves before the edit
        leaves = [c for c in dirty if c not in has_kids]
        src = [c for c in before_codes if c not in before_has_kids]
        if leaves and src:
            values.update(self._area_share(leaves, src, attrs))
        # then parents, bottom-up: the sum of their children
        depth = {lvl: i for i, lvl in enumerate(REGULAR_LEVELS)}
        parents = sorted(
            (c for c in dirty if c in has_kids), key=lambda c: -depth.get(self.level[c], 0)
        )
        for p in parents:
            kids = [k for k in live_set if self.parent[k] == p and self.is_regular(k)]
            sums = {}
            for a in attrs:
                vals = [self._value(k, a, values) for k in kids]
                sums[a] = None if any(v is None for v in vals) else float(sum(vals))
            values[p] = sums
        for code, vals in values.items():
            target = (
                self.rows[code] if code in self.rows else self.attr_override.setdefault(code, {})
            )
            for a, v in vals.items():
                current = self._value(code, a, {})
                if v is None:
                    continue
                if current is None or int(round(v)) != int(round(current)):
                    target[a] = int(round(v))
        for code in list(self.attr_override):
            if not self.attr_override[code]:
                del self.attr_override[code]

    def _value(self, code: str, attr: str, computed: dict) -> float | None:
        if code in computed and computed[code].get(attr) is not None:
            return computed[code][attr]
        if code in self.attr_override and attr in self.attr_override[code]:
            v = self.attr_override[code][attr]
        elif code in self.rows:
            v = self.rows[code].get(attr)
        else:
            v = self.before_attr(code, attr)
        return None if _missing(v) else float(v)

    def _area_share(self, targets: list[str], sources: list[str], attrs: list[str]) -> dict:
        tgeoms = np.array([self.geom[c] for c in targets], dtype=object)
        sgeoms = np.array([self.orig_geom[c] for c in sources], dtype=object)
        tree = shapely.STRtree(sgeoms)
        ti, si = tree.query(tgeoms, predicate="intersects")
        inter = shapely.area(shapely.intersection(tgeoms[ti], sgeoms[si]))
        share = inter / np.maximum(shapely.area(sgeoms[si]), 1e-300)
        out: dict[str, dict[str, float | None]] = {c: {} for c in targets}
        for a in attrs:
            sv = np.array([np.nan if (v := self._value(c, a, {})) is None else v for c in sources])
            # a source whose own value is unknown makes its targets unknown
            contrib = sv[si] * share
            unknown = np.zeros(len(targets), dtype=bool)
            unknown[ti[np.isnan(contrib) & (share > 1e-9)]] = True
            real = np.bincount(ti, np.nan_to_num(contrib), len(targets))
            rounded = _largest_remainder(real)
            for i, c in enumerate(targets):
                out[c][a] = None if unknown[i] else float(rounded[i])
        return out


def _largest_remainder(values: np.ndarray) -> np.ndarray:
    """Integers summing to ``round(sum(values))``, each within 1 of its value."""
    floor = np.floor(values + 1e-9)
    short = int(round(values.sum() - floor.sum()))
    if short > 0:
        order = np.argsort(-(values - floor), kind="stable")[:short]
        floor[order] += 1
    return floor


def _as_multi(geom) -> shapely.Geometry:
    return _polygonal(geom)


def _m2_text(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def _where(geom) -> str:
    p = shapely.point_on_surface(geom)
    return f"{p.y:.6f}N {p.x:.6f}E"


def _child_codes(taken: Collection[str], parent: str, n: int, *, dedicated: bool) -> list[str]:
    """``n`` new child codes of ``parent``: :func:`gis.grids.next_free_codes` for GB codes
    (numbers after the highest in use, so codes in ``taken`` are never handed out again);
    ``<parent>-<n>`` (``<parent>-D<n>`` for dedicated grids) for codes of another system."""
    code = str(parent)
    if code.isdigit() and len(code) in (9, 12, 14, 15):
        return list(_grids.next_free_codes(sorted(taken), code, n, dedicated=dedicated))
    stem = f"{code}-D" if dedicated else f"{code}-"
    used = [c[len(stem) :] for c in taken if c.startswith(stem)]
    start = max((int(u) for u in used if u.isdigit()), default=0) + 1
    return [f"{stem}{s}" for s in range(start, start + n)]


def _check_frame(grids: gpd.GeoDataFrame) -> None:
    if not isinstance(grids, gpd.GeoDataFrame):
        raise InputError("grids must be a GeoDataFrame")
    missing = [c for c in REQUIRED_COLUMNS if c not in grids and c != "geometry"]
    if missing:
        raise InputError(f"grids lack column(s) {', '.join(missing)}")
    if grids.crs is not None and grids.crs.to_epsg() != STORAGE_EPSG:
        raise InputError(f"grids must be in EPSG:{STORAGE_EPSG}, not {grids.crs}")
    dup = grids["code"][grids["code"].duplicated()]
    if len(dup):
        raise InputError(f"duplicate grid code(s) {', '.join(map(str, dup.unique()[:5]))}")


def _as_shape(geometry, what: str) -> shapely.Geometry:
    if geometry is None:
        raise InputError(f"no {what} given")
    if isinstance(geometry, dict):
        from shapely.geometry import shape

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
    geom = _polygonal(geom)
    if shapely.is_empty(geom):
        raise InputError(f"the {what} is empty")
    return geom


# --------------------------------------------------------------------------------------------
# operations
# --------------------------------------------------------------------------------------------
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
    work = _Work(grids, snap_m=snap_m, sliver_m2=sliver_m2)
    code = work.require(code)
    geom = _as_polygon_input(new_geometry)
    work.targets = [code]
    _reshape(work, code, geom, update_parent=update_parent)
    return work.finish("reshape")


def _reshape(work: _Work, code: str, geom, *, update_parent: bool) -> None:
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
        work.geom[code] = work.clean(_inter(geom, pg))
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
            work._district = _union(work.district(), geom)
            work.notes.append(f"the district grows by {outside_m2:,.0f} m²")
        else:
            work.notes.append(f"parent {parent} extended by {outside_m2:,.0f} m² to contain {code}")
            _reshape(work, parent, _union(pg, geom), update_parent=True)
        pg = work.parent_geom(parent)
    if parent is None and update_parent:
        work.allow_district_change = True
    geom = work.clean(_inter(geom, pg))
    if shapely.is_empty(geom):
        raise InputError(f"the new shape of {code} does not overlap {work.label(parent)}")
    work.retile(parent, {code: geom}, no_receive={code})
    if len(_parts(work.geom[code])) > 1:
        work.notes.append(f"{code} is now in {len(_parts(work.geom[code]))} separate parts")


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
    work = _Work(grids, sliver_m2=sliver_m2, reserved=reserved)
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


def _extend_line(line, extend_m: float, scale: _Scale) -> shapely.Geometry:
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


def _cut(geom, cutter, work: _Work) -> list:
    """Pieces of ``geom`` cut by ``cutter``; pieces below the sliver area join a neighbour.

    A part of a multi-part grid that the line does not cut joins the nearest piece.
    """
    big: list = []
    uncut: list = []
    for part in _parts(geom):
        inside = shapely.intersection(cutter, shapely.buffer(part, work.scale.deg(0.01)))
        noded = shapely.union(shapely.boundary(part), inside)
        faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
        shapely.prepare(part)
        faces = [f for f in faces if shapely.covers(part, shapely.point_on_surface(f))]
        faces = [work.clean(_inter(f, part)) for f in faces]
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
            keep[i] = work.clean(_union(keep[i], f))
        big.extend(keep)
    if len(big) < 2:
        return []
    for part in uncut:
        i = int(np.argmin([shapely.distance(part, b) for b in big]))
        big[i] = work.clean(_union(big[i], part))
    return big


def _west_east_north_south(reps: np.ndarray, pieces: list, scale: _Scale) -> list[int]:
    """Order of pieces west→east in rows north→south (:func:`gis.grids.number_west_east_north_south`)."""
    xy = shapely.get_coordinates(reps) * np.array([scale.mx, scale.my])
    band = math.sqrt(max(np.mean([scale.area_m2(p) for p in pieces]), 1e-6))
    seq = _grids.number_west_east_north_south(xy, band)
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
    work = _Work(grids)
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
    merged = work.clean(_union_all([work.geom[c] for c in codes]))
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


def _require_connected(work: _Work, codes: list[str]) -> None:
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
    work = _Work(grids, reserved=reserved)
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
        work.geom[a] = work.clean(_diff(work.geom[a], geom))
        work.geom[b] = work.clean(_union(work.geom[b], geom))
        work.fit_dedicated(a)
        a, b = work.parent[a], work.parent[b]
    new_code = work.recode(code, new_parent)
    if len(_parts(work.geom[old_parent])) > 1:
        work.notes.append(f"{old_parent} is now in {len(_parts(work.geom[old_parent]))} parts")
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
    work = _Work(grids, snap_m=snap_m, reserved=reserved)
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
    geom = work.clean(_inter(geom, pg))
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
    work = _Work(grids)
    code = work.require(code)
    if work.is_regular(code):
        raise InputError(
            f"{code} is a regular grid and tiles its parent: merge it into a neighbour instead "
            "of retiring it"
        )
    work.targets = [code]
    work.retire_grid(code)
    return work.finish("retire")


# --------------------------------------------------------------------------------------------
# impact preview
# --------------------------------------------------------------------------------------------
_TEXT = {
    "head": {"en": "Impact of {action}", "zh": "{action} 的影响"},
    "areas": {
        "en": "{n} grid(s) affected: {changed} changed, {created} new, {retired} retired",
        "zh": "涉及 {n} 个网格：{changed} 个变更，{created} 个新增，{retired} 个撤销",
    },
    "area_row": {
        "en": "  {code} {name}: {before} → {after} m² ({change:+,.0f} m²)",
        "zh": "  {code} {name}：{before} → {after} m²（{change:+,.0f} m²）",
    },
    "incidents": {
        "en": "Incidents that change grid: {n} (micro-grid {micro}, level-2 {l2}, level-1 {l1})",
        "zh": "改变所属网格的事件：{n} 件（微网格 {micro}，二级网格 {l2}，一级网格 {l1}）",
    },
    "no_incidents": {"en": "Incidents: not given", "zh": "事件：未提供"},
    "households": {
        "en": "Households that change grid (by area share): {hh:,} ({pop:,} residents)",
        "zh": "改变所属网格的户数（按面积估算）：{hh:,} 户（{pop:,} 人）",
    },
    "staff": {"en": "Staff affected: {n}", "zh": "受影响的网格人员：{n} 人"},
    "no_staff": {"en": "Staff: not given", "zh": "网格人员：未提供"},
    "codes": {"en": "New codes: {codes}", "zh": "新编码：{codes}"},
    "retired": {"en": "Retired codes: {codes}", "zh": "撤销的编码：{codes}"},
    "valid": {
        "en": "Validation after the edit: {errors} error(s), {warnings} warning(s) (before: {eb})",
        "zh": "修改后校验：{errors} 个错误，{warnings} 个警告（修改前 {eb} 个错误）",
    },
    "none": {"en": "(none)", "zh": "（无）"},
}
_ACTION_ZH = {
    "reshape": "调整边界",
    "split": "拆分",
    "merge": "合并",
    "move": "调整上级网格",
    "add_dedicated": "新增专属网格",
    "retire": "撤销专属网格",
    "restore": "恢复版本",
}


def _tr(key: str, lang: str, **fmt) -> str:
    text = _TEXT[key]["zh" if lang == "zh" else "en"]
    return text.format(**fmt) if fmt else text


@dataclass
class ImpactPreview:
    """What an edit does, for the person about to save it.

    Attributes
    ----------
    action
        The edit's action.
    areas
        One row per affected grid: ``code, name, level, status (changed|created|retired),
        area_before_m2, area_after_m2, change_m2`` (m² in the local metric CRS; 0 where the
        grid does not exist on that side).
    incidents_moved
        Incidents whose micro-grid, level-2 or level-1 grid (any of them) changes; None when no
        incidents were given.
    incidents_by_level
        ``{"micro": n, "l2": n, "l1": n, "dedicated": n}``: incidents changing grid per level.
    incident_moves
        ``level, from_code, to_code, incidents``: the moves per level (``outside`` for
        points outside every grid; for dedicated grids ``-`` means "in no dedicated grid").
    households_moved, population_moved
        Households and residents that change micro-grid (leaf grid), estimated by area share:
        each grid's households are assumed spread evenly over its area before the edit.
    household_moves
        ``from_code, to_code, area_m2, households, population`` (estimates, per pair of leaf
        grids that exchange area).
    staff
        Staff rows whose ``grid_code`` is changed or retired, with ``change`` (``changed`` or
        ``retired``) and ``new_code`` (the grid's new code when it was only re-coded); None when
        no staff were given.
    new_codes, retired_codes
        Codes created and retired by the edit.
    validation
        :func:`gis.grids.validate_hierarchy` of the hierarchy after the edit.
    errors_before
        Validation errors of the hierarchy before the edit (an edit should not add any).
    """

    action: str
    areas: pd.DataFrame
    incidents_moved: int | None
    incidents_by_level: dict[str, int]
    incident_moves: pd.DataFrame
    households_moved: int
    population_moved: int
    household_moves: pd.DataFrame
    staff: pd.DataFrame | None
    new_codes: list[str]
    retired_codes: list[str]
    validation: Any
    errors_before: int

    @property
    def ok(self) -> bool:
        """True when the edited hierarchy has no more validation errors than before."""
        return self.validation.errors <= self.errors_before

    def summary(self, lang: str = "en") -> pd.DataFrame:
        """The headline numbers as a two-column table (``item``, ``value``) for a page."""
        zh = lang == "zh"
        items = [
            ("受影响网格" if zh else "grids affected", len(self.areas)),
            (
                "改变所属网格的事件" if zh else "incidents changing grid",
                "" if self.incidents_moved is None else self.incidents_moved,
            ),
            (
                "改变所属网格的户数（估算）" if zh else "households changing grid (est.)",
                self.households_moved,
            ),
            (
                "改变所属网格的人口（估算）" if zh else "residents changing grid (est.)",
                self.population_moved,
            ),
            (
                "受影响人员" if zh else "staff affected",
                "" if self.staff is None else len(self.staff),
            ),
            ("新编码" if zh else "new codes", ", ".join(self.new_codes)),
            ("撤销编码" if zh else "retired codes", ", ".join(self.retired_codes)),
            ("校验错误" if zh else "validation errors", self.validation.errors),
        ]
        return pd.DataFrame(items, columns=["item", "value"]).astype({"value": str})

    def text(self, lang: str = "en", *, limit: int = 20) -> str:
        """The preview as readable lines (``lang`` ``"en"`` or ``"zh"``)."""
        action = _ACTION_ZH.get(self.action, self.action) if lang == "zh" else self.action
        counts = self.areas["status"].value_counts()
        lines = [
            _tr("head", lang, action=action),
            _tr(
                "areas",
                lang,
                n=len(self.areas),
                changed=int(counts.get("changed", 0)),
                created=int(counts.get("created", 0)),
                retired=int(counts.get("retired", 0)),
            ),
        ]
        for row in self.areas.head(limit).itertuples(index=False):
            lines.append(
                _tr(
                    "area_row",
                    lang,
                    code=row.code,
                    name=row.name or "",
                    before=f"{row.area_before_m2:,.0f}",
                    after=f"{row.area_after_m2:,.0f}",
                    change=row.change_m2,
                )
            )
        if self.incidents_moved is None:
            lines.append(_tr("no_incidents", lang))
        else:
            lvl = self.incidents_by_level
            lines.append(
                _tr(
                    "incidents",
                    lang,
                    n=self.incidents_moved,
                    micro=lvl.get("micro", 0),
                    l2=lvl.get("l2", 0),
                    l1=lvl.get("l1", 0),
                )
            )
        lines.append(_tr("households", lang, hh=self.households_moved, pop=self.population_moved))
        lines.append(
            _tr("no_staff", lang) if self.staff is None else _tr("staff", lang, n=len(self.staff))
        )
        none = _tr("none", lang)
        lines.append(_tr("codes", lang, codes=", ".join(self.new_codes) or none))
        if self.retired_codes:
            lines.append(_tr("retired", lang, codes=", ".join(self.retired_codes)))
        lines.append(
            _tr(
                "valid",
                lang,
                errors=self.validation.errors,
                warnings=self.validation.warnings,
                eb=self.errors_before,
            )
        )
        return "\n".join(lines)


def impact_preview(
    before: gpd.GeoDataFrame,
    result: EditResult,
    *,
    incidents: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    staff: pd.DataFrame | None = None,
    sliver_m2: float = SLIVER_M2,
) -> ImpactPreview:
    """The impact of an edit: areas, incidents, households and staff that change grid.

    Parameters
    ----------
    before
        The hierarchy the edit was made on (EPSG:4326).
    result
        What the edit operation returned.
    incidents
        Incident points (EPSG:4326), or None. Each is assigned with
        :func:`gis.grids.assign_points` on the hierarchy before and after; only points in the
        bounding box of the affected grids can change, so only those are assigned.
    staff
        Staff with a ``grid_code`` column, or None.
    sliver_m2
        Passed to :func:`gis.grids.validate_hierarchy`.

    Returns
    -------
    ImpactPreview
    """
    after = result.grids
    crs = _metric_crs(before)
    touched = result.touched
    b_idx = before.set_index(before["code"].astype(str))
    a_idx = after.set_index(after["code"].astype(str))
    rows = []
    for status, codes in (
        ("changed", result.changed),
        ("created", result.created),
        ("retired", result.retired),
    ):
        for code in codes:
            src = a_idx if code in a_idx.index else b_idx
            rows.append(
                {
                    "code": code,
                    "name": src.at[code, "name"] if "name" in src else None,
                    "level": src.at[code, "level"],
                    "status": status,
                    "geom_before": b_idx.geometry.get(code),
                    "geom_after": a_idx.geometry.get(code),
                }
            )
    areas = pd.DataFrame(
        rows, columns=["code", "name", "level", "status", "geom_before", "geom_after"]
    )
    areas["area_before_m2"] = _metric_areas(areas["geom_before"], crs)
    areas["area_after_m2"] = _metric_areas(areas["geom_after"], crs)
    areas["change_m2"] = areas["area_after_m2"] - areas["area_before_m2"]
    areas = areas.drop(columns=["geom_before", "geom_after"])

    # ---- incidents ------------------------------------------------------------------------
    moves = pd.DataFrame(columns=["level", "from_code", "to_code", "incidents"])
    by_level = {"micro": 0, "l2": 0, "l1": 0, "dedicated": 0}
    moved: int | None = None
    if incidents is not None:
        points = incidents.geometry if isinstance(incidents, gpd.GeoDataFrame) else incidents
        geoms = [
            g
            for g in (
                *b_idx.geometry.reindex(touched).dropna(),
                *a_idx.geometry.reindex(touched).dropna(),
            )
        ]
        if geoms and len(points):
            minx, miny, maxx, maxy = shapely.total_bounds(np.array(geoms, dtype=object))
            x, y = shapely.get_x(points.to_numpy()), shapely.get_y(points.to_numpy())
            near = (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)
            pts = points[near]
        else:
            pts = points.iloc[:0]
        any_move = np.zeros(len(pts), dtype=bool)
        parts = []
        if len(pts):
            was = _grids.assign_points(pts, before)
            now = _grids.assign_points(pts, after)
            for level in ("micro", "l2", "l1"):
                diff = (was[level] != now[level]).to_numpy()
                by_level[level] = int(diff.sum())
                any_move |= diff
                if diff.any():
                    t = (
                        pd.DataFrame({"from_code": was[level][diff], "to_code": now[level][diff]})
                        .value_counts()
                        .rename("incidents")
                        .reset_index()
                    )
                    t.insert(0, "level", level)
                    parts.append(t)
            ded = [c for c in touched if _level_of(c, a_idx, b_idx) == DEDICATED]
            if ded:
                was_d = _in_dedicated(pts, b_idx, ded)
                now_d = _in_dedicated(pts, a_idx, ded)
                diff = was_d != now_d
                by_level["dedicated"] = int(diff.sum())
                any_move |= diff
                if diff.any():
                    t = (
                        pd.DataFrame({"from_code": was_d[diff], "to_code": now_d[diff]})
                        .value_counts()
                        .rename("incidents")
                        .reset_index()
                    )
                    t.insert(0, "level", DEDICATED)
                    parts.append(t)
        moved = int(any_move.sum())
        if parts:
            moves = pd.concat(parts, ignore_index=True).sort_values(
                ["level", "incidents"], ascending=[True, False], kind="stable"
            )
            moves = moves.reset_index(drop=True)

    # ---- households by area share of the leaf grids ------------------------------------------
    hh_moves = _household_moves(before, after, result, crs)

    # ---- staff ------------------------------------------------------------------------------
    staff_out = None
    if staff is not None:
        changed, retired = set(result.changed), set(result.retired)
        mask = staff["grid_code"].isin(changed | retired)
        staff_out = staff.loc[mask].copy()
        staff_out["change"] = np.where(staff_out["grid_code"].isin(retired), "retired", "changed")
        staff_out["new_code"] = [result.recoded.get(c, "") for c in staff_out["grid_code"]]
        staff_out = staff_out.reset_index(drop=True)

    validation = _grids.validate_hierarchy(after, sliver_m2=sliver_m2)
    errors_before = _grids.validate_hierarchy(before, sliver_m2=sliver_m2).errors
    return ImpactPreview(
        action=result.action,
        areas=areas,
        incidents_moved=moved,
        incidents_by_level=by_level,
        incident_moves=moves,
        households_moved=int(round(hh_moves["households"].sum())) if len(hh_moves) else 0,
        population_moved=int(round(hh_moves["population"].sum())) if len(hh_moves) else 0,
        household_moves=hh_moves,
        staff=staff_out,
        new_codes=list(result.created),
        retired_codes=list(result.retired),
        validation=validation,
        errors_before=errors_before,
    )


def _metric_crs(grids: gpd.GeoDataFrame):
    from gis.core.crs import local_metric_crs

    return local_metric_crs(grids)


def _metric_areas(geoms: pd.Series, crs) -> np.ndarray:
    arr = np.array([g if g is not None and not pd.isna(g) else None for g in geoms], dtype=object)
    out = np.zeros(len(arr))
    ok = np.array([g is not None for g in arr], dtype=bool)
    if ok.any():
        out[ok] = gpd.GeoSeries(arr[ok], crs=STORAGE_EPSG).to_crs(crs).area.to_numpy()
    return out


def _level_of(code: str, *frames: pd.DataFrame) -> str | None:
    for f in frames:
        if code in f.index:
            return f.at[code, "level"]
    return None


def _in_dedicated(points: gpd.GeoSeries, grids: pd.DataFrame, codes: list[str]) -> np.ndarray:
    """The (first, by code) dedicated grid among ``codes`` holding each point, else ``-``."""
    out = np.full(len(points), "-", dtype=object)
    for code in sorted(codes, reverse=True):
        if code not in grids.index:
            continue
        g = grids.geometry[code]
        shapely.prepare(g)
        inside = shapely.intersects(g, points.to_numpy())
        out[inside] = code
    return out


def _household_moves(before, after, result: EditResult, crs) -> pd.DataFrame:
    cols = ["from_code", "to_code", "area_m2", "households", "population"]
    touched = set(result.touched)

    def leaves(frame):
        regular = frame[frame["level"].isin(REGULAR_LEVELS)]
        parents = set(regular["parent_code"].dropna())
        out = regular[~regular["code"].isin(parents) & regular["code"].isin(touched)]
        return out

    a, b = leaves(before), leaves(after)
    if a.empty or b.empty:
        return pd.DataFrame(columns=cols)
    am = a.to_crs(crs)
    bm = b.to_crs(crs)
    tree = shapely.STRtree(bm.geometry.to_numpy())
    ai, bi = tree.query(am.geometry.to_numpy(), predicate="intersects")
    a_codes = am["code"].to_numpy()[ai]
    b_codes = bm["code"].to_numpy()[bi]
    keep = a_codes != b_codes
    ai, bi = ai[keep], bi[keep]
    inter = shapely.area(
        shapely.intersection(am.geometry.to_numpy()[ai], bm.geometry.to_numpy()[bi])
    )
    share = inter / np.maximum(am.geometry.area.to_numpy()[ai], 1e-9)
    hh = (
        pd.to_numeric(am["households"], errors="coerce").to_numpy(float)[ai]
        if "households" in am
        else np.zeros(len(ai))
    )
    pop = (
        pd.to_numeric(am["population"], errors="coerce").to_numpy(float)[ai]
        if "population" in am
        else np.zeros(len(ai))
    )
    out = pd.DataFrame(
        {
            "from_code": am["code"].to_numpy()[ai],
            "to_code": bm["code"].to_numpy()[bi],
            "area_m2": inter,
            "households": np.nan_to_num(hh * share),
            "population": np.nan_to_num(pop * share),
        }
    )
    out = out[out["area_m2"] > NOISE_M2].sort_values("area_m2", ascending=False, kind="stable")
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# persistence: versions, history, restore
# --------------------------------------------------------------------------------------------
_EDIT_COLUMNS = [
    "id",
    "grid_code",
    "action",
    "version_before",
    "version_after",
    "edited_by",
    "edited_at",
    "reason",
    "details",
]


def _now() -> datetime:
    """Wall-clock time to the microsecond (two saves in one second stay ordered)."""
    return datetime.now()


def _user_name(user) -> tuple[str, Any]:
    if isinstance(user, str):
        name = user.strip()
        if not name:
            raise InputError("say who makes the edit (user)")
        return name, None
    if user is None:
        raise InputError("say who makes the edit (user)")
    return user.username, user


def _check_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InputError("give a reason for the change: it is kept in the grid's history")
    return text


def _check_permission(engine: Engine, user_obj, codes: Iterable[str], extra_parents=None):
    if user_obj is None:
        return
    from gis import auth

    parents = auth.grid_parents(engine)
    parents.update(extra_parents or {})
    for code in codes:
        auth.require_grid_edit(user_obj, code, parents)


def _write_versions(
    conn: sa.Connection,
    *,
    rows: gpd.GeoDataFrame,
    closes: Mapping[str, int],
    before_geoms: Mapping[str, Any],
    user: str,
    reason: str,
    action: str,
    roles: Mapping[str, str],
    details: Mapping[str, Any],
    now: datetime,
) -> int:
    """Close the versions in ``closes`` (checking them) and write ``rows`` as new versions.

    The write path of :func:`gis.grids.import_grids` (``save_frame`` into ``grids`` and
    ``grid_edits``), plus optimistic concurrency: every close is
    ``UPDATE ... WHERE code AND version AND valid_to IS NULL`` and must hit exactly one row.

    Returns
    -------
    int
        The edit group id (the smallest ``grid_edits.id`` of the rows written), also stored as
        ``"group"`` in each row's ``details`` JSON.

    Raises
    ------
    EditConflict
        A closed version is no longer current, or a created code is already current. The
        caller's transaction must roll back (raising out of ``engine.begin()`` does).
    """
    conflicts = []
    for code, version in closes.items():
        hit = conn.execute(
            typed_text(
                "UPDATE grids SET valid_to = :now "
                "WHERE code = :c AND version = :v AND valid_to IS NULL",
                {"now": now},
            ),
            {"now": now, "c": code, "v": int(version)},
        ).rowcount
        if hit != 1:
            conflicts.append((code, int(version)))
    new_codes = [c for c in rows["code"] if c not in closes]
    if new_codes:
        present = _current_versions(conn, new_codes)
        conflicts.extend((c, None) for c in new_codes if c in present)
    if conflicts:
        raise _conflict(conn, conflicts)
    versions = {c: int(closes[c]) + 1 for c in rows["code"] if c in closes}
    if new_codes:
        top = _max_versions(conn, new_codes)
        versions.update({c: top.get(c, 0) + 1 for c in new_codes})
    keep = [c for c in _grids.GRID_COLUMNS if c in rows]
    out = gpd.GeoDataFrame(rows[keep].copy(), geometry=rows.geometry.to_numpy(), crs=STORAGE_EPSG)
    out["version"] = [versions[c] for c in out["code"]]
    out["valid_from"] = pd.Timestamp(now)
    out["created_by"] = user
    for col in ATTRIBUTES:
        if col in out:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
    if len(out):
        save_frame(conn, "grids", out)
    token = f"pending-{uuid.uuid4().hex}"
    codes = list(dict.fromkeys([*closes, *rows["code"]]))
    after_geom = dict(zip(out["code"], out.geometry.to_numpy(), strict=True))
    edits = pd.DataFrame(
        {
            "grid_code": codes,
            "action": action,
            "version_before": pd.array([closes.get(c) for c in codes], dtype="Int64"),
            "version_after": pd.array([versions.get(c) for c in codes], dtype="Int64"),
            "edited_by": user,
            "edited_at": pd.Timestamp(now),
            "reason": reason,
            "details": [
                json.dumps(
                    {"group": token, "role": roles.get(c, "changed"), **details}, ensure_ascii=False
                )
                for c in codes
            ],
        }
    )
    edits = gpd.GeoDataFrame(
        edits,
        geometry=[_as_multi(after_geom[c]) if c in after_geom else None for c in codes],
        crs=STORAGE_EPSG,
    ).rename_geometry("geom_after")
    edits["geom_before"] = gpd.GeoSeries(
        [_as_multi(before_geoms[c]) if before_geoms.get(c) is not None else None for c in codes],
        crs=STORAGE_EPSG,
    )
    save_frame(conn, "grid_edits", edits)
    pattern = {"pat": f'%"{token}"%'}
    group = conn.execute(
        sa.text("SELECT MIN(id) FROM grid_edits WHERE details LIKE :pat"), pattern
    ).scalar()
    conn.execute(
        sa.text(
            "UPDATE grid_edits SET details = REPLACE(details, :tok, :gid) WHERE details LIKE :pat"
        ),
        {**pattern, "tok": f'"{token}"', "gid": str(int(group))},
    )
    return int(group)


def _current_versions(conn, codes: Sequence[str]) -> dict[str, int]:
    if not codes:
        return {}
    names = {f"c{i}": c for i, c in enumerate(codes)}
    rows = conn.execute(
        sa.text(
            f"SELECT code, version FROM grids WHERE valid_to IS NULL AND code IN "
            f"({', '.join(':' + k for k in names)})"
        ),
        names,
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def _max_versions(conn, codes: Sequence[str]) -> dict[str, int]:
    names = {f"c{i}": c for i, c in enumerate(codes)}
    rows = conn.execute(
        sa.text(
            f"SELECT code, MAX(version) FROM grids WHERE code IN "
            f"({', '.join(':' + k for k in names)}) GROUP BY code"
        ),
        names,
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def _fmt_time(value) -> str:
    if value is None or pd.isna(value):
        return "an unknown time"
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")


def _conflict(conn, conflicts: list[tuple[str, int | None]]) -> EditConflict:
    """An EditConflict naming, per grid, the version started from and who saved what when."""
    lines, info = [], []
    for code, expected in conflicts:
        latest = conn.execute(
            sa.text(
                "SELECT version, created_by, valid_from, valid_to FROM grids "
                "WHERE code = :c ORDER BY version DESC LIMIT 1"
            ),
            {"c": code},
        ).fetchone()
        item = {"code": code, "expected_version": expected}
        if latest is None:
            lines.append(f"grid {code} is not in the store")
        elif expected is None:
            item.update(version=int(latest[0]), by=latest[1], at=latest[2])
            lines.append(
                f"grid {code} was created by {latest[1]} at {_fmt_time(latest[2])} "
                f"(version {latest[0]}) while you were editing"
            )
        elif latest[3] is not None and int(latest[0]) <= expected:
            who = conn.execute(
                sa.text(
                    "SELECT edited_by, edited_at FROM grid_edits WHERE grid_code = :c "
                    "AND version_before = :v ORDER BY id DESC LIMIT 1"
                ),
                {"c": code, "v": int(latest[0])},
            ).fetchone()
            by, at = (who[0], who[1]) if who else ("someone", latest[3])
            item.update(version=None, by=by, at=at)
            lines.append(
                f"grid {code} (you started from version {expected}) was retired by {by} at "
                f"{_fmt_time(at)}"
            )
        elif int(latest[0]) > expected:
            item.update(version=int(latest[0]), by=latest[1], at=latest[2])
            lines.append(
                f"grid {code}: you started from version {expected}, but {latest[1]} saved "
                f"version {latest[0]} at {_fmt_time(latest[2])}"
            )
        else:
            lines.append(
                f"grid {code}: version {expected} is not in the store (latest is {latest[0]})"
            )
        info.append(item)
    exc = EditConflict(
        "; ".join(lines) + ". Nothing was saved: reload the grids and make the edit again."
    )
    exc.conflicts = info  # type: ignore[attr-defined]
    return exc


def save_edit(
    engine: Engine,
    result: EditResult,
    *,
    user: str | User,
    reason: str,
    expected_versions: Mapping[str, int] | None = None,
) -> int:
    """Save an edit as new grid versions, in one transaction; returns the edit group id.

    Each changed grid's current version is closed (``valid_to`` = now) and a new version
    written (``version`` + 1); each created grid gets a first version (after any earlier use
    of its code); each retired grid is closed only. Every touched grid gets a ``grid_edits``
    row (action, versions before/after, who, when, why, geometry before and after, and
    ``details`` JSON with the group id, the grid's role and the edit's notes).

    Parameters
    ----------
    result
        From one of the edit operations.
    user
        The user name, or a :class:`gis.auth.User`, whose right to edit every touched grid is
        then checked (``gis.auth.can_edit_grid``; grid admins only within their grids).
    reason
        Why: required, kept in the history.
    expected_versions
        ``{code: version}`` the editor loaded; default ``result.base_versions`` (the versions
        in the frame the edit was made on).

    Returns
    -------
    int
        The edit group id (:func:`edit_log`, :func:`restore_version`).

    Raises
    ------
    InputError
        Empty reason, no user, nothing to save.
    gis.auth.PermissionDenied
        The user may not edit one of the touched grids.
    EditConflict
        Someone saved a newer version of (or retired) a touched grid since it was loaded, or
        created one of the new codes: nothing is written. The message names the grid, the
        version started from, who saved the newer one and when; ``exc.conflicts`` lists them.
    """
    reason = _check_reason(reason)
    name, user_obj = _user_name(user)
    if result.is_noop:
        raise InputError("the edit changes nothing: there is nothing to save")
    expected = dict(result.base_versions)
    expected.update({str(k): int(v) for k, v in (expected_versions or {}).items()})
    closes = {}
    for code in [*result.changed, *result.retired]:
        if code not in expected:
            raise InputError(f"the version of grid {code} the edit started from is not known")
        closes[code] = expected[code]
    after = result.grids
    new_parents = dict(zip(after["code"], after["parent_code"], strict=True))
    _check_permission(
        engine,
        user_obj,
        result.touched,
        {c: (None if _missing(p) else p) for c, p in new_parents.items() if c in result.created},
    )
    rows = after[after["code"].isin([*result.changed, *result.created])]
    base = result.base if result.base is not None else after.iloc[:0]
    before_geoms = dict(zip(base["code"], base.geometry.to_numpy(), strict=True))
    roles = {c: "changed" for c in result.changed}
    roles.update({c: "created" for c in result.created})
    roles.update({c: "retired" for c in result.retired})
    roles.update({c: "target" for c in result.targets if c in roles})
    details = {"targets": result.targets, "notes": result.notes}
    if result.recoded:
        details["recoded"] = result.recoded
    with engine.begin() as conn:
        return _write_versions(
            conn,
            rows=rows,
            closes=closes,
            before_geoms=before_geoms,
            user=name,
            reason=reason,
            action=result.action,
            roles=roles,
            details=details,
            now=_now(),
        )


def used_codes(engine: Engine) -> set[str]:
    """Every grid code the store has ever held (pass as ``reserved`` so none is reissued)."""
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.text("SELECT DISTINCT code FROM grids"))}


def _read_edits(
    engine_or_conn, where: str | None = None, params: dict | None = None
) -> pd.DataFrame:
    """``grid_edits`` without geometries, with ``group`` (int) parsed from ``details``.

    Rows written by other paths (an import) have no group in ``details``: their group is the
    smallest id among rows of the same action, user and time.
    """
    edits = read_frame(
        engine_or_conn,
        "grid_edits",
        columns=_EDIT_COLUMNS,
        where=where,
        params=params,
        order_by="id",
    )

    def group_of(text):
        try:
            value = json.loads(text).get("group") if text else None
        except (ValueError, AttributeError):
            value = None
        return int(value) if isinstance(value, int) else None

    edits["group"] = pd.array([group_of(d) for d in edits["details"]], dtype="Int64")
    missing = edits["group"].isna()
    if missing.any():
        key = (
            edits["action"].astype(str)
            + "|"
            + edits["edited_by"].astype(str)
            + "|"
            + edits["edited_at"].astype(str)
        )
        first = edits.groupby(key)["id"].transform("min")
        edits.loc[missing, "group"] = first[missing].astype("int64")
    for col in ("version_before", "version_after"):
        edits[col] = pd.to_numeric(edits[col], errors="coerce").astype("Int64")
    return edits


def grid_history(engine: Engine, code: str) -> pd.DataFrame:
    """Every version of grid ``code``, oldest first: who, when, why, and its area.

    Returns
    -------
    pandas.DataFrame
        ``version, valid_from, valid_to, current, action, edited_by, edited_at, reason, group,
        name, parent_code, area_m2``, in time order; a version loaded without an edit record
        (the demo) has action ``loaded`` and ``created_by`` as editor. Each time the grid was
        retired, a row with ``version`` <NA> and the retiring edit's action says by whom, when
        and why.
    """
    versions = read_frame(
        engine, "grids", where="code = :c", params={"c": str(code)}, order_by="version"
    )
    cols = [
        "version",
        "valid_from",
        "valid_to",
        "current",
        "action",
        "edited_by",
        "edited_at",
        "reason",
        "group",
        "name",
        "parent_code",
        "area_m2",
    ]
    if versions.empty:
        return pd.DataFrame(columns=cols)
    edits = _read_edits(engine, where="grid_code = :c", params={"c": str(code)})
    made = edits.dropna(subset=["version_after"]).drop_duplicates("version_after", keep="last")
    made = made.set_index(made["version_after"].astype("int64"))
    v = versions["version"].astype("int64")
    got = made.reindex(v.to_numpy())
    found = got["id"].notna().to_numpy()
    out = pd.DataFrame(
        {
            "version": pd.array(v, dtype="Int64"),
            "valid_from": versions["valid_from"],
            "valid_to": versions["valid_to"],
            "current": versions["valid_to"].isna(),
            "action": np.where(found, got["action"].to_numpy(object), "loaded"),
            "edited_by": np.where(
                found, got["edited_by"].to_numpy(object), versions["created_by"].to_numpy(object)
            ),
            "edited_at": pd.to_datetime(
                np.where(
                    found,
                    got["edited_at"].to_numpy("datetime64[ns]"),
                    versions["valid_from"].to_numpy("datetime64[ns]"),
                )
            ),
            "reason": got["reason"].to_numpy(object),
            "group": pd.array(got["group"].to_numpy(), dtype="Int64"),
            "name": versions["name"],
            "parent_code": versions["parent_code"],
            "area_m2": areas_m2(versions.geometry),
        }
    )
    ended = edits[edits["version_after"].isna()]
    for _, last in ended.iterrows():  # retirements: one row each, in time order
        out.loc[len(out)] = {
            "version": pd.NA,
            "valid_from": last["edited_at"],
            "valid_to": pd.NaT,
            "current": False,
            "action": last["action"],
            "edited_by": last["edited_by"],
            "edited_at": last["edited_at"],
            "reason": last["reason"],
            "group": last["group"],
            "name": None,
            "parent_code": None,
            "area_m2": 0.0,
        }
    out = out.sort_values("edited_at", kind="stable")
    return out.reset_index(drop=True)


def edit_log(engine: Engine, limit: int = 50) -> pd.DataFrame:
    """The latest edits, one row per edit group, newest first.

    Returns
    -------
    pandas.DataFrame
        ``group, action, edited_by, edited_at, reason, targets, codes, n_grids`` (``codes``:
        every grid the edit touched, comma-separated; ``targets``: the ones acted on).
    """
    edits = _read_edits(engine)
    cols = ["group", "action", "edited_by", "edited_at", "reason", "targets", "codes", "n_grids"]
    if edits.empty:
        return pd.DataFrame(columns=cols)

    def targets(texts):
        for t in texts:
            try:
                got = json.loads(t).get("targets") if t else None
            except (ValueError, AttributeError):
                got = None
            if got:
                return ", ".join(got)
        return ""

    g = edits.groupby("group", sort=False)
    out = pd.DataFrame(
        {
            "action": g["action"].first(),
            "edited_by": g["edited_by"].first(),
            "edited_at": g["edited_at"].first(),
            "reason": g["reason"].first(),
            "targets": g["details"].agg(targets),
            "codes": g["grid_code"].agg(lambda s: ", ".join(dict.fromkeys(s))),
            "n_grids": g["grid_code"].nunique(),
        }
    )
    out.index.name = "group"
    out = out.reset_index().sort_values("group", ascending=False, kind="stable")
    out["group"] = out["group"].astype("int64")
    return out.head(limit).reset_index(drop=True)[cols]


def restore_version(
    engine: Engine,
    code: str,
    version: int,
    *,
    user: str | User,
    reason: str,
    sliver_m2: float = SLIVER_M2,
) -> int:
    """Bring back version ``version`` of grid ``code``, with the neighbours that changed with it.

    Semantics: a grid never changes alone (its siblings gave or took the area), so restoring
    one version means undoing the **edit group that ended it** and every later edit group that
    touched any grid involved (transitively). Each grid involved gets back the state it had
    just before the first of those edits: a new version is written whose geometry is exactly
    (WKB-equal) the earlier one, with the earlier name, parent and numbers; grids created by
    those edits are retired, grids they retired come back. History is never deleted: the
    restore is itself an edit (action ``restore``) with who, when and why.

    The restored hierarchy is validated first: if it would have more errors than the current
    one (say a later edit elsewhere now overlaps the old shape), nothing is written and the
    new errors are named.

    Returns
    -------
    int
        The edit group id of the restore.

    Raises
    ------
    InputError
        Unknown grid or version, the version is the current one, no recorded edit ended it,
        empty reason, or the restored state would be invalid.
    EditConflict
        Someone saved one of the grids involved while the restore ran.
    """
    reason = _check_reason(reason)
    name, user_obj = _user_name(user)
    code, version = str(code), int(version)
    row = read_frame(
        engine,
        "grids",
        columns=["version", "valid_to"],
        where="code = :c AND version = :v",
        params={"c": code, "v": version},
    )
    if row.empty:
        raise InputError(f"grid {code} has no version {version}")
    if pd.isna(row["valid_to"].iloc[0]):
        raise InputError(f"version {version} of grid {code} is the current one: nothing to restore")
    edits = _read_edits(engine)
    ended = edits[(edits["grid_code"] == code) & (edits["version_before"] == version)]
    if ended.empty:
        raise InputError(f"no recorded edit ended version {version} of grid {code}")
    first = ended.iloc[0]
    order = edits.groupby("group")["id"].min().sort_values()
    groups = order.index[order >= order[first["group"]]].tolist()
    by_group = {g: set(edits.loc[edits["group"] == g, "grid_code"]) for g in groups}
    involved = set(by_group[first["group"]])
    used = [first["group"]]
    for g in groups[1:]:
        if by_group[g] & involved:
            involved |= by_group[g]
            used.append(g)
    rel = edits[edits["group"].isin(used) & edits["grid_code"].isin(involved)].sort_values("id")
    target_version = rel.drop_duplicates("grid_code", keep="first").set_index("grid_code")[
        "version_before"
    ]
    codes = sorted(involved)
    with engine.connect() as conn:
        current = read_frame(conn, "grids", where="valid_to IS NULL", order_by="code")
        wanted = [(c, int(v)) for c, v in target_version.items() if not pd.isna(v)]
        old = _read_versions(conn, wanted)
    cur_idx = current.set_index("code")
    closes: dict[str, int] = {}
    write = []
    for c in codes:
        tv = target_version.get(c)
        has_target = tv is not None and not pd.isna(tv)
        cur = cur_idx.loc[c] if c in cur_idx.index else None
        if not has_target:
            if cur is not None:
                closes[c] = int(cur["version"])
            continue
        target = old.loc[(c, int(tv))]
        if cur is not None and _same_state(cur, target):
            continue
        if cur is not None:
            closes[c] = int(cur["version"])
        write.append(c)
    if not closes and not write:
        raise InputError(
            "the grids of that edit are already as they were before it: nothing to restore"
        )
    rows = (
        old.loc[[(c, int(target_version[c])) for c in write]]
        .reset_index()
        .drop(columns=["version"])
    )
    rows = gpd.GeoDataFrame(rows, geometry="geometry", crs=STORAGE_EPSG)
    restored = pd.concat(
        [current[~current["code"].isin(list(closes) + write)], rows], ignore_index=True
    )
    restored = gpd.GeoDataFrame(restored, geometry="geometry", crs=STORAGE_EPSG)
    now_report = _grids.validate_hierarchy(current, sliver_m2=sliver_m2)
    new_report = _grids.validate_hierarchy(restored, sliver_m2=sliver_m2)
    if new_report.errors > now_report.errors:
        old_keys = set(zip(now_report.problems["kind"], now_report.problems["codes"], strict=True))
        fresh = new_report.problems[
            (new_report.problems["severity"] == "error")
            & np.array(
                [
                    (k, c) not in old_keys
                    for k, c in zip(
                        new_report.problems["kind"], new_report.problems["codes"], strict=True
                    )
                ],
                dtype=bool,
            )
        ]
        msgs = "; ".join(fresh["message"].head(5))
        raise InputError(
            f"restoring version {version} of {code} would make the hierarchy invalid "
            f"({new_report.errors - now_report.errors} new error(s): {msgs}); nothing was written"
        )
    parents = {r.code: r.parent_code for r in rows.itertuples()}
    _check_permission(engine, user_obj, [*closes, *write], parents)
    before_geoms = dict(zip(current["code"], current.geometry.to_numpy(), strict=True))
    roles = {c: ("retired" if c not in write else "changed") for c in closes}
    roles.update({c: "created" for c in write if c not in closes})
    roles[code] = "target" if code in roles else roles.get(code, "target")
    details = {
        "targets": [code],
        "restored": {"code": code, "version": version, "groups": [int(g) for g in used]},
    }
    with engine.begin() as conn:
        return _write_versions(
            conn,
            rows=rows,
            closes=closes,
            before_geoms=before_geoms,
            user=name,
            reason=reason,
            action="restore",
            roles=roles,
            details=details,
            now=_now(),
        )


def _read_versions(conn, pairs: list[tuple[str, int]]) -> gpd.GeoDataFrame:
    """Rows of ``grids`` for ``(code, version)`` pairs, indexed by both."""
    if not pairs:
        empty = read_frame(conn, "grids", where="1 = 0")
        return empty.set_index(["code", "version"])
    params, clauses = {}, []
    for i, (c, v) in enumerate(pairs):
        params[f"c{i}"], params[f"v{i}"] = c, v
        clauses.append(f"(code = :c{i} AND version = :v{i})")
    frame = read_frame(conn, "grids", where=" OR ".join(clauses), params=params)
    frame["version"] = frame["version"].astype("int64")
    return frame.set_index(["code", "version"])


def _same_state(cur: pd.Series, target: pd.Series) -> bool:
    if shapely.to_wkb(cur["geometry"]) != shapely.to_wkb(target["geometry"]):
        return False
    for col in ("name", "level", "parent_code", "kind", *ATTRIBUTES):
        a, b = cur.get(col), target.get(col)
        if _missing(a) and _missing(b):
            continue
        if _missing(a) or _missing(b) or a != b:
            return False
    return True
