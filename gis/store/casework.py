"""Store access for working cases: the queue a page shows, notes and photos on cases, and the
case-related facts of accounts (a handler's department).

``gis.store.cases`` holds the transitions and the assessment query; this module holds what the
case pages read and write around them. SQL for cases lives in these two modules and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gis.core.errors import InputError
from gis.store import models
from gis.store.cases import CASES, TIME_COLUMNS, _conn, _logical_frame, from_us
from gis.store.frames import read_frame

ATTACHMENTS = models.CaseAttachment.__table__
USERS = models.User.__table__
RATINGS = models.OfficerRating.__table__
#: the columns of a queue row (times under their logical names)
QUEUE_COLUMNS = (
    "id",
    "case_code",
    "incident_id",
    "source",
    "category_code",
    "urgency",
    "grid_code",
    "grid_l2",
    "grid_l1",
    "co_departments",
    "limit_value",
    "limit_type",
    "description",
    "state",
    "version",
    "department",
    "assignee",
    "reported_at",
    "deadline",
    "closed_at",
    "supervised_at",
    "supervision_reply_at",
    "updated_at",
)


def _in_clause(column, values: Iterable | None):
    if values is None:
        return None
    values = [v for v in values if v is not None]
    return column.in_(values) if values else sa.false()


def read_queue(
    engine_or_conn: Engine | Connection,
    *,
    states: Iterable[str] | None = None,
    departments: Iterable[str] | None = None,
    co_department: str | None = None,
    grid_codes: Iterable[str] | None = None,
    categories: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
    deadline_before: datetime | None = None,
    limit: int = 5000,
) -> pd.DataFrame:
    """Cases for a work queue, with their incident's place, newest report first.

    Parameters
    ----------
    states, departments, categories, sources
        Keep cases whose value is among these (None: any).
    co_department
        With ``departments``: also keep the cases this department assists
        (``cases.co_departments``, ``;``-separated).
    grid_codes
        Keep cases whose micro, level-2 or level-1 grid is one of these.
    deadline_before
        Keep cases with a deadline before this time (the overdue ones at that time).
    limit
        At most this many rows.

    Returns
    -------
    pandas.DataFrame
        ``QUEUE_COLUMNS`` plus ``address, lon, lat`` (EPSG:4326) of the case's incident.
    """
    c = CASES.c
    stored = [c[TIME_COLUMNS.get(name, name)] for name in QUEUE_COLUMNS]
    query = sa.select(*stored)
    clauses = [
        _in_clause(c.state, states),
        _in_clause(c.category_code, categories),
        _in_clause(c.source, sources),
    ]
    if departments is not None:
        dep = _in_clause(c.department, departments)
        if co_department:
            dep = sa.or_(dep, c.co_departments.like(f"%{co_department}%"))
        clauses.append(dep)
    if grid_codes is not None:
        codes = list(grid_codes)
        clauses.append(
            sa.or_(c.grid_code.in_(codes), c.grid_l2.in_(codes), c.grid_l1.in_(codes))
            if codes
            else sa.false()
        )
    if deadline_before is not None:
        us = int(pd.Timestamp(deadline_before).value // 1000)
        clauses.append(sa.and_(c.deadline_us.is_not(None), c.deadline_us < us))
    clauses = [x for x in clauses if x is not None]
    if clauses:
        query = query.where(*clauses)
    query = query.order_by(c.reported_us.desc(), c.id.desc()).limit(int(limit))
    with _conn(engine_or_conn) as conn:
        rows = conn.execute(query).fetchall()
        stored_names = [TIME_COLUMNS.get(n, n) for n in QUEUE_COLUMNS]
        frame = _logical_frame(pd.DataFrame.from_records(rows, columns=stored_names))
        frame = frame[list(QUEUE_COLUMNS)]
        places = _incident_places(conn, frame["incident_id"].dropna().astype(int).tolist())
    out = frame.merge(places, how="left", left_on="incident_id", right_index=True)
    return out.reset_index(drop=True)


def _incident_places(conn: Connection, ids: list[int]) -> pd.DataFrame:
    empty = pd.DataFrame({"address": [], "lon": [], "lat": []}, dtype=object)
    if not ids:
        return empty
    names = [f":i{k}" for k in range(len(ids))]
    frame = read_frame(
        conn,
        "incidents",
        columns=["id", "address", "geom"],
        where=f"id IN ({', '.join(names)})",
        params={f"i{k}": v for k, v in enumerate(ids)},
    )
    out = pd.DataFrame(
        {"address": frame["address"], "lon": frame.geometry.x, "lat": frame.geometry.y}
    )
    out.index = frame["id"].astype(int).to_numpy()
    return out


def case_place(engine_or_conn: Engine | Connection, incident_id: int | None) -> dict:
    """``address, lon, lat`` of a case's incident (Nones without one)."""
    if incident_id is None or pd.isna(incident_id):
        return {"address": None, "lon": None, "lat": None}
    with _conn(engine_or_conn) as conn:
        places = _incident_places(conn, [int(incident_id)])
    if places.empty:
        return {"address": None, "lon": None, "lat": None}
    return places.iloc[0].to_dict()


def reported_range(engine_or_conn: Engine | Connection) -> tuple[datetime | None, datetime | None]:
    """The first and last report time of the stored cases (Nones without cases)."""
    with _conn(engine_or_conn) as conn:
        lo, hi = conn.execute(
            sa.select(sa.func.min(CASES.c.reported_us), sa.func.max(CASES.c.reported_us))
        ).one()
    return from_us(lo), from_us(hi)


def set_co_departments(conn: Connection, case_id: int, departments: Iterable[str]) -> None:
    """Record the assisting departments (协办) of a case (``;``-separated), in the caller's
    transaction."""
    value = ";".join(dict.fromkeys(d for d in departments if d)) or None
    conn.execute(sa.update(CASES).where(CASES.c.id == int(case_id)).values(co_departments=value))


# --- notes and photos -------------------------------------------------------------------------


def add_attachment(
    engine_or_conn: Engine | Connection,
    case_id: int,
    *,
    seq: int,
    kind: str,
    actor: str,
    at: datetime,
    text: str | None = None,
    name: str | None = None,
    mime: str | None = None,
    content: bytes | None = None,
) -> int:
    """Store a note (``text``) or photo (``content``) on a case; returns its id."""
    if kind not in models.ATTACHMENT_KINDS:
        raise InputError(f"an attachment is one of {', '.join(models.ATTACHMENT_KINDS)}")
    values = dict(
        case_id=int(case_id),
        seq=int(seq),
        kind=kind,
        actor=actor,
        at=at,
        text=text,
        name=name,
        mime=mime,
        content=content,
    )
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.begin() as conn:
            return _insert_attachment(conn, values)
    return _insert_attachment(engine_or_conn, values)


def _insert_attachment(conn: Connection, values: dict) -> int:
    result = conn.execute(sa.insert(ATTACHMENTS).values(**values).returning(ATTACHMENTS.c.id))
    return int(result.scalar_one())


def read_attachments(engine_or_conn: Engine | Connection, case_id: int) -> pd.DataFrame:
    """A case's notes and photos in the order they were added (``content`` holds photo bytes)."""
    return read_frame(
        engine_or_conn,
        "case_attachments",
        where="case_id = :c",
        params={"c": int(case_id)},
        order_by="id",
    )


# --- the communities' ratings of their officers -----------------------------------------------


def save_rating(
    engine: Engine,
    *,
    month: str,
    officer: str,
    grid_code: str,
    score: float,
    comment: str | None,
    rated_by: str,
    rated_at: datetime,
) -> None:
    """Store a community's rating (0-100) of an officer for a month ``YYYY-MM``; a rating of the
    same month, officer and community is replaced."""
    if not 0 <= float(score) <= 100:
        raise InputError("a rating is between 0 and 100")
    pd.Period(month, freq="M")  # a malformed month raises
    table = RATINGS
    with engine.begin() as conn:
        conn.execute(
            sa.delete(table).where(
                table.c.month == month, table.c.officer == officer, table.c.grid_code == grid_code
            )
        )
        conn.execute(
            sa.insert(table).values(
                month=month, officer=officer, grid_code=grid_code, score=float(score),
                comment=comment, rated_by=rated_by, rated_at=rated_at,
            )
        )  # fmt: skip


def read_ratings(engine_or_conn: Engine | Connection, month: str | None = None) -> pd.DataFrame:
    """The officer ratings (of one month ``YYYY-MM`` when given), by officer."""
    where, params = (None, None) if month is None else ("month = :m", {"m": month})
    return read_frame(
        engine_or_conn, "officer_ratings", where=where, params=params, order_by="officer, id"
    )


# --- whistles (吹哨报到) ------------------------------------------------------------------------

WHISTLES = models.Whistle.__table__
SUMMONED = models.WhistleDepartment.__table__


def insert_whistle(engine: Engine, values: dict, departments: list[dict]) -> int:
    """Store a whistle and its summoned departments (``department, task, task_due``)."""
    with engine.begin() as conn:
        wid = int(
            conn.execute(sa.insert(WHISTLES).values(**values).returning(WHISTLES.c.id)).scalar_one()
        )
        for dep in departments:
            conn.execute(sa.insert(SUMMONED).values(whistle_id=wid, **dep))
    return wid


def update_summoned(engine: Engine, whistle_id: int, department: str, only_if_null: str,
                    **values) -> bool:  # fmt: skip
    """Set columns of one summoned department while ``only_if_null`` is still empty; False
    when the department is not summoned or the column was already set."""
    with engine.begin() as conn:
        done = conn.execute(
            sa.update(SUMMONED)
            .where(
                SUMMONED.c.whistle_id == int(whistle_id),
                SUMMONED.c.department == department,
                SUMMONED.c[only_if_null].is_(None),
            )
            .values(**values)
        )
    return done.rowcount == 1


def read_whistle(engine_or_conn: Engine | Connection, whistle_id: int) -> tuple[dict, pd.DataFrame]:
    """A whistle's row and its summoned departments."""
    with _conn(engine_or_conn) as conn:
        row = (
            conn.execute(sa.select(WHISTLES).where(WHISTLES.c.id == int(whistle_id)))
            .mappings()
            .first()
        )
        if row is None:
            raise InputError(f"no whistle {whistle_id}")
        deps = read_frame(conn, "whistle_departments", where="whistle_id = :w",
                          params={"w": int(whistle_id)}, order_by="department")  # fmt: skip
    return dict(row), deps


def read_whistles(engine_or_conn: Engine | Connection) -> pd.DataFrame:
    """Every whistle, newest first."""
    return read_frame(engine_or_conn, "whistles", order_by="summoned_at DESC, id DESC")


# --- accounts ---------------------------------------------------------------------------------


def user_department(engine_or_conn: Engine | Connection, username: str) -> str | None:
    """The department a (handler's) account works for, or None."""
    with _conn(engine_or_conn) as conn:
        return conn.execute(
            sa.select(USERS.c.department).where(USERS.c.username == username)
        ).scalar()


def set_user_department(
    engine_or_conn: Engine | Connection, username: str, department: str | None
) -> None:
    """Set the department of an account (None clears it)."""
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.begin() as conn:
            _set_department(conn, username, department)
    else:
        _set_department(engine_or_conn, username, department)


def _set_department(conn: Connection, username: str, department: str | None) -> None:
    done = conn.execute(
        sa.update(USERS).where(USERS.c.username == username).values(department=department)
    )
    if done.rowcount != 1:
        raise InputError(f"unknown user {username!r}")


__all__ = [
    "QUEUE_COLUMNS",
    "add_attachment",
    "case_place",
    "read_attachments",
    "insert_whistle",
    "read_queue",
    "read_whistle",
    "read_whistles",
    "update_summoned",
    "read_ratings",
    "reported_range",
    "save_rating",
    "set_co_departments",
    "set_user_department",
    "user_department",
]
