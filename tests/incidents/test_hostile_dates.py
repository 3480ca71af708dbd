"""Hostile dates in an incident file, on both backends (issue 19, Medium "Dates")."""

from __future__ import annotations

import pandas as pd
import pytest

from gis import store
from gis.core.errors import InputError
from gis.incidents import import_incidents

NOW = pd.Timestamp("2026-06-01 00:00")
CX, CY = 112.905, 35.7925  # inside the tiny district of conftest


def _load(engine, tiny_grids):
    store.init_db(engine)
    frame = tiny_grids.assign(version=1, valid_from=pd.Timestamp("2020-01-01"), created_by="t")
    store.save_frame(engine, "grids", frame)


def _csv(tmp_path, times: list[str]):
    n = len(times)
    frame = pd.DataFrame(
        {
            "编号": [f"E{i}" for i in range(n)],
            "事件类型": ["违停"] * n,
            "上报时间": times,
            "经度": [f"{CX + 0.0005 * i:.6f}" for i in range(n)],
            "纬度": [f"{CY:.6f}"] * n,
        }
    )
    path = tmp_path / "dates.csv"
    frame.to_csv(path, index=False)
    return path


def test_an_out_of_range_cell_rejects_its_row_with_a_reason(engine, tiny_grids, tmp_path):
    _load(engine, tiny_grids)
    path = _csv(
        tmp_path, ["2026-05-01 08:00", "3000-01-01", "0000000000", "1985-03-01", "2026-05-02"]
    )
    out = tmp_path / "rej.csv"
    r = import_incidents(engine, path, now=NOW, rejected_out=out)
    assert (r.imported, r.rejected_count, r.total) == (2, 3, 5)
    reasons = pd.read_csv(out, dtype=str).set_index("编号")["reason"].to_dict()
    assert set(reasons) == {"E1", "E2", "E3"}
    assert all(v.startswith("occurred_at: time out of range") for v in reasons.values())
    assert sorted(store.read_frame(engine, "incidents")["external_id"]) == ["E0", "E4"]


def test_day_month_order_from_the_whole_file_or_refused(engine, tiny_grids, tmp_path):
    _load(engine, tiny_grids)
    path = _csv(tmp_path, ["05/03/2026", "13/03/2026"])
    r = import_incidents(engine, path, now=NOW)
    assert r.imported == 2
    got = store.read_frame(engine, "incidents").set_index("external_id")["occurred_at"]
    assert pd.Timestamp(got["E0"]) == pd.Timestamp("2026-03-05")  # not 3 May
    amb = _csv(tmp_path, ["05/03/2026", "06/04/2026"])
    with pytest.raises(InputError, match="ambiguous"):
        import_incidents(engine, amb, now=NOW)
    assert store.count_rows(engine, "incidents") == 2  # the refusal wrote nothing
    r = import_incidents(engine, amb, now=NOW, date_order="mdy", dry_run=True)
    # month first: 06/04/2026 is 4 June, after NOW
    assert r.reasons.to_dict() == {
        "already imported (external_id exists)": 1,
        "occurred_at is in the future": 1,
    }


def test_two_digit_years_rejected_unless_told(engine, tiny_grids, tmp_path):
    _load(engine, tiny_grids)
    path = _csv(tmp_path, ["13/03/26", "2026-05-01"])
    r = import_incidents(engine, path, now=NOW, dry_run=True)
    assert (r.imported, r.rejected_count) == (1, 1)
    assert "two-digit year" in r.reasons.index[0]
    r = import_incidents(engine, path, now=NOW, dry_run=True, two_digit_years=True)
    assert (r.imported, r.rejected_count) == (2, 0)


def test_cli_one_line_error_for_ambiguous_dates(tiny_grids, tmp_path, capsys):
    from gis.cli import main

    db = tmp_path / "cli.db"
    engine = store.open_store(str(db))
    _load(engine, tiny_grids)
    engine.dispose()
    path = _csv(tmp_path, ["05/03/2026", "06/04/2026"])
    code = main(["incidents", "import", str(path), "--db", str(db)])
    err = capsys.readouterr().err
    assert code == 1 and "ambiguous" in err and "Traceback" not in err
    code = main(["incidents", "import", str(path), "--db", str(db), "--date-order", "dmy"])
    assert code == 0
