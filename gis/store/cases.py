"""Store access for cases (``cases``) and their transitions (``case_transitions``).

The transitions are the truth; the ``cases`` row holds the static facts of the report and a stored
view of the transitions (state, version, the times metrics need), written in the same
transaction as each transition. ``write_transition`` is the optimistic lock: it moves a case
from the version the actor saw to the next one, or writes nothing.

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


# --- reading ---------------------------------------------------------------------------------


def read_case(engine_or_conn: Engine | Connection, key: int | str) -> dict | None:
    """The ``cases`` row of a case id (int) or case code (str) as a dict, or None."""
    column = CASES.c.id if isinstance(key, int | np.integer) else CASES.c.case_code
    with _conn(engine_or_conn) as conn:
        row = conn.execute(sa.select(CASES).where(column == key)).mappings().first()
    return dict(row) if row is not None else None


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
    """Every ``cases`` row (optionally some columns), ordered by id."""
    return read_frame(engine_or_conn, "cases", columns=columns, order_by="id")


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
    save_frame(conn, "cases", cases)
    ids = case_ids_by_code(conn, cases["case_code"])
    return np.array([ids[c] for c in cases["case_code"]], dtype=np.int64)


def insert_transitions(conn: Connection, transitions: pd.DataFrame) -> int:
    """Append transition rows (``case_id, seq, action, ...``); returns rows written."""
    return save_frame(conn, "case_transitions", transitions)


def insert_case(conn: Connection, values: dict) -> int:
    """Insert one ``cases`` row; returns its id (from RETURNING)."""
    result = conn.execute(sa.insert(CASES).values(**values).returning(CASES.c.id))
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
        .values(**{**view, "version": new_version})
    )
    if result.rowcount != 1:
        return False
    conn.execute(
        sa.insert(TRANSITIONS).values(**{**transition, "case_id": int(case_id), "seq": new_version})
    )
    return True


def replace_view(conn: Connection, views: pd.DataFrame) -> int:
    """Overwrite the stored view of cases (``id`` plus ``VIEW_COLUMNS``), e.g. after a rebuild."""
    cols = [c for c in VIEW_COLUMNS if c in views.columns]
    records = []
    for row in views[["id", *cols]].itertuples(index=False):
        values = {}
        for c, v in zip(cols, row[1:], strict=True):
            values[c] = None if v is None or (not isinstance(v, str) and pd.isna(v)) else v
            if isinstance(values[c], pd.Timestamp):
                values[c] = values[c].to_pydatetime()
            elif isinstance(values[c], np.generic):
                values[c] = values[c].item()
        records.append({"_id": int(row[0]), **values})
    if records:
        stmt = sa.update(CASES).where(CASES.c.id == sa.bindparam("_id"))
        conn.execute(stmt, records)
    return len(records)


def delete_cases(conn: Connection) -> None:
    """Delete every case and transition (the incidents stay)."""
    conn.execute(sa.text("DELETE FROM case_transitions"))
    conn.execute(sa.text("DELETE FROM cases"))


def open_case_batch(
    conn: Connection,
    *,
    file_name: str | None,
    imported_by: str,
    total: int,
    imported: int,
    rejected: int,
    details: str | None = None,
    kind: str = "cases",
) -> int:
    """Record an import of case histories in ``import_batches``; returns its id (RETURNING)."""
    table = models.ImportBatch.__table__
    result = conn.execute(
        sa.insert(table)
        .values(
            kind=kind,
            file_name=file_name,
            imported_by=imported_by,
            imported_at=datetime.now().replace(microsecond=0),
            total=int(total),
            imported=int(imported),
            rejected=int(rejected),
            details=details,
        )
        .returning(table.c.id)
    )
    return int(result.scalar_one())


# --- the assessment query ----------------------------------------------------------------------


def _last_before_end(conn: Connection, column: str, action: str | None) -> str:
    where = "t.case_id = c.id AND t.at < :end" + (f" AND t.action = '{action}'" if action else "")
    return f"(SELECT t.{column} FROM case_transitions t WHERE {where} ORDER BY t.seq DESC LIMIT 1)"


def unit_expression(conn: Connection, by: str) -> str:
    """SQL for the unit of each case at the period's end (``c`` is the ``cases`` row).

    ``department`` / ``staff``: the department / assignee of the case's last dispatch before the
    end (NULL when not dispatched by then); the stored view answers unless a dispatch came after
    the end. Other units are static columns of the case (``GROUP_COLUMNS``); ``all`` is one unit.
    """
    if by in ("department", "staff"):
        column = "department" if by == "department" else "assignee"
        return (
            "CASE WHEN c.first_dispatch_at IS NULL OR c.first_dispatch_at >= :end THEN NULL"
            f" WHEN c.last_dispatch_at < :end THEN c.{column}"
            f" ELSE {_last_before_end(conn, column, 'dispatch')} END"
        )
    if by == "all":
        return "'all'"
    if by not in GROUP_COLUMNS:
        raise InputError(
            f"cannot group cases by {by!r}; one of department, staff, all, {', '.join(GROUP_COLUMNS)}"
        )
    return f"c.{GROUP_COLUMNS[by]}"


def metric_counts(
    engine_or_conn: Engine | Connection,
    by: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """The counts behind the case metrics, per unit, for the period ``[start, end)``.

    Definitions (a case's facts as of ``end``):

    - ``reported`` / ``accepted`` / ``evaluated``: reported / accepted / evaluated in the period;
      ``satisfied``: of those evaluated, found satisfactory.
    - ``closed``: closed in the period; ``closed_on_time``: of those, closed at or before the
      deadline in force; ``handle_hours_sum``: their hours from report to close.
    - ``open_at_end``: reported before the end and neither closed nor ended (不予受理/作废) by it;
      ``overdue_open``: of those, past their deadline and not suspended (挂起) at the end.
    - ``reworked`` / ``extended`` / ``returned``: of the cases due (closed in the period or
      overdue open at its end), those reworked (返工) / extended (延期) / returned (回退) at least
      once before the end.

    Returns
    -------
    pandas.DataFrame
        ``unit`` plus ``COUNT_COLUMNS``, one row per unit (a case without a unit under ``None``).
    """
    start = pd.Timestamp(start).to_pydatetime() if start is not None else _EARLIEST
    end = pd.Timestamp(end).to_pydatetime() if end is not None else datetime.now()
    with _conn(engine_or_conn) as conn:
        unit = unit_expression(conn, by)
        if conn.dialect.name == "postgresql":
            hours = "EXTRACT(EPOCH FROM (c.closed_at - c.reported_at)) / 3600.0"
        else:
            hours = "(julianday(c.closed_at) - julianday(c.reported_at)) * 24.0"
        open_end = "(c.closed_at IS NULL OR c.closed_at >= :end) AND (c.ended_at IS NULL OR c.ended_at >= :end)"
        state_at_end = _last_before_end(conn, "to_state", None)
        sql = f"""
        SELECT unit,
          SUM(CASE WHEN reported_at >= :start THEN 1 ELSE 0 END) AS reported,
          SUM(CASE WHEN accepted_at >= :start AND accepted_at < :end THEN 1 ELSE 0 END) AS accepted,
          SUM(closed_in) AS closed,
          SUM(CASE WHEN closed_in = 1 AND closed_at <= deadline THEN 1 ELSE 0 END)
            AS closed_on_time,
          SUM(overdue) AS overdue_open,
          SUM(open_end) AS open_at_end,
          SUM(CASE WHEN (closed_in = 1 OR overdue = 1) AND first_rework_at < :end
            THEN 1 ELSE 0 END) AS reworked,
          SUM(CASE WHEN (closed_in = 1 OR overdue = 1) AND first_extension_at < :end
            THEN 1 ELSE 0 END) AS extended,
          SUM(CASE WHEN (closed_in = 1 OR overdue = 1) AND first_return_at < :end
            THEN 1 ELSE 0 END) AS returned,
          SUM(CASE WHEN evaluated_at >= :start AND evaluated_at < :end THEN 1 ELSE 0 END)
            AS evaluated,
          SUM(CASE WHEN evaluated_at >= :start AND evaluated_at < :end AND satisfied
            THEN 1 ELSE 0 END) AS satisfied,
          SUM(CASE WHEN closed_in = 1 THEN handle_hours ELSE 0 END) AS handle_hours_sum
        FROM (
          SELECT {unit} AS unit, c.reported_at, c.accepted_at, c.closed_at, c.deadline,
            c.first_rework_at, c.first_extension_at, c.first_return_at, c.evaluated_at,
            c.satisfied, {hours} AS handle_hours,
            CASE WHEN c.closed_at >= :start AND c.closed_at < :end THEN 1 ELSE 0 END AS closed_in,
            CASE WHEN {open_end} THEN 1 ELSE 0 END AS open_end,
            CASE WHEN {open_end} AND c.deadline < :end THEN
              CASE WHEN c.first_suspend_at IS NULL OR c.first_suspend_at >= :end THEN 1
                   WHEN {state_at_end} = 'suspended' THEN 0 ELSE 1 END
            ELSE 0 END AS overdue
          FROM cases c
          WHERE c.reported_at < :end
        ) AS per_case
        GROUP BY unit
        """
        params = {"start": start, "end": end}
        rows = conn.execute(typed_text(sql, params), params).fetchall()
    frame = pd.DataFrame.from_records(rows, columns=["unit", *COUNT_COLUMNS])
    for col in COUNT_COLUMNS:
        if col != "handle_hours_sum":
            frame[col] = pd.to_numeric(frame[col]).fillna(0).astype(np.int64)
    frame["handle_hours_sum"] = pd.to_numeric(frame["handle_hours_sum"]).astype(float).fillna(0.0)
    frame["unit"] = frame["unit"].astype(object).where(frame["unit"].notna(), None)
    return frame


def overdue_open_cases(engine_or_conn: Engine | Connection, at: datetime) -> pd.DataFrame:
    """Cases open at ``at``, past their deadline and not suspended then (the red-light list).

    Returns
    -------
    pandas.DataFrame
        ``id, case_code, category_code, urgency, source, department, assignee, grid_code,
        grid_l1, reported_at, deadline, state, limit_type, supervised_at,
        supervision_reply_at``, most overdue first.
    """
    at = pd.Timestamp(at).to_pydatetime()
    with _conn(engine_or_conn) as conn:
        state_at = _last_before_end(conn, "to_state", None)
        dept = unit_expression(conn, "department")
        staff = unit_expression(conn, "staff")
        sql = f"""
        SELECT c.id, c.case_code, c.category_code, c.urgency, c.source, {dept} AS department,
          {staff} AS assignee, c.grid_code, c.grid_l1, c.reported_at, c.deadline,
          {state_at} AS state, c.limit_type, c.supervised_at, c.supervision_reply_at
        FROM cases c
        WHERE c.reported_at < :end AND c.deadline < :end
          AND (c.closed_at IS NULL OR c.closed_at >= :end)
          AND (c.ended_at IS NULL OR c.ended_at >= :end)
        ORDER BY c.deadline, c.id
        """
        params = {"end": at}
        rows = conn.execute(typed_text(sql, params), params).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows])
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
        "reported_at",
        "deadline",
        "state",
        "limit_type",
        "supervised_at",
        "supervision_reply_at",
    ]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame[frame["state"] != "suspended"].reset_index(drop=True)
    for col in ("reported_at", "deadline", "supervised_at", "supervision_reply_at"):
        frame[col] = pd.to_datetime(frame[col])
    return frame[columns]


__all__ = [
    "COUNT_COLUMNS",
    "GROUP_COLUMNS",
    "VIEW_COLUMNS",
    "case_ids_by_code",
    "count_cases",
    "delete_cases",
    "incident_ids_by_external_id",
    "insert_case",
    "insert_cases",
    "insert_transitions",
    "metric_counts",
    "open_case_batch",
    "overdue_open_cases",
    "read_case",
    "read_cases",
    "read_transition",
    "read_transitions",
    "replace_view",
    "unit_expression",
    "write_transition",
]
