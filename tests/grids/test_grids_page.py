"""AppTest of the grid management page on the demo district: the hierarchy and its validation,
an edit with the map drawing faked (st_folium patched), the impact preview, saving a version
with a reason, a conflict between two admins, history and restore, export, and the role rules."""

from __future__ import annotations

import io
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import streamlit_folium
from streamlit.testing.v1 import AppTest

from gis import store, ui
from gis.grids import edit, guess_grid_fields
from gis.store.pages import iter_incident_pages
from gis.views import grids as grids_view
from tests.ui.test_pages_on_aggregates import refuse_full_reads  # noqa: F401 (a fixture)

APP = str(Path(__file__).resolve().parents[2] / "app.py")


class FakeMap:
    """Stands in for ``st_folium``: returns the drawings a test sets, records the maps drawn."""

    def __init__(self) -> None:
        self.drawings: list[dict] | None = None
        self.calls: list[dict] = []

    def __call__(self, m, key=None, **kw):
        self.calls.append({"key": key, "html": m.get_root().render()})
        return {"all_drawings": self.drawings}


@pytest.fixture
def fake_map(monkeypatch) -> FakeMap:
    fake = FakeMap()
    monkeypatch.setattr(streamlit_folium, "st_folium", fake)
    return fake


def open_page(username: str, password: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.text_input(key="signin_username").input(username)
    at.text_input(key="signin_password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    at.switch_page("pages/grids.py").run()
    assert not at.exception, at.exception
    return at


def pick(at: AppTest, code: str, lang: str = "zh") -> AppTest:
    at.selectbox(key=f"grids_pick_{lang}").set_value(code).run()
    assert not at.exception, at.exception
    return at


def feature(code: str | None, geom) -> dict:
    return {
        "type": "Feature",
        "properties": {"code": code} if code else {},
        "geometry": json.loads(shapely.to_geojson(geom)),
    }


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def micro_with_neighbour(grids):
    micro = grids[grids["level"] == "micro"].sort_values("code")
    return micro.iloc[5]


def pushed_into_sibling(grids, row, metres: float = 12.0):
    """The grid's shape grown ``metres`` into its first adjacent sibling (as a drag would)."""
    sibling = grids_view.adjacent_siblings(grids, row["code"])[0]
    other = grids.loc[grids["code"] == sibling].geometry.iloc[0]
    band = shapely.intersection(other, shapely.buffer(row.geometry, metres / 111_000))
    return shapely.union(row.geometry, band)


def test_page_shows_hierarchy_and_validation(page_db, fake_map):
    at = open_page("analyst", "analyst-demo")
    m = metrics(at)
    assert m["微网格"] == "447" and m["一级网格"] == "15" and m["专属网格"] == "15"
    assert m["错误"] == "0"
    assert at.success and "有效" in at.success[0].value
    # the analyst may look but not change: no save button, the read-only note
    engine = store.open_store(page_db)
    grids = store.read_grids(engine)
    code = micro_with_neighbour(grids)["code"]
    pick(at, code)
    assert any("不能修改" in i.value for i in at.info)
    assert fake_map.calls and code in fake_map.calls[-1]["html"]
    # search keeps matches and their ancestors
    at.text_input(key="grids_search").input(code).run()
    table = at.dataframe[0].value
    assert code in set(table.iloc[:, 0]) and len(table) == 3


def test_reshape_preview_save_history_restore(page_db, fake_map):
    engine = store.open_store(page_db)
    grids = store.read_grids(engine)
    row = micro_with_neighbour(grids)
    code = row["code"]
    at = open_page("admin", "admin-demo")
    pick(at, code)
    # drag: push the grid's east edge 15 m into its sibling (inside the parent)
    grown = pushed_into_sibling(grids, row)
    fake_map.drawings = [feature(code, grown)]
    at.run()
    assert not at.exception, at.exception
    expected = edit.impact_preview(
        grids,
        edit.reshape(grids, code, shapely.geometry.shape(fake_map.drawings[0]["geometry"])),
    )
    # the preview table lists the same grids with the same area changes as the library
    previews = [d.value for d in at.dataframe if "变化（m²）" in d.value.columns]
    assert previews, "no impact preview table"
    shown = previews[0].set_index("编码")["变化（m²）"]
    want = expected.areas.set_index("code")["change_m2"]
    assert sorted(shown.index) == sorted(want.index)
    assert (shown.round(1) == want.reindex(shown.index).round(1)).all()
    # save without a reason is refused; with one it writes version 2
    at.button(key="FormSubmitter:grids_save_" + code + "_reshape-保存为新版本").click().run()
    assert at.error and "原因" in at.error[0].value
    at.text_input(key="grids_reason").input("道路改线")
    at.button(key="FormSubmitter:grids_save_" + code + "_reshape-保存为新版本").click().run()
    assert not at.exception, at.exception
    assert store.read_grids(engine).set_index("code").loc[code, "version"] == 2
    history = edit.grid_history(engine, code)
    assert list(history["version"].astype(int)) == [1, 2]
    assert history["reason"].iloc[-1] == "道路改线" and history["edited_by"].iloc[-1] == "admin"


def test_second_admin_gets_a_conflict(page_db, fake_map):
    engine = store.open_store(page_db)
    grids = store.read_grids(engine)
    row = micro_with_neighbour(grids)
    code = row["code"]
    first, second = open_page("admin", "admin-demo"), open_page("admin", "admin-demo")
    for at in (first, second):
        pick(at, code)  # both start from version 1
    submit = "FormSubmitter:grids_save_" + code + "_reshape-保存为新版本"
    fake_map.drawings = [feature(code, pushed_into_sibling(grids, row, 12))]
    first.run()
    first.text_input(key="grids_reason").input("first")
    first.button(key=submit).click().run()
    assert not first.exception and not first.error, [e.value for e in first.error]
    saved = store.read_grids(engine)
    assert saved.set_index("code").loc[code, "version"] == 2
    # the second admin drew something else on version 1 and saves after the first
    fake_map.drawings = [feature(code, pushed_into_sibling(grids, row, 25))]
    second.run()
    second.text_input(key="grids_reason").input("second")
    second.button(key=submit).click().run()
    assert second.error and "冲突" in second.error[0].value
    assert "first" not in second.error[0].value or "admin" in second.error[0].value
    after = store.read_grids(engine)
    cols = ["code", "version"]
    assert saved[cols].reset_index(drop=True).equals(after[cols].reset_index(drop=True))
    assert shapely.equals_exact(
        saved.set_index("code").loc[code, "geometry"], after.set_index("code").loc[code, "geometry"]
    )  # nothing overwritten


def test_restore_from_history(page_db, fake_map):
    engine = store.open_store(page_db)
    grids = store.read_grids(engine)
    row = micro_with_neighbour(grids)
    code = row["code"]
    result = edit.reshape(grids, code, pushed_into_sibling(grids, row))
    edit.save_edit(engine, result, user="admin", reason="trial")
    at = open_page("gridadmin", "gridadmin-demo")  # the demo grid admin holds community 001
    pick(at, code)
    assert at.selectbox(key="grids_restore_v").options == ["1"]
    at.selectbox(key="grids_restore_v").set_value(1)
    at.text_input(key="grids_restore_reason").input("undo the trial")
    at.button(key=f"FormSubmitter:grids_restore_{code}-恢复此版本").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    now = store.read_grids(engine).set_index("code")
    assert now.loc[code, "version"] == 3
    assert shapely.to_wkb(now.loc[code, "geometry"]) == shapely.to_wkb(row.geometry)
    log = edit.edit_log(engine)
    assert log["action"].iloc[0] == "restore" and log["edited_by"].iloc[0] == "gridadmin"


def test_grid_admin_only_inside_assigned_grids(page_db, fake_map):
    engine = store.open_store(page_db)
    grids = store.read_grids(engine)
    micro = grids[grids["level"] == "micro"].sort_values("code")
    outside = micro[~micro["code"].str.startswith("140581001001")].iloc[0]["code"]
    at = open_page("gridadmin", "gridadmin-demo")
    pick(at, outside)
    assert any("不能修改" in i.value for i in at.info)
    assert at.radio(key="grids_op_zh").disabled
    assert not [b for b in at.button if "restore" in str(b.key)]  # no restore form either
    inside = micro_with_neighbour(grids)["code"]
    pick(at, inside)
    assert not any("不能修改" in i.value for i in at.info)


def test_export_and_english(page_db, fake_map):
    at = open_page("analyst", "analyst-demo")
    # (AppTest drops the entry script's sidebar after a rerun under st.navigation: the language
    # is set through its state, as tests/ui/test_app.py explains)
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Grid management"
    assert {"Micro-grids", "Errors", "Warnings"} <= set(metrics(at))
    assert at.selectbox(key="grids_fmt").options == list(
        ["GeoJSON", "GeoPackage", "Shapefile (zip)", "Excel (WKT)", "CSV (WKT)"]
    )
    # the download is the grids as GeoJSON, read back whole
    import geopandas as gpd

    from gis import ui

    data, name, _ = ui.grid_export("GeoJSON", "micro")
    back = gpd.read_file(io.BytesIO(data))
    assert name == "grids_micro.geojson" and len(back) == 447


def test_import_dry_run_guesses_fields_and_writes_nothing(page_db, fake_map, tmp_path):
    engine = store.open_store(page_db)
    grids = store.read_grids(engine)
    micro = grids[grids["level"] == "micro"].sort_values("code").head(3)
    src = micro[["code", "name", "parent_code", "geometry"]].rename(
        columns={"code": "网格编码", "name": "名称", "parent_code": "上级编码"}
    )
    path = tmp_path / "three.geojson"
    src.to_file(path)
    assert guess_grid_fields(list(src.columns.drop("geometry"))) == {
        "code": "网格编码",
        "name": "名称",
        "parent_code": "上级编码",
    }
    at = open_page("admin", "admin-demo")
    at.file_uploader(key="grids_upload").set_value(
        ("three.geojson", path.read_bytes(), "application/geo+json")
    ).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="gi_code").value == "网格编码"
    assert at.selectbox(key="gi_parent").value == "上级编码"
    assert at.selectbox(key="gi_level").value == ""  # no level column: the default level applies
    assert any("dry run, nothing written" in i.value and "3 imported" in i.value for i in at.info)
    after = store.read_grids(engine)
    assert set(after.loc[after["code"].isin(micro["code"]), "version"]) == {1}


def all_incident_points():
    """Every stored incident as points, read page by page (the old preview's input)."""
    engine = ui.engine()
    pages = list(iter_incident_pages(engine))
    frame = pd.concat(pages, ignore_index=True)
    return gpd.GeoDataFrame(
        frame[["external_id", "category_code", "occurred_at"]],
        geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
        crs=4326,
    )


@pytest.mark.usefixtures("refuse_full_reads")
def test_impact_preview_reads_only_the_touched_grids(page_db, fake_map):
    """The page's preview reads the incidents of the grids an edit touches (and those outside
    every grid), never every incident, and its moves equal those on every incident."""
    engine = store.open_store(page_db)
    grids = store.read_grids(engine)
    engine.dispose()
    row = micro_with_neighbour(grids)
    sibling = grids_view.adjacent_siblings(grids, row["code"])[0]
    everything = all_incident_points()
    for result in (
        edit.reshape(grids, row["code"], pushed_into_sibling(grids, row, 40.0)),
        edit.merge(grids, [row["code"], sibling]),
    ):
        read = ui.impact_incidents(result)
        assert 0 < len(read) < len(everything) / 10
        old = edit.impact_preview(grids, result, incidents=everything)
        new = edit.impact_preview(grids, result, incidents=read)
        assert old.incidents_moved and new.incidents_moved == old.incidents_moved
        assert new.incidents_by_level == old.incidents_by_level
        pd.testing.assert_frame_equal(new.incident_moves, old.incident_moves)
    # the page renders its preview with every full read refused
    at = open_page("admin", "admin-demo")
    pick(at, row["code"])
    fake_map.drawings = [feature(row["code"], pushed_into_sibling(grids, row))]
    at.run()
    assert not at.exception, at.exception
    assert any("变化（m²）" in d.value.columns for d in at.dataframe)
