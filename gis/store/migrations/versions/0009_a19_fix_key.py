"""one GPS fix per staff member and time: a unique key on ``patrol_fixes (staff_code, t)``

Two imports of the same track file at once could both pass the "already imported" check and
store every fix twice. The import now checks inside its writing transaction (after taking the
fixes' write lock), and this key refuses a second copy whatever the writer. Duplicates stored
before this revision are removed first (the lowest id of each staff/time is kept).

Revision ID: 0009_a19
Revises: 0005_cases2
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_a19"
down_revision = "0005_cases2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        sa.text(
            "DELETE FROM patrol_fixes WHERE id NOT IN "
            "(SELECT MIN(id) FROM patrol_fixes GROUP BY staff_code, t)"
        )
    )
    op.create_index("ux_patrol_fixes_staff_t", "patrol_fixes", ["staff_code", "t"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_patrol_fixes_staff_t", table_name="patrol_fixes")
