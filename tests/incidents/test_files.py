"""``read_incident_file``: incident points of a file for analysis, times in the district's zone."""

from __future__ import annotations

import pandas as pd
import pytest

from gis.core import settings
from gis.core.errors import InputError
from gis.incidents import read_incident_file


def _csv(tmp_path, text: str):
    path = tmp_path / "incidents.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_time_column_with_utc_offsets_is_converted_to_the_district_zone(tmp_path):
    path = _csv(
        tmp_path,
        "id,lon,lat,time,type\n"
        "1,112.905,35.7925,2026-05-01T00:30:00+00:00,05-04\n"
        "2,112.906,35.7926,2026-05-01 16:00:00+00:00,05-05\n"
        "3,,,2026-05-01T01:00:00+00:00,05-05\n",
    )
    got = read_incident_file(path)
    utc = pd.to_datetime(["2026-05-01 00:30", "2026-05-01 16:00"]).tz_localize("UTC")
    expected = utc.tz_convert(settings.DISTRICT_TZ).tz_localize(None)
    assert list(got["occurred_at"]) == list(expected)
    assert got["category_code"].tolist() == ["05-04", "05-05"]
    assert got.crs.to_epsg() == 4326 and len(got) == 2
    assert got.attrs["n_dropped"] == 1


def test_chinese_headers_other_zone_and_mapping(tmp_path):
    path = _csv(
        tmp_path,
        "经度,纬度,上报时间,事件类型,备注时间\n"
        "112.905,35.7925,2026-05-01 08:30:00,05-04,2026-04-30 23:00:00Z\n",
    )
    got = read_incident_file(path)
    assert got["occurred_at"].iloc[0] == pd.Timestamp("2026-05-01 08:30")
    # a chosen column, its Z offset converted to the zone asked for
    got = read_incident_file(path, tz="Europe/Berlin", mapping={"time": "备注时间"})
    assert got["occurred_at"].iloc[0] == pd.Timestamp("2026-05-01 01:00")
    with pytest.raises(InputError, match="not in the file"):
        read_incident_file(path, mapping={"occurred_at": "nope"})
