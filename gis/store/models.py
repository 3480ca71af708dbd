"""SQLAlchemy 2 + GeoAlchemy2 models: one set for SpatiaLite and PostGIS.

Geometries are stored in EPSG:4326 (longitude, latitude). Timestamps are naive wall-clock times in
the district's zone (``settings.DISTRICT_TZ``). Grids are versioned: a change closes the current
row (``valid_to``) and adds a new one, so an incident stays attributable to the grid in force when
it happened. Every write that a person makes records who made it (``*_by`` columns).
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gis.core.settings import STORAGE_EPSG

GRID_LEVELS = ("l1", "l2", "micro", "dedicated")
STAFF_ROLES = ("grid_leader", "grid_worker", "grid_assistant", "enforcement_officer")
USER_ROLES = (
    "analyst",
    "leader",
    "grid_admin",
    "admin",
    "dispatcher",
    "handler",
    "grid_worker",
)
#: what a case attachment holds: a note (text) or a photo (bytes)
ATTACHMENT_KINDS = ("note", "photo")
PLAN_STATUSES = ("draft", "approved", "active", "done", "cancelled")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _geom(kind: str, nullable: bool = False) -> Mapped:
    return mapped_column(Geometry(kind, srid=STORAGE_EPSG, spatial_index=True), nullable=nullable)


class Base(DeclarativeBase):
    """Declarative base of every GridLens table."""


class Meta(Base):
    """Key/value facts about the database (district name, demo seed, planted truth)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Department(Base):
    """A department of the joint team ("4 + X")."""

    __tablename__ = "departments"
    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    joint_team: Mapped[str | None] = mapped_column(Text)


class TaxonomyClass(Base):
    """A minor class of the incident taxonomy (major + minor code, e.g. ``05-05``)."""

    __tablename__ = "taxonomy"
    __table_args__ = (CheckConstraint(_in("list_type", ("enforcement", "service"))),)
    code: Mapped[str] = mapped_column(Text, primary_key=True)
    major_code: Mapped[str] = mapped_column(Text)
    major_name_zh: Mapped[str] = mapped_column(Text)
    major_name_en: Mapped[str] = mapped_column(Text)
    minor_code: Mapped[str] = mapped_column(Text)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    co_departments: Mapped[str | None] = mapped_column(Text)
    list_type: Mapped[str] = mapped_column(Text)
    time_limit_h: Mapped[float] = mapped_column(Float)
    severity_weight: Mapped[int] = mapped_column(Integer, default=1)


class Grid(Base):
    """One version of a grid. The current version has ``valid_to`` NULL."""

    __tablename__ = "grids"
    __table_args__ = (
        UniqueConstraint("code", "version", name="uq_grids_code_version"),
        CheckConstraint(_in("level", GRID_LEVELS), name="ck_grids_level"),
        Index("ix_grids_current", "level", "valid_to"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(Text, index=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(Text)
    parent_code: Mapped[str | None] = mapped_column(Text, index=True)
    kind: Mapped[str | None] = mapped_column(Text)
    households: Mapped[int | None] = mapped_column(Integer)
    population: Mapped[int | None] = mapped_column(Integer)
    businesses: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    valid_from: Mapped[datetime] = mapped_column(DateTime)
    valid_to: Mapped[datetime | None] = mapped_column(DateTime)
    created_by: Mapped[str | None] = mapped_column(Text)
    geom = _geom("MULTIPOLYGON")


class GridEdit(Base):
    """The history of grid changes: who, when, why, geometry before and after."""

    __tablename__ = "grid_edits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    grid_code: Mapped[str] = mapped_column(Text, index=True)
    action: Mapped[str] = mapped_column(Text)
    version_before: Mapped[int | None] = mapped_column(Integer)
    version_after: Mapped[int | None] = mapped_column(Integer)
    edited_by: Mapped[str] = mapped_column(Text)
    edited_at: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str | None] = mapped_column(Text)
    geom_before = _geom("MULTIPOLYGON", nullable=True)
    geom_after = _geom("MULTIPOLYGON", nullable=True)


class Staff(Base):
    """Grid staff and enforcement officers ("one grid one member")."""

    __tablename__ = "staff"
    __table_args__ = (CheckConstraint(_in("role", STAFF_ROLES), name="ck_staff_role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    grid_code: Mapped[str | None] = mapped_column(Text, index=True)
    phone: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ImportBatch(Base):
    """One import of a file: who, when, which file, and how every row was accounted for."""

    __tablename__ = "import_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str | None] = mapped_column(Text)
    imported_by: Mapped[str | None] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(DateTime)
    total: Mapped[int] = mapped_column(Integer)
    imported: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    details: Mapped[str | None] = mapped_column(Text)


class Incident(Base):
    """A reported incident (事件/案件) with its minor class, source, status and location."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_cat_time", "category_code", "occurred_at"),
        # migration 0005: one unit's or one window's incidents by a range scan
        Index("ix_incidents_h3_r11", "h3_r11"),
        Index("ix_incidents_fishnet", "fx50", "fy50"),
        Index("ix_incidents_reported_at", "reported_at"),
        # migration 0010: some micro-grids over a period (an area's incidents) by one range
        # each; its prefix serves grid_code alone
        Index("ix_incidents_grid_time", "grid_code", "occurred_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(Text, unique=True)
    category_code: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    reported_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    department: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    grid_code: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    # intake (migration 0002): the file's own category text, the CRS its coordinates were in,
    # the level-2 / level-1 ancestors of grid_code, and duplicate / repeat-location links
    category_raw: Mapped[str | None] = mapped_column(Text)
    coord_crs: Mapped[str | None] = mapped_column(Text)
    grid_l2: Mapped[str | None] = mapped_column(Text)
    grid_l1: Mapped[str | None] = mapped_column(Text)
    duplicate_of: Mapped[str | None] = mapped_column(Text, index=True)
    is_repeat_location: Mapped[bool | None] = mapped_column(Boolean)
    # unit keys (migration 0003), set at import: the H3 cells at the resolutions the app offers
    # and the 50-m fishnet cell in the district's metric CRS (meta fishnet_epsg)
    h3_r8: Mapped[int | None] = mapped_column(BigInteger)
    h3_r9: Mapped[int | None] = mapped_column(BigInteger)
    h3_r10: Mapped[int | None] = mapped_column(BigInteger)
    h3_r11: Mapped[int | None] = mapped_column(BigInteger)
    fx50: Mapped[int | None] = mapped_column(Integer)
    fy50: Mapped[int | None] = mapped_column(Integer)
    geom = _geom("POINT")


class IncidentCube(Base):
    """A month of incident counts per day x category x source x micro-grid x unit, for one
    unit family (``grid``, ``h3``, ``fishnet``): the aggregate every page reads.

    ``payload`` holds the month's grouped rows as numpy arrays (``gis.store.cube``); it is
    rebuilt from ``incidents`` in the same transaction as every write that changes them.
    """

    __tablename__ = "incident_cube"
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    month: Mapped[str] = mapped_column(Text, primary_key=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    n_rows: Mapped[int] = mapped_column(Integer)
    n_incidents: Mapped[int] = mapped_column(Integer)


class PatrolTrack(Base):
    """One patrol of one staff member (a shift), made of GPS fixes."""

    __tablename__ = "patrol_tracks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    track_code: Mapped[str] = mapped_column(Text, unique=True)
    staff_code: Mapped[str] = mapped_column(Text, index=True)
    shift: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)


class PatrolFix(Base):
    """A GPS fix of a patrol track."""

    __tablename__ = "patrol_fixes"
    __table_args__ = (
        Index("ix_patrol_fixes_track_t", "track_id", "t"),
        # one fix per staff member and time: two imports of one file at once store it once
        Index("ux_patrol_fixes_staff_t", "staff_code", "t", unique=True),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("patrol_tracks.id", ondelete="CASCADE"))
    staff_code: Mapped[str] = mapped_column(Text)
    t: Mapped[datetime] = mapped_column(DateTime, index=True)
    geom = _geom("POINT")


class Street(Base):
    """A street segment of the district's own basemap (main road, street, alley)."""

    __tablename__ = "streets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str | None] = mapped_column(Text)
    highway: Mapped[str | None] = mapped_column(Text)
    geom = _geom("LINESTRING")


class Place(Base):
    """A place that drives incidents or has a dedicated grid (market, school, hospital ...)."""

    __tablename__ = "places"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    geom = _geom("POINT")


class Plan(Base):
    """A joint rectification plan (联合整治): an area, a period, departments, a status."""

    __tablename__ = "plans"
    __table_args__ = (CheckConstraint(_in("status", PLAN_STATUSES), name="ck_plans_status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text)
    period_start: Mapped[datetime] = mapped_column(DateTime)
    period_end: Mapped[datetime] = mapped_column(DateTime)
    departments: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default="draft")
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    geom = _geom("MULTIPOLYGON")


class User(Base):
    """A local account. ``grid_codes`` limits a grid admin (edits) or a grid worker (cases) to
    the grids assigned to them; ``department`` is the department a case handler works for."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", USER_ROLES), name="ck_users_role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(Text, unique=True)
    display_name: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    grid_codes: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str | None] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(Text)


class SignInFailure(Base):
    """Failed sign-ins of one username in a row (migration 0005_audit2): the account is locked
    until ``locked_until`` after ``gis.auth.LOCKOUT_FAILURES`` of them."""

    __tablename__ = "sign_in_failures"
    username: Mapped[str] = mapped_column(Text, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_failure: Mapped[datetime | None] = mapped_column(DateTime)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)


class UserSession(Base):
    """A signed-in session (migration 0005_audit2): the SHA-256 of its random token, who, and
    when it was made and last used (idle sessions expire, see ``gis.auth.SESSION_IDLE``)."""

    __tablename__ = "user_sessions"
    token_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    username: Mapped[str] = mapped_column(Text, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime)


# --- cases: the closed loop (migration 0003) -----------------------------------------------------

CASE_URGENCIES = ("general", "major", "emergency")
CASE_LIMIT_TYPES = ("work_hour", "work_day", "natural_hour", "natural_day")
#: the columns of the covering index the assessment query by department scans
CASE_DEPARTMENT_VIEW = (
    "department",
    "reported_us",
    "accepted_us",
    "closed_us",
    "deadline_us",
    "ended_us",
    "first_dispatch_us",
    "last_dispatch_us",
    "first_suspend_us",
    "first_rework_us",
    "first_extension_us",
    "first_return_us",
    "evaluated_us",
    "satisfied",
)


class Case(Base):
    """A case (案件) of the closed loop: the static facts of its report, and a stored view.

    The truth of what happened to a case is its rows in ``case_transitions``. The columns from
    ``state`` on are a stored view of them (current state, version, the times metrics need),
    written with every transition and recomputable from the transitions alone
    (``gis.cases.case_facts``); ``version`` is the number of transitions (optimistic locking).
    The view's times (``*_us``) are integers: microseconds from 1970-01-01 of the naive
    wall-clock time (not UTC), so that the assessment query compares numbers in narrow rows;
    ``gis.store.cases`` turns them into datetimes and back.
    """

    __tablename__ = "cases"
    __table_args__ = (
        # the assessment query by department reads this index alone, already in unit order
        Index("ix_cases_department_view", *CASE_DEPARTMENT_VIEW),
        # cases dispatched again after a period's end (their unit then is looked up)
        Index("ix_cases_last_dispatch", "last_dispatch_us", "reported_us"),
        CheckConstraint(_in("urgency", CASE_URGENCIES), name="ck_cases_urgency"),
        CheckConstraint(
            f"limit_type IS NULL OR {_in('limit_type', CASE_LIMIT_TYPES)}",
            name="ck_cases_limit_type",
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_code: Mapped[str] = mapped_column(Text, unique=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    source: Mapped[str | None] = mapped_column(Text)
    category_code: Mapped[str | None] = mapped_column(Text, index=True)
    category_raw: Mapped[str | None] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(Text, default="general")
    # the grids in force when the case was reported
    grid_code: Mapped[str | None] = mapped_column(Text, index=True)
    grid_version: Mapped[int | None] = mapped_column(Integer)
    grid_l2: Mapped[str | None] = mapped_column(Text, index=True)
    grid_l1: Mapped[str | None] = mapped_column(Text, index=True)
    co_departments: Mapped[str | None] = mapped_column(Text)
    limit_value: Mapped[float | None] = mapped_column(Float)
    limit_type: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    # stored view of the transitions
    state: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    department: Mapped[str | None] = mapped_column(Text)
    assignee: Mapped[str | None] = mapped_column(Text, index=True)
    satisfied: Mapped[bool | None] = mapped_column(Boolean)
    reported_us: Mapped[int] = mapped_column(BigInteger, index=True)
    accepted_us: Mapped[int | None] = mapped_column(BigInteger)
    first_dispatch_us: Mapped[int | None] = mapped_column(BigInteger)
    last_dispatch_us: Mapped[int | None] = mapped_column(BigInteger)
    deadline_us: Mapped[int | None] = mapped_column(BigInteger)
    closed_us: Mapped[int | None] = mapped_column(BigInteger)
    ended_us: Mapped[int | None] = mapped_column(BigInteger)
    first_suspend_us: Mapped[int | None] = mapped_column(BigInteger)
    first_rework_us: Mapped[int | None] = mapped_column(BigInteger)
    first_extension_us: Mapped[int | None] = mapped_column(BigInteger)
    first_return_us: Mapped[int | None] = mapped_column(BigInteger)
    evaluated_us: Mapped[int | None] = mapped_column(BigInteger)
    supervised_us: Mapped[int | None] = mapped_column(BigInteger)
    supervision_reply_us: Mapped[int | None] = mapped_column(BigInteger)
    updated_us: Mapped[int] = mapped_column(BigInteger)


class CaseTransition(Base):
    """One step of a case (上报, 受理, 立案, 派遣 ...): from, to, who, when, why; the truth.

    ``seq`` numbers a case's steps from 1 (the case's version after the step); times never go
    back along ``seq``. ``department``/``assignee`` name who holds the case after a dispatch or
    a return; ``deadline`` is the case deadline a step sets or moves (立案, 延期, 恢复).
    """

    __tablename__ = "case_transitions"
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(Text)
    from_state: Mapped[str | None] = mapped_column(Text)
    to_state: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(Text)
    assignee: Mapped[str | None] = mapped_column(Text)
    level: Mapped[int | None] = mapped_column(Integer)
    target_kind: Mapped[str | None] = mapped_column(Text)
    deadline: Mapped[datetime | None] = mapped_column(DateTime)
    result: Mapped[str | None] = mapped_column(Text)


# --- period reports: the archive (migration 0005_reports) ---------------------------------------

REPORT_KINDS = ("daily", "weekly", "monthly")
REPORT_FORMATS = ("html", "xlsx", "pdf")


class ReportArchive(Base):
    """A period report generated into the archive (日碰头 / 周点评 / 月通报): its period, when and
    by whom or what (a user, ``cron``, ``systemd``) it was made, its format and its bytes."""

    __tablename__ = "report_archive"
    __table_args__ = (
        CheckConstraint(_in("kind", REPORT_KINDS), name="ck_report_archive_kind"),
        CheckConstraint(_in("format", REPORT_FORMATS), name="ck_report_archive_format"),
        CheckConstraint(_in("lang", ("zh", "en")), name="ck_report_archive_lang"),
        Index("ix_report_archive_period", "kind", "period_start"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(Text)
    period_start: Mapped[datetime] = mapped_column(DateTime)
    period_end: Mapped[datetime] = mapped_column(DateTime)
    lang: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(Text)
    generated_at: Mapped[datetime] = mapped_column(DateTime)
    generated_by: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(Text)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    path: Mapped[str | None] = mapped_column(Text, nullable=True)


class CaseAttachment(Base):
    """A note or photo put on a case by someone working it (migration 0005_cases2).

    ``seq`` is the case's version when it was attached (the step it belongs to).
    """

    __tablename__ = "case_attachments"
    __table_args__ = (CheckConstraint(_in("kind", ATTACHMENT_KINDS), name="ck_attachment_kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    mime: Mapped[str | None] = mapped_column(Text)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    text: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime)


class OfficerRating(Base):
    """A community's monthly rating of an officer assigned to it (migration 0005_cases2): a
    score 0-100 and a comment; one per month, officer and community (a new one replaces it)."""

    __tablename__ = "officer_ratings"
    __table_args__ = (
        UniqueConstraint("month", "officer", "grid_code", name="uq_officer_rating"),
        CheckConstraint("score >= 0 AND score <= 100", name="ck_rating_score"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(Text, index=True)
    officer: Mapped[str] = mapped_column(Text)
    grid_code: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    comment: Mapped[str | None] = mapped_column(Text)
    rated_by: Mapped[str] = mapped_column(Text)
    rated_at: Mapped[datetime] = mapped_column(DateTime)


class Whistle(Base):
    """A summons (吹哨, migration 0005_cases2): a leader or dispatcher calls departments to a
    case, a joint-rectification plan or an area; each must report (报到) by ``report_by``."""

    __tablename__ = "whistles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="SET NULL"))
    area_wkt: Mapped[str | None] = mapped_column(Text)
    summoned_by: Mapped[str] = mapped_column(Text)
    summoned_at: Mapped[datetime] = mapped_column(DateTime)
    report_by: Mapped[datetime] = mapped_column(DateTime)


class WhistleDepartment(Base):
    """One summoned department of a whistle: when it reported and its sub-task with its clock."""

    __tablename__ = "whistle_departments"
    whistle_id: Mapped[int] = mapped_column(
        ForeignKey("whistles.id", ondelete="CASCADE"), primary_key=True
    )
    department: Mapped[str] = mapped_column(Text, primary_key=True)
    task: Mapped[str | None] = mapped_column(Text)
    task_due: Mapped[datetime | None] = mapped_column(DateTime)
    reported_at: Mapped[datetime | None] = mapped_column(DateTime)
    reported_by: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    done_by: Mapped[str | None] = mapped_column(Text)
