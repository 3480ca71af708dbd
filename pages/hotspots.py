"""Hotspots: incidents per analysis unit (H3 cells, a fishnet or the grids), kernel density, Gi*
hot and cold spots with FDR-corrected confidence, local Moran clusters and outliers, emerging
hot spot patterns; a unit's detail and the export of the current view.

Thin: the numbers come from ``gis.hotspots`` through the cached wrappers of ``gis.ui`` (keyed by
the plain filter values), the layers from ``gis.viz``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from gis import ui, viz
from gis.views import hotspots as hv
from gis.views import tables as readable

ui.page("view")
f = ui.filters()
grids = ui.grids()
st.title(ui.t("hotspots.title"))
if grids.empty:
    st.info(ui.t("app.no_data"))
    st.stop()
st.caption(ui.t("hotspots.caption"))

# ------------------------------------------------------------------ controls
H3_AREA_KM2 = {8: 0.74, 9: 0.105, 10: 0.015}
c = st.columns([3, 2, 4])
kind = ui.keyed_choice(
    c[0].radio,
    ui.t("hotspots.units"),
    ["h3", "fishnet", "grid"],
    "hs_kind",
    "h3",
    horizontal=True,
    format_func=lambda k: ui.t(f"hotspots.kind.{k}"),
)
if kind == "h3":
    arg = ui.keyed_choice(
        c[1].radio,
        ui.t("hotspots.h3_res"),
        list(hv.H3_RESOLUTIONS),
        "hs_h3",
        9,
        horizontal=True,
        format_func=lambda r: f"{r} (≈{H3_AREA_KM2[r]} km²)",
    )
elif kind == "fishnet":
    arg = ui.keyed_choice(
        c[1].radio,
        ui.t("hotspots.cell_m"),
        list(hv.FISHNET_SIZES_M),
        "hs_fishnet",
        200,
        horizontal=True,
        format_func=lambda m: f"{m} m",
    )
else:
    arg = ui.keyed_choice(
        c[1].radio,
        ui.t("hotspots.level"),
        list(hv.GRID_LEVELS),
        "hs_level",
        "micro",
        horizontal=True,
        format_func=ui.level_name,
    )
by = f"{kind}:{arg}"
layers = ["counts", "kde", "gi", "lisa"] + (["emerging"] if hv.emerging_available() else [])
layer = ui.keyed_choice(
    c[2].radio,
    ui.t("hotspots.layer"),
    layers,
    "hs_layer",
    "gi",
    horizontal=True,
    format_func=lambda x: ui.t(f"hotspots.layer.{x}"),
)

with st.expander(ui.t("hotspots.params"), expanded=False):
    p = st.columns(4)
    weights = ui.keyed_choice(
        p[0].radio,
        ui.t("hotspots.weights"),
        ["queen", "band"],
        "hs_weights",
        "queen",
        format_func=lambda w: ui.t(f"hotspots.weights.{w}"),
    )
    band_m = None
    if weights == "band":
        auto = ui.keyed_value(p[0].checkbox, ui.t("hotspots.band_auto"), "hs_band_auto", True)
        if not auto:
            band_m = float(
                ui.keyed_value(
                    p[0].number_input,
                    ui.t("hotspots.band_m"),
                    "hs_band_m",
                    500.0,
                    min_value=50.0,
                    max_value=5000.0,
                    step=50.0,
                )
            )
    value = ui.keyed_choice(
        p[1].radio,
        ui.t("hotspots.value"),
        ["count", "density_km2"],
        "hs_value",
        "count",
        format_func=lambda v: ui.t(f"hotspots.value.{v}"),
    )
    permutations = ui.keyed_choice(
        p[1].radio,
        ui.t("hotspots.permutations"),
        [999, 9999],
        "hs_perm",
        9999,
        horizontal=True,
        format_func=lambda n: f"{n:,}",
    )
    correction = ui.keyed_choice(
        p[1].radio,
        ui.t("hotspots.correction"),
        list(hv.LISA_CORRECTIONS),
        "hs_correction",
        "fdr",
        format_func=lambda c: ui.t(f"hotspots.correction.{c}"),
    )
    kernel = ui.keyed_choice(
        p[2].radio,
        ui.t("hotspots.kernel"),
        ["gaussian", "quartic"],
        "hs_kernel",
        "gaussian",
        format_func=lambda k: ui.t(f"hotspots.kernel.{k}"),
    )
    bandwidth_m = None
    if not ui.keyed_value(p[2].checkbox, ui.t("hotspots.bw_auto"), "hs_bw_auto", True):
        bandwidth_m = float(
            ui.keyed_value(
                p[2].number_input,
                ui.t("hotspots.bw_m"),
                "hs_bw_m",
                150.0,
                min_value=10.0,
                max_value=3000.0,
                step=10.0,
            )
        )
    step = ui.keyed_choice(
        p[3].radio,
        ui.t("hotspots.step"),
        ["day", "week", "month"],
        "hs_step",
        "week",
        format_func=lambda s: ui.t(f"hotspots.step.{s}"),
    )

flt = dict(
    start=f.start, end=f.end, categories=f.categories, sources=f.sources, grid_code=f.grid_code
)
with ui.guard("hotspots.error", stop=True), st.spinner(ui.t("hotspots.computing")):
    frame = ui.hotspot_units(
        by,
        weights=weights,
        band_m=band_m,
        value=value,
        lisa=layer == "lisa",
        permutations=permutations,
        emerging_step=step if layer == "emerging" else None,
        **flt,
    )
    kde = ui.hotspot_kde(kernel=kernel, bandwidth_m=bandwidth_m, **flt) if layer == "kde" else {}
if layer == "lisa":
    frame = hv.lisa_relabel(frame, correction)
summary = hv.summary(frame)

# ------------------------------------------------------------------ metrics
# each layer shows its own counts: Gi* bins, local Moran classes, emerging patterns, KDE
m = st.columns(7)
m[0].metric(ui.t("hotspots.m_units"), ui.fmt_int(summary["units"]))
m[1].metric(ui.t("hotspots.m_incidents"), ui.fmt_int(summary["incidents"]))
if layer == "gi":
    for i, pct in enumerate((99, 95, 90)):
        m[2 + i].metric(ui.t("hotspots.m_hot", pct=pct), ui.fmt_int(summary["hot"][pct]))
    m[5].metric(
        ui.t("hotspots.m_cold"),
        ui.fmt_int(summary["cold_total"]),
        help=" · ".join(
            f"{ui.t(f'hotspots.bin.{-b}')}: {summary['cold'][pct]}"
            for b, pct in ((3, 99), (2, 95), (1, 90))
        ),
    )
elif layer == "lisa" and "lisa" in summary:
    for i, cls in enumerate(hv.LISA_CLASSES[:4]):
        m[2 + i].metric(ui.t(f"hotspots.lisa.{cls}"), ui.fmt_int(summary["lisa"][cls]))
elif layer == "emerging" and summary.get("patterns"):
    top = sorted(summary["patterns"].items(), key=lambda kv: -kv[1])[:4]
    for i, (pat, n) in enumerate(top):
        m[2 + i].metric(ui.t(f"hotspots.pattern.{pat}"), ui.fmt_int(n))
elif layer == "kde" and kde.get("n"):
    m[2].metric(ui.t("hotspots.m_bandwidth"), f"{kde['bandwidth_m']:,.0f} m")
    m[3].metric(ui.t("hotspots.m_cell"), f"{kde['cell_m']:,.1f} m")
    m[4].metric(ui.t("hotspots.m_peak"), f"{kde['max_km2']:,.0f}")
band = summary["band_m"]
m[6].metric(
    ui.t("hotspots.m_band"),
    ui.t("hotspots.contiguity") if band is None else f"{band:,.0f} m",
    help=ui.t(f"hotspots.rule.{summary['band_rule']}") if summary["band_rule"] else None,
)
nothing = hv.lisa_nothing_reason(frame) if layer == "lisa" else None
if nothing:
    st.info(
        ui.t(
            f"hotspots.lisa_none.{nothing['correction']}",
            n=ui.fmt_int(nothing["n"]),
            raw=ui.fmt_int(nothing["raw"]),
        )
    )

# ------------------------------------------------------------------ map
unit_names = ui.unit_labels(by, f.grid_code)
frame = frame.assign(
    unit_name=frame["unit_id"].astype(str).map(unit_names).fillna(""),
    tip=hv.unit_tips(
        frame, unit_names, ui.t("hotspots.tip_count"), ui.t("hotspots.tip_density"), ui.fmt_int
    ),
)
props = ["unit_id", "count", "tip"]
if layer == "counts":
    measure = value
    edges = viz.class_breaks(frame[measure].to_numpy())
    colors = viz.choropleth_colors(frame[measure].to_numpy(), edges)
    colors = [c if n > 0 else [0, 0, 0, 0] for c, n in zip(colors, frame["count"], strict=True)]
    mids = (edges[:-1] + edges[1:]) / 2
    legend = [
        (col, f"{lo:,.0f}–{hi:,.0f}")
        for col, lo, hi in zip(
            viz.choropleth_colors(mids, edges), edges[:-1], edges[1:], strict=True
        )
    ]
    legend_title = f"{ui.t('hotspots.legend_counts')} ({ui.t(f'hotspots.value.{measure}')})"
elif layer == "kde":
    colors = [[0, 0, 0, 0]] * len(frame)
    legend, legend_title = None, ui.t("hotspots.legend_kde")
elif layer == "gi":
    labels = {b: ui.t(f"hotspots.bin.{b}") for b in hv.GI_BINS}
    frame["tip"] = (
        frame["tip"]
        + "\n"
        + frame["gi_bin"].map(labels)
        + (" · z = " + frame["gi_z"].round(2).astype(str))
    )
    colors = viz.class_colors(frame["gi_bin"].to_numpy(), viz.GI_BIN_RGB)
    legend = [(viz.GI_BIN_RGB[b], labels[b]) for b in hv.GI_BINS]
    legend_title = ui.t("hotspots.legend_gi")
elif layer == "lisa":
    labels = {c: ui.t(f"hotspots.lisa.{c}") for c in hv.LISA_CLASSES}
    frame["tip"] = frame["tip"] + "\n" + frame["lisa_cluster"].map(labels)
    colors = viz.class_colors(frame["lisa_cluster"].to_numpy(), viz.LISA_COLORS)
    legend = [(viz.LISA_COLORS[c], labels[c]) for c in hv.LISA_CLASSES]
    legend_title = ui.t("hotspots.legend_lisa")
else:  # emerging
    pattern_label = {k: ui.t(f"hotspots.pattern.{k}") for k in viz.PATTERN_COLORS}
    frame["tip"] = frame["tip"] + "\n" + frame["pattern"].map(pattern_label).fillna("")
    colors = viz.class_colors(frame["pattern"].to_numpy(), viz.PATTERN_COLORS)
    present = set(frame["pattern"].dropna())
    legend = [(c, pattern_label[k]) for k, c in viz.PATTERN_COLORS.items() if k in present]
    legend_title = ui.t("hotspots.legend_emerging")

# a click on the map chooses a unit; the map is then drawn afresh (no selection state, which
# would wash the other units out) with the chosen unit outlined
pick_key = f"hs_pick_{by}_{f.grid_code}_{ui.lang()}"
map_key = f"hs_map_{st.session_state.get('hs_map_n', 0)}"
clicked = (st.session_state.get(map_key) or {}).get("selection", {}).get("objects", {})
if clicked.get("units"):
    uid = str(clicked["units"][0].get("properties", clicked["units"][0]).get("unit_id"))
    st.session_state["hs_unit"] = st.session_state[pick_key] = uid
    st.session_state["hs_map_n"] = st.session_state.get("hs_map_n", 0) + 1
    map_key = f"hs_map_{st.session_state['hs_map_n']}"
chosen = st.session_state.get(pick_key, st.session_state.get("hs_unit", ""))
deck_layers = [viz.street_layer(ui.streets())]
if layer == "kde" and kde.get("n"):
    deck_layers.append(viz.kde_layer(kde["image"], kde["bounds"]))
deck_layers.append(viz.units_layer(frame, colors, props))
deck_layers += viz.selection_layers(frame.geometry[frame["unit_id"].astype(str) == chosen])
map_col, legend_col = st.columns([4, 1])
view = viz.view_for(frame.geometry, height_px=600)
deck = viz.deck(deck_layers, view, tooltip={"text": "{tip}"}, basemap=ui.basemap())
with map_col:
    st.pydeck_chart(
        deck, height=600, on_select="rerun", selection_mode="single-object", key=map_key
    )
with legend_col:
    st.markdown("**" + legend_title.replace("*", "\\*") + "**")
    if layer == "kde":
        if kde.get("n"):
            st.markdown(
                viz.ramp_legend_html("0", f"{kde['max_km2']:,.0f} /km²"), unsafe_allow_html=True
            )
        else:
            st.info(ui.t("hotspots.no_incidents"))
    else:
        st.markdown(viz.legend_html(legend, vertical=True), unsafe_allow_html=True)
if layer != "kde":
    with st.expander(ui.t("export.title")):
        ui.export_panel(
            frame,
            colors,
            legend,
            title=ui.t("nav.hotspots"),
            legend_title=legend_title,
            start=f.start,
            end=f.end,
            categories=f.categories,
            sources=f.sources,
            grid_code=f.grid_code,
            key=f"hs_export_{layer}",
        )
if st.toggle(ui.t("playback.title"), key="pb_on"):
    ui.playback_panel(by, f.start.date(), f.end.date(), f.categories, f.sources, f.grid_code)
if layer in ("gi", "emerging"):
    st.caption(ui.t("hotspots.fdr_caption"))
if layer == "emerging":
    st.caption(
        ui.t(
            "hotspots.emerging_caption",
            n=frame.attrs.get("emerging_steps", 0),
            step=ui.t(f"hotspots.step.{step}"),
        )
    )
st.caption(ui.t("caption.offline"))

# ------------------------------------------------------------------ unit detail
st.subheader(ui.t("hotspots.detail"))
options = [""] + hv.unit_ranking(frame)
counts = dict(zip(frame["unit_id"].astype(str), frame["count"], strict=True))
if st.session_state.get(pick_key, chosen) not in options:
    st.session_state[pick_key] = ""
elif pick_key not in st.session_state:
    st.session_state[pick_key] = chosen if chosen in options else ""
unit = st.selectbox(
    ui.t("hotspots.pick"),
    options,
    format_func=lambda u: (
        ui.t("hotspots.none")
        if not u
        else f"{unit_names.get(u, u)} · {ui.t('hotspots.tip_count')} {counts[u]:,}"
    ),
    key=pick_key,
)
st.session_state["hs_unit"] = unit
if unit:
    row = frame[frame["unit_id"].astype(str) == unit].iloc[0]
    st.markdown(f"**{unit_names.get(unit, unit)}** · `{unit}`")
    detail = ui.hotspot_detail(by, unit, **flt)
    d = st.columns(4)
    d[0].metric(ui.t("hotspots.d_incidents"), ui.fmt_int(detail["n"]))
    d[1].metric(ui.t("hotspots.d_density"), f"{row['density_km2']:,.0f}")
    d[2].metric(ui.t("hotspots.d_bin"), ui.t(f"hotspots.bin.{int(row['gi_bin'])}"))
    d[3].metric(ui.t("hotspots.d_z"), f"{row['gi_z']:.2f}")
    if "lisa_cluster" in row.index:
        st.caption(f"{ui.t('hotspots.layer.lisa')}: {ui.t(f'hotspots.lisa.{row.lisa_cluster}')}")
    if "pattern" in row.index and isinstance(row["pattern"], str):
        st.caption(f"{ui.t('hotspots.layer.emerging')}: {ui.t(f'hotspots.pattern.{row.pattern}')}")
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{ui.t('hotspots.by_category')}**")
        cats = detail["by_category"]
        if len(cats):
            cat_col, n_col = ui.t("table.category"), ui.t("table.count")
            st.bar_chart(
                pd.DataFrame(
                    {cat_col: [ui.category_name(x) for x in cats.index], n_col: cats.to_numpy()}
                ),
                x=cat_col,
                y=n_col,
                horizontal=True,
                sort=f"-{n_col}",
                height=260,
            )
        st.markdown(f"**{ui.t('hotspots.top_addresses')}**")
        top = detail["top_addresses"].rename(
            columns={"address": ui.t("hotspots.address"), "count": ui.t("table.count")}
        )
        st.dataframe(top, hide_index=True, width="stretch", height=260)
    with right:
        st.markdown(f"**{ui.t('hotspots.hour_weekday')}**")
        days = ui.t("hotspots.weekdays").split(",")
        chart = viz.hour_weekday_chart(
            detail["hour_weekday"],  # hours down, weekdays (Monday first) across
            days=days,
            hour_title=ui.t("hotspots.hour"),
            weekday_title=ui.t("hotspots.weekday"),
            count_title=ui.t("table.count"),
        )
        st.altair_chart(chart, width="stretch")
        st.markdown(f"**{ui.t('hotspots.weekly')}**")
        st.altair_chart(
            viz.date_line_chart(
                detail["weekly"], date_title=ui.t("home.week_of"), value_title=ui.t("table.count")
            ),
            width="stretch",
        )

    comp = detail["comparison"]
    if comp is not None and len(comp):
        st.markdown(f"**{ui.t('hotspots.comparison')}**")

        def change(rel, sig) -> str:
            if not np.isfinite(rel):
                return "—"
            return f"{rel:+.0%}" + (" *" if sig else "")

        table = pd.DataFrame(
            {
                ui.t("table.category"): [
                    ui.t("hotspots.c_all") if k == "all" else ui.category_name(k)
                    for k in comp["key"]
                ],
                ui.t("hotspots.c_this"): comp["this"].to_numpy(),
                ui.t("hotspots.c_prev"): comp["previous"].to_numpy(),
                ui.t("hotspots.c_change_prev"): [
                    change(r, s)
                    for r, s in zip(comp["change_prev"], comp["significant_prev"], strict=True)
                ],
                ui.t("hotspots.c_ly"): comp["last_year"].to_numpy(),
                ui.t("hotspots.c_change_ly"): [
                    change(r, s)
                    for r, s in zip(comp["change_ly"], comp["significant_ly"], strict=True)
                ],
            }
        )
        st.dataframe(table, hide_index=True, width="stretch")
        st.caption(ui.t("hotspots.c_note"))

# ------------------------------------------------------------------ export
st.subheader(ui.t("hotspots.export"))
stem = f"hotspots_{by.replace(':', '_')}_{layer}_{f.start:%Y%m%d}_{(f.end - pd.Timedelta(days=1)):%Y%m%d}"
e = st.columns(2)
e[0].download_button(
    ui.t("hotspots.export_csv"),
    data=hv.export_bytes(frame, "csv"),
    file_name=f"{stem}.csv",
    mime="text/csv",
    key="hs_export_csv",
)
e[1].download_button(
    ui.t("hotspots.export_geojson"),
    data=hv.export_bytes(frame, "geojson"),
    file_name=f"{stem}.geojson",
    mime="application/geo+json",
    key="hs_export_geojson",
)
with st.expander(ui.t("hotspots.table")):
    st.dataframe(
        readable.units_table(frame.sort_values("count", ascending=False), ui.lang()),
        hide_index=True,
        width="stretch",
    )
