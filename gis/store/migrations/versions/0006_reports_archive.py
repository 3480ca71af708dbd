"""reports: the archive of generated period reports (日碰头 / 周点评 / 月通报)

Revision ID: 0005_reports
Revises: 0005_vol
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_reports"
down_revision = "0005_vol"
branch_labels = None
depends_on = None


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "report_archive",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("period_start", sa.DateTime(), nullable=False),
        sa.Column("period_end", sa.DateTime(), nullable=False),
        sa.Column("lang", sa.Text(), nullable=False),
        sa.Column("format", sa.Text(), nullable=False),
        sa.Column("generated_at", sa.DateTime(), nullable=False),
        sa.Column("generated_by", sa.Text(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.CheckConstraint(
            _in("kind", ("daily", "weekly", "monthly")), name="ck_report_archive_kind"
        ),
        sa.CheckConstraint(_in("format", ("html", "xlsx", "pdf")), name="ck_report_archive_format"),
        sa.CheckConstraint(_in("lang", ("zh", "en")), name="ck_report_archive_lang"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_archive_period", "report_archive", ["kind", "period_start"])


def downgrade() -> None:
    op.drop_index("ix_report_archive_period", table_name="report_archive")
    op.drop_table("report_archive")
