"""The global filters in the sidebar (period, categories, sources, grid): every page applies
them; their values are kept across pages and across the language switch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
import streamlit as st

from gis.core.times import PERIOD_PRESETS, period_preset
from gis.ui.cache import category_name, grids, incident_time_range, taxonomy
from gis.ui.language import lang, level_name, t

FILTERS_KEY = "gridlens_filters"


@dataclass(frozen=True)
class Filters:
    """The sidebar filters every page applies: period, categories, sources, grid."""

    start: pd.Timestamp
    end: pd.Timestamp  # exclusive
    categories: tuple[str, ...]
    sources: tuple[str, ...]
    grid_code: str | None


SOURCES = ("patrol", "hotline", "camera", "wechat", "referral")


def sidebar_filters(home_grid: str | None = None) -> Filters:
    """Render the global filters in the sidebar; their values are kept across pages.

    ``home_grid``: where the grid filter starts in a new session (a grid admin's own grid).
    """
    first, last = incident_time_range()  # two numbers from the store, not every incident
    if first is None:
        first = last = date.today()
    else:
        first, last = first.date(), last.date()
    st.sidebar.subheader(t("filters.title"))
    default = (max(first, last - timedelta(days=89)), last)

    def apply_preset() -> None:
        # presets count from the calendar's today, or the last day with data when the data
        # end earlier (a demo or an old extract), so a preset is never empty
        name = st.session_state.get(f"flt_preset_{lang()}")
        if name:
            now = st.session_state.get("flt_period", default)
            period = period_preset(
                name, min(date.today(), last), current=tuple(now), bounds=(first, last)
            )
            st.session_state["flt_period"] = period
            st.session_state["flt_period_widget"] = period
            st.session_state[f"flt_preset_{lang()}"] = None

    st.sidebar.selectbox(
        t("filters.preset"),
        options=list(PERIOD_PRESETS),
        index=None,
        format_func=lambda p: t(f"filters.preset.{p}"),
        placeholder=t("filters.preset_placeholder"),
        key=f"flt_preset_{lang()}",
        on_change=apply_preset,
    )
    period = st.sidebar.date_input(
        t("filters.period"),
        value=st.session_state.get("flt_period", default),
        min_value=first,
        max_value=last,
        key="flt_period_widget",
    )
    if isinstance(period, tuple) and len(period) == 2:
        st.session_state["flt_period"] = period
    start, end = st.session_state.get("flt_period", default)
    tax = taxonomy()
    cats = st.sidebar.multiselect(
        t("filters.categories"),
        options=list(tax["code"]),
        default=st.session_state.get("flt_categories", []),
        format_func=lambda c: f"{c} {category_name(c)}",
        key=f"flt_categories_{lang()}",
        placeholder=t("filters.all"),
    )
    st.session_state["flt_categories"] = cats
    srcs = st.sidebar.multiselect(
        t("filters.sources"),
        options=list(SOURCES),
        default=st.session_state.get("flt_sources", []),
        format_func=lambda s: t(f"source.{s}"),
        key=f"flt_sources_{lang()}",
        placeholder=t("filters.all"),
    )
    st.session_state["flt_sources"] = srcs
    g = grids()
    regular = g[g["level"] != "dedicated"].sort_values(["level", "code"])
    order = {"l1": 0, "l2": 1, "micro": 2}
    regular = regular.assign(o=regular["level"].map(order)).sort_values(["o", "code"])
    options = [""] + list(regular["code"])
    names = dict(zip(regular["code"], regular["name"], strict=True))
    levels = dict(zip(regular["code"], regular["level"], strict=True))
    # a new session starts at the user's own grid (a grid admin's), else at all grids
    current = st.session_state.get("flt_grid", home_grid or "")
    grid_code = st.sidebar.selectbox(
        t("filters.grid"),
        options=options,
        index=options.index(current) if current in options else 0,
        format_func=lambda c: (
            t("filters.all_grids") if not c else f"{names[c]} · {level_name(levels[c])} · {c}"
        ),
        key=f"flt_grid_{lang()}",
    )
    st.session_state["flt_grid"] = grid_code
    return Filters(
        start=pd.Timestamp(start),
        end=pd.Timestamp(end) + pd.Timedelta(days=1),
        categories=tuple(cats),
        sources=tuple(srcs),
        grid_code=grid_code or None,
    )


def filters() -> Filters:
    """The filters as last set in the sidebar (``app.py`` renders them before the page runs)."""
    return st.session_state[FILTERS_KEY]
