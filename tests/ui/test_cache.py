"""The cached loaders' dependencies (gis.ui.cache): one clear function forgets what changed."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
import streamlit as st

from gis import ui
from gis.ui import cache


def names(kind: str) -> set[str]:
    return {loader.__name__ for loader in cache.DEPENDENCIES[kind]}


def test_every_analysis_of_incidents_is_cleared_after_an_import():
    # the zones, briefings and plan evaluations count incidents too: an import refreshes them;
    # the analyses on the incident cube are cached by private loaders keyed on the filters and
    # the store's data_version, and cleared as well
    assert {
        "_cube",
        "_home_summary",
        "_home_closure",
        "_home_grid_counts",
        "_home_card",
        "_hotspot_units",
        "_hotspot_kde",
        "_hotspot_detail",
        "_patrol_view",
        "patrol_route",
        "_rect_zones",
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
        "grid_report",
        "hotspot_unit_frame",
        "patrol_tracks",  # the district is the union of the level-1 grids
        "_cube",
        "_patrol_view",
        "_rect_zones",
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


def test_cube_loaders_see_a_write_made_elsewhere_without_clearing(page_db):
    """A write by the command line bumps the store's data_version: the next call reads the new
    cube (the key changes), with no clear_caches from the app."""
    from gis.store import cube as store_cube

    engine = ui.engine()
    before = ui.home_summary(pd.Timestamp("2026-08-01"), pd.Timestamp("2026-11-01"))
    assert ui.cube("grid").version == ui.data_version()
    with engine.begin() as conn:  # another process deletes October's incidents
        conn.execute(sa.text("DELETE FROM incidents WHERE occurred_at >= '2026-10-01'"))
        store_cube.rebuild_cube(conn, ["2026-10"])
    after = ui.home_summary(pd.Timestamp("2026-08-01"), pd.Timestamp("2026-11-01"))
    assert before["in_filter"] > after["in_filter"] > 0
    assert after["daily"].loc["2026-10-01":].sum() == 0
    assert ui.cube("grid").version == ui.data_version()
