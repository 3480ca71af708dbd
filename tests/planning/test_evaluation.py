"""gis.planning.evaluation: WDQ and the rate test against hand-computed values, constructed
cases, the demo district's planted operations."""

from __future__ import annotations

import json
import math

import pytest
from scipy import stats

from gis import planning
from gis.core.errors import InputError
from gis.core.settings import DISTRICT_TZ
from tests.planning.cases import (
    AFTER,
    AREA_M,
    BEFORE,
    DISTRICT_M,
    constructed,
    to_ll,
)

# --------------------------------------------------------------------------------------------
# Evaluation: WDQ and the rate test against hand-computed values


def test_wdq_and_rate_test_by_hand():
    # pure success: area halves, buffer and control flat
    q, success, buffer = planning.wdq(100, 50, 100, 100, 1000, 1000)
    assert (q, success, buffer) == (pytest.approx(0.0), pytest.approx(-0.05), pytest.approx(0.0))
    # displacement: the buffer gains more than the area loses
    assert planning.wdq(100, 50, 100, 160, 1000, 1000)[0] == pytest.approx(0.06 / -0.05)
    # diffusion of benefits: the buffer falls too
    assert planning.wdq(100, 50, 100, 70, 1000, 1000)[0] == pytest.approx(0.6)
    # control doubles: relative success in area and buffer alike
    assert planning.wdq(100, 100, 200, 300, 1000, 2000)[0] == pytest.approx(1.0)
    assert math.isnan(planning.wdq(100, 100, 100, 100, 1000, 1000)[0])  # no success: undefined
    rt = planning.rate_ratio_test(100, 50, 1000, 1000)
    se = math.sqrt(1 / 100 + 1 / 50 + 1 / 1000 + 1 / 1000)
    assert rt.ratio == pytest.approx(0.5)
    assert rt.z == pytest.approx(math.log(0.5) / se)
    assert rt.p_value == pytest.approx(2 * stats.norm.sf(abs(math.log(0.5) / se)))
    assert (rt.ci_low, rt.ci_high) == (
        pytest.approx(0.5 * math.exp(-1.96 * se)),
        pytest.approx(0.5 * math.exp(1.96 * se)),
    )
    assert planning.rate_ratio_test(0, 5, 100, 100).ratio == pytest.approx(11.0)  # +0.5 each


@pytest.mark.parametrize(
    "counts, wdq, verdict",
    [
        ((100, 50, 100, 100, 1000, 1000), 0.0, "effective"),  # pure success
        ((100, 50, 100, 160, 1000, 1000), -1.2, "displacement"),
        ((400, 200, 400, 500, 4000, 4000), -0.5, "effective_displacement"),
        # the same WDQ on small counts: the buffer's +25 % is not significant (p = 0.11)
        ((100, 50, 100, 125, 1000, 1000), -0.5, "effective"),
        ((100, 50, 100, 70, 1000, 1000), 0.6, "effective_diffusion"),
        ((100, 100, 200, 300, 1000, 2000), 1.0, "effective_diffusion"),
        ((100, 100, 100, 100, 1000, 1000), None, "no_effect"),
        ((100, 160, 100, 100, 1000, 1000), None, "worse"),
        ((0, 3, 100, 100, 1000, 1000), None, "insufficient_data"),
    ],
)
def test_evaluate_constructed_cases(counts, wdq, verdict):
    inc = constructed(*counts)
    ev = planning.evaluate(
        to_ll(AREA_M), inc, before=BEFORE, after=AFTER, buffer_m=300, district=to_ll(DISTRICT_M)
    )
    got = (
        ev.area_before,
        ev.area_after,
        ev.buffer_before,
        ev.buffer_after,
        ev.control_before,
        ev.control_after,
    )
    assert got == counts
    rb, ra, bb, ba, cb, ca = counts
    if wdq is None:
        if verdict != "insufficient_data":
            assert ev.wdq is None or ev.verdict in ("worse",)
    else:
        assert ev.wdq == pytest.approx(wdq)
        assert ev.success_measure == pytest.approx(ra / ca - rb / cb)
        assert ev.total_net_effect == pytest.approx((rb * ca / cb - ra) + (bb * ca / cb - ba))
    assert ev.verdict == verdict
    assert (ev.verdict_zh, ev.verdict_en) == planning.VERDICTS[verdict]
    assert ev.area_m2 == pytest.approx(40_000, rel=1e-3)
    d = ev.to_dict()
    for key in (
        "area_before",
        "area_after",
        "buffer_before",
        "buffer_after",
        "control_before",
        "control_after",
        "wdq",
        "verdict",
    ):
        assert key in d
    json.dumps(d)


def test_evaluate_periods_categories_and_errors():
    inc = constructed(100, 50, 100, 100, 1000, 1000)
    inc.loc[inc.index[:10], "category_code"] = "05-04"
    ev = planning.evaluate(
        to_ll(AREA_M),
        inc,
        before="2026-03-01:2026-04-01",
        after=AFTER,
        categories=["05-04"],
        district=to_ll(DISTRICT_M),
    )
    assert ev.area_before == 10 and ev.categories == ("05-04",)
    hull = planning.evaluate(to_ll(AREA_M), inc, before=BEFORE, after=AFTER)  # district: hull
    assert hull.control_before == 1001  # the hull takes in the point 5 km away
    with pytest.raises(InputError):
        planning.evaluate(to_ll(AREA_M), inc, before=("2026-04-01", "2026-03-01"), after=AFTER)


def test_evaluate_takes_the_one_category_rule_and_time_parser():
    # a major class ("05") keeps all its minor classes, as in every command and page
    # (gis.taxonomy.category_mask); before, evaluate matched codes exactly and "05" kept nothing
    inc = constructed(100, 50, 100, 100, 1000, 1000)
    inc.loc[inc.index[:10], "category_code"] = "06-01"
    kw = {"before": BEFORE, "after": AFTER, "district": to_ll(DISTRICT_M)}
    assert planning.evaluate(to_ll(AREA_M), inc, categories=["05"], **kw).area_before == 90
    assert planning.evaluate(to_ll(AREA_M), inc, categories=["06"], **kw).area_before == 10
    # times with a UTC offset are converted to the district's wall clock (gis.core.times)
    utc = inc.assign(
        occurred_at=inc["occurred_at"].dt.tz_localize(DISTRICT_TZ).dt.tz_convert("UTC")
    )
    same = planning.evaluate(to_ll(AREA_M), utc, **kw)
    assert same.to_dict() == planning.evaluate(to_ll(AREA_M), inc, **kw).to_dict()
    with pytest.raises(InputError, match="cannot read"):
        planning.evaluate(to_ll(AREA_M), inc, before="2026-03-01:someday", after=AFTER)


def test_demo_planted_operations_are_judged_right(demo_small):
    district = planning.area_geometry(demo_small.grids[demo_small.grids["level"] == "l1"])
    ops = {op["expected"]: op for op in demo_small.truth["operations"]}
    verdicts = {}
    for expected, op in ops.items():
        before, after = planning.plan_periods(
            {"period_start": op["start"], "period_end": op["end"]}
        )
        verdicts[expected] = planning.evaluate(
            op["area_wkt"],
            demo_small.incidents,
            before=before,
            after=after,
            buffer_m=op["buffer_m"],
            district=district,
            categories=[op["category_code"]],
        )
    eff, disp = verdicts["effective"], verdicts["displacement"]
    assert eff.effective and not eff.displacement and eff.rate_ratio < 0.5
    assert eff.verdict == "effective"
    assert disp.displacement and disp.wdq < 0 and disp.buffer_p_value < 0.01
    assert disp.buffer_after > 3 * disp.buffer_before
