"""AppTest of the Patrol page on the demo district (one track day): the numbers on the page equal
the library's, computed here step by step; units, layer, shift and language switches; the route
for a chosen staff member."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from gis import hotspots, patrol, store
from gis.grids import assign_points

APP = str(Path(__file__).resolve().parents[2] / "app.py")
DAY = pd.Timestamp("2026-10-31")
END = DAY + pd.Timedelta(days=1)


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.text_input(key="signin_username").input("analyst")
    at.text_input(key="signin_password").input("analyst-demo")
    at.button[0].click().run()
    at.switch_page("pages/patrol.py").run()
    assert not at.exception, at.exception
    return at


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def number(text: str) -> float:
    return float(text.replace(",", "").replace("%", ""))


@pytest.fixture(scope="module")
def ref(demo_db):
    """The library run by hand on the demo database."""
    engine = store.open_store(demo_db)
    grids = store.read_grids(engine)
    streets = store.read_frame(engine, "streets")
    staff = store.read_table(engine, "staff")
    clean = patrol.clean_fixes(store.read_fixes(engine), district=grids[grids["level"] == "l1"])
    samples = patrol.interpolate(clean.fixes, step_s=15)
    segs = patrol.segments(clean.fixes)
    pres = patrol.presence(samples, grids, start=DAY, end=END)
    inc = store.read_incidents(engine, DAY, END)
    units = hotspots.grid_units(grids, "micro")
    counts = (
        assign_points(inc.geometry, grids)["micro"]
        .value_counts()
        .reindex(units["unit_id"])
        .fillna(0)
        .to_numpy()
    )
    gi = hotspots.gi_star(counts, hotspots.queen_weights(units.geometry))
    risk = pd.DataFrame(
        {
            "unit_id": units["unit_id"].to_numpy(),
            "risk": counts / units["area_km2"].to_numpy(),
            "gi_bin": gi.bins,
        }
    )
    ranked = patrol.coverage_gaps(pres, risk, grids=grids, period=(DAY, END)).ranked
    engine.dispose()
    return {
        "grids": grids,
        "streets": streets,
        "staff": staff,
        "clean": clean,
        "samples": samples,
        "segs": segs,
        "pres": pres,
        "ranked": ranked,
    }


@pytest.fixture(scope="module")
def page(demo_db):
    return open_page()


def test_numbers_equal_the_library(page, ref):
    assert page.title[0].value == "巡查覆盖与盲区"
    m = metrics(page)
    pres = ref["pres"]
    visited = int((pres["visits"] > 0).sum())
    assert m["有效定位点"] == f"{len(ref['clean'].fixes):,}"
    assert m["巡查时长（小时）"] == f"{pres['dwell_s'].sum() / 3600:.1f}"
    assert m["已巡查微网格"] == f"{visited:,} / 447"
    assert m["未巡查微网格"] == f"{447 - visited:,}"
    share = patrol.street_coverage(ref["streets"], ref["segs"]).covered_share
    assert number(m["街巷覆盖率"]) == pytest.approx(100 * share, abs=0.3)
    # the gap table: the same ranking as coverage_gaps over point-in-polygon counts and Gi*
    gaps = page.dataframe[0].value
    assert list(gaps["单元"]) == list(ref["ranked"]["unit_id"].head(50))
    # the reasons: the same words, with the unit's most frequent category in front
    for shown, bare in zip(gaps["原因"], ref["ranked"]["reason_zh"].head(50), strict=True):
        assert shown.endswith(bare) and len(shown) > len(bare)
    # the unvisited micro-grids
    unvisited = page.dataframe[1].value
    assert sorted(unvisited["单元"]) == sorted(pres.loc[pres["visits"] == 0, "unit_id"])
    # per staff member: every member with tracks, visits and time as presence per staff
    people = page.dataframe[2].value.set_index("工号")
    walkers = set(ref["clean"].fixes["staff_code"])
    assert set(people.index) == walkers
    per = patrol.presence(ref["samples"], ref["grids"], by=("unit", "staff"), start=DAY, end=END)
    per = per.groupby("staff_code")[["visits", "dwell_s"]].sum()
    assert (people["到访次数"] == per.loc[people.index, "visits"]).all()
    np.testing.assert_allclose(
        people["巡查时长（小时）"], (per.loc[people.index, "dwell_s"] / 3600).round(2)
    )
    assert (people["已巡查"] + people["未巡查"] == people["负责微网格"]).all()
    assert len(page.get("deck_gl_json_chart")) == 2  # the unit map and the route map
    assert len(page.get("download_button")) == 1  # the gap list export


def test_route_for_a_chosen_staff_member(page, ref):
    people = page.dataframe[2].value
    who = people.loc[people["未巡查"] > 0, "工号"].iloc[0]
    page.selectbox(key="patrol_route_staff").set_value(who)
    page.slider(key="patrol_route_budget").set_value(60).run()
    assert not page.exception, page.exception
    route = patrol.route_for_staff(
        ref["ranked"], who, ref["staff"], ref["grids"], budget_s=3600, streets=ref["streets"]
    )
    assert len(route.stops) >= 1 and route.total_s <= 3600
    table = page.dataframe[3].value
    assert list(table["单元"]) == list(route.stops["unit_id"])
    np.testing.assert_allclose(table["到达（分钟）"], (route.stops["arrive_s"] / 60).round(1))
    m = metrics(page)
    assert m["停靠点"] == str(len(route.stops))
    assert m["步行距离（米）"] == f"{round(route.travel_m):,}"
    assert m["路径"] == "沿街巷"


def test_shift_day_units_and_english(page, ref):
    # the night shift (19:00-09:00): the evening patrols only
    page.radio(key="patrol_shift_zh").set_value("night").run()
    assert not page.exception, page.exception
    fixes = ref["clean"].fixes
    hour = fixes["t"].dt.hour
    night = (hour >= 19) | (hour < 9)
    pres = patrol.presence(
        ref["samples"],
        ref["grids"],
        by=("unit", "shift"),
        shifts={"night": ("19:00", "09:00")},
        start=DAY,
        end=END,
    )
    m = metrics(page)
    assert m["有效定位点"] == f"{int(night.sum()):,}"
    assert m["巡查时长（小时）"] == f"{pres['dwell_s'].sum() / 3600:.1f}"
    assert m["已巡查微网格"] == f"{int((pres['visits'] > 0).sum()):,} / 447"
    # one day (the only one): the same numbers
    page.selectbox(key="patrol_day_zh").set_value("2026-10-31").run()
    assert metrics(page)["有效定位点"] == f"{int(night.sum()):,}"
    # a custom shift that does not parse: one message, no traceback
    page.radio(key="patrol_shift_zh").set_value("custom").run()
    page.text_input(key="patrol_shift_custom").input("9-5pm").run()
    assert not page.exception and page.warning and "9" in page.warning[0].value
    page.radio(key="patrol_shift_zh").set_value("all").run()
    # H3 cells and the gaps layer, then English
    page.radio(key="patrol_units_zh").set_value("h3:11").run()
    page.radio(key="patrol_layer_zh").set_value("gaps").run()
    assert not page.exception, page.exception
    cells = page.dataframe[0].value["单元"]
    assert cells.str.fullmatch(r"8b[0-9a-f]{13}").all()
    page.session_state["lang"] = "en"
    page.run()
    assert not page.exception, page.exception
    assert page.title[0].value == "Patrol coverage and gaps"
    m = metrics(page)
    assert m["GPS fixes used"] == f"{len(fixes):,}"
    assert page.radio(key="patrol_units_en").value == "h3:11"  # choices survive the switch
    reasons = page.dataframe[0].value["Reason"]
    assert reasons.str.contains("hotspot|risk in the top").all()
    assert reasons.str.contains("no visit|last visit").all()
