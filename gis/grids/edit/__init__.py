"""Editing the grid hierarchy: pure edit operations, an impact preview, versioned saves.

Modules: :mod:`~gis.grids.edit.operations` (the operations), :mod:`~gis.grids.edit.tiling`
(the working state that keeps parents tiled), :mod:`~gis.grids.edit.geometry` (overlays and
the metre scale), :mod:`~gis.grids.edit.result` (:class:`EditResult`),
:mod:`~gis.grids.edit.preview` (:func:`impact_preview`), :mod:`~gis.grids.edit.history`
(:func:`save_edit`, history, restore).

The operations take the current hierarchy (a GeoDataFrame in EPSG:4326 with ``code, name,
level, parent_code, kind, households, population, businesses, version, geometry``) and return an
:class:`EditResult` holding the whole new hierarchy; they never change their input and never
touch the database. :func:`impact_preview` says what an edit does before it is saved;
:func:`save_edit` writes it as new grid versions in one transaction, refusing with
:class:`gis.core.errors.EditConflict` when someone saved a newer version in between;
:func:`grid_history`, :func:`edit_log` and :func:`restore_version` read and undo the history.

Typical use (a page or a notebook)::

    from gis.grids import edit
    grids = store.read_grids(engine)                       # current grids, with ``version``
    result = edit.reshape(grids, code, drawn_polygon)       # or split / merge / move ...
    preview = edit.impact_preview(grids, result, incidents=inc, staff=staff)
    print(preview.text("en"))
    group = edit.save_edit(engine, result, user="admin", reason="road moved")

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
    (:func:`gis.core.geometry.local_metric_crs`).
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

from gis.core.geometry import REGULAR_LEVELS
from gis.grids.edit.geometry import (
    EXTEND_M,
    GRID_DEG,
    OUTSIDE_TOLERANCE_M2,
    SLIVER_M2,
    SNAP_M,
)
from gis.grids.edit.history import (
    edit_log,
    grid_history,
    restore_version,
    save_edit,
    used_codes,
)
from gis.grids.edit.operations import add_dedicated, merge, move, reshape, retire, split
from gis.grids.edit.preview import ImpactPreview, impact_preview
from gis.grids.edit.result import ATTRIBUTES, DEDICATED, REQUIRED_COLUMNS, EditResult
from gis.grids.validate import NOISE_M2

__all__ = [
    "ATTRIBUTES",
    "DEDICATED",
    "EXTEND_M",
    "GRID_DEG",
    "NOISE_M2",
    "OUTSIDE_TOLERANCE_M2",
    "REGULAR_LEVELS",
    "REQUIRED_COLUMNS",
    "SLIVER_M2",
    "SNAP_M",
    "EditResult",
    "ImpactPreview",
    "add_dedicated",
    "edit_log",
    "grid_history",
    "impact_preview",
    "merge",
    "move",
    "reshape",
    "restore_version",
    "retire",
    "save_edit",
    "split",
    "used_codes",
]
