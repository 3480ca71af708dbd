"""Re-tiling: the working state of one edit, which keeps every parent tiled by its regular
children (see the Tiling, Codes and Attributes rules in :mod:`gis.grids.edit`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.core.errors import InputError
from gis.core.geometry import REGULAR_LEVELS, district_outline
from gis.core.settings import STORAGE_EPSG
from gis.grids.codes import next_free_codes
from gis.grids.edit.geometry import (
    SLIVER_M2,
    SNAP_M,
    Scale,
    as_multi,
    diff,
    inter,
    polygon_parts,
    polygonal,
    union,
    union_all,
)
from gis.grids.edit.result import ATTRIBUTES, DEDICATED, REQUIRED_COLUMNS, EditResult, is_missing
from gis.grids.hierarchy import GRID_COLUMNS
from gis.grids.validate import NOISE_M2


class EditDraft:
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
            c: (None if is_missing(p) else str(p))
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
        self.scale = Scale((miny + maxy) / 2 if len(grids) else 0.0)
        self._district = None
        self.allow_district_change = False

    # ---- lookups ------------------------------------------------------------------------
    def exists(self, code: str) -> bool:
        """True when ``code`` is a grid of the draft that is not retired."""
        return code in self.geom and code not in self.retired

    def require(self, code: str) -> str:
        """``code`` as text; InputError when it is no current grid."""
        code = str(code)
        if not self.exists(code):
            raise InputError(f"no current grid with code {code}")
        return code

    def is_regular(self, code: str) -> bool:
        """True for a regular grid (``l1``, ``l2``, ``micro``), False for a dedicated one."""
        return self.level[code] != DEDICATED

    def children(self, parent: str | None, *, dedicated: bool = False) -> list[str]:
        """The live regular (or ``dedicated``) children of ``parent`` (None: the level-1 grids), by code."""
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
        """Codes of the draft that are not retired, in draft order."""
        retired = set(self.retired)
        return [c for c in self.geom if c not in retired]

    def area_m2(self, geom) -> float:
        """Area (m²) of an EPSG:4326 geometry by the draft's local scale."""
        return self.scale.area_m2(geom)

    def district(self):
        """The district (:func:`gis.core.geometry.district_outline` of the grids as loaded), or
        the district an edit grew or shrank."""
        if self._district is None:
            regular = self.before[self.before["level"].isin(REGULAR_LEVELS)]
            self._district = district_outline(regular) if len(regular) else shapely.MultiPolygon()
        return self._district

    def extend_district(self, geom) -> None:
        """Grow the district by ``geom`` (a level-1 grid reshaped beyond it)."""
        self._district = union(self.district(), geom)

    def parent_geom(self, parent: str | None):
        """The shape ``parent``'s children tile: its geometry, or the district for None."""
        if parent is None:
            return self.district()
        if parent not in self.geom:
            raise InputError(
                f"parent grid {parent} is not among the grids given: pass the whole current "
                "hierarchy (all levels) to an edit"
            )
        return self.geom[parent]

    def label(self, code: str | None) -> str:
        """``code`` for messages (``the district`` for None)."""
        return "the district" if code is None else code

    # ---- cleaning -------------------------------------------------------------------------
    def clean(self, geom) -> shapely.Geometry:
        """Valid MultiPolygon without dust parts."""
        geom = polygonal(geom)
        if not shapely.is_valid(geom):
            geom = polygonal(shapely.make_valid(geom))
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
        """True when ``code``'s shape differs from the loaded one by more than ``NOISE_M2``."""
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
            new[k] = self.clean(inter(g, pg))
        fixed_union = union_all(list(new.values())) if new else None
        for k in kids:
            if k in new:
                continue
            g = self.geom[k]
            if not shapely.covers(pg, g):
                g = inter(g, pg)
            if fixed_union is not None and shapely.intersects(g, fixed_union):
                g = diff(g, fixed_union)
            new[k] = self.clean(g)
        # detached small parts of the neighbours are handed on like gaps
        pool: list = []
        for k in kids:
            if k in fixed:
                continue
            parts = polygon_parts(new[k])
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
        covered = union_all(list(new.values()))
        gap = diff(pg, covered)
        pieces = [p for p in polygon_parts(gap)] + pool
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
                    new[k] = self.clean(union(new[k], piece))
                    continue
                # children of a changed grid: each takes the part of the piece nearest to it
                shares = self.nearest_split(piece, {k: new[k] for k in touching})
                for k, part in shares.items():
                    for q in polygon_parts(part):
                        if self.shared_border_m(q, new[k]) > 0.0:
                            new[k] = self.clean(union(new[k], q))
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
                    new[k] = self.clean(union(new[k], piece))
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
            self._district = union_all(list(new.values()))
        for k in kids:
            self.geom[k] = new[k]
            n_parts = len(polygon_parts(new[k]))
            if k not in fixed and n_parts > len(polygon_parts(before[k])) and n_parts > 1:
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
                part = self.clean(inter(union_all(mine), piece))
                if not shapely.is_empty(part):
                    out[k] = part
        # what the cells miss (float edges) goes to the owner sharing the longest border
        rest = self.clean(diff(piece, union_all(list(out.values()))))
        for q in polygon_parts(rest):
            borders = {k: self.shared_border_m(q, g) for k, g in out.items()}
            k = max(borders, key=borders.get)
            out[k] = self.clean(union(out[k], q))
        return out

    def fit_dedicated(self, parent: str) -> None:
        """Clip the dedicated grids of ``parent`` to it (they overlay, never tile)."""
        pg = self.geom[parent]
        for d in self.children(parent, dedicated=True):
            g = self.geom[d]
            if shapely.covers(pg, g):
                continue
            clipped = self.clean(inter(g, pg))
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
        """Codes that may not be issued: every code of the draft and the reserved ones."""
        return set(self.geom) | self.reserved

    def new_codes(self, parent: str | None, n: int, *, like: str | None = None) -> list[str]:
        """``n`` unused codes for regular children of ``parent`` (after the highest in use).

        Level-1 grids (no parent) are numbered under the street of ``like`` (its first 9
        digits, a GB code).
        """
        if parent is None:
            if like is not None and like.isdigit() and len(like) in (14, 15):
                digits = len(like)
                return list(next_free_codes(sorted(self.taken_codes()), like[:9], n, digits=digits))
            raise InputError("new level-1 grids cannot be numbered automatically (no parent)")
        return _child_codes(self.taken_codes(), parent, n, dedicated=False)

    def new_dedicated_codes(self, parent: str, n: int) -> list[str]:
        """``n`` unused codes for dedicated grids under ``parent``."""
        return _child_codes(self.taken_codes(), parent, n, dedicated=True)

    def add_grid(self, code: str, *, like: str | None, geom, parent, level, **attrs) -> None:
        """Create grid ``code`` with the attributes of ``like`` (if given) updated by ``attrs``."""
        row = {}
        if like is not None:
            row = {
                c: self.before_attr(like, c)
                for c in GRID_COLUMNS
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
        """``column`` of ``code`` as loaded (or as created in this draft); None when absent."""
        if code in self.rows:
            return self.rows[code].get(column)
        if column not in self.before:
            return None
        return self.before[column].iloc[self.index[code]]

    def retire_grid(self, code: str) -> None:
        """Mark ``code`` retired (it leaves the hierarchy when the draft is finished)."""
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
        """The draft as an :class:`EditResult` (attributes re-estimated, untouched shapes kept)."""
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
        geoms = np.array([as_multi(self.geom[c]) for c in frame_codes], dtype=object)
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
                row[gname] = as_multi(self.geom[code])
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
        return None if is_missing(v) else float(v)

    def _area_share(self, targets: list[str], sources: list[str], attrs: list[str]) -> dict:
        tgeoms = np.array([self.geom[c] for c in targets], dtype=object)
        sgeoms = np.array([self.orig_geom[c] for c in sources], dtype=object)
        tree = shapely.STRtree(sgeoms)
        ti, si = tree.query(tgeoms, predicate="intersects")
        overlap = shapely.area(shapely.intersection(tgeoms[ti], sgeoms[si]))
        share = overlap / np.maximum(shapely.area(sgeoms[si]), 1e-300)
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
        return list(next_free_codes(sorted(taken), code, n, dedicated=dedicated))
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
