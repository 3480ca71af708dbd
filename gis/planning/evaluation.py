"""Did the joint operation work? The rate test against a control and the weighted displacement
quotient (WDQ) in a buffer ring, for an area or a saved plan.

Counts before (b) and after (a) the operation in the response area R, in the buffer ring B
(``buffer_m`` metres around R, R excluded) and in the control area C (the rest of the district).

* Rate test of R against C: the ratio of rate ratios ``RR = (R_a / R_b) / (C_a / C_b)`` (period
  lengths cancel), with ``Var(log RR) = 1/R_a + 1/R_b + 1/C_a + 1/C_b`` (independent Poisson
  counts; the "relative effect size" of Farrington & Welsh), a two-sided normal p-value and a
  95 % interval. 0.5 is added to every count when one is zero. The same test for B against C
  tells whether the buffer changed at all. Overdispersion is not modelled: with clustered
  incidents the p-values are optimistic.
* WDQ (Bowers & Johnson 2003, "Measuring the geographical displacement and diffusion of benefit
  effects of crime prevention activity", J. Quant. Criminol. 19(3)):
  ``WDQ = (B_a/C_a - B_b/C_b) / (R_a/C_a - R_b/C_b)``; the denominator is the *success
  measure* (negative = the area improved relative to control), the numerator the *buffer
  displacement measure* (positive = the buffer got worse relative to control). Reading:
  WDQ > 0 diffusion of benefits (> 1: the diffusion exceeds the direct gain); WDQ = 0 no
  displacement; -1 < WDQ < 0 displacement smaller than the gain (a net benefit);
  WDQ <= -1 displacement as large as or larger than the gain. The WDQ is only read when the
  success measure is negative. Total net effect (Guerette 2009):
  ``TNE = [R_b (C_a/C_b) - R_a] + [B_b (C_a/C_b) - B_a]`` (incidents prevented, net).

Verdicts (``VERDICTS``), with ``alpha`` = 0.05:

=========================  ===============================================================
``insufficient_data``      no incidents in the area before, or none in the control
``worse``                  RR > 1 and p < alpha
``no_effect``              p >= alpha, or RR >= 1
``displacement``           effective, buffer changed (p_B < alpha) and WDQ <= -1
``effective_displacement`` effective, buffer changed and -1 < WDQ < 0
``effective_diffusion``    effective, buffer changed and WDQ > 0
``effective``              RR < 1 and p < alpha, no significant change in the buffer
=========================  ===============================================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import special

from gis import store
from gis.core.errors import InputError
from gis.core.geometry import as_area, district_outline, local_metric_crs, to_metric_geoms
from gis.core.settings import STORAGE_EPSG
from gis.planning.areas import points_inside, points_metric
from gis.planning.periods import incident_times, parse_period
from gis.planning.plans import get_plan, list_plans
from gis.taxonomy import category_mask

#: Evaluation significance level.
ALPHA = 0.05

VERDICTS = {
    "effective": (
        "整治有效，周边未见明显转移",
        "effective, no measurable displacement or diffusion",
    ),
    "effective_diffusion": (
        "整治有效，且效益扩散到周边",
        "effective, with diffusion of benefits to the surroundings",
    ),
    "effective_displacement": (
        "整治有效，部分问题转移到周边，但转移小于整治收益",
        "effective, with displacement smaller than the gain",
    ),
    "displacement": (
        "问题转移到周边，转移抵消了整治收益",
        "displacement: the problem moved next door, as much as or more than the gain",
    ),
    "no_effect": ("未见整治效果", "no effect"),
    "worse": ("整治后情况变差", "worse after the operation"),
    "insufficient_data": ("数据不足，无法评估", "not enough data to judge"),
}


@dataclass(frozen=True)
class RateTest:
    """``ratio = (a_after / a_before) / (c_after / c_before)`` with a 95 % interval and the
    two-sided p-value of ``log(ratio) = 0`` (see the module docstring)."""

    ratio: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float


def rate_ratio_test(a_before: float, a_after: float, c_before: float, c_after: float) -> RateTest:
    """Change in an area relative to the change in a control, from four counts.

    ``Var(log ratio) = 1/a_b + 1/a_a + 1/c_b + 1/c_a`` (independent Poisson counts); 0.5 is
    added to all four when one is zero.
    """
    counts = np.array([a_before, a_after, c_before, c_after], dtype=float)
    if (counts < 0).any():
        raise InputError("counts cannot be negative")
    if (counts == 0).any():
        counts = counts + 0.5
    ab, aa, cb, ca = counts
    log_rr = math.log(aa / ab) - math.log(ca / cb)
    se = math.sqrt((1.0 / counts).sum())
    z = log_rr / se
    p = float(2.0 * special.ndtr(-abs(z)))
    return RateTest(
        math.exp(log_rr), math.exp(log_rr - 1.96 * se), math.exp(log_rr + 1.96 * se), z, p
    )


def wdq(r_before, r_after, b_before, b_after, c_before, c_after) -> tuple[float, float, float]:
    """Weighted displacement quotient (Bowers & Johnson 2003) from six counts.

    Returns
    -------
    (wdq, success_measure, buffer_measure)
        ``success_measure = R_a/C_a - R_b/C_b`` (negative: the area improved relative to the
        control), ``buffer_measure = B_a/C_a - B_b/C_b`` (positive: the buffer got worse),
        ``wdq = buffer_measure / success_measure``; NaN where a control count is zero or the
        success measure is 0.
    """
    if not c_before or not c_after:
        return float("nan"), float("nan"), float("nan")
    success = r_after / c_after - r_before / c_before
    buffer = b_after / c_after - b_before / c_before
    q = buffer / success if success != 0 else float("nan")
    return float(q), float(success), float(buffer)


def verdict_for(
    area: RateTest,
    buffer: RateTest,
    q: float,
    *,
    r_before: float,
    c_before: float,
    c_after: float,
    alpha: float = ALPHA,
) -> str:
    """The verdict code of ``VERDICTS`` (rules in the module docstring)."""
    if r_before <= 0 or c_before <= 0 or c_after <= 0:
        return "insufficient_data"
    if area.p_value >= alpha or area.ratio == 1.0:
        return "no_effect"
    if area.ratio > 1.0:
        return "worse"
    if buffer.p_value >= alpha or math.isnan(q):
        return "effective"
    if q <= -1.0:
        return "displacement"
    if q < 0.0:
        return "effective_displacement"
    return "effective_diffusion"


@dataclass
class Evaluation:
    """The result of ``evaluate``: counts, tests, the WDQ and the verdict.

    Attributes
    ----------
    area_before, area_after, buffer_before, buffer_after, control_before, control_after
        Incident counts in the response area R, the buffer ring B and the control C.
    before, after
        The two periods ``(start, end)``.
    buffer_m
        Buffer width in metres; ``area_m2``, ``buffer_area_m2``, ``control_area_m2`` areas.
    rate_ratio, rate_ratio_ci, p_value
        R against C (``rate_ratio_test``): < 1 means the area fell relative to the control.
    buffer_rate_ratio, buffer_p_value
        B against C.
    success_measure, buffer_measure, wdq
        Bowers & Johnson (``wdq``); ``wdq`` None when undefined.
    total_net_effect
        Guerette's TNE (incidents prevented net of displacement; negative = net harm).
    verdict, verdict_zh, verdict_en
        Code of ``VERDICTS`` and its words.
    """

    area_before: int
    area_after: int
    buffer_before: int
    buffer_after: int
    control_before: int
    control_after: int
    before: tuple[pd.Timestamp, pd.Timestamp]
    after: tuple[pd.Timestamp, pd.Timestamp]
    buffer_m: float
    area_m2: float
    buffer_area_m2: float
    control_area_m2: float
    rate_ratio: float
    rate_ratio_ci: tuple[float, float]
    p_value: float
    buffer_rate_ratio: float
    buffer_p_value: float
    success_measure: float
    buffer_measure: float
    wdq: float | None
    total_net_effect: float
    verdict: str
    verdict_zh: str
    verdict_en: str
    categories: tuple[str, ...] | None = None
    alpha: float = ALPHA
    label: str | None = None

    @property
    def displacement(self) -> bool:
        """Whether the buffer took some of the problem (displacement verdicts)."""
        return self.verdict in ("displacement", "effective_displacement")

    @property
    def effective(self) -> bool:
        """Whether the area improved significantly relative to the control."""
        return self.verdict.startswith("effective")

    def explanation(self, lang: str = "en") -> str:
        """The verdict with the numbers behind it, in one paragraph."""
        change_a = 100 * (self.rate_ratio - 1)
        change_b = 100 * (self.buffer_rate_ratio - 1)
        q = "—" if self.wdq is None else f"{self.wdq:.2f}"
        if lang == "zh":
            return (
                f"{self.verdict_zh}。整治区域事件由{self.area_before:,}件变为{self.area_after:,}件，"
                f"相对对照区变化{change_a:+.0f}%（p={self.p_value:.3g}）；周边{self.buffer_m:.0f}米缓冲区"
                f"由{self.buffer_before:,}件变为{self.buffer_after:,}件，相对对照区变化{change_b:+.0f}%"
                f"（p={self.buffer_p_value:.3g}）；加权转移商WDQ={q}。"
            )
        return (
            f"{self.verdict_en[:1].upper() + self.verdict_en[1:]}. Area: {self.area_before:,} -> "
            f"{self.area_after:,} incidents, {change_a:+.0f} % relative to the control "
            f"(p = {self.p_value:.3g}); {self.buffer_m:.0f} m buffer: {self.buffer_before:,} -> "
            f"{self.buffer_after:,}, {change_b:+.0f} % relative to the control "
            f"(p = {self.buffer_p_value:.3g}); WDQ = {q}."
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: counts, tests, ``wdq`` (None when undefined), verdict and periods as ISO."""

        def num(v):
            if v is None:
                return None
            v = float(v)
            return None if math.isnan(v) or math.isinf(v) else v

        return {
            "label": self.label,
            "area_before": int(self.area_before),
            "area_after": int(self.area_after),
            "buffer_before": int(self.buffer_before),
            "buffer_after": int(self.buffer_after),
            "control_before": int(self.control_before),
            "control_after": int(self.control_after),
            "before": [pd.Timestamp(t).isoformat() for t in self.before],
            "after": [pd.Timestamp(t).isoformat() for t in self.after],
            "buffer_m": float(self.buffer_m),
            "categories": list(self.categories) if self.categories else None,
            "area_m2": num(self.area_m2),
            "buffer_area_m2": num(self.buffer_area_m2),
            "control_area_m2": num(self.control_area_m2),
            "rate_ratio": num(self.rate_ratio),
            "rate_ratio_ci": [num(v) for v in self.rate_ratio_ci],
            "p_value": num(self.p_value),
            "buffer_rate_ratio": num(self.buffer_rate_ratio),
            "buffer_p_value": num(self.buffer_p_value),
            "success_measure": num(self.success_measure),
            "buffer_measure": num(self.buffer_measure),
            "wdq": num(self.wdq),
            "total_net_effect": num(self.total_net_effect),
            "verdict": self.verdict,
            "verdict_zh": self.verdict_zh,
            "verdict_en": self.verdict_en,
            "alpha": self.alpha,
        }


def evaluate(
    area_geom,
    incidents: gpd.GeoDataFrame,
    *,
    before,
    after,
    buffer_m: float = 300.0,
    district=None,
    categories: Sequence[str] | None = None,
    alpha: float = ALPHA,
    label: str | None = None,
) -> Evaluation:
    """Did the operation work, and did it push the problem next door?

    Parameters
    ----------
    area_geom
        The response area (anything ``area_geometry`` reads, EPSG:4326).
    incidents
        Incident points (EPSG:4326) with ``occurred_at`` (and ``category_code`` for
        ``categories``), covering both periods.
    before, after
        ``(start, end)`` each (or ``"START:END"`` text); ``start <= occurred_at < end``. They
        may differ in length: every measure is relative to the control's own change.
    buffer_m
        Width of the buffer ring around the area, metres.
    district
        The district polygon (EPSG:4326); the control is the district minus the area and the
        buffer. Default: the convex hull of the incidents.
    categories
        Only these categories (e.g. the operation's target problem): minor-class codes, or a
        major class (``"05"``) for all its minor classes (``gis.taxonomy.category_mask``).
    alpha
        Significance level of the verdict.
    label
        A name carried into the result.

    Returns
    -------
    Evaluation
    """
    geom = as_area(area_geom)
    before, after = parse_period(before), parse_period(after)
    inc = incidents
    if categories:
        inc = inc[category_mask(inc["category_code"], list(categories))]
    crs = local_metric_crs(gpd.GeoSeries([geom], crs=STORAGE_EPSG))
    area_m = to_metric_geoms([geom], crs)[0]
    x, y = points_metric(inc, crs)
    if district is None:
        ok = np.isfinite(x) & np.isfinite(y)
        district_m = shapely.convex_hull(shapely.multipoints(np.column_stack([x[ok], y[ok]])))
        district_m = shapely.union(district_m, area_m.buffer(buffer_m))
    else:
        district_m = to_metric_geoms([as_area(district)], crs)[0]
    outer = area_m.buffer(float(buffer_m), quad_segs=16)
    ring = shapely.difference(outer, area_m)
    control = shapely.difference(district_m, outer)
    t = incident_times(inc).to_numpy()
    in_before = (t >= before[0].to_datetime64()) & (t < before[1].to_datetime64())
    in_after = (t >= after[0].to_datetime64()) & (t < after[1].to_datetime64())
    in_area = points_inside(area_m, x, y)
    in_ring = points_inside(ring, x, y) & ~in_area
    in_control = points_inside(control, x, y) & ~in_area & ~in_ring
    rb, ra = int((in_area & in_before).sum()), int((in_area & in_after).sum())
    bb, ba = int((in_ring & in_before).sum()), int((in_ring & in_after).sum())
    cb, ca = int((in_control & in_before).sum()), int((in_control & in_after).sum())
    area_test = rate_ratio_test(rb, ra, cb, ca)
    buffer_test = rate_ratio_test(bb, ba, cb, ca)
    q, success, buffer_measure = wdq(rb, ra, bb, ba, cb, ca)
    verdict = verdict_for(
        area_test, buffer_test, q, r_before=rb, c_before=cb, c_after=ca, alpha=alpha
    )
    scale = ca / cb if cb else float("nan")
    tne = (rb * scale - ra) + (bb * scale - ba)
    vz, ve = VERDICTS[verdict]
    return Evaluation(
        area_before=rb,
        area_after=ra,
        buffer_before=bb,
        buffer_after=ba,
        control_before=cb,
        control_after=ca,
        before=before,
        after=after,
        buffer_m=float(buffer_m),
        area_m2=float(area_m.area),
        buffer_area_m2=float(ring.area),
        control_area_m2=float(control.area),
        rate_ratio=area_test.ratio,
        rate_ratio_ci=(area_test.ci_low, area_test.ci_high),
        p_value=area_test.p_value,
        buffer_rate_ratio=buffer_test.ratio,
        buffer_p_value=buffer_test.p_value,
        success_measure=success,
        buffer_measure=buffer_measure,
        wdq=None if math.isnan(q) else q,
        total_net_effect=float(tne),
        verdict=verdict,
        verdict_zh=vz,
        verdict_en=ve,
        categories=tuple(categories) if categories else None,
        alpha=alpha,
        label=label,
    )


def store_district(engine) -> shapely.Geometry | None:
    """The district of the store's current grids (``gis.core.geometry.district_outline``: the
    union of the level-1 grids), EPSG:4326; None when the store has no grids."""
    grids = store.read_grids(engine)
    return district_outline(grids) if len(grids) else None


def plan_periods(plan: Mapping[str, Any]) -> tuple[tuple, tuple]:
    """``(before, after)`` of a plan: after = its period, before = the same length just before."""
    start, end = pd.Timestamp(plan["period_start"]), pd.Timestamp(plan["period_end"])
    return (start - (end - start), start), (start, end)


def evaluate_plan(
    engine,
    plan_id: int,
    *,
    buffer_m: float = 300.0,
    categories: Sequence[str] | None = None,
    as_of=None,
    incidents: gpd.GeoDataFrame | None = None,
) -> Evaluation:
    """Evaluate a saved plan once its period has passed (``evaluate`` with ``plan_periods``).

    Parameters
    ----------
    as_of
        "Now" (default the current time): the plan's period must have ended by then.
    incidents
        Incidents to use instead of reading them from the store.

    Raises
    ------
    InputError
        Unknown plan, or its period has not ended yet.
    """
    plan = get_plan(engine, plan_id)
    before, after = plan_periods(plan)
    now = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(datetime.now())
    if after[1] > now:
        raise InputError(
            f"plan {plan_id} runs until {after[1]:%Y-%m-%d %H:%M}; evaluate it after its period"
        )
    if incidents is None:
        incidents = store.read_incidents(
            engine, before[0].to_pydatetime(), after[1].to_pydatetime(), list(categories or [])
        )
    district = store_district(engine)
    return evaluate(
        plan["geometry"],
        incidents,
        before=before,
        after=after,
        buffer_m=buffer_m,
        district=district,
        categories=categories,
        label=str(plan["name"]),
    )


def evaluate_plans(
    engine, *, buffer_m: float = 300.0, as_of=None, incidents: gpd.GeoDataFrame | None = None
) -> pd.DataFrame:
    """Every plan with its evaluation where its period has passed (``pending`` otherwise).

    Returns
    -------
    pandas.DataFrame
        ``id, name, status, period_start, period_end, verdict, verdict_zh, verdict_en, wdq,
        rate_ratio, p_value, area_before, area_after, buffer_before, buffer_after``.
    """
    plans = list_plans(engine)
    now = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(datetime.now())
    rows = []
    for plan in plans.itertuples(index=False):
        row = {
            "id": plan.id,
            "name": plan.name,
            "status": plan.status,
            "period_start": plan.period_start,
            "period_end": plan.period_end,
        }
        if pd.Timestamp(plan.period_end) > now:
            row.update(verdict="pending", verdict_zh="整治期未结束", verdict_en="period not over")
        else:
            ev = evaluate_plan(engine, plan.id, buffer_m=buffer_m, as_of=now, incidents=incidents)
            d = ev.to_dict()
            row.update(
                {
                    k: d[k]
                    for k in ("verdict", "verdict_zh", "verdict_en", "wdq", "rate_ratio", "p_value")
                }
            )
            row.update(
                {k: d[k] for k in ("area_before", "area_after", "buffer_before", "buffer_after")}
            )
        rows.append(row)
    return pd.DataFrame(rows)
