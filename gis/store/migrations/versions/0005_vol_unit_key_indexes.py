"""unit key indexes: one unit's incidents by an index range scan (pages read aggregates)

The pages read the incident cube; single incidents are read only for a small selection, such as
one unit's detail (``gis.store.incidents.select_incidents``): an H3 cell of any resolution is an
``h3_r11`` range, a fishnet cell an ``(fx50, fy50)`` range, an on-time closure window a
``reported_at`` range. These indexes make each of those a range scan instead of a full scan.

Revision ID: 0005_vol
Revises: 0004
Create Date: 2026-12-04
"""

from alembic import op

revision = "0005_vol"
down_revision = "0004"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_incidents_h3_r11", ["h3_r11"]),
    ("ix_incidents_fishnet", ["fx50", "fy50"]),
    ("ix_incidents_reported_at", ["reported_at"]),
)


def upgrade() -> None:
    for name, cols in INDEXES:
        op.create_index(name, "incidents", cols)


def downgrade() -> None:
    for name, _ in INDEXES:
        op.drop_index(name, table_name="incidents")
