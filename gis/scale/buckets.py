"""GPS fixes by staff bucket: the partitioning that keeps every track whole.

Presence (visits, dwell) is computed from consecutive fixes of a track, and a track is one
staff member's: so fixes are partitioned by a stable hash of ``staff_code``
(``staff_bucket = hash % buckets``), over the whole period. A partition then holds every fix of
its staff members, a track never straddles two partitions (not at midnight, not at a month
boundary), and per-partition presence is exactly the presence of those staff members.

``gridlens export-parquet --what fixes`` writes ``month=YYYY-MM/staff_bucket=NN/`` folders; a
bucket is then the files of one ``staff_bucket`` across every month. Any other folder of fixes
is re-bucketed first (:func:`rebucket`): each input partition writes its rows into
``staff_bucket=NN`` part files of a scratch folder (in parallel on a cluster: the scratch folder
must be visible to every worker, like the input).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from distributed import Client

from gis.core.errors import InputError
from gis.scale.cluster import dask_client
from gis.scale.geoparquet import PartWriter
from gis.scale.sources import PointFolder, scan_points

__all__ = [
    "BUCKET_KEY",
    "FIXES_PER_BUCKET",
    "bucket_count",
    "bucket_groups",
    "bucket_labels",
    "rebucket",
    "staff_bucket",
    "write_bucket_partition",
]

#: The hive key of a staff bucket folder.
BUCKET_KEY = "staff_bucket"
#: Fixes per bucket a default layout aims at (one partition: ~1.5 GB of a worker's memory with
#: its samples, presence and intervals).
FIXES_PER_BUCKET = 500_000


def staff_bucket(staff: pd.Series | np.ndarray, buckets: int) -> np.ndarray:
    """The bucket (0 .. buckets-1) of each staff code: a stable hash (pandas' SipHash with a
    fixed key), the same in every process and on every machine."""
    values = np.asarray(pd.Series(staff).astype(object).fillna("").astype(str), dtype=object)
    return (pd.util.hash_array(values) % np.uint64(buckets)).astype(np.int64)


def bucket_count(rows: int, per_bucket: int = FIXES_PER_BUCKET) -> int:
    """Buckets for ``rows`` fixes: about ``per_bucket`` fixes each, at least one."""
    return max(1, math.ceil(rows / max(1, per_bucket)))


def bucket_groups(source: PointFolder) -> list[list[Path]] | None:
    """The files of each staff bucket (across every month), or None when the folder is not laid
    out by ``staff_bucket=NN`` folders."""
    groups: dict[str, list[Path]] = {}
    for f, keys in zip(source.files, source.keys, strict=True):
        if BUCKET_KEY not in keys:
            return None
        groups.setdefault(keys[BUCKET_KEY], []).append(f)
    return [groups[k] for k in sorted(groups, key=lambda v: (len(v), v))]


def bucket_labels(bucket: np.ndarray, buckets: int) -> np.ndarray:
    """Bucket numbers as the zero-padded text of their folder names (``staff_bucket=07``)."""
    width = len(str(max(buckets - 1, 0)))
    return np.char.zfill(bucket.astype(str), width).astype(object)


def write_bucket_partition(
    points: pd.DataFrame, folder: str, buckets: int, prefix: str
) -> pd.DataFrame:
    """Write one partition of normalised fixes into ``folder/staff_bucket=NN/`` part files.

    Returns
    -------
    pandas.DataFrame
        One row: ``rows`` written (a Dask task's result).
    """
    writer = PartWriter(folder, rows=10**9, prefix=prefix)
    if len(points):
        frame = points.assign(
            _bucket=bucket_labels(staff_bucket(points["staff_code"], buckets), buckets)
        )
        writer.add_grouped(frame, ["_bucket"], [BUCKET_KEY])
    writer.close()
    return pd.DataFrame({"rows": [writer.written]})


def rebucket(
    source: PointFolder,
    scratch: str | Path,
    *,
    buckets: int | None = None,
    engine: str = "local",
    client: Client | None = None,
    batch_rows: int = 1_000_000,
) -> PointFolder:
    """Re-lay a folder of fixes by staff bucket into ``scratch`` (which must be empty or new).

    Parameters
    ----------
    buckets
        Default :func:`bucket_count` of the folder's rows.
    engine, client
        ``local`` writes batch by batch in this process; ``dask`` lets each partition of
        ``dd.read_parquet`` write its own part files (``scratch`` on a shared filesystem).

    Returns
    -------
    PointFolder
        The scratch folder, scanned (its files are ``staff_bucket=NN/*.parquet``).
    """
    scratch = Path(scratch)
    if scratch.exists() and any(scratch.iterdir()):
        raise InputError(f"{scratch}: the scratch folder for staff buckets must be empty")
    scratch.mkdir(parents=True, exist_ok=True)
    n = buckets or bucket_count(source.rows)
    if engine == "local":
        for i, batch in enumerate(source.batches(batch_rows)):
            write_bucket_partition(batch, str(scratch), n, f"part-{i:05d}")
    else:
        with dask_client(client) as c:
            ddf = source.to_dask()
            prefixes = [f"part-{i:05d}" for i in range(ddf.npartitions)]
            written = ddf.map_partitions(
                _write_numbered,
                str(scratch),
                n,
                prefixes,
                meta=pd.DataFrame({"rows": pd.Series([], dtype=np.int64)}),
            )
            c.compute(written).result()
    if not any(scratch.rglob("*.parquet")):
        raise InputError(f"{source.root}: no fixes to re-bucket")
    return scan_points(scratch, "fixes")


def _write_numbered(
    points: pd.DataFrame, folder: str, buckets: int, prefixes: list[str], partition_info=None
) -> pd.DataFrame:
    number = partition_info["number"] if partition_info else 0
    return write_bucket_partition(points, folder, buckets, prefixes[number])
