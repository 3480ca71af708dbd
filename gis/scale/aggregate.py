"""Counts per unit x period x category over a city's points: one process or a Dask cluster.

One partition function, :func:`count_partition`, assigns each point its unit (THE grid index
``gis.grids.grid_index`` for grids, ``gis.units.h3_cells`` for H3, the fishnet lattice of
``gis.units`` for fishnet cells) and period, and counts. The local engine runs it over the
folder's row-group batches in this process; the Dask engine runs it with ``map_partitions``
over ``dd.read_parquet`` and sums with ``groupby().sum()``. Counts are integers, so the sum
does not depend on how the points were partitioned: both engines give the same table, to the
last row.

Points are never dropped silently: a point outside every grid (or, for H3 and fishnet units
with grids given, outside the district), without a location, or without a readable time is
not counted but reported: ``N counted + M outside = total``. (``dask_geopandas.sjoin`` is
inner-only and would lose the outside points without a trace; it is not used.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import dask
import dask.dataframe as dd
import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyproj
from distributed import Client

from gis.core.errors import InputError
from gis.core.geometry import REGULAR_LEVELS, local_metric_crs, metric_crs_for_points
from gis.grids import grid_index
from gis.scale.cluster import ENGINES, dask_client
from gis.scale.sources import PointFolder, scan_points
from gis.units import FISHNET_BASE_M, UnitSpec, coarser_fishnet, fishnet_cells, h3_cells

__all__ = [
    "COUNT_COLUMNS",
    "NOT_COUNTED_REASONS",
    "STEPS",
    "AggregateResult",
    "aggregate",
    "count_partition",
    "metric_epsg",
    "period_keys",
    "period_labels",
    "prepare_grids",
    "unit_keys_of",
    "unit_labels",
]

#: Time steps of an aggregate.
STEPS = ("day", "week", "month")
#: Columns of the counts table.
COUNT_COLUMNS = ("unit_id", "period", "category_code", "count")
#: Why a point is not counted, in order of precedence.
NOT_COUNTED_REASONS = ("no location", "outside", "no time")
_KEYS = ["unit_key", "period_key", "category_code"]
_NAT = np.iinfo(np.int64).min
_PACK = np.int64(2**32)
_HALF = np.int64(2**31)
#: Partial tables the local engine holds before combining them.
_COMBINE_EVERY = 16


# ------------------------------------------------------------------------------ units, periods
def prepare_grids(grids: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """The regular grids (``code, level, parent_code, geometry``, EPSG:4326) a run ships to its
    workers: dedicated grids and other columns left out, so every task carries less."""
    if grids is None:
        return None
    if "level" not in grids or "code" not in grids:
        raise InputError("grids need code and level columns")
    regular = grids[grids["level"].isin(REGULAR_LEVELS) & grids.geometry.notna()]
    if regular.empty:
        raise InputError("no regular grids (l1, l2 or micro) to count in")
    cols = ["code", "level", "parent_code"] if "parent_code" in regular else ["code", "level"]
    out = gpd.GeoDataFrame(
        regular[cols].copy(), geometry=regular.geometry.to_numpy(), crs=grids.crs
    )
    if "parent_code" not in out:
        out["parent_code"] = None
    if out.crs is not None and out.crs.to_epsg() != 4326:
        out = out.to_crs(4326)
    return out.reset_index(drop=True)


def metric_epsg(
    grids: gpd.GeoDataFrame | None = None, source: PointFolder | pd.DataFrame | None = None
) -> int:
    """THE metric CRS of fishnet cells: of the district's grids when given, else of the points
    (Parquet column statistics when they say; else the points of the first file)."""
    if grids is not None and len(grids):
        return int(local_metric_crs(grids.to_crs(4326) if grids.crs else grids).to_epsg())
    if isinstance(source, PointFolder):
        box = source.lonlat_bounds()
        if box is not None:
            frame = gpd.GeoSeries(gpd.points_from_xy(box[::2], box[1::2]), crs=4326)
            return int(local_metric_crs(frame).to_epsg())
        source = source.read_files(source.files[:1])
    if source is None or not len(source):
        raise InputError("no grids and no points: cannot choose the fishnet's metric CRS")
    return int(metric_crs_for_points(source["lon"], source["lat"]).to_epsg())


@lru_cache(maxsize=8)
def _to_metric(epsg: int) -> pyproj.Transformer:
    """WGS-84 to ``epsg`` (built once per process: building one takes 0.1-0.4 s)."""
    return pyproj.Transformer.from_crs(4326, int(epsg), always_xy=True)


def _district_level(grids: gpd.GeoDataFrame) -> str:
    present = set(grids["level"])
    return next(level for level in REGULAR_LEVELS if level in present)


def unit_keys_of(
    lon: np.ndarray,
    lat: np.ndarray,
    spec: UnitSpec,
    grids: gpd.GeoDataFrame | None = None,
    epsg: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The unit of each WGS-84 point as an int64 key, the same in every process.

    Keys: for grids the index of the grid in the grid index (sorted by code), for H3 the cell
    (H3 cells are below 2**63), for fishnet cells the lattice column and row packed in one
    integer (``ix * 2**32 + iy + 2**31``; lattice origin (0, 0) of the metric CRS ``epsg``, a
    multiple of 50 m taken from the store's 50-m lattice). Integer keys make the partial
    tables small and their reduce fast; :func:`unit_labels` names them once, at the end.

    Returns
    -------
    tuple
        ``key`` (int64; 0 where not counted) and ``reason`` (int8: 0 counted, else one plus
        the index into :data:`NOT_COUNTED_REASONS`).
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    reason = np.zeros(len(lon), dtype=np.int8)
    located = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    reason[~located] = 1 + NOT_COUNTED_REASONS.index("no location")
    if spec.kind == "grid":
        if grids is None:
            raise InputError(f"counting by {spec} needs the grids")
        index = grid_index(grids, level=spec.level)
        key = index.locate(lon, lat)
        outside = key == len(index.polys)
    else:
        outside = np.zeros(len(lon), dtype=bool)
        if grids is not None:
            district = grid_index(grids, level=_district_level(grids))
            outside = district.locate(lon, lat) == len(district.polys)
        if spec.kind == "h3":
            cells = h3_cells(np.where(located, lon, np.nan), lat, int(spec.h3_resolution))
            key = cells.astype(np.int64)
        elif spec.kind == "fishnet":
            if epsg is None:
                raise InputError(f"counting by {spec} needs the metric CRS (epsg)")
            x, y = _to_metric(int(epsg)).transform(
                np.where(located, lon, np.nan), np.where(located, lat, np.nan)
            )
            cell = float(spec.cell_m)
            k = cell / FISHNET_BASE_M
            if abs(k - round(k)) < 1e-9 and k >= 1:
                ix, iy = coarser_fishnet(*fishnet_cells(x, y, FISHNET_BASE_M), cell)
            else:
                ix, iy = fishnet_cells(x, y, cell)
            good = ix != np.iinfo(np.int64).min
            key = np.where(good, ix * _PACK + (iy + _HALF), 0)
        else:
            raise InputError(f"cannot count by {spec}; use grid:LEVEL, h3:RES or fishnet:METRES")
    reason[(reason == 0) & outside] = 1 + NOT_COUNTED_REASONS.index("outside")
    key = np.where(reason == 0, key, 0).astype(np.int64)
    return key, reason


def unit_labels(
    keys: np.ndarray, spec: UnitSpec, grids: gpd.GeoDataFrame | None = None
) -> np.ndarray:
    """Unit ids (object array) of :func:`unit_keys_of` keys, named as the store's cube names
    units (``gis.store.cube.Cube.unit_of_rows``): grid codes, H3 cell strings and
    ``"{M}m_{ix}_{iy}"`` fishnet cells."""
    keys = np.asarray(keys, dtype=np.int64)
    if spec.kind == "grid":
        index = grid_index(grids, level=spec.level)
        return index.labels[index.level][keys]
    code, uniq = pd.factorize(keys)
    uniq = np.asarray(uniq, dtype=np.int64)
    if spec.kind == "h3":
        names = [h3.int_to_str(int(c)) if c else "" for c in uniq.tolist()]
    else:
        ix, rest = np.divmod(uniq, _PACK)
        cell = float(spec.cell_m)
        names = [
            f"{cell:g}m_{a}_{b}" for a, b in zip(ix.tolist(), (rest - _HALF).tolist(), strict=True)
        ]
    return np.asarray(names, dtype=object)[code] if len(keys) else np.zeros(0, dtype=object)


def period_keys(t: np.ndarray, step: str) -> np.ndarray:
    """The period of each time as an integer: the day (days since 1970-01-01), the Monday of
    its week (a day number) or the month (months since 1970-01); NaT gives the minimum int64."""
    t = np.asarray(t, dtype="datetime64[ns]")
    nat = np.isnat(t)
    if step == "month":
        out = t.astype("datetime64[M]").astype(np.int64)
    else:
        out = t.astype("datetime64[D]").astype(np.int64)
        if step == "week":
            out = out - (out + 3) % 7  # 1970-01-01 was a Thursday: Monday is (day + 3) % 7 == 0
        elif step != "day":
            raise InputError(f"step must be one of {', '.join(STEPS)}, got {step!r}")
    out[nat] = _NAT
    return out


def period_labels(keys: np.ndarray, step: str) -> np.ndarray:
    """Period keys as text: ``YYYY-MM-DD`` (a day, or the Monday of a week) or ``YYYY-MM``."""
    keys = np.asarray(keys, dtype=np.int64)
    unit = "M" if step == "month" else "D"
    uniq, inv = np.unique(keys, return_inverse=True)
    names = np.array(
        ["" if k == _NAT else str(np.datetime64(int(k), unit)) for k in uniq.tolist()],
        dtype=object,
    )
    return names[inv.ravel()] if len(keys) else np.zeros(0, dtype=object)


# ------------------------------------------------------------------------------ the kernel
def _count_meta() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit_key": pd.Series([], dtype=np.int64),
            "period_key": pd.Series([], dtype=np.int64),
            "category_code": pd.Series([], dtype=object),
            "count": pd.Series([], dtype=np.int64),
        }
    )


def _text(values) -> pd.Series:
    """Labels as an ``object`` Series (pandas 3 would convert object arrays of text to Arrow
    strings at every frame built; the kernels pass labels through without that cost)."""
    return pd.Series(np.asarray(values, dtype=object), dtype=object)


def _group_counts(u: np.ndarray, p: np.ndarray, c: np.ndarray):
    """Distinct (unit, period, category) triples and how many of each, through one dense
    integer key (``bincount`` when the key space is small, else a sort)."""
    u_code, u_uniq = pd.factorize(u)
    p_code, p_uniq = pd.factorize(p)
    nu, npd, nc = len(u_uniq), len(p_uniq), int(c.max(initial=-1)) + 1
    key = (u_code.astype(np.int64) * npd + p_code) * nc + c
    size = nu * npd * nc
    if 0 < size <= 4 * max(len(key), 1_000_000):
        counts = np.bincount(key, minlength=size)
        keys = np.flatnonzero(counts)
        counts = counts[keys]
    else:
        keys, counts = np.unique(key, return_counts=True)
    rest, ci = np.divmod(keys, max(nc, 1))
    ui, pi = np.divmod(rest, max(npd, 1))
    u_uniq, p_uniq = np.asarray(u_uniq, np.int64), np.asarray(p_uniq, np.int64)
    return u_uniq[ui], p_uniq[pi], ci, counts.astype(np.int64)


def count_partition(
    points: pd.DataFrame,
    spec: UnitSpec,
    step: str,
    grids: gpd.GeoDataFrame | None = None,
    epsg: int | None = None,
) -> pd.DataFrame:
    """Counts of one partition of normalised points (``lon, lat, t, category_code``).

    Returns
    -------
    pandas.DataFrame
        ``unit_key, period_key, category_code, count`` (keys of :func:`unit_keys_of` and
        :func:`period_keys`). Points not counted are rows with ``period_key`` the minimum int64
        and the reason as ``category_code``, so that one ``groupby().sum()`` reduces counts and
        accounting together.
    """
    if len(points) == 0:
        return _count_meta()
    key, reason = unit_keys_of(points["lon"], points["lat"], spec, grids, epsg)
    pkey = period_keys(points["t"].to_numpy(), step)
    reason[(reason == 0) & (pkey == _NAT)] = 1 + NOT_COUNTED_REASONS.index("no time")
    ok = reason == 0
    cat, cats = pd.factorize(points["category_code"], sort=True)
    u, p, c, n = _group_counts(key[ok], pkey[ok], np.asarray(cat)[ok])
    lost = np.bincount(reason, minlength=len(NOT_COUNTED_REASONS) + 1)[1:]
    why = [(r, int(k)) for r, k in zip(NOT_COUNTED_REASONS, lost, strict=True) if k]
    return pd.DataFrame(
        {
            "unit_key": np.concatenate([u, np.zeros(len(why), np.int64)]),
            "period_key": np.concatenate([p, np.full(len(why), _NAT, np.int64)]),
            "category_code": _text(
                [*(np.asarray(cats, dtype=object)[c] if len(c) else []), *(r for r, _ in why)]
            ),
            "count": np.concatenate([n, np.array([k for _, k in why], np.int64)]),
        }
    )


def _combine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return frame.groupby(_KEYS, sort=False, as_index=False)["count"].sum()


# ------------------------------------------------------------------------------ the run
@dataclass
class AggregateResult:
    """An aggregate and its accounting: ``counted + outside == total`` always.

    Attributes
    ----------
    counts
        ``unit_id, period, category_code, count`` (sorted; ``period`` is ``YYYY-MM-DD`` for
        days and weeks (their Monday) or ``YYYY-MM``).
    counted, outside, total
        Points counted, not counted (every reason), and all points read.
    reasons
        Points not counted per reason (:data:`NOT_COUNTED_REASONS`).
    """

    counts: pd.DataFrame
    counted: int
    outside: int
    total: int
    spec: UnitSpec
    step: str
    engine: str
    reasons: dict[str, int] = field(default_factory=dict)

    def summary_line(self) -> str:
        """``N counted + M outside = T`` with the reasons for the points not counted."""
        line = f"{self.counted} counted + {self.outside} outside = {self.total}"
        detail = "; ".join(f"{r}: {n}" for r, n in self.reasons.items() if n)
        return f"{line} ({detail})" if detail else line


def _sorted_codes(labels: np.ndarray) -> np.ndarray:
    """Integer codes of labels in their sorted order (to sort rows without comparing text)."""
    return pd.factorize(labels, sort=True)[0]


def _finish(frame: pd.DataFrame, spec: UnitSpec, step: str, engine: str, grids) -> AggregateResult:
    frame = frame.reset_index() if "unit_key" not in frame else frame
    pkey = frame["period_key"].to_numpy(dtype=np.int64)
    lost = pkey == _NAT
    reasons = {r: 0 for r in NOT_COUNTED_REASONS}
    why = frame["category_code"].to_numpy(dtype=object)[lost]
    for r, n in zip(why, frame["count"].to_numpy(dtype=np.int64)[lost], strict=True):
        reasons[str(r)] += int(n)
    units = unit_labels(frame["unit_key"].to_numpy(dtype=np.int64)[~lost], spec, grids)
    periods = period_labels(pkey[~lost], step)
    cats = frame["category_code"].to_numpy(dtype=object)[~lost]
    order = np.lexsort((_sorted_codes(cats), _sorted_codes(periods), _sorted_codes(units)))
    counts = pd.DataFrame(
        {
            "unit_id": _text(units[order]),
            "period": _text(periods[order]),
            "category_code": _text(cats[order]),
            "count": frame["count"].to_numpy(dtype=np.int64)[~lost][order],
        }
    )
    counted = int(counts["count"].sum())
    outside = int(sum(reasons.values()))
    return AggregateResult(counts, counted, outside, counted + outside, spec, step, engine, reasons)


def aggregate(
    source: str | PointFolder | pd.DataFrame,
    by: str | UnitSpec,
    step: str = "day",
    grids: gpd.GeoDataFrame | None = None,
    engine: str = "local",
    client: Client | None = None,
    *,
    epsg: int | None = None,
    batch_rows: int = 1_000_000,
) -> AggregateResult:
    """Incidents per unit x period x category over a (Geo)Parquet folder, on either engine.

    Parameters
    ----------
    source
        A Parquet file or folder of incidents (:func:`gis.scale.sources.scan_points`), a scanned
        :class:`~gis.scale.sources.PointFolder`, or normalised points in memory.
    by
        ``grid:micro`` (or ``grid:l2``, ``grid:l1``), ``h3:RES`` or ``fishnet:METRES`` (THE unit
        grammar, :class:`gis.units.UnitSpec`).
    step
        ``day``, ``week`` (Monday to Sunday) or ``month``.
    grids
        The grids (``code, level, parent_code``, polygons). Needed for ``grid:``; for H3 and
        fishnet units, points outside the district (the grids) are reported outside.
    engine
        ``local`` (this process, one batch of ``batch_rows`` at a time) or ``dask``.
    client
        The Dask client (``gis.scale.cluster.client_for``); default the active one, else a
        LocalCluster for the call.
    epsg
        The metric CRS of fishnet cells (default :func:`metric_epsg`; the store keeps its own
        in meta ``fishnet_epsg``).

    Returns
    -------
    AggregateResult
        Counts and accounting; equal, row for row, whichever the engine.
    """
    spec = UnitSpec.parse(by, allowed=("grid", "h3", "fishnet"))
    if spec.kind == "grid" and spec.level == "dedicated":
        raise InputError("count by grid:micro, grid:l2 or grid:l1 (dedicated grids overlap)")
    if step not in STEPS:
        raise InputError(f"step must be one of {', '.join(STEPS)}, got {step!r}")
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if isinstance(source, str | bytes) or hasattr(source, "__fspath__"):
        source = scan_points(source, "incidents")
    grids = prepare_grids(grids)
    if spec.kind == "grid" and grids is None:
        raise InputError(f"counting by {spec} needs grids: give --grids FILE or a store")
    if spec.kind == "fishnet" and epsg is None:
        epsg = metric_epsg(grids, source)
    kw = {"spec": spec, "step": step, "epsg": epsg}
    if engine == "local":
        parts: list[pd.DataFrame] = []
        batches = (
            source.batches(batch_rows)
            if isinstance(source, PointFolder)
            else (source.iloc[i : i + batch_rows] for i in range(0, len(source), batch_rows))
        )
        for batch in batches:
            parts.append(count_partition(batch, grids=grids, **kw))
            if len(parts) >= _COMBINE_EVERY:
                parts = [_combine(parts)]
        frame = _combine(parts) if parts else _count_meta()
        return _finish(frame, spec, step, engine, grids)
    with dask_client(client) as c:
        if isinstance(source, PointFolder):
            ddf = source.to_dask()
        else:
            n = max(1, len(c.scheduler_info().get("workers", {})))
            ddf = dd.from_pandas(source.reset_index(drop=True), npartitions=n, sort=False)
        shipped = dask.delayed(grids, traverse=False) if grids is not None else None
        parts = ddf.map_partitions(count_partition, grids=shipped, meta=_count_meta(), **kw)
        summed = parts.groupby(_KEYS, sort=False).sum(split_out=True)
        frame = c.compute(summed).result()
    return _finish(frame, spec, step, engine, grids)
