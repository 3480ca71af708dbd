"""Emerging hot spots (space-time cube, space-time Gi*, Mann-Kendall, ArcGIS's 17 patterns)
and the "when" analyses (hour x weekday, period comparison), against brute-force references,
hand-computed values and the patterns planted in the demo district.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import scipy.sparse as sp
import shapely
from scipy.stats import kendalltau

from gis import hotspots as hs
from gis.core.errors import InputError

# --------------------------------------------------------------------------------------------
# Space-time cube


def _points(lonlat: list[tuple[float, float]]) -> gpd.GeoSeries:
    return gpd.GeoSeries(shapely.points(np.array(lonlat)), crs=4326)


def test_step_edges_month_week_day():
    m = hs.step_edges("2025-11-03", "2026-02-15", "month")
    assert list(m.strftime("%Y-%m-%d")) == [
        "2025-11-01",
        "2025-12-01",
        "2026-01-01",
        "2026-02-01",
        "2026-03-01",
    ]
    # weeks counted back from the end; the partial first week (1 day) is left out
    w = hs.step_edges("2025-11-01", "2026-11-01", "week")
    assert len(w) == 53 and w[-1] == pd.Timestamp("2026-11-01")
    assert w[0] == pd.Timestamp("2025-11-02")
    assert (w[1:] - w[:-1] == pd.Timedelta(days=7)).all()
    d = hs.step_edges("2026-01-01", "2026-01-04", "day")
    assert list(d.day) == [1, 2, 3, 4]
    with pytest.raises(InputError):
        hs.step_edges("2026-01-01", "2026-01-04", "fortnight")
    with pytest.raises(InputError):
        hs.step_edges("2026-01-04", "2026-01-01", "day")


def test_space_time_cube_counts_equal_a_groupby(demo_small):
    units = hs.grid_units(demo_small.grids, "micro")
    inc = demo_small.incidents.iloc[::7]
    cube = hs.space_time_cube(inc, inc["occurred_at"], units, step="month")
    assert cube.counts.shape == (len(units), 12)
    assert cube.edges[0] == pd.Timestamp("2025-11-01") and cube.edges[-1] == pd.Timestamp(
        "2026-11-01"
    )
    # reference: the unit of each point, the month of each time, a pandas crosstab
    unit = hs.unit_index(inc, units)
    month = inc["occurred_at"].dt.to_period("M").astype(str).to_numpy()
    ref = pd.crosstab(unit[unit >= 0], month[unit >= 0])
    dense = np.zeros_like(cube.counts)
    cols = [cube.edges[t].strftime("%Y-%m") for t in range(12)]
    dense[ref.index.to_numpy()] = ref.reindex(columns=cols, fill_value=0).to_numpy()
    np.testing.assert_array_equal(cube.counts, dense)
    assert cube.counts.sum() + cube.n_outside == len(inc)
    assert cube.n_out_of_period == 0
    long = cube.to_frame()
    assert len(long) == len(units) * 12 and long["count"].sum() == cube.counts.sum()


def test_space_time_cube_period_and_missing_times(tiny_grids):
    units = hs.grid_units(tiny_grids, "micro")
    pts = _points([(112.9025, 35.7925)] * 5 + [(112.9175, 35.7975)])
    times = pd.Series(
        pd.to_datetime(
            [
                "2026-01-01 08:00",
                "2026-01-01 23:59",
                "2026-01-02 00:00",
                "2026-01-05 00:00",
                None,
                "2026-01-03 00:00",
            ]
        )
    )
    cube = hs.space_time_cube(pts, times, units, step="day", start="2026-01-01", end="2026-01-04")
    assert cube.n_steps == 3
    i = int(hs.unit_index(pts[:1], units)[0])
    j = int(hs.unit_index(pts[5:], units)[0])
    assert cube.counts[i].tolist() == [2, 1, 0]
    assert cube.counts[j].tolist() == [0, 0, 1]
    assert cube.counts.sum() == 4 and cube.n_out_of_period == 2  # 2026-01-05 and no time


# --------------------------------------------------------------------------------------------
# Space-time weights and Gi*


def _brute_space_time_weights(S: np.ndarray, n_steps: int, lag: int) -> np.ndarray:
    n = S.shape[0]
    out = np.zeros((n * n_steps, n * n_steps))
    for t in range(n_steps):
        for i in range(n):
            for tp in range(max(0, t - lag), t + 1):
                for j in range(n):
                    if (i == j or S[i, j]) and not (i == j and t == tp):
                        out[t * n + i, tp * n + j] = 1
    return out


@pytest.mark.parametrize("lag", [0, 1, 2])
def test_space_time_weights_follow_the_arcgis_neighbourhood(lag):
    ix, iy = np.meshgrid(np.arange(3), np.arange(2))
    S = hs.lattice_weights(ix.ravel(), iy.ravel())
    W = hs.space_time_weights(S, 4, lag)
    ref = _brute_space_time_weights(S.toarray(), 4, lag)
    np.testing.assert_array_equal(W.toarray(), ref)


def _brute_gi_z(y: np.ndarray, W: np.ndarray, rows: list[int], window=None) -> np.ndarray:
    """Gi* z by the textbook formula, one bin at a time (W binary, self added)."""
    out = []
    for r in rows:
        pop = y if window is None else y[window(r)]
        n = len(pop)
        ybar, s = pop.mean(), pop.std()
        w = W[r].copy()
        w[r] = 1.0
        wi = w.sum()
        num = (w * y).sum() - ybar * wi
        den = s * math.sqrt((n * (w * w).sum() - wi * wi) / (n - 1))
        out.append(num / den)
    return np.array(out)


def test_space_time_gi_star_equals_the_formula_for_both_windows():
    rng = np.random.default_rng(3)
    ix, iy = np.meshgrid(np.arange(5), np.arange(4))
    S = hs.lattice_weights(ix.ravel(), iy.ravel())
    n_units, n_steps, lag = 20, 6, 2
    counts = rng.poisson(3.0, (n_units, n_steps))
    counts[7] += np.arange(n_steps) * 10  # a rising hot spot
    cube = hs.SpaceTimeCube(
        counts, pd.date_range("2026-01-01", periods=n_steps + 1), np.arange(n_units), "day"
    )
    Wd = hs.space_time_weights(S, n_steps, lag).toarray()
    y = counts.T.ravel().astype(float)
    rows = list(range(0, n_units * n_steps, 7))
    gi = hs.space_time_gi_star(cube, S, time_lag=lag)
    np.testing.assert_allclose(gi.z.T.ravel()[rows], _brute_gi_z(y, Wd, rows), rtol=1e-10)

    def window(r):  # all units of the steps t - lag .. t
        t = r // n_units
        return np.arange(max(0, t - lag) * n_units, (t + 1) * n_units)

    gn = hs.space_time_gi_star(cube, S, time_lag=lag, global_window="neighborhood")
    np.testing.assert_allclose(gn.z.T.ravel()[rows], _brute_gi_z(y, Wd, rows, window), rtol=1e-10)
    assert gi.n_neighbors[0, 0] == 3 and gi.n_neighbors[0, 5] == 3 * 4 - 1  # corner cell
    assert gi.bins[7, -1] >= 1 and (np.diff(gi.z[7, 2:]) > 0).all()


# --------------------------------------------------------------------------------------------
# Mann-Kendall


def _brute_mk(x: np.ndarray) -> tuple[float, float, float]:
    n = len(x)
    s = sum(np.sign(x[j] - x[i]) for i in range(n) for j in range(i + 1, n))
    _, t = np.unique(x, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - (t * (t - 1) * (2 * t + 5)).sum()) / 18
    z = (s - np.sign(s)) / math.sqrt(var) if var > 0 else 0.0
    return s, var, z


def test_mann_kendall_against_brute_force_and_scipy():
    rng = np.random.default_rng(0)
    x = np.vstack(
        [
            rng.normal(size=30),
            np.arange(30) + rng.normal(scale=5, size=30),
            rng.integers(0, 4, 30),  # many ties
            -np.arange(30.0),
            np.full(30, 2.0),  # constant: z = 0, p = 1
        ]
    )
    mk = hs.mann_kendall(x)
    for k in range(len(x)):
        s, var, z = _brute_mk(x[k])
        assert mk.s[k] == s and mk.var_s[k] == pytest.approx(var)
        assert mk.z[k] == pytest.approx(z, abs=1e-12)
    assert mk.p[4] == 1.0 and mk.z[3] < -7 and mk.tau[3] == -1.0
    # without the continuity correction: the asymptotic test of Kendall's tau against time
    raw = hs.mann_kendall(x[:4], continuity=False)
    for k in range(4):
        ref = kendalltau(np.arange(30), x[k], method="asymptotic")
        assert raw.p[k] == pytest.approx(ref.pvalue, rel=1e-9)


# --------------------------------------------------------------------------------------------
# The 17 patterns

H, C, o = 3, -3, 0
CASES = {  # 10 steps each; trend (z, p) of the Gi* z-scores
    "New Hot Spot": ([o, o, o, o, o, o, o, o, o, H], (1.0, 0.3)),
    "Consecutive Hot Spot": ([o, o, o, o, o, o, o, H, H, H], (2.5, 0.01)),
    "Intensifying Hot Spot": ([H] * 10, (3.0, 0.003)),
    "Persistent Hot Spot": ([o] + [H] * 9, (0.5, 0.6)),
    "Diminishing Hot Spot": ([H] * 10, (-3.0, 0.003)),
    "Sporadic Hot Spot": ([o, H, o, o, H, H, o, o, o, H], (0.2, 0.8)),
    "Oscillating Hot Spot": ([o, C, o, o, o, o, o, o, H, H], (1.0, 0.3)),
    "Historical Hot Spot": ([H] * 9 + [o], (-1.0, 0.3)),
    "New Cold Spot": ([o] * 9 + [C], (-1.0, 0.3)),
    "Consecutive Cold Spot": ([o] * 8 + [C, C], (-1.0, 0.3)),
    "Intensifying Cold Spot": ([C] * 10, (-3.0, 0.003)),
    "Persistent Cold Spot": ([C] * 10, (0.1, 0.9)),
    "Diminishing Cold Spot": ([C] * 10, (3.0, 0.003)),
    "Sporadic Cold Spot": ([C, o, C, o, o, o, o, o, o, C], (0.0, 1.0)),
    "Oscillating Cold Spot": ([H, o, o, o, o, o, o, o, o, C], (-1.0, 0.3)),
    "Historical Cold Spot": ([C] * 9 + [o], (1.0, 0.3)),
    "No Pattern Detected": ([H, H, H, o, o, o, o, o, o, o], (-2.5, 0.01)),
}


def test_classify_emerging_all_17_patterns():
    names = list(CASES)
    bins = np.array([CASES[k][0] for k in names])
    tz = np.array([CASES[k][1][0] for k in names])
    tp = np.array([CASES[k][1][1] for k in names])
    got = hs.classify_emerging(bins, tz, tp)
    assert list(got) == names
    assert set(got) == set(hs.PATTERNS)
    # 90 %: 9 hot steps of 10 with the final one hot is persistent, 8 of 10 is sporadic
    eight = np.array([[o, o] + [H] * 8, [o, H, o] + [H] * 7])
    assert list(hs.classify_emerging(eight, np.zeros(2), np.ones(2))) == [
        "Consecutive Hot Spot",
        "Sporadic Hot Spot",
    ]
    # only 99 % bins count at confidence 0.99
    weak = np.array([[1, 1, 0, 0, 0, 0, 0, 0, 0, 3]])
    assert hs.classify_emerging(weak, [0.0], [1.0])[0] == "Sporadic Hot Spot"
    assert hs.classify_emerging(weak, [0.0], [1.0], min_bin=3)[0] == "New Hot Spot"


# --------------------------------------------------------------------------------------------
# The planted patterns of the demo district


@pytest.fixture(scope="module")
def micro(demo_small):
    units = hs.grid_units(demo_small.grids, "micro")
    W, _ = hs.unit_weights(units, "queen")
    cent = units.geometry.to_crs(demo_small.truth["metric_epsg"]).centroid
    return units, W, np.column_stack([cent.x, cent.y])


def _emerging(demo, micro, truth, **kw):
    """Weekly emerging hot spots of the planted spot's category on the micro-grids."""
    units, W, _ = micro
    inc = demo.incidents[demo.incidents["category_code"] == truth["category_code"]]
    end = kw.pop("end", None)
    cube = hs.space_time_cube(
        inc, inc["occurred_at"], units, step="week", start="2025-11-01", end=end
    )
    return hs.emerging_hotspots(cube, W, **kw)


def _check(demo, micro, truth, res, pattern, reach_m=300.0):
    """The planted unit or a neighbour has the pattern; every unit with it is near the spot."""
    units, W, cent = micro
    home = int(hs.unit_index(np.array([truth["center_lonlat"]]), units)[0])
    near = np.r_[home, W[home].indices]
    assert res["pattern"].iloc[home] == pattern or (res["pattern"].iloc[near] == pattern).any()
    tr = pyproj.Transformer.from_crs(4326, demo.truth["metric_epsg"], always_xy=True)
    cx, cy = tr.transform(*truth["center_lonlat"])
    dist = np.hypot(cent[:, 0] - cx, cent[:, 1] - cy)
    hit = res["pattern"].to_numpy() == pattern
    assert dist[hit].max() <= truth["radius_m"] + reach_m, (pattern, np.sort(dist[hit]))
    return res["pattern"].iloc[home]


def _truth(demo, pattern):
    return next(h for h in demo.truth["hotspots"] if h["pattern"] == pattern)


def test_demo_persistent_and_intensifying_hotspots_over_the_year(demo_small, micro):
    bar = _truth(demo_small, "persistent")
    res = _emerging(demo_small, micro, bar)
    assert _check(demo_small, micro, bar, res, "Persistent Hot Spot") == "Persistent Hot Spot"
    assert res.attrs["n_steps"] == 52 and res.attrs["n_steps_classified"] == 51
    hub = _truth(demo_small, "intensifying")
    res = _emerging(demo_small, micro, hub)
    got = _check(demo_small, micro, hub, res, "Intensifying Hot Spot", reach_m=400.0)
    assert got == "Intensifying Hot Spot"
    home = int(hs.unit_index(np.array([hub["center_lonlat"]]), micro[0])[0])
    assert res["trend_z"].iloc[home] > 3 and res["count_trend_z"].iloc[home] > 3
    assert isinstance(res, gpd.GeoDataFrame) and len(res) == len(micro[0])


def test_demo_new_hotspot_new_then_consecutive(demo_small, micro):
    mall = _truth(demo_small, "new")  # opens 2026-08-01
    # in the first week after the opening it is a New Hot Spot ...
    res = _emerging(demo_small, micro, mall, end="2026-08-08")
    assert _check(demo_small, micro, mall, res, "New Hot Spot") == "New Hot Spot"
    # ... and by the end of the year (13 hot weeks in a row) a Consecutive Hot Spot
    res = _emerging(demo_small, micro, mall)
    got = _check(demo_small, micro, mall, res, "Consecutive Hot Spot")
    assert got == "Consecutive Hot Spot"


def test_demo_diminishing_hotspot_after_the_operation(demo_small, micro):
    hosp = _truth(demo_small, "diminishing")  # 28 -> 4 a day from 2026-04-01
    # evaluating the operation four months on, each week compared with its own time window
    res = _emerging(demo_small, micro, hosp, end="2026-08-01", global_window="neighborhood")
    got = _check(demo_small, micro, hosp, res, "Diminishing Hot Spot")
    assert got == "Diminishing Hot Spot"
    home = int(hs.unit_index(np.array([hosp["center_lonlat"]]), micro[0])[0])
    assert res["trend_z"].iloc[home] < -2 and res["count_trend_z"].iloc[home] < -3
    # over the whole year it is hot only until the operation: no ArcGIS class for that
    year = _emerging(demo_small, micro, hosp)
    assert year["pattern"].iloc[home] == "No Pattern Detected"
    assert year["n_hot_steps"].iloc[home] < 0.5 * year.attrs["n_steps_classified"]


def test_emerging_rejects_bad_input(demo_small, micro):
    units, W, _ = micro
    inc = demo_small.incidents.iloc[:2000]
    cube = hs.space_time_cube(inc, inc["occurred_at"], units, step="month", end="2025-12-01")
    with pytest.raises(InputError):
        hs.emerging_hotspots(cube, W)  # one step
    cube = hs.space_time_cube(inc, inc["occurred_at"], units, step="day")
    with pytest.raises(InputError):
        hs.emerging_hotspots(cube, W, confidence=0.8)
    with pytest.raises(InputError):
        hs.space_time_gi_star(cube, W, global_window="slice")
    with pytest.raises(InputError):
        hs.space_time_weights(sp.identity(3), 4, -1)


# --------------------------------------------------------------------------------------------
# When


@pytest.fixture
def small_incidents() -> gpd.GeoDataFrame:
    rows = [
        ("2026-03-02 08:15", "05-05", "A", 112.9025, 35.7925),  # Monday 8h
        ("2026-03-02 08:45", "05-05", "A", 112.9025, 35.7925),  # Monday 8h
        ("2026-03-08 23:59", "05-04", "B", 112.9175, 35.7975),  # Sunday 23h
        ("2026-03-04 08:00", "05-01", "A", 112.9175, 35.7975),  # Wednesday 8h
        ("2026-03-04 13:30", "03-01", "B", 112.9025, 35.7925),  # Wednesday 13h
    ]
    frame = pd.DataFrame(rows, columns=["occurred_at", "category_code", "grid_code", "x", "y"])
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"])
    return gpd.GeoDataFrame(
        frame.drop(columns=["x", "y"]), geometry=shapely.points(frame[["x", "y"]]), crs=4326
    )


def test_hour_weekday_counts_by_hand(small_incidents):
    hw = hs.hour_weekday(small_incidents)
    assert hw.shape == (24, 7) and hw.to_numpy().sum() == 5
    assert hw.loc[8, 0] == 2 and hw.loc[23, 6] == 1 and hw.loc[8, 2] == 1 and hw.loc[13, 2] == 1
    five = hs.hour_weekday(small_incidents, category="05")  # major class prefix
    assert five.to_numpy().sum() == 4 and five.loc[13, 2] == 0
    assert hs.hour_weekday(small_incidents, category=["05-05", "03-01"]).to_numpy().sum() == 3
    west = shapely.box(112.90, 35.79, 112.91, 35.80)
    assert hs.hour_weekday(small_incidents, area=west).to_numpy().sum() == 3
    assert hs.hour_weekday(small_incidents, area="B").loc[23, 6] == 1


def _binom_two_sided(k: int, n: int, p: float) -> float:
    """Exact two-sided binomial p: the sum of the outcomes no more likely than k."""
    pmf = [math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    return min(1.0, sum(q for q in pmf if q <= pmf[k] * (1 + 1e-7)))


def test_period_comparison_by_hand():
    def at(day: str, n: int, cat: str) -> list[tuple[pd.Timestamp, str]]:
        return [(pd.Timestamp(day) + pd.Timedelta(minutes=i), cat) for i in range(n)]

    rows = (
        at("2027-02-10", 3, "A")  # last year (February 2027, 28 days)
        + at("2027-02-20", 1, "B")
        + at("2028-01-15", 2, "A")  # previous 29 days (2028-01-03 .. 2028-02-01)
        + at("2028-01-20", 5, "B")
        + at("2028-02-05", 10, "A")  # this: February 2028, 29 days
        + at("2028-02-29", 12, "B")
    )
    inc = pd.DataFrame(rows, columns=["occurred_at", "category_code"])
    cover = ("2027-01-01", "2028-03-01")
    pc = hs.period_comparison(inc, "2028-02-01", "2028-03-01", coverage=cover).set_index("key")
    assert pc.loc["A", ["this", "previous", "last_year"]].tolist() == [10, 2, 3]
    assert pc.loc["B", ["this", "previous", "last_year"]].tolist() == [12, 5, 1]
    # equal lengths (29 days): binomtest(10, 12, 0.5) = 2 (66 + 12 + 1) / 4096
    assert pc.loc["A", "p_prev"] == pytest.approx(158 / 4096, rel=1e-12)
    assert pc.loc["A", "change_prev"] == pytest.approx(4.0)
    assert bool(pc.loc["A", "significant_prev"]) and not bool(pc.loc["B", "significant_prev"])
    # last year is one day shorter: p = 29 / 57 under equal daily rates
    assert pc.loc["A", "p_ly"] == pytest.approx(_binom_two_sided(10, 13, 29 / 57), rel=1e-9)
    assert pc.loc["B", "p_ly"] == pytest.approx(_binom_two_sided(12, 13, 29 / 57), rel=1e-9)
    assert pc.loc["B", "change_ly"] == pytest.approx((12 / 29) / (1 / 28) - 1)
    assert list(pc.index) == ["B", "A"]  # by this period's count
    total = hs.period_comparison(inc, "2028-02-01", "2028-03-01", by=None)
    assert total["key"].tolist() == ["all"] and total["this"].iloc[0] == 22
    # a comparison period before the data: NaN, never significant
    short = hs.period_comparison(
        inc[inc["occurred_at"] >= "2028-01-01"], "2028-02-01", "2028-03-01"
    )
    assert short["last_year"].isna().all() and not short["significant_ly"].any()
    # FDR over the keys: A's p_prev 0.039 passes 0.05 alone, not Benjamini-Hochberg over two
    # keys (it would need p <= 0.025, B's 0.14 fails 0.05)
    fdr = hs.period_comparison(inc, "2028-02-01", "2028-03-01", fdr=True).set_index("key")
    assert not fdr["significant_prev"].any()


def test_period_comparison_on_the_demo_finds_the_operation(demo_small):
    pc = hs.period_comparison(demo_small.incidents, "2026-04-01", "2026-05-01")
    parking = pc.set_index("key").loc["05-05"]
    assert parking["change_prev"] < -0.15 and parking["significant_prev"]
    assert np.isnan(parking["last_year"])  # the demo holds one year
