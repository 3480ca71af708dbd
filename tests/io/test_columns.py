"""THE column guesser, for incidents, grids, tracks and cases."""

from __future__ import annotations

import pandas as pd
import pytest

from gis.core.errors import InputError
from gis.io.columns import (
    CASE_FIELDS,
    GRID_FIELDS,
    INCIDENT_FIELDS,
    TRACK_FIELDS,
    detect_columns,
)


def test_incident_headers_in_chinese():
    found = detect_columns(["编号", "事件类型", "上报时间", "经度", "纬度", "地址"])
    assert dict(found) == {
        "external_id": "编号",
        "occurred_at": "上报时间",
        "category_code": "事件类型",
        "lon": "经度",
        "lat": "纬度",
        "address": "地址",
    }
    assert found.confidence["lon"] == 0.9


def test_grid_parent_column_is_guessed():
    assert dict(detect_columns(["网格编码", "网格名称", "上级编码"], schema=GRID_FIELDS)) == {
        "code": "网格编码",
        "name": "网格名称",
        "parent_code": "上级编码",
    }
    assert detect_columns(["code", "parent"], schema=GRID_FIELDS)["parent_code"] == "parent"
    assert detect_columns(["Parent_Code", "CODE"], schema=GRID_FIELDS)["parent_code"] == (
        "Parent_Code"
    )


def test_track_and_case_headers():
    assert dict(detect_columns(["uid", "datetime", "lat", "lng"], schema=TRACK_FIELDS)) == {
        "staff_code": "uid",
        "t": "datetime",
        "lon": "lng",
        "lat": "lat",
    }
    nyc = ["Unique Key", "Created Date", "Closed Date", "Agency", "Complaint Type", "Due Date"]
    found = detect_columns(nyc + ["Latitude", "Longitude"], schema=CASE_FIELDS)
    assert found["deadline"] == "Due Date" and found["department"] == "Agency"
    assert found["case_id"] == "Unique Key" and found["reported_at"] == "Created Date"


def test_numeric_check_drops_text_coordinates():
    sample = pd.DataFrame({"x": ["a", "b"], "经度": ["112.9", "112.8"], "纬度": ["35.8", "35.7"]})
    assert detect_columns(sample.columns, sample)["lon"] == "经度"


def test_overrides_use_the_schema_aliases():
    found = detect_columns(["when", "lon", "lat"]).with_overrides({"time": "when"}, ["when"])
    assert found["occurred_at"] == "when"
    with pytest.raises(InputError, match="unknown grid field"):
        detect_columns(["a"], schema=GRID_FIELDS).with_overrides({"nope": "a"})
    assert INCIDENT_FIELDS.canonical("category") == "category_code"
