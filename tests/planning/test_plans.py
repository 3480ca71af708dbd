"""gis.planning.plans: save, list, update and evaluate plans on both backends."""

from __future__ import annotations

import pandas as pd
import pytest

from gis import auth, planning
from gis.core.errors import InputError
from tests.planning.cases import (
    ANALYST,
    AREA_M,
    LEADER,
    constructed,
    to_ll,
)

# --------------------------------------------------------------------------------------------
# Plans on both backends


def test_plans_save_list_update_evaluate(engine):
    area = to_ll(AREA_M)
    pid = planning.save_plan(
        engine,
        name="医院周边专项整治",
        area=area,
        period_start="2026-04-01",
        period_end="2026-05-01",
        departments=["jiaojing", "chengguan"],
        notes="demo",
        user=LEADER,
    )
    plans = planning.list_plans(engine)
    assert plans["id"].tolist() == [pid]
    row = plans.iloc[0]
    assert (row["name"], row["status"], row["departments"], row["created_by"]) == (
        "医院周边专项整治",
        "draft",
        "jiaojing;chengguan",
        "boss",
    )
    assert row["period_start"] == pd.Timestamp("2026-04-01")
    assert row.geometry.symmetric_difference(area).area < 1e-12
    with pytest.raises(auth.PermissionDenied):
        planning.save_plan(
            engine,
            name="x",
            area=area,
            period_start="2026-04-01",
            period_end="2026-05-01",
            user=ANALYST,
        )
    with pytest.raises(InputError):
        planning.save_plan(
            engine,
            name="x",
            area=area,
            period_start="2026-05-01",
            period_end="2026-04-01",
            user=LEADER,
        )
    planning.update_plan_status(engine, pid, "active", user=LEADER, notes="started")
    assert planning.get_plan(engine, pid)[["status", "notes"]].tolist() == ["active", "started"]
    with pytest.raises(InputError):
        planning.update_plan_status(engine, pid, "nonsense", user=LEADER)
    with pytest.raises(InputError):
        planning.update_plan_status(engine, 9999, "done", user=LEADER)
    with pytest.raises(auth.PermissionDenied):
        planning.update_plan_status(engine, pid, "done", user=ANALYST)
    # evaluation once the period passed; before = the same length just before
    inc = constructed(100, 50, 100, 100, 1000, 1000)
    inc["occurred_at"] = inc["occurred_at"] + pd.Timedelta(days=1)  # into 2026-03-02 .. 04-01
    with pytest.raises(InputError, match="after its period"):
        planning.evaluate_plan(engine, pid, incidents=inc, as_of="2026-04-15")
    ev = planning.evaluate_plan(engine, pid, incidents=inc, as_of="2026-06-01", buffer_m=300)
    assert ev.before == (pd.Timestamp("2026-03-02"), pd.Timestamp("2026-04-01"))
    assert (ev.area_before, ev.area_after, ev.verdict, ev.label) == (
        100,
        50,
        "effective",
        "医院周边专项整治",
    )
    table = planning.evaluate_plans(engine, incidents=inc, as_of="2026-06-01")
    assert table.loc[0, "verdict"] == "effective"
    assert planning.evaluate_plans(engine, as_of="2026-04-15").loc[0, "verdict"] == "pending"
