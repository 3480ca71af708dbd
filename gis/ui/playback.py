"""Time playback on the Hotspots page: step, mode and layer choices, a period slider with play,
the map and the chart moving together (frames: :func:`gis.views.playback.playback_frames`)."""

from __future__ import annotations

from datetime import date

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from gis import viz
from gis.grids import descendants
from gis.store.cube import Cube, CubeFilter, load_cube
from gis.ui.cache import depends_on, engine, grids, hotspot_unit_frame
from gis.ui.language import t
from gis.ui.maps import basemap
from gis.ui.widgets import keyed_choice
from gis.units import UnitSpec
from gis.views.playback import Playback, playback_frames

FRAME_KEY = "pb_frame"
PLAY_KEY = "pb_playing"


@depends_on("incidents", "grids")
@st.cache_resource(show_spinner=False)
def incident_cube(kind: str) -> Cube:
    """The stored incident cube of one unit family (``grid``, ``h3``, ``fishnet``)."""
    return load_cube(engine(), kind)


@depends_on("incidents", "grids")
@st.cache_data(show_spinner=False, max_entries=8)
def playback(
    by: str,
    start: date,
    end: date,
    step: str,
    mode: str,
    categories: tuple = (),
    sources: tuple = (),
    grid_code: str | None = None,
) -> Playback:
    """The frames of the Hotspots units ``by`` over ``[start, end)`` (cached)."""
    spec = UnitSpec.parse(by)
    g = grids()
    micros = None
    if grid_code:
        inside = descendants(grid_code, g)
        micros = tuple(g.loc[g["code"].isin(inside) & (g["level"] == "micro"), "code"])
    ancestors = None
    if spec.kind == "grid" and spec.level in ("l1", "l2"):
        parent = dict(zip(g["code"], g["parent_code"], strict=True))
        ancestors = {}
        for code in g.loc[g["level"] == "micro", "code"]:
            up = parent.get(code)
            if spec.level == "l1" and up is not None:
                up = parent.get(up)
            ancestors[code] = up or ""
    units = hotspot_unit_frame(by, grid_code)
    flt = CubeFilter(categories=tuple(categories), sources=tuple(sources), micros=micros)
    return playback_frames(
        incident_cube(spec.kind),
        units,
        spec,
        flt,
        start=start,
        end=end,
        step=step,
        mode=mode,
        window=1,
        ancestors=ancestors,
    )


def _chart(pb: Playback, k: int) -> alt.LayerChart:
    data = pd.DataFrame({"day": pb.step_totals.index, "n": pb.step_totals.to_numpy()})
    line = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(x=alt.X("day:T", title=None), y=alt.Y("n:Q", title=t("playback.incidents")))
    )
    now = pd.DataFrame({"day": [pd.Timestamp(pb.ends[k]) - pd.Timedelta(days=1)]})
    rule = alt.Chart(now).mark_rule(color="#d62f27", size=2).encode(x="day:T")
    return (line + rule).properties(height=160)


def playback_panel(by: str, start: date, end: date, categories, sources, grid_code) -> None:
    """The playback section of the Hotspots page (its own fragment: only it reruns)."""
    c = st.columns(3)
    step = keyed_choice(
        c[0].radio,
        t("playback.step"),
        ["week", "day"],
        "pb_step",
        "week",
        format_func=lambda s: t(f"playback.step.{s}"),
        horizontal=True,
    )
    mode = keyed_choice(
        c[1].radio,
        t("playback.mode"),
        ["window", "cumulative"],
        "pb_mode",
        "window",
        format_func=lambda s: t(f"playback.mode.{s}"),
        horizontal=True,
    )
    show = keyed_choice(
        c[2].radio,
        t("playback.layer"),
        ["gi", "counts"],
        "pb_layer",
        "gi",
        format_func=lambda s: t(f"playback.layer.{s}"),
        horizontal=True,
    )
    pb = playback(by, start, end, step, mode, tuple(categories), tuple(sources), grid_code)
    if pb.n_frames == 0:
        st.info(t("playback.empty"))
        return
    units = hotspot_unit_frame(by, grid_code)
    playing = bool(st.session_state.get(PLAY_KEY, False))

    @st.fragment(run_every=1.0 if playing else None)
    def player() -> None:
        k = int(st.session_state.get(FRAME_KEY, 0)) % pb.n_frames
        if st.session_state.get(PLAY_KEY, False):
            k = (k + 1) % pb.n_frames
        st.session_state[FRAME_KEY] = k
        b = st.columns([1, 6])
        label = t("playback.pause") if playing else t("playback.play")
        if b[0].button(label, key="pb_play"):
            st.session_state[PLAY_KEY] = not playing
            st.rerun()
        k = b[1].slider(
            t("playback.period"),
            0,
            pb.n_frames - 1,
            key=FRAME_KEY,
            format=f"%d / {pb.n_frames - 1}",
        )
        st.caption(f"{pb.starts[k]:%Y-%m-%d} – {pb.ends[k] - pd.Timedelta(days=1):%Y-%m-%d}")
        colors, legend = frame_colors(pb, k, show)
        layer = viz.units_layer(
            units.assign(n=pb.counts[k]), colors, ["unit_id", "n"], layer_id="playback"
        )
        view = viz.view_for(units.geometry)
        view.zoom = min(18.0, view.zoom + 1.0)
        st.pydeck_chart(
            viz.deck([layer], view, tooltip={"text": "{unit_id}: {n}"}, basemap=basemap()),
            height=480,
        )
        st.markdown(viz.legend_html(legend), unsafe_allow_html=True)
        st.altair_chart(_chart(pb, k), use_container_width=True)

    player()


def frame_colors(pb: Playback, k: int, show: str) -> tuple[list, list]:
    """Colours of frame ``k`` and the legend: Gi* bins, or counts in classes fixed over all
    frames (so a colour means the same count in every frame)."""
    if show == "gi" and pb.gi_bins is not None:
        colors = viz.class_colors(pb.gi_bins[k], viz.GI_BIN_RGB)
        legend = [(viz.GI_BIN_RGB[b], t(f"hotspots.bin.{b}")) for b in (3, 2, 1, 0, -1, -2, -3)]
        return colors, legend
    edges = (
        viz.class_breaks(pb.counts[pb.counts > 0]) if (pb.counts > 0).any() else np.array([0, 1])
    )
    vals = pb.counts[k].astype(float)
    colors = [
        c if v > 0 else [0, 0, 0, 0]
        for c, v in zip(viz.choropleth_colors(vals, edges), vals, strict=True)
    ]
    mids = (edges[:-1] + edges[1:]) / 2
    legend = [
        (col, f"{lo:,.0f}–{hi:,.0f}")
        for col, lo, hi in zip(
            viz.choropleth_colors(mids, edges), edges[:-1], edges[1:], strict=True
        )
    ]
    return colors, legend
