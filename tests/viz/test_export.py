"""Map export: a Gi* map drawn for print carries the title, the legend in the page's bin
colours, a scale bar whose length is checked against a known ground distance, a north arrow,
the source and the date; PNG at 300 dpi, PDF with the Chinese font embedded."""

from __future__ import annotations

import io

import geopandas as gpd
import matplotlib
import numpy as np
import pyproj
import pytest
import shapely
from PIL import Image

from gis import viz
from gis.viz.export import RC, nice_length
from tests.viz import basemap_fixture as F

BINS = [3, 2, 0, -1, -3, 1]
LABELS = {
    3: "热点 99%",
    2: "热点 95%",
    1: "热点 90%",
    0: "不显著",
    -1: "冷点 90%",
    -2: "冷点 95%",
    -3: "冷点 99%",
}


@pytest.fixture(scope="module")
def units() -> gpd.GeoDataFrame:
    s = 0.003
    boxes = [
        shapely.box(
            F.X0 + i * s - 0.006,
            F.Y0 + j * s - 0.003,
            F.X0 + (i + 1) * s - 0.006,
            F.Y0 + (j + 1) * s - 0.003,
        )
        for j in range(2)
        for i in range(3)
    ]
    return gpd.GeoDataFrame({"unit_id": list("abcdef"), "gi_bin": BINS}, geometry=boxes, crs=4326)


def page_colors(units):
    # exactly what the Hotspots page gives its deck.gl layer and its legend
    colors = viz.class_colors(units["gi_bin"].to_numpy(), viz.GI_BIN_RGB)
    legend = [(viz.GI_BIN_RGB[b], LABELS[b]) for b in (3, 2, 1, 0, -1, -2, -3)]
    return colors, legend


@pytest.fixture(scope="module")
def drawn(units):
    colors, legend = page_colors(units)
    layers = viz.district_layers(F.streets(), F.grids(), F.places())
    with matplotlib.rc_context(RC):
        out = viz.draw_map(
            units,
            colors,
            legend,
            title="Gi* 冷热点分析",
            subtitle="时段 2026-01-01 – 2026-03-31",
            legend_title="Gi* 冷热点",
            source="GridLens 事件库",
            date="2026-12-04",
            lang="zh",
            basemap_layers=layers,
        )
        buf = io.BytesIO()
        out.figure.savefig(buf, format="png", dpi=300)
    return out, buf.getvalue()


def texts(fig):
    return {t.get_gid(): t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_gid()}


def test_title_subtitle_source_date_north(drawn):
    out, _ = drawn
    found = texts(out.figure)
    assert found["title"] == "Gi* 冷热点分析"
    assert found["subtitle"].startswith("时段 2026-01-01")
    assert (
        "数据来源: GridLens 事件库" in found["footer"] and "制图日期: 2026-12-04" in found["footer"]
    )
    arrow = next(a for a in out.ax.texts if a.get_gid() == "north-arrow")
    assert arrow.get_text() == "北"
    assert arrow.xy[1] > arrow.xyann[1] and arrow.xy[0] == arrow.xyann[0]  # points straight up


def test_legend_and_units_in_the_page_colours(drawn, units):
    out, _ = drawn
    colors, legend = page_colors(units)
    leg = out.figure.legends[0]
    assert [t.get_text() for t in leg.get_texts()] == [label for _, label in legend]
    got = [
        tuple(np.round(np.array(p.get_facecolor()[:3]) * 255).astype(int))
        for p in leg.get_patches()
    ]
    assert got == [tuple(c[:3]) for c, _ in legend]
    assert leg.get_title().get_text() == "Gi* 冷热点"
    # the drawn units: each unit's RGBA is the page's colour for its bin
    coll = [c for c in out.ax.collections if len(c.get_facecolors()) == len(units)][0]
    assert np.allclose(coll.get_facecolors(), np.array(colors) / 255, atol=1e-6)
    hot = np.array(viz.GI_BIN_RGB[3]) / 255
    assert np.allclose(coll.get_facecolors()[0][:3], hot)


def test_scale_bar_against_a_known_distance(drawn):
    out, png = drawn
    bars = [p for p in out.ax.patches if (p.get_gid() or "").startswith("scalebar")]
    length = sum(p.get_width() for p in bars)
    assert length == pytest.approx(out.scale_m) and out.scale_m == nice_length(
        np.diff(out.ax.get_xlim())[0]
    )
    assert texts(out.figure)["scalebar-label"] == (
        f"{out.scale_m:g} m" if out.scale_m < 1000 else f"{out.scale_m / 1000:g} km"
    )
    # map units are ground metres: a point 1,000 m east of another (on the ellipsoid) is
    # 1,000 m away in the map's CRS, to the Gauss-Kruger scale error (< 0.1 %)
    lon2, lat2, _ = pyproj.Geod(ellps="GRS80").fwd(F.X0, F.Y0, 90, 1000.0)
    to_map = pyproj.Transformer.from_crs(4326, out.crs, always_xy=True)
    (x1, x2), (y1, y2) = to_map.transform([F.X0, lon2], [F.Y0, lat2])
    assert np.hypot(x2 - x1, y2 - y1) == pytest.approx(1000.0, rel=1e-3)
    # and in the 300 dpi picture the black half of the bar is scale_m / 2 at the map's scale
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    bbox = out.ax.get_window_extent()  # display pixels at the figure's dpi
    px_per_m = bbox.width * 300 / out.figure.dpi / np.diff(out.ax.get_xlim())[0]
    black = bars[0]
    y_data = black.get_y() + black.get_height() / 2
    row_px = img.shape[0] - (
        out.ax.transData.transform((black.get_x(), y_data))[1] * 300 / out.figure.dpi
    )
    row = img[int(round(row_px))]
    x_px = int(round(out.ax.transData.transform((black.get_x(), y_data))[0] * 300 / out.figure.dpi))
    dark = (row < 60).all(axis=1)
    left = x_px - 2 + int(np.argmax(dark[x_px - 2 :]))  # the bar's first dark pixel
    run = int(np.argmin(dark[left:]))  # dark pixels from there on: the black half
    assert run == pytest.approx(out.scale_m / 2 * px_per_m, abs=4)


def test_png_300_dpi_and_pdf_with_cjk_font(units):
    colors, legend = page_colors(units)
    png = viz.export_map(units, colors, legend, title="热点", lang="zh", fmt="png")
    assert Image.open(io.BytesIO(png)).info["dpi"] == pytest.approx((300, 300), abs=0.5)
    pdf = viz.export_map(units, colors, legend, title="热点", lang="zh", fmt="pdf")
    assert pdf.startswith(b"%PDF") and b"CJK" in pdf
    en = viz.draw_map(units, colors, legend, title="Hot spots", lang="en")
    assert next(a for a in en.ax.texts if a.get_gid() == "north-arrow").get_text() == "N"
