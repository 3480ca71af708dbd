"""Metrics: hand-checked score and grades; the SQL over the stored view equals the metrics
recomputed from the transitions alone (pandas), on both backends; the red-light list."""

from __future__ import annotations

from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from gis import store
from gis.cases import (
    GradeBands,
    ScoreWeights,
    act,
    case_metrics,
    finish_metrics,
    metrics_from_transitions,
    parse_by,
    rebuild_views,
    red_light,
    report_case,
)
from gis.core.errors import InputError
from gis.demo.cases import load_demo_cases
from gis.store import cases as case_store

PERIODS = [
    (None, None),
    ("2025-11-01", "2026-11-01"),
    ("2026-02-01", "2026-03-01"),
    ("2026-05-04 10:00", "2026-05-11 09:30"),
    ("2026-10-01", "2026-10-09 12:00"),
]
UNITS = ["department", "staff", "category", "grid:micro", "grid:l2", "grid:l1", "all"]


def _counts(**kw) -> pd.DataFrame:
    base = dict.fromkeys(
        ["reported", "accepted", "closed", "closed_on_time", "overdue_open", "open_at_end",
         "reworked", "extended", "returned", "evaluated", "satisfied"], 0
    )  # fmt: skip
    base.update(kw)
    base.setdefault("handle_hours_sum", 0.0)
    return pd.DataFrame([{"unit": "u", **base}])


def test_score_and_grade_by_hand():
    counts = _counts(
        reported=120, closed=90, closed_on_time=80, overdue_open=10, open_at_end=20, reworked=5,
        extended=2, returned=3, evaluated=40, satisfied=38, handle_hours_sum=450.0,
    )  # fmt: skip
    m = finish_metrics(counts).iloc[0]
    assert m["due"] == 100
    assert (m["close_rate"], m["on_time_close_rate"]) == (0.9, 0.8)
    assert (m["overdue_open_rate"], m["rework_rate"], m["extension_rate"]) == (0.5, 0.05, 0.02)
    assert m["return_rate"] == 0.03 and m["satisfaction_rate"] == 0.95
    assert m["avg_handle_hours"] == 5.0
    # 0.9*30 + 0.8*20 + (1-0.05)*20 + (1-0.5)*20 + (1-0.02)*10 = 27 + 16 + 19 + 10 + 9.8
    assert m["score"] == pytest.approx(81.8) and m["grade"] == "B"
    weights = ScoreWeights.parse("close_rate=50,on_time_close_rate=50,rework_rate=0,"
                                 "overdue_open_rate=0,extension_rate=0")  # fmt: skip
    bands = GradeBands.parse("A=95,B=80,C=70,D=50")
    m2 = finish_metrics(counts, weights, bands).iloc[0]
    assert m2["score"] == pytest.approx(85.0) and m2["grade"] == "B"


def test_grade_bands_and_empty_units():
    counts = pd.concat(
        [
            _counts(closed=10, closed_on_time=10).assign(unit="a"),  # 100
            _counts(closed=10, closed_on_time=0, overdue_open=10, open_at_end=10).assign(unit="b"),
            _counts(reported=3).assign(unit="c"),  # nothing due: no score
        ]
    )
    m = finish_metrics(counts).set_index("unit")
    assert m.loc["a", "score"] == 100 and m.loc["a", "grade"] == "A"
    # 0.5*30 + 0 + 20 + 0 + 10 = 45 -> D
    assert m.loc["b", "score"] == 45 and m.loc["b", "grade"] == "D"
    assert np.isnan(m.loc["c", "score"]) and m.loc["c", "grade"] == ""
    assert GradeBands().grade(pd.Series([90, 89.99, 75, 60, 40, 39.9])).tolist() == [
        "A", "B", "B", "C", "D", "E"
    ]  # fmt: skip
    with pytest.raises(InputError):
        ScoreWeights.parse("speed=10")
    with pytest.raises(InputError, match="grid:LEVEL"):
        parse_by("street")
    assert parse_by("grid") == "grid:micro"


@pytest.fixture
def histories(engine, tiny_grids):
    """A small district with generated histories plus hand-made edge cases around period ends."""
    store.init_db(engine)
    grids = tiny_grids.assign(version=1, valid_from=datetime(2025, 1, 1))
    store.save_frame(engine, "grids", grids)
    rng = np.random.default_rng(5)
    n = 1500
    micro = tiny_grids[tiny_grids["level"] == "micro"].geometry.to_numpy()
    inside = shapely.point_on_surface(micro)
    xy = shapely.get_coordinates(inside)[rng.integers(0, len(micro), n)]
    xy = xy + rng.normal(0, 0.0008, (n, 2))
    t = pd.Timestamp("2025-11-01") + pd.to_timedelta(rng.integers(0, 365 * 86400, n), "s")
    incidents = gpd.GeoDataFrame(
        {
            "external_id": [f"T{i:05d}" for i in range(n)],
            "category_code": rng.choice(["05-04", "05-05", "01-02", "06-02", "06-01", "01-01"], n),
            "source": rng.choice(["patrol", "hotline", "camera"], n),
            "severity": rng.choice(["general", "major", "emergency"], n, p=[0.9, 0.08, 0.02]),
            "occurred_at": t,
            "reported_at": t + pd.Timedelta(minutes=3),
        },
        geometry=shapely.points(xy),
        crs=4326,
    )
    store.save_frame(engine, "incidents", incidents)
    staff = pd.DataFrame(
        {
            "staff_code": ["S1", "S2", "S3", "S4"],
            "name": ["甲", "乙", "丙", "丁"],
            "role": ["enforcement_officer"] * 3 + ["grid_worker"],
            "department": ["chengguan", "pcs", "jiaojing", "shequ"],
            "grid_code": ["140581001001000", "140581001002000", "140581001001000",
                          "140581001001100"],
        }
    )  # fmt: skip
    store.save_frame(engine, "staff", staff.assign(active=True))
    load_demo_cases(engine, seed=3, incidents=incidents, grids=grids, staff=staff)
    _edge_cases(engine)
    return engine


def _edge_cases(engine) -> None:
    """Cases whose state at a period's end differs from their final stored view."""

    def new(at: str, category="05-04", source="hotline") -> dict:
        return report_case(engine, category=category, actor="S4", reported_at=at, source=source,
                           lon=112.902, lat=35.792)  # fmt: skip

    def step(case, action, at, **kw):
        return act(engine, case["id"], action, actor="t", seen_version=case["version"], at=at, **kw)

    # dispatched before 2026-05-11 09:30, returned and sent elsewhere after it
    c = new("2026-05-08 09:00", category="06-02")
    for a, at in (("accept", "2026-05-08 09:05"), ("register", "2026-05-08 09:06")):
        c = step(c, a, at)
    c = step(c, "dispatch", "2026-05-08 09:10", department="street_team")
    c = step(c, "return", "2026-05-11 10:00", reason="不属执法清单")
    c = step(c, "dispatch", "2026-05-11 10:05")
    # suspended across 2026-05-11 09:30, resumed later; closed after that
    c = new("2026-05-06 09:00")
    for a, at in (("accept", "2026-05-06 09:05"), ("register", "2026-05-06 09:06"),
                  ("dispatch", "2026-05-06 09:10")):  # fmt: skip
        c = step(c, a, at)
    c = step(c, "suspend", "2026-05-06 10:00", reason="等待")
    c = step(c, "resume", "2026-05-12 09:00")
    for a, at in (("handle", "2026-05-12 10:00"), ("verify", "2026-05-12 10:30")):
        c = step(c, a, at)
    c = step(c, "close", "2026-05-12 10:40")
    # overdue open at 2026-10-09 12:00, reworked and extended before, closed after
    c = new("2026-10-08 09:00")
    for a, at in (("accept", "2026-10-08 09:01"), ("register", "2026-10-08 09:02"),
                  ("dispatch", "2026-10-08 09:03")):  # fmt: skip
        c = step(c, a, at)
    c = step(c, "extend", "2026-10-08 10:00", reason="协调")
    c = step(c, "handle", "2026-10-08 15:00")
    c = step(c, "rework", "2026-10-08 16:00", reason="未整改到位")
    c = step(c, "supervise", "2026-10-09 09:00", reason="超期督办")
    c = step(c, "handle", "2026-10-10 09:00")
    for a, at in (("verify", "2026-10-10 10:00"), ("close", "2026-10-10 10:05")):
        c = step(c, a, at)
    c = step(c, "evaluate", "2026-10-11 09:00", result="unsatisfied")
    # refused, and still open without a deadline at any end
    step(new("2026-02-10 09:00"), "refuse", "2026-02-10 09:10", reason="不属受理范围")
    step(new("2026-02-11 09:00"), "accept", "2026-02-11 09:10")


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_dtype=False, atol=1e-6, rtol=1e-9)


@pytest.mark.parametrize("period", PERIODS, ids=lambda p: f"{p[0]}..{p[1]}")
def test_metrics_from_transitions_equal_the_store(histories, period):
    start, end = period
    if end is None:
        end = datetime(2026, 12, 1)  # "now" for this data
    transitions = case_store.read_transitions(histories)
    static = case_store.read_cases(histories, columns=["id", "category_code", "grid_code",
                                                       "grid_l2", "grid_l1"])  # fmt: skip
    assert len(transitions) > 10_000
    for by in UNITS:
        sql = case_metrics(histories, by, start, end)
        recomputed = metrics_from_transitions(transitions, static, by, start, end)
        _same(sql, recomputed)
        assert sql["reported"].sum() > 0


def test_the_edge_cases_count_as_they_stood_at_the_end(histories):
    end = "2026-05-11 09:30"
    m = case_metrics(histories, "department", "2026-05-04", end).set_index("unit")
    # the 06-02 case was with the street team at the end (sent to the police station after it)
    steps = case_store.read_transitions(histories)
    assert (steps["department"] == "pcs").any()
    assert m.loc["street_team", "reported"] >= 1
    # the suspended case is open at the end but not overdue
    all_ = case_metrics(histories, "all", "2026-05-04", end).iloc[0]
    assert all_["open_at_end"] > all_["overdue_open"] - 1
    october = case_metrics(histories, "all", "2026-10-01", "2026-10-09 12:00").iloc[0]
    later = case_metrics(histories, "all", "2026-10-01", "2026-10-31").iloc[0]
    assert october["overdue_open"] >= 1 and later["closed"] > october["closed"]


def test_red_light_lists_overdue_open_cases(histories):
    at = datetime(2026, 10, 9, 12, 0)
    light = red_light(histories, at)
    assert len(light) >= 1
    codes = set(light["case_code"])
    row = light[light["supervision_pending"]].iloc[0]
    assert row["overdue_hours"] > 0 and row["deadline"] < at
    assert (light["deadline"].diff().dropna() >= pd.Timedelta(0)).all()  # most overdue first
    # nothing closed or suspended at that time is listed
    cases = case_store.read_cases(histories).set_index("case_code")
    listed = cases.loc[sorted(codes)]
    closed_at = pd.to_datetime(listed["closed_at"])
    assert (closed_at.isna() | (closed_at >= at)).all()
    assert red_light(histories, datetime(2025, 1, 1)).empty


def test_rebuild_views_restores_the_stored_view(histories):
    before = case_store.read_cases(histories).set_index("id")
    with histories.begin() as conn:
        conn.execute(sa.text("UPDATE cases SET closed_us = NULL, deadline_us = NULL, state = 'x'"))
    assert rebuild_views(histories) == len(before)
    after = case_store.read_cases(histories).set_index("id")
    pd.testing.assert_frame_equal(
        before[["state", "closed_at", "deadline", "version"]],
        after[["state", "closed_at", "deadline", "version"]],
        check_dtype=False,
    )
    # a period's metrics follow
    assert case_metrics(histories, "all", "2026-01-01", "2026-02-01")["closed"].iloc[0] > 0


def test_metrics_move_with_each_step(engine):
    store.init_db(engine)
    case = report_case(engine, category="05-04", actor="S", reported_at="2026-03-02 09:00",
                       lon=112.9, lat=35.8)  # fmt: skip
    m = case_metrics(engine, "category", "2026-03-01", "2026-03-03").iloc[0]
    assert (m["unit"], m["reported"], m["closed"], m["overdue_open"]) == ("05-04", 1, 0, 0)
    t = datetime(2026, 3, 2, 9, 0)
    for i, action in enumerate(["accept", "register", "dispatch", "handle", "verify"]):
        case = act(engine, case["id"], action, actor="x", seen_version=case["version"],
                   at=t + timedelta(minutes=i + 1))  # fmt: skip
    m = case_metrics(engine, "category", "2026-03-01", "2026-03-03").iloc[0]
    assert m["overdue_open"] == 1  # due 11:02, still open at the end of 03-02
    case = act(engine, case["id"], "close", actor="x", seen_version=case["version"],
               at=datetime(2026, 3, 2, 10, 0))  # fmt: skip
    m = case_metrics(engine, "category", "2026-03-01", "2026-03-03").iloc[0]
    assert (m["closed"], m["closed_on_time"], m["on_time_close_rate"]) == (1, 1, 1.0)
