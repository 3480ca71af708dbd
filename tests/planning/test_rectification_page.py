"""The Joint rectification page (AppTest on a per-test copy of the demo district).

The proposed areas are checked against ``gis.planning.propose_zones`` run here on the same
filtered incidents; the briefings of a proposed area, a drawn polygon (``st_folium`` faked) and
chosen grids against independent counts of the incidents inside them; saving a plan (leaders
only), the plans' verdicts against ``planning.evaluate_plan``, the English switch. One browser
test downloads the HTML briefing and opens it in Chromium with no request leaving 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
import streamlit_folium

from gis import auth, i18n, planning, store, viz
from gis import hotspots as hs
from gis.core.text import markdown_text
from gis.grids import assign_points
from gis.store.models import PLAN_STATUSES
from gis.viz import external_urls
from tests.ui.apptest import metrics, new_app, sign_in

PAGE = "pages/rectification.py"
METRIC = 4547  # CGCS2000 3-degree GK, CM 114E: the local metric CRS around 112.93E


# --------------------------------------------------------------------------------------------
# Fixtures and reference numbers computed without the page


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


@pytest.fixture(scope="module")
def ref(demo_db) -> dict:
    """The demo's incidents in the shell's default period and the zones of the CLI's default
    units (h3:10), computed with the library directly."""
    engine = store.open_store(demo_db)
    grids = store.read_grids(engine)
    inc = store.read_incidents(engine)
    tax, deps = store.read_table(engine, "taxonomy"), store.read_table(engine, "departments")
    engine.dispose()
    inc[["micro", "l2", "l1"]] = assign_points(inc.geometry, grids)
    last = inc["occurred_at"].max().normalize()
    start = max(inc["occurred_at"].min().normalize(), last - pd.Timedelta(days=89))
    end = last + pd.Timedelta(days=1)
    sel = inc[(inc["occurred_at"] >= start) & (inc["occurred_at"] < end)]
    units = hs.hotspots(hs.count_by_unit(sel.geometry, hs.h3_units(hs.study_area(grids), 10)))
    zones = planning.propose_zones(units, sel, taxonomy=tax, departments=deps, period=(start, end))
    return {
        "grids": grids,
        "sel": sel,
        "zones": zones,
        "tax": tax,
        "deps": deps,
        "period": (start, end),
        "incidents_last": last.date(),
    }


def count_inside(sel, geom) -> int:
    """Incidents of ``sel`` inside ``geom`` (lon/lat) by a plain point-in-polygon test in the
    district's metric CRS (where the library draws an area's edges straight)."""
    to_m = pyproj.Transformer.from_crs(4326, METRIC, always_xy=True)
    geom_m = shapely.transform(geom, lambda xy: np.column_stack(to_m.transform(xy[:, 0], xy[:, 1])))
    x, y = to_m.transform(sel.geometry.x.to_numpy(), sel.geometry.y.to_numpy())
    return int(shapely.contains_xy(geom_m, x, y).sum())


def open_page(username: str, password: str):
    at = sign_in(new_app(), username, password)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def run(at):
    at.run()
    assert not at.exception, at.exception
    return at


def table_with(at, column: str) -> pd.DataFrame:
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert found, f"no table with a {column!r} column"
    return found[0]


def button(at, label: str):
    found = [b for b in at.button if b.label == label]
    assert found, f"no button {label!r}"
    return found[0]


def feature(geom) -> dict:
    return {"type": "Feature", "properties": {}, "geometry": json.loads(shapely.to_geojson(geom))}


# --------------------------------------------------------------------------------------------
# The page


def test_zones_equal_the_library_top_zone_briefing_and_leader_saves_a_plan(page_db, ref, fake_map):
    at = open_page("leader", "leader-demo")
    assert at.title[0].value == "联合整治：选区、简报与评估"
    zones = ref["zones"]
    assert len(zones) >= 3
    table = table_with(at, "排名理由")
    assert [z.split(" · ")[0] for z in table["区域"]] == zones["zone_id"].tolist()
    assert table["排名"].tolist() == zones["rank"].tolist()
    assert table["事件数"].tolist() == zones["incidents"].tolist()
    assert table["排名理由"].tolist() == zones["reason_zh"].tolist()
    assert at.radio(key="rect_by_zh").value == "h3:10"
    # the map: the zones in rank colours, darkest first
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    layer = [x for x in spec["layers"] if x["id"] == "zones"][0]["data"]["features"]
    assert [f["properties"]["zone_id"] for f in layer] == zones["zone_id"].tolist()
    assert layer[0]["properties"]["fill_color"][:3] == [177, 0, 38]
    # the top zone is chosen by default; its briefing counts what lies inside it
    assert at.selectbox(key="rect_zone_zh").value == "Z01"
    top = zones.iloc[0]
    m = metrics(at)
    assert m["事件数"] == f"{count_inside(ref['sel'], top.geometry):,}"
    assert m["事件数"] == f"{int(top['incidents']):,}"
    brief = planning.briefing(
        top.geometry,
        ref["sel"],
        grids=ref["grids"],
        taxonomy=ref["tax"],
        departments=ref["deps"],
        period=ref["period"],
    )
    calls = table_with(at, "联合执法")
    assert calls["部门"].tolist() == brief.departments_to_call["name_zh"].tolist()
    assert m["未结案件"] == f"{len(brief.open_cases):,}"
    assert any("高发时段" in md.value for md in at.markdown)
    assert {"rect_download_html", "rect_download_xlsx"} <= {
        b.key for b in at.get("download_button")
    }
    assert not fake_map.calls  # the drawing map only when drawing
    # the leader saves it as a plan
    assert any("还没有保存的整治方案" in i.value for i in at.info)
    name_box = [t for t in at.text_input if t.label == "方案名称"][0]
    assert name_box.value.startswith("Z01")
    name_box.input("Z01 商业街联合整治")
    # the default period lies inside the data (the demo ends before today), so it can be judged
    last = ref["incidents_last"]
    assert last < date.today()
    assert tuple(at.date_input(key="rect_plan_period").value) == (last - timedelta(days=29), last)
    # a plan from today instead: pending until its period is over
    at.date_input(key="rect_plan_period").set_value(
        (date.today(), date.today() + timedelta(days=29))
    )
    at.text_area(key="rect_plan_notes").input("城管牵头")
    button(at, "保存方案").click()
    run(at)
    assert at.success and "Z01 商业街联合整治" in at.success[0].value
    engine = store.open_store(page_db)
    plans = planning.list_plans(engine)
    assert len(plans) == 1
    plan = plans.iloc[0]
    top = ref["zones"].iloc[0]
    today = pd.Timestamp(date.today())
    assert plan["name"] == "Z01 商业街联合整治"
    assert plan["created_by"] == "leader" and plan["status"] == "draft"
    assert plan["notes"] == "城管牵头"
    assert plan["departments"] == ";".join(brief.departments_to_call["code"])
    assert plan["period_start"] == today
    assert plan["period_end"] == today + pd.Timedelta(days=30)
    assert plan.geometry.symmetric_difference(top.geometry).area < 1e-12
    # listed, pending (its period is not over), and its status moves on
    listed = table_with(at, "评估结论")
    assert listed["方案"].tolist() == ["Z01 商业街联合整治"]
    assert listed["评估结论"].tolist() == ["整治期未结束"]
    at.selectbox(key=f"rect_status_{plan['id']}_zh").set_value("approved")
    button(at, "更新状态").click()
    run(at)
    assert planning.get_plan(engine, int(plan["id"]))["status"] == "approved"
    assert table_with(at, "评估结论")["状态"].tolist() == ["已批准"]
    assert at.success and "已批准" in at.success[0].value


def test_drawn_polygon_and_chosen_grids_briefings_count_their_incidents(page_db, ref, fake_map):
    at = open_page("analyst", "analyst-demo")
    at.radio(key="rect_mode_zh").set_value("draw")
    run(at)
    assert fake_map.calls and fake_map.calls[-1]["key"] == "rect_draw_map"
    assert not external_urls(fake_map.calls[-1]["html"])  # the drawing map is offline too
    assert any("请先在地图上画出区域" in i.value for i in at.info)
    assert not [b for b in at.button if b.label == "保存方案"]  # no area, no form
    # a hand-drawn polygon (Leaflet writes 6 decimals) around the top zone's middle
    c = ref["zones"].iloc[0].geometry.centroid
    ring = [(c.x - 0.004, c.y - 0.002), (c.x + 0.003, c.y - 0.003), (c.x + 0.004, c.y + 0.003)]
    ring += [(c.x - 0.002, c.y + 0.004)]
    poly = shapely.Polygon(np.round(ring, 6))
    fake_map.drawings = [feature(poly)]
    run(at)
    expected = count_inside(ref["sel"], poly)
    assert expected > 100
    assert metrics(at)["事件数"] == f"{expected:,}"
    assert at.subheader and any("手绘区域" in s.value for s in at.subheader)
    # an analyst may not save a plan and is told why
    assert any("只有领导和系统管理员" in i.value and "分析员" in i.value for i in at.info)
    assert not [b for b in at.button if b.label == "保存方案"]
    # chosen grids: two level-2 grids, counted by the grid each incident falls in
    at.radio(key="rect_mode_zh").set_value("grids")
    run(at)
    assert any("请至少选择一个网格" in i.value for i in at.info)
    l2 = ref["grids"][ref["grids"]["level"] == "l2"].sort_values("code")
    codes = l2["code"].iloc[[3, 4]].tolist()
    at.multiselect(key="rect_grids_zh").set_value(codes)
    run(at)
    sel = ref["sel"]
    expected = int(sel["l2"].isin(codes).sum())
    assert expected > 0
    assert metrics(at)["事件数"] == f"{expected:,}"
    shown = table_with(at, "面积占比")
    assert set(codes) <= set(shown["编码"])


def test_past_plans_show_the_library_verdict_then_english(page_db, ref, demo_small, fake_map):
    engine = store.open_store(page_db)
    leader = auth.User(id=None, username="leader", display_name=None, role="leader")
    ids = {}
    for op in demo_small.truth["operations"]:
        ids[op["expected"]] = planning.save_plan(
            engine,
            name=f"演示整治 {op['expected']}",
            area=op["area_wkt"],
            period_start=op["start"],
            period_end=op["end"],
            departments=["chengguan"],
            user=leader,
        )
    future = planning.save_plan(
        engine,
        name="下月整治",
        area=demo_small.truth["operations"][0]["area_wkt"],
        period_start=date.today() + timedelta(days=3),
        period_end=date.today() + timedelta(days=33),
        user=leader,
    )
    evs = {pid: planning.evaluate_plan(engine, pid, buffer_m=300) for pid in ids.values()}
    at = open_page("analyst", "analyst-demo")
    table = table_with(at, "评估结论").set_index("编号")
    for pid, ev in evs.items():
        row = table.loc[pid]
        assert row["评估结论"] == ev.verdict_zh
        assert row["WDQ"] == ("—" if ev.wdq is None else f"{ev.wdq:.2f}")
        assert row["区域：前→后"] == f"{ev.area_before:,} → {ev.area_after:,}"
        assert row["缓冲区：前→后"] == f"{ev.buffer_before:,} → {ev.buffer_after:,}"
    assert table.loc[future, "评估结论"] == "整治期未结束"
    # the detail of a judged plan explains the verdict; an analyst cannot change the status
    at.selectbox(key="rect_plan_pick_zh").set_value(ids["displacement"])
    run(at)
    ev = evs[ids["displacement"]]
    assert any(markdown_text(ev.explanation("zh")) in md.value for md in at.markdown)
    assert not [b for b in at.button if b.label == "更新状态"]
    # in English: labels, reasons and verdicts follow
    # (AppTest drops the shell's sidebar from its tree after switch_page: set the state)
    at.session_state["lang"] = "en"
    run(at)
    assert at.title[0].value == "Joint rectification: areas, briefings, results"
    zones = table_with(at, "Why this rank")
    assert zones["Why this rank"].tolist() == ref["zones"]["reason_en"].tolist()
    assert zones["Trend"].isin(["rising", "stable", "falling"]).all()
    assert at.radio(key="rect_mode_en").value == "zone"  # choices survive the switch
    assert "Incidents" in metrics(at)
    assert any("When it happens" in md.value for md in at.markdown)
    assert any("Only leaders and administrators" in i.value for i in at.info)
    table = table_with(at, "Verdict").set_index("ID")
    for pid in ids.values():
        assert table.loc[pid, "Verdict"] == evs[pid].verdict_en
    assert table.loc[future, "Verdict"] == "period not over"
    assert any(markdown_text(ev.explanation("en")) in md.value for md in at.markdown)


def test_category_filter_applies_to_zones_briefing_and_evaluation(page_db, ref, demo_small):
    op = next(o for o in demo_small.truth["operations"] if o["expected"] == "effective")
    code = op["category_code"]
    engine = store.open_store(page_db)
    leader = auth.User(id=None, username="leader", display_name=None, role="leader")
    pid = planning.save_plan(
        engine,
        name="停车整治",
        area=op["area_wkt"],
        period_start=op["start"],
        period_end=op["end"],
        user=leader,
    )
    # the filter is set before the sidebar's widgets first exist (AppTest cannot drive them
    # after a rerun under st.navigation)
    at = new_app()
    at.session_state["flt_categories"] = [code]
    sign_in(at, "analyst", "analyst-demo")
    at.switch_page(PAGE)
    run(at)
    sel = ref["sel"][ref["sel"]["category_code"] == code]
    grids = ref["grids"]
    units = hs.hotspots(hs.count_by_unit(sel.geometry, hs.h3_units(hs.study_area(grids), 10)))
    zones = planning.propose_zones(
        units, sel, taxonomy=ref["tax"], departments=ref["deps"], period=ref["period"]
    )
    assert len(zones) and set(zones["top_category"]) == {code}
    table = table_with(at, "排名理由")
    assert table["事件数"].tolist() == zones["incidents"].tolist()
    assert table["排名理由"].tolist() == zones["reason_zh"].tolist()
    assert metrics(at)["事件数"] == f"{count_inside(sel, zones.geometry.iloc[0]):,}"
    ev = planning.evaluate_plan(engine, pid, categories=[code])
    assert ev.verdict == "effective"  # the planted month-6 parking operation
    row = table_with(at, "评估结论").set_index("编号").loc[pid]
    assert row["评估结论"] == ev.verdict_zh
    assert row["WDQ"] == ("—" if ev.wdq is None else f"{ev.wdq:.2f}")
    assert row["区域：前→后"] == f"{ev.area_before:,} → {ev.area_after:,}"


def test_every_label_of_the_page_is_in_both_languages():
    source = (Path(__file__).resolve().parents[2] / PAGE).read_text(encoding="utf-8")
    keys = set(re.findall(r'\bt\(\s*"([a-z_.]+)"', source))
    keys |= {f"rect.status.{s}" for s in PLAN_STATUSES}
    keys |= {f"rect.trend.{t}" for t in (*planning.TRENDS, "too few")}
    keys |= {f"rect.mode.{m}" for m in ("zone", "draw", "grids")}
    keys |= {f"rect.role.{r}" for r in ("lead", "co")}
    keys |= {f"rect.case.{c}" for c in ("registered", "dispatched", "handling", "rework")}
    assert len(keys) > 80
    missing = sorted(k for k in keys if set(i18n.CATALOGUE.get(k, {})) != set(i18n.LANGS))
    assert not missing, missing


# --------------------------------------------------------------------------------------------
# In a real browser


def screen_offset(grids, point) -> tuple[float, float]:
    """Pixels from the page's map centre to a lon/lat point: the page's view (``viz.view_for``
    of the level-1 grids in a 480-px-high map) on deck.gl's Web Mercator world of 512 x 2^zoom
    pixels."""
    view = viz.view_for(grids[grids["level"] == "l1"].geometry, height_px=480)
    world = 512 * 2**view.zoom

    def merc(lon: float, lat: float) -> tuple[float, float]:
        phi = np.radians(lat)
        return (lon + 180) / 360 * world, (
            1 - np.log(np.tan(phi) + 1 / np.cos(phi)) / np.pi
        ) / 2 * world

    (cx, cy), (px, py) = merc(view.longitude, view.latitude), merc(point.x, point.y)
    return float(px - cx), float(py - cy)


@pytest.mark.browser
def test_browser_leader_downloads_the_html_briefing_offline(demo_db, ref, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from tests.ui.browser import chromium_page, require_browser, streamlit_server

    require_browser()
    db = tmp_path / "browser.db"
    shutil.copy(demo_db, db)
    top = ref["zones"].iloc[0]
    with streamlit_server(str(db)) as url, chromium_page(url) as (page, guard):
        page.get_by_label("用户名").fill("leader")
        page.get_by_label("密码").fill("leader-demo")
        page.get_by_role("button", name="登录").click()
        guard.settle()
        page.locator("[data-testid='stSidebarNav']").get_by_text("联合整治").click()
        guard.settle(extra_ms=2500)
        assert page.get_by_role("heading", name="联合整治：选区、简报与评估").count() >= 1
        # a click on the third zone on the map picks it
        chooser = page.locator("[data-testid='stSelectbox']").filter(has_text="建议区域").first
        box = chooser.locator("input").first
        assert box.input_value().startswith("Z01")
        canvas = page.locator("[data-testid='stDeckGlJsonChart'] canvas").first
        canvas.wait_for(timeout=30_000)
        page.wait_for_timeout(1500)  # deck.gl draws (and can pick) a moment after the canvas
        frame = canvas.bounding_box()
        dx, dy = screen_offset(ref["grids"], ref["zones"].geometry.iloc[2].representative_point())
        x, y = frame["x"] + frame["width"] / 2 + dx, frame["y"] + frame["height"] / 2 + dy
        heading = page.get_by_role("heading", name="Z03 联合整治简报")
        for _ in range(3):  # deck.gl picks on hover first; a click straight after a jump can miss
            page.mouse.move(x, y)
            page.wait_for_timeout(700)
            page.mouse.click(x, y)
            try:
                heading.wait_for(timeout=10_000)
                break
            except PlaywrightTimeout:
                continue
        guard.settle()
        assert box.input_value().startswith("Z03")
        # then the top zone in the chooser
        box.click()
        box.fill("Z01")
        page.wait_for_timeout(400)
        page.keyboard.press("Enter")
        guard.settle(extra_ms=1500)
        assert page.locator("[data-testid='stDeckGlJsonChart'] canvas").count() >= 1
        box = page.locator("[data-testid='stMetric']").filter(has_text="事件数").first
        value = box.locator("[data-testid='stMetricValue']").inner_text().strip()
        assert value == f"{int(top['incidents']):,}"
        guard.check()
        guard.screenshot("rectification_zh")
        with page.expect_download() as info:
            page.get_by_role("button", name="下载简报（HTML，可离线打开）").click()
        path = tmp_path / "briefing.html"
        info.value.save_as(path)
        html = path.read_text(encoding="utf-8")
        assert "<img" in html and not external_urls(html)
        # open it in the same tab, under the same network guard
        page.set_content(html, wait_until="load")
        page.wait_for_timeout(500)
        assert page.get_by_text(f"{int(top['incidents']):,}").count() >= 1
        assert page.locator("img").count() >= 2
        widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
        assert all(w > 0 for w in widths), widths  # every chart and the map drew, offline
        guard.screenshot("rectification_briefing_zh")
        guard.check()
