"""The grid hierarchy: levels, codes, point assignment, validation, grid files, and edits.

- :mod:`~gis.grids.hierarchy`: levels, the grid table's columns, ``descendants``,
  ``hierarchy_summary``, the versions ``in_force`` at a time.
- :mod:`~gis.grids.codes`: ``grid_code``, ``parse_code``, ``next_free_codes``,
  ``number_children``: 15-digit codes (legacy 14-digit accepted), numbered west->east,
  north->south; overflow is a ``SequenceFullError``.
- :mod:`~gis.grids.assign`: ``assign_points`` / ``GridIndex`` / ``assign_points_at``: each
  point's micro-grid and ancestors by integer cell keys with exact tests only near boundaries,
  optionally with the grid version in force at each point's time.
- :mod:`~gis.grids.validate` and :mod:`~gis.grids.report`: ``validate_hierarchy`` checks a
  hierarchy against the standards' rules (tiles with no gap or overlap, every grid under its
  parent, well-formed unique codes) and returns a ``ValidationReport`` (a GeoDataFrame of
  problems with areas in m², and readable zh/en text).
- :mod:`~gis.grids.names`: ``unit_names``, THE human name of a unit or area (community, then
  the nearest place or street) used by every table, tooltip, detail and export.
- :mod:`~gis.grids.files`: ``import_grids`` / ``validate_grid_file`` / ``export_grids``, and
  ``guess_grid_fields``, the one guess of a grid file's fields (CLI and page alike).
- :mod:`gis.grids.edit`: reshape, split, merge, move, dedicated grids; the impact preview;
  versioned saves, history and restore.
"""

from gis.core.geometry import REGULAR_LEVELS
from gis.grids.assign import OUTSIDE, GridIndex, assign_points, assign_points_at, grid_index
from gis.grids.codes import (
    SequenceFullError,
    grid_code,
    next_free_codes,
    number_children,
    number_west_east_north_south,
    parse_code,
)
from gis.grids.edit import (
    ATTRIBUTES,
    DEDICATED,
    EXTEND_M,
    GRID_DEG,
    OUTSIDE_TOLERANCE_M2,
    REQUIRED_COLUMNS,
    SLIVER_M2,
    SNAP_M,
    EditResult,
    ImpactPreview,
    add_dedicated,
    edit_log,
    grid_history,
    impact_preview,
    merge,
    move,
    reshape,
    restore_version,
    retire,
    save_edit,
    split,
    used_codes,
)
from gis.grids.files import (
    GRID_FIELD_NAMES,
    CoverageShrinkRefused,
    GridImportRefused,
    GridImportResult,
    export_grids,
    guess_grid_fields,
    import_grids,
    prepare_grids,
    validate_grid_file,
)
from gis.grids.hierarchy import (
    DEDICATED_KINDS,
    GRID_COLUMNS,
    LEVEL_ZH,
    PARENT_LEVEL,
    clean_code,
    descendants,
    hierarchy_summary,
    in_force,
)
from gis.grids.names import PLACE_NEAR_M, STREET_NEAR_M, unit_names
from gis.grids.report import KIND_ZH, PROBLEM_COLUMNS, PROBLEM_KINDS, ValidationReport
from gis.grids.validate import NOISE_M2, validate_hierarchy

__all__ = [
    # hierarchy
    "DEDICATED_KINDS",
    "GRID_COLUMNS",
    "LEVEL_ZH",
    "PARENT_LEVEL",
    "REGULAR_LEVELS",
    "clean_code",
    "descendants",
    "hierarchy_summary",
    "in_force",
    # codes
    "SequenceFullError",
    "grid_code",
    "next_free_codes",
    "number_children",
    "number_west_east_north_south",
    "parse_code",
    # assign
    "OUTSIDE",
    "GridIndex",
    "assign_points",
    "assign_points_at",
    "grid_index",
    # names
    "PLACE_NEAR_M",
    "STREET_NEAR_M",
    "unit_names",
    # validate
    "KIND_ZH",
    "NOISE_M2",
    "PROBLEM_COLUMNS",
    "PROBLEM_KINDS",
    "ValidationReport",
    "validate_hierarchy",
    # files
    "GRID_FIELD_NAMES",
    "CoverageShrinkRefused",
    "GridImportRefused",
    "GridImportResult",
    "export_grids",
    "guess_grid_fields",
    "import_grids",
    "prepare_grids",
    "validate_grid_file",
    # edit
    "ATTRIBUTES",
    "DEDICATED",
    "EXTEND_M",
    "GRID_DEG",
    "OUTSIDE_TOLERANCE_M2",
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
