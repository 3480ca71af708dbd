"""Issue 19, Medium: an import behind another program's read transaction on SpatiaLite gives
up after a bounded wait (``settings.SQLITE_BUSY_TIMEOUT_S``) with one line saying why, on the
command line and on the Data page's error guard."""

from __future__ import annotations

import subprocess
import sys
import time

import pandas as pd
import pytest

from gis import store, ui
from gis.cli import main
from gis.core import settings
from gis.core.errors import StoreError
from gis.incidents import import_incidents

HOLD = (
    "import sqlite3, sys, time; r = sqlite3.connect(sys.argv[1], isolation_level=None); "
    "r.execute('BEGIN'); r.execute('SELECT count(*) FROM incidents').fetchone(); "
    "print('held', flush=True); time.sleep(60)"
)


class _Shown:
    def __init__(self):
        self.shown: list[tuple[str, str]] = []

    def warning(self, text):
        self.shown.append(("warning", text))

    def error(self, text):
        self.shown.append(("error", text))


@pytest.fixture
def held_db(tmp_path, monkeypatch):
    """A SpatiaLite store and a CSV, while another process holds a read transaction on it."""
    monkeypatch.setattr(settings, "SQLITE_BUSY_TIMEOUT_S", 0.5)
    db = tmp_path / "t.db"
    engine = store.open_store(str(db))
    store.init_db(engine)
    engine.dispose()
    csv = tmp_path / "i.csv"
    pd.DataFrame(
        {"lon": [112.93], "lat": [35.8], "type": ["违停"], "reported_at": ["2026-03-01 10:00"]}
    ).to_csv(csv, index=False)
    reader = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE)
    assert reader.stdout.readline().strip() == b"held"
    yield db, csv
    reader.kill()
    reader.wait()


def test_import_behind_a_reader_gives_up_in_one_line(held_db, capsys):
    db, csv = held_db
    t0 = time.perf_counter()
    code = main(["incidents", "import", str(csv), "--db", str(db)])
    waited = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert "locked by another program" in err and "gave up after 0.5 s" in err
    assert waited < 20


def test_import_behind_a_reader_on_the_page_guard(held_db, monkeypatch):
    db, csv = held_db
    shown = _Shown()
    monkeypatch.setattr("gis.ui.errors.st", shown)
    engine = store.open_store(str(db))
    with ui.guard() as outcome:
        import_incidents(engine, csv)
    engine.dispose()
    assert isinstance(outcome.error, StoreError)
    assert shown.shown[0][0] == "error" and "locked by another program" in shown.shown[0][1]
