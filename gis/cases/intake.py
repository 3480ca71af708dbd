"""Import case histories from the systems a district already runs, every row accounted for.

数字城管 and 12345 exports, NYC/Boston-style 311 files: one row per case with its id, report
time, category, department, deadline, close time, coordinates or grid code ... Each row becomes
a case with the transitions its times tell (上报 → 受理 → 立案 → 派遣 → 处置 → 核查 → 结案, and
回访评价 when the file has a satisfaction value; 不予受理/作废 when its status says so), and the
case's incident is created or, when an incident with the case id exists, linked.

Rules
-----
- Columns are found by THE column guesser (``gis.io.columns.detect_columns`` with
  ``CASE_FIELDS``); ``mapping``/``columns`` override it.
- An explicit deadline column wins over the category's limit: with one, the file is the
  authority and a row with an empty deadline has none (``fill_deadlines=True`` gives such rows
  the limit); without one, every case gets its category's limit (``data/case_limits.csv``, by
  urgency, counted from 立案 on the working calendar).
- A category the alias table does not know is imported as unclassified (99-99, no limit) with
  its text kept in ``category_raw``.
- Rejections (first failing check wins): malformed CSV row; case id repeated in the file; case
  already in the store; missing or unreadable report time; report time in the future; no
  coordinates and no grid code; coordinates not numbers / out of range; unknown grid code;
  outside every grid; close time unreadable or before the report; deadline unreadable; status
  says closed without a close time.
- ``imported + rejected = total``; importing the same file again adds nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from gis.cases.calendar import WorkCalendar
from gis.cases.clocks import deadlines
from gis.cases.facts import case_facts
from gis.cases.limits import limits_for, normalize_urgency, read_case_limits
from gis.cases.locate import locate_cases, store_case_incidents
from gis.cases.routing import STREET_TEAM, TEAM_NAMES
from gis.core import coords, settings
from gis.core.errors import InputError
from gis.core.times import parse_times
from gis.io import accounting_line, read_source, write_table
from gis.io.columns import CASE_FIELDS, ColumnMapping, detect_columns, read_mapping_file
from gis.store import cases as case_store
from gis.store.batches import record_import_batch
from gis.store.frames import read_frame
from gis.taxonomy import (
    UNCLASSIFIED,
    map_categories,
    normalize_label,
    read_category_aliases,
    read_departments,
)

#: the fields of a case history row (THE column guesser's case schema)
CASE_TARGETS = CASE_FIELDS.fields
_REFUSED = re.compile(r"不予受理|不受理|退件|rejected|refused|not accepted|invalid", re.I)
_VOIDED = re.compile(r"作废|撤销|撤件|void|cancel|duplicate|重复", re.I)
_CLOSED = re.compile(r"结案|办结|已关闭|^closed$|^resolved$|^completed$", re.I)
_FUTURE = pd.Timedelta(minutes=10)


def detect_case_columns(columns, sample: pd.DataFrame | None = None) -> ColumnMapping:
    """``{case field: file column}`` guessed from the headers (``detect_columns`` with
    ``CASE_FIELDS``: 案件编号, 上报时间, 受理时间, 处置时限, 网格编码, 满意度, Due Date ...)."""
    return detect_columns(columns, sample, schema=CASE_FIELDS)


@dataclass
class CaseImportResult:
    """What an import of case histories did; ``total = imported + len(rejected)``."""

    total: int
    imported: int
    rejected: pd.DataFrame = field(repr=False)
    mapping: dict[str, str] = field(default_factory=dict)
    batch_id: int | None = None
    transitions: int = 0
    incidents_created: int = 0
    incidents_linked: int = 0
    deadlines_from_file: int = 0
    deadlines_from_limits: int = 0
    unclassified: int = 0
    file_name: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def reasons(self) -> pd.Series:
        """Rejected rows per reason, largest first."""
        if not len(self.rejected):
            return pd.Series(dtype=int)
        return self.rejected["reason"].value_counts()

    def summary_line(self) -> str:
        """``N imported + M rejected = T total (reason: count; ...)``."""
        return accounting_line(self.imported, self.rejected, self.total)


def _text(table: pd.DataFrame, mapping: dict[str, str], name: str) -> pd.Series:
    if name not in mapping:
        return pd.Series(pd.NA, index=table.index, dtype="string")
    s = table[mapping[name]].astype("string").str.strip()
    return s.mask(s == "")


def _times(table, mapping, name, tz) -> tuple[pd.Series, pd.Series]:
    """Parsed times and a mask of text that is present but unreadable."""
    text = _text(table, mapping, name)
    if text.notna().any():
        parsed = parse_times(text, source_tz=tz)
    else:
        parsed = pd.Series(pd.NaT, index=text.index)
    parsed = pd.Series(parsed.to_numpy(dtype="datetime64[ns]"), index=text.index)
    return parsed, text.notna() & parsed.isna()


def _department_codes(raw: pd.Series) -> pd.Series:
    """Department text as a department code where the name or code is known, else as written."""
    deps = read_departments()
    known: dict[str, str] = {}
    for col in ("code", "name_zh", "name_en"):
        for key, code in zip(normalize_label(deps[col]), deps["code"], strict=True):
            known.setdefault(key, code)
    for code, (zh, en) in TEAM_NAMES.items():
        for word in (code, zh, en):
            known[normalize_label(word)] = code
    keys = normalize_label(raw.fillna(""))
    mapped = keys.map(known)
    return mapped.where(mapped.notna(), raw).astype(object).where(raw.notna(), None)


def _satisfaction(raw: pd.Series) -> pd.Series:
    text = raw.fillna("").astype(str).str.lower()
    out = pd.Series(None, index=raw.index, dtype=object)
    out[text.str.contains("满意|satisf", regex=True)] = "satisfied"
    out[text.str.contains("基本满意|basically|fairly", regex=True)] = "basically_satisfied"
    out[text.str.contains("不满意|unsatisf|dissatisf|not satisf", regex=True)] = "unsatisfied"
    return out


def _reject(reason: pd.Series, mask, why: str) -> None:
    m = np.asarray(mask, dtype=bool) & (reason == "").to_numpy()
    reason[m] = why


def import_cases(
    engine: Engine,
    source,
    *,
    name: str | None = None,
    mapping: dict[str, str | None] | str | Path | None = None,
    columns: dict[str, str] | None = None,
    crs: str | None = None,
    tz: str = settings.DISTRICT_TZ,
    imported_by: str = "cli",
    calendar: WorkCalendar | None = None,
    outside: str = "reject",
    fill_deadlines: bool = False,
    rejected_out: str | Path | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> CaseImportResult:
    """Import a file of case histories in one transaction.

    Parameters
    ----------
    source
        Path, bytes or file-like (CSV of any delimiter/encoding, Excel; ``name`` gives the type).
    mapping, columns
        Overrides of the guessed columns: ``{case field: file column}`` (``CASE_TARGETS``; None
        removes a field) or a mapping file; ``columns`` are the CLI's ``--field`` pairs.
    crs
        Coordinates' system: ``wgs84`` (default), ``cgcs2000``, ``gcj02``, ``bd09`` or EPSG.
    tz
        Zone of the file's times without an offset (stored as the district's wall clock).
    calendar
        Working calendar for the category limits (default ``data/calendar.csv``).
    outside
        ``reject`` (default) or ``keep`` points outside every grid of the store (a store without
        grids keeps every point).
    fill_deadlines
        With a deadline column, give rows whose deadline is empty their category's limit.
    dry_run
        Check every row and count, write nothing.

    Returns
    -------
    CaseImportResult
    """
    table, info = read_source(source, name=name)
    if isinstance(table, gpd.GeoDataFrame):
        geo = table.geometry.to_numpy()
        table = pd.DataFrame(table.drop(columns=table.geometry.name)).astype("string")
        table["__lon"] = pd.Series(gpd.GeoSeries(geo).x.to_numpy(), index=table.index)
        table["__lat"] = pd.Series(gpd.GeoSeries(geo).y.to_numpy(), index=table.index)
    detected = detect_case_columns(table.columns, table.head(500))
    overrides: dict[str, str | None] = {}
    if "__lon" in table:
        overrides.update(lon="__lon", lat="__lat")
    if isinstance(mapping, str | Path):
        overrides.update(read_mapping_file(mapping))
    elif mapping:
        overrides.update(mapping)
    overrides.update(columns or {})
    cmap = dict(detected.with_overrides(overrides, [str(c) for c in table.columns]))
    if "reported_at" not in cmap:
        raise InputError(
            f"{info.name}: no report time column (上报时间, reported_at, Created Date ...); "
            "map one with --field reported_at=COLUMN"
        )
    now = pd.Timestamp(now or datetime.now())
    n = len(table)
    reason = pd.Series("", index=table.index, dtype=object)
    ids = _text(table, cmap, "case_id")
    content = pd.util.hash_pandas_object(table.astype("string").fillna(""), index=False)
    ids = ids.fillna(pd.Series([f"H{v:016x}" for v in content], index=table.index))
    _reject(reason, ids.duplicated(keep="first"), "case id repeated in the file")
    existing = case_store.case_ids_by_code(engine, ids.dropna().astype(str))
    _reject(reason, ids.isin(list(existing)), "case already in the store")
    reported, bad_reported = _times(table, cmap, "reported_at", tz)
    _reject(reason, reported.isna(), "missing or unreadable report time")
    _reject(reason, reported > now + _FUTURE, "report time in the future")
    lon_t, lat_t = _text(table, cmap, "lon"), _text(table, cmap, "lat")
    grid_named = _text(table, cmap, "grid_code")
    x = pd.to_numeric(lon_t, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    y = pd.to_numeric(lat_t, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    no_point = (lon_t.isna() | lat_t.isna()).to_numpy()
    _reject(reason, no_point & grid_named.isna().to_numpy(), "no coordinates and no grid code")
    bad_xy = ~no_point & ~(np.isfinite(x) & np.isfinite(y))
    _reject(reason, bad_xy, "coordinates are not numbers")
    if (~no_point & ~bad_xy).any():
        ok = ~no_point & ~bad_xy
        x[ok], y[ok] = coords.to_wgs84(x[ok], y[ok], crs)
    out_of_range = (
        ~no_point & ~bad_xy & ((np.abs(x) > 180) | (np.abs(y) > 90) | ((x == 0) & (y == 0)))
    )
    _reject(reason, out_of_range, "coordinates out of range")
    use_point = ~no_point & ~bad_xy & ~out_of_range
    versions = read_frame(engine, "grids")
    where = locate_cases(
        np.where(use_point, x, np.nan),
        np.where(use_point, y, np.nan),
        grid_named.astype(object).where(grid_named.notna(), None),
        reported,
        versions,
    )
    where.index = table.index
    _reject(reason, where["located"] == "unknown_grid", "unknown grid code")
    if outside == "reject":
        _reject(reason, where["located"] == "outside", "outside every grid")
    closed, bad_closed = _times(table, cmap, "closed_at", tz)
    _reject(reason, bad_closed, "unreadable close time")
    _reject(reason, closed < reported, "closed before reported")
    due, bad_due = _times(table, cmap, "deadline", tz)
    _reject(reason, bad_due, "unreadable deadline")
    status = _text(table, cmap, "status")
    says_closed = status.fillna("").str.contains(_CLOSED, regex=True)
    _reject(reason, says_closed & closed.isna(), "status says closed but no close time")
    rejected = pd.DataFrame(table.loc[reason != ""]).drop(
        columns=["__lon", "__lat"], errors="ignore"
    )
    rejected.insert(0, "row", np.flatnonzero((reason != "").to_numpy()) + 1)
    rejected["reason"] = reason[reason != ""].to_numpy()
    if info.malformed is not None and len(info.malformed):
        bad = info.malformed.rename(columns={"line": "row"})[["row"]].copy()
        bad["reason"] = "malformed CSV row"
        rejected = pd.concat([rejected, bad], ignore_index=True)
    keep = (reason == "").to_numpy()
    result = CaseImportResult(
        total=n + (0 if info.malformed is None else len(info.malformed)),
        imported=int(keep.sum()),
        rejected=rejected.reset_index(drop=True),
        mapping=dict(cmap),
        file_name=info.name,
    )
    fill = fill_deadlines or "deadline" not in cmap
    rows = _prepare_rows(table, cmap, keep, ids, reported, closed, due, where, tz, calendar, fill)
    result.deadlines_from_file = int(rows.pop("_due_from_file").sum())
    result.deadlines_from_limits = int(rows["deadline"].notna().sum()) - result.deadlines_from_file
    result.unclassified = int((rows["category_code"] == UNCLASSIFIED).sum())
    steps = _transitions(rows, imported_by)
    result.transitions = len(steps)
    if rejected_out is not None and len(result.rejected) and not dry_run:
        write_table(result.rejected, rejected_out)
    if dry_run or result.imported == 0:
        if result.imported == 0 and not dry_run:
            result.notes.append("nothing to import")
        return result
    _write(engine, result, rows, steps, imported_by)
    return result


def _prepare_rows(table, cmap, keep, ids, reported, closed, due, where, tz, calendar, fill):
    """The accepted rows as one frame of case facts (times, codes, deadline)."""
    t = table.loc[keep]
    raw_cat = _text(t, cmap, "category")
    codes, _ = map_categories(raw_cat, read_category_aliases())
    category = codes.astype(object).where(codes.notna(), UNCLASSIFIED)
    urgency = normalize_urgency(_text(t, cmap, "urgency"))
    accepted, _ = _times(t, cmap, "accepted_at", tz)
    dispatched, _ = _times(t, cmap, "dispatched_at", tz)
    handled, _ = _times(t, cmap, "handled_at", tz)
    rows = pd.DataFrame(
        {
            "case_code": ids[keep].astype(str).to_numpy(dtype=object),
            "category_code": category.to_numpy(dtype=object),
            "category_raw": raw_cat.astype(object).to_numpy(),
            "urgency": urgency.to_numpy(dtype=object),
            "source": _text(t, cmap, "source").astype(object).to_numpy(),
            "department": _department_codes(_text(t, cmap, "department")).to_numpy(dtype=object),
            "co_departments": _text(t, cmap, "co_departments").astype(object).to_numpy(),
            "status": _text(t, cmap, "status").astype(object).to_numpy(),
            "address": _text(t, cmap, "address").astype(object).to_numpy(),
            "description": _text(t, cmap, "description").astype(object).to_numpy(),
            "satisfaction": _satisfaction(_text(t, cmap, "satisfaction")).to_numpy(dtype=object),
            "reported_at": reported[keep].to_numpy(),
            "accepted_at": accepted.to_numpy(),
            "dispatched_at": dispatched.to_numpy(),
            "handled_at": handled.to_numpy(),
            "closed_at": closed[keep].to_numpy(),
        }
    )
    for col in ("source", "co_departments", "status", "address", "description", "category_raw"):
        rows[col] = rows[col].where(pd.notna(rows[col]), None)
    loc = where.loc[keep].reset_index(drop=True)
    for col in ("grid_code", "grid_version", "grid_l2", "grid_l1", "lon", "lat", "located"):
        rows[col] = loc[col].to_numpy()
    limit = limits_for(rows["category_code"], rows["urgency"], table=read_case_limits())
    rows["limit_value"] = limit["limit_value"].to_numpy()
    rows["limit_type"] = limit["limit_type"].where(limit["limit_type"].notna(), None).to_numpy()
    registered = rows["accepted_at"].fillna(rows["reported_at"])
    from_limit = deadlines(
        registered, rows["limit_value"], rows["limit_type"].fillna("work_hour"), calendar=calendar
    )
    explicit = due[keep].to_numpy(dtype="datetime64[ns]")
    rows["_due_from_file"] = ~np.isnat(explicit)
    fallback = from_limit if fill else np.full(len(rows), np.datetime64("NaT"), "datetime64[ns]")
    rows["deadline"] = np.where(np.isnat(explicit), fallback, explicit)
    return rows


def _transitions(rows: pd.DataFrame, imported_by: str) -> pd.DataFrame:
    """The steps each row's times tell, ``pos`` (row position) + transition columns."""
    n = len(rows)
    status = rows["status"].fillna("").astype(str)
    refused = status.str.contains(_REFUSED, regex=True).to_numpy()
    voided = status.str.contains(_VOIDED, regex=True).to_numpy() & ~refused
    ends = refused | voided
    closed = rows["closed_at"].notna().to_numpy()
    has_dept = rows["department"].notna().to_numpy()
    handled = closed | rows["handled_at"].notna().to_numpy()
    live = ~ends
    rep = rows["reported_at"].to_numpy(dtype="datetime64[ns]")
    acc = rows["accepted_at"].fillna(rows["reported_at"]).to_numpy(dtype="datetime64[ns]")
    disp = rows["dispatched_at"].fillna(pd.Series(acc)).to_numpy(dtype="datetime64[ns]")
    clo = rows["closed_at"].to_numpy(dtype="datetime64[ns]")
    hand = rows["handled_at"].fillna(rows["closed_at"]).to_numpy(dtype="datetime64[ns]")
    evaluated = closed & rows["satisfaction"].notna().to_numpy()
    # (action, to_state, present mask, time)
    plan = [
        ("report", "reported", np.ones(n, bool), rep),
        ("refuse", "rejected", refused, acc),
        ("void", "voided", voided, acc),
        ("accept", "accepted", live, acc),
        ("register", "registered", live, acc),
        ("dispatch", "dispatched", live & (has_dept | handled), disp),
        ("handle", "handled", live & handled, hand),
        ("verify", "verified", live & closed, clo),
        ("close", "closed", live & closed, clo),
        ("evaluate", "evaluated", live & evaluated, clo),
    ]
    times = np.stack([p[3].astype(np.int64) for p in plan], axis=1)
    present = np.stack([p[2] for p in plan], axis=1)
    times = np.where(present, times, np.iinfo(np.int64).min)
    times = np.maximum.accumulate(times, axis=1)  # never back in time along the steps
    pos, k = np.nonzero(present)
    actions = np.array([p[0] for p in plan], dtype=object)[k]
    to_state = np.array([p[1] for p in plan], dtype=object)[k]
    steps = pd.DataFrame(
        {
            "pos": pos,
            "seq": pd.Series(pos).groupby(pos).cumcount().to_numpy() + 1,
            "action": actions,
            "to_state": to_state,
            "at": times[pos, k].astype("datetime64[ns]"),
        }
    )
    steps["from_state"] = steps.groupby("pos")["to_state"].shift(1).astype(object)
    steps["from_state"] = steps["from_state"].where(steps["from_state"].notna(), None)
    steps["actor"] = f"import ({imported_by})"
    dept = rows["department"].to_numpy(dtype=object)[pos]
    is_dispatch = actions == "dispatch"
    steps["department"] = np.where(is_dispatch, dept, None)
    steps["assignee"] = None
    steps["level"] = pd.array(np.where(is_dispatch, 1, None), dtype="Int64")
    kind = np.where(dept == STREET_TEAM, "street_team", "department")
    steps["target_kind"] = np.where(is_dispatch & pd.notna(dept), kind, None)
    deadline = rows["deadline"].to_numpy(dtype="datetime64[ns]")[pos]
    steps["deadline"] = np.where(actions == "register", deadline, np.datetime64("NaT"))
    on_time = times[pos, k] <= deadline.astype(np.int64)
    close_result = np.where(np.isnat(deadline), "no_limit", np.where(on_time, "on_time", "overdue"))
    sat = rows["satisfaction"].to_numpy(dtype=object)[pos]
    steps["result"] = np.select(
        [actions == "close", actions == "evaluate"], [close_result, sat], default=None
    )
    steps["result"] = steps["result"].where(steps["result"].notna(), None)
    status_text = rows["status"].to_numpy(dtype=object)[pos]
    steps["reason"] = np.where(np.isin(actions, ["refuse", "void"]), status_text, None)
    return steps


def _write(engine, result: CaseImportResult, rows, steps, imported_by: str) -> None:
    """Batch, incidents, cases, transitions: one transaction."""
    facts = case_facts(steps.rename(columns={"pos": "case_id"}))
    details = {
        "reasons": {str(k): int(v) for k, v in result.reasons.items()},
        "mapping": result.mapping,
        "transitions": result.transitions,
    }
    with engine.begin() as conn:
        batch = record_import_batch(
            conn,
            kind="cases",
            file_name=result.file_name,
            imported_by=imported_by,
            total=result.total,
            imported=result.imported,
            rejected=len(result.rejected),
            details=details,
        )
        result.batch_id = batch
        linked = case_store.incident_ids_by_external_id(conn, rows["case_code"])
        new = ~rows["case_code"].isin(list(linked)).to_numpy()
        incidents = gpd.GeoDataFrame(
            {
                "external_id": rows["case_code"],
                "category_code": rows["category_code"],
                "category_raw": rows["category_raw"],
                "source": rows["source"],
                "status": np.where(rows["closed_at"].notna(), "closed", "open").astype(object),
                "severity": rows["urgency"],
                "occurred_at": rows["reported_at"],
                "reported_at": rows["reported_at"],
                "closed_at": rows["closed_at"],
                "department": rows["department"],
                "address": rows["address"],
                "description": rows["description"],
                "grid_code": rows["grid_code"],
                "grid_l2": rows["grid_l2"],
                "grid_l1": rows["grid_l1"],
                "coord_crs": np.where(rows["located"] == "grid", "grid", "wgs84").astype(object),
                "batch_id": batch,
            },
            geometry=gpd.points_from_xy(rows["lon"], rows["lat"]),
            crs=4326,
        )[new]
        store_case_incidents(conn, incidents)
        incident_ids = case_store.incident_ids_by_external_id(conn, rows["case_code"])
        result.incidents_created, result.incidents_linked = int(new.sum()), int((~new).sum())
        cases = rows[["case_code", "source", "category_code", "category_raw", "urgency"]].copy()
        cases["incident_id"] = rows["case_code"].map(incident_ids).astype("Int64")
        for col in ("grid_code", "grid_version", "grid_l2", "grid_l1", "co_departments"):
            cases[col] = rows[col]
        cases["grid_version"] = pd.array(cases["grid_version"], dtype="Int64")
        cases["limit_value"] = rows["limit_value"]
        cases["limit_type"] = rows["limit_type"]
        cases["description"] = rows["description"]
        cases["batch_id"] = batch
        view = facts.reset_index(drop=True)
        for col in case_store.VIEW_COLUMNS:
            cases[col] = view[col].to_numpy()
        cases["satisfied"] = view["satisfied"].astype(object).where(view["satisfied"].notna(), None)
        ids = case_store.insert_cases(conn, cases)
        steps = steps.assign(case_id=ids[steps["pos"].to_numpy()]).drop(columns=["pos"])
        case_store.insert_transitions(conn, steps)


__all__ = ["CASE_TARGETS", "CaseImportResult", "detect_case_columns", "import_cases"]
