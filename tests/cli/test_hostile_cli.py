"""One-line errors and safe defaults of the command line (issue 19, Medium): a --db typo never
creates a database, demo accounts never come back, rejected rows are written before the
commit beside the database, tracebacks become one line (read-only database, disk full,
garbage --start, status | head)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gis import store
from gis.cli import main

ROOT = Path(__file__).resolve().parents[2]
CX, CY = 112.905, 35.7925


def _run(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(err: str, needle: str) -> None:
    assert "Traceback" not in err and needle in err, err
    assert len(err.strip().splitlines()) == 1, err


def _tiny_db(tmp_path, tiny_grids) -> Path:
    db = tmp_path / "t.db"
    engine = store.open_store(str(db))
    store.init_db(engine)
    grids = tiny_grids.assign(version=1, valid_from=pd.Timestamp("2020-01-01"), created_by="t")
    store.save_frame(engine, "grids", grids)
    engine.dispose()
    return db


def _csv(tmp_path, n_bad: int = 1) -> Path:
    rows = pd.DataFrame(
        {
            "编号": ["E1", "E2", "E3"],
            "事件类型": ["违停", "违停", "违停"],
            "上报时间": ["2026-05-01 08:00", "2026-05-02 08:00", "garbage"][:3],
            "经度": [str(CX), str(CX), str(CX)],
            "纬度": [str(CY)] * 3,
        }
    )
    path = tmp_path / "in" / "in.csv"
    path.parent.mkdir(exist_ok=True)
    rows.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["migrate", "up"],
        ["incidents", "export", "--out", "x.csv"],
        ["grids", "export", "--out", "x.geojson"],
        ["users", "list"],
    ],
)
def test_a_db_typo_is_refused_naming_the_path(tmp_path, capsys, command):
    typo = tmp_path / "gridlenz.db"
    code, _, err = _run(capsys, *command, "--db", str(typo))
    assert code == 1
    _one_line(err, str(typo))
    assert not typo.exists()


def test_a_db_typo_on_import_creates_nothing(tmp_path, capsys):
    typo = tmp_path / "typo.db"
    code, _, err = _run(capsys, "incidents", "import", str(_csv(tmp_path)), "--db", str(typo))
    assert code == 1 and not typo.exists()
    _one_line(err, "no database at")


def test_init_creates_the_database(tmp_path, capsys):
    db = tmp_path / "new.db"
    code, _, err = _run(capsys, "init", "--db", str(db))
    assert code == 0, err
    assert db.exists()


def test_rejected_rows_beside_the_database_written_before_the_commit(tmp_path, tiny_grids, capsys):
    db = _tiny_db(tmp_path, tiny_grids)
    src = _csv(tmp_path)
    os.chmod(src.parent, 0o555)  # a read-only input folder
    try:
        code, out, err = _run(capsys, "incidents", "import", str(src), "--db", str(db))
    finally:
        os.chmod(src.parent, 0o755)
    assert code == 0, err
    written = list((db.parent / "rejected").glob("in.*.rejected.csv"))
    assert len(written) == 1 and str(written[0]) in out
    assert pd.read_csv(written[0])["编号"].tolist() == ["E3"]
    # an unwritable target: one line, and nothing imported
    engine = store.open_store(str(db))
    before = store.count_rows(engine, "incidents")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    src2 = src.with_name("in2.csv")
    pd.read_csv(src).assign(编号=["F1", "F2", "F3"]).to_csv(src2, index=False)
    code, _, err = _run(
        capsys,
        "incidents",
        "import",
        str(src2),
        "--db",
        str(db),
        "--rejected-out",
        str(blocker / "r.csv"),
    )
    assert code == 1
    _one_line(err, "nothing was imported")
    assert store.count_rows(engine, "incidents") == before


def test_read_only_database_is_one_line(tmp_path, tiny_grids, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes to read-only files")
    db = _tiny_db(tmp_path, tiny_grids)
    os.chmod(db, 0o444)
    code, _, err = _run(capsys, "incidents", "import", str(_csv(tmp_path)), "--db", str(db))
    assert code == 1
    _one_line(err, "error")


def test_disk_full_is_one_line(tmp_path, tiny_grids, capsys, monkeypatch):
    """Simulated: the export's writer gets ENOSPC."""
    import errno

    db = _tiny_db(tmp_path, tiny_grids)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "o.csv"))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    code, _, err = _run(
        capsys, "incidents", "export", "--out", str(tmp_path / "o.csv"), "--db", str(db)
    )
    assert code == 1
    _one_line(err, "No space left on device")


def test_garbage_start_is_one_usage_line(tmp_path, tiny_grids, capsys):
    db = _tiny_db(tmp_path, tiny_grids)
    with pytest.raises(SystemExit) as stop:
        main(["incidents", "export", "--out", "x.csv", "--start", "garbage", "--db", str(db)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    assert "--start: cannot read 'garbage'" in err


def test_status_into_a_closed_pipe(tmp_path, tiny_grids):
    db = _tiny_db(tmp_path, tiny_grids)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        f"{sys.executable} -m gis status --db {db} | true",  # the reader has left
        shell=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
