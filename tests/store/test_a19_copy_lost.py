"""Issue 19, Medium: the PostGIS connection lost in the middle of a COPY is one line (the
error of the rollback that follows must not replace it), on the CLI and the page guard."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from gis import store, ui
from gis.core.errors import GridLensError
from gis.incidents import import_incidents
from gis.store import frames

pytestmark = pytest.mark.postgis


@pytest.fixture
def pg_engine(pg_url):
    eng = store.make_engine(pg_url)
    store.migrate.downgrade(eng, "base") if store.migrate.current(eng) else None
    store.init_db(eng)
    yield eng
    store.migrate.downgrade(eng, "base")
    eng.dispose()


def test_connection_lost_mid_copy_is_one_store_error(pg_engine, pg_url, tmp_path, monkeypatch):
    csv = tmp_path / "i.csv"
    n = 2000
    pd.DataFrame(
        {
            "lon": [112.93 + 1e-5 * k for k in range(n)],
            "lat": [35.8] * n,
            "type": ["违停"] * n,
            "reported_at": ["2026-03-01 10:00"] * n,
        }
    ).to_csv(csv, index=False)
    real = frames._copy_postgis
    killer = sa.create_engine(
        sa.engine.make_url(pg_url).set(drivername="postgresql+psycopg2"),
        isolation_level="AUTOCOMMIT",
    )

    def lost(conn, table, *args, **kwargs):
        if table == "incidents":  # the server ends this session while the COPY is under way
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with killer.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        return real(conn, table, *args, **kwargs)

    monkeypatch.setattr(frames, "_copy_postgis", lost)
    shown = []
    monkeypatch.setattr(
        "gis.ui.errors.st",
        type("S", (), {"error": lambda t: shown.append(t), "warning": lambda t: shown.append(t)}),
    )
    with ui.guard() as outcome:
        import_incidents(pg_engine, csv)
    killer.dispose()
    assert isinstance(outcome.error, GridLensError), repr(outcome.error)
    assert len(shown) == 1 and "\n" not in shown[0].strip()
    assert store.count_rows(pg_engine, "incidents") == 0
