"""Leaflet maps in the user's language (issue 20): a metric-only scale bar, the attribution
prefix replaced by the data's own attribution, the Draw toolbar's texts translated."""

from __future__ import annotations

import json
import re

import folium

from gis import i18n, viz


def _html(lang: str | None) -> str:
    m = viz.offline_map((35.8, 112.93), zoom=14, attribution="北城街道（演示）网格与街巷数据")
    viz.add_draw(m, folium.FeatureGroup(name="x", control=False), lang=lang)
    return m.get_root().render()


def test_metric_scale_and_own_attribution():
    html = _html(None)
    assert "L.control.scale({metric: true, imperial: false})" in html
    assert not re.search(r"L\.control\.scale\(\s*\{\s*\}?\s*\)", html)  # folium's feet and miles
    prefix = re.search(r"\.attributionControl\.setPrefix\((\"[^\"]*\")\)", html)
    assert prefix and json.loads(prefix.group(1)) == "北城街道（演示）网格与街巷数据"
    # folium's own scale option is refused: the metric one is the only scale
    assert html.count("L.control.scale(") == 1


def test_draw_toolbar_texts_in_the_language():
    zh = _html("zh")
    texts = viz.draw_texts("zh")
    assert texts["edit.toolbar.actions.save.text"] == "保存"
    assert texts["draw.toolbar.buttons.polygon"] == "画多边形"
    texts_js = json.loads(re.search(r"var texts = (\{.*?\});", zh).group(1))
    assert texts_js == texts and "L.drawLocal" in zh
    # the texts are set before the control reads them
    assert zh.index("L.drawLocal") < zh.index("L.Control.Draw")
    assert set(viz.draw_texts("en").values()) >= {"Save", "Cancel", "Finish"}
    assert "L.drawLocal" not in _html(None)
    # the Chinese help names the button as the toolbar now shows it
    assert "“保存”" in i18n.t("grids.help.reshape", "zh")
