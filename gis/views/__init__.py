"""Page models: what each page shows, computed from the library (no Streamlit, no database)."""

from gis.views.grids import (
    adjacent_parents,
    adjacent_siblings,
    community_of,
    hierarchy_table,
    neighbour_frame,
    neighbourhood,
    operations_for,
)
from gis.views.patrol import (
    PatrolHeadline,
    PatrolScope,
    TrackPeriod,
    headline,
    scope_to_grid,
    staff_micro_grids,
    track_period,
)

__all__ = [
    # grids
    "adjacent_parents",
    "adjacent_siblings",
    "community_of",
    "hierarchy_table",
    "neighbour_frame",
    "neighbourhood",
    "operations_for",
    # patrol
    "PatrolHeadline",
    "PatrolScope",
    "TrackPeriod",
    "headline",
    "scope_to_grid",
    "staff_micro_grids",
    "track_period",
]
