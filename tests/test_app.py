"""AppTest of the home page on the demo district."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def app(demo_db):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_home_shows_the_district_in_chinese(app):
    assert app.title[0].value == "北城街道（演示）"
    metrics = _metrics(app)
    assert metrics["一级网格"] == "15"
    assert metrics["二级网格"] == "46"
    assert metrics["微网格"] == "447"
    assert metrics["专属网格"] == "15"
    assert 10 <= float(metrics["辖区面积 (km²)"]) <= 20
    assert int(metrics["事件（全部）"].replace(",", "")) >= 150_000
    assert len(app.get("deck_gl_json_chart")) == 1


def test_language_switch_to_english(app):
    app.sidebar.radio[0].set_value("en").run()
    assert not app.exception
    assert app.title[0].value == "Beicheng (demo)"
    metrics = _metrics(app)
    assert metrics["Level-1 grids"] == "15"
    assert "Micro-grids" in metrics


def test_level_toggles_change_the_map(app):
    import json

    def layer_ids(at):
        spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
        return [layer["id"] for layer in spec["layers"]]

    assert layer_ids(app) == ["streets", "grids-l2", "grids-l1", "grids-dedicated"]
    app.multiselect[0].set_value(["micro"]).run()
    app.checkbox[0].uncheck().run()
    assert layer_ids(app) == ["grids-micro"]
    spec = json.loads(app.get("deck_gl_json_chart")[0].proto.json)
    assert "mapStyle" not in spec or spec["mapStyle"] == "__MAP_STYLE__"
    assert spec.get("mapProvider") in (None, "")


def test_level_choice_survives_language_switch(app):
    app.multiselect[0].set_value(["micro", "l1"]).run()
    app.sidebar.radio[0].set_value("en").run()
    assert not app.exception
    assert sorted(app.multiselect[0].value) == ["l1", "micro"]
    assert app.multiselect[0].label == "Grid levels shown"
