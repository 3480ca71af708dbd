"""Incident rows the intake reads and updates besides the bulk write (``frames.save_frame``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["stored_external_ids", "update_incident_links"]


def stored_external_ids(conn: Connection) -> np.ndarray:
    """The ``external_id`` of every stored incident (object array), for re-import checks."""
    ids = conn.execute(sa.text("SELECT external_id FROM incidents")).scalars().all()
    return np.array(ids, dtype=object)


def update_incident_links(conn: Connection, changed: pd.DataFrame) -> int:
    """Set ``duplicate_of`` and ``is_repeat_location`` of stored incidents (by ``id``), in the
    caller's transaction; returns the rows updated."""
    if changed.empty:
        return 0
    conn.execute(
        sa.text("UPDATE incidents SET duplicate_of = :d, is_repeat_location = :r WHERE id = :id"),
        [
            {"d": d, "r": bool(r), "id": int(i)}
            for i, d, r in zip(
                changed["id"], changed["duplicate_of"], changed["is_repeat_location"], strict=True
            )
        ],
    )
    return len(changed)
