"""Case history import: the real NYC 311 sample and 数字城管 / 12345-style exports."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from gis import store
from gis.cases import case_metrics, deadline, detect_case_columns, import_cases
from gis.core.errors import InputError
from gis.store import cases as case_store

NYC_FORMAT = "%m/%d/%Y %I:%M:%S %p"


def test_nyc_311_sample_every_row_accounted_and_on_time_per_agency(engine, real_data):
    path = real_data / "nyc" / "nyc311_2011_sample2000.csv"
    raw = pd.read_csv(path, dtype=str)
    result = import_cases(engine, path, tz="America/New_York")
    assert result.total == len(raw) == 2000
    assert result.imported + len(result.rejected) == result.total
    reasons = result.reasons.to_dict()
    assert reasons["no coordinates and no grid code"] == raw["Latitude"].isna().sum() == 598
    # "01/01/1900" (a sentinel in the export) is out of the time parser's range (1990-2200)
    assert set(reasons) <= {
        "no coordinates and no grid code",
        "closed before reported",
        "unreadable close time",
    }
    sentinel = raw["Closed Date"].str.startswith("01/01/1900", na=False)
    assert reasons.get("unreadable close time", 0) == (sentinel & raw["Latitude"].notna()).sum()
    assert result.summary_line().startswith(f"{result.imported} imported + ")
    assert result.mapping["deadline"] == "Due Date" and result.mapping["department"] == "Agency"
    n_cases, n_steps = case_store.count_cases(engine)
    assert (n_cases, n_steps) == (result.imported, result.transitions)
    # on-time closure per agency = a plain count of Closed Date <= Due Date on the imported rows
    kept = raw.drop(index=result.rejected["row"].to_numpy() - 1)
    closed = pd.to_datetime(kept["Closed Date"], format=NYC_FORMAT)
    due = pd.to_datetime(kept["Due Date"], format=NYC_FORMAT)
    plain = (closed <= due).groupby(kept["Agency"]).sum()
    plain_closed = closed.notna().groupby(kept["Agency"]).sum()
    m = case_metrics(engine, "department").set_index("unit")
    assert m["closed_on_time"].sort_index().to_dict() == plain.sort_index().to_dict()
    assert m["closed"].sort_index().to_dict() == plain_closed.sort_index().to_dict()
    assert m["reported"].sum() == result.imported
    # categories: known ones mapped, the rest unclassified with their text kept
    cases = case_store.read_cases(engine).set_index("case_code")
    assert cases.loc[kept.loc[kept["Complaint Type"] == "Illegal Parking", "Unique Key"], "category_code"].eq("05-05").all()  # fmt: skip
    assert (cases["category_code"] == "99-99").sum() == result.unclassified > 0
    # re-import adds nothing
    again = import_cases(engine, path, tz="America/New_York")
    assert again.imported == 0 and again.reasons["case already in the store"] == result.imported
    assert case_store.count_cases(engine) == (n_cases, n_steps)


def _export(tmp_path, rows: list[dict], name: str = "cases.csv") -> str:
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False, encoding="utf-8-sig")
    return str(path)


@pytest.fixture
def district(engine, tiny_grids):
    store.init_db(engine)
    store.save_frame(engine, "grids", tiny_grids.assign(version=1, valid_from=datetime(2025, 1, 1)))
    return engine


def test_chinese_export_every_rule(district, tmp_path):
    base = {
        "案件编号": "", "上报时间": "2026-03-02 09:00:00", "问题类型": "占道经营",
        "处置部门": "城管", "处置时限": "2026-03-02 11:00:00", "结案时间": "", "经度": 112.902,
        "纬度": 35.792, "网格编码": "", "案件状态": "", "受理时间": "", "派遣时间": "",
        "处置时间": "", "满意度": "", "案件来源": "12345",
    }  # fmt: skip
    rows = [
        {
            **base,
            "案件编号": "A1",
            "受理时间": "2026-03-02 09:05:00",
            "派遣时间": "2026-03-02 09:10:00",
            "处置时间": "2026-03-02 10:00:00",
            "结案时间": "2026-03-02 10:30:00",
            "满意度": "满意",
        },  # closed on time, evaluated
        {**base, "案件编号": "A2", "结案时间": "2026-03-02 11:30:00"},  # closed late
        {**base, "案件编号": "A3", "处置时限": ""},  # deadline column present, empty: none
        {**base, "案件编号": "A4", "经度": "", "纬度": "", "网格编码": "140581001002201"},
        {**base, "案件编号": "A5", "案件状态": "作废"},
        {**base, "案件编号": "A6", "经度": "", "纬度": ""},  # nowhere
        {**base, "案件编号": "A7", "经度": "", "纬度": "", "网格编码": "999"},
        {**base, "案件编号": "A8", "上报时间": "2099-01-01 00:00:00"},
        {**base, "案件编号": "A1"},  # repeated
        {**base, "案件编号": "A9", "经度": 113.5, "纬度": 35.0},  # outside every grid
        {**base, "案件编号": "A10", "结案时间": "2026-03-01 08:00:00"},
        {**base, "案件编号": "A11", "处置时限": "soon"},
        {**base, "案件编号": "A12", "案件状态": "已结案"},  # closed without a close time
        {**base, "案件编号": "A13", "上报时间": "yesterday-ish"},
        {**base, "案件编号": "A14", "经度": "east", "纬度": 35.79},
    ]
    result = import_cases(district, _export(tmp_path, rows), now=datetime(2026, 4, 1))
    expected = {
        "case id repeated in the file": 1,
        "no coordinates and no grid code": 1,
        "unknown grid code": 1,
        "report time in the future": 1,
        "outside every grid": 1,
        "closed before reported": 1,
        "unreadable deadline": 1,
        "status says closed but no close time": 1,
        "missing or unreadable report time": 1,
        "coordinates are not numbers": 1,
    }
    assert result.reasons.to_dict() == expected
    assert result.imported == 5 and result.total == 15
    cases = case_store.read_cases(district).set_index("case_code")
    steps = case_store.read_transitions(district)
    a1 = steps[steps["case_id"] == cases.loc["A1", "id"]]
    assert a1["action"].tolist() == [
        "report", "accept", "register", "dispatch", "handle", "verify", "close", "evaluate",
    ]  # fmt: skip
    assert a1["at"].iloc[1] == pd.Timestamp("2026-03-02 09:05")
    assert a1["department"].iloc[3] == "chengguan"
    assert cases.loc["A1", "deadline"] == pd.Timestamp("2026-03-02 11:00")
    assert pd.isna(cases.loc["A3", "deadline"])
    assert cases.loc["A4", "grid_code"] == "140581001002201"
    assert cases.loc["A4", "grid_l1"] == "140581001002000"
    assert cases.loc["A5", "state"] == "voided"
    m = case_metrics(district, "category", "2026-03-01", "2026-03-03").set_index("unit")
    assert (m.loc["05-04", "closed"], m.loc["05-04", "closed_on_time"]) == (2, 1)
    assert m.loc["05-04", "satisfaction_rate"] == 1.0
    # each case's incident was created with it
    with district.connect() as conn:
        n = conn.execute(sa.text("SELECT COUNT(*) FROM incidents")).scalar()
    assert n == 5


def test_limits_apply_without_a_deadline_column_and_incidents_are_linked(district, tmp_path):
    rows = [
        {"工单编号": "X1", "来电时间": "2026-03-06 17:00:00", "问题类型": "店外经营",
         "经度": 112.902, "纬度": 35.792, "紧急程度": "一般"},
        {"工单编号": "X2", "来电时间": "2026-03-06 17:00:00", "问题类型": "店外经营",
         "经度": 112.902, "纬度": 35.792, "紧急程度": "紧急"},
        {"工单编号": "X3", "来电时间": "2026-03-06 17:00:00", "问题类型": "不知道",
         "经度": 112.902, "纬度": 35.792, "紧急程度": ""},
    ]  # fmt: skip
    first = import_cases(district, _export(tmp_path, rows[:1], "one.csv"))
    assert first.incidents_created == 1
    with district.begin() as conn:  # the case of X2 will link to this incident
        conn.execute(sa.text("UPDATE incidents SET external_id = 'X2' WHERE external_id = 'X1'"))
        conn.execute(sa.text("UPDATE cases SET case_code = 'X1-old'"))
    result = import_cases(district, _export(tmp_path, rows, "all.csv"))
    assert result.imported == 3 and result.incidents_linked == 1 and result.incidents_created == 2
    cases = case_store.read_cases(district).set_index("case_code")
    # 05-04: 2 working hours from Friday 17:00 -> Monday 09:00; emergencies: 4 natural hours
    assert cases.loc["X1", "deadline"] == deadline("2026-03-06 17:00", 2, "work_hour")
    assert cases.loc["X1", "deadline"] == pd.Timestamp("2026-03-09 09:00")
    assert cases.loc["X2", "deadline"] == pd.Timestamp("2026-03-06 21:00")
    assert cases.loc["X2", "urgency"] == "emergency"
    assert cases.loc["X3", "category_code"] == "99-99" and pd.isna(cases.loc["X3", "deadline"])
    assert cases.loc["X3", "category_raw"] == "不知道"
    assert result.deadlines_from_limits == 2 and result.deadlines_from_file == 0


def test_detect_case_columns_for_the_usual_exports():
    egova = detect_case_columns(
        ["案件编号", "上报时间", "受理时间", "派遣时间", "处置时间", "结案时间", "问题类型",
         "处置部门", "处置时限", "经度", "纬度", "网格编码", "满意度"]
    )  # fmt: skip
    assert egova == {
        "case_id": "案件编号", "reported_at": "上报时间", "accepted_at": "受理时间",
        "dispatched_at": "派遣时间", "handled_at": "处置时间", "closed_at": "结案时间",
        "category": "问题类型", "department": "处置部门", "deadline": "处置时限",
        "lon": "经度", "lat": "纬度", "grid_code": "网格编码", "satisfaction": "满意度",
    }  # fmt: skip
    hotline = detect_case_columns(["工单编号", "来电时间", "诉求类型", "承办单位", "办结时间"])
    assert hotline["reported_at"] == "来电时间" and hotline["department"] == "承办单位"
    assert hotline["closed_at"] == "办结时间" and hotline["category"] == "诉求类型"
    nyc = detect_case_columns(["Unique Key", "Created Date", "Closed Date", "Agency",
                               "Complaint Type", "Due Date", "Latitude", "Longitude"])  # fmt: skip
    assert nyc["deadline"] == "Due Date" and nyc["case_id"] == "Unique Key"
    only_handled = detect_case_columns(["编号", "上报时间", "处置完成时间"])
    assert only_handled["closed_at"] == "处置完成时间" and "handled_at" not in only_handled


def test_overrides_and_a_missing_report_time(district, tmp_path):
    path = _export(tmp_path, [{"id": "Z1", "when": "2026-03-02 09:00", "x": 112.902, "y": 35.792}])
    with pytest.raises(InputError, match="no report time column"):
        import_cases(district, path, columns={"lon": "x", "lat": "y"})
    with pytest.raises(InputError, match="unknown case field"):
        import_cases(district, path, columns={"when_reported": "when"})
    result = import_cases(district, path, columns={"reported_at": "when", "case_id": "id"})
    assert result.imported == 1
    dry = import_cases(district, path, columns={"reported_at": "when"}, dry_run=True)
    assert dry.imported == 0 and dry.reasons.to_dict() == {"case already in the store": 1}
