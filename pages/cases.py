"""Cases (案件办理): the queue with its countdowns, the open cases on the map, one case's card
with its timeline, and the steps the signed-in role may take. A click on the map reports a case.

Every step goes through ``gis.cases.act``, which checks the role, the account's scope and the
version the person saw: a forged widget value gets the library's refusal, and a second person
acting on the same version gets a conflict naming who acted first.
"""

from __future__ import annotations

from datetime import datetime

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from gis import auth, ui, viz
from gis import cases as loop
from gis.cases.routing import TEAM_NAMES
from gis.cases.states import EVALUATIONS, OPEN_STATES
from gis.store import cases as case_store
from gis.store import casework
from gis.views import cases as cv

MESSAGE_KEY = "cases_message"
CLICK_KEY = "cases_click"
MAP_CASES = 400

user = ui.page("view_cases")
lang = ui.lang()
eng = ui.engine()
now = datetime.now().replace(microsecond=0)
scope = loop.case_scope(eng, user)
st.title(ui.t("cases.title"))
if scope.everything:
    st.caption(ui.t("cases.scope_all"))
elif scope.department is not None:
    st.caption(ui.t("cases.scope_department", dept=loop.department_label(scope.department, lang)))
else:
    st.caption(ui.t("cases.scope_grids", grids=", ".join(scope.grid_codes) or "—"))
if MESSAGE_KEY in st.session_state:
    kind, text = st.session_state.pop(MESSAGE_KEY)
    (st.success if kind == "ok" else st.error)(text)

deps = ui.departments()
dep_codes = [*TEAM_NAMES, *deps["code"].tolist()]
tax = ui.taxonomy()
minor = tax[tax["code"].str.len() > 2] if "code" in tax else tax


def dep_label(code: str) -> str:
    return loop.department_label(code, lang) if code else "—"


def cat_label(code: str) -> str:
    return f"{code} {ui.category_name(code)}" if isinstance(code, str) else "—"


# --- filters and the queue ----------------------------------------------------------------------
with st.expander(ui.t("cases.filters"), expanded=False):
    c1, c2, c3 = st.columns(3)
    states = c1.multiselect(
        ui.t("cases.f_states"), list(loop.STATES), default=list(OPEN_STATES),
        format_func=lambda s: cv.state_name(s, lang), key="cases_f_states",
    )  # fmt: skip
    departments = c2.multiselect(
        ui.t("cases.f_departments"), dep_codes, format_func=dep_label, key="cases_f_deps"
    )
    grid_code = c3.text_input(ui.t("cases.f_grid"), key="cases_f_grid").strip() or None
    categories = c1.multiselect(
        ui.t("cases.f_categories"), minor["code"].tolist(), format_func=cat_label,
        key="cases_f_cats",
    )  # fmt: skip
    sources = c2.multiselect(ui.t("cases.f_sources"), list(ui.SOURCES), key="cases_f_sources")
    overdue = c3.checkbox(ui.t("cases.f_overdue"), key="cases_f_overdue")
filters = cv.QueueFilters(
    states=tuple(states), departments=tuple(departments), grid_code=grid_code,
    categories=tuple(categories), sources=tuple(sources), overdue_only=overdue,
)  # fmt: skip
with ui.guard(stop=True):
    queue = casework.read_queue(eng, **cv.queue_arguments(scope, filters, now))
    queue = cv.with_countdown(queue, now)
if overdue:
    queue = queue[queue["overdue"]].reset_index(drop=True)

lights = queue["light"].value_counts()
cols = st.columns(len(cv.LIGHTS))
for col, light in zip(cols, cv.LIGHTS, strict=True):
    col.metric(ui.t(f"cases.light.{light}"), int(lights.get(light, 0)))
st.caption(ui.t("cases.n_queue", n=len(queue)))
DOT = {"red": "🔴", "amber": "🟠", "green": "🟢", "paused": "⏸️", "none": "⚪"}
shown = pd.DataFrame(
    {
        ui.t("cases.col.light"): queue["light"].map(DOT),
        ui.t("cases.col.code"): queue["case_code"],
        ui.t("cases.col.state"): [cv.state_name(s, lang) for s in queue["state"]],
        ui.t("cases.col.countdown"): [cv.countdown_text(h, lang) for h in queue["remaining_h"]],
        ui.t("cases.col.category"): queue["category_code"].map(cat_label),
        ui.t("cases.col.department"): queue["department"].map(dep_label),
        ui.t("cases.col.grid"): queue["grid_code"],
        ui.t("cases.col.reported"): queue["reported_at"],
        ui.t("cases.col.address"): queue["address"],
    }
)
st.dataframe(shown, hide_index=True, width="stretch", height=280)

# --- the map: open cases coloured by their light; a click reports a case ------------------------
grids = ui.grids()
st.subheader(ui.t("cases.map"))
outline = grids[grids["level"] == "l1"]
m = viz.offline_map(outline if len(outline) else grids, height=460)
viz.add_vector_basemap(m, ui.streets(), grids[grids["level"].isin(["l1", "l2"])])
on_map = queue[queue["lon"].notna()].head(MAP_CASES)
for row in on_map.itertuples():
    color = viz.hex_color(cv.LIGHT_RGB[row.light])
    folium.CircleMarker(
        [row.lat, row.lon], radius=6, color=color, fill=True, fill_color=color,
        fill_opacity=0.9, weight=1, tooltip=f"{row.case_code} · {cv.state_name(row.state, lang)}",
    ).add_to(m)  # fmt: skip
out = st_folium(m, key="cases_map", height=460, use_container_width=True,
                returned_objects=["last_clicked"])  # fmt: skip
st.caption(ui.t("caption.offline"))
clicked = (out or {}).get("last_clicked")
if clicked and clicked.get("lat") is not None:
    st.session_state[CLICK_KEY] = (float(clicked["lng"]), float(clicked["lat"]))

if auth.can(user, "report_cases"):
    with st.expander(ui.t("cases.report"), expanded=CLICK_KEY in st.session_state):
        place = st.session_state.get(CLICK_KEY)
        if place is None:
            st.info(ui.t("cases.click_first"))
        else:
            lon, lat = place
            where = cv.click_place(lon, lat, grids, ui.streets())
            st.caption(ui.t("cases.report_at", lat=lat, lon=lon, grid=where["grid_code"] or "—",
                            address=where["address"]))  # fmt: skip
            with st.form("cases_report"):
                category = st.selectbox(
                    ui.t("cases.f_categories"), minor["code"].tolist(), format_func=cat_label,
                    key="cases_r_category",
                )  # fmt: skip
                r1, r2 = st.columns(2)
                urgency = r1.selectbox(
                    ui.t("cases.urgency"), list(loop.URGENCIES),
                    format_func=lambda u: ui.t(f"cases.urgency.{u}"), key="cases_r_urgency",
                )  # fmt: skip
                source = r2.selectbox(ui.t("cases.source"), list(ui.SOURCES), key="cases_r_source")
                address = st.text_input(
                    ui.t("cases.address"), value=where["address"], key=f"cases_r_addr_{lon}_{lat}"
                )
                description = st.text_area(ui.t("cases.description"), key="cases_r_desc")
                photo = st.file_uploader(ui.t("cases.photo"), type=["png", "jpg", "jpeg"],
                                         key="cases_r_photo")  # fmt: skip
                if st.form_submit_button(ui.t("cases.report"), type="primary"):
                    with ui.guard():
                        new = loop.report_case(
                            eng, category=category, actor=user, source=source, urgency=urgency,
                            lon=lon, lat=lat, address=address or None,
                            description=description or None,
                        )  # fmt: skip
                        if photo is not None:
                            casework.add_attachment(
                                eng, new["id"], seq=1, kind="photo", actor=user.username,
                                at=datetime.now(), name=photo.name, mime=photo.type,
                                content=photo.getvalue(),
                            )  # fmt: skip
                        st.session_state.pop(CLICK_KEY, None)
                        st.session_state["cases_pick"] = new["case_code"]
                        st.session_state[MESSAGE_KEY] = (
                            "ok", ui.t("cases.reported", code=new["case_code"])
                        )  # fmt: skip
                        st.rerun()

# --- one case's card ------------------------------------------------------------------------------
codes = queue["case_code"].tolist()
picked = st.session_state.get("cases_pick")
if picked and picked not in codes:
    codes = [picked, *codes]  # a case just reported, or one chosen before a filter changed
if not codes:
    st.info(ui.t("cases.none"))
    st.stop()
code = st.selectbox(ui.t("cases.pick"), codes, key="cases_pick")
case = case_store.read_case(eng, str(code))
if case is None or not scope.covers(case):  # a forged choice gets nothing
    st.error(ui.t("cases.out_of_scope", code=code))
    st.stop()
seen_key = f"cases_seen_{case['id']}"
if seen_key not in st.session_state:
    st.session_state[seen_key] = int(case["version"])
seen = int(st.session_state[seen_key])

st.subheader(ui.t("cases.card", code=case["case_code"]))
place = casework.case_place(eng, case["incident_id"])
st.write(
    ui.t(
        "cases.facts", state=cv.state_name(case["state"], lang), version=case["version"],
        category=cat_label(case["category_code"]), grid=case["grid_code"] or "—",
        address=place["address"] or "—",
    )
)  # fmt: skip
if case["deadline"] is not None:
    one = cv.with_countdown(pd.DataFrame([case]), now).iloc[0]
    st.write(ui.t("cases.deadline", deadline=f"{case['deadline']:%Y-%m-%d %H:%M}",
                  left=cv.countdown_text(one["remaining_h"], lang)))  # fmt: skip
else:
    st.caption(ui.t("cases.no_deadline"))
steps = case_store.read_transitions(eng, [case["id"]])
if cv.pending_extension(steps):
    st.warning(ui.t("cases.pending_extension"))
suggested, why, assist_hint = cv.suggestion(case, now, lang)
if case["state"] == "registered":
    st.info(ui.t("cases.suggested", dept=dep_label(suggested), reason=why))
if st.button(ui.t("cases.reload"), key="cases_reload"):
    st.session_state[seen_key] = int(case["version"])
    st.rerun()

st.markdown(f"**{ui.t('cases.timeline')}**")
tl = cv.timeline(steps, lang)
tl.columns = [ui.t(f"cases.tl.{c}") for c in tl.columns]
st.dataframe(tl, hide_index=True, width="stretch")
files = casework.read_attachments(eng, case["id"])
if len(files):
    st.markdown(f"**{ui.t('cases.attachments')}**")
    for item in files.itertuples():
        caption = f"{item.actor} · {item.at:%Y-%m-%d %H:%M} · {item.name or ''}"
        if item.kind == "photo" and item.content is not None:
            st.image(bytes(item.content), caption=caption, width=240)
        else:
            st.caption(f"{caption}: {item.text}")

# --- the whistle: departments summoned to this case report in, each with its sub-task --------
whistles = casework.read_whistles(eng)
whistles = whistles[whistles["case_id"] == case["id"]]
with st.expander(ui.t("whistle.title", n=len(whistles)), expanded=len(whistles) > 0):
    my_dep = scope.department
    for w in whistles.itertuples():
        st.markdown(ui.t("whistle.head", title=w.title, by=w.summoned_by,
                         at=f"{w.summoned_at:%Y-%m-%d %H:%M}", limit=f"{w.report_by:%Y-%m-%d %H:%M}"))  # fmt: skip
        status = loop.whistle_status(eng, int(w.id), now)
        view = status.assign(
            department=status["department"].map(dep_label),
            late=status["late"].map({True: "🔴", False: "🟢"}),
        )
        view.columns = [ui.t(f"whistle.col.{c}") for c in view.columns]
        st.dataframe(view, hide_index=True, width="stretch")
        if my_dep in set(status["department"]) or user.role == "admin":
            mine = my_dep if my_dep in set(status["department"]) else status["department"].iloc[0]
            row = status.set_index("department").loc[mine]
            b1, b2 = st.columns(2)
            if pd.isna(row["reported_at"]) and b1.button(ui.t("whistle.report_in"),
                                                         key=f"whistle_in_{w.id}"):  # fmt: skip
                with ui.guard():
                    loop.report_in(eng, int(w.id), mine, by=user)
                    st.rerun()
            if (not pd.isna(row["reported_at"]) and pd.isna(row["done_at"])
                    and b2.button(ui.t("whistle.finish"), key=f"whistle_done_{w.id}")):  # fmt: skip
                with ui.guard():
                    loop.finish_task(eng, int(w.id), mine, by=user)
                    st.rerun()
    if user.role in loop.SUMMONING_ROLES:
        with st.form("whistle_new"):
            summoned = st.multiselect(ui.t("whistle.departments"), dep_codes,
                                      default=[d for d in [suggested, *assist_hint] if d in dep_codes],
                                      format_func=dep_label, key="whistle_deps")  # fmt: skip
            w1, w2, w3 = st.columns(3)
            within = w1.number_input(ui.t("whistle.within"), 0.5, 72.0, 2.0, key="whistle_within")
            task = w2.text_input(ui.t("whistle.task"), key="whistle_task")
            task_h = w3.number_input(ui.t("whistle.task_hours"), 0.5, 720.0, 24.0,
                                     key="whistle_task_h")  # fmt: skip
            if st.form_submit_button(ui.t("whistle.blow"), type="primary"):
                with ui.guard():
                    loop.summon(
                        eng, by=user, departments=summoned, report_within_hours=within,
                        title=f"{case['case_code']} {cat_label(case['category_code'])}",
                        case_id=int(case["id"]),
                        tasks={d: (task or ui.t("whistle.default_task"), task_h) for d in summoned},
                    )  # fmt: skip
                    st.rerun()

# --- the steps this role may take -----------------------------------------------------------------
options = cv.actions_for(user, case, scope)
if not options:
    st.caption(ui.t("cases.no_actions"))
    st.stop()
action = st.radio(
    ui.t("cases.action"), options, format_func=lambda a: cv.step_name(a, lang),
    horizontal=True, key="cases_action",
)  # fmt: skip
level1 = action == "dispatch" and case["state"] == "registered"
with st.form("cases_act"):
    kw: dict = {}
    if loop.STEPS[action].needs_reason:
        kw["reason"] = st.text_input(ui.t("cases.reason"), key="cases_reason")
    if level1:
        lead = st.selectbox(ui.t("cases.lead"), dep_codes, index=dep_codes.index(suggested)
                            if suggested in dep_codes else 0, format_func=dep_label,
                            key="cases_lead")  # fmt: skip
        assist = st.multiselect(ui.t("cases.assist"), dep_codes, default=[
            d for d in assist_hint if d in dep_codes], format_func=dep_label,
            key="cases_assist")  # fmt: skip
        kw.update(department=lead, co_departments=assist)
    elif action == "dispatch":
        kw["assignee"] = st.text_input(ui.t("cases.assignee"), key="cases_assignee")
    if action == "evaluate":
        kw["result"] = st.selectbox(ui.t("cases.result"), list(EVALUATIONS),
                                    format_func=lambda r: ui.t(f"cases.eval.{r}"),
                                    key="cases_result")  # fmt: skip
    note = st.text_area(ui.t("cases.note"), key="cases_note")
    photo = st.file_uploader(ui.t("cases.photo"), type=["png", "jpg", "jpeg"], key="cases_photo")
    submitted = st.form_submit_button(ui.t("cases.submit"), type="primary")
if submitted:
    with ui.guard():
        try:
            after = loop.act(eng, case["id"], action, actor=user, seen_version=seen,
                             note=note or None, **kw)  # fmt: skip
        except loop.CaseConflict:
            first = case_store.read_transition(eng, case["id"], seen + 1)
            fresh = case_store.read_case(eng, case["id"])
            st.error(
                ui.t(
                    "cases.conflict", who=first["actor"], at=f"{first['at']:%Y-%m-%d %H:%M:%S}",
                    code=case["case_code"], step=cv.step_name(first["action"], lang), seen=seen,
                    now=fresh["version"],
                )
            )  # fmt: skip
            st.stop()
        if photo is not None:
            casework.add_attachment(
                eng, case["id"], seq=after["version"], kind="photo", actor=user.username,
                at=datetime.now(), name=photo.name, mime=photo.type, content=photo.getvalue(),
            )  # fmt: skip
        st.session_state[seen_key] = int(after["version"])
        st.session_state[MESSAGE_KEY] = (
            "ok",
            ui.t("cases.done", step=cv.step_name(action, lang), version=after["version"],
                 state=cv.state_name(after["state"], lang)),
        )  # fmt: skip
        st.rerun()
