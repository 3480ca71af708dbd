"""Page models: what each page shows, computed from the library (no Streamlit, no database)."""

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
    "PatrolHeadline",
    "PatrolScope",
    "TrackPeriod",
    "headline",
    "scope_to_grid",
    "staff_micro_grids",
    "track_period",
]
