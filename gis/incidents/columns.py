"""Column detection: which file column holds each incident field (Chinese/English headers)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd
import yaml

from gis.core.errors import InputError
from gis.taxonomy import normalize_label

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
