"""Stale app after CLI changes (issue 19, Medium): every writer of data the app shows moves
the store's change counter (``data_version``) in its own transaction, on both backends, so an
app running beside the command line notices grids, incidents and tracks written there."""

from __future__ import annotations

import pandas as pd
import pytest

from gis import store
from gis.grids import import_grids
from gis.incidents import import_incidents
from gis.store.cube import data_version

CX, CY = 112.905, 35.7925


@pytest.fixture
def loaded(engine, tiny_grids):
    store.init_db(engine)
    grids = tiny_grids.assign(version=1, valid_from=pd.Timestamp("2020-01-01"), created_by="t")
    store.save_frame(engine, "grids", grids)
    return engine


def test_grid_writes_move_the_counter(loaded, tiny_grids, tmp_path):
    before = data_version(loaded)
    path = tmp_path / "grids.geojson"
    tiny_grids.assign(name=tiny_grids["name"] + "改").to_file(path)
    import_grids(loaded, path, replace=True)
    assert data_version(loaded) > before


def test_incident_and_track_imports_move_the_counter(loaded, tmp_path):
    from gis.patrol import import_tracks

    v0 = data_version(loaded)
    rows = pd.DataFrame(
        {"编号": ["E1"], "事件类型": ["违停"], "上报时间": ["2026-05-01 08:00"],
         "经度": [str(CX)], "纬度": [str(CY)]}
    )  # fmt: skip
    rows.to_csv(tmp_path / "i.csv", index=False)
    import_incidents(loaded, tmp_path / "i.csv", now=pd.Timestamp("2026-06-01"))
    v1 = data_version(loaded)
    assert v1 > v0
    fixes = pd.DataFrame(
        {
            "staff_code": ["S1"] * 3,
            "time": ["2026-05-01 08:00:00", "2026-05-01 08:01:00", "2026-05-01 08:02:00"],
            "lon": [CX, CX + 0.0003, CX + 0.0006],
            "lat": [CY] * 3,
        }
    )
    fixes.to_csv(tmp_path / "t.csv", index=False)
    import_tracks(loaded, tmp_path / "t.csv")
    assert data_version(loaded) > v1


def test_a_failed_write_leaves_the_counter(loaded):
    before = data_version(loaded)
    bad = pd.DataFrame({"code": ["X"], "nope": [1]})
    with pytest.raises(Exception):  # noqa: B017
        store.save_frame(loaded, "grids", bad)
    assert data_version(loaded) == before
