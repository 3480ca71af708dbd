"""Import batches: THE record of one import (who, when, which file, how every row went).

Every import — incidents, tracks, cases, grids — writes its ``import_batches`` row here, inside
the import's own transaction, and gets the row's id from the database itself (``RETURNING`` on
PostgreSQL, ``lastrowid`` on SQLite), never from ``SELECT max(id)``: two concurrent imports
each get their own id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gis.store.models import ImportBatch

__all__ = ["read_import_batches", "record_import_batch"]


def record_import_batch(
    conn: Connection,
    *,
    kind: str,
    file_name: str | None,
    imported_by: str | None,
    total: int,
    imported: int,
    rejected: int,
    details: Mapping[str, Any] | None = None,
    imported_at: datetime | None = None,
) -> int:
    """Insert one ``import_batches`` row on ``conn`` (the import's transaction); return its id.

    Parameters
    ----------
    conn
        A connection inside the import's transaction (``engine.begin()``).
    kind
        ``incidents``, ``tracks``, ``cases``, ``grids`` ...
    file_name, imported_by
        The file's name and who imported it.
    total, imported, rejected
        The accounting: ``imported + rejected == total``.
    details
        Reasons and options, stored as JSON text.
    imported_at
        When (default now, to the second, local wall clock).
    """
    stmt = (
        sa.insert(ImportBatch)
        .values(
            kind=kind,
            file_name=file_name,
            imported_by=imported_by,
            imported_at=imported_at or datetime.now().replace(microsecond=0),
            total=int(total),
            imported=int(imported),
            rejected=int(rejected),
            details=json.dumps(dict(details or {}), ensure_ascii=False, default=str),
        )
        .returning(ImportBatch.id)
    )
    return int(conn.execute(stmt).scalar_one())


def read_import_batches(engine: Engine, limit: int = 50, kind: str | None = None) -> pd.DataFrame:
    """The last imports, newest first: ``id, kind, file_name, imported_by, imported_at, total,
    imported, rejected, details``."""
    query = sa.select(ImportBatch.__table__).order_by(
        ImportBatch.imported_at.desc(), ImportBatch.id.desc()
    )
    if kind is not None:
        query = query.where(ImportBatch.kind == kind)
    with engine.connect() as conn:
        return pd.read_sql(query.limit(int(limit)), conn)
