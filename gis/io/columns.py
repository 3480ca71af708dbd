"""THE column guesser: which file column holds which field, for incidents, grids, tracks and
cases, from the Chinese and English header names real exports use.

A :class:`FieldSchema` lists, per field, exact header names (best first) and weaker keywords a
header may contain; :func:`detect_columns` applies one schema to a file's header and returns a
:class:`ColumnMapping` with a confidence and a reason per field. Headers are compared
NFKC-normalised (full-width to half-width), case-folded, with ``_ - . /`` as spaces.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from gis.core.errors import InputError

__all__ = [
    "CASE_FIELDS",
    "ColumnMapping",
    "FieldSchema",
    "GRID_FIELDS",
    "INCIDENT_FIELDS",
    "TRACK_FIELDS",
    "detect_columns",
    "normalize_header",
    "read_mapping_file",
]

# fmt: off
#: Exact header names per field, best first (compared case-folded, ``_ - .`` as spaces).
_INCIDENT_NAMES: dict[str, tuple[str, ...]] = {
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
_INCIDENT_KEYWORDS: dict[str, tuple[str, ...]] = {
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




_TRACK_NAMES: dict[str, tuple[str, ...]] = {
    "staff_code": (
        "staff code", "staff", "staff id", "person", "uid", "user", "user id", "device",
        "device id", "imei", "tracker", "id", "人员", "人员编号", "工号", "姓名", "设备", "设备号",
    ),
    "track_code": ("track code", "track", "track id", "trajectory id", "轨迹", "轨迹编号"),
    "t": (
        "t", "time", "datetime", "timestamp", "date time", "gps time", "fix time",
        "recorded at", "时间", "定位时间", "采集时间", "上报时间",
    ),
    "lon": ("lon", "lng", "long", "longitude", "x", "经度", "gps lon", "gcj lon"),
    "lat": ("lat", "latitude", "y", "纬度", "gps lat", "gcj lat"),
}

_GRID_NAMES: dict[str, tuple[str, ...]] = {
    "code": ("code", "编码", "网格编码", "网格代码", "grid code", "precinct"),
    "name": ("name", "名称", "网格名称", "grid name"),
    "parent_code": (
        "parent code", "parent", "上级编码", "上级网格", "上级网格编码", "父级编码", "parent grid",
        "ward",
    ),
    "level": ("level", "层级", "网格层级", "级别"),
}
_GRID_KEYWORDS: dict[str, tuple[str, ...]] = {
    "parent_code": ("上级", "父级", "parent"),
    "code": ("编码", "代码"),
    "level": ("层级",),
}

_CASE_NAMES: dict[str, tuple[str, ...]] = {
    "case_id": (
        "case id", "案件编号", "案卷编号", "工单编号", "工单号", "案卷号", "受理编号", "编号",
        "unique key", "service request id", "case enquiry id", "case number", "id",
    ),
    "reported_at": (
        "reported at", "上报时间", "受理时间", "投诉时间", "来电时间", "立案时间", "创建时间",
        "created date", "requested datetime", "open dt", "created at", "opened",
    ),
    "category": _INCIDENT_NAMES["category_code"],
    "department": (
        "department", "处置部门", "责任部门", "承办单位", "主办部门", "部门", "agency",
        "responsible department",
    ),
    "co_departments": ("co departments", "协办部门", "协办单位", "assisting departments"),
    "deadline": (
        "deadline", "处置时限", "办理时限", "截止时间", "应办结时间", "due date", "due",
        "target dt", "sla target",
    ),
    "closed_at": _INCIDENT_NAMES["closed_at"],
    # the steps between report and close a case history may carry (after closed_at: a file
    # with only 处置完成时间 has it as its close time)
    "accepted_at": ("accepted at", "受理时间", "签收时间"),
    "dispatched_at": ("dispatched at", "派遣时间", "派单时间", "转办时间"),
    "handled_at": ("handled at", "处置时间", "处置完成时间", "办理完成时间", "反馈时间"),
    "status": _INCIDENT_NAMES["status"],
    "source": _INCIDENT_NAMES["source"],
    "urgency": ("urgency", "紧急程度", "等级", "级别", "priority", "severity"),
    "grid_code": ("grid code", "网格编码", "网格", "所属网格", "grid"),
    "address": _INCIDENT_NAMES["address"],
    "description": _INCIDENT_NAMES["description"],
    "satisfaction": ("satisfaction", "满意度", "评价", "回访结果", "回访评价"),
    "lon": _INCIDENT_NAMES["lon"],
    "lat": _INCIDENT_NAMES["lat"],
}
_CASE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "case_id": ("编号", "单号"),
    "reported_at": ("上报", "受理", "创建"),
    "category": ("小类", "类型", "类别", "大类"),
    "department": ("部门", "单位"),
    "deadline": ("时限", "截止"),
    "closed_at": ("结案", "办结"),
    "lon": ("经度", "longitude"),
    "lat": ("纬度", "latitude"),
}
# fmt: on


@dataclass(frozen=True)
class FieldSchema:
    """The fields of one kind of file and how their headers are recognised.

    Attributes
    ----------
    kind
        What the file holds (``incident``, ``grid``, ``track``, ``case``), for messages.
    names
        Per field, exact header names, best first (already normalised: lower case, spaces).
    keywords
        Per field, words a header may contain (weaker evidence).
    numeric
        Fields whose sample values must be mostly numbers (coordinates).
    aliases
        Other names a person may use for a field in an override (``time`` for ``occurred_at``).
    shared
        Pairs of fields that may map to the same column (a report time that is also the
        occurrence time).
    """

    kind: str
    names: Mapping[str, tuple[str, ...]]
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    numeric: frozenset[str] = frozenset({"lon", "lat"})
    aliases: Mapping[str, str] = field(default_factory=dict)
    shared: frozenset[frozenset[str]] = frozenset()

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field of the schema, in order."""
        return tuple(self.names)

    def canonical(self, name: str) -> str:
        """The field a person's name for it stands for (aliases resolved)."""
        name = str(name).strip()
        return self.aliases.get(name, name)


INCIDENT_FIELDS = FieldSchema(
    "incident",
    _INCIDENT_NAMES,
    _INCIDENT_KEYWORDS,
    aliases={
        "category": "category_code",
        "id": "external_id",
        "time": "occurred_at",
        "lng": "lon",
        "x": "lon",
        "longitude": "lon",
        "y": "lat",
        "latitude": "lat",
    },
    shared=frozenset({frozenset({"occurred_at", "reported_at"})}),
)
GRID_FIELDS = FieldSchema(
    "grid", _GRID_NAMES, _GRID_KEYWORDS, numeric=frozenset(), aliases={"parent": "parent_code"}
)
TRACK_FIELDS = FieldSchema(
    "track",
    _TRACK_NAMES,
    {"lon": ("经度",), "lat": ("纬度",), "t": ("时间",)},
    aliases={"time": "t", "staff": "staff_code", "track": "track_code", "lng": "lon"},
)
CASE_FIELDS = FieldSchema(
    "case",
    _CASE_NAMES,
    _CASE_KEYWORDS,
    aliases={"id": "case_id", "time": "reported_at", "category_code": "category", "lng": "lon"},
)


def normalize_header(name: object) -> str:
    """A header as compared: NFKC, case-folded, ``_ - . /`` and runs of space as one space."""
    text = unicodedata.normalize("NFKC", str(name)).casefold()
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
        schema: FieldSchema | None = None,
    ):
        self._columns = dict(columns)
        self.confidence = dict(confidence or {k: 1.0 for k in self._columns})
        self.why = dict(why or {k: "given" for k in self._columns})
        self.schema = schema or INCIDENT_FIELDS

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
        the file raises ``InputError``. Field names accept the schema's aliases (``category``,
        ``id``, ``time``, ``lng``/``x``, ``y`` for incidents).
        """
        schema = self.schema
        out = dict(self._columns)
        conf, why = dict(self.confidence), dict(self.why)
        for raw_target, source in (overrides or {}).items():
            target = schema.canonical(raw_target)
            if target not in schema.names:
                raise InputError(
                    f"unknown {schema.kind} field {raw_target!r}; one of {', '.join(schema.fields)}"
                )
            if source is None or str(source).strip() == "":
                for d in (out, conf, why):
                    d.pop(target, None)
                continue
            source = str(source).strip()
            if columns is not None and source not in columns:
                raise InputError(f"column {source!r} (for {target}) is not in the file")
            for other in [k for k, v in out.items() if v == source and k != target]:
                if frozenset({other, target}) not in schema.shared:
                    for d in (out, conf, why):
                        d.pop(other, None)
            out[target], conf[target], why[target] = source, 1.0, "given"
        return ColumnMapping(out, conf, why, schema)

    def to_frame(self) -> pd.DataFrame:
        """One row per field: ``field, column, confidence, why`` (for the preview table)."""
        rows = [(k, v, self.confidence.get(k, 1.0), self.why.get(k, "")) for k, v in self.items()]
        return pd.DataFrame(rows, columns=["field", "column", "confidence", "why"])

    def describe(self) -> list[str]:
        """``field <- 'column' (why)`` lines."""
        return [f"{k:<12} <- {v!r} ({self.why.get(k, '')})" for k, v in self.items()]


def detect_columns(
    columns, sample: pd.DataFrame | None = None, schema: FieldSchema = INCIDENT_FIELDS
) -> ColumnMapping:
    """Detect which file column holds each field of ``schema`` from common Chinese/English names.

    Exact header names first (``经度``, ``lon``, ``上报时间``, ``Complaint Type``, ``上级编码`` ...),
    then headers containing a keyword (``事件发生时间`` ...); a column is used for one field only
    (except the schema's ``shared`` pairs, such as a report time that is also the occurrence
    time). With ``sample`` rows, candidates for numeric fields (coordinates) whose values are
    mostly not numbers are dropped.

    Parameters
    ----------
    columns
        The file's header.
    sample
        A few rows of the file (optional), to check numeric fields.
    schema
        :data:`INCIDENT_FIELDS` (default), :data:`GRID_FIELDS`, :data:`TRACK_FIELDS` or
        :data:`CASE_FIELDS`.
    """
    cols = [str(c) for c in columns]
    normed = {c: normalize_header(c) for c in cols}
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
        return not (target in schema.numeric and numeric_share(col) < 0.5)

    for target, names in schema.names.items():
        for name in names:
            hits = [c for c in cols if normed[c] == name and c not in used and ok(target, c)]
            if hits:
                found[target], conf[target] = hits[0], 0.9
                why[target] = f"header {hits[0]!r} is a known name for {target}"
                used.add(hits[0])
                break
    for target, words in schema.keywords.items():
        if target in found:
            continue
        for word in words:
            hits = [c for c in cols if word in normed[c] and c not in used and ok(target, c)]
            if hits:
                found[target], conf[target] = hits[0], 0.6
                why[target] = f"header {hits[0]!r} contains {word!r}"
                used.add(hits[0])
                break
    return ColumnMapping(found, conf, why, schema)


def read_mapping_file(path: str | Path) -> dict[str, str | None]:
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
