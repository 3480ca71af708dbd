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

Pure analysis functions here (no database): ``parse_times``, ``detect_columns``,
``link_duplicates``, ``flag_repeat_locations``, ``assign_incident_grids``, ``district_check``,
``crs_hint``.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyproj
import shapely
import sqlalchemy as sa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from sqlalchemy.engine import Engine

from gis.core import coords, settings
from gis.core.crs import local_metric_crs
from gis.core.errors import InputError
from gis.grids import OUTSIDE, assign_points
from gis.io import accounting_line, read_source, release_memory, write_geo_file
from gis.store.frames import read_frame, save_frame
from gis.taxonomy import UNCLASSIFIED, map_categories, normalize_label, read_category_aliases

STORE_COLUMNS = [
    "external_id",
    "category_code",
    "source",
    "status",
    "severity",
    "occurred_at",
    "reported_at",
    "closed_at",
    "department",
    "address",
    "description",
    "grid_code",
    "grid_l2",
    "grid_l1",
    "category_raw",
    "coord_crs",
    "duplicate_of",
    "is_repeat_location",
]
TIME_COLUMNS = ("occurred_at", "reported_at", "closed_at")
#: Fields a file column can be mapped to (store columns and the coordinates).
TARGETS = (
    "external_id",
    "category_code",
    "occurred_at",
    "reported_at",
    "closed_at",
    "source",
    "status",
    "severity",
    "department",
    "address",
    "description",
    "lon",
    "lat",
    "wkt",
)
_TARGET_ALIASES = {
    "category": "category_code",
    "id": "external_id",
    "time": "occurred_at",
    "lng": "lon",
    "x": "lon",
    "longitude": "lon",
    "y": "lat",
    "latitude": "lat",
}
UNKNOWN_POLICIES = ("reject", "unclassified")
#: Default windows of duplicate links and repeat locations.
DUPLICATE_WINDOW = pd.Timedelta(hours=24)
REPEAT_WINDOW = pd.Timedelta(days=30)


# --- times ---------------------------------------------------------------------------------------

_OFFSET = r"(?:[+-]\d{2}:?\d{2}|Z|UTC|GMT)$"
_CJK_DATE = [
    (r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?", r"\1-\2-\3 "),
    (r"(\d{1,2})\s*[时点]\s*(\d{1,2})\s*分\s*(?:(\d{1,2})\s*秒)?", r"\1:\2:\3"),
    (r"(\d{1,2})\s*[时点]", r"\1:00"),
    (r":$", r""),
]


_COMMON_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S%z",
    "%d.%m.%Y %H:%M:%S",
)


def _parse_group(text: pd.Series, utc: bool) -> pd.Series:
    """Parse with the format guessed from the first value, then the rest one by one."""
    from pandas.tseries.api import guess_datetime_format

    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]" if utc else "M8[ns]")
    if text.empty:
        return out
    fmt = guess_datetime_format(str(text.iloc[0]))
    head = text.iloc[:200]
    best = pd.to_datetime(head, format=fmt, errors="coerce", utc=utc).notna().mean() if fmt else 0
    if best < 0.9:  # the guess failed: try the usual export formats on the first rows
        for cand in _COMMON_FORMATS:
            share = pd.to_datetime(head, format=cand, errors="coerce", utc=utc).notna().mean()
            if share > best:
                fmt, best = cand, share
    if fmt is not None:
        try:
            parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=utc)
        except (ValueError, TypeError):
            parsed = pd.Series(pd.NaT, index=text.index)
        out = parsed.astype(out.dtype) if len(parsed) else out
    left = out.isna()
    if left.any():
        rest = pd.to_datetime(text[left], errors="coerce", utc=utc, format="mixed")
        out[left] = rest.astype(out.dtype)
    return out


def parse_times(values: pd.Series, tz: str = settings.DISTRICT_TZ) -> pd.Series:
    """Parse times in any common format to naive wall-clock times in ``tz``.

    Text with a UTC offset (``+08:00``, ``-0400``, ``Z``) is converted to ``tz``; text without
    one is taken as ``tz`` wall-clock already. Accepted besides ISO 8601 and the usual
    ``Y/m/d``, ``m/d/Y I:M:S p`` forms: Chinese dates (``2026年5月1日 8时30分``), compact
    ``20260501083000``, Unix epoch seconds (10 digits) or milliseconds (13 digits, UTC), and
    datetime columns (tz-aware ones converted). The format is guessed from the first value and
    applied to all at once; values that do not fit are parsed one by one. Unparseable or empty
    values become NaT.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            return values.dt.tz_convert(tz).dt.tz_localize(None).astype("M8[ns]")
        return values.astype("M8[ns]")
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    out = pd.Series(pd.NaT, index=values.index, dtype="M8[ns]")
    present = text.notna()
    if not present.any():
        return out
    if text.str.contains("年|时|点", regex=True, na=False).any():
        for pattern, repl in _CJK_DATE:
            text = text.str.replace(pattern, repl, regex=True)
        text = text.str.strip()
    epoch = text.str.fullmatch(r"\d{10}(?:\.\d+)?|\d{13}", na=False)
    if epoch.any():
        num = pd.to_numeric(text[epoch], errors="coerce")
        ms = text[epoch].str.len() == 13
        num = num.where(~ms, num / 1000.0)
        stamp = pd.to_datetime(num, unit="s", utc=True)
        out[epoch] = stamp.dt.tz_convert(tz).dt.tz_localize(None).astype("M8[ns]")
    rest = present & ~epoch
    has_offset = rest & text.str.contains(_OFFSET, regex=True, na=False)
    if has_offset.any():
        aware = _parse_group(text[has_offset], utc=True)
        out[has_offset] = aware.dt.tz_convert(tz).dt.tz_localize(None).astype("M8[ns]")
    naive = rest & ~has_offset
    if naive.any():
        out[naive] = _parse_group(text[naive], utc=False)
    return out


# --- column detection ----------------------------------------------------------------------------

# fmt: off
#: Exact header names per field, best first (compared case-folded, ``_ - .`` as spaces).
_NAMES: dict[str, tuple[str, ...]] = {
    "external_id": (
        'external id', '事件编号', '案件编号', '工单编号', '工单号', '案卷号', '案卷编号', '案件号', '受理编号', '任务号', '流水号',
        '编号', 'service request id', 'unique key', 'case id', 'case number', 'case enquiry id',
        'incident id', 'request id', 'ticket id', 'id',
    ),
    "occurred_at": (
        'occurred at', '发生时间', '事发时间', '案发时间', '发现时间', '上报时间', '报告时间', '受理时间', '投诉时间', '来电时间',
        '立案时间', '创建时间', 'incident date', 'incident time', 'occurred', 'requested datetime',
        'created date', 'created at', 'create time', 'open dt', 'opened', 'date time',
        'datetime', 'time', '时间', 'date', '日期',
    ),
    "reported_at": (
        'reported at', '上报时间', '报告时间', '受理时间', '投诉时间', '来电时间', 'requested datetime',
        'created date', 'created at',
    ),
    "closed_at": (
        'closed at', '结案时间', '办结时间', '关闭时间', '完成时间', '处置完成时间', 'closed date', 'close date',
        'closed dt', 'resolved date', 'closed',
    ),
    "category_code": (
        'category code', '小类', '事件小类', '案件小类', '问题小类', '事件类型', '案件类型', '问题类型', '事件类别', '案件类别',
        '问题类别', '类型', '类别', '分类', 'category', 'complaint type', 'service name', 'case type',
        'request type', 'type', '大类', '事件大类', '案件大类',
    ),
    "source": (
        'source', '来源', '事件来源', '案件来源', '上报渠道', '渠道', 'channel', 'open data channel type',
        'origin',
    ),
    "status": (
        'status', '状态', '事件状态', '案件状态', '办理状态', '处理状态', 'case status',
    ),
    "severity": (
        'severity', '等级', '级别', '紧急程度', 'priority',
    ),
    "department": (
        'department', '部门', '处置部门', '责任部门', '承办单位', '主办部门', 'agency', 'responsible department',
    ),
    "address": (
        'address', '地址', '事发地址', '事件地址', '详细地址', '发生地址', '地点', '位置', 'incident address',
        'location address', 'street address',
    ),
    "description": (
        'description', '描述', '事件描述', '问题描述', '案件描述', '诉求内容', '投诉内容', '内容', '详情', 'descriptor',
        'details', 'summary',
    ),
    "lon": (
        'lon', 'lng', 'long', 'longitude', 'x', '经度', 'gps经度', '坐标x', 'x坐标', 'point x',
    ),
    "lat": (
        'lat', 'latitude', 'y', '纬度', 'gps纬度', '坐标y', 'y坐标', 'point y',
    ),
    "wkt": (
        'wkt', 'geometry', 'geom', 'the geom',
    ),
}
#: Keywords a header may contain (weaker evidence), per field.
_KEYWORDS: dict[str, tuple[str, ...]] = {
    "external_id": ('编号', '单号',),
    "occurred_at": ('发生时间', '事发', '上报时间', '时间', '日期',),
    "closed_at": ('结案', '办结',),
    "category_code": ('小类', '类型', '类别', '大类',),
    "source": ('来源', '渠道',),
    "status": ('状态',),
    "department": ('部门', '单位',),
    "address": ('地址', '地点',),
    "description": ('描述', '内容',),
    "lon": ('经度', 'longitude',),
    "lat": ('纬度', 'latitude',),
}
# fmt: on


def _norm_header(name: str) -> str:
    text = normalize_label(str(name))
    return re.sub(r"[\s_\-./]+", " ", text).strip()


class ColumnMapping(Mapping[str, str]):
    """``{field: file column}`` with, per field, a ``confidence`` (0-1) and ``why``.

    Confidence 1.0: given by the user; 0.9: exact header name; 0.6: header contains a keyword.
    Behaves as a read-only dict; ``with_overrides`` returns a new mapping.
    """

    def __init__(
        self,
        columns: Mapping[str, str],
        confidence: Mapping[str, float] | None = None,
        why: Mapping[str, str] | None = None,
    ):
        self._columns = dict(columns)
        self.confidence = dict(confidence or {k: 1.0 for k in self._columns})
        self.why = dict(why or {k: "given" for k in self._columns})

    def __getitem__(self, key: str) -> str:
        return self._columns[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def __repr__(self) -> str:
        return f"ColumnMapping({self._columns!r})"

    def with_overrides(
        self, overrides: Mapping[str, str | None] | None, columns: list[str] | None = None
    ) -> ColumnMapping:
        """A copy with ``overrides`` applied (``None`` or ``""`` removes a field).

        ``columns`` (the file's columns) are checked: an override naming a column that is not in
        the file raises ``InputError``. Field names accept the aliases ``category``, ``id``,
        ``time``, ``lng``/``x``, ``y``.
        """
        out = dict(self._columns)
        conf, why = dict(self.confidence), dict(self.why)
        for raw_target, source in (overrides or {}).items():
            target = _TARGET_ALIASES.get(str(raw_target).strip(), str(raw_target).strip())
            if target not in TARGETS:
                raise InputError(
                    f"unknown incident field {raw_target!r}; one of {', '.join(TARGETS)}"
                )
            if source is None or str(source).strip() == "":
                for d in (out, conf, why):
                    d.pop(target, None)
                continue
            source = str(source).strip()
            if columns is not None and source not in columns:
                raise InputError(f"column {source!r} (for {target}) is not in the file")
            for other in [k for k, v in out.items() if v == source and k != target]:
                if {other, target} != {"occurred_at", "reported_at"}:
                    for d in (out, conf, why):
                        d.pop(other, None)
            out[target], conf[target], why[target] = source, 1.0, "given"
        return ColumnMapping(out, conf, why)

    def to_frame(self) -> pd.DataFrame:
        """One row per field: ``field, column, confidence, why`` (for the preview table)."""
        rows = [(k, v, self.confidence.get(k, 1.0), self.why.get(k, "")) for k, v in self.items()]
        return pd.DataFrame(rows, columns=["field", "column", "confidence", "why"])

    def describe(self) -> list[str]:
        """``field <- 'column' (why)`` lines."""
        return [f"{k:<12} <- {v!r} ({self.why.get(k, '')})" for k, v in self.items()]


def detect_columns(columns, sample: pd.DataFrame | None = None) -> ColumnMapping:
    """Detect which file column holds each incident field from common Chinese/English names.

    Exact header names first (``经度``, ``lon``, ``上报时间``, ``Complaint Type``,
    ``service_request_id`` ...), then headers containing a keyword (``事件发生时间`` ...); a
    column is used for one field only (except a report time that is also the occurrence time).
    With ``sample`` rows, lon/lat candidates whose values are mostly not numbers are dropped.
    """
    cols = [str(c) for c in columns]
    normed = {c: _norm_header(c) for c in cols}
    used: set[str] = set()
    found: dict[str, str] = {}
    conf: dict[str, float] = {}
    why: dict[str, str] = {}

    def numeric_share(col: str) -> float:
        if sample is None or col not in sample:
            return 1.0
        vals = sample[col].dropna().astype(str).str.strip()
        vals = vals[vals != ""]
        if vals.empty:
            return 1.0
        return float(pd.to_numeric(vals, errors="coerce").notna().mean())

    def ok(target: str, col: str) -> bool:
        if target in ("lon", "lat") and numeric_share(col) < 0.5:
            return False
        return True

    for target, names in _NAMES.items():
        for name in names:
            hits = [c for c in cols if normed[c] == name and c not in used]
            hits = [c for c in hits if ok(target, c)]
            if hits:
                found[target], conf[target] = hits[0], 0.9
                why[target] = f"header {hits[0]!r} is a known name for {target}"
                used.add(hits[0])
                break
    for target, words in _KEYWORDS.items():
        if target in found:
            continue
        for word in words:
            hits = [c for c in cols if word in normed[c] and c not in used and ok(target, c)]
            if hits:
                found[target], conf[target] = hits[0], 0.6
                why[target] = f"header {hits[0]!r} contains {word!r}"
                used.add(hits[0])
                break
    return ColumnMapping(found, conf, why)


def read_mapping_file(path: str | Path) -> dict[str, str]:
    """Read ``{field: file column}`` from YAML, JSON, or CSV (``target,source`` columns)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such mapping file")
    suffix = path.suffix.lower()
    try:
        if suffix in {".yaml", ".yml"}:
            import yaml

            data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
        elif suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        elif suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            if not {"target", "source"} <= set(frame.columns):
                raise InputError(f"{path}: a mapping CSV needs the columns target,source")
            data = dict(zip(frame["target"], frame["source"], strict=True))
        else:
            raise InputError(f"{path}: mapping files are .yaml, .json or .csv")
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot read the mapping ({exc})") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected field: column pairs")
    return {str(k): (None if v is None else str(v)) for k, v in data.items()}


# --- geography: district, grids, CRS hint --------------------------------------------------------


@dataclass
class District:
    """The district's outline (union of level-1 grids) in a metric CRS, for distance checks."""

    metric_crs: pyproj.CRS
    outline_m: shapely.Geometry
    to_metric: pyproj.Transformer = field(repr=False)

    @classmethod
    def from_grids(cls, grids: gpd.GeoDataFrame) -> District | None:
        """From current grids (EPSG:4326): level-1 union, else the finest level present."""
        regular = grids[grids["level"].isin(["l1", "l2", "micro"])]
        if regular.empty:
            return None
        for level in ("l1", "l2", "micro"):
            part = regular[regular["level"] == level]
            if len(part):
                break
        metric = local_metric_crs(part.geometry)
        outline = shapely.union_all(part.to_crs(metric).geometry.to_numpy())
        shapely.prepare(outline)
        return cls(metric, outline, pyproj.Transformer.from_crs(4326, metric, always_xy=True))

    def metric(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.to_metric.transform(lon, lat)

    def within(self, lon: np.ndarray, lat: np.ndarray, tolerance_m: float) -> np.ndarray:
        """True where a WGS-84 point is inside the outline or within ``tolerance_m`` of it."""
        x, y = self.metric(lon, lat)
        ok = np.isfinite(x) & np.isfinite(y)
        out = np.zeros(len(x), dtype=bool)
        out[ok] = shapely.contains_xy(self.outline_m, x[ok], y[ok]) | shapely.intersects_xy(
            self.outline_m, x[ok], y[ok]
        )
        rest = ok & ~out
        if tolerance_m > 0 and rest.any():
            # dwithin on the prepared outline: no buffer of a long coastline needed
            out[rest] = shapely.dwithin(
                self.outline_m, shapely.points(x[rest], y[rest]), tolerance_m
            )
        return out


def crs_hint(
    raw_x: np.ndarray,
    raw_y: np.ndarray,
    crs: str,
    district: District,
    tolerance_m: float,
    *,
    max_points: int = 20_000,
) -> tuple[str | None, dict[str, float]]:
    """Would the points land inside the district if read as GCJ-02 or BD-09 (or WGS-84)?

    Parameters
    ----------
    raw_x, raw_y
        The file's numeric coordinates (finite ones), as given, before conversion.
    crs
        The coordinate system they were read as (``coords.normalize_crs`` name).

    Returns
    -------
    (hint or None, {system: share of points beyond the tolerance})
        A hint when at least 5 % (and 20 points) are outside as read and another reading at
        least halves that number: it names the system to pass (``--crs gcj02``).
    """
    if crs not in (coords.WGS84, coords.GCJ02, coords.BD09) or len(raw_x) == 0:
        return None, {}
    if len(raw_x) > max_points:
        pick = np.linspace(0, len(raw_x) - 1, max_points).astype(np.int64)
        raw_x, raw_y = raw_x[pick], raw_y[pick]
    outside = {}
    for name in (coords.WGS84, coords.GCJ02, coords.BD09):
        x, y = coords.to_wgs84(raw_x, raw_y, name)
        outside[name] = float((~district.within(x, y, tolerance_m)).mean())
    here = outside[crs]
    best = min((n for n in outside if n != crs), key=outside.get)
    if here * len(raw_x) >= 20 and here >= 0.05 and outside[best] <= here / 2:
        hint = (
            f"{here:.0%} of the points lie more than {tolerance_m:g} m outside the district "
            f"read as {crs}, only {outside[best]:.0%} read as {best}: the coordinates look like "
            f"{best.upper()}; import again with --crs {best}"
        )
        return hint, outside
    return None, outside


_ASSIGN_HAS_LEVEL = "level" in inspect.signature(assign_points).parameters


def _levels_chain(grids: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    level = dict(zip(grids["code"], grids["level"], strict=False))
    parent = dict(zip(grids["code"], grids["parent_code"], strict=False))
    return level, parent


def assign_incident_grids(
    lon: np.ndarray, lat: np.ndarray, grids: gpd.GeoDataFrame
) -> pd.DataFrame:
    """The finest grid (micro, else level-2, else level-1) of each point and its ancestors.

    Uses ``gis.grids.assign_points`` (a point on a shared edge goes to the smaller code); a
    point outside every grid (the tolerance band around the district) goes to the nearest one.

    Returns
    -------
    DataFrame
        ``grid_code`` (finest), ``grid_l2``, ``grid_l1`` (None where a level does not exist),
        ``snapped`` (True where the nearest grid was taken).
    """
    regular = grids[grids["level"].isin(["micro", "l2", "l1"])]
    n = len(lon)
    empty = pd.DataFrame(
        {"grid_code": [None] * n, "grid_l2": [None] * n, "grid_l1": [None] * n, "snapped": False}
    )
    if regular.empty or n == 0:
        return empty
    finest = next(lv for lv in ("micro", "l2", "l1") if (regular["level"] == lv).any())
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if _ASSIGN_HAS_LEVEL:  # assign_points((x, y), grids, level=...) assigns the finest level
        got = assign_points((lon, lat), regular, level=finest)
        code = got.iloc[:, 0].to_numpy(dtype=object).copy()
    else:  # micro-grids only: present the finest level as "micro"
        relabel = regular.copy()
        relabel["level"] = np.where(relabel["level"] == finest, "micro", "_" + relabel["level"])
        pts = gpd.GeoSeries(shapely.points(lon, lat), crs=grids.crs)
        code = assign_points(pts, relabel)["micro"].to_numpy(dtype=object)
    out_mask = code == OUTSIDE
    if out_mask.any():
        fine = regular[regular["level"] == finest]
        tree = shapely.STRtree(fine.geometry.to_numpy())
        pts_out = shapely.points(lon[out_mask], lat[out_mask])
        idx = tree.query_nearest(pts_out, return_distance=False, all_matches=False)
        code[np.flatnonzero(out_mask)[idx[0]]] = fine["code"].to_numpy()[idx[1]]
    level, parent = _levels_chain(regular)
    # distinct grids by hashing, not by sorting a million fixed-width strings
    inv, uniq = pd.factorize(code, use_na_sentinel=False)
    l2 = np.empty(len(uniq), dtype=object)
    l1 = np.empty(len(uniq), dtype=object)
    for i, c in enumerate(uniq):  # over distinct grids, not points
        chain, cur = [], (None if c is None else str(c))
        while cur is not None and cur in level and len(chain) < 6:
            chain.append(cur)
            cur = parent.get(cur)
            cur = None if cur is None or (isinstance(cur, float) and math.isnan(cur)) else cur
        by_level = {level[g]: g for g in chain}
        l2[i], l1[i] = by_level.get("l2"), by_level.get("l1")
    return pd.DataFrame(
        {"grid_code": code, "grid_l2": l2[inv], "grid_l1": l1[inv], "snapped": out_mask}
    )


def assign_grids_in_force(
    lon: np.ndarray, lat: np.ndarray, at: pd.Series, versions: gpd.GeoDataFrame
) -> tuple[pd.DataFrame, str]:
    """``assign_incident_grids`` with the grid versions in force at each incident's time.

    ``versions``: every grid version (``valid_from``, ``valid_to``). Times are split at the
    version changes; an incident older than every version gets the first hierarchy (grids are
    usually drawn after the history they are used on): the first version of every grid that
    started before any version was closed. Returns the frame and a note.
    """
    if versions.empty or len(lon) == 0:
        note = "no grids in the store: none assigned" if versions.empty else "no rows"
        return assign_incident_grids(lon, lat, versions.iloc[:0]), note
    starts = pd.to_datetime(versions["valid_from"])
    ends = pd.to_datetime(versions["valid_to"])
    changes = np.unique(np.concatenate([starts.to_numpy(), ends.dropna().to_numpy()]))
    t = pd.to_datetime(at).to_numpy()
    # -1: older than every version. Those get the first hierarchy: every version that started
    # before the first one was closed (a hierarchy loaded in several imports, a second apart,
    # is still one hierarchy), the earliest version of each code.
    slot = np.searchsorted(changes, t, side="right") - 1
    first_close = ends.min()
    initial = versions[starts < first_close] if pd.notna(first_close) else versions
    initial = initial.assign(_start=starts).sort_values("_start").drop_duplicates("code")
    initial = initial.drop(columns="_start")
    parts = []
    for s in np.unique(slot):
        if s < 0:
            live = initial
        else:
            when = changes[s]
            live = versions[(starts <= when) & (ends.isna() | (ends > when))]
        rows = np.flatnonzero(slot == s)
        part = assign_incident_grids(lon[rows], lat[rows], live)
        part.index = rows
        parts.append(part)
    out = pd.concat(parts).sort_index()
    note = "grids in force at each incident's time"
    if len(changes) == 1 or (ends.isna().all()):
        note = "current grids (no earlier grid versions)"
    return out.reset_index(drop=True), note


# --- duplicates and repeat locations -------------------------------------------------------------


def _trailing_pairs(
    x_m: np.ndarray,
    y_m: np.ndarray,
    t_s: np.ndarray,
    group: np.ndarray,
    radius_m: float,
    window_s: float,
    slab: int = 20_000,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Pairs (i, j), j before i in time order, same group, within ``radius_m`` and ``window_s``.

    Positions refer to the arrays as given. Works in time slabs with a k-d tree over
    (x, y, scaled time) and a Chebyshev box query, then keeps the exact disc; memory stays
    bounded by the slab and its window.
    """
    n = len(x_m)
    if n < 2:
        return
    order = np.lexsort((np.arange(n), t_s))
    xs, ys, ts, gs = x_m[order], y_m[order], t_s[order], group[order]
    scale = radius_m / window_s if window_s > 0 else 0.0
    t0 = ts[0]
    pts = np.column_stack([xs + gs * 1e8, ys, (ts - t0) * scale])
    eps = 1e-9 * max(radius_m, 1.0)
    for a in range(0, n, slab):
        b = min(a + slab, n)
        c = int(np.searchsorted(ts, ts[a] - window_s, side="left"))
        here = cKDTree(pts[a:b])
        ctx = cKDTree(pts[c:b])
        sdm = here.sparse_distance_matrix(ctx, radius_m + eps, p=np.inf, output_type="ndarray")
        if len(sdm) == 0:
            continue
        i = sdm["i"].astype(np.int64) + a
        j = sdm["j"].astype(np.int64) + c
        keep = (j < i) & (ts[i] - ts[j] <= window_s)
        i, j = i[keep], j[keep]
        d2 = (xs[i] - xs[j]) ** 2 + (ys[i] - ys[j]) ** 2
        keep = d2 <= radius_m**2 + eps
        yield order[i[keep]], order[j[keep]]


def _groups(category) -> np.ndarray:
    if category is None:
        return np.zeros(0, dtype=np.int64)
    return pd.factorize(pd.Series(category).astype("string").fillna(""))[0].astype(np.int64)


#: pairs ``link_duplicates`` collects before reducing them to a spanning forest
_PAIRS_HELD = 2_000_000


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes under the undirected edges (i, j)."""
    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _forest(n: int, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges with the components of (i, j): each linked node to its component's first node."""
    label = _components(n, i, j)
    _, first = np.unique(label, return_index=True)
    rep = first[label]
    linked = np.flatnonzero(rep != np.arange(n))
    return linked, rep[linked]


def link_duplicates(
    x_m: np.ndarray,
    y_m: np.ndarray,
    t: pd.Series | np.ndarray,
    category=None,
    *,
    radius_m: float = 50.0,
    window: pd.Timedelta = DUPLICATE_WINDOW,
) -> np.ndarray:
    """Probable duplicates: reports of the same category within ``radius_m`` and ``window``.

    Two reports are linked when they are at most ``radius_m`` metres apart (metric
    coordinates) and at most ``window`` apart in time; linked reports form chains (A-B, B-C),
    and each chain is resolved to one primary: its earliest report (ties: the earlier
    position). Vectorised: k-d tree pairs in time slabs, then connected components.

    Returns
    -------
    numpy.ndarray of int
        Position of each report's primary (itself for primaries and lone reports).
    """
    n = len(x_m)
    t_s = pd.to_datetime(pd.Series(t)).to_numpy().astype("datetime64[ns]").astype(np.int64) / 1e9
    group = _groups(category) if category is not None else np.zeros(n, dtype=np.int64)
    ii, jj = [], []
    pending = 0
    found = False
    for i, j in _trailing_pairs(
        np.asarray(x_m, float),
        np.asarray(y_m, float),
        t_s,
        group,
        radius_m,
        window.total_seconds(),
    ):
        ii.append(i)
        jj.append(j)
        pending += len(i)
        found = found or len(i) > 0
        if pending > max(n, _PAIRS_HELD):
            # keep memory bounded: the pairs so far become a spanning forest (at most n edges)
            i, j = _forest(n, np.concatenate(ii), np.concatenate(jj))
            ii, jj, pending = [i], [j], len(i)
    primary = np.arange(n)
    if not found:
        return primary
    label = _components(n, np.concatenate(ii), np.concatenate(jj))
    del ii, jj
    order = np.lexsort((np.arange(n), t_s, label))  # by component, then time, then position
    first = np.ones(n, dtype=bool)
    first[1:] = label[order][1:] != label[order][:-1]
    head = order[first]  # earliest report of each component
    head_of_label = np.empty(label.max() + 1, dtype=np.int64)
    head_of_label[label[head]] = head
    return head_of_label[label]


def flag_repeat_locations(
    x_m: np.ndarray,
    y_m: np.ndarray,
    t: pd.Series | np.ndarray,
    category=None,
    *,
    radius_m: float = 50.0,
    window: pd.Timedelta = REPEAT_WINDOW,
    min_reports: int = 3,
) -> np.ndarray:
    """Reports at repeat locations: places with ``min_reports``+ reports within ``window``.

    A *place* is a square cell of ``radius_m`` metres (default 50 m) of a grid anchored at the
    origin of the metric CRS, so reports at one place are at most ``radius_m * sqrt(2)`` apart
    (two reports 10 m apart across a cell edge are two places: the price of an O(n log n)
    count that stays fast on a million dense reports). A report R completes a repeat location
    when its place holds at least ``min_reports`` reports (R included; of the same category
    when ``category`` is given) in the ``window`` ending at R's time; R and those reports are
    all flagged, so the first two of 3-in-30-days are flagged as soon as the third arrives.

    Returns
    -------
    numpy.ndarray of bool
    """
    n = len(x_m)
    if n == 0:
        return np.zeros(0, dtype=bool)
    # whole seconds keep the combined (place, time) key below 2**63 for any realistic span
    t_ns = pd.to_datetime(pd.Series(t)).to_numpy().astype("datetime64[s]").astype(np.int64)
    w = int(window.total_seconds())
    cx = np.floor(np.asarray(x_m, float) / radius_m).astype(np.int64)
    cy = np.floor(np.asarray(y_m, float) / radius_m).astype(np.int64)
    group = _groups(category) if category is not None else np.zeros(n, dtype=np.int64)
    place = pd.MultiIndex.from_arrays([group, cx, cy]).factorize()[0].astype(np.int64)
    order = np.lexsort((np.arange(n), t_ns, place))
    p, ts = place[order], t_ns[order]
    # one sorted key: place first, then time (times shifted to be non-negative)
    span = int(ts.max() - ts.min()) + 2 * w + 2
    key = p * span + (ts - ts.min() + w)
    # reports of the same place in [t - window, t]: R's position minus the first one's
    first = np.searchsorted(key, key - w, side="left")
    count = np.arange(n) - first + 1
    anchor = count >= min_reports
    # a report is flagged when an anchor of its place lies in [t, t + window]
    anchor_pos = np.flatnonzero(anchor)
    if len(anchor_pos) == 0:
        return np.zeros(n, dtype=bool)
    nxt = np.searchsorted(anchor_pos, np.arange(n), side="left")
    has = nxt < len(anchor_pos)
    cand = anchor_pos[np.minimum(nxt, len(anchor_pos) - 1)]
    flagged_sorted = has & (key[cand] - key <= w) & (p[cand] == p)
    flagged = np.zeros(n, dtype=bool)
    flagged[order] = flagged_sorted | anchor
    return flagged


# --- preparing rows ------------------------------------------------------------------------------


@dataclass
class Prepared:
    """Rows split into accepted (store columns, WGS-84 points) and rejected (with ``reason``)."""

    accepted: gpd.GeoDataFrame
    rejected: pd.DataFrame
    unknown_categories: pd.Series
    crs: str
    crs_hint: str | None = None
    crs_check: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _coordinates(
    table: pd.DataFrame, mapping: Mapping[str, str], crs: str | None, name: str
) -> tuple[np.ndarray, np.ndarray, pd.Series, str]:
    """Raw numeric x, y per row and the per-row coordinate problem; the CRS they are in."""
    n = len(table)
    reason = pd.Series("", index=table.index, dtype=object)
    if isinstance(table, gpd.GeoDataFrame) and table.geometry.name in table:
        geoms = table.geometry.to_numpy()
        missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        reason[missing] = "no coordinates"
        not_point = ~missing & (shapely.get_type_id(geoms) != 0)
        reason[not_point] = "geometry is not a point"
        x = np.full(n, np.nan)
        y = np.full(n, np.nan)
        pts = ~missing & ~not_point
        x[pts] = shapely.get_x(geoms[pts])
        y[pts] = shapely.get_y(geoms[pts])
        file_crs = coords.normalize_crs(table.crs.to_string()) if table.crs is not None else None
        return x, y, reason, coords.normalize_crs(crs) if crs else (file_crs or coords.WGS84)
    used = coords.normalize_crs(crs)
    if "lon" in mapping and "lat" in mapping:
        rx, ry = table[mapping["lon"]], table[mapping["lat"]]
        x = pd.to_numeric(rx, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        y = pd.to_numeric(ry, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        empty = (rx.isna() | (rx.astype("string").str.strip() == "")).to_numpy() | (
            ry.isna() | (ry.astype("string").str.strip() == "")
        ).to_numpy()
        reason[empty] = "no coordinates"
        reason[~empty & ~(np.isfinite(x) & np.isfinite(y))] = "coordinates are not numbers"
        return x, y, reason, used
    if "wkt" in mapping:
        text = table[mapping["wkt"]]
        geoms = shapely.from_wkt(text.astype(object).to_numpy(), on_invalid="ignore")
        reason[text.isna().to_numpy()] = "no coordinates"
        reason[(text.notna() & shapely.is_missing(geoms)).to_numpy()] = "unreadable WKT"
        ok = ~shapely.is_missing(geoms)
        reason[ok & (shapely.get_type_id(geoms) != 0)] = "geometry is not a point"
        x = np.where(ok, shapely.get_x(geoms), np.nan)
        y = np.where(ok, shapely.get_y(geoms), np.nan)
        return x, y, reason, used
    raise InputError(
        f"{name}: no coordinate columns found; expected lon/lat (经度/纬度, lon, lng, longitude, "
        "x / lat, latitude, y) or a WKT column; map them with --field lon=COLUMN --field lat=COLUMN"
    )


def _content_ids(table: pd.DataFrame) -> pd.Series:
    """``H`` + 16 hex digits: a hash of each row's content (columns sorted by name)."""
    plain = pd.DataFrame(
        table.drop(columns=[table.geometry.name]) if isinstance(table, gpd.GeoDataFrame) else table
    )
    if isinstance(table, gpd.GeoDataFrame):
        plain["__wkb"] = shapely.to_wkb(table.geometry.to_numpy(), hex=True)
    plain = plain[sorted(plain.columns, key=str)].astype("string").fillna("")
    h = pd.util.hash_pandas_object(plain, index=False).to_numpy()
    return pd.Series([f"H{v:016x}" for v in h], index=table.index, dtype=object)


def prepare_incidents(
    table: pd.DataFrame | gpd.GeoDataFrame,
    mapping: Mapping[str, str],
    *,
    crs: str | int | None = None,
    tz: str = settings.DISTRICT_TZ,
    now: datetime | None = None,
    aliases: dict[str, str] | None = None,
    unknown: str = "reject",
    district: District | None = None,
    tolerance_m: float = 500.0,
    existing_ids: np.ndarray | set | frozenset = frozenset(),
    name: str = "file",
) -> Prepared:
    """Split a file's rows into incidents to import and rejected rows with their reason.

    Parameters
    ----------
    table
        The file as read by ``gis.io.read_source`` (text columns; a GeoDataFrame for vector files).
    mapping
        ``{field: column}`` (``ColumnMapping`` or a dict), fields from ``TARGETS``.
    crs
        Coordinate system of the coordinates (``coords.normalize_crs`` names or an EPSG code);
        default WGS-84 (or the vector file's own CRS).
    tz
        Zone of times without an offset; all times are stored as wall-clock times in it.
    now
        Times after it are rejected (default: now in ``tz``).
    aliases
        ``{normalised alias: code}`` (``taxonomy.read_category_aliases``).
    unknown
        ``"reject"`` (default): unknown or empty categories are rejected; ``"unclassified"``:
        imported as ``taxonomy.UNCLASSIFIED`` (the file's text kept in ``category_raw``).
    district, tolerance_m
        Points farther than ``tolerance_m`` metres outside the district are rejected (no check
        without a district).
    existing_ids
        External ids already in the store.
    """
    if unknown not in UNKNOWN_POLICIES:
        raise InputError(f"unknown={unknown!r}; one of {', '.join(UNKNOWN_POLICIES)}")
    aliases = read_category_aliases() if aliases is None else aliases
    now_ts = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz).tz_localize(None)
    n = len(table)
    x_raw, y_raw, reason, used_crs = _coordinates(table, mapping, crs, name)
    # to WGS-84, then range checks
    finite = np.isfinite(x_raw) & np.isfinite(y_raw)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if finite.any():
        lon[finite], lat[finite] = coords.to_wgs84(x_raw[finite], y_raw[finite], used_crs)
    open_ = (reason == "").to_numpy()
    bad_range = open_ & finite & ((np.abs(lon) > 180) | (np.abs(lat) > 90) | ~np.isfinite(lon))
    reason[bad_range] = "coordinates out of range"
    zero = open_ & ~bad_range & (x_raw == 0) & (y_raw == 0)
    reason[zero] = "coordinates are 0,0"

    frame = pd.DataFrame(index=table.index)
    for target in TIME_COLUMNS:
        if target in mapping:
            frame[target] = parse_times(table[mapping[target]], tz)
    if "occurred_at" not in frame:
        if "reported_at" in frame:
            frame["occurred_at"] = frame["reported_at"]
        else:
            raise InputError(
                f"{name}: no time column found (发生时间, 上报时间, occurred_at, Created Date ...); "
                "map one with --field occurred_at=COLUMN"
            )
    open_ = (reason == "").to_numpy()
    reason[open_ & frame["occurred_at"].isna().to_numpy()] = "missing or unreadable occurred_at"
    open_ = (reason == "").to_numpy()
    reason[open_ & (frame["occurred_at"] > now_ts).to_numpy()] = "occurred_at is in the future"

    if "category_code" in mapping:
        raw_cat = table[mapping["category_code"]].astype("string").str.strip()
    elif unknown == "unclassified":
        raw_cat = pd.Series(pd.NA, index=table.index, dtype="string")
    else:
        raise InputError(
            f"{name}: no category column found (事件类型, 小类, Complaint Type, service_name ...); "
            "map one with --field category_code=COLUMN, or import every row as unclassified "
            "with --unknown unclassified"
        )
    codes, unknown_counts = map_categories(raw_cat, aliases)
    empty_cat = (raw_cat.isna() | (raw_cat == "")).to_numpy()
    missing_code = codes.isna().to_numpy()
    if unknown == "unclassified":
        codes = codes.fillna(UNCLASSIFIED)
    else:
        open_ = (reason == "").to_numpy()
        reason[open_ & empty_cat] = "no category"
        bad = open_ & missing_code & ~empty_cat
        reason[bad] = "unknown category: " + raw_cat[bad].astype(str)
    # text stays in pandas' Arrow-backed string dtype: a million Python str objects per column
    # would cost ~80 MB each; save_frame makes DB-API values one batch at a time
    frame["category_code"] = codes
    frame["category_raw"] = raw_cat

    notes: list[str] = []
    hint, check = None, {}
    if district is not None:
        open_ = (reason == "").to_numpy()
        inside = np.zeros(n, dtype=bool)
        inside[open_] = district.within(lon[open_], lat[open_], tolerance_m)
        reason[open_ & ~inside] = f"outside the district (more than {tolerance_m:g} m)"
        cand = finite & ~bad_range & ~zero
        hint, check = crs_hint(x_raw[cand], y_raw[cand], used_crs, district, tolerance_m)
    else:
        notes.append("no grids in the store: the district check was skipped")

    if "external_id" in mapping:
        ids = table[mapping["external_id"]].astype("string").str.strip()
        ids = ids.mask(ids == "")
        if ids.isna().any():
            derived = _content_ids(table)
            ids = ids.astype(object).where(ids.notna(), derived)
    else:
        ids = _content_ids(table)
        notes.append("no id column: external ids are hashes of each row's content")
    frame["external_id"] = pd.Series(ids.array, index=table.index).astype("string")
    open_ = (reason == "").to_numpy()
    dup_file = np.zeros(n, dtype=bool)
    dup_file[open_] = frame["external_id"][open_].duplicated(keep="first").to_numpy()
    reason[dup_file] = "duplicate external_id in the file"
    open_ = (reason == "").to_numpy()
    if len(existing_ids):
        seen = pc.is_in(
            pa.array(frame["external_id"]).cast(pa.large_string()),
            value_set=pa.array(
                np.asarray(list(existing_ids), dtype=object), type=pa.large_string()
            ),
        ).to_numpy(zero_copy_only=False)
        reason[open_ & seen] = "already imported (external_id exists)"

    for target in ("source", "status", "severity", "department", "address", "description"):
        if target in mapping:
            col = table[mapping[target]]
            if isinstance(col.dtype, pd.StringDtype):  # kept compact; missing -> NULL on write
                frame[target] = col
            else:
                frame[target] = col.astype(object).where(col.notna(), None)
    frame["coord_crs"] = used_crs
    ok = (reason == "").to_numpy()
    keep = [c for c in STORE_COLUMNS if c in frame]
    accepted = gpd.GeoDataFrame(
        frame.loc[ok, keep].reset_index(drop=True),
        geometry=shapely.points(lon[ok], lat[ok]),
        crs=4326,
    )
    plain = pd.DataFrame(
        table.drop(columns=[table.geometry.name]) if isinstance(table, gpd.GeoDataFrame) else table
    )
    bad_rows = ~ok
    rejected = plain.loc[bad_rows].copy()
    rejected.insert(0, "row", np.flatnonzero(bad_rows) + 1)
    rejected["reason"] = reason[bad_rows].to_numpy()
    return Prepared(accepted, rejected, unknown_counts, used_crs, hint, check, notes)


# --- import --------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    """What an import did.

    ``total = imported + rejected_count`` always. ``rejected`` holds the rejected rows (the
    file's columns plus ``row``, 1-based, and ``reason``); ``reasons`` counts them.
    ``unknown_categories`` counts category texts the alias table does not know (rejected, or
    imported as unclassified). ``duplicates``: imported rows linked to an earlier primary;
    ``repeat_locations``: imported rows at a repeat location. ``crs_hint`` suggests another
    coordinate system when many points fall outside the district as read.
    """

    total: int
    imported: int
    rejected: pd.DataFrame = field(repr=False)
    batch_id: int | None = None
    mapping: ColumnMapping | None = None
    crs: str = coords.WGS84
    crs_hint: str | None = None
    crs_check: dict[str, float] = field(default_factory=dict)
    unknown_categories: pd.Series = field(default_factory=lambda: pd.Series(dtype=int))
    duplicates: int = 0
    repeat_locations: int = 0
    snapped: int = 0
    grid_note: str = ""
    notes: list[str] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    file_name: str | None = None

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)

    @property
    def reasons(self) -> pd.Series:
        """Rejected rows per reason, largest first."""
        if not len(self.rejected):
            return pd.Series(dtype=int)
        return self.rejected["reason"].value_counts()

    def summary_line(self) -> str:
        """``imported + rejected = total``, with the reasons counted."""
        return accounting_line(self.imported, self.rejected, self.total)


ProgressCallback = Callable[[float, str], None]


def _progress(progress: ProgressCallback | None) -> ProgressCallback:
    return progress if progress is not None else (lambda fraction, message: None)


def _malformed_rows(info) -> pd.DataFrame:
    bad = info.malformed
    if bad is None or bad.empty:
        return pd.DataFrame(columns=["row", "reason"])
    out = pd.DataFrame(
        {
            "row": bad["line"].astype("Int64"),
            "text": bad["text"],
            "reason": [
                f"malformed row: {f} fields, expected {e}"
                for f, e in zip(bad["fields"], bad["expected"], strict=True)
            ],
        }
    )
    return out


def _store_context(engine: Engine) -> tuple[np.ndarray, gpd.GeoDataFrame, dict[str, str]]:
    with engine.connect() as conn:
        ids = np.array(
            conn.execute(sa.text("SELECT external_id FROM incidents")).scalars().all(), dtype=object
        )
        versions = read_frame(
            conn,
            "grids",
            columns=["code", "level", "parent_code", "valid_from", "valid_to", "geom"],
        )
        tax = read_frame(conn, "taxonomy")
    aliases = read_category_aliases(taxonomy=tax if len(tax) else None)
    return ids, versions, aliases


def _nearby_existing(engine, t_min, t_max, window: pd.Timedelta) -> gpd.GeoDataFrame:
    return read_frame(
        engine,
        "incidents",
        columns=[
            "id",
            "external_id",
            "category_code",
            "occurred_at",
            "duplicate_of",
            "is_repeat_location",
            "geom",
        ],
        where="occurred_at >= :a AND occurred_at <= :b",
        params={"a": (t_min - window).to_pydatetime(), "b": (t_max + window).to_pydatetime()},
    )


def detect_links(
    new: gpd.GeoDataFrame,
    existing: gpd.GeoDataFrame,
    metric: District | None,
    *,
    duplicate_radius_m: float = 50.0,
    duplicate_window: pd.Timedelta = DUPLICATE_WINDOW,
    repeat_radius_m: float = 50.0,
    repeat_window: pd.Timedelta = REPEAT_WINDOW,
    repeat_min_reports: int = 3,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Duplicates and repeat locations over new rows plus existing ones (existing first).

    Returns ``(new_links, changed_existing)``: ``duplicate_of`` (primary's external id or None)
    and ``is_repeat_location`` for the new rows, and the existing rows whose values changed
    (``id, duplicate_of, is_repeat_location``).
    """
    # ids and categories stay Arrow-backed strings (no million Python str objects)
    ext = pd.concat(
        [existing["external_id"].astype("string"), new["external_id"].astype("string")],
        ignore_index=True,
    )
    category = pd.concat(
        [existing["category_code"].astype("string"), new["category_code"].astype("string")],
        ignore_index=True,
    )
    occurred = pd.Series(
        np.concatenate(
            [
                pd.to_datetime(existing["occurred_at"]).to_numpy().astype("M8[ns]"),
                pd.to_datetime(new["occurred_at"]).to_numpy().astype("M8[ns]"),
            ]
        )
    )
    geoms = np.concatenate([existing.geometry.to_numpy(), new.geometry.to_numpy()])
    lon, lat = shapely.get_x(geoms), shapely.get_y(geoms)
    if metric is not None:
        x, y = metric.metric(lon, lat)
    else:
        crs = local_metric_crs(gpd.GeoSeries(geoms, crs=4326))
        x, y = pyproj.Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)
    primary = link_duplicates(
        x,
        y,
        occurred,
        category,
        radius_m=duplicate_radius_m,
        window=duplicate_window,
    )
    repeat = flag_repeat_locations(
        x,
        y,
        occurred,
        category,
        radius_m=repeat_radius_m,
        window=repeat_window,
        min_reports=repeat_min_reports,
    )
    del x, y, lon, lat, geoms
    # the primary's external id, null for primaries and lone reports (a null index takes null)
    own = primary == np.arange(len(primary))
    dup_arr = pa.array(ext).take(pa.array(primary, mask=own))
    del ext
    k = len(existing)
    new_links = pd.DataFrame(
        {
            "duplicate_of": pd.array(dup_arr.slice(k), dtype=pd.StringDtype("pyarrow")),
            "is_repeat_location": repeat[k:],
        }
    )
    dup_old = dup_arr.slice(0, k).to_numpy(zero_copy_only=False).astype(object)
    old_dup = existing["duplicate_of"].to_numpy(dtype=object)
    # 0/1 floats with NaN on SpatiaLite, booleans on PostGIS: NaN/None read as "not flagged"
    old_rep = (
        pd.to_numeric(existing["is_repeat_location"], errors="coerce").fillna(0).to_numpy() != 0
    )
    changed = (
        pd.Series(old_dup, dtype=object).fillna("").to_numpy()
        != pd.Series(dup_old, dtype=object).fillna("").to_numpy()
    ) | (old_rep != repeat[:k])
    changed_existing = pd.DataFrame(
        {
            "id": existing["id"].to_numpy()[changed],
            # object, so a missing link stays None (not NaN) in the UPDATE
            "duplicate_of": pd.Series(dup_old[changed], dtype=object),
            "is_repeat_location": repeat[:k][changed],
        }
    )
    return new_links, changed_existing


def import_incidents(
    engine: Engine,
    source,
    *,
    name: str | None = None,
    imported_by: str = "cli",
    mapping: Mapping[str, str | None] | str | Path | None = None,
    columns: Mapping[str, str] | None = None,
    lon: str | None = None,
    lat: str | None = None,
    crs: str | int | None = None,
    tz: str = settings.DISTRICT_TZ,
    unknown: str = "reject",
    tolerance_m: float = 500.0,
    rejected_out: str | Path | None = None,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
    duplicate_radius_m: float = 50.0,
    duplicate_window: pd.Timedelta = DUPLICATE_WINDOW,
    repeat_radius_m: float = 50.0,
    repeat_window: pd.Timedelta = REPEAT_WINDOW,
    repeat_min_reports: int = 3,
    dry_run: bool = False,
) -> ImportResult:
    """Import an incident file in one transaction, every row accounted for.

    Parameters
    ----------
    source
        Path, bytes or file-like (``name`` gives the type for bytes): CSV (any delimiter;
        UTF-8, UTF-8 BOM, GBK/GB18030), Excel, GeoJSON, GeoPackage, Shapefile.
    mapping, columns, lon, lat
        Overrides of the detected columns: a dict ``{field: column}`` or a mapping file
        (YAML/JSON/CSV); ``columns`` and ``lon``/``lat`` are the CLI's ``--field`` and
        ``--lon/--lat``. Fields: ``TARGETS``.
    crs
        Coordinate system of the file's coordinates (``wgs84``, ``cgcs2000``, ``gcj02``,
        ``bd09``, EPSG code). Stored converted to WGS-84, the system in ``coord_crs``.
    tz
        Zone of times without an offset (default Asia/Shanghai).
    unknown
        ``"reject"`` or ``"unclassified"`` (see ``prepare_incidents``).
    tolerance_m
        Points farther outside the district (union of level-1 grids) are rejected.
    rejected_out
        CSV for the rejected rows (with ``row`` and ``reason``), UTF-8 with BOM (opens in Excel).
    progress
        ``progress(fraction 0-1, message)``, called between steps and during the write. An
        exception it raises aborts the import and leaves the database as it was.
    duplicate_radius_m, duplicate_window, repeat_radius_m, repeat_window, repeat_min_reports
        See ``link_duplicates`` and ``flag_repeat_locations``.
    dry_run
        Check every row and return the result (counts, reasons, CRS hint, links) without
        writing anything: no batch, no incidents, no rejected file (``batch_id`` stays None).

    Notes
    -----
    Memory: text columns stay in pandas' Arrow-backed string dtype from the read to the write
    (Python ``str`` objects are made only for one ``save_frame`` batch at a time), duplicate
    pairs are folded into a spanning forest as they are found, and freed Arrow/C-heap memory is
    handed back between steps (``gis.io.release_memory``). A 1,000,000-row CSV peaks at about
    1.1 GB RSS (``benchmarks/bench_intake.py``).
    """
    report = _progress(progress)
    report(0.0, "reading the file")
    table, info = read_source(source, name=name)
    release_memory()
    report(0.15, f"read {len(table):,} rows")
    detected = detect_columns(table.columns, table.head(500))
    overrides: dict[str, str | None] = {}
    if isinstance(mapping, str | Path):
        overrides.update(read_mapping_file(mapping))
    elif mapping:
        overrides.update(mapping)
    overrides.update(columns or {})
    if lon:
        overrides["lon"] = lon
    if lat:
        overrides["lat"] = lat
    cmap = detected.with_overrides(overrides, list(map(str, table.columns)))
    existing_ids, versions, aliases = _store_context(engine)
    current = versions[versions["valid_to"].isna()] if len(versions) else versions
    district = District.from_grids(current) if len(current) else None
    report(0.2, "checking rows")
    prep = prepare_incidents(
        table,
        cmap,
        crs=crs,
        tz=tz,
        now=now,
        aliases=aliases,
        unknown=unknown,
        district=district,
        tolerance_m=tolerance_m,
        existing_ids=existing_ids,
        name=info.name,
    )
    malformed = _malformed_rows(info)
    rejected = (
        pd.concat([prep.rejected, malformed], ignore_index=True)
        if len(malformed)
        else prep.rejected
    )
    accepted = prep.accepted
    del table
    release_memory()
    report(0.45, "assigning grids")
    lon_a, lat_a = (
        shapely.get_x(accepted.geometry.to_numpy()),
        shapely.get_y(accepted.geometry.to_numpy()),
    )
    grids, grid_note = assign_grids_in_force(lon_a, lat_a, accepted["occurred_at"], versions)
    for col in ("grid_code", "grid_l2", "grid_l1"):
        accepted[col] = grids[col].array
    snapped = int(grids["snapped"].sum())
    del grids
    release_memory()
    report(0.6, "linking duplicates and repeat locations")
    existing = (
        _nearby_existing(
            engine,
            accepted["occurred_at"].min(),
            accepted["occurred_at"].max(),
            max(repeat_window, duplicate_window),
        )
        if len(accepted) and len(existing_ids)
        else None
    )
    if existing is None:
        existing = gpd.GeoDataFrame(
            {
                "id": [],
                "external_id": [],
                "category_code": [],
                "occurred_at": [],
                "duplicate_of": [],
                "is_repeat_location": [],
            },
            geometry=[],
            crs=4326,
        )
    links, changed = (
        detect_links(
            accepted,
            existing,
            district,
            duplicate_radius_m=duplicate_radius_m,
            duplicate_window=duplicate_window,
            repeat_radius_m=repeat_radius_m,
            repeat_window=repeat_window,
            repeat_min_reports=repeat_min_reports,
        )
        if len(accepted)
        else (pd.DataFrame({"duplicate_of": [], "is_repeat_location": []}), pd.DataFrame())
    )
    accepted["duplicate_of"] = links["duplicate_of"].array
    accepted["is_repeat_location"] = links["is_repeat_location"].to_numpy(dtype=bool)
    release_memory()
    total = len(accepted) + len(rejected)
    result = ImportResult(
        total=total,
        imported=len(accepted),
        rejected=rejected,
        mapping=cmap,
        crs=prep.crs,
        crs_hint=prep.crs_hint,
        crs_check=prep.crs_check,
        unknown_categories=prep.unknown_categories,
        duplicates=int(pd.Series(links["duplicate_of"]).notna().sum()),
        repeat_locations=int(links["is_repeat_location"].sum()),
        snapped=snapped,
        grid_note=grid_note,
        notes=prep.notes,
        encoding=info.encoding,
        delimiter=info.delimiter,
        file_name=info.name,
    )
    if dry_run:
        report(1.0, "checked; nothing written")
        return result
    report(0.7, "writing")
    details = {
        "reasons": result.reasons.to_dict(),
        "crs": prep.crs,
        "crs_hint": prep.crs_hint,
        "mapping": dict(cmap),
        "unknown_categories": {str(k): int(v) for k, v in prep.unknown_categories.head(50).items()},
        "duplicates": result.duplicates,
        "repeat_locations": result.repeat_locations,
    }
    with engine.begin() as conn:
        batch = conn.execute(
            sa.text(
                "INSERT INTO import_batches (kind, file_name, imported_by, imported_at, total,"
                " imported, rejected, details) VALUES ('incidents', :f, :by, :at, :t, :i, :r, :d)"
            ),
            {
                "f": info.name,
                "by": imported_by,
                "at": datetime.now().replace(microsecond=0),
                "t": result.total,
                "i": result.imported,
                "r": result.rejected_count,
                "d": json.dumps(details, ensure_ascii=False, default=str),
            },
        )
        result.batch_id = batch.lastrowid if conn.dialect.name != "postgresql" else None
        if result.batch_id is None:
            result.batch_id = conn.execute(sa.text("SELECT max(id) FROM import_batches")).scalar()
        if len(changed):
            conn.execute(
                sa.text(
                    "UPDATE incidents SET duplicate_of = :d, is_repeat_location = :r WHERE id = :id"
                ),
                [
                    {"d": d, "r": bool(r), "id": int(i)}
                    for i, d, r in zip(
                        changed["id"],
                        changed["duplicate_of"],
                        changed["is_repeat_location"],
                        strict=True,
                    )
                ],
            )
        accepted = accepted.assign(batch_id=result.batch_id)
        save_frame(
            conn,
            "incidents",
            accepted,
            progress=lambda done, n: report(0.7 + 0.29 * done / max(n, 1), f"wrote {done:,} rows"),
        )
    report(1.0, "done")
    if rejected_out is not None and len(rejected):
        Path(rejected_out).parent.mkdir(parents=True, exist_ok=True)
        rejected.to_csv(rejected_out, index=False, encoding="utf-8-sig")
    return result


# --- preview -------------------------------------------------------------------------------------


@dataclass
class IntakePreview:
    """What ``detect`` saw in a file, for the Data page's preview and overrides."""

    file_name: str
    kind: str
    encoding: str | None
    delimiter: str | None
    row_count: int
    columns: list[str]
    mapping: ColumnMapping
    sample: pd.DataFrame = field(repr=False)
    crs_guess: str | None = None
    crs_why: str = ""
    unknown_categories: pd.Series = field(default_factory=lambda: pd.Series(dtype=int))
    malformed_rows: int = 0


def detect(
    source,
    *,
    name: str | None = None,
    mapping: Mapping[str, str | None] | str | Path | None = None,
    sample_rows: int = 20,
    engine: Engine | None = None,
    aliases: dict[str, str] | None = None,
) -> IntakePreview:
    """Read a file and say how it would be imported, without importing anything.

    Parameters
    ----------
    source, name
        As for ``import_incidents``.
    mapping
        Overrides to apply to the detected columns (dict or mapping file).
    engine
        When given, the store's grids are used to guess the coordinate system (the reading
        that puts most points inside the district) and its taxonomy for the category check.

    Returns
    -------
    IntakePreview
        ``mapping`` (with confidence and why), ``sample`` (first rows with the mapped fields),
        ``encoding``, ``delimiter``, ``row_count``, ``crs_guess`` + ``crs_why``, and the unknown
        category texts with their counts.
    """
    table, info = read_source(source, name=name)
    detected = detect_columns(table.columns, table.head(500))
    overrides = read_mapping_file(mapping) if isinstance(mapping, str | Path) else (mapping or {})
    cmap = detected.with_overrides(overrides, list(map(str, table.columns)))
    sample = (
        pd.DataFrame(table.drop(columns=[table.geometry.name]))
        if isinstance(table, gpd.GeoDataFrame)
        else table
    )
    sample = sample.head(sample_rows)
    district = None
    if engine is not None:
        _, versions, store_aliases = _store_context(engine)
        aliases = aliases or store_aliases
        current = versions[versions["valid_to"].isna()] if len(versions) else versions
        district = District.from_grids(current) if len(current) else None
    aliases = aliases if aliases is not None else read_category_aliases()
    unknown = pd.Series(dtype=int)
    if "category_code" in cmap:
        _, unknown = map_categories(table[cmap["category_code"]], aliases)
    guess, why = None, "no coordinates found"
    try:
        x, y, _, crs = _coordinates(table, cmap, None, info.name)
        ok = np.isfinite(x) & np.isfinite(y) & ~((x == 0) & (y == 0))
        x, y = x[ok], y[ok]
        if len(x) == 0:
            guess, why = None, "no usable coordinates"
        elif (np.abs(x) > 180).mean() > 0.5 or (np.abs(y) > 90).mean() > 0.5:
            guess, why = None, "projected coordinates (metres): give the EPSG code with --crs"
        elif district is not None:
            _, check = crs_hint(x, y, coords.WGS84, district, 0.0)
            best = min(check, key=check.get)
            guess = best if check[best] < check[coords.WGS84] - 0.05 else coords.WGS84
            shares = ", ".join(f"{k}: {1 - v:.0%}" for k, v in check.items())
            why = f"share of points inside the district read as {shares}"
        else:
            guess = crs
            why = (
                "geographic degrees; GCJ-02 and BD-09 cannot be told from WGS-84 without the "
                "district's grids"
            )
    except InputError:
        pass
    return IntakePreview(
        file_name=info.name,
        kind=info.kind,
        encoding=info.encoding,
        delimiter=info.delimiter,
        row_count=len(table) + (0 if info.malformed is None else len(info.malformed)),
        columns=list(map(str, table.columns)),
        mapping=cmap,
        sample=sample,
        crs_guess=guess,
        crs_why=why,
        unknown_categories=unknown,
        malformed_rows=0 if info.malformed is None else len(info.malformed),
    )


# --- export --------------------------------------------------------------------------------------


def export_incidents(
    frame: gpd.GeoDataFrame,
    path: str | Path,
    *,
    crs: str | int | None = None,
    lang: str | None = None,
    taxonomy: pd.DataFrame | None = None,
) -> Path:
    """Write incidents to CSV (lon/lat), Excel, GeoJSON or GeoPackage.

    Parameters
    ----------
    crs
        ``None``/``"wgs84"`` (default) or ``"gcj02"``/``"bd09"``/an EPSG code: the coordinates
        are converted on the way out (GeoJSON/GeoPackage then carry a note in ``coord_crs``;
        their declared CRS stays EPSG:4326 for the Chinese systems, which have no EPSG code).
    lang
        ``"zh"`` or ``"en"``: add ``category_name`` in that language (from ``taxonomy``).
    """
    cols = [c for c in STORE_COLUMNS if c in frame]
    out = frame[[*cols, frame.geometry.name]].copy()
    name = coords.normalize_crs(crs)
    if lang is not None:
        if lang not in ("zh", "en"):
            raise InputError(f"lang={lang!r}; use zh or en")
        from gis.taxonomy import read_taxonomy

        tax = read_taxonomy() if taxonomy is None else taxonomy
        names = tax.set_index("code")[f"name_{lang}"]
        pos = out.columns.get_loc("category_code") + 1 if "category_code" in out else 0
        out.insert(
            pos, "category_name", out.get("category_code", pd.Series(dtype=object)).map(names)
        )
    if name != coords.WGS84 and len(out):
        geoms = out.geometry.to_numpy()
        x, y = coords.from_wgs84(shapely.get_x(geoms), shapely.get_y(geoms), name)
        out = out.set_geometry(shapely.points(x, y))
        if name.startswith("EPSG:"):
            out = out.set_crs(name, allow_override=True)
        out["export_crs"] = name
    return write_geo_file(out, path)
