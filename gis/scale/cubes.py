"""Loading a city's counts into the store without its raw rows (``gridlens aggregate
--into-db``).

The app's pages read the incident cube (``gis.store.cube``): per month and unit family, counts
per day x category x source x micro-grid x unit key (H3 r8-r11 cells, the 50-m fishnet cell).
That grain serves every unit choice and every grid filter the pages offer. So ``--into-db``
does not store the one ``--by`` table of the command (which would serve one unit size and no
grid filter): it aggregates the folder to the cube's own grain with the same partition-wise
map and integer reduce as :func:`gis.scale.aggregate.aggregate`, one month group at a time
(bounded by a month's cube, as the store's own rebuild is), and writes each month and family
with ``gis.store.cube.write_cube_rows``.

Points outside the grids, without a location or without a time are not loaded (an import would
reject them) and are reported. Months in which the store already holds raw incidents are
refused: their cube is rebuilt from those rows, and the two must not mix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dask
import dask.dataframe as dd
import geopandas as gpd
import numpy as np
import pandas as pd
from distributed import Client
from sqlalchemy.engine import Engine

from gis.core.errors import InputError, StoreError
from gis.grids import OUTSIDE
from gis.scale.aggregate import (
    NOT_COUNTED_REASONS,
    metric_epsg,
    period_keys,
    prepare_grids,
    unit_keys_of,
    unit_labels,
)
from gis.scale.cluster import ENGINES, dask_client
from gis.scale.sources import PointFolder, scan_points
from gis.store import read_grids, set_meta
from gis.store.cube import CUBE_KINDS, fishnet_epsg, months_of_incidents, write_cube_rows
from gis.units import KEY_H3_RESOLUTIONS, UnitSpec, unit_keys

__all__ = ["CUBE_ROW_COLUMNS", "CubeLoadResult", "cube_partition", "load_into_store"]

_H3 = tuple(f"h3_r{r}" for r in KEY_H3_RESOLUTIONS)
_KEYS = ["day", "category_code", "source", "grid_code", *_H3, "fx50", "fy50"]
#: Columns of the cube-grain rows a partition gives.
CUBE_ROW_COLUMNS = (*_KEYS, "n")
_FAMILY = {"grid": [], "h3": list(_H3), "fishnet": ["fx50", "fy50"]}
_LOST_DAY = np.iinfo(np.int64).min
_COMBINE_EVERY = 16
_RAW_MONTHS = (
    "the store holds raw incidents for {}: their cube is built from those rows; load a city's "
    "aggregates into a store without its raw rows for those months"
)


def _meta() -> pd.DataFrame:
    cols = {c: pd.Series([], dtype=np.int64) for c in CUBE_ROW_COLUMNS}
    for c in ("category_code", "source", "grid_code"):
        cols[c] = pd.Series([], dtype=object)
    return pd.DataFrame(cols)[list(CUBE_ROW_COLUMNS)]


def cube_partition(points: pd.DataFrame, grids: gpd.GeoDataFrame, epsg: int) -> pd.DataFrame:
    """Cube-grain counts of one partition of normalised incidents.

    Returns
    -------
    pandas.DataFrame
        :data:`CUBE_ROW_COLUMNS`: ``day`` (days since 1970-01-01), category, source, micro-grid,
        the stored unit keys (``gis.units.unit_keys`` in the store's fishnet CRS ``epsg``) and
        ``n``. Points not loaded are rows with ``grid_code`` ``"outside"``, ``day`` the minimum
        int64 and the reason as ``category_code``.
    """
    if not len(points):
        return _meta()
    spec = UnitSpec("grid", level="micro")
    key, reason = unit_keys_of(points["lon"], points["lat"], spec, grids)
    day = period_keys(points["t"].to_numpy(), "day")
    reason[(reason == 0) & (day == _LOST_DAY)] = 1 + NOT_COUNTED_REASONS.index("no time")
    ok = reason == 0
    lon = points["lon"].to_numpy()[ok]
    lat = points["lat"].to_numpy()[ok]
    keys = unit_keys(lon, lat, epsg) if ok.any() else {c: np.zeros(0, np.int64) for c in _KEYS[4:]}
    rows = pd.DataFrame(
        {
            "day": day[ok],
            "category_code": points["category_code"].to_numpy(dtype=object)[ok],
            "source": points["source"].to_numpy(dtype=object)[ok],
            "grid_code": unit_labels(key[ok], spec, grids),
            **{c: np.asarray(keys[c], dtype=np.int64) for c in _KEYS[4:]},
        }
    )
    out = rows.groupby(_KEYS, sort=False).size().rename("n").reset_index()
    lost = np.bincount(reason, minlength=len(NOT_COUNTED_REASONS) + 1)[1:]
    extra = [
        {
            **{c: 0 for c in _KEYS[4:]},
            "day": _LOST_DAY,
            "category_code": r,
            "source": "",
            "grid_code": OUTSIDE,
            "n": int(n),
        }  # fmt: skip
        for r, n in zip(NOT_COUNTED_REASONS, lost, strict=True)
        if n
    ]
    if extra:
        out = pd.concat([out, pd.DataFrame(extra)], ignore_index=True)
    out = out[list(CUBE_ROW_COLUMNS)]
    for c in ("category_code", "source", "grid_code"):
        out[c] = out[c].astype(object)
    return out.astype({c: np.int64 for c in ("day", *_KEYS[4:], "n")})


def _combine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return frame.groupby(_KEYS, sort=False, as_index=False)["n"].sum()


@dataclass
class CubeLoadResult:
    """What ``--into-db`` wrote: incidents per month, and the accounting of the points."""

    months: dict[str, int]
    counted: int
    outside: int
    total: int
    reasons: dict[str, int] = field(default_factory=dict)

    def summary_line(self) -> str:
        """``N loaded + M outside = T into K months of the incident cube``."""
        detail = "; ".join(f"{r}: {n}" for r, n in self.reasons.items() if n)
        line = (
            f"{self.counted} loaded + {self.outside} outside = {self.total} into "
            f"{len(self.months)} months of the incident cube"
        )
        return f"{line} ({detail})" if detail else line


def _run_group(points, grids, epsg: int, engine: str, client: Client | None) -> pd.DataFrame:
    if engine == "local":
        parts: list[pd.DataFrame] = []
        for batch in points:
            parts.append(cube_partition(batch, grids, epsg))
            if len(parts) >= _COMBINE_EVERY:
                parts = [_combine(parts)]
        return _combine(parts) if parts else _meta()
    with dask_client(client) as c:
        mapped = points.map_partitions(
            cube_partition, dask.delayed(grids, traverse=False), epsg, meta=_meta()
        )
        return c.compute(mapped.groupby(_KEYS, sort=False).sum()).result().reset_index()


def load_into_store(
    db: Engine,
    source: str | PointFolder,
    grids: gpd.GeoDataFrame | None = None,
    engine: str = "local",
    client: Client | None = None,
    *,
    batch_rows: int = 1_000_000,
) -> CubeLoadResult:
    """Aggregate a folder of incidents to the cube's grain and write it into the store.

    Parameters
    ----------
    db
        The store.
    source
        A Parquet file or folder of incidents; with ``month=YYYY-MM`` folders each month is
        aggregated and written on its own.
    grids
        The micro-grids to count in (default the store's current grids).
    engine, client
        As :func:`gis.scale.aggregate.aggregate`.

    Raises
    ------
    InputError
        No grids, a month the store holds raw incidents for, or one month in two month folders.
    """
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    folder = source if isinstance(source, PointFolder) else scan_points(source, "incidents")
    given = grids is not None
    grids = prepare_grids(grids if given else read_grids(db))
    if grids is None or not (grids["level"] == "micro").any():
        raise InputError("--into-db counts in micro-grids: the store (or --grids) has none")
    with db.begin() as conn:
        try:
            epsg = fishnet_epsg(conn)
        except StoreError:  # a store without grids or incidents: the CRS of the given grids
            epsg = metric_epsg(grids, folder)
            set_meta(conn, "fishnet_epsg", str(epsg))
        raw = set(months_of_incidents(conn))
    groups = folder.month_groups()
    clash = sorted(str(m) for m in groups if m in raw)
    if clash:
        raise InputError(_RAW_MONTHS.format(", ".join(clash)))
    done: dict[str, int] = {}
    reasons = {r: 0 for r in NOT_COUNTED_REASONS}
    for group, files in sorted(groups.items(), key=lambda kv: str(kv[0])):
        if engine == "local":
            points = folder.batches(batch_rows, files=files)
        else:
            points = dd.read_parquet(
                [str(f) for f in files], columns=folder.file_columns, split_row_groups="adaptive"
            ).map_partitions(folder.normalize, meta=folder.meta())
        frame = _run_group(points, grids, epsg, engine, client)
        lost = frame["grid_code"].eq(OUTSIDE) & frame["day"].eq(_LOST_DAY)
        for r, n in frame[lost].groupby("category_code")["n"].sum().items():
            reasons[str(r)] += int(n)
        rows = frame[~lost]
        month = (
            (np.datetime64("1970-01-01", "D") + rows["day"].to_numpy().astype("timedelta64[D]"))
            .astype("datetime64[M]")
            .astype(str)
        )
        for m in sorted(set(month.tolist())):
            if m in done:
                raise InputError(f"month {m} is in two month folders (one was {group})")
            if m in raw:
                raise InputError(_RAW_MONTHS.format(m))
            mine = rows[month == m]
            with db.begin() as conn:
                for kind in CUBE_KINDS:
                    cols = ["day", "category_code", "source", "grid_code", *_FAMILY[kind], "n"]
                    done[m] = write_cube_rows(conn, m, kind, mine[cols])
    counted = int(sum(done.values()))
    outside = int(sum(reasons.values()))
    return CubeLoadResult(done, counted, outside, counted + outside, reasons)
