"""Patrol "gaps over hotspots" (issue 20): the outlines lie on Gi* hot spots where presence is
low, never on a dense unit that is no hot spot or on a well-patrolled one."""

from __future__ import annotations

import json

import pandas as pd

from gis.views import patrol as page_model
from tests.patrol.test_patrol_page import open_page, ref  # noqa: F401 (fixture)


def test_hotspot_gaps_by_hand():
    ranked = pd.DataFrame(
        {
            "unit_id": ["a", "b", "c", "d", "e"],
            "gi_bin": [0, 3, 2, 1, -2],  # a: dense but no hot spot; e: a cold spot
            "presence_score": [0.0, 0.9, 0.1, 0.4, 0.0],  # b: well patrolled
            "gap_score": [0.95, 0.9, 0.5, 0.6, 0.1],
        }
    )
    assert list(page_model.hotspot_gaps(ranked, 5)["unit_id"]) == ["d", "c"]
    assert list(page_model.hotspot_gaps(ranked, 1)["unit_id"]) == ["d"]
    assert page_model.hotspot_gaps(ranked.drop(columns="gi_bin")).empty


def test_gap_outlines_lie_on_hot_spots_with_low_presence(demo_db, ref):  # noqa: F811
    at = open_page()
    at.radio(key="patrol_layer_zh").set_value("gaps").run()
    assert not at.exception, at.exception
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    gaps = [la for la in spec["layers"] if la["id"] == "gaps"][0]["data"]["features"]
    outlined = [f["properties"]["code"] for f in gaps]
    r = ref["ranked"].set_index("unit_id")
    assert outlined, "the demo has hot spots nobody patrolled"
    assert (r.loc[outlined, "gi_bin"] >= 1).all()
    assert (r.loc[outlined, "presence_score"] < 0.5).all()
    eligible = ref["ranked"][
        (ref["ranked"]["gi_bin"] >= 1) & (ref["ranked"]["presence_score"] < 0.5)
    ]
    expected = eligible.sort_values("gap_score", ascending=False, kind="stable").head(20)
    assert outlined == list(expected["unit_id"])
