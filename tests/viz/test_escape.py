"""Issue 19 (High 4): user text is escaped on every map, in Markdown and in HTML exports, by the
one helper (``gis.core.text``)."""

from __future__ import annotations

import folium
import geopandas as gpd
import pydeck as pdk
import pytest
import shapely

from gis import i18n, ui, viz
from gis.core.text import html_text, markdown_text
from gis.reports import briefing_html

XSS = "<img src=x onerror=\"window.top.document.title='XSS'\">"
MD = "![x](http://host/p.png) **b** [l](javascript:alert(1)) # h $x$"


def test_html_text_hand_cases():
    assert html_text(XSS) == (
        "&lt;img src=x onerror=&quot;window.top.document.title=&#x27;XSS&#x27;&quot;&gt;"
    )
    assert html_text(None) == "" and html_text(float("nan")) == "" and html_text(12) == "12"
    assert html_text("社区 & 网格") == "社区 &amp; 网格"


def test_markdown_text_hand_cases():
    assert markdown_text(MD) == (
        r"\!\[x\](http://host/p.png) \*\*b\*\* \[l\](javascript:alert(1)) \# h \$x\$"
    )
    assert markdown_text("a\nb\r\n# c") == r"a b \# c"
    assert markdown_text("<b>x</b>") == r"\<b\>x\</b\>"
    assert markdown_text("北城街道 140581001001101") == "北城街道 140581001001101"
    assert markdown_text(None) == ""


def test_markdown_text_renders_as_the_original(tmp_path):
    """Escaped text shown by Streamlit's Markdown reads as the original characters and makes no
    image, link or emphasis (checked with the CommonMark renderer Streamlit's follows)."""
    markdown_it = pytest.importorskip("markdown_it")
    rendered = markdown_it.MarkdownIt("commonmark").render(markdown_text(MD + XSS))
    assert "<img" not in rendered and "<a " not in rendered and "<strong>" not in rendered
    assert "![x](http://host/p.png)" in rendered and "&lt;img" in rendered


def test_folium_tooltips_get_escaped_properties():
    frame = gpd.GeoDataFrame(
        {"name": [XSS + MD], "code": ["140581001001101"], "n": [3]},
        geometry=[shapely.box(112.9, 35.79, 112.91, 35.8)],
        crs=4326,
    )
    safe = viz.escape_properties(frame)
    assert safe["name"].iloc[0].startswith("&lt;img") and safe["n"].iloc[0] == 3
    m = folium.Map(location=[35.795, 112.905], tiles=None)
    folium.GeoJson(
        safe.to_json(drop_id=True),
        tooltip=folium.GeoJsonTooltip(fields=["name", "code"], labels=False),
    ).add_to(m)
    page = m.get_root().render()
    assert "\\u0026lt;img src=x onerror" in page  # the entity, JSON-encoded by folium
    assert "<img src=x onerror" not in page


def test_deck_tooltips_are_text_only():
    view = pdk.ViewState(latitude=35.79, longitude=112.9, zoom=12)
    assert viz.deck([], view, tooltip={"text": "{name}"})._tooltip == {"text": "{name}"}
    with pytest.raises(ValueError, match="text only"):
        viz.deck([], view, tooltip={"html": "<b>{name}</b>"})


def test_legend_labels_escaped():
    html = viz.legend_html([([255, 0, 0], XSS)])
    assert "<img" not in html and "&lt;img" in html


def test_catalogue_text_arguments_escaped_for_markdown(monkeypatch):
    monkeypatch.setattr(ui.language, "lang", lambda: "en")
    shown = ui.t("grids.restored", code=MD, version=2)
    assert "![x]" not in shown and r"\!\[x\]" in shown
    plain = ui.t_plain("grids.restored", code=MD, version=2)
    assert MD in plain
    assert i18n.t("grids.restored", "en", code="A", version=2) in ui.t(
        "grids.restored", code="A", version=2
    )


def test_briefing_html_uses_the_helper():
    assert briefing_html.html_text is html_text
