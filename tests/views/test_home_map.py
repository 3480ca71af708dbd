"""Home (issue 20, "Where"): a labelled map tooltip, a legend with its unit and an open-ended
top class, and a grid card with the full code and the parent's name."""

from __future__ import annotations

import json

import numpy as np

from gis import store, viz
from tests.ui.apptest import new_app, sign_in


def test_class_labels_top_class_open_ended():
    assert viz.class_labels(np.array([0, 120.4, 1500, 3813, 19439])) == [
        "0–120",
        "120–1,500",
        "1,500–3,813",
        "≥ 3,813",
    ]


def test_home_tooltip_legend_and_card(demo_db):
    engine = store.open_store(demo_db)
    grids = store.read_grids(engine)
    engine.dispose()
    at = sign_in(new_app(), "analyst", "analyst-demo")
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    # the choropleth lies under the basemap's labels when a basemap is built
    choro = next(layer for layer in spec["layers"] if layer["id"] == "choropleth")
    feats = choro["data"]["features"]
    for feat in feats[:5]:
        name, code, value, count = feat["properties"]["tip"].split("\n")
        assert name == feat["properties"]["name"] and code == feat["properties"]["code"]
        assert value.startswith("每平方公里事件数: ") and value.endswith(" 件/km²")
        assert count == f"事件: {feat['properties']['incidents']:,}"
    # the daily trend: numeric date labels (no "Aug 09" in the Chinese UI)
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    trend = [s for s in specs if s.get("encoding", {}).get("x", {}).get("type") == "temporal"]
    assert trend and trend[0]["encoding"]["x"]["axis"]["format"] == "%m-%d"
    assert trend[0]["encoding"]["x"]["title"] == "日期"
    legend = [m.value for m in at.markdown if m.value.startswith("图例")][0]
    assert "(件/km²)" in legend and "≥ " in legend
    l2 = grids[grids["level"] == "l2"].iloc[0]
    parent = grids.set_index("code").loc[l2["parent_code"], "name"]
    at.selectbox(key="home_card_pick_l2_zh").set_value(l2["code"]).run()
    assert not at.exception, at.exception
    line = [m.value for m in at.markdown if f"`{l2['code']}`" in m.value]
    assert line and line[0].endswith(f"上级网格: {parent}")
