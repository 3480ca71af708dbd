"""Assessment (考核评价): the closed loop's metrics by department, grid or staff for a period,
against the previous period and last year; the red and black lists; on-time closure by grid on
the map; the red-light list; the community's rating of its officers; the Excel workbook.

The figures are ``gis.cases.case_metrics``: the same as ``gridlens cases metrics``.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from gis import auth, ui, viz
from gis import cases as loop
from gis.store import casework
from gis.views import assessment as av

BY = ("department", "grid:l1", "grid:l2", "grid:micro", "staff", "category")

user = ui.page("assess")
lang = ui.lang()
eng = ui.engine()
st.title(ui.t("assess.title"))
st.caption(ui.t("assess.caption"))
first, last = casework.reported_range(eng)
if last is None:
    st.info(ui.t("assess.no_cases"))
    st.stop()
default = av.month_periods(f"{last:%Y-%m}")
c1, c2, c3 = st.columns(3)
start = pd.Timestamp(c1.date_input(ui.t("assess.start"), default.start.date(), key="as_start"))
end = pd.Timestamp(c2.date_input(ui.t("assess.end"), default.end.date(), key="as_end"))
by = c3.selectbox(ui.t("assess.by"), BY, format_func=lambda b: ui.t(f"assess.by.{b}"),
                  key="as_by")  # fmt: skip
with st.expander(ui.t("assess.weights")):
    base = loop.ScoreWeights()
    cols = st.columns(5)
    weights = loop.ScoreWeights(
        **{
            name: col.number_input(name, 0.0, 100.0, float(getattr(base, name)), key=f"as_w_{name}")
            for col, name in zip(cols, base.__dataclass_fields__, strict=True)
        }
    )
periods = av.Periods(start, end)
with ui.guard(stop=True):
    now_m = loop.case_metrics(eng, by, start, end, weights=weights)
    prev_m = loop.case_metrics(eng, by, *periods.previous, weights=weights)
    yoy_m = loop.case_metrics(eng, by, *periods.last_year, weights=weights)
st.caption(
    ui.t("assess.period", now=av.period_label(start, end),
         prev=av.period_label(*periods.previous), yoy=av.period_label(*periods.last_year))
)  # fmt: skip

grids = ui.grids()
grid_names = dict(zip(grids["code"], grids["name"], strict=True))


def unit_name(unit) -> str:
    if unit is None or (not isinstance(unit, str) and pd.isna(unit)):
        return "—"
    if by == "department":
        return loop.department_label(unit, lang)
    if by.startswith("grid"):
        return f"{grid_names.get(unit, unit)} ({unit})"
    if by == "category":
        return f"{unit} {ui.category_name(unit)}"
    return str(unit)


table = av.compare(now_m, prev_m, yoy_m)
shown = table.assign(name=table["unit"].map(unit_name))
st.subheader(ui.t("assess.table"))
st.dataframe(
    shown[["name", "unit", *loop.METRIC_COLUMNS[1:15], "score_chg", "score_yoy_chg"]],
    hide_index=True, width="stretch",
)  # fmt: skip

red, black = av.ranking(now_m)
r1, r2 = st.columns(2)
r1.markdown(f"**🟥 {ui.t('assess.red')}**")
r1.dataframe(red.assign(name=red["unit"].map(unit_name))[["name", "score", "grade"]],
             hide_index=True, width="stretch")  # fmt: skip
r2.markdown(f"**⬛ {ui.t('assess.black')}**")
r2.dataframe(black.assign(name=black["unit"].map(unit_name))[["name", "score", "grade"]],
             hide_index=True, width="stretch")  # fmt: skip

# on-time closure by grid (at the level assessed, or by community otherwise)
level = by.split(":")[1] if by.startswith("grid:") else "l1"
map_m = now_m if by == f"grid:{level}" else loop.case_metrics(eng, f"grid:{level}", start, end)
shapes = grids[grids["level"] == level].copy()
shapes["on_time_close_rate"] = shapes["code"].map(map_m.set_index("unit")["on_time_close_rate"])
shapes["name"] = shapes["name"].astype(str)
st.subheader(ui.t("assess.map"))
layer = viz.units_layer(
    shapes, av.on_time_colors(shapes["on_time_close_rate"].to_numpy()),
    ["code", "name", "on_time_close_rate"], layer_id="on_time",
)  # fmt: skip
st.pydeck_chart(
    viz.deck([layer], viz.view_for(shapes.geometry),
             tooltip={"text": "{name} {code}\n{on_time_close_rate}"}),
    height=460, key="as_map",
)  # fmt: skip
st.caption(ui.t("assess.map_legend"))

light = loop.red_light(eng, end.to_pydatetime())
st.subheader(ui.t("assess.red_light", n=len(light)))
st.dataframe(light.head(200), hide_index=True, width="stretch")

# the community's monthly rating of its officers, combined with the objective score
st.subheader(ui.t("assess.ratings"))
month = f"{start:%Y-%m}"
st.caption(ui.t("assess.rating_month", month=month))
staff = ui.staff()
communities = grids[grids["level"] == "l1"]
if auth.can(user, "supervise_cases"):
    with st.form("as_rate", clear_on_submit=True):
        f1, f2 = st.columns(2)
        officer = f1.selectbox(
            ui.t("assess.officer"), staff["staff_code"].tolist(), key="as_officer"
        )
        community = f2.selectbox(ui.t("assess.community"), communities["code"].tolist(),
                                 format_func=unit_name, key="as_community")  # fmt: skip
        score = f1.number_input(ui.t("assess.score"), 0.0, 100.0, 90.0, key="as_score")
        comment = f2.text_input(ui.t("assess.comment"), key="as_comment")
        if st.form_submit_button(ui.t("assess.save_rating")):
            with ui.guard():
                casework.save_rating(
                    eng, month=month, officer=officer, grid_code=community, score=score,
                    comment=comment or None, rated_by=user.username,
                    rated_at=datetime.now().replace(microsecond=0),
                )  # fmt: skip
                st.success(ui.t("assess.saved", officer=officer))
ratings = casework.read_ratings(eng, month)
weight = st.slider(ui.t("assess.objective_weight"), 0.0, 1.0, 0.7, 0.05, key="as_weight")
staff_m = now_m if by == "staff" else loop.case_metrics(eng, "staff", start, end, weights=weights)
combined = av.combined_scores(staff_m, ratings, weight)
st.markdown(f"**{ui.t('assess.combined')}**")
st.dataframe(combined, hide_index=True, width="stretch")

st.download_button(
    ui.t("assess.download"),
    av.workbook({"metrics": table, "red": red, "black": black, "red_light": light,
                 "ratings": ratings, "combined": combined}),
    file_name=f"assessment_{by.replace(':', '_')}_{start:%Y%m%d}_{end:%Y%m%d}.xlsx",
    key="as_download",
)  # fmt: skip
