"""The pages at a district's volume read aggregates: Home, Hotspots, Patrol, Joint
rectification and Data (its export streams from the store) render (AppTest, demo district) with every full read of the incidents refused,
and their numbers are those of the cube."""

from __future__ import annotations

import pandas as pd
import pytest

from gis import store, ui
from gis.store import frames
from gis.store.cube import load_cube
from gis.views import aggregates, home
from tests.ui.apptest import metrics, new_app, sign_in


@pytest.fixture
def refuse_full_reads(page_db, monkeypatch):
    """Every path that reads the whole incidents table raises."""

    def refused(*args, **kwargs):
        raise AssertionError("a page read every incident")

    real = frames.read_frame

    def read_frame(engine, table, *args, **kwargs):
        if table == "incidents" and not kwargs.get("where"):
            refused()
        return real(engine, table, *args, **kwargs)

    monkeypatch.setattr(store, "read_incidents", refused)
    monkeypatch.setattr(store, "read_frame", read_frame)
    return page_db


def test_pages_render_without_reading_every_incident(refuse_full_reads):
    at = sign_in(new_app(), "analyst", "analyst-demo")
    assert not at.exception, at.exception
    engine = store.open_store(refuse_full_reads)
    _, end = at.session_state["flt_period"]
    weeks = home.weeks_ending(pd.Timestamp(end))
    cube_week = home.cube_summary(load_cube(engine, "grid"), weeks.this_start, weeks.end)
    this_week = int(cube_week["by_category"]["this_week"].sum())
    assert this_week > 0
    assert metrics(at)["本周新增事件"] == f"{this_week:,}"
    pages = ("pages/hotspots.py", "pages/patrol.py", "pages/rectification.py", "pages/data.py")
    for page in pages:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
    engine.dispose()


def test_playback_frames_sum_to_the_counts_of_their_period(page_db):
    edges = pd.date_range("2026-06-01", "2026-09-01", freq="MS")
    frames_ = ui.hotspot_period_counts("h3:9", edges, ("05",))
    units = ui.hotspot_unit_frame("h3:9")
    assert frames_.shape == (len(units), 3)
    for t in range(3):
        flt = aggregates.cube_filter(edges[t], edges[t + 1], ("05",))
        counted = aggregates.unit_counts(ui.cube("h3"), flt, units, "h3:9")
        assert frames_[:, t].tolist() == counted["count"].tolist()
    assert frames_.sum() > 0
