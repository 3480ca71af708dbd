"""unit keys on incidents (H3 resolutions 8-11, 50-m fishnet) and the monthly incident cube

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = [
    *[(f"h3_r{r}", sa.BigInteger()) for r in (8, 9, 10, 11)],
    ("fx50", sa.Integer()),
    ("fy50", sa.Integer()),
]


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column("incidents", sa.Column(name, type_, nullable=True))
    op.create_table(
        "incident_cube",
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("month", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("n_incidents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "month"),
    )


def downgrade() -> None:
    op.drop_table("incident_cube")
    bind = op.get_bind()
    for name, _ in reversed(COLUMNS):
        if bind.dialect.name == "sqlite":
            # SQLite >= 3.35 drops a column in place (batch mode would lose SpatiaLite's
            # geometry registration and R*Tree triggers)
            op.execute(f'ALTER TABLE incidents DROP COLUMN "{name}"')
        else:
            op.drop_column("incidents", name)
