"""The Hotspots page (AppTest on the demo district) and the numbers behind it.

The page's metrics are checked against ``gis.hotspots`` run here independently on the same
filtered incidents (``count_by_unit`` locates every point again, where the page reuses a cached
point-to-unit index). One browser test opens the page in Chromium, offline.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from gis import hotspots as hs
from gis import store
from gis.core.errors import InputError
from gis.grids import assign_points
from gis.views import hotspots as hv
from tests.ui.apptest import metrics, new_app, sign_in

PAGE = "pages/hotspots.py"


# --------------------------------------------------------------------------------------------
# Reference data, computed without the page


@pytest.fixture(scope="module")
def data(demo_db):
    engine = store.open_store(demo_db)
    grids = store.read_grids(engine)
    inc = store.read_incidents(engine)
    inc[["micro", "l2", "l1"]] = assign_points(inc.geometry, grids)
    engine.dispose()
    return grids, inc


def default_period(inc: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The shell's default period: the last 90 days of data (end exclusive)."""
    last = inc["occurred_at"].max().normalize()
    start = max(inc["occurred_at"].min().normalize(), last - pd.Timedelta(days=89))
    return start, last + pd.Timedelta(days=1)


def reference(data, by: str, categories=(), **kw):
    grids, inc = data
    start, end = default_period(inc)
    sel = inc[(inc["occurred_at"] >= start) & (inc["occurred_at"] < end)]
    if categories:
        sel = sel[sel["category_code"].isin(categories)]
    kind, arg = by.split(":")
    if kind == "h3":
        units = hs.h3_units(hs.study_area(grids), int(arg))
    elif kind == "fishnet":
        units = hs.fishnet_units(hs.study_area(grids), float(arg))
    else:
        units = hs.grid_units(grids, arg)
    counted = hs.count_by_unit(sel.geometry, units)
    return hs.hotspots(counted, **kw), sel, units


def expected_metrics(frame, en: bool = False) -> dict[str, str]:
    b = frame["gi_bin"].to_numpy()
    if en:
        out = {"Units": len(frame), "Incidents in units": int(frame["count"].sum())}
        out |= {f"Hot spots {p}%": int((b == k).sum()) for k, p in ((3, 99), (2, 95), (1, 90))}
        out["Cold spots"] = int((b < 0).sum())
    else:
        out = {"分析单元数": len(frame), "单元内事件": int(frame["count"].sum())}
        out |= {f"热点 {p}%": int((b == k).sum()) for k, p in ((3, 99), (2, 95), (1, 90))}
        out["冷点单元"] = int((b < 0).sum())
    return {k: f"{v:,}" for k, v in out.items()}


@pytest.fixture
def page(demo_db):
    at = sign_in(new_app(), "analyst", "analyst-demo")
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def run(at):
    at.run()
    assert not at.exception, at.exception
    return at


def legend(at) -> str:
    return " ".join(m.value for m in at.markdown if "background:rgb" in m.value)


# --------------------------------------------------------------------------------------------
# The page


def test_page_in_chinese_then_english_metrics_equal_gi_star(page, data):
    assert page.title[0].value == "热点分析"
    ref, _, _ = reference(data, "h3:9")
    got = metrics(page)
    for label, value in expected_metrics(ref).items():
        assert got[label] == value, label
    assert got["邻域距离带"] == "邻接"
    assert int(got["热点 99%"]) > 0  # the demo's planted hotspots
    # the map: every unit filled with ArcGIS's colour of its Gi* bin
    spec = json.loads(page.get("deck_gl_json_chart")[0].proto.json)
    units = [layer for layer in spec["layers"] if layer["id"] == "units"][0]["data"]["features"]
    fill = {f["properties"]["unit_id"]: f["properties"]["fill_color"] for f in units}
    arcgis = {3: [214, 47, 39], 2: [237, 117, 81], 1: [250, 185, 132], 0: [238, 238, 224]}
    arcgis |= {-1: [192, 204, 190], -2: [132, 158, 186], -3: [69, 117, 181]}
    for uid, b in zip(ref["unit_id"], ref["gi_bin"], strict=True):
        assert fill[uid][:3] == arcgis[b] and len(fill[uid]) == 4, uid
    text = legend(page)
    for label in ("热点（99% 置信度）", "不显著", "冷点（90% 置信度）", "冷点（99% 置信度）"):
        assert label in text
    # (AppTest drops the shell's sidebar from its tree after switch_page: set the state)
    page.session_state["lang"] = "en"
    run(page)
    assert page.title[0].value == "Hotspot analysis"
    got = metrics(page)
    for label, value in expected_metrics(ref, en=True).items():
        assert got[label] == value, label
    assert "Hot spot, 95% confidence" in legend(page)
    assert page.radio(key="hs_layer_en").value == "gi"  # choices survive the switch
    assert page.radio(key="hs_kind_en").value == "h3"


@pytest.mark.parametrize(
    ("kind", "key", "arg", "by"),
    [
        ("fishnet", "hs_fishnet_zh", 250, "fishnet:250"),
        ("grid", "hs_level_zh", "micro", "grid:micro"),
    ],
)
def test_switching_units(page, data, kind, key, arg, by):
    page.radio(key="hs_kind_zh").set_value(kind)
    run(page)
    page.radio(key=key).set_value(arg)
    run(page)
    ref, _, _ = reference(data, by)
    got = metrics(page)
    for label, value in expected_metrics(ref).items():
        assert got[label] == value, (by, label)


def test_layers_and_distance_band(page, data):
    at = page
    # counts: a quantile legend; KDE: bandwidth metrics and the heat image in the deck
    at.radio(key="hs_layer_zh").set_value("counts")
    run(at)
    assert "–" in legend(at)
    at.radio(key="hs_layer_zh").set_value("kde")
    run(at)
    grids, inc = data
    start, end = default_period(inc)
    sel = inc[(inc["occurred_at"] >= start) & (inc["occurred_at"] < end)]
    k = hs.kde(sel.geometry, extent=hs.study_area(grids))
    assert metrics(at)["带宽"] == f"{k.bandwidth_m:,.0f} m"
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    kinds = [layer["@@type"] for layer in spec["layers"]]
    assert "BitmapLayer" in kinds
    bitmap = spec["layers"][kinds.index("BitmapLayer")]
    assert bitmap["image"].startswith("data:image/png;base64,")  # in the page, not fetched
    # LISA: cluster counts equal local Moran with the page's permutations and seed
    at.radio(key="hs_layer_zh").set_value("lisa")
    run(at)
    ref, _, _ = reference(data, "h3:9", method="local_moran", permutations=9999, seed=0)
    got = metrics(at)
    for cls, label in (("HH", "高-高聚类"), ("LL", "低-低聚类"), ("HL", "高-低异常值")):
        assert got[label] == f"{int((ref['lisa_cluster'] == cls).sum()):,}"
    assert "高-高聚类" in legend(at)
    # emerging hot spots: the patterns on the legend are those of the library's own run
    at.radio(key="hs_layer_zh").set_value("emerging")
    run(at)
    _, sel, units = reference(data, "h3:9")
    start, end = default_period(inc)
    cube = hs.space_time_cube(
        sel.geometry, sel["occurred_at"], units, step="week", start=start, end=end
    )
    em = hs.emerging_hotspots(cube, hs.unit_weights(units, "queen")[0])
    zh = {
        "Persistent Hot Spot": "持续热点",
        "Intensifying Hot Spot": "加强热点",
        "Diminishing Hot Spot": "减弱热点",
        "New Hot Spot": "新增热点",
        "Sporadic Hot Spot": "零星热点",
        "No Pattern Detected": "无明显模式",
    }
    found = set(em["pattern"])
    assert {"Persistent Hot Spot", "Diminishing Hot Spot"} <= found  # planted in the demo
    for name, label in zh.items():
        assert (label in legend(at)) == (name in found), name
    assert any(f"{cube.counts.shape[1]} 个时间步" in c.value for c in at.caption)
    # an automatic distance band: the band Optimized Hot Spot Analysis would choose
    at.radio(key="hs_layer_zh").set_value("gi")
    at.radio(key="hs_weights_zh").set_value("band")
    run(at)
    ref, _, _ = reference(data, "h3:9", weights="band")
    got = metrics(at)
    assert got["邻域距离带"] == f"{ref.attrs['band_m']:,.0f} m"
    for label, value in expected_metrics(ref).items():
        assert got[label] == value, label


def test_category_filter(demo_db, data):
    # the filter is set before the sidebar's widgets first exist (AppTest cannot drive them
    # after a rerun under st.navigation; the browser test of the home page clicks them)
    at = new_app()
    at.session_state["flt_categories"] = ["05-04"]
    sign_in(at, "analyst", "analyst-demo")
    assert at.session_state["gridlens_filters"].categories == ("05-04",)
    at.switch_page(PAGE)
    page = run(at)
    ref, sel, _ = reference(data, "h3:9", categories=("05-04",))
    assert set(sel["category_code"]) == {"05-04"}
    got = metrics(page)
    for label, value in expected_metrics(ref).items():
        assert got[label] == value, label


def test_unit_detail_by_the_chooser(page, data):
    ref, sel, units = reference(data, "h3:9")
    top = ref.sort_values(["count", "unit_id"], ascending=[False, True]).iloc[0]
    box = page.selectbox(key="hs_pick_h3:9_None_zh")
    assert box.options[1].endswith(f"事件 {int(top['count']):,}")  # most incidents first
    box.set_value(top["unit_id"])
    run(page)
    got = metrics(page)
    assert got["单元内事件"] == f"{int(top['count']):,}"
    assert got["Gi* 分级"] == {3: "热点（99% 置信度）", 2: "热点（95% 置信度）"}.get(
        int(top["gi_bin"]), got["Gi* 分级"]
    )
    assert got["Gi* z 值"] == f"{top['gi_z']:.2f}"
    # the unit's incidents, located independently
    mine = sel[
        hs.unit_index(sel.geometry, units)
        == int(np.flatnonzero(units["unit_id"] == top["unit_id"])[0])
    ]
    assert len(mine) == top["count"]
    addresses = [d for d in page.dataframe if "地址" in d.value.columns][0].value
    expected = mine["address"].value_counts()
    assert list(addresses["数量"]) == list(expected.head(len(addresses)).to_numpy())
    # this period against the previous one (the same filters, any period)
    comp = [d for d in page.dataframe if "环比" in d.value.columns][0].value
    assert comp.iloc[0]["类别"] == "合计" and comp.iloc[0]["本期"] == top["count"]
    _, inc = data
    start, end = default_period(inc)
    span = end - start
    prev = inc[(inc["occurred_at"] >= start - span) & (inc["occurred_at"] < start)]
    prev_idx = hs.unit_index(prev.geometry, units)
    assert (
        comp.iloc[0]["上期"]
        == (prev_idx == np.flatnonzero(units["unit_id"] == top["unit_id"])[0]).sum()
    )
    charts = [json.loads(c.proto.spec) for c in page.get("vega_lite_chart")]
    assert len(charts) == 3  # by category, hour x weekday, weekly trend
    assert any(c.get("mark", {}).get("type") == "rect" for c in charts)  # the heat map
    # the export: two download buttons
    labels = [b.proto.label for b in page.get("download_button")]
    assert labels == ["下载 CSV", "下载 GeoJSON"]


# --------------------------------------------------------------------------------------------
# The numbers behind it (no Streamlit)


def test_count_from_index_equals_count_by_unit(data):
    grids, inc = data
    units = hv.make_units("fishnet:200", grids)
    idx = hs.unit_index(inc.geometry, units)
    keep = (inc["category_code"] == "05-04").to_numpy()
    got = hv.count_from_index(idx, units, keep)
    ref = hs.count_by_unit(inc[keep].geometry, units)
    pd.testing.assert_frame_equal(
        pd.DataFrame(got.drop(columns="geometry")), pd.DataFrame(ref.drop(columns="geometry"))
    )
    assert got.attrs == ref.attrs


def test_units_within_a_grid(data):
    grids, inc = data
    l1 = grids[grids["level"] == "l1"].sort_values("code").iloc[0]
    micro = hv.make_units("grid:micro", grids, within=l1["code"])
    assert len(micro) and micro["unit_id"].str.startswith(l1["code"][:9]).all()
    assert set(micro["unit_id"]) <= set(
        grids.loc[
            grids["parent_code"].isin(grids.loc[grids["parent_code"] == l1["code"], "code"]), "code"
        ]
    )
    cells = hv.make_units("h3:10", grids, within=l1["code"])
    assert cells.intersects(l1.geometry).all()
    assert len(cells) < len(hv.make_units("h3:10", grids))


def test_unit_detail_and_export(data):
    _, inc = data
    sub = inc.iloc[:500]
    d = hv.unit_detail(sub)
    assert d["n"] == 500 and d["hour_weekday"].shape == (24, 7)
    assert d["hour_weekday"].to_numpy().sum() == 500
    t = sub["occurred_at"].iloc[0]
    assert d["hour_weekday"].loc[t.hour, t.weekday()] >= 1
    assert d["weekly"].sum() == 500 and d["by_category"].sum() == 500
    assert (pd.Series(d["weekly"].index).diff().dropna() == pd.Timedelta(days=7)).all()
    assert list(d["top_addresses"]["count"]) == list(sub["address"].value_counts().head(10))
    grids, _ = data
    frame = hv.analyse(hv.count_from_index(np.zeros(3, dtype=int), hv.make_units("h3:8", grids)))
    table = pd.read_csv(io.BytesIO(hv.export_bytes(frame, "csv")), encoding="utf-8-sig")
    assert list(table.columns) == [
        "unit_id",
        "count",
        "density_km2",
        "gi_z",
        "gi_p",
        "gi_bin",
        "n_neighbors",
    ]
    assert table["count"].sum() == 3
    gj = json.loads(hv.export_bytes(frame, "geojson"))
    assert len(gj["features"]) == len(frame)
    assert set(gj["features"][0]["properties"]) == set(table.columns)


# --------------------------------------------------------------------------------------------
# In a real browser


@pytest.mark.browser
def test_browser_gi_bins_legend_and_map_offline(demo_db, data):
    from tests.ui.browser import chromium_page, require_browser, streamlit_server

    require_browser()
    ref, _, _ = reference(data, "h3:9")
    with streamlit_server(demo_db) as url, chromium_page(url) as (page, guard):
        page.get_by_label("用户名").fill("analyst")
        page.get_by_label("密码").fill("analyst-demo")
        page.get_by_role("button", name="登录").click()
        guard.settle()
        page.locator("[data-testid='stSidebarNav']").get_by_text("热点分析").click()
        guard.settle()
        assert page.get_by_role("heading", name="热点分析").count() >= 1
        # counts first, then switch to the Gi* bins
        page.get_by_text("单元事件数", exact=True).click()
        guard.settle()
        assert page.get_by_text("图例（分位数分级）", exact=False).count() >= 1
        page.get_by_text("冷热点（Gi*）", exact=True).click()
        guard.settle(extra_ms=2500)
        for label in ("热点（99% 置信度）", "不显著", "冷点（99% 置信度）"):
            assert page.get_by_text(label, exact=True).count() >= 1, label
        canvas = page.locator("[data-testid='stDeckGlJsonChart'] canvas").first
        canvas.wait_for(timeout=30_000)
        assert canvas.bounding_box()["height"] > 300
        box = page.locator("[data-testid='stMetric']").filter(has_text="热点 99%").first
        value = box.locator("[data-testid='stMetricValue']").inner_text().strip()
        assert value == f"{int((ref['gi_bin'] == 3).sum()):,}"
        guard.check()
        guard.screenshot("hotspots_gi_zh")


def test_make_units_reads_the_unit_grammar(data):
    # gis.units.UnitSpec: a bare level and spaces are the same choice as grid:micro, h3:9
    grids, _ = data
    pd.testing.assert_frame_equal(
        pd.DataFrame(hv.make_units("micro", grids)),
        pd.DataFrame(hv.make_units("grid:micro", grids)),
    )
    assert len(hv.make_units(" h3 : 9 ", grids)) == len(hv.make_units("h3:9", grids))
    with pytest.raises(InputError, match="h3:RES"):
        hv.make_units("h3:x", grids)
