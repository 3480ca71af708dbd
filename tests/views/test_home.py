"""The dashboard's numbers on constructed cases, and grid assignment against geopandas."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.grids import OUTSIDE, assign_points, descendants
from gis.views import home

TAX = pd.DataFrame({"code": ["05-05", "05-04"], "time_limit_h": [2.0, 24.0]})


def frame(rows):
    cols = ["occurred_at", "reported_at", "closed_at", "category_code", "status", "source"]
    out = pd.DataFrame(rows, columns=cols)
    for c in cols[:3]:
        out[c] = pd.to_datetime(out[c])
    return out


def test_weeks_and_week_by_category():
    weeks = home.weeks_ending(pd.Timestamp("2026-10-31 15:00"))
    assert weeks.this_start == pd.Timestamp("2026-10-25")
    assert weeks.end == pd.Timestamp("2026-11-01")
    assert weeks.last_start == pd.Timestamp("2026-10-18")
    inc = frame(
        [
            ("2026-10-31 23:59", None, None, "05-05", "closed", "patrol"),
            ("2026-10-25 00:00", None, None, "05-05", "closed", "patrol"),
            ("2026-10-24 23:59", None, None, "05-05", "closed", "patrol"),
            ("2026-10-18 00:00", None, None, "05-04", "closed", "patrol"),
            ("2026-10-17 23:59", None, None, "05-04", "closed", "patrol"),  # before both
            ("2026-11-01 00:00", None, None, "05-04", "closed", "patrol"),  # after both
        ]
    )
    table = home.week_by_category(inc, weeks)
    assert table.loc["05-05"].tolist()[:3] == [2, 1, 1]
    assert table.loc["05-04"].tolist()[:3] == [0, 1, -1]
    assert table.loc["05-05", "change_pct"] == pytest.approx(100.0)


def test_on_time_closure_counts_cases_due_in_the_window():
    inc = frame(
        [
            # due 10:00 on the 26th, closed 09:00: on time
            ("2026-10-26 07:00", "2026-10-26 08:00", "2026-10-26 09:00", "05-05", "closed", "x"),
            # due 10:00, closed 11:00: late
            ("2026-10-26 07:00", "2026-10-26 08:00", "2026-10-26 11:00", "05-05", "closed", "x"),
            # due in the window, never closed: late
            ("2026-10-26 07:00", "2026-10-26 08:00", None, "05-05", "handling", "x"),
            # due after the window (24 h limit): not counted
            ("2026-10-31 07:00", "2026-10-31 08:00", None, "05-04", "handling", "x"),
            # unknown class: not counted
            ("2026-10-26 07:00", "2026-10-26 08:00", None, "99-99", "handling", "x"),
        ]
    )
    out = home.on_time_closure(inc, TAX, pd.Timestamp("2026-10-25"), pd.Timestamp("2026-11-01"))
    assert out == {"due": 3, "closed_on_time": 1, "share": pytest.approx(1 / 3)}
    none = home.on_time_closure(
        inc.iloc[:0], TAX, pd.Timestamp("2026-10-25"), pd.Timestamp("2026-11-01")
    )
    assert none["due"] == 0 and np.isnan(none["share"])


def test_daily_counts_include_empty_days():
    inc = frame([("2026-10-02 10:00", None, None, "05-05", "closed", "x")] * 3)
    days = home.daily_counts(inc, pd.Timestamp("2026-10-01"), pd.Timestamp("2026-10-04"))
    assert days.tolist() == [0, 3, 0]


def test_assignment_matches_sjoin_and_labels_outside(tiny_grids):
    rng = np.random.default_rng(3)
    pts = gpd.GeoSeries(
        shapely.points(112.895 + rng.random(5000) * 0.03, 35.785 + rng.random(5000) * 0.02),
        crs=4326,
    )
    out = assign_points(pts, tiny_grids)
    micro = tiny_grids[tiny_grids["level"] == "micro"][["code", "geometry"]]
    joined = gpd.sjoin(gpd.GeoDataFrame(geometry=pts), micro, predicate="within", how="left")
    joined = joined[~joined.index.duplicated()]
    inside = joined["code"].notna().to_numpy()
    assert (out["micro"].to_numpy()[inside] == joined["code"].to_numpy()[inside]).all()
    assert (out.loc[~inside, "micro"] == OUTSIDE).all() and (~inside).sum() > 0
    assert (out["l2"].str[:13] == out["micro"].str[:13])[inside].all()
    # a point on the edge shared by two micro-grids goes to the smaller code
    edge = gpd.GeoSeries([shapely.Point(112.905, 35.7925)], crs=4326)
    codes = tiny_grids[tiny_grids["level"] == "micro"]
    hits = codes[codes.intersects(edge.iloc[0])]["code"].sort_values()
    assert len(hits) == 2
    assert assign_points(edge, tiny_grids)["micro"].iloc[0] == hits.iloc[0]


def test_filter_by_grid_category_source_and_period(tiny_grids):
    l1 = tiny_grids[tiny_grids["level"] == "l1"]["code"].iloc[0]
    micro = tiny_grids[tiny_grids["level"] == "micro"]["code"].tolist()
    inc = pd.DataFrame(
        {
            "occurred_at": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-02-01", "2026-01-05"]),
            "category_code": ["05-05", "05-04", "05-05", "05-05"],
            "source": ["patrol", "patrol", "hotline", "patrol"],
            "micro": [micro[0], micro[1], micro[2], micro[-1]],
        }
    )
    parent = dict(zip(tiny_grids["code"], tiny_grids["parent_code"], strict=True))
    inc["l2"] = inc["micro"].map(parent)
    inc["l1"] = inc["l2"].map(parent)
    got = home.filter_incidents(
        inc,
        start=pd.Timestamp("2026-01-01"),
        end=pd.Timestamp("2026-01-31"),
        categories=["05-05"],
        sources=["patrol"],
        grid_code=l1,
        grids=tiny_grids,
    )
    expected = inc[
        (inc["l1"] == l1)
        & (inc["category_code"] == "05-05")
        & (inc["source"] == "patrol")
        & (inc["occurred_at"] < "2026-01-31")
    ]
    assert got.index.tolist() == expected.index.tolist() == [0]
    assert descendants(l1, tiny_grids) >= set(inc.loc[[0, 1, 2], "micro"])


def test_grid_rates_per_area_and_population(tiny_grids):
    micro = tiny_grids[tiny_grids["level"] == "micro"]["code"].tolist()
    inc = pd.DataFrame({"micro": [micro[0]] * 10 + [micro[1]] * 5})
    out = home.grid_rates(tiny_grids, inc, "micro").set_index("code")
    assert out.loc[micro[0], "incidents"] == 10 and out.loc[micro[2], "incidents"] == 0
    # population 1000 per micro-grid in the fixture
    assert out.loc[micro[0], "per_1000"] == pytest.approx(10.0)
    area = out.loc[micro[0], "area_km2"]
    assert 0.1 < area < 0.3  # 0.005° x 0.005° at 35.8°N is about 0.2 km²
    assert out.loc[micro[0], "per_km2"] == pytest.approx(10 / area)


def test_filter_incidents_category_rule_major_class():
    # the one category rule: "05" is the major class, "05-04" exactly that minor class
    inc = frame(
        [
            ("2026-10-01 08:00", "2026-10-01 08:05", None, code, "open", "12345")
            for code in ("05-04", "05-05", "06-01")
        ]
    )
    assert list(home.filter_incidents(inc, categories=["05"])["category_code"]) == [
        "05-04",
        "05-05",
    ]
    assert list(home.filter_incidents(inc, categories=["05-05", "06"])["category_code"]) == [
        "05-05",
        "06-01",
    ]
