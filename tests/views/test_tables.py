"""Tables a person reads (issue 20, "The user's language"): translated headers and values,
rounding, no None: grid history, recent changes, the impact preview's staff, validation."""

from __future__ import annotations

import pandas as pd

from gis.views import tables
from tests.ui.apptest import new_app, sign_in

NAMES = {"140581001001000": "凤凰社区", "140581001001100": "凤凰社区第一网格"}


def test_history_and_log_by_hand():
    history = pd.DataFrame(
        {
            "version": [1, 2, pd.NA],
            "valid_from": [pd.Timestamp("2025-11-01"), pd.Timestamp("2026-05-02 08:30"), pd.NaT],
            "valid_to": [pd.Timestamp("2026-05-02 08:30"), pd.NaT, pd.NaT],
            "current": [False, True, False],
            "action": ["loaded", "reshape", "retire"],
            "edited_by": ["demo", "admin", None],
            "edited_at": [pd.NaT, pd.Timestamp("2026-05-02 08:30:12"), pd.NaT],
            "reason": [None, "道路改线", None],
            "group": ["g1", "g2", "g3"],
            "name": ["凤凰社区第一网格-01微网格"] * 3,
            "parent_code": ["140581001001100"] * 3,
            "area_m2": [31234.5678, 30999.4, None],
        }
    )
    zh = tables.history_table(history, NAMES, "zh")
    assert list(zh.columns) == [
        "版本", "生效", "失效", "现行", "操作", "修改人", "时间", "原因", "名称", "上级网格",
        "面积（m²）",
    ]  # fmt: skip
    assert list(zh["操作"]) == ["初始导入", "调整边界", "撤销专属网格"]
    assert list(zh["现行"]) == ["否", "是", "否"]
    assert list(zh["面积（m²）"]) == ["31,235", "30,999", "—"]
    assert list(zh["上级网格"]) == ["凤凰社区第一网格"] * 3
    assert zh.iloc[1]["时间"] == "2026-05-02 08:30" and zh.iloc[2]["版本"] == "—"
    assert not zh.isin(["None", "nan", "NaT", "<NA>"]).any().any()
    en = tables.history_table(history, NAMES, "en")
    assert list(en["Action"]) == ["Loaded", "Reshape", "Retire a dedicated grid"]
    log = pd.DataFrame(
        {
            "group": ["g2"],
            "action": ["split"],
            "edited_by": ["admin"],
            "edited_at": [pd.Timestamp("2026-05-02 08:30")],
            "reason": [None],
            "targets": ["140581001001100"],
            "codes": ["140581001001100,140581001001200"],
            "n_grids": [2],
        }
    )
    got = tables.edit_log_table(log, NAMES, "zh")
    assert got.iloc[0].to_dict() == {
        "操作": "拆分",
        "修改人": "admin",
        "时间": "2026-05-02 08:30",
        "原因": "—",
        "操作的网格": "凤凰社区第一网格",
        "涉及网格数": "2",
    }


def test_staff_and_problems_by_hand():
    staff = pd.DataFrame(
        {
            "staff_code": ["S1"],
            "name": ["李明"],
            "role": ["grid_assistant"],
            "department": ["shequ"],
            "grid_code": ["140581001001100"],
            "phone": [None],
            "active": [True],
            "change": ["retired"],
            "new_code": [""],
        }
    )
    got = tables.staff_table(staff, NAMES, {"shequ": "社区"}, "zh").iloc[0].to_dict()
    assert got == {
        "名称": "李明",
        "角色": "网格辅助员",
        "部门": "社区",
        "网格": "凤凰社区第一网格",
        "变化": "网格撤销",
        "新编码": "—",
        "电话": "—",
    }
    problems = pd.DataFrame(
        {
            "kind": ["sliver"],
            "severity": ["warning"],
            "codes": ["140581001001101"],
            "message": ["a sliver of 12.3 m²"],
            "message_zh": ["12.3 m² 的碎片"],
            "area_m2": [12.3456],
        }
    )
    zh = tables.problems_table(problems, "zh")
    assert list(zh.columns) == ["问题类型", "级别", "涉及网格", "说明", "面积（m²）"]
    assert zh.iloc[0].tolist() == ["碎片", "提示", "140581001001101", "12.3 m² 的碎片", "12.3"]
    en = tables.problems_table(problems, "en")
    assert en.iloc[0].tolist() == [
        "sliver",
        "Warning",
        "140581001001101",
        "a sliver of 12.3 m²",
        "12.3",
    ]


def test_grids_page_history_and_log_are_readable(demo_db):
    at = sign_in(new_app(), "analyst", "analyst-demo")
    at.switch_page("pages/grids.py").run()
    assert not at.exception, at.exception
    frames = [d.value for d in at.dataframe]
    log = [f for f in frames if "修改人" in f.columns]
    assert log and list(log[0].columns) == [
        "操作",
        "修改人",
        "时间",
        "原因",
        "操作的网格",
        "涉及网格数",
    ]
    problems = [f for f in frames if "说明" in f.columns]
    assert problems and "message_zh" not in problems[0].columns
    assert not any("_" in str(c) for f in frames for c in f.columns)
    for frame in frames:
        assert not frame.astype(str).isin(["None", "nan", "NaT", "loaded"]).any().any()


def test_units_table_bins_as_words():
    frame = pd.DataFrame(
        {
            "unit_id": ["89409312837ffff", "89409312803ffff"],
            "unit_name": ["凤凰社区 · 东关蔬菜批发市场", "北关社区 · 育才街"],
            "count": [330, 12],
            "density_km2": [3141.5926, None],
            "gi_z": [4.56789, -0.1],
            "gi_p": [0.00001, 0.5],
            "gi_bin": [3, 0],
            "n_neighbors": [6, 6],
        }
    )
    got = tables.units_table(frame, "zh")
    assert list(got.columns) == [
        "位置", "单元编号", "数量", "密度（件/km²）", "Gi* z 值", "Gi* p 值", "冷热点分级"
    ]  # fmt: skip
    assert got.iloc[0].tolist() == [
        "凤凰社区 · 东关蔬菜批发市场", "89409312837ffff", "330", "3,142", "4.57", "< 0.001",
        "热点（99% 置信度）",
    ]  # fmt: skip
    assert got.iloc[1].tolist()[3:] == ["—", "-0.10", "0.500", "不显著"]
    assert tables.units_table(frame, "en").iloc[0]["Hot/cold spot class"] == (
        "Hot spot, 99% confidence"
    )
