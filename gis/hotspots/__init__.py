"""Hotspot analytics: analysis units, kernel density, Getis-Ord Gi*, local Moran's I, emerging
hot spots and the "when" tables.

Pure functions on GeoDataFrames and numpy arrays (no database, no Streamlit). Geometries come
and go in EPSG:4326 (lon/lat); metric work happens in a local metric CRS chosen by
``gis.core.geometry.local_metric_crs`` (CGCS2000 3-degree Gauss-Kruger inside China, UTM
elsewhere).
One statistic a module (esda style); every public name is re-exported here, so
``from gis import hotspots as hs; hs.gi_star(...)`` works. (No module shares a name with a
function: ``import gis.hotspots.density`` is a module, ``hs.kde`` the function.)

- ``inputs`` -- points to lon/lat, ``study_area`` (the district, else the hull of the points),
  ``naive_times`` (the shared time parser, as an index).
- ``counts`` -- **units**: ``h3_units``, ``fishnet_units`` (square cells on a fixed metric
  lattice), ``grid_units`` (a level of the grid hierarchy); ``count_by_unit`` counts points per
  unit with zero-count units kept, densities per real unit area and rates per 1,000 residents;
  ``analysis_units`` builds the units of a ``--by`` choice (``gis.units.UnitSpec``).
- ``density`` -- **kernel density**: ``kde`` (Gaussian or quartic kernel; linear binning + FFT
  convolution), ``silverman_bandwidth_m`` (the robust spatial Silverman rule ArcGIS documents).
- ``weights`` -- scipy.sparse CSR matrices, binary, without the diagonal: ``queen_weights``,
  ``h3_ring_weights``, ``lattice_weights``, ``distance_band_weights``; ``auto_band`` picks a
  distance band like ArcGIS's Optimized Hot Spot Analysis; ``unit_weights`` for a units frame.
- ``gistar`` -- ``gi_star(y, W)`` (analytic z, two-sided p, FDR-corrected confidence bins).
- ``lisa`` -- ``local_moran(y, W)`` (conditional-permutation pseudo p-values). Both statistics
  are functions of a value vector and a sparse matrix only, so a space-time neighbourhood
  matrix works unchanged.
- ``analysis`` -- ``hotspots(units_frame, ...)`` ties them together for a counted units frame.
- **Emerging hot spots** -- ``cube`` (``space_time_cube``: day/week/month counts per unit),
  ``trend`` (``mann_kendall``: vectorised, ties corrected), ``patterns`` (``classify_emerging``:
  ArcGIS's 17 patterns) and ``emerging`` (``space_time_weights`` / ``space_time_gi_star``: Gi*
  per bin with time-lagged neighbours; ``emerging_hotspots`` tying them together).
- ``temporal`` -- **when**: ``hour_weekday`` (24 x 7 counts) and ``period_comparison`` (this
  period vs the previous one and the same period last year, exact conditional Poisson test).
"""

from gis.hotspots.analysis import (
    hotspots,
)
from gis.hotspots.counts import (
    analysis_units,
    count_by_unit,
    fishnet_units,
    grid_units,
    h3_polygons,
    h3_units,
    lattice_table,
    unit_counts_frame,
    unit_index,
    unit_kind,
)
from gis.hotspots.cube import (
    STEPS,
    SpaceTimeCube,
    space_time_cube,
    step_edges,
)
from gis.hotspots.density import (
    GAUSS_PAD_BANDWIDTHS,
    GAUSS_TRUNCATE_SD,
    KDE_BIN_RATIO,
    KDE_MAX_CELLS,
    KDE_MAX_FINE_CELLS,
    KDEResult,
    kde,
    silverman_bandwidth_m,
)
from gis.hotspots.emerging import (
    SpaceTimeGi,
    emerging_hotspots,
    space_time_gi_star,
    space_time_weights,
)
from gis.hotspots.gistar import (
    GI_ALPHAS,
    GiStarResult,
    confidence_bins,
    fdr_cutoffs,
    fdr_mask,
    gi_star,
)
from gis.hotspots.inputs import (
    naive_times,
    points_lonlat,
    study_area,
)
from gis.hotspots.lisa import (
    LISA_LABELS,
    PERMUTATION_BUDGET,
    PERMUTATIONS_MAX,
    PERMUTATIONS_MIN,
    LocalMoranResult,
    default_permutations,
    local_moran,
)
from gis.hotspots.patterns import (
    EMERGING_SHARE,
    NO_PATTERN,
    PATTERNS,
    classify_emerging,
)
from gis.hotspots.temporal import (
    WEEKDAYS_EN,
    hour_weekday,
    period_comparison,
    poisson_rate_test,
)
from gis.hotspots.trend import (
    MannKendallResult,
    mann_kendall,
)
from gis.hotspots.weights import (
    BandChoice,
    auto_band,
    distance_band_weights,
    drop_diagonal,
    h3_ring_weights,
    lattice_weights,
    moran_global,
    queen_weights,
    row_standardise,
    unit_centroids_m,
    unit_weights,
)

__all__ = [
    "points_lonlat",
    "study_area",
    "naive_times",
    "h3_polygons",
    "h3_units",
    "fishnet_units",
    "grid_units",
    "analysis_units",
    "unit_kind",
    "lattice_table",
    "unit_index",
    "unit_counts_frame",
    "count_by_unit",
    "GAUSS_TRUNCATE_SD",
    "GAUSS_PAD_BANDWIDTHS",
    "KDE_MAX_CELLS",
    "KDE_BIN_RATIO",
    "KDE_MAX_FINE_CELLS",
    "silverman_bandwidth_m",
    "KDEResult",
    "kde",
    "queen_weights",
    "h3_ring_weights",
    "lattice_weights",
    "distance_band_weights",
    "drop_diagonal",
    "row_standardise",
    "moran_global",
    "BandChoice",
    "auto_band",
    "unit_centroids_m",
    "unit_weights",
    "GI_ALPHAS",
    "fdr_cutoffs",
    "fdr_mask",
    "confidence_bins",
    "GiStarResult",
    "gi_star",
    "LISA_LABELS",
    "PERMUTATION_BUDGET",
    "PERMUTATIONS_MIN",
    "PERMUTATIONS_MAX",
    "default_permutations",
    "LocalMoranResult",
    "local_moran",
    "hotspots",
    "STEPS",
    "SpaceTimeCube",
    "step_edges",
    "space_time_cube",
    "MannKendallResult",
    "mann_kendall",
    "PATTERNS",
    "NO_PATTERN",
    "EMERGING_SHARE",
    "classify_emerging",
    "space_time_weights",
    "SpaceTimeGi",
    "space_time_gi_star",
    "emerging_hotspots",
    "WEEKDAYS_EN",
    "hour_weekday",
    "poisson_rate_test",
    "period_comparison",
]
