"""Hotspots "so what" (issue 20): local Moran's multiple-comparison choice (FDR / none /
Bonferroni) with words when nothing is significant, and each layer's own counts in the metric
strip."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis.core.errors import InputError
from gis.views import hotspots as hv
from tests.ui.apptest import metrics, new_app, sign_in
from tests.views.test_hotspots_page import data, reference  # noqa: F401 (fixture)


def test_lisa_relabel_by_hand():
    p = np.array([0.001, 0.004, 0.02, 0.04, 0.3, np.nan])
    q = np.array([1, 3, 4, 2, 1, 1])
    frame = gpd.GeoDataFrame(
        {"lisa_p": p, "lisa_q": q, "lisa_cluster": "ns"},
        geometry=[shapely.Point(i, 0) for i in range(6)],
        crs=4326,
    )
    # none: p <= 0.05 -> the first four; bonferroni: p <= 0.05/6 = 0.00833 -> first two
    assert list(hv.lisa_relabel(frame, "none")["lisa_cluster"]) == [
        "HH", "LL", "HL", "LH", "ns", "ns"
    ]  # fmt: skip
    assert list(hv.lisa_relabel(frame, "bonferroni")["lisa_cluster"]) == [
        "HH", "LL", "ns", "ns", "ns", "ns"
    ]  # fmt: skip
    # Benjamini-Hochberg, m = 6: sorted p 0.001 <= 0.05*1/6, 0.004 <= 0.05*2/6, 0.02 <= 0.05*3/6
    # (0.025), 0.04 > 0.05*4/6 (0.0333) -> the first three
    fdr = hv.lisa_relabel(frame, "fdr")
    assert list(fdr["lisa_cluster"]) == ["HH", "LL", "HL", "ns", "ns", "ns"]
    assert fdr.attrs["lisa_raw_significant"] == 4 and hv.lisa_nothing_reason(fdr) is None
    nothing = hv.lisa_relabel(frame.assign(lisa_p=0.2), "fdr")
    assert hv.lisa_nothing_reason(nothing) == {"n": 6, "raw": 0, "correction": "fdr"}
    with pytest.raises(InputError):
        hv.lisa_relabel(frame, "holm")


def test_lisa_layer_counts_and_correction_choice(demo_db, data):  # noqa: F811
    at = sign_in(new_app(), "analyst", "analyst-demo")
    at.switch_page("pages/hotspots.py").run()
    at.radio(key="hs_layer_zh").set_value("lisa").run()
    assert not at.exception, at.exception
    ref, _, _ = reference(data, "h3:9", method="local_moran", permutations=9999, seed=0)
    got = metrics(at)
    # the strip shows local Moran's classes, not Gi*'s hot spots
    assert not any(k.startswith("热点 ") for k in got)
    for cls, label in (("HH", "高-高聚类"), ("LL", "低-低聚类"), ("HL", "高-低异常值")):
        assert got[label] == f"{int((ref['lisa_cluster'] == cls).sum()):,}"
    raw = ref["lisa_p"].to_numpy() <= 0.05
    for correction, sig in (
        ("none", raw),
        ("bonferroni", ref["lisa_p"].to_numpy() <= 0.05 / len(ref)),
    ):
        at.radio(key="hs_correction_zh").set_value(correction).run()
        assert not at.exception, at.exception
        got = metrics(at)
        quad = ref["lisa_q"].to_numpy()
        assert got["高-高聚类"] == f"{int((sig & (quad == 1)).sum()):,}", correction
        assert got["低-低聚类"] == f"{int((sig & (quad == 3)).sum()):,}", correction
        words = [i.value for i in at.info if "未校正时" in i.value or "随机" in i.value]
        if sig.any():
            assert not words
        else:
            assert words and f"p < 0.05 的有 {int(raw.sum()):,} 个" in words[0]
    # emerging: the strip counts units per pattern
    at.radio(key="hs_layer_zh").set_value("emerging").run()
    assert not at.exception, at.exception
    got = metrics(at)
    assert "持续热点" in got and not any(k.startswith("热点 ") for k in got)
