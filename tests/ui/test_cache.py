"""The cached loaders' dependencies (gis.ui.cache): one clear function forgets what changed."""

from __future__ import annotations

import pytest
import streamlit as st

from gis import ui
from gis.ui import cache


def names(kind: str) -> set[str]:
    return {loader.__name__ for loader in cache.DEPENDENCIES[kind]}


def test_every_analysis_of_incidents_is_cleared_after_an_import():
    # the zones, briefings and plan evaluations count incidents too: an import refreshes them
    assert {
        "incidents",
        "incidents_shared",
        "incident_mask",
        "hotspot_units",
        "hotspot_kde",
        "hotspot_detail",
        "patrol_view",
        "patrol_route",
        "rect_zones",
        "rect_briefing",
        "rect_briefing_html",
        "rect_briefing_xlsx",
        "rect_plan_evaluation",
        "import_history",
        "intake_check",
    } <= names("incidents")


def test_every_loader_over_grids_is_cleared_after_a_grid_change():
    assert {
        "grids",
        "staff",
        "incidents",
        "grid_report",
        "hotspot_unit_frame",
        "hotspot_unit_index",
        "patrol_tracks",  # the district is the union of the level-1 grids
        "patrol_view",
        "rect_zones",
        "rect_briefing",
    } <= names("grids")
    # what no page changes is not cleared
    assert not {"engine", "streets", "taxonomy", "departments", "district"} & (
        names("grids") | names("incidents")
    )


def test_clear_caches_by_kind(monkeypatch):
    monkeypatch.setattr(cache, "DEPENDENCIES", {"incidents": [], "grids": []})
    calls = {"n": 0}

    @cache.depends_on("incidents")
    @st.cache_data(show_spinner=False)
    def counted(x: int) -> int:
        calls["n"] += 1
        return x

    counted(1), counted(1)
    assert calls["n"] == 1
    ui.clear_caches("grids")
    counted(1)
    assert calls["n"] == 1
    ui.clear_caches("incidents")
    counted(1)
    assert calls["n"] == 2
    ui.clear_caches()  # everything
    counted(1)
    assert calls["n"] == 3
    counted.clear()


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown kinds"):
        cache.depends_on("fixes")
