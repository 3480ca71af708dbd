"""The ``report_archive`` table: period reports generated into the archive.

One row per generated file: its kind and period, language and format, when and by whom or what
it was made, its size and SHA-256, and the file itself (``content``) or where it was written
(``path``). A row is written in one transaction after the file is complete, so a failed run adds
nothing.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gis.core.errors import InputError
from gis.store.frames import typed_text
from gis.store.models import REPORT_FORMATS, REPORT_KINDS

#: the listing's columns (everything but the bytes)
ARCHIVE_COLUMNS = [
    "id",
    "kind",
    "period_start",
    "period_end",
    "lang",
    "format",
    "generated_at",
    "generated_by",
    "file_name",
    "size_bytes",
    "sha256",
    "path",
]


def archive_report(
    engine: Engine,
    *,
    kind: str,
    period_start: datetime,
    period_end: datetime,
    lang: str,
    fmt: str,
    generated_by: str,
    file_name: str,
    content: bytes,
    keep_bytes: bool = True,
    path: str | None = None,
    generated_at: datetime | None = None,
) -> int:
    """Add a generated report to the archive; returns its id.

    Parameters
    ----------
    content
        The file's bytes (their size and SHA-256 are always recorded).
    keep_bytes
        Store the bytes in the row (default); otherwise only ``path`` is kept.
    path
        Where the file was written, if it was.

    Raises
    ------
    InputError
        Unknown kind, format or language; no bytes and no path.
    """
    if kind not in REPORT_KINDS:
        raise InputError(f"report kind must be one of {', '.join(REPORT_KINDS)}, got {kind!r}")
    if fmt not in REPORT_FORMATS:
        raise InputError(f"report format must be one of {', '.join(REPORT_FORMATS)}, got {fmt!r}")
    if lang not in ("zh", "en"):
        raise InputError(f"report language must be zh or en, got {lang!r}")
    if not keep_bytes and not path:
        raise InputError("an archived report needs its bytes or a path")
    values = {
        "kind": kind,
        "period_start": pd.Timestamp(period_start).to_pydatetime(),
        "period_end": pd.Timestamp(period_end).to_pydatetime(),
        "lang": lang,
        "format": fmt,
        "generated_at": pd.Timestamp(generated_at or datetime.now()).floor("s").to_pydatetime(),
        "generated_by": generated_by,
        "file_name": file_name,
        "size_bytes": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "content": content if keep_bytes else None,
        "path": path,
    }
    names = list(values)
    sql = (
        f"INSERT INTO report_archive ({', '.join(names)})"
        f" VALUES ({', '.join(':' + n for n in names)})"
    )
    with engine.begin() as conn:
        conn.execute(typed_text(sql, values), values)
        new_id = conn.execute(sa.text("SELECT MAX(id) FROM report_archive")).scalar()
    return int(new_id)


def list_archive(engine: Engine, kind: str | None = None, limit: int = 500) -> pd.DataFrame:
    """The archive, newest first (``ARCHIVE_COLUMNS``; no bytes)."""
    where, params = "", {"limit": int(limit)}
    if kind is not None:
        where, params["kind"] = " WHERE kind = :kind", kind
    sql = (
        f"SELECT {', '.join(ARCHIVE_COLUMNS)} FROM report_archive{where}"
        " ORDER BY generated_at DESC, id DESC LIMIT :limit"
    )
    with engine.connect() as conn:
        rows = conn.execute(sa.text(sql), params).fetchall()
    frame = pd.DataFrame.from_records(rows, columns=ARCHIVE_COLUMNS)
    for col in ("period_start", "period_end", "generated_at"):
        frame[col] = pd.to_datetime(frame[col])
    return frame


def archived_bytes(engine: Engine, report_id: int) -> bytes | None:
    """The stored bytes of archived report ``report_id`` (None when only a path was kept)."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT content FROM report_archive WHERE id = :id"), {"id": int(report_id)}
        ).first()
    if row is None:
        raise InputError(f"no archived report {report_id}")
    return None if row[0] is None else bytes(row[0])


def count_archive(engine: Engine) -> int:
    """Reports in the archive."""
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT COUNT(*) FROM report_archive")).scalar() or 0)


__all__ = ["ARCHIVE_COLUMNS", "archive_report", "archived_bytes", "count_archive", "list_archive"]
