"""The demo's incidents: generators (category, daily rate, time-of-day profile, place) drawn at
random, then their attributes (source, times, status, severity, address, description)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from gis.demo import names
from gis.demo.district import DAY_NS, DEMO_END, DEMO_START, SEC_NS, SOURCES, TARGET_INCIDENTS
from gis.demo.streets import StreetNetwork, StreetSampler


@dataclass
class IncidentGenerator:
    """One incident generator: a category, a daily rate, a time-of-day profile and a place."""

    code: str
    daily: np.ndarray  # expected count per day of the period
    windows: list[tuple[float, float, float]]  # (start h, end h, weight); end may pass 24
    centers: np.ndarray | None = None  # (k, 2) metric; Gaussian around one of them
    sigma: float = 60.0
    sampler: StreetSampler | None = None
    prefix: str = ""
    background: bool = False


def _hourly(profile: list[float]) -> list[tuple[float, float, float]]:
    return [(h, h + 1, float(w)) for h, w in enumerate(profile) if w > 0]


_H_DAY = _hourly(
    [0.1] * 6 + [0.5, 1, 2, 3, 3, 2.5, 2, 2, 2.5, 2.5, 2.2, 1.8, 1.4, 1, 0.8, 0.5, 0.3, 0.2]
)
_H_EVENING = _hourly([0.6, 0.2] + [0] * 6 + [1] * 8 + [4, 4, 4.5, 5, 5, 4.5, 4, 2.5])
_H_NIGHT = _hourly([2.5, 1.5, 0.5] + [0.05] * 5 + [0.2] * 12 + [1.5, 2.5, 3, 3])
_H_WORK = _hourly([0.05] * 6 + [1.5, 3, 3, 3, 3, 2, 1, 3, 3, 3, 3, 2.5, 2, 1, 0.3, 0.6, 0.3, 0.1])
_H_PARKING = _hourly(
    [0.2] * 6 + [0.6, 2, 3, 3.5, 3.5, 3, 3, 3.5, 3.5, 3, 2.5, 2, 1.5, 1.2, 1, 0.6, 0.4, 0.3]
)
_H_MALL = _hourly([0] * 9 + [0.5, 2, 3, 3, 2.5, 2.5, 3, 3, 3, 3.5, 3.5, 3, 2, 0.5, 0])
_H_HUB = _hourly(
    [0.1] * 5 + [0.6, 2, 3, 2.5, 2, 1.5, 1.5, 1.5, 1.5, 2, 2.5, 3, 3.5, 3, 2, 1.2, 0.6, 0.3, 0.1]
)
_SCHOOL_GATE = [(7.25, 8.25, 1.0), (16.5, 17.75, 1.1)]


def _sample_times(gen: IncidentGenerator, day: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Occurrence times (int64 ns since epoch, naive local) for events on ``day`` indices."""
    w = np.array([win[2] for win in gen.windows])
    k = rng.choice(len(w), size=len(day), p=w / w.sum())
    start = np.array([win[0] for win in gen.windows])[k]
    end = np.array([win[1] for win in gen.windows])[k]
    sec = np.floor((start + rng.random(len(day)) * (end - start)) * 3600.0).astype(np.int64)
    return DEMO_START.value + day.astype(np.int64) * DAY_NS + sec * SEC_NS


def _sample_xy(
    gen: IncidentGenerator, n: int, inside: shapely.Geometry, rng: np.random.Generator
) -> np.ndarray:
    def draw(m: int) -> np.ndarray:
        if gen.centers is not None:
            c = gen.centers[rng.integers(len(gen.centers), size=m)]
            return c + rng.normal(0.0, gen.sigma, (m, 2))
        return gen.sampler.sample(m, rng) + rng.normal(0.0, 3.0, (m, 2))

    xy = draw(n)
    for _ in range(200):
        bad = np.flatnonzero(~shapely.contains_xy(inside, xy[:, 0], xy[:, 1]))
        if len(bad) == 0:
            return xy
        xy[bad] = draw(len(bad))
    raise RuntimeError("demo: could not place incidents inside the district")  # pragma: no cover


@dataclass
class Calendar:
    """Day-by-day factors of the demo period (one entry per day from ``DEMO_START``)."""

    days: pd.DatetimeIndex
    dow: np.ndarray
    month: np.ndarray  # 1 = 2025-11 ... 12 = 2026-10
    weekday: np.ndarray
    school_day: np.ndarray
    summer: np.ndarray  # 0.15 (winter) .. 1 (mid-July)
    building: np.ndarray  # construction season factor
    ramp: np.ndarray  # 0 -> 1 over the period

    def after(self, date: str) -> np.ndarray:
        return np.asarray(self.days >= pd.Timestamp(date))


def build_calendar() -> Calendar:
    """The demo period's days with weekdays, school days, holidays and seasonal factors."""
    days = pd.date_range(DEMO_START, DEMO_END, freq="D", inclusive="left")
    dow = np.asarray(days.day_of_week)
    month = np.asarray((days.year - 2025) * 12 + days.month - 10)
    doy = np.asarray(days.day_of_year)

    def between(a: str, b: str) -> np.ndarray:
        return np.asarray((days >= pd.Timestamp(a)) & (days < pd.Timestamp(b)))

    holidays = (
        between("2026-01-01", "2026-01-04")
        | between("2026-04-04", "2026-04-07")
        | between("2026-05-01", "2026-05-06")
        | between("2026-06-19", "2026-06-22")
        | between("2026-10-01", "2026-10-09")
    )
    vacation = between("2026-01-24", "2026-03-02") | between("2026-07-11", "2026-09-01")
    weekday = dow < 5
    summer = 0.15 + 0.85 * np.clip(np.cos(2 * np.pi * (doy - 196) / 365.0), 0, None) ** 1.5
    building = np.where(between("2026-01-15", "2026-03-01"), 0.1, 1.0) * np.where(weekday, 1, 0.2)
    return Calendar(
        days=days,
        dow=dow,
        month=month,
        weekday=weekday,
        school_day=weekday & ~holidays & ~vacation,
        summer=summer,
        building=building,
        ramp=np.linspace(0.0, 1.0, len(days)),
    )


def incident_generators(
    cal: Calendar,
    places: dict[str, list[dict]],
    streets: StreetNetwork,
    district: shapely.Geometry,
    ops: dict[str, dict],
) -> list[IncidentGenerator]:
    """The incident generators: planted patterns, place-driven rhythms, then background."""
    n = len(cal.days)
    ones = np.ones(n)
    weekend = np.where(cal.dow >= 4, 1.35, 1.0)  # Fri-Sun evenings are busier

    def at(kind: str, i: int | None = None) -> np.ndarray:
        pts = places[kind] if i is None else [places[kind][i]]
        return np.array([p["xy"] for p in pts])

    def near(kind: str, i: int = 0) -> str:
        return places[kind][i]["name"] + "周边"

    op_start = pd.Timestamp("2026-04-01")
    post_op = np.asarray(cal.days >= op_start)
    gens: list[IncidentGenerator] = [
        # (1) persistent: bar street encroachment every evening, all year
        IncidentGenerator(
            "05-04",
            38 * weekend,
            _H_EVENING[2:] + [(0, 1, 2.0)],
            at("bar_street"),
            55,
            prefix=near("bar_street"),
        ),
        IncidentGenerator(
            "05-10",
            22 * cal.summer * weekend,
            _H_EVENING[2:],
            at("bar_street"),
            60,
            prefix=near("bar_street"),
        ),
        IncidentGenerator(
            "05-08",
            4 * weekend,
            _H_EVENING[2:] + [(0, 2, 2.0)],
            at("bar_street"),
            50,
            prefix=near("bar_street"),
        ),
        # (2) new: illegal parking around the mall from its opening on 2026-08-01
        IncidentGenerator(
            "05-05",
            32 * cal.after("2026-08-01") * np.where(cal.dow >= 5, 1.4, 1.0),
            _H_MALL,
            at("mall"),
            60,
            prefix=near("mall"),
        ),
        # (3) intensifying: vending at the transport hub, rising all year
        IncidentGenerator(
            "05-01",
            3 + 29 * cal.ramp,
            _H_HUB,
            at("transport_hub"),
            70,
            prefix=near("transport_hub"),
        ),
        IncidentGenerator(
            "05-06", 7 * ones, _H_HUB, at("transport_hub"), 60, prefix=near("transport_hub")
        ),
        IncidentGenerator(
            "05-05", 5 * ones, _H_HUB, at("transport_hub"), 70, prefix=near("transport_hub")
        ),
        # (4) diminishing: parking around the hospital, rectified in 2026-04
        IncidentGenerator(
            "05-05",
            np.where(post_op, 4.0, 28.0) * np.where(cal.weekday, 1, 0.6),
            _H_PARKING,
            at("hospital"),
            70,
            prefix=near("hospital"),
        ),
        # (5) displacement: market encroachment pushed out to the surrounding streets
        IncidentGenerator(
            "05-04",
            np.where(post_op, 4.0, 28.0),
            _H_EVENING,
            at("market", 0),
            50,
            prefix=near("market", 0),
        ),
        IncidentGenerator(
            "05-04",
            np.where(post_op, 22.0, 0.0),
            _H_EVENING,
            sampler=ops["market"]["ring_sampler"],
            prefix=near("market", 0),
        ),
    ]
    for i in range(3):  # markets: encroachment, vending, summer barbecue
        if i > 0:
            gens.append(
                IncidentGenerator(
                    "05-04", 10 * ones, _H_EVENING, at("market", i), 50, prefix=near("market", i)
                )
            )
        gens.append(
            IncidentGenerator(
                "05-01", 5 * ones, _H_DAY, at("market", i), 60, prefix=near("market", i)
            )
        )
        gens.append(
            IncidentGenerator(
                "05-10",
                4 * cal.summer,
                _H_EVENING[2:],
                at("market", i),
                60,
                prefix=near("market", i),
            )
        )
        gens.append(
            IncidentGenerator(
                "05-07", 2 * ones, _H_DAY, at("market", i), 60, prefix=near("market", i)
            )
        )
    for i in range(len(places["school"])):  # school gates: drop-off and pick-up
        gens.append(
            IncidentGenerator(
                "05-05",
                9 * cal.school_day,
                _SCHOOL_GATE,
                at("school", i),
                30,
                prefix=near("school", i),
            )
        )
        gens.append(
            IncidentGenerator(
                "05-06",
                3 * cal.school_day,
                _SCHOOL_GATE + [(12, 13, 0.3)],
                at("school", i),
                35,
                prefix=near("school", i),
            )
        )
    for i in range(len(places["construction_site"])):
        gens.append(
            IncidentGenerator(
                "03-01",
                6 * cal.building,
                _H_WORK,
                at("construction_site", i),
                45,
                prefix=near("construction_site", i),
            )
        )
        gens.append(
            IncidentGenerator(
                "03-02",
                1.2 * cal.building,
                _H_WORK,
                at("construction_site", i),
                60,
                prefix=near("construction_site", i),
            )
        )
    compounds = at("old_compound")
    gens += [
        IncidentGenerator(
            "06-02",
            14 * ones * np.where(cal.dow >= 4, 1.3, 1.0),
            _H_NIGHT,
            compounds,
            60,
            prefix="老旧小区",
        ),
        IncidentGenerator("01-07", 0.35 * ones, _H_DAY, compounds, 70, prefix="老旧小区"),
        IncidentGenerator("06-04", 4 * ones, _H_DAY, compounds, 70, prefix="老旧小区"),
        IncidentGenerator("06-01", 5 * ones, _H_NIGHT, compounds, 60, prefix="老旧小区"),
        IncidentGenerator("05-07", 6 * ones, _H_DAY, compounds, 70, prefix="老旧小区"),
        IncidentGenerator("01-18", 0.6 * ones, _H_DAY, compounds, 80, prefix="老旧小区"),
        IncidentGenerator("06-03", 2 * ones, _H_DAY, compounds, 90, prefix="老旧小区"),
    ]

    # background along every street, denser towards the centre
    mid = streets.mid
    c = shapely.get_coordinates(shapely.centroid(district))[0]
    dens = 0.45 + np.exp(-np.sum((mid - c) ** 2, axis=1) / (2 * 1600.0**2))
    dens *= np.select([streets.highway == "main", streets.highway == "alley"], [1.4, 0.6], 1.0)
    bg = StreetSampler(streets.geoms, dens)
    background = [
        ("01-02", 40, _H_DAY, ones),
        ("02-02", 22, _H_DAY, ones),
        ("05-07", 20, _H_DAY, ones),
        ("02-01", 7, _H_DAY, ones),
        ("05-05", 55, _H_PARKING, ones),
        ("05-06", 18, _H_DAY, ones),
        ("05-04", 28, _H_EVENING, ones),
        ("05-01", 8, _H_DAY, ones),
        ("05-08", 6, _H_EVENING, ones),
        ("05-10", 5, _H_EVENING[2:], cal.summer),
        ("06-01", 6, _H_NIGHT, ones),
        ("06-03", 4, _H_DAY, ones),
        ("06-04", 5, _H_DAY, ones),
        ("01-01", 4, _H_DAY, cal.building),
        ("01-18", 0.8, _H_DAY, ones),
        ("03-02", 2, _H_WORK, cal.building),
        ("04-01", 0.08, _H_DAY, ones),
        ("04-02", 1.0, _H_DAY, ones),
    ]
    planted = sum(float(g.daily.sum()) for g in gens)
    bg_total = sum(rate * float(shape.sum()) for _, rate, _, shape in background)
    scale = max(0.2, (TARGET_INCIDENTS - planted) / bg_total)
    for code, rate, windows, shape in background:
        gens.append(
            IncidentGenerator(code, rate * scale * shape, windows, sampler=bg, background=True)
        )
    return gens


def draw_incidents(
    rng: np.random.Generator,
    gens: list[IncidentGenerator],
    taxonomy: pd.DataFrame,
    inside: shapely.Geometry,
    streets: StreetNetwork,
) -> pd.DataFrame:
    """Draw every generator (Poisson per day), then attributes, all vectorised."""
    parts_t, parts_xy, parts_g = [], [], []
    for gi, gen in enumerate(gens):
        counts = rng.poisson(np.clip(gen.daily, 0, None))
        day = np.repeat(np.arange(len(counts)), counts)
        parts_t.append(_sample_times(gen, day, rng))
        parts_xy.append(_sample_xy(gen, len(day), inside, rng))
        parts_g.append(np.full(len(day), gi, dtype=np.int64))
    occ = np.concatenate(parts_t)
    xy = np.concatenate(parts_xy)
    g = np.concatenate(parts_g)
    keep = occ < DEMO_END.value
    occ, xy, g = occ[keep], xy[keep], g[keep]
    order = np.lexsort((rng.random(len(occ)), occ))
    occ, xy, g = occ[order], xy[order], g[order]
    n = len(occ)

    tax = taxonomy.set_index("code")
    gen_code = np.array([gen.code for gen in gens], dtype=object)
    code = gen_code[g]
    limit_h = tax["time_limit_h"].reindex(gen_code).to_numpy(float)[g]
    weight = tax["severity_weight"].reindex(gen_code).to_numpy(np.int64)[g]
    dept = tax["department"].reindex(gen_code).to_numpy(object)[g]

    # source: residents' complaints dominate the neighbourhood extensions (06-xx)
    p_default = np.array([0.474, 0.221, 0.215, 0.062, 0.028])  # ~45/25/20/7/3 overall
    p_resident = np.array([0.20, 0.55, 0.05, 0.15, 0.05])
    resident = np.char.startswith(code.astype(str), "06")
    u = rng.random(n)
    src_idx = np.where(
        resident,
        np.searchsorted(np.cumsum(p_resident), u, side="right"),
        np.searchsorted(np.cumsum(p_default), u, side="right"),
    ).clip(0, 4)
    source = SOURCES[src_idx]
    base_s = np.array([30, 300, 10, 120, 1800])[src_idx]
    mean_s = np.array([150, 1500, 60, 1200, 14400])[src_idx]
    delay = base_s + np.floor(rng.exponential(1.0, n) * mean_s).astype(np.int64)
    reported = occ + delay * SEC_NS

    # handling: lognormal around the time limit, ~85 % within it
    factor = np.exp(rng.normal(-0.62, 0.6, n))
    handle_s = np.maximum(60, np.floor(limit_h * 3600 * factor)).astype(np.int64)
    closed = reported + handle_s * SEC_NS
    now = DEMO_END.value
    age_d = (now - reported) / DAY_NS
    p_open = np.where(age_d < 21, 0.04 + 0.36 * (1 - age_d / 21), 0.0)
    is_open = (closed >= now) | (rng.random(n) < p_open)
    rework = ~is_open & (age_d < 45) & (rng.random(n) < 0.02)
    status = np.full(n, "closed", dtype=object)
    fresh = age_d < 1
    pick = rng.random(n)
    open_status = np.where(
        fresh,
        np.select([pick < 0.4, pick < 0.75], ["registered", "dispatched"], "handling"),
        np.select([pick < 0.1, pick < 0.4], ["registered", "dispatched"], "handling"),
    ).astype(object)
    status[is_open] = open_status[is_open]
    status[rework] = "rework"
    closed_at = np.where(is_open | rework, np.iinfo(np.int64).min, closed)

    sev_u = rng.random(n)
    p_em = np.select([weight >= 5, weight >= 3], [0.5, 0.01], 0.001)
    p_ma = np.select([weight >= 5, weight >= 3], [0.3, 0.08], 0.015)
    severity = np.select([sev_u < p_em, sev_u < p_em + p_ma], ["emergency", "major"], "general")

    # address from the nearest street: odd numbers on the left, even on the right
    pts = shapely.points(xy)
    q_in, q_tree = shapely.STRtree(streets.geoms).query_nearest(pts, all_matches=False)
    nearest = np.empty(n, dtype=np.int64)
    nearest[q_in] = q_tree
    line = streets.line[nearest]
    s = shapely.line_locate_point(line, pts)
    p0 = shapely.get_coordinates(shapely.line_interpolate_point(line, s))
    p1 = shapely.get_coordinates(shapely.line_interpolate_point(line, s + 1.0))
    cross = (p1[:, 0] - p0[:, 0]) * (xy[:, 1] - p0[:, 1]) - (p1[:, 1] - p0[:, 1]) * (
        xy[:, 0] - p0[:, 0]
    )
    number = 2 * np.floor(s / 12.0).astype(np.int64) + np.where(cross > 0, 1, 2)
    address = streets.name[nearest] + number.astype(str).astype(object) + "号"

    phrase_idx = rng.integers(0, 1 << 30, n)
    phrases = {c: np.array(names.DESCRIPTIONS[c], dtype=object) for c in np.unique(gen_code)}
    desc_base = np.empty(n, dtype=object)
    for c, arr in phrases.items():
        m = code == c
        desc_base[m] = arr[phrase_idx[m] % len(arr)]
    prefix = np.array([gen.prefix for gen in gens], dtype=object)[g]
    description = np.where(prefix == "", desc_base, prefix + "，" + desc_base)

    return pd.DataFrame(
        {
            "external_id": pd.Series([f"DEMO-{i:07d}" for i in range(1, n + 1)], dtype=object),
            "category_code": pd.Series(code, dtype=object),
            "source": pd.Series(source, dtype=object),
            "status": pd.Series(status, dtype=object),
            "severity": pd.Series(severity.astype(object), dtype=object),
            "occurred_at": pd.Series(occ.view("datetime64[ns]")),
            "reported_at": pd.Series(reported.view("datetime64[ns]")),
            "closed_at": pd.Series(closed_at.view("datetime64[ns]")),
            "department": pd.Series(dept, dtype=object),
            "address": pd.Series(address, dtype=object),
            "description": pd.Series(description, dtype=object),
            "_x": xy[:, 0],
            "_y": xy[:, 1],
        }
    )
