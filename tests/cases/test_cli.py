"""``gridlens cases ...`` end to end on a SpatiaLite file."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from gis import store
from gis.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_deadline_prints_it_on_the_last_line(capsys):
    code, out, _ = run(capsys, "cases", "deadline", "--start", "2026-02-13 17:00", "--limit", "2",
                       "--type", "work_hour")  # fmt: skip
    assert code == 0 and out.strip().splitlines()[-1] == "2026-02-14 09:00:00"
    code, out, _ = run(capsys, "cases", "deadline", "--start", "2026-03-02 10:00:00", "--limit",
                       "3", "--type", "work_hour", "--pause",
                       "2026-03-02 11:00/2026-03-02 15:30")  # fmt: skip
    assert out.strip().splitlines()[-1] == "2026-03-02 17:30:00"
    code, out, _ = run(capsys, "cases", "deadline", "--start", "2026-03-02 10:00", "--limit", "1",
                       "--type", "natural_day")  # fmt: skip
    assert out.strip().splitlines()[-1] == "2026-03-03 10:00:00"


def test_deadline_with_a_calendar_file_and_slots(capsys, tmp_path):
    cal = tmp_path / "cal.csv"
    cal.write_text("date,kind\n2026-03-03,holiday\n")
    code, out, _ = run(capsys, "cases", "deadline", "--start", "2026-03-02 16:00", "--limit", "2",
                       "--type", "work_hour", "--calendar", str(cal), "--slots",
                       "09:00-17:00")  # fmt: skip
    assert code == 0 and out.strip().splitlines()[-1] == "2026-03-04 10:00:00"


def test_bad_arguments_are_one_line_errors(capsys):
    code, _, err = run(capsys, "cases", "deadline", "--start", "soon", "--limit", "2", "--type",
                       "work_hour")  # fmt: skip
    assert code == 1 and "cannot read" in err and "Traceback" not in err
    code, _, err = run(capsys, "cases", "deadline", "--start", "2026-03-02 10:00", "--limit", "2",
                       "--type", "work_hour", "--pause", "2026-03-02 11:00")  # fmt: skip
    assert code == 1 and "START/END" in err
    with pytest.raises(SystemExit):
        main(["cases", "deadline", "--start", "2026-03-02", "--limit", "1", "--type", "week"])


def test_import_metrics_overdue_show_act(capsys, tmp_path, tiny_grids):
    db = str(tmp_path / "cases.db")
    engine = store.open_store(db)
    store.init_db(engine)
    store.save_frame(engine, "grids", tiny_grids.assign(version=1, valid_from=datetime(2025, 1, 1)))
    engine.dispose()
    rows = [
        {"案件编号": f"K{i}", "上报时间": f"2026-03-0{2 + i % 3} 09:00:00", "问题类型": "占道经营",
         "处置部门": "城管", "经度": 112.902, "纬度": 35.792,
         "结案时间": "2026-03-05 10:00:00" if i % 2 else ""}
        for i in range(6)
    ] + [{"案件编号": "K9", "上报时间": "", "问题类型": "x", "处置部门": "", "经度": 1, "纬度": 1}]  # fmt: skip
    src = tmp_path / "export.csv"
    pd.DataFrame(rows).to_csv(src, index=False, encoding="utf-8-sig")
    code, out, _ = run(capsys, "cases", "import", str(src), "--db", db)
    assert code == 0 and "6 imported + 1 rejected = 7 total" in out.splitlines()[-1]
    assert (tmp_path / "export.rejected.csv").exists()
    code, out, _ = run(capsys, "cases", "import", str(src), "--db", db)
    assert code == 1 and "0 imported + 7 rejected = 7 total" in out
    for suffix in (".csv", ".xlsx"):
        out_file = tmp_path / f"metrics{suffix}"
        code, out, _ = run(capsys, "cases", "metrics", "--by", "department", "--start",
                           "2026-03-01", "--end", "2026-03-09", "--out", str(out_file),
                           "--db", db)  # fmt: skip
        assert code == 0 and out_file.exists()
    table = pd.read_csv(tmp_path / "metrics.csv")
    assert {"unit", "close_rate", "on_time_close_rate", "score", "grade"} <= set(table.columns)
    assert table.set_index("unit").loc["chengguan", "reported"] == 6
    code, out, _ = run(capsys, "cases", "metrics", "--by", "grid:l1", "--out",
                       str(tmp_path / "grid.csv"), "--db", db, "--weights",
                       "close_rate=100,on_time_close_rate=0,rework_rate=0,overdue_open_rate=0,"
                       "extension_rate=0")  # fmt: skip
    assert code == 0
    code, out, _ = run(capsys, "cases", "overdue", "--at", "2026-03-09", "--db", db, "--out",
                       str(tmp_path / "red.csv"))  # fmt: skip
    assert code == 0 and "3 open cases past their deadline" in out
    code, out, _ = run(capsys, "cases", "show", "K0", "--db", db)
    assert "version 4" in out and "next:" in out and "handle" in out
    code, out, _ = run(capsys, "cases", "act", "K0", "handle", "--version", "4", "--by", "S1",
                       "--at", "2026-03-09 10:00", "--db", db)  # fmt: skip
    assert code == 0 and "version 5" in out
    code, _, err = run(capsys, "cases", "act", "K0", "verify", "--version", "4", "--by", "S2",
                       "--db", db)  # fmt: skip
    assert code == 1 and "S1 took the step handle" in err and "nothing was written" in err
    code, out, _ = run(capsys, "cases", "route", "06-02", "--at", "2026-06-01")
    assert code == 0 and out.strip().splitlines()[-1] == "pcs"
