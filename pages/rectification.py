"""Joint rectification (联合整治): the proposed areas on the map and ranked with their reasons;
an area chosen three ways (a proposed area, a polygon drawn on the offline map, or grids); its
briefing with the HTML and Excel downloads; saving it as a plan (leaders and admins); the plans
with their evaluation once their period is over.

Thin: the numbers come from ``gis.planning`` through the cached wrappers of ``gis.ui`` (keyed by
the unit choice, the filters and the area), the layers from ``gis.viz``.
"""

from __future__ import annotations

import hashlib
from datetime import date

import folium
import numpy as np
import pandas as pd
import shapely
import streamlit as st
from streamlit_folium import st_folium

from gis import auth, i18n, planning, ui, viz
from gis.core.errors import GridLensError, InputError
from gis.store.models import PLAN_STATUSES

#: the unit choices for the proposed areas; the first is the CLI's default (``gridlens zones``)
UNIT_CHOICES = ["h3:10", "h3:9", "fishnet:200", "grid:micro"]
#: the evaluation's buffer ring (``gridlens evaluate --buffer-m``'s default)
BUFFER_M = 300.0

user = ui.page("view")
f = ui.filters()
grids = ui.grids()
lang = ui.lang()
st.title(ui.t("rect.title"))
if grids.empty:
    st.info(ui.t("app.no_data"))
    st.stop()
st.caption(ui.t("rect.caption"))
st.caption(
    ui.t(
        "rect.period",
        start=ui.fmt_date(f.start),
        end=ui.fmt_date(f.end - pd.Timedelta(days=1)),
    )
)


def dept_names(codes: str | None, sep: str | None = None) -> str:
    sep = sep or ("、" if lang == "zh" else ", ")
    return sep.join(ui.department_name(c) for c in str(codes or "").split(";") if c)


def trend_word(trend: str) -> str:
    return ui.t(f"rect.trend.{trend}")


def case_status(status) -> str:
    key = f"rect.case.{status}"
    return ui.t(key) if key in i18n.CATALOGUE else str(status)


# ------------------------------------------------------------------ proposed areas
def unit_label(by: str) -> str:
    kind, _, arg = by.partition(":")
    if kind == "grid":
        return ui.level_name(arg)
    if kind == "fishnet":
        return f"{ui.t('hotspots.kind.fishnet')} {arg} m"
    return f"{ui.t('hotspots.kind.h3')} · {arg}"


by = ui.keyed_choice(
    st.radio,
    ui.t("rect.units"),
    UNIT_CHOICES,
    "rect_by",
    UNIT_CHOICES[0],
    horizontal=True,
    format_func=unit_label,
)
flt = dict(
    start=f.start, end=f.end, categories=f.categories, sources=f.sources, grid_code=f.grid_code
)
zones = None
with ui.guard("rect.error"), st.spinner(ui.t("hotspots.computing")):
    zones = ui.rect_zones(by, **flt)
if zones is None or not len(zones):
    zones = None
    st.info(ui.t("rect.no_zones"))

zone_ids = [] if zones is None else list(zones["zone_id"])
zone_names = (
    {}
    if zones is None
    else ui.area_labels(zones.assign(unit_id=zones["zone_id"]), prefixes=zone_ids)
)
modes = ["zone", "draw", "grids"] if zone_ids else ["draw", "grids"]

# a click on a proposed area picks it (before the choosers below are drawn)
map_slot = st.container()
MAP_KEY = "rect_map"
picked = (st.session_state.get(MAP_KEY) or {}).get("selection", {}).get("objects", {})
picked = picked.get("zones", []) if isinstance(picked, dict) else []
if picked and zone_ids:
    zid = str(picked[0].get("properties", picked[0]).get("zone_id"))
    if zid in zone_ids and zid != st.session_state.get("rect_last_pick"):
        st.session_state["rect_last_pick"] = zid
        st.session_state["rect_zone"] = zid
        st.session_state[f"rect_zone_{lang}"] = zid
        st.session_state["rect_mode"] = "zone"
        st.session_state[f"rect_mode_{lang}"] = "zone"

if zones is not None:
    st.subheader(ui.t("rect.zones"))
    table = pd.DataFrame(
        {
            ui.t("rect.col.rank"): zones["rank"].astype(int).to_numpy(),
            ui.t("rect.col.zone"): [zone_names[z] for z in zones["zone_id"]],
            ui.t("rect.col.incidents"): zones["incidents"].astype(int).to_numpy(),
            ui.t("rect.col.weighted"): zones["severity_weighted"].round(0).astype(int).to_numpy(),
            ui.t("rect.col.area_ha"): (zones["area_m2"] / 1e4).round(1).to_numpy(),
            ui.t("rect.col.pai"): zones["pai"].round(1).to_numpy(),
            ui.t("rect.col.trend"): [trend_word(x) for x in zones["trend"]],
            ui.t("rect.col.departments"): [dept_names(d) for d in zones["departments"]],
            ui.t("rect.col.reason"): zones[f"reason_{lang}"].to_numpy(),
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={ui.t("rect.col.reason"): st.column_config.TextColumn(width="large")},
    )

# ------------------------------------------------------------------ choosing the area
st.subheader(ui.t("rect.area"))
mode = ui.keyed_choice(
    st.radio,
    ui.t("rect.mode"),
    modes,
    "rect_mode",
    modes[0],
    horizontal=True,
    format_func=lambda m: ui.t(f"rect.mode.{m}"),
)
area = None  # a shapely geometry (EPSG:4326) or a list of grid codes
area_name = ""
if mode == "zone":
    zone_rows = {z: r for z, r in zip(zone_ids, zones.itertuples(index=False), strict=True)}
    zid = ui.keyed_choice(
        st.selectbox,
        ui.t("rect.pick_zone"),
        zone_ids,
        "rect_zone",
        zone_ids[0],
        format_func=lambda z: ui.t(
            "rect.zone_label",
            zone=zone_names[z],
            rank=int(zone_rows[z].rank),
            n=ui.fmt_int(zone_rows[z].incidents),
            cat=ui.category_name(zone_rows[z].top_category) if zone_rows[z].top_category else "",
        ),
    )
    area = zone_rows[zid].geometry
    area_name = zid
    st.caption(ui.md_text(getattr(zone_rows[zid], f"reason_{lang}")))
elif mode == "draw":
    st.caption(ui.t("rect.draw_help"))
    l1 = grids[grids["level"] == "l1"]
    west, south, east, north = l1.total_bounds
    # a centre and zoom rather than fitting the bounds: Leaflet fits them before the iframe has
    # its final size and the district comes out small
    m = viz.offline_map(
        ((south + north) / 2, (west + east) / 2),
        zoom=14,
        height=520,
        attribution=ui.t("map.attribution", district=ui.district().get(f"name_{lang}", "")),
    )
    ui.leaflet_basemap(m, ui.streets(), grids[grids["level"].isin(["l1", "l2"])])
    if zones is not None:
        folium.GeoJson(
            viz.escape_properties(zones[["zone_id", "geometry"]]).to_json(drop_id=True),
            name="zones",
            style_function=lambda _: {
                "color": "#b10026",
                "weight": 2,
                "dashArray": "6,4",
                "fill": False,
            },
            tooltip=folium.GeoJsonTooltip(fields=["zone_id"], labels=False),
        ).add_to(m)
    viz.add_draw(
        m,
        folium.FeatureGroup(name="area", control=False),
        draw_options={"polyline": False},
        lang=lang,
    )
    out = st_folium(
        m,
        key="rect_draw_map",
        height=520,
        use_container_width=True,
        returned_objects=["all_drawings"],
    )
    _, drawn = viz.read_drawings((out or {}).get("all_drawings"), "code")
    polys = [g for g in drawn if g.geom_type in ("Polygon", "MultiPolygon") and g.area > 0]
    if polys:
        area = shapely.union_all(polys)
        area_name = ui.t("rect.drawn_title")
    else:
        st.info(ui.t("rect.draw_first"))
    st.caption(ui.t("caption.offline"))
else:
    order = {"l1": 0, "l2": 1, "micro": 2, "dedicated": 3}
    current = grids.assign(o=grids["level"].map(order)).sort_values(["o", "code"])
    names = dict(zip(current["code"], current["name"], strict=True))
    levels = dict(zip(current["code"], current["level"], strict=True))
    codes = ui.keyed_choice(
        st.multiselect,
        ui.t("rect.pick_grids"),
        list(current["code"]),
        "rect_grids",
        [],
        format_func=lambda c: f"{names[c]} · {ui.level_name(levels[c])} · {c}",
    )
    if codes:
        area = list(codes)
        more = "…" if len(codes) > 3 else ""
        grid_names = {  # per language, so the cached briefing is the same in both
            "zh": "、".join(names[c] for c in codes[:3]) + more,
            "en": ", ".join(names[c] for c in codes[:3]) + more,
        }
        area_name = grid_names[lang]
    else:
        st.info(ui.t("rect.grids_first"))

# ------------------------------------------------------------------ the map
with map_slot:
    layers = [viz.street_layer(ui.streets())]
    l1 = grids[grids["level"] == "l1"]
    layers.append(
        viz.polygon_layer(
            l1.geometry.to_numpy(),
            [{"tip": f"{n} · {c}"} for n, c in zip(l1["name"], l1["code"], strict=True)],
            layer_id="communities",
            line=[192, 57, 43, 160],
            line_width=2.0,
            pickable=False,
        )
    )
    if zones is not None:
        colors = viz.rank_colors(len(zones))
        layers.append(
            viz.polygon_layer(
                zones.geometry.to_numpy(),
                [
                    {
                        "zone_id": z,
                        "tip": f"{zone_names[z]}\n{ui.t('rect.col.incidents')} {ui.fmt_int(n)}\n{r}",
                    }
                    for z, n, r in zip(
                        zones["zone_id"], zones["incidents"], zones[f"reason_{lang}"], strict=True
                    )
                ],
                layer_id="zones",
                fill=colors,
                line=[80, 0, 20, 230],
                line_width=1.5,
            )
        )
    if area is not None and mode != "zone":
        try:
            outline = planning.area_geometry(area, grids)
        except InputError:
            outline = None
        if outline is not None:
            layers.append(
                viz.polygon_layer(
                    [outline],
                    [{"tip": area_name}],
                    layer_id="area",
                    line=[0, 90, 200, 255],
                    line_width=3.0,
                    pickable=False,
                )
            )
    view = viz.view_for(l1.geometry, height_px=480)
    st.pydeck_chart(
        viz.deck(layers, view, tooltip={"text": "{tip}"}, basemap=ui.basemap()),
        height=480,
        on_select="rerun",
        selection_mode="single-object",
        key=MAP_KEY,
    )
    if zones is not None:
        st.markdown(
            f"{ui.t('rect.map_legend')}: "
            + viz.legend_html(
                [
                    (c, zone_names[z])
                    for c, z in zip(viz.rank_colors(len(zones)), zone_ids, strict=True)
                ]
            ),
            unsafe_allow_html=True,
        )
    st.caption(ui.t("caption.offline"))


# ------------------------------------------------------------------ the briefing
def show_briefing(key, title: tuple[str, str], name: str) -> None:
    """The briefing of the area ``key`` (``ui.area_key``), its downloads and the save form."""
    args = (key, f.start, f.end, f.categories, f.sources, title)
    with ui.guard("rect.error") as outcome, st.spinner(ui.t("hotspots.computing")):
        brief = ui.rect_briefing(*args)
    if outcome.failed:
        return
    st.subheader(title[0] if lang == "zh" else title[1])
    st.markdown("\n".join(f"- {ui.md_text(line)}" for line in brief.summary(lang)))
    a = brief.affected
    c = st.columns(4)
    c[0].metric(ui.t("rect.m.incidents"), ui.fmt_int(brief.n_incidents))
    c[1].metric(ui.t("rect.m.weighted"), ui.fmt_int(round(brief.severity_weighted)))
    c[2].metric(ui.t("rect.m.area_ha"), f"{brief.area_m2 / 1e4:,.1f}")
    ratio = brief.trend.ratio
    c[3].metric(
        ui.t("rect.m.trend"),
        trend_word(brief.trend.trend),
        delta=f"{(ratio - 1) * 100:+.0f}%" if np.isfinite(ratio) else None,
        delta_color="inverse",
        help=brief.trend.text(lang),
    )
    c = st.columns(4)
    help_text = ui.t("rect.affected_help")
    c[0].metric(ui.t("rect.m.households"), ui.fmt_int(round(a["households"])), help=help_text)
    c[1].metric(ui.t("rect.m.population"), ui.fmt_int(round(a["population"])), help=help_text)
    c[2].metric(ui.t("rect.m.businesses"), ui.fmt_int(round(a["businesses"])), help=help_text)
    c[3].metric(ui.t("rect.m.open"), ui.fmt_int(len(brief.open_cases)))

    left, right = st.columns(2)
    with left:
        st.markdown(f"**{ui.t('rect.by_category')}**")
        cats = brief.by_category
        st.dataframe(
            pd.DataFrame(
                {
                    ui.t("rect.col.category"): cats[f"name_{lang}"].to_numpy(),
                    ui.t("rect.col.incidents"): cats["incidents"].astype(int).to_numpy(),
                    ui.t("rect.col.share"): [f"{s:.0%}" for s in cats["share"]],
                    ui.t("rect.col.lead"): [ui.department_name(d) for d in cats["department"]],
                    ui.t("rect.col.co"): [dept_names(d) for d in cats["co_departments"]],
                    ui.t("rect.col.peak"): [
                        "—" if pd.isna(s) else planning.window_text(int(s), int(e))
                        for s, e in zip(cats["peak_start"], cats["peak_end"], strict=True)
                    ],
                }
            ),
            hide_index=True,
            width="stretch",
        )
    with right:
        st.markdown(f"**{ui.t('rect.to_call')}**")
        calls = brief.departments_to_call
        st.dataframe(
            pd.DataFrame(
                {
                    ui.t("rect.col.department"): calls[f"name_{lang}"].to_numpy(),
                    ui.t("rect.col.role"): [ui.t(f"rect.role.{r}") for r in calls["role"]],
                    ui.t("rect.col.joint_team"): calls["joint_team"].to_numpy(),
                    ui.t("rect.col.categories"): calls[f"categories_{lang}"].to_numpy(),
                    ui.t("rect.col.incidents"): calls["incidents"].astype(int).to_numpy(),
                }
            ),
            hide_index=True,
            width="stretch",
        )
        st.markdown(f"**{ui.t('rect.by_department')}**")
        deps = brief.by_department
        dep_col, n_col = ui.t("rect.col.department"), ui.t("rect.col.incidents")
        if len(deps):
            st.bar_chart(
                pd.DataFrame({dep_col: deps[f"name_{lang}"], n_col: deps["incidents"]}),
                x=dep_col,
                y=n_col,
                horizontal=True,
                sort=f"-{n_col}",
                height=200,
            )

    st.markdown(f"**{ui.t('rect.peaks')}**")
    peaks = brief.peak_windows
    if len(peaks):
        st.markdown("\n".join(f"- {ui.md_text(p)}" for p in peaks[f"peak_{lang}"]))
    else:
        st.caption(ui.t("rect.no_peaks"))
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{ui.t('rect.hour_weekday')}**")
        days = ui.t("rect.weekdays").split(",")
        chart = viz.hour_weekday_chart(
            brief.hour_weekday,
            days=days,
            hour_title=ui.t("rect.hour"),
            weekday_title=ui.t("rect.weekday"),
            count_title=ui.t("rect.col.incidents"),
        )
        st.altair_chart(chart, width="stretch")
    with right:
        st.markdown(f"**{ui.t('rect.weekly')}**")
        st.altair_chart(
            viz.date_line_chart(
                brief.weekly.set_index("week_start")["incidents"],
                date_title=ui.t("home.week_of"),
                value_title=ui.t("rect.col.incidents"),
                height=230,
            ),
            width="stretch",
        )

    left, right = st.columns(2)
    with left:
        st.markdown(f"**{ui.t('rect.top_addresses')}**")
        top = brief.top_addresses
        st.dataframe(
            pd.DataFrame(
                {
                    ui.t("rect.col.address"): top["address"].to_numpy(),
                    ui.t("rect.col.incidents"): top["incidents"].astype(int).to_numpy(),
                    ui.t("rect.col.top_category"): top[f"name_{lang}"].to_numpy(),
                }
            ),
            hide_index=True,
            width="stretch",
        )
    with right:
        st.markdown(f"**{ui.t('rect.grids')}**")
        g = brief.grids
        st.dataframe(
            pd.DataFrame(
                {
                    ui.t("rect.col.grid"): g["name"].to_numpy(),
                    ui.t("rect.col.level"): [ui.level_name(v) for v in g["level"]],
                    ui.t("rect.col.code"): g["code"].to_numpy(),
                    ui.t("rect.col.overlap"): [f"{s:.0%}" for s in g["overlap_share"]],
                    ui.t("rect.col.households"): g["households"].round(0).to_numpy(),
                    ui.t("rect.col.population"): g["population"].round(0).to_numpy(),
                    ui.t("rect.col.businesses"): g["businesses"].round(0).to_numpy(),
                }
            ),
            hide_index=True,
            width="stretch",
        )
    st.markdown(f"**{ui.t('rect.staff')}**")
    people = brief.staff
    st.dataframe(
        pd.DataFrame(
            {
                ui.t("rect.col.grid"): people["grid_name"].to_numpy(),
                ui.t("rect.col.role"): [ui.t(f"staff.{r}") for r in people["role"]],
                ui.t("rect.col.name"): people["name"].to_numpy(),
                ui.t("rect.col.phone"): people["phone"].to_numpy(),
                ui.t("rect.col.department"): [
                    ui.department_name(d) if isinstance(d, str) else ""
                    for d in people["department"]
                ],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    cases = brief.open_cases
    with st.expander(ui.t("rect.open_cases", n=ui.fmt_int(len(cases)))):
        st.dataframe(
            pd.DataFrame(
                {
                    ui.t("rect.col.case"): cases["external_id"].to_numpy(),
                    ui.t("rect.col.category"): ui.category_names(cases["category_code"]),
                    ui.t("rect.col.status"): [case_status(v) for v in cases["status"]],
                    ui.t("rect.col.occurred"): cases["occurred_at"].to_numpy(),
                    ui.t("rect.col.address"): cases["address"].to_numpy(),
                }
            ),
            hide_index=True,
            width="stretch",
        )

    # downloads
    st.markdown(f"**{ui.t('rect.downloads')}**")
    stem = f"briefing_{f.start:%Y%m%d}_{f.end - pd.Timedelta(days=1):%Y%m%d}"
    d = st.columns(2)
    d[0].download_button(
        ui.t("rect.download_html"),
        # made when clicked (a separate thread): the page does not wait for a file nobody asked for
        data=lambda: ui.rect_briefing_html(*args, lang),
        file_name=f"{stem}.html",
        mime="text/html",
        key="rect_download_html",
        icon=":material/description:",
    )
    d[1].download_button(
        ui.t("rect.download_xlsx"),
        data=lambda: ui.rect_briefing_xlsx(*args, lang),
        file_name=f"{stem}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="rect_download_xlsx",
        icon=":material/table:",
    )

    # save as a plan
    st.markdown(f"**{ui.t('rect.save')}**")
    if not auth.can(user, "save_plan"):
        st.info(ui.t("rect.save_denied", role=ui.t(f"role.{user.role}")))
        return
    sig = hashlib.sha1(repr(key).encode()).hexdigest()[:10]
    all_deps = list(ui.departments()["code"])
    _, last_stored = ui.incident_time_range()  # the store's MAX, not every incident
    default_period = planning.default_plan_period(last_stored or date.today(), date.today())
    with st.form("rect_plan"):
        plan_name = st.text_input(
            ui.t("rect.plan_name"),
            value=ui.t_plain("rect.plan_default", area=name),
            key=f"rect_plan_name_{sig}",
        )
        period = st.date_input(
            ui.t("rect.plan_period"),
            value=default_period,
            key="rect_plan_period",
        )
        chosen = st.multiselect(
            ui.t("rect.plan_departments"),
            all_deps,
            default=[c for c in calls["code"] if c in all_deps],
            format_func=ui.department_name,
            key=f"rect_plan_deps_{sig}_{lang}",
        )
        notes = st.text_area(ui.t("rect.plan_notes"), key="rect_plan_notes")
        submitted = st.form_submit_button(ui.t("rect.plan_submit"), type="primary")
    if submitted:
        if not (isinstance(period, tuple | list) and len(period) == 2):
            st.error(ui.t("rect.plan_period_first"))
            return
        with ui.guard("rect.error"):
            plan_id = planning.save_plan(
                ui.engine(),
                name=plan_name,
                area=brief.area,
                period_start=pd.Timestamp(period[0]),
                period_end=pd.Timestamp(period[1]) + pd.Timedelta(days=1),
                departments=chosen,
                notes=notes or None,
                user=user,
            )
            st.success(ui.t("rect.plan_saved", id=plan_id, name=plan_name.strip()))


if area is not None:
    if mode == "zone":
        title = (
            i18n.t("rect.brief_title", "zh", area=area_name),
            i18n.t("rect.brief_title", "en", area=area_name),
        )
    elif mode == "draw":
        title = (
            i18n.t("rect.brief_title", "zh", area=i18n.t("rect.drawn_title", "zh")),
            i18n.t("rect.brief_title", "en", area=i18n.t("rect.drawn_title", "en")),
        )
    else:
        title = (
            i18n.t("rect.brief_title", "zh", area=grid_names["zh"]),
            i18n.t("rect.brief_title", "en", area=grid_names["en"]),
        )
    show_briefing(ui.area_key(area), title, area_name)


# ------------------------------------------------------------------ plans and their evaluation
st.subheader(ui.t("rect.plans"))
st.caption(ui.t("rect.plans_caption", buffer=f"{BUFFER_M:.0f}"))
if f.categories:
    sep = "、" if lang == "zh" else ", "
    st.caption(ui.t("rect.eval_categories", cats=sep.join(map(ui.category_name, f.categories))))
if st.session_state.get("rect_flash"):
    st.success(st.session_state.pop("rect_flash"))
plans = ui.rect_plans()
if plans.empty:
    st.info(ui.t("rect.no_plans"))
    st.stop()

now = pd.Timestamp.now()
evaluations: dict[int, planning.Evaluation | str] = {}
rows = []
for plan in plans.itertuples(index=False):
    pid = int(plan.id)
    end = pd.Timestamp(plan.period_end)
    ev = None
    if end <= now:
        try:
            ev = ui.rect_plan_evaluation(pid, end, BUFFER_M, f.categories)
            evaluations[pid] = ev
        except GridLensError as exc:
            evaluations[pid] = str(exc)
    verdict = (
        ui.t("rect.pending")
        if end > now
        else (getattr(ev, f"verdict_{lang}") if ev is not None else "—")
    )
    rows.append(
        {
            ui.t("rect.col.id"): pid,
            ui.t("rect.col.plan"): plan.name,
            ui.t("rect.col.plan_status"): ui.t(f"rect.status.{plan.status}"),
            ui.t("rect.col.start"): pd.Timestamp(plan.period_start).strftime("%Y-%m-%d"),
            ui.t("rect.col.end"): (end - pd.Timedelta(seconds=1)).strftime("%Y-%m-%d"),
            ui.t("rect.col.departments"): dept_names(plan.departments),
            ui.t("rect.col.verdict"): verdict,
            ui.t("rect.col.wdq"): "—" if ev is None or ev.wdq is None else f"{ev.wdq:.2f}",
            ui.t("rect.col.rate_ratio"): "—" if ev is None else f"{ev.rate_ratio - 1:+.0%}",
            ui.t("rect.col.p"): "—" if ev is None else f"{ev.p_value:.3g}",
            ui.t("rect.col.area_counts"): (
                "—" if ev is None else f"{ev.area_before:,} → {ev.area_after:,}"
            ),
            ui.t("rect.col.buffer_counts"): (
                "—" if ev is None else f"{ev.buffer_before:,} → {ev.buffer_after:,}"
            ),
        }
    )
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")

st.markdown(f"**{ui.t('rect.plan_detail')}**")
ids = [int(i) for i in plans["id"]]
plan_names = dict(zip(ids, plans["name"], strict=True))
pid = ui.keyed_choice(
    st.selectbox,
    ui.t("rect.plan_pick"),
    ids,
    "rect_plan_pick",
    ids[-1],
    format_func=lambda i: f"#{i} {plan_names[i]}",
)
plan = plans[plans["id"] == pid].iloc[0]
result = evaluations.get(pid)
if isinstance(result, planning.Evaluation):
    st.markdown(f"*{ui.t('rect.explanation')}*: {ui.md_text(result.explanation(lang))}")
elif isinstance(result, str):
    st.warning(ui.t("rect.eval_error", msg=result))
else:
    st.caption(ui.t("rect.pending"))
if plan["notes"]:
    st.caption(f"{ui.t('rect.plan_notes')}: {ui.md_text(plan['notes'])}")
if auth.can(user, "save_plan"):
    with st.form("rect_status"):
        status = st.selectbox(
            ui.t("rect.status_new"),
            list(PLAN_STATUSES),
            index=list(PLAN_STATUSES).index(plan["status"]),
            format_func=lambda s: ui.t(f"rect.status.{s}"),
            key=f"rect_status_{pid}_{lang}",
        )
        status_notes = st.text_input(ui.t("rect.status_notes"), key=f"rect_status_notes_{pid}")
        if st.form_submit_button(ui.t("rect.status_submit")):
            with ui.guard("rect.error"):
                planning.update_plan_status(
                    ui.engine(), pid, status, user=user, notes=status_notes or None
                )
                st.session_state["rect_flash"] = ui.t(
                    "rect.status_done", id=pid, status=ui.t(f"rect.status.{status}")
                )
                st.rerun()
