"""AppTest of the cases page (案件办理) per role: what each role sees and may do, refusals by URL
and by forged widget or session state, and the conflict of two people on one case version."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from gis import auth, store, ui
from gis.cases import act, report_case
from gis.cli import main
from gis.store import cases as case_store
from tests.ui.apptest import APP, new_app, sign_in

PAGE = "pages/cases.py"


@pytest.fixture(scope="module")
def cases_db(demo_db, tmp_path_factory):
    """The demo database with three cases: one dispatched to the street team, one to the
    police station, one just reported (all in the grid worker's community)."""
    path = tmp_path_factory.mktemp("cases_page") / "cases.db"
    shutil.copyfile(demo_db, path)
    eng = store.open_store(str(path))
    grids = store.read_grids(eng, level="micro")
    l1 = auth.get_user(eng, "gridworker").grid_codes[0]
    mine = grids[grids["code"].str.startswith(l1[:12])]
    point = mine.geometry.iloc[0].representative_point()
    t = datetime.now().replace(microsecond=0) - timedelta(hours=3)
    made = {}
    for name, dept in (("street", "street_team"), ("police", "pcs"), ("new", None),
                       ("done", "street_team")):  # fmt: skip
        case = report_case(eng, category="05-04", actor="seed", reported_at=t,
                           lon=point.x, lat=point.y, source="patrol")  # fmt: skip
        if dept:
            for step in ("accept", "register", "dispatch"):
                t += timedelta(minutes=1)
                kw = {"department": dept} if step == "dispatch" else {}
                case = act(eng, case["id"], step, actor="seed", seen_version=case["version"],
                           at=t, **kw)  # fmt: skip
        if name == "done":
            for step in ("handle", "verify", "close"):
                t += timedelta(minutes=1)
                case = act(eng, case["id"], step, actor="seed", seen_version=case["version"],
                           at=t)  # fmt: skip
        made[name] = case["case_code"]
        t += timedelta(minutes=1)
    eng.dispose()
    return str(path), made


@pytest.fixture
def page_env(cases_db, tmp_path, monkeypatch):
    src, made = cases_db
    path = tmp_path / "page.db"
    shutil.copyfile(src, path)
    monkeypatch.setenv("GRIDLENS_DB", str(path))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield str(path), made
    st.cache_resource.clear()
    st.cache_data.clear()


def open_cases(username: str) -> AppTest:
    at = sign_in(new_app(), username, auth.DEMO_PASSWORDS[username])
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def pick(at: AppTest, code: str) -> AppTest:
    at.selectbox(key="cases_pick").set_value(code).run()
    assert not at.exception, at.exception
    return at


def take(at: AppTest, action: str, **fields) -> AppTest:
    at.radio(key="cases_action").set_value(action).run()
    for key, value in fields.items():
        widget = at.text_input(key=key) if key != "cases_note" else at.text_area(key=key)
        widget.input(value)
    at.button(key="FormSubmitter:cases_act-提交").click().run()
    assert not at.exception, at.exception
    return at


def test_handler_sees_its_department_and_handles(page_env):
    path, made = page_env
    at = open_cases("handler")
    codes = at.selectbox(key="cases_pick").options
    assert made["street"] in codes and made["police"] not in codes and made["new"] not in codes
    pick(at, made["street"])
    assert set(at.radio(key="cases_action").options) >= {"处置", "回退", "申请延期"}
    assert "受理" not in at.radio(key="cases_action").options
    take(at, "handle", cases_note="已清理完毕")
    assert any("处置" in s.value for s in at.success), [e.value for e in at.error]
    eng = store.open_store(path)
    steps = case_store.read_transitions(eng, [case_store.read_case(eng, made["street"])["id"]])
    assert steps[["action", "actor", "note"]].iloc[-1].tolist() == [
        "handle",
        "handler",
        "已清理完毕",
    ]


def test_handler_is_refused_other_pages_and_forged_choices(page_env):
    path, made = page_env
    handler = auth.get_user(store.open_store(path), "handler")
    # a forged choice of another department's case (session state put in before the run)
    page = AppTest.from_file(str(Path(APP).parent / PAGE), default_timeout=120)
    page.session_state[ui.USER_KEY] = handler
    page.session_state["cases_pick"] = made["police"]
    page.run()
    assert not page.exception, page.exception
    assert any(made["police"] in e.value for e in page.error)
    assert not page.radio and not page.get("timeline")
    # the hotspots page run directly with the handler signed in refuses by itself
    page = AppTest.from_file(str(Path(APP).parent / "pages" / "hotspots.py"), default_timeout=60)
    page.session_state[ui.USER_KEY] = handler
    page.run()
    assert page.error and page.error[0].value == "您的角色无权访问此页面。"
    assert not page.title


def test_navigation_by_role(page_env):
    for user, offered, refused in (
        ("handler", "案件办理", "热点分析"),
        ("gridworker", "案件办理", "首页"),
        ("analyst", "案件办理", "用户管理"),
    ):
        at = sign_in(new_app(), user, auth.DEMO_PASSWORDS[user])
        links = [p.label for p in at.get("page_link")] if at.get("page_link") else None
        at.switch_page(PAGE).run()
        assert at.title[0].value == offered, user
        try:
            at.switch_page({"热点分析": "pages/hotspots.py", "首页": "pages/home.py",
                            "用户管理": "pages/users.py"}[refused]).run()  # fmt: skip
        except ValueError:
            continue  # not even registered in the navigation
        assert not any(t.value == refused for t in at.title), (user, links)
        assert "您的角色无权访问此页面。" in [e.value for e in at.error], user


def test_analyst_reads_but_takes_no_step(page_env):
    _, made = page_env
    at = open_cases("analyst")
    assert {made["street"], made["police"], made["new"]} <= set(
        at.selectbox(key="cases_pick").options
    )
    pick(at, made["new"])
    assert not at.radio
    assert any(c.value == "您的角色在此环节无可执行操作" for c in at.caption)


def test_two_dispatchers_on_one_version_conflict(page_env):
    path, made = page_env
    first, second = open_cases("dispatcher"), open_cases("dispatcher")
    pick(first, made["new"])
    pick(second, made["new"])  # both saw version 1
    take(first, "accept")
    assert not first.error
    take(second, "void", cases_reason="重复上报")
    text = " ".join(e.value for e in second.error)
    assert "dispatcher" in text and "受理" in text and "第 1 版" in text, text
    eng = store.open_store(path)
    assert case_store.read_case(eng, made["new"])["state"] == "accepted"


def test_grid_worker_reports_from_a_map_click(page_env):
    path, _ = page_env
    at = open_cases("gridworker")
    eng = store.open_store(path)
    l1 = auth.get_user(eng, "gridworker").grid_codes[0]
    grids = store.read_grids(eng, level="micro")
    inside = grids[grids["code"].str.startswith(l1[:12])].geometry.iloc[3].representative_point()
    at.session_state["cases_click"] = (inside.x, inside.y)
    at.run()
    at.text_area(key="cases_r_desc").input("占道经营")
    at.button(key="FormSubmitter:cases_report-上报新案件").click().run()
    assert not at.exception, at.exception
    assert any("已上报案件" in s.value for s in at.success), [e.value for e in at.error]
    code = at.selectbox(key="cases_pick").value
    case = case_store.read_case(eng, code)
    assert case["grid_l1"] == l1 and case["state"] == "reported"
    assert case_store.read_transitions(eng, [case["id"]])["actor"].tolist() == ["gridworker"]


def test_assessment_figures_equal_the_cli(page_env, tmp_path):
    path, _ = page_env
    at = sign_in(new_app(), "leader", auth.DEMO_PASSWORDS["leader"])
    at.switch_page("pages/assessment.py").run()
    assert not at.exception, at.exception
    start = at.date_input(key="as_start").value
    end = at.date_input(key="as_end").value
    out = tmp_path / "metrics.csv"
    assert main(["cases", "metrics", "--db", path, "--by", "department",
                 "--start", f"{start}", "--end", f"{end}", "--out", str(out)]) == 0  # fmt: skip
    cli = pd.read_csv(out).set_index("unit")
    cli = cli[cli.index.notna()]
    page = at.dataframe[0].value.set_index("unit")
    page = page[page.index.notna()]
    assert sorted(page.index) == sorted(cli.index) == ["pcs", "street_team"]
    for col in ("reported", "accepted", "closed", "closed_on_time", "overdue_open", "score"):
        assert page[col].astype(float).to_dict() == pytest.approx(
            cli[col].astype(float).to_dict(), nan_ok=True
        ), col
    assert page.loc["street_team", "closed"] == 1 and page.loc["pcs", "closed"] == 0
    # a handler may not open the assessment
    handler = sign_in(new_app(), "handler", auth.DEMO_PASSWORDS["handler"])
    try:
        handler.switch_page("pages/assessment.py").run()
    except ValueError:
        return
    assert "您的角色无权访问此页面。" in [e.value for e in handler.error]
    assert not handler.dataframe
