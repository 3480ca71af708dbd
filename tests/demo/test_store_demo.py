"""The demo district through the store, on both backends: nothing lost, nothing changed."""

from __future__ import annotations

import pandas as pd
import shapely

from gis import store
from gis.demo import load_demo
from gis.grids import hierarchy_summary


def test_demo_loads_and_reads_back_exactly(engine, demo_small):
    store.init_db(engine)
    written = load_demo(engine, demo_small)
    assert written["grids"] == len(demo_small.grids) == 523
    assert written["incidents"] == len(demo_small.incidents) >= 150_000
    assert written["patrol_fixes"] == len(demo_small.fixes)
    info = store.summary(engine)
    for table in store.DEMO_TABLES:
        assert info[table] == written[table], table
    grids = store.read_grids(engine).set_index("code").loc[demo_small.grids["code"]]
    assert shapely.equals_exact(
        grids.geometry.to_numpy(), demo_small.grids.geometry.to_numpy(), 0
    ).all()
    assert (grids["level"].to_numpy() == demo_small.grids["level"].to_numpy()).all()
    head = hierarchy_summary(grids.reset_index())
    assert head["levels"] == {"l1": 15, "l2": 46, "micro": 447, "dedicated": 15}
    assert 10 <= head["area_km2"] <= 20
    truth = store.get_meta(engine, "demo_truth")
    assert truth == demo_small.truth
    assert store.get_meta(engine, "demo_fingerprint") == demo_small.fingerprint()
    # a month of incidents reads back with the same times and places
    inc = demo_small.incidents
    month = inc[(inc["occurred_at"] >= "2026-04-01") & (inc["occurred_at"] < "2026-05-01")]
    # pandas Timestamps are accepted as bounds; the end is exclusive
    back = store.read_incidents(
        engine, start=pd.Timestamp("2026-04-01"), end=pd.Timestamp("2026-05-01")
    )
    assert len(back) == len(month)
    last = month["occurred_at"].max()
    assert len(store.read_incidents(engine, start=last, end=last)) == 0
    assert len(store.read_incidents(engine, start=last, end=last + pd.Timedelta(seconds=1))) >= 1
    back = back.set_index("external_id").loc[month["external_id"]]
    assert (back["occurred_at"].to_numpy() == month["occurred_at"].to_numpy()).all()
    assert shapely.equals_exact(back.geometry.to_numpy(), month.geometry.to_numpy(), 0).all()
    # loading again replaces rather than duplicates
    load_demo(engine, demo_small)
    assert store.count_rows(engine, "incidents") == len(inc)
