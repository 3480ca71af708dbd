"""Home: this week against last week, on-time closure, the daily trend, and incidents per grid on
an offline map; a click on a grid opens its card."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from gis import ui, viz
from gis.grids import descendants, hierarchy_summary

ui.page("view")
f = ui.filters()
grids = ui.grids()
district = ui.district()
st.title(ui.md_text(district.get(f"name_{ui.lang()}")) or ui.t("app.title"))
if grids.empty:
    st.info(ui.t("app.no_data"))
    st.stop()

scope = (f.categories, f.sources, f.grid_code)
with st.spinner():  # from the store's incident cube, never every incident
    numbers = ui.home_summary(f.start, f.end, *scope)
weeks = numbers["weeks"]
by_cat = numbers["by_category"]
closure = ui.home_closure(weeks, *scope)
summary = hierarchy_summary(grids)

st.caption(
    ui.t(
        "home.week",
        start=ui.fmt_date(weeks.this_start),
        end=ui.fmt_date(weeks.end - pd.Timedelta(days=1)),
    )
)
c = st.columns(4)
this_total, last_total = int(by_cat["this_week"].sum()), int(by_cat["last_week"].sum())
c[0].metric(
    ui.t("home.new_this_week"),
    ui.fmt_int(this_total),
    delta=this_total - last_total,
    delta_color="inverse",
)
share = closure["share"]
c[1].metric(
    ui.t("home.on_time"),
    "—" if np.isnan(share) else f"{share:.1%}",
    help=ui.t("home.on_time_help"),
)
c[1].caption(ui.t("home.due", n=ui.fmt_int(closure["due"])))
c[2].metric(ui.t("home.in_filter"), ui.fmt_int(numbers["in_filter"]))
c[3].metric(ui.t("metric.staff"), ui.fmt_int(len(ui.staff())))

left, right = st.columns([3, 2])
with left:
    st.subheader(ui.t("home.map_title"))
    opts = st.columns(2)
    level = ui.keyed_choice(
        opts[0].radio,
        ui.t("home.map_level"),
        ["l1", "l2", "micro"],
        "home_level",
        "l2",
        horizontal=True,
        format_func=ui.level_name,
    )
    measure = ui.keyed_choice(
        opts[1].radio,
        ui.t("home.measure"),
        ["per_km2", "per_1000"],
        "home_measure",
        "per_km2",
        horizontal=True,
        format_func=lambda m: ui.t(f"home.{m}"),
    )
    rates = ui.home_rates(level, f.start, f.end, *scope)
    if f.grid_code:  # show the chosen grid's own sub-grids, not a district of zeros
        mask = rates["code"].isin(descendants(f.grid_code, grids))
        rates = rates[mask] if mask.any() else rates
    edges = viz.class_breaks(rates[measure].to_numpy())
    unit = ui.t(f"home.unit.{measure}")
    tips = [
        f"{name}\n{code}\n{ui.t(f'home.{measure}')}: {v:,.1f} {unit}\n"
        f"{ui.t('home.tip_incidents')}: {ui.fmt_int(n)}"
        for name, code, v, n in zip(
            rates["name"], rates["code"], rates[measure], rates["incidents"], strict=True
        )
    ]
    layers = [
        viz.street_layer(ui.streets()),
        viz.choropleth_layer(rates, measure, edges, tips=tips),
    ]
    deck = viz.deck(
        layers,
        viz.view_for(rates.geometry, height_px=560),
        tooltip={"text": "{tip}"},
        basemap=ui.basemap(),
    )
    event = st.pydeck_chart(
        deck, height=560, on_select="rerun", selection_mode="single-object", key="home_map"
    )
    picked = (event or {}).get("selection", {}).get("objects", {}).get("choropleth", [])
    card_key = f"home_card_pick_{level}_{ui.lang()}"
    if picked:
        code = picked[0]["properties"]["code"]
        # a new click on the map wins over the chooser below; an old selection does not
        if code != st.session_state.get("home_last_pick"):
            st.session_state["home_last_pick"] = code
            st.session_state["home_card"] = code
            st.session_state[card_key] = code
    legend = viz.legend_html(
        list(
            zip(
                viz.choropleth_colors((edges[:-1] + edges[1:]) / 2, edges),
                viz.class_labels(edges),
                strict=True,
            )
        )
    )
    st.markdown(f"{ui.t('home.legend')} ({unit}): {legend}", unsafe_allow_html=True)
    st.caption(ui.t("caption.offline"))

with right:
    st.subheader(ui.t("home.trend"))
    st.altair_chart(
        viz.date_line_chart(
            numbers["daily"],
            date_title=ui.t("home.date"),
            value_title=ui.t("home.tip_incidents"),
            height=200,
        ),
        width="stretch",
    )
    st.subheader(ui.t("home.by_category"))
    table = pd.DataFrame(
        {
            ui.t("table.category"): [ui.category_name(code) for code in by_cat.index],
            ui.t("home.this_week"): by_cat["this_week"].to_numpy(),
            ui.t("home.last_week"): by_cat["last_week"].to_numpy(),
            ui.t("home.change"): by_cat["change"].to_numpy(),
        }
    )
    st.dataframe(table, hide_index=True, width="stretch", height=300)

st.subheader(ui.t("home.card"))
codes = [""] + list(rates["code"])
names = dict(zip(rates["code"], rates["name"], strict=True))
chosen = st.session_state.get("home_card", "")
if st.session_state.get(card_key, chosen) not in codes:  # filters changed the grids on show
    st.session_state[card_key] = ""
elif card_key not in st.session_state:  # first time: start from the last grid chosen
    st.session_state[card_key] = chosen
card_code = st.selectbox(
    ui.t("home.card_pick"),
    codes,
    format_func=lambda c: ui.t("home.none") if not c else f"{names[c]} · {c}",
    key=card_key,
)
st.session_state["home_card"] = card_code
if card_code:
    card = ui.home_card(card_code, f.start, f.end, *scope)
    # the full code and the parent's name in a line (a metric box cuts a 15-digit code)
    parent = card["parent_code"]
    all_names = dict(zip(grids["code"], grids["name"], strict=True))
    parent_name = all_names.get(parent, "—") if isinstance(parent, str) and parent else "—"
    st.markdown(
        f"**{ui.md_text(card['name'])}** · {ui.t('card.code')} `{card['code']}` · "
        f"{ui.t('card.parent')}: {ui.md_text(parent_name)}"
    )
    cols = st.columns(4)
    cols[0].metric(ui.t("card.level"), ui.level_name(card["level"]))
    cols[1].metric(ui.t("card.parent"), parent_name)
    cols[2].metric(ui.t("card.incidents"), ui.fmt_int(card["incidents"]))
    cols = st.columns(3)
    cols[0].metric(ui.t("metric.households"), ui.fmt_int(card["households"] or 0))
    cols[1].metric(ui.t("metric.population"), ui.fmt_int(card["population"] or 0))
    cols[2].metric(ui.t("card.staff"), ui.fmt_int(len(card["staff"])))
    people = card["staff"].assign(role=lambda s: s["role"].map(lambda r: ui.t(f"staff.{r}")))
    people.columns = [ui.t("table.name"), ui.t("table.role"), ui.t("table.phone")]
    st.dataframe(people, hide_index=True, width="stretch")
    cats = card["by_category"]
    if len(cats):
        st.bar_chart(
            pd.DataFrame(
                {
                    ui.t("table.category"): [ui.category_name(x) for x in cats.index],
                    ui.t("table.count"): cats.to_numpy(),
                }
            ),
            x=ui.t("table.category"),
            y=ui.t("table.count"),
            horizontal=True,
            sort=f"-{ui.t('table.count')}",
        )

st.caption(
    f"{ui.level_name('l1')} {summary['levels']['l1']} · {ui.level_name('l2')} "
    f"{summary['levels']['l2']} · {ui.level_name('micro')} {summary['levels']['micro']} · "
    f"{ui.level_name('dedicated')} {summary['levels']['dedicated']} · "
    f"{ui.t('metric.area')} {summary['area_km2']:.2f}"
)
