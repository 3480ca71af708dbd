"""cases: the closed loop's cases and their transitions (the truth of every step)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

URGENCIES = ("general", "major", "emergency")
LIMIT_TYPES = ("work_hour", "work_day", "natural_hour", "natural_day")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


#: the stored view of the transitions: (name, type, nullable); times as integer microseconds
#: from 1970-01-01 of the naive wall-clock time, so the assessment query compares numbers
VIEW_COLUMNS = [
    ("state", sa.Text(), False),
    ("version", sa.Integer(), False),
    ("department", sa.Text(), True),
    ("assignee", sa.Text(), True),
    ("satisfied", sa.Boolean(), True),
    ("reported_us", sa.BigInteger(), False),
    ("accepted_us", sa.BigInteger(), True),
    ("first_dispatch_us", sa.BigInteger(), True),
    ("last_dispatch_us", sa.BigInteger(), True),
    ("deadline_us", sa.BigInteger(), True),
    ("closed_us", sa.BigInteger(), True),
    ("ended_us", sa.BigInteger(), True),
    ("first_suspend_us", sa.BigInteger(), True),
    ("first_rework_us", sa.BigInteger(), True),
    ("first_extension_us", sa.BigInteger(), True),
    ("first_return_us", sa.BigInteger(), True),
    ("evaluated_us", sa.BigInteger(), True),
    ("supervised_us", sa.BigInteger(), True),
    ("supervision_reply_us", sa.BigInteger(), True),
    ("updated_us", sa.BigInteger(), False),
]
#: indexed columns of ``cases``
INDEXED = (
    "incident_id",
    "category_code",
    "grid_code",
    "grid_l2",
    "grid_l1",
    "assignee",
    "reported_us",
)
#: the covering index the assessment query by department scans (in unit order, no table reads)
DEPARTMENT_VIEW = (
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


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_code", sa.Text(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("category_code", sa.Text(), nullable=True),
        sa.Column("category_raw", sa.Text(), nullable=True),
        sa.Column("urgency", sa.Text(), nullable=False),
        sa.Column("grid_code", sa.Text(), nullable=True),
        sa.Column("grid_version", sa.Integer(), nullable=True),
        sa.Column("grid_l2", sa.Text(), nullable=True),
        sa.Column("grid_l1", sa.Text(), nullable=True),
        sa.Column("co_departments", sa.Text(), nullable=True),
        sa.Column("limit_value", sa.Float(), nullable=True),
        sa.Column("limit_type", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        *(sa.Column(name, type_, nullable=nullable) for name, type_, nullable in VIEW_COLUMNS),
        sa.CheckConstraint(_in("urgency", URGENCIES), name="ck_cases_urgency"),
        sa.CheckConstraint(
            f"limit_type IS NULL OR {_in('limit_type', LIMIT_TYPES)}", name="ck_cases_limit_type"
        ),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batches.id"]),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_code"),
    )
    for column in INDEXED:
        op.create_index(f"ix_cases_{column}", "cases", [column])
    op.create_index("ix_cases_department_view", "cases", list(DEPARTMENT_VIEW))
    op.create_index("ix_cases_last_dispatch", "cases", ["last_dispatch_us", "reported_us"])
    op.create_table(
        "case_transitions",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("from_state", sa.Text(), nullable=True),
        sa.Column("to_state", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("assignee", sa.Text(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("target_kind", sa.Text(), nullable=True),
        sa.Column("deadline", sa.DateTime(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id", "seq"),
    )
    op.create_index("ix_case_transitions_at", "case_transitions", ["at"])


def downgrade() -> None:
    op.drop_index("ix_case_transitions_at", table_name="case_transitions")
    op.drop_table("case_transitions")
    op.drop_index("ix_cases_last_dispatch", table_name="cases")
    op.drop_index("ix_cases_department_view", table_name="cases")
    for column in reversed(INDEXED):
        op.drop_index(f"ix_cases_{column}", table_name="cases")
    op.drop_table("cases")
