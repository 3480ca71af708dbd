"""cases part 2: the case roles (dispatcher, handler, grid worker), a handler's department, notes
and photos on cases, the communities' monthly ratings of their officers, whistles (吹哨报到)

Revision ID: 0005_cases2
Revises: 0005_audit2
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_cases2"
down_revision = "0005_audit2"
branch_labels = None
depends_on = None

OLD_ROLES = ("analyst", "leader", "grid_admin", "admin")
NEW_ROLES = (*OLD_ROLES, "dispatcher", "handler", "grid_worker")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _roles(roles: tuple[str, ...]) -> None:
    # SQLite cannot alter a CHECK constraint: batch mode copies the table with the new one
    with op.batch_alter_table("users", recreate="always") as batch_op:
        batch_op.drop_constraint("ck_users_role", type_="check")
        batch_op.create_check_constraint("ck_users_role", _in("role", roles))


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("department", sa.Text(), nullable=True))
    _roles(NEW_ROLES)
    op.create_table(
        "case_attachments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("mime", sa.Text(), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('note', 'photo')", name="ck_attachment_kind"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_attachments_case_id", "case_attachments", ["case_id"])
    op.create_table(
        "officer_ratings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("month", sa.Text(), nullable=False),
        sa.Column("officer", sa.Text(), nullable=False),
        sa.Column("grid_code", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("rated_by", sa.Text(), nullable=False),
        sa.Column("rated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("score >= 0 AND score <= 100", name="ck_rating_score"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("month", "officer", "grid_code", name="uq_officer_rating"),
    )
    op.create_index("ix_officer_ratings_month", "officer_ratings", ["month"])
    op.create_table(
        "whistles",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("area_wkt", sa.Text(), nullable=True),
        sa.Column("summoned_by", sa.Text(), nullable=False),
        sa.Column("summoned_at", sa.DateTime(), nullable=False),
        sa.Column("report_by", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "whistle_departments",
        sa.Column("whistle_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("task", sa.Text(), nullable=True),
        sa.Column("task_due", sa.DateTime(), nullable=True),
        sa.Column("reported_at", sa.DateTime(), nullable=True),
        sa.Column("reported_by", sa.Text(), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("done_by", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["whistle_id"], ["whistles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("whistle_id", "department"),
    )


def downgrade() -> None:
    op.drop_table("whistle_departments")
    op.drop_table("whistles")
    op.drop_index("ix_officer_ratings_month", table_name="officer_ratings")
    op.drop_table("officer_ratings")
    op.drop_index("ix_case_attachments_case_id", table_name="case_attachments")
    op.drop_table("case_attachments")
    op.execute(f"DELETE FROM users WHERE NOT ({_in('role', OLD_ROLES)})")
    _roles(OLD_ROLES)
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("department")
