"""The demo's case histories: lawful, deterministic, and the metrics find every planted behaviour."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gis.cases import STEPS, metrics_from_transitions
from gis.demo.cases import DEMO_NOW, generate_case_histories

YEAR = ("2025-11-01", "2026-11-01")


@pytest.fixture(scope="module")
def histories(demo_small):
    cases, steps, truth = generate_case_histories(
        demo_small.incidents, demo_small.grids, demo_small.staff, seed=42
    )
    cases = cases.reset_index(drop=True)
    cases["id"] = np.arange(len(cases))
    return cases, steps.rename(columns={"pos": "case_id"}), truth


def _metrics(histories, by, start, end):
    cases, steps, _ = histories
    return metrics_from_transitions(steps, cases, by, start, end)


def test_every_step_follows_the_workflow(histories):
    cases, steps, truth = histories
    assert truth["cases"] == len(cases) and truth["transitions"] == len(steps)
    later = steps[steps["action"] != "report"]
    allowed = [
        f in STEPS[a].sources for a, f in zip(later["action"], later["from_state"], strict=True)
    ]
    assert all(allowed)
    assert (steps.groupby("case_id")["at"].diff().dropna() >= pd.Timedelta(0)).all()
    assert (steps["at"] < DEMO_NOW).all()
    assert (steps.groupby("case_id")["seq"].max().to_numpy() == cases["version"].to_numpy()).all()
    # only hotline cases are called back
    evaluated = steps.loc[steps["action"] == "evaluate", "case_id"]
    assert cases.loc[evaluated, "source"].eq("hotline").all()
    # extensions come before the deadline they extend
    ext = steps[steps["action"] == "extend"]
    reg = steps[steps["action"] == "register"].set_index("case_id")["deadline"]
    assert (ext["at"].to_numpy() < reg.loc[ext["case_id"]].to_numpy()).all()


def test_same_seed_same_histories(demo_small):
    few = demo_small.incidents.head(3000)
    a = generate_case_histories(few, demo_small.grids, demo_small.staff, seed=7)
    b = generate_case_histories(few, demo_small.grids, demo_small.staff, seed=7)
    c = generate_case_histories(few, demo_small.grids, demo_small.staff, seed=8)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    assert a[2] == b[2]
    assert not a[1]["at"].equals(c[1]["at"])


def test_metrics_find_the_slow_department(histories):
    slow = histories[2]["slow_department"]["department"]
    m = _metrics(histories, "department", *YEAR)
    m = m[m["due"] >= 200].set_index("unit")
    assert m["on_time_close_rate"].idxmin() == slow
    assert m["satisfaction_rate"].idxmin() == slow
    assert m["score"].idxmin() == slow
    others = m.drop(index=slow)
    assert m.loc[slow, "on_time_close_rate"] < 0.5 * others["on_time_close_rate"].median()


def test_metrics_find_the_rework_prone_category(histories):
    plant = histories[2]["rework_category"]
    m = _metrics(histories, "category", *YEAR)
    m = m[m["due"] >= 100].set_index("unit")
    assert m["rework_rate"].idxmax() == plant["category"]
    others = m.drop(index=plant["category"])["rework_rate"]
    assert m.loc[plant["category"], "rework_rate"] > 5 * others.median()


def test_metrics_find_the_misrouted_category_and_its_returns(histories):
    plant = histories[2]["misrouted"]
    m = _metrics(histories, "category", *YEAR)
    m = m[m["due"] >= 100].set_index("unit")
    assert m["return_rate"].idxmax() == plant["category"]
    assert m.loc[plant["category"], "return_rate"] > 0.3
    assert (m.drop(index=plant["category"])["return_rate"] < 0.05).all()
    _, steps, _ = histories
    returns = steps[steps["action"] == "return"]
    assert returns["department"].value_counts().idxmax() == plant["wrong_department"]


def test_metrics_find_the_holiday_backlog(histories):
    for plant in histories[2]["holiday_backlog"]:
        after = pd.Timestamp(plant["registered_before"])
        backlog = _metrics(histories, "all", after, after + pd.Timedelta(days=14)).iloc[0]
        normal = [
            _metrics(histories, "all", t, t + pd.Timedelta(days=14)).iloc[0]["on_time_close_rate"]
            for t in (after - pd.Timedelta(days=42), after - pd.Timedelta(days=84))
        ]
        assert backlog["on_time_close_rate"] < 0.8 * min(normal), plant["name"]
        last_day = pd.Timestamp(plant["holiday"][1])
        at_end = _metrics(histories, "all", last_day - pd.Timedelta(days=7), last_day).iloc[0]
        before = _metrics(
            histories, "all", last_day - pd.Timedelta(days=49), last_day - pd.Timedelta(days=42)
        ).iloc[0]
        assert at_end["overdue_open"] > 3 * max(before["overdue_open"], 1), plant["name"]
