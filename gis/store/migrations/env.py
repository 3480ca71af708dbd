"""Alembic environment for GridLens.

Run through ``gis.store.migrate`` (which hands us an open connection), never through a URL in an
ini file. SpatiaLite's own internal tables are excluded from autogenerate: geoalchemy2's
``include_object`` does not know them and would emit ``drop_table`` for them.
"""

from alembic import context
from geoalchemy2 import alembic_helpers

from gis.store.models import Base

SPATIALITE_INTERNAL = {
    "SpatialIndex",
    "KNN",
    "KNN2",
    "ElementaryGeometries",
    "data_licenses",
    "sql_statements_log",
    "spatial_ref_sys",
    "spatial_ref_sys_aux",
    "spatialite_history",
    "geometry_columns",
    "geometry_columns_auth",
    "geometry_columns_field_infos",
    "geometry_columns_statistics",
    "geometry_columns_time",
    "views_geometry_columns",
    "views_geometry_columns_auth",
    "views_geometry_columns_field_infos",
    "views_geometry_columns_statistics",
    "virts_geometry_columns",
    "virts_geometry_columns_auth",
    "virts_geometry_columns_field_infos",
    "virts_geometry_columns_statistics",
    "sqlite_sequence",
    "spatial_ref_sys_all",
    "vector_layers",
    "vector_layers_auth",
    "vector_layers_field_infos",
    "vector_layers_statistics",
    "topology",
    "layer",
}


def include_object(obj, name, type_, reflected, compare_to):
    """Skip SpatiaLite/PostGIS bookkeeping tables and spatial index shadow tables."""
    if type_ == "table" and (
        name in SPATIALITE_INTERNAL or name.startswith("idx_") or name.startswith("ISO_")
    ):
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
