"""AppTest of the Data page on a copy of the demo database: a GBK CSV with Chinese headers
uploaded, the detected mapping and its overrides, the dry run (imported + rejected = total, the
reasons), the import (exactly those rows written, a second import adds nothing), the history
with the user, the GCJ-02 hint, a zipped Shapefile, export of the filtered incidents, the role
rules, English. One browser test uploads through the real file input.

Uploads: Streamlit 1.67's AppTest drives ``st.file_uploader`` itself
(``at.file_uploader(key=...).set_value((name, bytes, mime))``), so the page's own uploader is
exercised; no patching.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from gis import auth, store
from gis.core import coords
from gis.grids import assign_points
from gis.incidents import District, export_incidents
from gis.views import home

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "pages/data.py"
HEADERS = ["案件编号", "事件类型", "发生时间", "经度", "纬度", "地址", "问题描述"]


# --------------------------------------------------------------------------------------------
# fixtures and helpers


@pytest.fixture(scope="module")
def micro_points(demo_db) -> np.ndarray:
    """One point inside each of 7 micro-grids spread over the district (lon, lat)."""
    engine = store.open_store(demo_db)
    micro = store.read_grids(engine, level="micro").sort_values("code")
    engine.dispose()
    pts = shapely.point_on_surface(micro.geometry.to_numpy()[::60][:7])
    return np.column_stack([shapely.get_x(pts), shapely.get_y(pts)])


def complaint_rows(points: np.ndarray) -> pd.DataFrame:
    """7 good rows and 7 bad ones (one of each reason, the unknown category twice)."""
    good = [
        ("A001", "违停", "2026-03-01 08:30:00"),
        ("A002", "乱停车", "2026/03/02 09:00"),
        ("A003", "僵尸车", "2026-03-03 10:15:00"),
        ("A004", "违章建筑", "2026-03-04 11:00:00"),
        ("A005", "违停", "2026-03-05 12:00:00"),
        ("A006", "乱停车", "2026年3月6日 13时20分"),
        ("A007", "僵尸车", "2026-03-07 14:00:00"),
    ]
    rows = [
        [i, c, t, f"{x:.6f}", f"{y:.6f}", "北城路1号", "占道"]
        for (i, c, t), (x, y) in zip(good, points, strict=True)
    ]
    x, y = (f"{v:.6f}" for v in points[0])
    rows += [
        ["B001", "违停", "2026-03-08 08:00:00", "", "", "无坐标路", ""],
        ["B002", "违停", "昨天下午", x, y, "", ""],
        ["B003", "违停", "2099-05-01 08:00:00", x, y, "", ""],
        ["B004", "外星人入侵", "2026-03-09 08:00:00", x, y, "", ""],
        ["B005", "外星人入侵", "2026-03-10 08:00:00", x, y, "", ""],
        ["B006", "违停", "2026-03-11 08:00:00", "116.397", "39.909", "北京", ""],
        ["A001", "违停", "2026-03-12 08:00:00", x, y, "重复编号", ""],
    ]
    return pd.DataFrame(rows, columns=HEADERS)


EXPECTED_REASONS_ZH = {
    "未知事件类别：外星人入侵": 2,
    "无坐标": 1,
    "发生时间缺失或无法识别": 1,
    "发生时间在未来": 1,
    "位于辖区外（超过 500 米）": 1,
    "文件内事件编号重复": 1,
}


def gbk_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("gbk")


def open_page(username: str, db: str, **state) -> AppTest:
    """The Data page for a signed-in user, straight away (the sign-in form and the home page
    are tested in tests/ui/test_app.py and by the browser test below; the shell re-reads the
    account from the database on every run, so a session holding it is what sign-in leaves)."""
    engine = store.open_store(db)
    account = auth.get_user(engine, username)
    engine.dispose()
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state[ui_user_key()] = account
    for key, value in state.items():
        at.session_state[key] = value
    run(at)  # the home page (switch_page needs the shell's navigation to exist)
    at.switch_page(PAGE)
    return run(at)


def ui_user_key() -> str:
    from gis import ui

    return ui.USER_KEY


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def upload(at: AppTest, name: str, data: bytes, mime: str = "text/csv") -> AppTest:
    at.file_uploader(key="data_upload").set_value((name, data, mime))
    return run(at)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert found, f"no table with column {column!r}"
    return found[0]


def count(db: str, sql: str, **params) -> int:
    engine = store.open_store(db)
    with engine.connect() as conn:
        n = conn.execute(sa.text(sql), params).scalar()
    engine.dispose()
    return int(n)


# --------------------------------------------------------------------------------------------
# import


def test_gbk_upload_preview_dry_run_import_reimport_history(page_db, micro_points, monkeypatch):
    import gis.incidents

    fractions: list[float] = []
    real = gis.incidents.import_incidents

    def recording(*args, progress=None, **kw):  # what the page's progress bar is fed
        def spy(fraction, message):
            fractions.append(fraction)
            progress(fraction, message)

        return real(*args, progress=spy if progress else None, **kw)

    monkeypatch.setattr(gis.incidents, "import_incidents", recording)
    before = count(page_db, "SELECT count(*) FROM incidents")
    at = open_page("admin", page_db)
    assert at.title[0].value == "数据导入与导出"
    upload(at, "投诉工单.csv", gbk_csv(complaint_rows(micro_points)))
    # what was read: GBK (as GB18030, its superset), comma, 14 rows
    info = " ".join(c.value for c in at.caption)
    assert "投诉工单.csv：14 行" in info and "gb18030" in info and "分隔符 ," in info
    # the detected mapping, target field <- file column, and the override boxes preset to it
    mapping = table_with(at, "文件列")
    assert dict(zip(mapping["字段"], mapping["文件列"], strict=True)) == {
        "事件编号": "案件编号",
        "事件类别": "事件类型",
        "发生时间": "发生时间",
        "经度": "经度",
        "纬度": "纬度",
        "地址": "地址",
        "描述": "问题描述",
    }
    boxes = {s.label: s.value for s in at.selectbox}
    assert boxes["经度 ←"] == "经度" and boxes["事件类别 ←"] == "事件类型"
    assert boxes["结案时间 ←"] == ""  # nothing detected: not imported
    # the dry run: 7 + 7 = 14 with the right reasons, and nothing written
    m = metrics(at)
    assert (m["总行数"], m["可导入"], m["拒绝"]) == ("14", "7", "7")
    assert any(i.value == "可导入 7 + 拒绝 7 = 共 14 行" for i in at.info)
    reasons = table_with(at, "原因")
    assert dict(zip(reasons["原因"], reasons["行数"], strict=True)) == EXPECTED_REASONS_ZH
    unknown = table_with(at, "文件中的类别")
    assert dict(zip(unknown["文件中的类别"], unknown["行数"], strict=True)) == {"外星人入侵": 2}
    assert count(page_db, "SELECT count(*) FROM incidents") == before
    assert count(page_db, "SELECT count(*) FROM import_batches") == 0

    # import: exactly the 7 accepted rows, with their micro-grid; the result line
    at.button(key="data_go").click()
    run(at)
    assert any("导入 7 + 拒绝 7 = 共 14 行" in s.value for s in at.success), at.success
    assert len(fractions) >= 5 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert count(page_db, "SELECT count(*) FROM incidents") == before + 7
    ids = [f"A00{i}" for i in range(1, 8)]
    assert count(page_db, "SELECT count(*) FROM incidents WHERE external_id LIKE 'A00%'") == 7
    assert (
        count(
            page_db,
            "SELECT count(*) FROM incidents WHERE external_id LIKE 'A00%' AND grid_code IS NULL",
        )
        == 0
    )
    engine = store.open_store(page_db)
    got = store.read_frame(engine, "incidents", where="external_id LIKE 'A00%'")
    engine.dispose()
    assert sorted(got["external_id"]) == ids
    assert got.set_index("external_id").loc["A003", "category_code"] == "01-07"
    assert str(got.set_index("external_id").loc["A006", "occurred_at"]) == "2026-03-06 13:20:00"
    # the history lists the batch with the user
    hist = table_with(at, "导入人")
    assert len(hist) == 1
    row = hist.iloc[0]
    assert (row["导入人"], row["文件"], row["数据类型"]) == ("admin", "投诉工单.csv", "事件")
    assert (row["总行数"], row["导入"], row["拒绝"]) == (14, 7, 7)
    assert "未知事件类别：外星人入侵: 2" in row["拒绝原因"]

    # the same file again: the dry run says every row is known; importing adds nothing
    m = metrics(at)
    assert (m["可导入"], m["拒绝"]) == ("0", "14")
    check = [d.value for d in at.dataframe if "原因" in d.value.columns][-1]  # after the result
    assert dict(zip(check["原因"], check["行数"], strict=True))["已导入（事件编号已存在）"] == 7
    at.button(key="data_go").click()
    run(at)
    assert any("导入 0 + 拒绝 14 = 共 14 行" in s.value for s in at.success)
    assert count(page_db, "SELECT count(*) FROM incidents") == before + 7
    hist = table_with(at, "导入人")
    assert list(hist["导入"]) == [0, 7] and list(hist["导入人"]) == ["admin", "admin"]


def test_overrides_unknown_as_unclassified_and_zipped_shapefile(page_db, micro_points):
    # headers the detection does not know: 东经/北纬 must be mapped by hand
    frame = complaint_rows(micro_points).rename(columns={"经度": "东经", "纬度": "北纬"})
    at = open_page("admin", page_db)
    upload(at, "东经北纬.csv", frame.to_csv(index=False, sep=";").encode("utf-8-sig"))
    assert "分隔符 ;" in " ".join(c.value for c in at.caption)
    assert any("坐标" in e.value for e in at.error)  # no coordinate columns yet
    lon = next(s for s in at.selectbox if s.label == "经度 ←")
    lat = next(s for s in at.selectbox if s.label == "纬度 ←")
    lon.set_value("东经")
    lat.set_value("北纬")
    run(at)
    assert not at.error, [e.value for e in at.error]
    mapping = table_with(at, "文件列").set_index("字段")
    assert mapping.loc["经度", "文件列"] == "东经" and mapping.loc["经度", "依据"] == "人工指定"
    assert (metrics(at)["可导入"], metrics(at)["拒绝"]) == ("7", "7")
    # unknown categories imported as unclassified: the 2 rows move from rejected to imported
    at.radio(key="data_unknown_zh").set_value("unclassified")
    run(at)
    assert (metrics(at)["可导入"], metrics(at)["拒绝"]) == ("9", "5")
    assert any("未分类" in c.value for c in at.caption)
    at.button(key="data_go").click()
    run(at)
    assert any("导入 9 + 拒绝 5 = 共 14 行" in s.value for s in at.success)
    engine = store.open_store(page_db)
    got = store.read_frame(engine, "incidents", where="category_code = '99-99'")
    engine.dispose()
    assert sorted(got["category_raw"]) == ["外星人入侵", "外星人入侵"]

    # a zipped Shapefile of 5 points (its own CRS: the Gauss-Kruger zone, EPSG:4547)
    pts = gpd.GeoDataFrame(
        {
            "id": [f"S{i}" for i in range(5)],  # dBase names: 10 bytes at most
            "type": ["违停"] * 5,
            "time": ["2026-04-01 08:00:00"] * 5,
        },
        geometry=gpd.points_from_xy(micro_points[:5, 0], micro_points[:5, 1]),
        crs=4326,
    ).to_crs(4547)
    folder = Path(page_db).parent / "shp"
    folder.mkdir()
    pts.to_file(folder / "points.shp", encoding="utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for part in folder.iterdir():
            zf.write(part, f"export/{part.name}")
    upload(at, "points.zip", buf.getvalue(), "application/zip")
    assert any("矢量文件" in c.value for c in at.caption), [e.value for e in at.error]
    assert at.selectbox(key="data_crs_" + crs_key_suffix(at) + "_zh").value == "file"
    # read in the file's own CRS: all 5 inside the district (as WGS-84 metres they would not be)
    assert (metrics(at)["总行数"], metrics(at)["可导入"]) == ("5", "5")


def crs_key_suffix(at: AppTest) -> str:
    """The file id in the CRS box's key (``data_crs_<fid>_<lang>``)."""
    keys = [s.key for s in at.selectbox if s.key and s.key.startswith("data_crs_")]
    assert keys, "no CRS box"
    return keys[0].split("_")[2]


def test_gcj02_hint_and_switch(page_db):
    # points 50 m inside the district's edge, published as GCJ-02 (shifted ~550 m east here)
    engine = store.open_store(page_db)
    grids = store.read_grids(engine)
    district = District.from_grids(grids)
    engine.dispose()
    ring = district.outline_m.buffer(-50).exterior
    along = shapely.line_interpolate_point(
        ring, np.linspace(0, 1, 60, endpoint=False), normalized=True
    )
    x, y = district.to_metric.transform(
        shapely.get_x(along), shapely.get_y(along), direction="INVERSE"
    )
    gx, gy = coords.from_wgs84(x, y, coords.GCJ02)
    frame = pd.DataFrame(
        {
            "工单号": [f"G{i:03d}" for i in range(60)],
            "问题类型": ["违停"] * 60,
            "上报时间": ["2026-05-01 08:00:00"] * 60,
            "lng": [f"{v:.7f}" for v in gx],
            "lat": [f"{v:.7f}" for v in gy],
        }
    )
    at = open_page("admin", page_db)
    upload(at, "amap.csv", frame.to_csv(index=False).encode("utf-8"))
    at.number_input(key="data_tolerance_zh").set_value(100.0)
    run(at)
    rejected = int(metrics(at)["拒绝"])
    assert rejected >= 20  # the east side fell out of the district
    assert any("GCJ-02" in w.value for w in at.warning), [w.value for w in at.warning]
    assert any("坐标看起来是 GCJ-02" in c.value for c in at.caption)
    # one click reads them as GCJ-02: every point inside, and stored back at the WGS-84 spot
    at.button(key="data_use_crs").click()
    run(at)
    assert metrics(at)["拒绝"] == "0" and not at.warning
    at.button(key="data_go").click()
    run(at)
    engine = store.open_store(page_db)
    got = store.read_frame(engine, "incidents", where="external_id LIKE 'G%'")
    engine.dispose()
    got = got.set_index("external_id").sort_index()
    assert len(got) == 60 and set(got["coord_crs"]) == {"gcj02"}
    err_m = np.hypot(
        (got.geometry.x - x) * 111_320 * np.cos(np.radians(y)), (got.geometry.y - y) * 110_574
    )
    assert err_m.max() < 0.5


# --------------------------------------------------------------------------------------------
# roles, export, English


def test_analyst_and_grid_admin_cannot_import_but_export_filtered(page_db):
    engine = store.open_store(page_db)
    grids = store.read_grids(engine)
    inc = store.read_incidents(engine)
    engine.dispose()
    for name in ("analyst", "gridadmin"):
        at = open_page(name, page_db, flt_categories=["05-04"])
        assert len(at.get("file_uploader")) == 0
        assert any("只有系统管理员可以导入事件" in i.value for i in at.info)
    # the export count: the shell's filters (default period: the last 90 days), 05-04 only
    f = at.session_state["gridlens_filters"]
    assert f.categories == ("05-04",)
    inc[["micro", "l2", "l1"]] = assign_points(inc.geometry, grids)
    ref = home.filter_incidents(
        inc, start=f.start, end=f.end, categories=("05-04",), grid_code=f.grid_code, grids=grids
    )
    last = inc["occurred_at"].max().normalize()
    assert f.end == last + pd.Timedelta(days=1)
    assert f.start == max(inc["occurred_at"].min().normalize(), last - pd.Timedelta(days=89))
    assert metrics(at)["导出事件数"] == f"{len(ref):,}"
    dl = at.get("download_button")
    assert dl and dl[-1].proto.label == "下载"


def old_export(inc, grids, tax, path, crs, lang, **filters) -> Path:
    """The export as the page made it before the store streamed it: every incident in memory,
    located again, filtered by ``home.filter_incidents`` (the peer of the streamed export)."""
    frame = pd.DataFrame(inc.drop(columns="geometry"))
    frame[["micro", "l2", "l1"]] = assign_points(inc.geometry, grids)
    sub = home.filter_incidents(frame, grids=grids, **filters)
    geo = gpd.GeoDataFrame(
        sub.drop(columns=["micro", "l2", "l1"]), geometry=inc.geometry.loc[sub.index], crs=4326
    )
    return export_incidents(geo, path, crs=crs, lang=lang, taxonomy=tax)


def test_export_file_content(page_db, tmp_path):
    """The export behind the download button, streamed from the store in the sidebar's filters,
    equals the old in-memory export on the demo: the same rows and values, GCJ-02 on request,
    category names in the language."""
    from gis import ui

    engine = store.open_store(page_db)
    inc = store.read_incidents(engine)
    grids = store.read_grids(engine)
    tax = store.read_table(engine, "taxonomy")
    engine.dispose()
    last = inc["occurred_at"].max().normalize() + pd.Timedelta(days=1)
    l1 = grids.loc[grids["level"] == "l1", "code"].iloc[0]
    source = inc["source"].value_counts().index[0]
    cases = [
        dict(
            start=last - pd.Timedelta(days=120),
            end=last,
            categories=("05",),
            sources=(source,),
            grid_code=l1,
        ),
        dict(
            start=last - pd.Timedelta(days=30), end=last, categories=(), sources=(), grid_code=None
        ),
    ]
    for i, flt in enumerate(cases):
        old = pd.read_csv(
            old_export(inc, grids, tax, tmp_path / f"old{i}.csv", "gcj02", "zh", **flt)
        )
        new = pd.read_csv(io.BytesIO(ui.incidents_file(*flt.values(), "CSV", "gcj02", "zh", tax)))
        assert len(new) > 50
        assert sorted(new.columns) == sorted(old.columns)
        pd.testing.assert_frame_equal(
            new[old.columns].sort_values("external_id").reset_index(drop=True),
            old.sort_values("external_id").reset_index(drop=True),
        )
    flt = cases[0]
    got = pd.read_csv(io.BytesIO(ui.incidents_file(*flt.values(), "CSV", "gcj02", "zh", tax)))
    names = tax.set_index("code")["name_zh"]
    assert (got["category_name"] == got["category_code"].map(names)).all()
    assert got["category_code"].str.startswith("05").all() and (got["source"] == source).all()
    old_gpkg = old_export(inc, grids, tax, tmp_path / "old.gpkg", "wgs84", "en", **flt)
    gpkg = tmp_path / "new.gpkg"
    gpkg.write_bytes(ui.incidents_file(*flt.values(), "GeoPackage", "wgs84", "en", tax))
    back, ref = (
        gpd.read_file(p).sort_values("external_id").reset_index(drop=True) for p in (gpkg, old_gpkg)
    )
    assert len(back) == len(ref) == len(got)
    assert list(back["category_name"]) == list(ref["category_name"])
    assert np.allclose(back.geometry.x, ref.geometry.x) and np.allclose(
        back.geometry.y, ref.geometry.y
    )
    xlsx = pd.read_excel(io.BytesIO(ui.incidents_file(*flt.values(), "Excel", "wgs84", "en", tax)))
    assert len(xlsx) == len(got)


def test_english(page_db, micro_points):
    at = open_page("admin", page_db)
    # (AppTest drops the shell's sidebar, and so the language switch, from its tree after
    # switch_page: the language is set through the state, before every run)
    at.session_state["lang"] = "en"
    run(at)
    assert at.title[0].value == "Data import and export"
    at.file_uploader(key="data_upload").set_value(
        ("complaints.csv", gbk_csv(complaint_rows(micro_points)), "text/csv")
    )
    at.session_state["lang"] = "en"
    run(at)
    mapping = table_with(at, "File column")
    assert dict(zip(mapping["Field"], mapping["File column"], strict=True))["Longitude"] == "经度"
    assert any(i.value == "7 to import + 7 rejected = 14 rows" for i in at.info)
    reasons = table_with(at, "Reason")
    got = dict(zip(reasons["Reason"], reasons["Rows"], strict=True))
    assert got["unknown category: 外星人入侵"] == 2
    assert got["outside the district (more than 500 m)"] == 1
    assert {t.label for t in at.tabs} == {"Import incidents", "Import history", "Export incidents"}
    assert any("No imports yet" in i.value for i in at.info)


# --------------------------------------------------------------------------------------------
# browser


@pytest.mark.browser
def test_browser_upload_and_import(demo_db, micro_points, tmp_path):
    from tests.ui.browser import chromium_page, require_browser, streamlit_server

    require_browser()
    db = tmp_path / "browser.db"
    shutil.copyfile(demo_db, db)
    csv = tmp_path / "投诉工单.csv"
    csv.write_bytes(gbk_csv(complaint_rows(micro_points)))
    with streamlit_server(str(db)) as url, chromium_page(url) as (page, guard):
        page.get_by_label("用户名").fill("admin")
        page.get_by_label("密码").fill("admin-demo")
        page.get_by_role("button", name="登录").click()
        guard.settle()
        page.locator("[data-testid='stSidebarNav']").get_by_text("数据导入导出").click()
        guard.settle()
        page.locator("input[type='file']").first.set_input_files(str(csv))
        guard.settle(extra_ms=2500)
        assert page.get_by_text("可导入 7 + 拒绝 7 = 共 14 行").count() >= 1
        guard.check()
        guard.screenshot("data_check_zh")
        # the rejected rows as a file, with the reason column
        with page.expect_download() as got:
            page.get_by_role("button", name="下载被拒绝的行（CSV，含原因）").click()
        rejected = pd.read_csv(got.value.path(), encoding="utf-8-sig", dtype=str)
        assert len(rejected) == 7 and {"row", "reason", "原因"} <= set(rejected.columns)
        assert (rejected["原因"] == "未知事件类别：外星人入侵").sum() == 2
        page.get_by_role("button", name="导入", exact=True).click()
        guard.settle(extra_ms=2500)
        assert page.get_by_text("导入 7 + 拒绝 7 = 共 14 行", exact=False).count() >= 1
        guard.check()
        # export: the download (made when clicked) holds the incidents counted on the page
        page.get_by_role("tab", name="导出事件").click()
        page.wait_for_timeout(500)
        box = page.locator("[data-testid='stMetric']").filter(has_text="导出事件数").first
        shown = int(box.locator("[data-testid='stMetricValue']").inner_text().replace(",", ""))
        with page.expect_download(timeout=60_000) as got:
            page.get_by_role("button", name="下载", exact=True).click()
        exported = pd.read_csv(got.value.path(), encoding="utf-8-sig")
        assert len(exported) == shown > 0 and "category_name" in exported.columns
        guard.check()
    assert count(str(db), "SELECT count(*) FROM incidents WHERE external_id LIKE 'A00%'") == 7
