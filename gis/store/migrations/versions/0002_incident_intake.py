"""incident intake: raw category, source CRS, grid ancestors, duplicates and repeat locations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: new nullable columns of ``incidents`` (name, type)
COLUMNS = [
    ("category_raw", sa.Text()),
    ("coord_crs", sa.Text()),
    ("grid_l2", sa.Text()),
    ("grid_l1", sa.Text()),
    ("duplicate_of", sa.Text()),
    ("is_repeat_location", sa.Boolean()),
]


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column("incidents", sa.Column(name, type_, nullable=True))
    op.create_index("ix_incidents_duplicate_of", "incidents", ["duplicate_of"])


def downgrade() -> None:
    op.drop_index("ix_incidents_duplicate_of", table_name="incidents")
    bind = op.get_bind()
    for name, _ in reversed(COLUMNS):
        if bind.dialect.name == "sqlite":
            # SQLite >= 3.35 drops a column in place; batch mode would rebuild the table and lose
            # SpatiaLite's geometry registration and R*Tree triggers.
            op.execute(f'ALTER TABLE incidents DROP COLUMN "{name}"')
        else:
            op.drop_column("incidents", name)
