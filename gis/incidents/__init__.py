"""Incident intake: real-world files in, every row accounted for; filtered exports out.

The page and the CLI use three calls:

- ``detect(source) -> IntakePreview``: the file as read (encoding, delimiter, rows), the columns
  detected for each incident field (``ColumnMapping``, with confidence and why), sample rows,
  and a guess of the coordinate system.
- ``import_incidents(engine, source, mapping=..., crs=..., progress=...) -> ImportResult``: one
  transaction; each row imported or rejected with its reason; ``imported + rejected = total``.
- ``export_incidents(frame, path, crs=..., lang=...)``.

Rejection reasons (first failing check wins): malformed CSV row; no coordinates; coordinates
not numbers / out of range / 0,0 / not a point (the *invalid coordinates*); missing or
unreadable time; time in the future; no category / unknown category (unless
``unknown="unclassified"``, which imports them under ``taxonomy.UNCLASSIFIED``); outside the
district by more than the tolerance; external id repeated in the file or already in the store.

Rows without an id column (or with an empty id) get ``H`` + a 64-bit hash of the row's content
as external id, so importing the same file twice adds nothing the second time.

Modules, one concept each:

- ``locate``: the district outline (``District``), grids of each point (``assign_incident_grids``,
  ``assign_grids_in_force``) and the coordinate-system hint (``crs_hint``).
- ``links``: duplicates and repeat locations (``link_duplicates``, ``flag_repeat_locations``,
  ``detect_links``).
- ``prepare``: a file's rows to accepted and rejected rows (``prepare_incidents``).
- ``intake``: ``import_incidents`` and its ``ImportResult``.
- ``preview``: ``detect`` and its ``IntakePreview``.
- ``export``: ``export_incidents``.
- ``files``: ``read_incident_file``, incident points of a file for analysis without a database.

Pure analysis functions (no database): ``link_duplicates``, ``flag_repeat_locations``,
``assign_incident_grids``, ``crs_hint``, ``prepare_incidents``. Times are read by
``gis.core.times.parse_times``, columns found by ``gis.io.columns.detect_columns``
(``INCIDENT_FIELDS``), the import batch recorded by ``gis.store.batches.record_import_batch``.
"""

from gis.incidents.export import export_incident_pages, export_incidents, stored_export_pages
from gis.incidents.files import read_incident_file
from gis.incidents.intake import ImportResult, ProgressCallback, import_incidents, store_context
from gis.incidents.links import (
    DUPLICATE_WINDOW,
    REPEAT_WINDOW,
    detect_links,
    flag_repeat_locations,
    link_duplicates,
)
from gis.incidents.locate import District, assign_grids_in_force, assign_incident_grids, crs_hint
from gis.incidents.prepare import (
    STORE_COLUMNS,
    TARGETS,
    TIME_COLUMNS,
    UNKNOWN_POLICIES,
    Prepared,
    prepare_incidents,
    raw_coordinates,
)
from gis.incidents.preview import IntakePreview, detect

__all__ = [
    "STORE_COLUMNS",
    "TIME_COLUMNS",
    "TARGETS",
    "UNKNOWN_POLICIES",
    "DUPLICATE_WINDOW",
    "REPEAT_WINDOW",
    "District",
    "crs_hint",
    "assign_incident_grids",
    "assign_grids_in_force",
    "link_duplicates",
    "flag_repeat_locations",
    "detect_links",
    "Prepared",
    "prepare_incidents",
    "raw_coordinates",
    "ImportResult",
    "ProgressCallback",
    "store_context",
    "import_incidents",
    "IntakePreview",
    "detect",
    "export_incident_pages",
    "export_incidents",
    "stored_export_pages",
    "read_incident_file",
]
