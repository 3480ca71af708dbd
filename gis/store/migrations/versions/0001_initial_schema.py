"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("joint_team", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_geospatial_table(
        "grid_edits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("grid_code", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("version_before", sa.Integer(), nullable=True),
        sa.Column("version_after", sa.Integer(), nullable=True),
        sa.Column("edited_by", sa.Text(), nullable=False),
        sa.Column("edited_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column(
            "geom_before",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column(
            "geom_after",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("grid_edits", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_grid_edits_geom_after",
            ["geom_after"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_geospatial_index(
            "idx_grid_edits_geom_before",
            ["geom_before"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index(batch_op.f("ix_grid_edits_grid_code"), ["grid_code"], unique=False)

    op.create_geospatial_table(
        "grids",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("parent_code", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("households", sa.Integer(), nullable=True),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.Column("businesses", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.DateTime(), nullable=False),
        sa.Column("valid_to", sa.DateTime(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("level IN ('l1', 'l2', 'micro', 'dedicated')", name="ck_grids_level"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", "version", name="uq_grids_code_version"),
    )
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_grids_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )
        batch_op.create_index(batch_op.f("ix_grids_code"), ["code"], unique=False)
        batch_op.create_index("ix_grids_current", ["level", "valid_to"], unique=False)
        batch_op.create_index(batch_op.f("ix_grids_parent_code"), ["parent_code"], unique=False)

    op.create_table(
        "import_batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("imported_by", sa.Text(), nullable=True),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "patrol_tracks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("track_code", sa.Text(), nullable=False),
        sa.Column("staff_code", sa.Text(), nullable=False),
        sa.Column("shift", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("track_code"),
    )
    with op.batch_alter_table("patrol_tracks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patrol_tracks_staff_code"), ["staff_code"], unique=False
        )

    op.create_geospatial_table(
        "places",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_places_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )

    op.create_geospatial_table(
        "plans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("period_start", sa.DateTime(), nullable=False),
        sa.Column("period_end", sa.DateTime(), nullable=False),
        sa.Column("departments", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'approved', 'active', 'done', 'cancelled')", name="ck_plans_status"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_plans_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )

    op.create_geospatial_table(
        "streets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("highway", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="LINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("streets", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_streets_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("grid_codes", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "role IN ('analyst', 'leader', 'grid_admin', 'admin')", name="ck_users_role"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_geospatial_table(
        "incidents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("category_code", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("severity", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("grid_code", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["import_batches.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("external_id"),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_incidents_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )
        batch_op.create_index(
            "ix_incidents_cat_time", ["category_code", "occurred_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_incidents_grid_code"), ["grid_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_occurred_at"), ["occurred_at"], unique=False)

    op.create_geospatial_table(
        "patrol_fixes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("staff_code", sa.Text(), nullable=False),
        sa.Column("t", sa.DateTime(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["track_id"], ["patrol_tracks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("patrol_fixes", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_patrol_fixes_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index(batch_op.f("ix_patrol_fixes_t"), ["t"], unique=False)
        batch_op.create_index("ix_patrol_fixes_track_t", ["track_id", "t"], unique=False)

    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("staff_code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("grid_code", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "role IN ('grid_leader', 'grid_worker', 'grid_assistant', 'enforcement_officer')",
            name="ck_staff_role",
        ),
        sa.ForeignKeyConstraint(
            ["department"],
            ["departments.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("staff_code"),
    )
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_grid_code"), ["grid_code"], unique=False)

    op.create_table(
        "taxonomy",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("major_code", sa.Text(), nullable=False),
        sa.Column("major_name_zh", sa.Text(), nullable=False),
        sa.Column("major_name_en", sa.Text(), nullable=False),
        sa.Column("minor_code", sa.Text(), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("co_departments", sa.Text(), nullable=True),
        sa.Column("list_type", sa.Text(), nullable=False),
        sa.Column("time_limit_h", sa.Float(), nullable=False),
        sa.Column("severity_weight", sa.Integer(), nullable=False),
        sa.CheckConstraint("list_type IN ('enforcement', 'service')"),
        sa.ForeignKeyConstraint(
            ["department"],
            ["departments.code"],
        ),
        sa.PrimaryKeyConstraint("code"),
    )


def downgrade() -> None:
    op.drop_table("taxonomy")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_grid_code"))

    op.drop_table("staff")
    with op.batch_alter_table("patrol_fixes", schema=None) as batch_op:
        batch_op.drop_index("ix_patrol_fixes_track_t")
        batch_op.drop_index(batch_op.f("ix_patrol_fixes_t"))
        batch_op.drop_geospatial_index(
            "idx_patrol_fixes_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("patrol_fixes")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_incidents_grid_code"))
        batch_op.drop_index("ix_incidents_cat_time")
        batch_op.drop_geospatial_index(
            "idx_incidents_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("incidents")
    op.drop_table("users")
    with op.batch_alter_table("streets", schema=None) as batch_op:
        batch_op.drop_geospatial_index(
            "idx_streets_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("streets")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_geospatial_index(
            "idx_plans_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("plans")
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.drop_geospatial_index(
            "idx_places_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("places")
    with op.batch_alter_table("patrol_tracks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patrol_tracks_staff_code"))

    op.drop_table("patrol_tracks")
    op.drop_table("meta")
    op.drop_table("import_batches")
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grids_parent_code"))
        batch_op.drop_index("ix_grids_current")
        batch_op.drop_index(batch_op.f("ix_grids_code"))
        batch_op.drop_geospatial_index(
            "idx_grids_geom", postgresql_using="gist", column_name="geom"
        )

    op.drop_geospatial_table("grids")
    with op.batch_alter_table("grid_edits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grid_edits_grid_code"))
        batch_op.drop_geospatial_index(
            "idx_grid_edits_geom_before", postgresql_using="gist", column_name="geom_before"
        )
        batch_op.drop_geospatial_index(
            "idx_grid_edits_geom_after", postgresql_using="gist", column_name="geom_after"
        )

    op.drop_geospatial_table("grid_edits")
    op.drop_table("departments")
