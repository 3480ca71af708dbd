"""The one palette set (gis.viz.palettes) and the package's public face."""

from __future__ import annotations

import inspect

import numpy as np

from gis import viz
from gis.viz import palettes


def test_hex_forms_of_the_palettes():
    assert viz.hex_color([214, 47, 39]) == "#d62f27"
    assert viz.hex_color([214, 47, 39, 12]) == "#d62f27"  # the opacity is dropped
    assert viz.hex_and_opacity([255, 0, 16, 51]) == ("#ff0010", 0.2)
    assert viz.hex_and_opacity([1, 2, 3]) == ("#010203", 1.0)
    gi = viz.hex_palette(viz.GI_BIN_RGB)
    assert list(gi) == list(viz.GI_BIN_RGB) and gi[3] == "#d62f27" and gi[-3] == "#4575b5"
    assert set(viz.hex_palette(viz.LISA_COLORS)) == {"HH", "LL", "HL", "LH", "ns"}


def test_one_gi_palette_for_every_map():
    # the patrol page's RGBA colours are the hotspot page's RGB with an opacity per bin
    for b, rgba in viz.GI_BIN_COLORS.items():
        assert rgba[:3] == viz.GI_BIN_RGB[b] and rgba[3] == viz.GI_BIN_ALPHA[b]
    assert viz.gi_bin_colors(np.array([3, 0, 9])) == [
        viz.GI_BIN_COLORS[3],
        viz.GI_BIN_COLORS[0],
        viz.GI_BIN_COLORS[0],
    ]


def test_ramp_ends_on_the_ylorrd_classes():
    ends = viz.ramp_rgb(np.array([0.0, 1.0]))
    assert ends[0].tolist() == viz.YL_OR_RD[0] and ends[1].tolist() == viz.YL_OR_RD[-1]
    html = viz.ramp_legend_html("0", "9 <km²>")
    assert html.count("<span") == 7 and "&lt;km²&gt;" in html


def test_the_package_exports_what_it_lists():
    for name in viz.__all__:
        assert getattr(viz, name) is not None, name
    # no module is named after a function it exports: viz.layers is the module, viz.deck the
    # function
    assert inspect.ismodule(viz.layers) and callable(viz.deck) and not inspect.ismodule(viz.deck)
    assert inspect.ismodule(palettes)
    assert viz.STATIC_DIR.name == "static" and (viz.STATIC_DIR / "vendor").is_dir()
