"""Patrol: presence by micro-grid or H3 cell from the GPS tracks, the gaps over the hotspots,
patrols per staff member, and a suggested route through a member's gaps."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from gis import patrol, ui, viz
from gis.views import patrol as page_model

ui.page("view")
f = ui.filters()
grids = ui.grids()
st.title(ui.t("patrol.title"))
st.caption(ui.t("patrol.caption", buffer=f"{patrol.GPS_ACCURACY_M:g}"))
if grids.empty:
    st.info(ui.t("app.no_data"))
    st.stop()
with st.spinner():
    data = ui.patrol_tracks()
if data is None:
    st.info(ui.t("patrol.no_tracks"))
    st.stop()

# ---- period: the global filter's, within the days that have tracks; then day and shift
period = page_model.track_period(data.clean.fixes, f.start, f.end)
if period.empty:
    st.info(
        ui.t(
            "patrol.no_period",
            start=ui.fmt_date(period.first),
            end=ui.fmt_date(period.last - pd.Timedelta(days=1)),
        )
    )
    st.stop()
start, end = period.start, period.end
opts = st.columns([1, 2, 1])
days = [""] + [
    d.strftime("%Y-%m-%d") for d in pd.date_range(start, end, freq="D", inclusive="left")
]
day = ui.keyed_choice(
    opts[0].selectbox,
    ui.t("patrol.day"),
    days,
    "patrol_day",
    "",
    format_func=lambda d: ui.t("patrol.all_days") if not d else ui.fmt_date(d),
)
if day:
    start = pd.Timestamp(day)
    end = start + pd.Timedelta(days=1)
shift_choice = ui.keyed_choice(
    opts[1].radio,
    ui.t("patrol.shift"),
    ["all", "day", "night", "custom"],
    "patrol_shift",
    "all",
    horizontal=True,
    format_func=lambda s: ui.t(f"patrol.shift.{s}"),
)
shift = None if shift_choice == "all" else shift_choice
if shift_choice == "custom":
    shift = opts[1].text_input(
        ui.t("patrol.shift_custom"), "09:00-17:00", key="patrol_shift_custom"
    )
units = ui.keyed_choice(
    opts[2].radio,
    ui.t("patrol.units"),
    ["grid:micro", "h3:11"],
    "patrol_units",
    "grid:micro",
    horizontal=True,
    format_func=lambda u: ui.t("patrol.units.micro" if u == "grid:micro" else "patrol.units.h3"),
)
st.caption(
    ui.t(
        "patrol.period",
        start=ui.fmt_date(start),
        end=ui.fmt_date(end - pd.Timedelta(days=1)),
    )
)
args = (start, end, shift, tuple(f.categories), tuple(f.sources))
with ui.guard(stop=True), st.spinner():  # e.g. a custom shift that does not parse
    micro_view = ui.patrol_view("grid:micro", *args, True)
    view = micro_view if units == "grid:micro" else ui.patrol_view(units, *args, False)

# ---- the chosen grid: its micro-grids (or the H3 cells whose centre lies in it)
micro = grids[grids["level"] == "micro"]
names = dict(zip(micro["code"], micro["name"], strict=True))
scoped = page_model.scope_to_grid(view, micro_view, grids, f.grid_code)
cov, ranked, unvisited, people = scoped.coverage, scoped.ranked, scoped.unvisited, scoped.staff

# ---- headline numbers (micro-grids)
head = page_model.headline(
    data.clean.fixes, scoped.micro_coverage, start=start, end=end, shift=shift
)
c = st.columns(5)
c[0].metric(ui.t("patrol.metric.fixes"), ui.fmt_int(head.fixes_used))
c[1].metric(ui.t("patrol.metric.hours"), f"{head.dwell_h:.1f}")
c[2].metric(ui.t("patrol.metric.visited"), f"{head.visited:,} / {head.micro_grids:,}")
c[3].metric(ui.t("patrol.metric.unvisited"), ui.fmt_int(head.unvisited))
c[4].metric(
    ui.t("patrol.metric.covered"),
    f"{head.covered_share:.1%}" if head.covered_share is not None else "—",
    help=ui.t("patrol.metric.covered_help", buffer=f"{patrol.GPS_ACCURACY_M:g}"),
)

# ---- map: presence, or the gaps over the hotspots
layer = ui.keyed_choice(
    st.radio,
    ui.t("patrol.layer"),
    ["presence", "gaps"],
    "patrol_layer",
    "presence",
    horizontal=True,
    format_func=lambda s: ui.t(f"patrol.layer.{s}"),
)
TOP = 20
dwell_min = cov["dwell_s"].to_numpy() / 60.0
if layer == "presence":
    edges = viz.class_breaks(dwell_min[dwell_min > 0])
    colors = viz.choropleth_colors(dwell_min, edges)
    colors = [
        col if m > 0 else [200, 200, 200, 90] for col, m in zip(colors, dwell_min, strict=True)
    ]
    caption = ui.t("patrol.map_presence")
else:
    risk = view.risk.set_index("unit_id").reindex(cov["unit_id"])
    colors = viz.gi_bin_colors(risk["gi_bin"].fillna(0).to_numpy())
    caption = ui.t("patrol.map_gaps", n=TOP)
props = [
    {
        "code": u,
        "name": names.get(u, u),
        "value": f"{m:.0f} min · {v} ×",
    }
    for u, m, v in zip(cov["unit_id"], dwell_min, cov["visits"], strict=True)
]
top = page_model.hotspot_gaps(ranked, TOP)
layers = [viz.street_layer(ui.streets())]
if units == "grid:micro":
    geo = micro.set_index("code").geometry.reindex(cov["unit_id"])
    layers.append(viz.polygon_layer(geo.to_numpy(), props, layer_id="units", fill=colors))
    if layer == "gaps":
        tgeo = micro.set_index("code").geometry.reindex(top["unit_id"]).to_numpy()
        tprops = [
            {"code": u, "name": names.get(u, u), "value": r}
            for u, r in zip(top["unit_id"], top[f"reason_{ui.lang()}"], strict=True)
        ]
        layers.append(
            viz.polygon_layer(tgeo, tprops, layer_id="gaps", line=[0, 0, 0, 255], line_width=3)
        )
    view_state = viz.view_for(geo, height_px=520)
else:
    shown = [
        {**p, "hex": p["code"], "color": col}
        for p, col, m, b in zip(
            props,
            colors,
            dwell_min,
            view.risk.set_index("unit_id").reindex(cov["unit_id"])["gi_bin"].fillna(0),
            strict=True,
        )
        if (m > 0 if layer == "presence" else b != 0)
    ]
    layers.append(viz.h3_layer(shown, layer_id="units"))
    if layer == "gaps":
        tops = [
            {"hex": u, "code": u, "name": u, "value": r, "color": [0, 0, 0, 0]}
            for u, r in zip(top["unit_id"], top[f"reason_{ui.lang()}"], strict=True)
        ]
        layers.append(
            viz.h3_layer(tops, layer_id="gaps", filled=False, line=[0, 0, 0, 255], line_width=3)
        )
    scope = grids[grids["code"] == f.grid_code] if f.grid_code else micro
    view_state = viz.view_for(scope.geometry, height_px=520)
st.pydeck_chart(
    viz.deck(layers, view_state, tooltip={"text": "{name}\n{code}\n{value}"}, basemap=ui.basemap()),
    height=520,
    key="patrol_map",
)
if layer == "gaps":
    legend = " ".join(
        f"<span style='background:rgba({r},{g},{b},{a / 255:.2f});padding:0 10px;"
        f"margin-right:2px'></span>{ui.t(f'patrol.gi.{k}')}"
        for k, (r, g, b, a) in ((k, viz.GI_BIN_COLORS[k]) for k in (3, 2, 1, 0, -1))
    )
    st.markdown(f"{caption}. {legend}", unsafe_allow_html=True)
else:
    st.caption(caption)
st.caption(ui.t("caption.offline"))

# ---- ranked gaps and their export
st.subheader(ui.t("patrol.gaps"))
st.caption(ui.t("patrol.gaps_help"))
gap_table = pd.DataFrame(
    {
        ui.t("patrol.col.rank"): ranked["rank"].to_numpy(),
        ui.t("patrol.col.unit"): ranked["unit_id"].to_numpy(),
        ui.t("patrol.col.name"): [names.get(u, "") for u in ranked["unit_id"]],
        ui.t("patrol.col.risk"): ranked["risk"].round(1).to_numpy(),
        ui.t("patrol.col.gi_bin"): ranked["gi_bin"].to_numpy(),
        ui.t("patrol.col.visits"): ranked["visits"].to_numpy(),
        ui.t("patrol.col.dwell_min"): (ranked["dwell_s"] / 60).round(1).to_numpy(),
        ui.t("patrol.col.score"): ranked["gap_score"].round(3).to_numpy(),
        ui.t("patrol.col.reason"): ranked[f"reason_{ui.lang()}"].to_numpy(),
    }
)
st.dataframe(gap_table.head(50), hide_index=True, width="stretch", key="patrol_gaps")
export = ranked.assign(name=[names.get(u, "") for u in ranked["unit_id"]])
st.download_button(
    ui.t("patrol.download"),
    data=ui.csv_bytes(export),
    file_name=f"patrol_gaps_{units.replace(':', '')}_{start:%Y%m%d}_{end:%Y%m%d}.csv",
    mime="text/csv",
    key="patrol_download",
)
with st.expander(ui.t("patrol.unvisited", n=len(unvisited))):
    st.dataframe(
        pd.DataFrame(
            {
                ui.t("patrol.col.unit"): unvisited["unit_id"].to_numpy(),
                ui.t("patrol.col.name"): unvisited["name"].to_numpy(),
                ui.t("patrol.col.score"): unvisited["gap_score"].round(3).to_numpy(),
            }
        ),
        hide_index=True,
        width="stretch",
    )

# ---- per staff member
st.subheader(ui.t("patrol.staff"))
people = people.sort_values(["unpatrolled", "staff_code"], ascending=[False, True])
st.dataframe(
    pd.DataFrame(
        {
            ui.t("patrol.col.staff"): people["name"].to_numpy(),
            ui.t("patrol.col.code"): people["staff_code"].to_numpy(),
            ui.t("patrol.col.role"): [ui.t(f"staff.{r}") for r in people["role"]],
            ui.t("patrol.col.grid"): people["grid_name"].to_numpy(),
            ui.t("patrol.col.micro"): people["micro_grids"].to_numpy(),
            ui.t("patrol.col.patrolled"): people["patrolled"].to_numpy(),
            ui.t("patrol.col.unpatrolled"): people["unpatrolled"].to_numpy(),
            ui.t("patrol.col.visits"): people["visits"].to_numpy(),
            ui.t("patrol.col.dwell_h"): (people["dwell_s"] / 3600).round(2).to_numpy(),
            ui.t("patrol.col.own_dwell_h"): (people["own_dwell_s"] / 3600).round(2).to_numpy(),
        }
    ),
    hide_index=True,
    width="stretch",
    key="patrol_staff_table",
)

# ---- suggested route
st.subheader(ui.t("patrol.route"))
st.caption(ui.t("patrol.route_help", dwell=10, speed=1.2))
codes = list(people["staff_code"])
if codes:
    label = dict(
        zip(
            people["staff_code"],
            [
                f"{n} · {c} · {g}"
                for n, c, g in zip(
                    people["name"], people["staff_code"], people["grid_name"], strict=True
                )
            ],
            strict=True,
        )
    )
    rc = st.columns([2, 1])
    who = rc[0].selectbox(
        ui.t("patrol.route_staff"),
        codes,
        format_func=lambda c: label.get(c, c),
        key="patrol_route_staff",
    )
    budget = rc[1].slider(ui.t("patrol.route_budget"), 30, 240, 90, 10, key="patrol_route_budget")
    route = ui.patrol_route(who, budget, *args)
    if route.stops.empty:
        st.info(ui.t("patrol.route_none"))
    else:
        m = st.columns(4)
        m[0].metric(ui.t("patrol.route_stops"), ui.fmt_int(len(route.stops)))
        m[1].metric(ui.t("patrol.route_time"), f"{route.total_s / 60:.0f}")
        m[2].metric(ui.t("patrol.route_distance"), ui.fmt_int(round(route.travel_m)))
        m[3].metric(ui.t("patrol.route_mode"), ui.t(f"patrol.mode.{route.mode}"))
        member = people.loc[people["staff_code"] == who, "grid_code"].iloc[0]
        mine = page_model.staff_micro_grids(grids, member)
        outline = viz.polygon_layer(
            mine.geometry.to_numpy(),
            [
                {"code": c, "name": n, "value": ""}
                for c, n in zip(mine["code"], mine["name"], strict=True)
            ],
            layer_id="route-grids",
            fill=[[255, 255, 255, 0]] * len(mine),
        )
        st.pydeck_chart(
            viz.deck(
                [
                    viz.street_layer(ui.streets()),
                    outline,
                    *viz.route_layers(route.line, route.stops),
                ],
                viz.view_for(mine.geometry, height_px=420),
                tooltip={"text": "{name}\n{code}"},
                basemap=ui.basemap(),
            ),
            height=420,
            key="patrol_route_map",
        )
        st.dataframe(
            pd.DataFrame(
                {
                    ui.t("patrol.col.order"): route.stops["order"].to_numpy(),
                    ui.t("patrol.col.unit"): route.stops["unit_id"].to_numpy(),
                    ui.t("patrol.col.name"): [names.get(u, "") for u in route.stops["unit_id"]],
                    ui.t("patrol.col.score"): route.stops["score"].round(3).to_numpy(),
                    ui.t("patrol.col.arrive"): (route.stops["arrive_s"] / 60).round(1).to_numpy(),
                    ui.t("patrol.col.depart"): (route.stops["depart_s"] / 60).round(1).to_numpy(),
                }
            ),
            hide_index=True,
            width="stretch",
            key="patrol_route_table",
        )
