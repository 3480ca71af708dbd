"""Patrol coverage from GPS tracks: reading, cleaning, interpolation, presence, dosage and gaps.

Conventions
-----------
- Fix frames are GeoDataFrames in EPSG:4326 (lon/lat) with ``staff_code`` (or a device id), ``t``
  (``datetime64[ns]``, naive wall-clock in the district's zone ``settings.DISTRICT_TZ``, like the
  store; read with ``gis.core.times.parse_times``) and point ``geometry``;
  optional ``track_code`` (a track of the source file). Cleaning adds an integer ``track_id``.
- Distances and speeds are computed in THE local metric CRS (``gis.core.geometry``: CGCS2000
  3-degree Gauss-Kruger in China, UTM elsewhere, from the centre of the data's bounds); all
  ``*_m`` are metres, ``*_s`` seconds.
- The GPS accuracy buffer is ``GPS_ACCURACY_M`` = 20 m: the tolerance for "outside the district"
  and the buffer of street coverage. Presence in polygon units counts the interpolated position
  itself (no buffer), so a walk along a shared grid edge counts for one grid only.
- Between fixes the path is a straight line (``interpolate``): sparse fixes still count as
  presence along the way. Snapping to the street network is NOT done (a stretch goal).

Definitions (see the functions for details)
-------------------------------------------
- *sample*: a position with a duration ``w_s`` it stands for (the time until the next sample of
  the same track; 0 for a track's last fix). ``dwell_s`` of a unit is the sum of ``w_s`` of its
  samples.
- *visit*: a maximal run of one staff member's samples in one unit in which the time away between
  two samples in the unit (from the end of one sample to the start of the next) is at most
  ``visit_gap_s`` (default 60 s). Leaving for longer, or a new track, starts a new visit.
- *stop* (dosage): a visit with ``dwell_s >= stop_min_s`` (600 s, Koper's 10-15 minutes).
- *hotspot-hour met*: see ``dosage``.

Modules
-------
``tracks`` (reading track files), ``clean`` (dropped fixes and their reasons, track splits),
``sampling`` (segments and interpolation between fixes), ``units`` (polygon and H3 units),
``clock`` (times in nanoseconds, daily shifts), ``presence`` (visits, dwell, gaps per unit),
``streets`` (street coverage), ``dosage`` (Koper dosage at hot spots), ``gaps`` (coverage gaps
ranked with reasons), ``route`` (suggested route), ``coverage`` (presence and street coverage
per unit), ``risk`` (incident risk per unit), ``staff`` (patrols per staff member), ``view`` (the
track pipeline and the patrol view of one period), ``intake`` (importing track files into the
store).
"""

from gis.patrol.clean import (
    CYCLE_MAX_SPEED_MPS,
    DROP_REASONS,
    GPS_ACCURACY_M,
    WALK_MAX_SPEED_MPS,
    CleanResult,
    clean_fixes,
)
from gis.patrol.clock import DEFAULT_SHIFTS, in_shift, parse_shifts
from gis.patrol.coverage import COVERAGE_COLUMNS, coverage_table
from gis.patrol.dosage import dosage
from gis.patrol.gaps import RISK_COLUMNS, GapReport, coverage_gaps
from gis.patrol.intake import ALREADY_IMPORTED, TrackImportResult, import_tracks
from gis.patrol.presence import presence, visit_table
from gis.patrol.risk import unit_risk, unit_risk_from_counts
from gis.patrol.route import Route, route_for_staff, suggest_route
from gis.patrol.sampling import interpolate, segments
from gis.patrol.staff import staff_summary
from gis.patrol.streets import (
    StreetCoverage,
    assign_streets,
    street_coverage,
    street_coverage_buffer_union,
    street_coverage_by_unit,
    street_units,
)
from gis.patrol.tracks import read_tracks
from gis.patrol.units import assign_units, h3_cells_within, parse_units, polygon_units
from gis.patrol.view import PatrolView, TrackData, default_period, patrol_view, track_data

__all__ = [
    "ALREADY_IMPORTED",
    "COVERAGE_COLUMNS",
    "CYCLE_MAX_SPEED_MPS",
    "DEFAULT_SHIFTS",
    "DROP_REASONS",
    "GPS_ACCURACY_M",
    "RISK_COLUMNS",
    "WALK_MAX_SPEED_MPS",
    "CleanResult",
    "GapReport",
    "PatrolView",
    "Route",
    "StreetCoverage",
    "TrackData",
    "TrackImportResult",
    "assign_streets",
    "assign_units",
    "clean_fixes",
    "coverage_gaps",
    "coverage_table",
    "default_period",
    "dosage",
    "h3_cells_within",
    "import_tracks",
    "in_shift",
    "interpolate",
    "parse_shifts",
    "parse_units",
    "patrol_view",
    "polygon_units",
    "presence",
    "read_tracks",
    "route_for_staff",
    "segments",
    "staff_summary",
    "street_coverage",
    "street_coverage_buffer_union",
    "street_coverage_by_unit",
    "street_units",
    "suggest_route",
    "track_data",
    "unit_risk",
    "unit_risk_from_counts",
    "visit_table",
]
