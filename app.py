"""GridLens home: the district's grid hierarchy on an offline map, with headline numbers.

Thin by design: data comes from ``gis.store``, numbers from ``gis.grids``, layers from
``gis.maps``, text from ``gis.i18n``.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from gis import i18n, maps, store
from gis.errors import GridLensError
from gis.grids import hierarchy_summary

st.set_page_config(page_title="GridLens", page_icon="🗺️", layout="wide")

lang = st.sidebar.radio(
    i18n.t("app.language", "zh"),
    options=list(i18n.LANGS),
    format_func=lambda code: {"zh": "中文", "en": "English"}[code],
    horizontal=True,
    key="lang",
)


def t(key: str) -> str:
    return i18n.t(key, lang)


@st.cache_resource(show_spinner=False)
def engine():
    return store.open_store()


@st.cache_data(show_spinner=False)
def load_grids():
    return store.read_grids(engine())


@st.cache_data(show_spinner=False)
def load_streets():
    return store.read_frame(engine(), "streets")


@st.cache_data(show_spinner=False)
def load_headline():
    eng = engine()
    first, last = store.incident_time_range(eng)
    recent = store.incident_counts(eng, start=last - timedelta(days=30)) if last else pd.DataFrame()
    return {
        "incidents": store.count_rows(eng, "incidents"),
        "staff": store.count_rows(eng, "staff"),
        "fixes": store.count_rows(eng, "patrol_fixes"),
        "recent": recent,
        "taxonomy": store.read_table(eng, "taxonomy"),
        "district": store.get_meta(eng, "district", {}),
    }


try:
    grids = load_grids()
    head = load_headline()
except GridLensError as exc:
    st.error(str(exc))
    st.stop()

district = head["district"] or {}
st.title(district.get(f"name_{lang}") or t("app.title"))
if grids.empty:
    st.info(t("app.no_data"))
    st.stop()

summary = hierarchy_summary(grids)
cols = st.columns(4)
for col, level in zip(cols, ("l1", "l2", "micro", "dedicated"), strict=True):
    col.metric(t(f"level.{level}"), f"{summary['levels'][level]:,}")
cols = st.columns(4)
cols[0].metric(t("metric.area"), f"{summary['area_km2']:.2f}")
cols[1].metric(t("metric.households"), f"{summary['households']:,}")
cols[2].metric(t("metric.population"), f"{summary['population']:,}")
cols[3].metric(t("metric.staff"), f"{head['staff']:,}")

left, right = st.columns([3, 1])
with right:
    # keyed by language: Streamlit keeps a keyed widget's old labels after format_func changes,
    # so the selection is carried across the switch in session state instead
    chosen = st.session_state.setdefault("levels_chosen", ["l1", "l2", "dedicated"])
    levels = st.multiselect(
        t("map.levels"),
        options=["l1", "l2", "micro", "dedicated"],
        default=chosen,
        format_func=lambda lv: t(f"level.{lv}"),
        key=f"levels_{lang}",
    )
    st.session_state["levels_chosen"] = levels
    show_streets = st.checkbox(t("map.streets"), value=True, key="streets")
    st.metric(t("metric.incidents"), f"{head['incidents']:,}")
    st.metric(t("metric.fixes"), f"{head['fixes']:,}")

with left:
    labels = {lv: t(f"level.{lv}") for lv in ("l1", "l2", "micro", "dedicated")}
    layers = [maps.street_layer(load_streets())] if show_streets else []
    layers += maps.grid_layers(grids, levels, labels)
    st.pydeck_chart(maps.deck(layers, maps.view_for(grids.geometry)), height=620)
    st.caption(t("caption.offline"))

recent = head["recent"]
if len(recent):
    st.subheader(t("section.by_category"))
    names = head["taxonomy"].set_index("code")[f"name_{lang}"]
    table = pd.DataFrame(
        {
            t("table.category"): recent["key"].map(names).fillna(recent["key"]),
            t("table.count"): recent["n"],
        }
    )
    st.bar_chart(
        table,
        x=t("table.category"),
        y=t("table.count"),
        horizontal=True,
        sort=f"-{t('table.count')}",
    )

st.subheader(t("section.hierarchy"))
table = grids[["code", "name", "level", "parent_code", "households", "population"]].copy()
table["level"] = table["level"].map(labels)
st.dataframe(table, hide_index=True, width="stretch", height=320)
