"""City scale: the batch kernels over partitioned GeoParquet, in one process or on Dask.

- :mod:`~gis.scale.sources`: any folder of (Geo)Parquet points, read partition by partition;
- :mod:`~gis.scale.geoparquet`: writing point GeoParquet part files into hive folders;
- :mod:`~gis.scale.parquet`: ``export-parquet``: the store as partitioned GeoParquet;
- :mod:`~gis.scale.buckets`: GPS fixes by staff bucket, so a track never straddles partitions;
- :mod:`~gis.scale.cluster`: the engines: this process, a LocalCluster or a running cluster;
- :mod:`~gis.scale.aggregate`: counts per unit x period x category (``gridlens aggregate``);
- :mod:`~gis.scale.coverage`: patrol presence per unit (``gridlens coverage`` on a folder);
- :mod:`~gis.scale.cubes`: a city's counts into the store's incident cube (``--into-db``);
- :mod:`gis.cli.scale`: the commands (``export-parquet``, ``aggregate``, ``coverage`` options).

Both engines run the same partition functions on the same partitions; integer sums and an
ordered reduce make ``engine="dask"`` equal ``engine="local"`` exactly.
"""

from gis.scale.aggregate import (
    COUNT_COLUMNS,
    NOT_COUNTED_REASONS,
    STEPS,
    AggregateResult,
    aggregate,
    count_partition,
    metric_epsg,
    period_keys,
    period_labels,
    prepare_grids,
    unit_keys_of,
    unit_labels,
)
from gis.scale.buckets import (
    BUCKET_KEY,
    FIXES_PER_BUCKET,
    bucket_count,
    bucket_groups,
    bucket_labels,
    rebucket,
    staff_bucket,
)
from gis.scale.cluster import (
    ENGINES,
    RssSampler,
    client_for,
    dask_client,
    machine_workers,
    worker_memory_limit,
)
from gis.scale.coverage import (
    MERGE_TOLERANCE_NS,
    CoveragePartial,
    CoverageResult,
    coverage,
    coverage_partition,
    max_gaps,
    merge_intervals,
    reduce_coverage,
)
from gis.scale.cubes import CUBE_ROW_COLUMNS, CubeLoadResult, cube_partition, load_into_store
from gis.scale.geoparquet import GEO_VERSION, PartWriter, geoparquet_table, write_points_file
from gis.scale.parquet import (
    EXPORT_KINDS,
    ExportResult,
    export_fixes_parquet,
    export_incidents_parquet,
)
from gis.scale.sources import (
    PARQUET_SUFFIXES,
    POINT_KINDS,
    PointFolder,
    hive_keys,
    normalize_points,
    read_points_folder,
    scan_points,
)

__all__ = [
    "BUCKET_KEY",
    "COUNT_COLUMNS",
    "CUBE_ROW_COLUMNS",
    "ENGINES",
    "EXPORT_KINDS",
    "FIXES_PER_BUCKET",
    "GEO_VERSION",
    "MERGE_TOLERANCE_NS",
    "NOT_COUNTED_REASONS",
    "PARQUET_SUFFIXES",
    "POINT_KINDS",
    "STEPS",
    "AggregateResult",
    "CoveragePartial",
    "CoverageResult",
    "CubeLoadResult",
    "ExportResult",
    "PartWriter",
    "PointFolder",
    "RssSampler",
    "aggregate",
    "bucket_count",
    "bucket_groups",
    "bucket_labels",
    "client_for",
    "count_partition",
    "coverage",
    "coverage_partition",
    "cube_partition",
    "dask_client",
    "export_fixes_parquet",
    "export_incidents_parquet",
    "geoparquet_table",
    "hive_keys",
    "load_into_store",
    "machine_workers",
    "max_gaps",
    "merge_intervals",
    "metric_epsg",
    "normalize_points",
    "period_keys",
    "period_labels",
    "prepare_grids",
    "read_points_folder",
    "rebucket",
    "reduce_coverage",
    "scan_points",
    "staff_bucket",
    "unit_keys_of",
    "unit_labels",
    "worker_memory_limit",
    "write_points_file",
]
