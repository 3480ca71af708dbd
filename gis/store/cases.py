"""Store access for cases (``cases``) and their transitions (``case_transitions``).

The transitions are the truth; the ``cases`` row holds the static facts of the report and a stored
view of the transitions (state, version, the times metrics need), written in the same
transaction as each transition. ``write_transition`` is the optimistic lock: it moves a case
from the version the actor saw to the next one, or writes nothing.

The view's times are stored as integer microseconds (``*_us`` columns, see ``models.Case``);
every function here takes and returns them as datetimes under their logical names
(``VIEW_COLUMNS``: ``reported_at``, ``closed_at``, ``deadline`` ...).

``metric_counts`` is the assessment query: one pass over ``cases`` per period, with a look at
the transitions only for the few cases whose state at the period's end differs from the stored
view (dispatched again or suspended after it). SQL for cases lives here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gis.core.errors import InputError
from gis.store import models
from gis.store.frames import read_frame, save_frame, typed_text

CASES = models.Case.__table__
TRANSITIONS = models.CaseTransition.__table__
#: the stored view of the transitions on each ``cases`` row
VIEW_COLUMNS = (
    "state",
    "version",
    "reported_at",
    "accepted_at",
    "first_dispatch_at",
    "last_dispatch_at",
    "department",
    "assignee",
    "deadline",
    "closed_at",
    "ended_at",
    "first_suspend_at",
    "first_rework_at",
    "first_extension_at",
    "first_return_at",
    "evaluated_at",
    "satisfied",
    "supervised_at",
    "supervision_reply_at",
    "updated_at",
)
#: logical time column of the view -> stored integer-microsecond column
TIME_COLUMNS = {
    "reported_at": "reported_us",
    "accepted_at": "accepted_us",
    "first_dispatch_at": "first_dispatch_us",
    "last_dispatch_at": "last_dispatch_us",
    "deadline": "deadline_us",
    "closed_at": "closed_us",
    "ended_at": "ended_us",
    "first_suspend_at": "first_suspend_us",
    "first_rework_at": "first_rework_us",
    "first_extension_at": "first_extension_us",
    "first_return_at": "first_return_us",
    "evaluated_at": "evaluated_us",
    "supervised_at": "supervised_us",
    "supervision_reply_at": "supervision_reply_us",
    "updated_at": "updated_us",
}
_LOGICAL = {v: k for k, v in TIME_COLUMNS.items()}
#: what ``metric_counts`` may group by: the unit expression's name -> column of ``cases``
GROUP_COLUMNS = {
    "category": "category_code",
    "grid:micro": "grid_code",
    "grid:l2": "grid_l2",
    "grid:l1": "grid_l1",
    "source": "source",
    "urgency": "urgency",
}
#: the counts ``metric_counts`` returns per unit
COUNT_COLUMNS = (
    "reported",
    "accepted",
    "closed",
    "closed_on_time",
    "overdue_open",
    "open_at_end",
    "reworked",
    "extended",
    "returned",
    "evaluated",
    "satisfied",
    "handle_hours_sum",
)
_EARLIEST = datetime(1900, 1, 1)


def _conn(engine_or_conn: Engine | Connection):
    """A context manager yielding a connection (a new one for an engine)."""
    if isinstance(engine_or_conn, Engine):
        return engine_or_conn.connect()
    return _Borrowed(engine_or_conn)


class _Borrowed:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def __enter__(self) -> Connection:
        return self.conn

    def __exit__(self, *exc) -> None:
        return None


# --- datetimes <-> stored microseconds --------------------------------------------------------


def to_us(value) -> int | None:
    """A naive datetime as integer microseconds from 1970-01-01 (None for a missing time)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return int(pd.Timestamp(value).value // 1000)


def from_us(value) -> datetime | None:
    """Integer microseconds back to a naive datetime (None for NULL)."""
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(int(value), unit="us").to_pydatetime()


def _stored(values: dict) -> dict:
    out = {}
    for key, value in values.items():
        if key in TIME_COLUMNS:
            out[TIME_COLUMNS[key]] = to_us(value)
        elif key == "satisfied" and value is not None and not pd.isna(value):
            out[key] = bool(value)
        else:
            out[key] = (
                None
                if value is not None and not isinstance(value, str) and pd.isna(value)
                else value
            )
    return out


def _logical(row: dict) -> dict:
    out = {}
    for key, value in row.items():
        if key in _LOGICAL:
            out[_LOGICAL[key]] = from_us(value)
        else:
            out[key] = value
    return out


def _stored_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for logical, column in TIME_COLUMNS.items():
        if logical in out:
            ts = pd.to_datetime(out.pop(logical)).astype("datetime64[us]")
            values = ts.to_numpy().astype(np.int64)
            out[column] = pd.array(np.where(ts.isna(), None, values), dtype="Int64")
    return out


def _logical_frame(frame: pd.DataFrame) -> pd.DataFrame:
    for column, logical in _LOGICAL.items():
        if column in frame:
            values = pd.to_numeric(frame.pop(column)).astype("Int64")
            us = values.to_numpy(dtype="int64", na_value=np.iinfo(np.int64).min)
            ts = np.where(values.isna(), np.datetime64("NaT"), us.astype("datetime64[us]"))
            frame[logical] = pd.Series(ts.astype("datetime64[ns]"), index=frame.index)
    return frame


# --- reading ---------------------------------------------------------------------------------


def read_case(engine_or_conn: Engine | Connection, key: int | str) -> dict | None:
    """The ``cases`` row of a case id (int) or case code (str) as a dict, or None."""
    column = CASES.c.id if isinstance(key, int | np.integer) else CASES.c.case_code
    with _conn(engine_or_conn) as conn:
        row = conn.execute(sa.select(CASES).where(column == key)).mappings().first()
    return _logical(dict(row)) if row is not None else None


def read_transition(engine_or_conn: Engine | Connection, case_id: int, seq: int) -> dict | None:
    """One transition of a case, or None."""
    with _conn(engine_or_conn) as conn:
        row = (
            conn.execute(
                sa.select(TRANSITIONS).where(
                    TRANSITIONS.c.case_id == int(case_id), TRANSITIONS.c.seq == int(seq)
                )
            )
            .mappings()
            .first()
        )
    return dict(row) if row is not None else None


def read_transitions(
    engine_or_conn: Engine | Connection,
    case_ids: Iterable[int] | None = None,
    *,
    before: datetime | None = None,
) -> pd.DataFrame:
    """Transitions ordered by case and ``seq`` (of some cases; ``at < before`` when given)."""
    clauses, params = [], {}
    if case_ids is not None:
        ids = [int(i) for i in case_ids]
        if not ids:
            return read_frame(engine_or_conn, "case_transitions", where="1 = 0")
        names = [f":c{i}" for i in range(len(ids))]
        clauses.append(f"case_id IN ({', '.join(names)})")
        params.update({f"c{i}": v for i, v in enumerate(ids)})
    if before is not None:
        clauses.append("at < :before")
        params["before"] = pd.Timestamp(before).to_pydatetime()
    return read_frame(
        engine_or_conn,
        "case_transitions",
        where=" AND ".join(clauses) or None,
        params=params,
        order_by="case_id, seq",
    )


def read_cases(
    engine_or_conn: Engine | Connection, columns: Iterable[str] | None = None
) -> pd.DataFrame:
    """Every ``cases`` row (optionally some columns, by logical name), ordered by id; the
    view's times as datetimes."""
    stored = None if columns is None else [TIME_COLUMNS.get(c, c) for c in columns]
    frame = read_frame(engine_or_conn, "cases", columns=stored, order_by="id")
    return _logical_frame(frame)


def case_ids_by_code(engine_or_conn: Engine | Connection, codes: Iterable[str]) -> dict[str, int]:
    """``{case_code: id}`` of the given codes that are in the store."""
    return _ids_by(engine_or_conn, "cases", "case_code", codes)


def incident_ids_by_external_id(
    engine_or_conn: Engine | Connection, external_ids: Iterable[str]
) -> dict[str, int]:
    """``{external_id: id}`` of the given incident ids that are in the store."""
    return _ids_by(engine_or_conn, "incidents", "external_id", external_ids)


def _ids_by(engine_or_conn, table: str, column: str, keys: Iterable[str]) -> dict[str, int]:
    wanted = list(dict.fromkeys(str(k) for k in keys))
    out: dict[str, int] = {}
    with _conn(engine_or_conn) as conn:
        for i in range(0, len(wanted), 5000):
            chunk = wanted[i : i + 5000]
            stmt = sa.text(f'SELECT {column}, id FROM "{table}" WHERE {column} IN :keys')
            stmt = stmt.bindparams(sa.bindparam("keys", expanding=True))
            out.update({k: int(v) for k, v in conn.execute(stmt, {"keys": chunk})})
    return out


def count_cases(engine_or_conn: Engine | Connection) -> tuple[int, int]:
    """Numbers of cases and of transitions in the store."""
    with _conn(engine_or_conn) as conn:
        n_cases = conn.execute(sa.text("SELECT COUNT(*) FROM cases")).scalar()
        n_steps = conn.execute(sa.text("SELECT COUNT(*) FROM case_transitions")).scalar()
    return int(n_cases), int(n_steps)


# --- writing ---------------------------------------------------------------------------------


def insert_cases(conn: Connection, cases: pd.DataFrame) -> np.ndarray:
    """Append ``cases`` rows (static columns and stored view); returns their new ids in order.

    Parameters
    ----------
    conn
        A connection inside the caller's transaction.
    cases
        Columns of ``cases`` (without ``id``); ``case_code`` must be new.
    """
    if len(cases) == 0:
        return np.array([], dtype=np.int64)
    save_frame(conn, "cases", _stored_frame(cases))
    ids = case_ids_by_code(conn, cases["case_code"])
    return np.array([ids[c] for c in cases["case_code"]], dtype=np.int64)


def insert_transitions(conn: Connection, transitions: pd.DataFrame) -> int:
    """Append transition rows (``case_id, seq, action, ...``); returns rows written."""
    return save_frame(conn, "case_transitions", transitions)


def insert_case(conn: Connection, values: dict) -> int:
    """Insert one ``cases`` row; returns its id (from RETURNING)."""
    result = conn.execute(sa.insert(CASES).values(**_stored(values)).returning(CASES.c.id))
    return int(result.scalar_one())


def write_transition(
    conn: Connection, case_id: int, seen_version: int, transition: dict, view: dict
) -> bool:
    """Record one step of a case if it is still at ``seen_version``.

    Moves the case row to ``seen_version + 1`` with the updated stored ``view`` and inserts the
    transition with ``seq = seen_version + 1``, in the caller's transaction. Returns False, and
    writes nothing, when another step was recorded first (the version moved on).
    """
    unknown = set(view) - set(VIEW_COLUMNS)
    if unknown:
        raise InputError(f"not columns of the case view: {sorted(unknown)}")
    new_version = int(seen_version) + 1
    result = conn.execute(
        sa.update(CASES)
        .where(CASES.c.id == int(case_id), CASES.c.version == int(seen_version))
        .values(**_stored({**view, "version": new_version}))
    )
    if result.rowcount != 1:
        return False
    conn.execute(
        sa.insert(TRANSITIONS).values(**{**transition, "case_id": int(case_id), "seq": new_version})
    )
    return True


def insert_transition(conn: Connection, transition: dict) -> None:
    """Insert one transition row as given (``case_id``, ``seq`` and the step's columns)."""
    conn.execute(sa.insert(TRANSITIONS).values(**transition))


def last_transition(conn: Connection, case_id: int, action: str) -> dict | None:
    """The case's last transition of one kind of step (e.g. its last 挂起), or None."""
    row = (
        conn.execute(
            sa.select(TRANSITIONS)
            .where(TRANSITIONS.c.case_id == int(case_id), TRANSITIONS.c.action == action)
            .order_by(TRANSITIONS.c.seq.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def replace_view(conn: Connection, views: pd.DataFrame) -> int:
    """Overwrite the stored view of cases (``id`` plus ``VIEW_COLUMNS``), e.g. after a rebuild."""
    cols = [c for c in VIEW_COLUMNS if c in views.columns]
    records = [
        {"_id": int(row[0]), **_stored(dict(zip(cols, row[1:], strict=True)))}
        for row in views[["id", *cols]].itertuples(index=False)
    ]
    for rec in records:
        for key, value in rec.items():
            if isinstance(value, np.generic):
                rec[key] = value.item()
    if records:
        stmt = sa.update(CASES).where(CASES.c.id == sa.bindparam("_id"))
        conn.execute(stmt, records)
    return len(records)


def delete_cases(conn: Connection) -> None:
    """Delete every case and transition (the incidents stay)."""
    conn.execute(sa.text("DELETE FROM case_transitions"))
    conn.execute(sa.text("DELETE FROM cases"))


# --- the assessment query ----------------------------------------------------------------------


def _last_before_end(column: str, action: str | None) -> str:
    """SQL: ``column`` of the case's last transition (of ``action``) before ``:end``."""
    where = "t.case_id = c.id AND t.at < :end" + (f" AND t.action = '{action}'" if action else "")
    return f"(SELECT t.{column} FROM case_transitions t WHERE {where} ORDER BY t.seq DESC LIMIT 1)"


def unit_expression(by: str) -> str:
    """SQL for the unit of each case at the period's end (``c`` is the ``cases`` row).

    ``department`` / ``staff``: the department / assignee of the case's last dispatch before the
    end (NULL when not dispatched by then); the stored view answers unless a dispatch came after
    the end. Other units are static columns of the case (``GROUP_COLUMNS``); ``all`` is one unit.
    """
    if by in ("department", "staff"):
        column = "department" if by == "department" else "assignee"
        return (
            "CASE WHEN c.first_dispatch_us IS NULL OR c.first_dispatch_us >= :end_us THEN NULL"
            f" WHEN c.last_dispatch_us < :end_us THEN c.{column}"
            f" ELSE {_last_before_end(column, 'dispatch')} END"
        )
    if by == "all":
        return "'all'"
    if by not in GROUP_COLUMNS:
        raise InputError(
            f"cannot group cases by {by!r}; one of department, staff, all, {', '.join(GROUP_COLUMNS)}"
        )
    return f"c.{GROUP_COLUMNS[by]}"


_OPEN_AT_END = "(c.closed_us IS NULL OR c.closed_us >= :end_us) AND (c.ended_us IS NULL OR c.ended_us >= :end_us)"


def _period(start, end) -> dict:
    start = pd.Timestamp(start) if start is not None else pd.Timestamp(_EARLIEST)
    end = pd.Timestamp(end) if end is not None else pd.Timestamp(datetime.now())
    return {
        "start_us": to_us(start),
        "end_us": to_us(end),
        "end": end.to_pydatetime(),
    }


def _aggregates() -> str:
    """The SELECT list of the counts, over the ``cases`` row ``c`` (times as of ``:end_us``)."""
    closed_in = "c.closed_us >= :start_us AND c.closed_us < :end_us"
    state_at_end = _last_before_end("to_state", None)
    overdue = (
        f"CASE WHEN {_OPEN_AT_END} AND c.deadline_us < :end_us THEN"
        " CASE WHEN c.first_suspend_us IS NULL OR c.first_suspend_us >= :end_us THEN 1"
        f" WHEN {state_at_end} = 'suspended' THEN 0 ELSE 1 END ELSE 0 END"
    )
    due = f"CASE WHEN {closed_in} THEN 1 ELSE {overdue} END"
    evaluated = "c.evaluated_us >= :start_us AND c.evaluated_us < :end_us"
    return f"""
      SUM(CASE WHEN c.reported_us >= :start_us THEN 1 ELSE 0 END) AS reported,
      SUM(CASE WHEN c.accepted_us >= :start_us AND c.accepted_us < :end_us THEN 1 ELSE 0 END)
        AS accepted,
      SUM(CASE WHEN {closed_in} THEN 1 ELSE 0 END) AS closed,
      SUM(CASE WHEN {closed_in} AND c.closed_us <= c.deadline_us THEN 1 ELSE 0 END)
        AS closed_on_time,
      SUM({overdue}) AS overdue_open,
      SUM(CASE WHEN {_OPEN_AT_END} THEN 1 ELSE 0 END) AS open_at_end,
      SUM(CASE WHEN c.first_rework_us < :end_us THEN {due} ELSE 0 END) AS reworked,
      SUM(CASE WHEN c.first_extension_us < :end_us THEN {due} ELSE 0 END) AS extended,
      SUM(CASE WHEN c.first_return_us < :end_us THEN {due} ELSE 0 END) AS returned,
      SUM(CASE WHEN {evaluated} THEN 1 ELSE 0 END) AS evaluated,
      SUM(CASE WHEN {evaluated} AND c.satisfied THEN 1 ELSE 0 END) AS satisfied,
      SUM(CASE WHEN {closed_in} THEN c.closed_us - c.reported_us ELSE 0 END) AS handle_us_sum
    """


def metric_counts(
    engine_or_conn: Engine | Connection,
    by: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """The counts behind the case metrics, per unit, for the period ``[start, end)``.

    Definitions (a case's facts as of ``end``, default now):

    - ``reported`` / ``accepted`` / ``evaluated``: reported / accepted / evaluated in the period;
      ``satisfied``: of those evaluated, found satisfactory.
    - ``closed``: closed in the period; ``closed_on_time``: of those, closed at or before the
      deadline in force; ``handle_hours_sum``: their hours from report to close.
    - ``open_at_end``: reported before the end and neither closed nor ended (不予受理/作废) by it;
      ``overdue_open``: of those, past their deadline and not suspended (挂起) at the end.
    - ``reworked`` / ``extended`` / ``returned``: of the cases due (closed in the period or
      overdue open at its end), those reworked (返工) / extended (延期) / returned (回退) at least
      once before the end.

    How: one aggregate pass over the stored view (by department it reads only the covering index
    ``ix_cases_department_view``, already in unit order); cases dispatched again after the end
    are counted apart under their unit at the end (index ``ix_cases_last_dispatch``), and the
    transitions are read only for them and for overdue cases suspended before the end.

    Returns
    -------
    pandas.DataFrame
        ``unit`` plus ``COUNT_COLUMNS``, one row per unit (a case without a unit under ``None``).
    """
    aggregates = _aggregates()
    queries = []
    with _conn(engine_or_conn) as conn:
        sqlite = conn.dialect.name == "sqlite"
        if by in ("department", "staff"):
            column = "department" if by == "department" else "assignee"
            hint = " INDEXED BY ix_cases_department_view" if sqlite and by == "department" else ""
            queries.append(
                f"SELECT c.{column} AS unit, {aggregates} FROM cases c{hint}"
                " WHERE +c.reported_us < :end_us"
                " AND (c.last_dispatch_us IS NULL OR c.last_dispatch_us < :end_us)"
                f" GROUP BY c.{column}"
            )
            queries.append(
                f"SELECT {unit_expression(by)} AS unit, {aggregates} FROM cases c"
                " WHERE c.last_dispatch_us >= :end_us AND c.reported_us < :end_us GROUP BY 1"
            )
        else:
            unit = unit_expression(by)
            group = "" if by == "all" else f" GROUP BY {unit}"
            queries.append(
                f"SELECT {unit} AS unit, {aggregates} FROM cases c"
                f" WHERE +c.reported_us < :end_us{group}"
            )
        params = _period(start, end)
        rows = []
        for sql in queries:
            rows += conn.execute(typed_text(sql, params), params).fetchall()
    names = [*COUNT_COLUMNS[:-1], "handle_us_sum"]
    frame = pd.DataFrame.from_records(rows, columns=["unit", *names])
    frame = frame[frame["reported"].notna()]  # an aggregate over no rows
    for col in names:
        frame[col] = pd.to_numeric(frame[col]).fillna(0).astype(np.int64)
    key = frame["unit"].astype(object).where(frame["unit"].notna(), "\x00none")
    frame = frame.drop(columns="unit").groupby(key.rename("unit"), sort=True).sum().reset_index()
    frame["unit"] = frame["unit"].map(lambda u: None if u == "\x00none" else u).astype(object)
    frame["handle_hours_sum"] = frame.pop("handle_us_sum").astype(float) / 3.6e9
    return frame[["unit", *COUNT_COLUMNS]]


def overdue_open_cases(engine_or_conn: Engine | Connection, at: datetime) -> pd.DataFrame:
    """Cases open at ``at``, past their deadline and not suspended then (the red-light list).

    Returns
    -------
    pandas.DataFrame
        ``id, case_code, category_code, urgency, source, department, assignee, grid_code,
        grid_l1, reported_at, deadline, state, limit_type, supervised_at,
        supervision_reply_at`` (department, assignee and state as they were at ``at``), most
        overdue first.
    """
    columns = [
        "id",
        "case_code",
        "category_code",
        "urgency",
        "source",
        "department",
        "assignee",
        "grid_code",
        "grid_l1",
        "reported_us",
        "deadline_us",
        "state",
        "limit_type",
        "supervised_us",
        "supervision_reply_us",
    ]
    sql = f"""
    SELECT c.id, c.case_code, c.category_code, c.urgency, c.source,
      {unit_expression("department")} AS department, {unit_expression("staff")} AS assignee,
      c.grid_code, c.grid_l1, c.reported_us, c.deadline_us,
      {_last_before_end("to_state", None)} AS state, c.limit_type, c.supervised_us,
      c.supervision_reply_us
    FROM cases c
    WHERE c.reported_us < :end_us AND c.deadline_us < :end_us AND {_OPEN_AT_END}
    ORDER BY c.deadline_us, c.id
    """
    params = _period(None, at)
    with _conn(engine_or_conn) as conn:
        rows = conn.execute(typed_text(sql, params), params).fetchall()
    frame = pd.DataFrame.from_records(rows, columns=columns)
    frame = frame[frame["state"] != "suspended"].reset_index(drop=True)
    frame = _logical_frame(frame)
    return frame[[_LOGICAL.get(c, c) for c in columns]]


__all__ = [
    "COUNT_COLUMNS",
    "TIME_COLUMNS",
    "GROUP_COLUMNS",
    "VIEW_COLUMNS",
    "case_ids_by_code",
    "count_cases",
    "delete_cases",
    "incident_ids_by_external_id",
    "insert_case",
    "insert_cases",
    "insert_transition",
    "last_transition",
    "insert_transitions",
    "metric_counts",
    "overdue_open_cases",
    "read_case",
    "read_cases",
    "read_transition",
    "read_transitions",
    "replace_view",
    "unit_expression",
    "write_transition",
    "from_us",
    "to_us",
]
