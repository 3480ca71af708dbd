"""Grids: the hierarchy with search, a grid's boundary on an offline map, editing with live
validation and an impact preview, saving a new version with a reason, history with restore, and
import / export. Everyone may look; grid admins (inside their grids) and admins may change."""

from __future__ import annotations

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from gis import auth, ui, viz
from gis import grids as grids_lib
from gis.core.errors import EditConflict
from gis.grids import edit
from gis.views import grids as grids_view
from gis.views import tables as readable

user = ui.page("view")
eng = ui.engine()
grids = ui.grids()
st.title(ui.t("grids.title"))
st.caption(ui.t("grids.caption"))
if grids.empty:
    st.info(ui.t("app.no_data"))
    st.stop()

parents = dict(zip(grids["code"], grids["parent_code"], strict=True))
names = dict(zip(grids["code"], grids["name"], strict=True))
levels = dict(zip(grids["code"], grids["level"], strict=True))
report = ui.grid_report()

top = st.columns(6)
for col, level in zip(top, ("l1", "l2", "micro", "dedicated"), strict=False):
    col.metric(ui.level_name(level), ui.fmt_int((grids["level"] == level).sum()))
top[4].metric(ui.t("grids.errors"), ui.fmt_int(report.errors))
top[5].metric(ui.t("grids.warnings"), ui.fmt_int(report.warnings))
if report.ok:
    st.success(ui.t("grids.valid"))
else:
    st.error(ui.t("grids.invalid", n=report.errors))


def reload_grid() -> None:
    """Drop what this user started from, so the grid is edited again from the latest version."""
    st.session_state.pop(f"grids_base_{st.session_state.get('grids_code', '')}", None)
    ui.clear_caches("grids")


def choose(code: str) -> None:
    """Make ``code`` the chosen grid (a table click, or the grid a save left behind); the
    chooser widgets take it up on their next run."""
    st.session_state["grids_code"] = code
    for lang in ("zh", "en"):
        st.session_state.pop(f"grids_pick_{lang}", None)


def label(code: str) -> str:
    return f"{names[code]} · {ui.level_name(levels[code])} · {code}" if code else ui.t("grids.none")


tab_edit, tab_check, tab_history, tab_io = st.tabs(
    [
        ui.t("grids.tab_edit"),
        ui.t("grids.tab_check"),
        ui.t("grids.tab_history"),
        ui.t("grids.tab_io"),
    ]
)


def edit_panel(code: str) -> None:
    """The selected grid: its card, the editing map, the impact preview and the save form."""
    row = grids[grids["code"] == code].iloc[0]
    level = row["level"]
    may_edit = auth.can(user, "edit_grids") and auth.can_edit_grid(user, code, parents)
    # long codes and names do not fit metric boxes in a half-width column: a compact card
    parent = row["parent_code"]
    st.markdown(
        f"**{ui.md_text(row['name'])}**  \n"
        f"{ui.t('card.code')}: `{code}` · {ui.t('card.level')}: {ui.level_name(level)} · "
        f"{ui.t('card.parent')}: {ui.md_text(label(parent)) if parent in names else '—'} · "
        f"{ui.t('grids.version')}: {int(row['version'])}"
    )
    if not may_edit:
        st.info(ui.t("grids.read_only"))

    ops = grids_view.operations_for(grids, code)
    op = ui.keyed_choice(
        st.radio,
        ui.t("grids.operation"),
        ops,
        "grids_op",
        ops[0],
        horizontal=True,
        format_func=lambda o: ui.t(f"grids.op.{o}"),
        disabled=not may_edit,
    )
    st.caption(ui.t(f"grids.help.{op}"))
    # what the user starts from: the versions in force when they opened this grid
    base_key = f"grids_base_{code}"
    if base_key not in st.session_state:
        st.session_state[base_key] = dict(
            zip(grids["code"], grids["version"].astype(int), strict=True)
        )

    view = grids_view.neighbourhood(grids, code)
    # fit the chosen grid with a margin: its neighbours show around it, the parent may not
    focus = grids.loc[grids["code"] == code].geometry.iloc[0]
    minx, miny, maxx, maxy = focus.bounds
    pad = max(maxx - minx, maxy - miny) * 0.35
    m = viz.offline_map(
        (minx - pad, miny - pad, maxx + pad, maxy + pad),
        height=520,
        attribution=ui.t("map.attribution", district=ui.district().get(f"name_{ui.lang()}", "")),
    )
    ui.leaflet_basemap(m, ui.streets(), view)
    draw_options = {"polyline": op == "split", "polygon": op == "add_dedicated"}
    if op != "add_dedicated":
        draw_options["rectangle"] = False
    if op not in ("split", "add_dedicated"):
        draw_options["polygon"] = False
    draw_group = folium.FeatureGroup(name="edit", control=False)
    viz.add_draw(m, draw_group, draw_options=draw_options, lang=ui.lang())
    if op == "reshape" and may_edit:
        viz.editable_geojson(m, grids[grids["code"] == code], "code", fields=["name"])
    folium.GeoJson(
        viz.escape_properties(grids_view.neighbour_frame(view, code)).to_json(
            drop_id=True, default=str
        ),
        name="grids",
        style_function=lambda f: viz.neighbour_style(f["properties"]["role"]),
        tooltip=folium.GeoJsonTooltip(fields=["name", "code"], labels=False),
    ).add_to(m)
    out = st_folium(
        m,
        key=f"grids_map_{code}_{op}",
        height=520,
        use_container_width=True,
        returned_objects=["all_drawings"],
    )
    edited, drawn = viz.read_drawings((out or {}).get("all_drawings"), "code")
    st.caption(ui.t("caption.offline"))

    result = None
    with ui.guard():
        if op == "reshape":
            original = dict(zip(grids["code"], grids.geometry, strict=True))
            moved = viz.changed_geometries(edited, original)
            grow = st.checkbox(ui.t("grids.update_parent"), key="grids_grow")
            if code in moved:
                result = edit.reshape(grids, code, moved[code], update_parent=grow)
            elif edited:
                st.caption(ui.t("grids.no_change"))
        elif op == "split":
            lines = [g for g in drawn if g.geom_type == "LineString"]
            if lines:
                result = edit.split(grids, code, lines[-1])
        elif op == "merge":
            others = grids_view.adjacent_siblings(grids, code)
            chosen = st.multiselect(
                ui.t("grids.merge_with"), others, format_func=label, key=f"grids_merge_{code}"
            )
            if chosen:
                result = edit.merge(grids, [code, *chosen])
        elif op == "move":
            targets = grids_view.adjacent_parents(grids, code)
            target = st.selectbox(
                ui.t("grids.new_parent"),
                [""] + targets,
                format_func=label,
                key=f"grids_move_{code}",
            )
            if target:
                result = edit.move(grids, code, target)
        elif op == "add_dedicated":
            c = st.columns(2)
            ded_name = c[0].text_input(ui.t("grids.ded_name"), key="grids_ded_name")
            ded_kind = c[1].selectbox(
                ui.t("grids.ded_kind"),
                list(grids_lib.DEDICATED_KINDS),
                format_func=lambda k: ui.t(f"kind.{k}"),
                key=f"grids_ded_kind_{ui.lang()}",
            )
            polys = [g for g in drawn if g.geom_type in ("Polygon", "MultiPolygon")]
            if polys and ded_name.strip():
                within = code if level == "l1" else grids_view.community_of(grids, code)
                result = edit.add_dedicated(
                    grids,
                    name=ded_name.strip(),
                    kind=ded_kind,
                    geometry=polys[-1],
                    parent_code=within,
                )
        elif op == "retire":
            if st.checkbox(ui.t("grids.retire_confirm"), key=f"grids_retire_{code}"):
                result = edit.retire(grids, code)

    if result is None:
        st.info(ui.t("grids.draw_first"))
    else:
        st.subheader(ui.t("grids.impact"))
        preview = edit.impact_preview(  # the incidents of the touched grids, not all
            grids, result, incidents=ui.impact_incidents(result), staff=ui.staff()
        )
        for note in result.notes:
            st.caption(ui.md_text(note))
        areas = preview.areas.assign(
            status=preview.areas["status"].map(lambda v: ui.t(f"edit.{v}"))
        )
        st.dataframe(
            areas.drop(columns=["level"]).rename(
                columns={
                    "code": ui.t("col.code"),
                    "name": ui.t("col.name"),
                    "status": ui.t("col.status"),
                    "area_before_m2": ui.t("col.before_m2"),
                    "area_after_m2": ui.t("col.after_m2"),
                    "change_m2": ui.t("col.change_m2"),
                }
            ),
            hide_index=True,
            width="stretch",
        )
        c = st.columns(4)
        c[0].metric(ui.t("grids.impact_incidents"), ui.fmt_int(preview.incidents_moved or 0))
        c[1].metric(ui.t("grids.impact_households"), ui.fmt_int(preview.households_moved))
        c[2].metric(
            ui.t("grids.impact_staff"),
            ui.fmt_int(0 if preview.staff is None else len(preview.staff)),
        )
        c[3].metric(ui.t("grids.impact_codes"), ui.fmt_int(len(preview.new_codes)))
        if preview.new_codes:
            st.caption(f"{ui.t('grids.impact_codes')}: {ui.md_text(', '.join(preview.new_codes))}")
        if len(preview.incident_moves):
            st.dataframe(
                preview.incident_moves.assign(level=lambda d: d["level"].map(ui.level_name)).rename(
                    columns={
                        "level": ui.t("col.level"),
                        "from_code": ui.t("col.from"),
                        "to_code": ui.t("col.to"),
                        "incidents": ui.t("col.count"),
                    }
                ),
                hide_index=True,
                width="stretch",
            )
        if preview.staff is not None and len(preview.staff):
            deps = {d: ui.department_name(d) for d in ui.departments()["code"]}
            st.dataframe(
                readable.staff_table(preview.staff, names, deps, ui.lang()),
                hide_index=True,
                width="stretch",
            )
        if not preview.ok:
            st.error(ui.t("grids.result_invalid"))
            st.code(preview.validation.text(ui.lang(), limit=20))
        with st.form(f"grids_save_{code}_{op}"):
            reason = st.text_input(ui.t("grids.reason"), key="grids_reason")
            save = st.form_submit_button(
                ui.t("grids.save"), type="primary", disabled=not (may_edit and preview.ok)
            )
        if save:
            if not reason.strip():
                st.error(ui.t("grids.need_reason"))
            else:
                with ui.guard():  # an edit conflict offers a reload; other errors: a message
                    try:
                        edit.save_edit(
                            eng,
                            result,
                            user=user,
                            reason=reason.strip(),
                            expected_versions=st.session_state[base_key],
                        )
                    except EditConflict as exc:
                        st.error(ui.t("grids.conflict", msg=str(exc)))
                        st.button(ui.t("grids.reload"), key="grids_reload", on_click=reload_grid)
                    else:
                        st.session_state.pop(base_key, None)
                        st.session_state["grids_saved"] = ", ".join(
                            sorted({*result.changed, *result.created})
                        )
                        if code in result.retired:
                            survivors = [
                                c for c in result.created if c in set(result.grids["code"])
                            ]
                            choose(survivors[0] if survivors else "")
                        ui.clear_caches("grids")
                        st.rerun()
    if st.session_state.get("grids_saved"):
        st.success(ui.t("grids.saved", codes=st.session_state.pop("grids_saved")))


# ----------------------------------------------------------------------------- hierarchy + edit
with tab_edit:
    left, right = st.columns([2, 3])
    with left:
        query = st.text_input(ui.t("grids.search"), key="grids_search")
        table = grids_view.hierarchy_table(grids, query)
        if table.empty:
            st.info(ui.t("grids.no_match"))
        shown = table.assign(level=table["level"].map(ui.level_name))
        shown = shown.rename(
            columns={
                "code": ui.t("col.code"),
                "name": ui.t("col.name"),
                "level": ui.t("col.level"),
                "parent_name": ui.t("col.parent"),
                "version": ui.t("col.version"),
                "area_km2": ui.t("grids.area_km2"),
                "households": ui.t("metric.households"),
                "population": ui.t("metric.population"),
            }
        )
        event = st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            height=360,
            on_select="rerun",
            selection_mode="single-row",
            key=f"grids_table_{ui.lang()}",
        )
        rows = (event or {}).get("selection", {}).get("rows", []) if event else []
        if rows and rows[0] < len(table):
            clicked = table["code"].iloc[rows[0]]
            if clicked != st.session_state.get("grids_last_click"):
                st.session_state["grids_last_click"] = clicked
                choose(clicked)
        options = [""] + list(table["code"])
        current = st.session_state.get("grids_code", "")
        if current and current not in options:
            options.append(current)
        pick_key = f"grids_pick_{ui.lang()}"
        if pick_key not in st.session_state:  # first time, or the other language's chooser
            st.session_state[pick_key] = current
        code = st.selectbox(ui.t("grids.pick"), options, format_func=label, key=pick_key)
        st.session_state["grids_code"] = code

    with right:
        if not code or code not in levels:
            st.info(ui.t("grids.draw_first"))
        else:
            edit_panel(code)

# ----------------------------------------------------------------------------- validation
with tab_check:
    problems = report.problems
    if problems.empty:
        st.success(ui.t("grids.valid"))
    else:
        st.dataframe(
            readable.problems_table(pd.DataFrame(problems), ui.lang()),
            hide_index=True,
            width="stretch",
        )
    st.download_button(
        ui.t("grids.download_report"),
        report.text(ui.lang()),
        file_name="grid_validation.txt",
        key="grids_report_dl",
    )

# ----------------------------------------------------------------------------- history
with tab_history:
    code = st.session_state.get("grids_code", "")
    if code:
        st.subheader(ui.t("grids.history_for", name=label(code)))
        history = edit.grid_history(eng, code)
        st.dataframe(
            readable.history_table(history, names, ui.lang()), hide_index=True, width="stretch"
        )
        if auth.can(user, "edit_grids") and auth.can_edit_grid(user, code, parents):
            current_version = (
                int(grids.loc[grids["code"] == code, "version"].iloc[0]) if code in levels else None
            )
            versions = history["version"].dropna().astype(int)
            older = [int(v) for v in versions if int(v) != current_version]
            if older:
                with st.form(f"grids_restore_{code}"):
                    version = st.selectbox(ui.t("grids.restore_pick"), older, key="grids_restore_v")
                    reason = st.text_input(ui.t("grids.reason"), key="grids_restore_reason")
                    go = st.form_submit_button(ui.t("grids.restore"))
                if go:
                    if not reason.strip():
                        st.error(ui.t("grids.need_reason"))
                    else:
                        with ui.guard():
                            edit.restore_version(
                                eng, code, version, user=user, reason=reason.strip()
                            )
                            st.success(ui.t("grids.restored", code=code, version=version))
                            ui.clear_caches("grids")
                            st.rerun()
    st.subheader(ui.t("grids.log"))
    st.dataframe(
        readable.edit_log_table(edit.edit_log(eng, limit=50), names, ui.lang()),
        hide_index=True,
        width="stretch",
    )

# ----------------------------------------------------------------------------- import / export
with tab_io:
    st.subheader(ui.t("grids.export"))
    c = st.columns(3)
    fmt = c[0].selectbox(ui.t("grids.format"), list(ui.GRID_EXPORT_FORMATS), key="grids_fmt")
    lvl = c[1].selectbox(
        ui.t("col.level"),
        ["", "l1", "l2", "micro", "dedicated"],
        format_func=lambda v: ui.level_name(v) if v else ui.t("grids.level_all"),
        key=f"grids_export_level_{ui.lang()}",
    )
    data, file_name, mime = ui.grid_export(fmt, lvl or None)
    c[2].download_button(
        ui.t("grids.download"), data, file_name=file_name, mime=mime, key="grids_export_dl"
    )

    st.subheader(ui.t("grids.import"))
    if not auth.can(user, "import_data"):
        st.caption(ui.t("grids.import_denied"))
    else:
        upload = st.file_uploader(ui.t("grids.import_file"), key="grids_upload")
        if upload is not None:
            with ui.guard(stop=True):
                path = ui.uploaded_file(upload)
                columns, n_rows = ui.file_columns(str(path))
            st.caption(ui.t("grids.file_rows", n=ui.fmt_int(n_rows)))
            fields = [""] + columns
            guessed = grids_lib.guess_grid_fields(columns)
            chosen: dict[str, str] = {}
            for col, (target, label_key) in zip(
                st.columns(4),
                (
                    ("code", "grids.field_code"),
                    ("name", "grids.field_name"),
                    ("parent_code", "grids.field_parent"),
                    ("level", "grids.field_level"),
                ),
                strict=True,
            ):
                chosen[target] = col.selectbox(
                    ui.t(label_key),
                    fields,
                    fields.index(guessed.get(target, "")),
                    format_func=lambda c: c or ui.t("grids.no_field"),
                    key=f"gi_{target.removesuffix('_code')}",
                )
            c = st.columns(2)
            default_level = c[0].selectbox(
                ui.t("grids.default_level"),
                ["l1", "l2", "micro", "dedicated"],
                index=2,
                format_func=ui.level_name,
                key=f"gi_default_level_{ui.lang()}",
            )
            file_crs = c[1].text_input(ui.t("grids.file_crs"), "EPSG:4326", key="gi_crs")
            mapping = {t: src for t, src in chosen.items() if src and src != t}
            options = dict(
                mapping=mapping,
                level=None if chosen["level"] else default_level,
                crs=file_crs.strip() or None,
                imported_by=user.username,
            )
            with ui.guard() as outcome:
                check = grids_lib.import_grids(eng, path, check_only=True, **options)
            if not outcome.failed:
                st.info(ui.md_text(check.summary_line()))
                if len(check.rejected):
                    st.dataframe(check.rejected, hide_index=True, width="stretch")
                st.code(check.report.text(ui.lang(), limit=30))
                reason = st.text_input(ui.t("grids.reason"), key="gi_reason")
                if st.button(
                    ui.t("grids.do_import"),
                    type="primary",
                    disabled=not check.report.ok,
                    key="gi_go",
                ):
                    if not reason.strip():
                        st.error(ui.t("grids.need_reason"))
                    else:
                        with ui.guard():
                            done = grids_lib.import_grids(
                                eng, path, reason_text=reason.strip(), **options
                            )
                            ui.clear_caches("grids")
                            st.success(ui.t("grids.imported", line=done.summary_line()))
