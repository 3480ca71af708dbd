"""The period report (日碰头 / 周点评 / 月通报): what one daily, weekly or monthly report says,
computed once and rendered by ``period_html``, ``period_excel`` and ``period_pdf``.

Every number comes from the function the pages and the command line use for the same idea
(see ``period_sections``): the case metrics are ``gis.cases.case_metrics`` for the period (the
numbers ``gridlens cases metrics --start --end`` writes), the red light is
``gis.cases.red_light`` at the period's end, incident counts come from the incident cube.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from gis import hotspots as hs
from gis import store
from gis.cases import case_metrics, department_label
from gis.i18n import t
from gis.reports import period_sections as sec
from gis.reports.periods import Change, ReportPeriod, count_change, rate_change, report_period
from gis.store.cube import Cube, load_cube

#: the headline metrics, in the order the report lists them
HEADLINE = (
    "incidents",
    "reported",
    "closed",
    "close_rate",
    "on_time_close_rate",
    "overdue_open",
    "satisfaction_rate",
    "score",
)
#: rates shown as percentages (changes in percentage points)
RATES = ("close_rate", "on_time_close_rate", "satisfaction_rate")
#: how many units the red and the black list name
LIST_SIZE = 5


@dataclass
class PeriodReport:
    """One period report, language-neutral (the renderers choose zh or en).

    Attributes
    ----------
    period, previous, last_year
        The period and its comparisons (环比, 同比).
    headline
        ``metric, value, previous, prev_change, p_prev, last_year, ly_change, p_ly``: one row per
        ``HEADLINE`` metric; changes in percent (counts, as daily rates) or percentage points
        (rates); p-values of the exact tests (NaN where none applies).
    metrics
        ``case_metrics(by="all")`` of the period, the previous one and last year's (a frame of
        three rows indexed ``period, previous, last_year``).
    categories, trend, hotspots, patterns, overdue, red_grids, departments, grids_rank,
    patrol, plans
        The sections (``gis.reports.period_sections``).
    actions
        What to act on: ``[{"zh": ..., "en": ...}, ...]``.
    """

    period: ReportPeriod
    previous: ReportPeriod
    last_year: ReportPeriod
    generated_at: pd.Timestamp
    district: dict | None
    headline: pd.DataFrame
    metrics: pd.DataFrame
    categories: pd.DataFrame
    trend: pd.DataFrame
    hotspots: pd.DataFrame
    patterns: pd.DataFrame
    overdue: pd.DataFrame
    red_grids: pd.DataFrame
    departments: pd.DataFrame
    grids_rank: pd.DataFrame
    patrol: pd.DataFrame | None
    plans: pd.DataFrame
    micro: gpd.GeoDataFrame = field(repr=False)
    taxonomy: pd.DataFrame = field(repr=False)
    departments_table: pd.DataFrame = field(repr=False)
    grid_names: pd.Series = field(repr=False)
    actions: list[dict[str, str]] = field(default_factory=list)

    def title(self, lang: str) -> str:
        """``{district}{kind}（{period}）``."""
        district = (self.district or {}).get(f"name_{lang}") or t("reports.district", lang)
        kind = t(f"reports.kind.{self.period.kind}", lang)
        return t(
            "reports.doc_title", lang, district=district, kind=kind, period=self.period.label()
        )

    def category_name(self, code: str, lang: str) -> str:
        """A category code's name in ``lang`` (the code itself when unknown)."""
        hit = self.taxonomy[self.taxonomy["code"] == code]
        if hit.empty:
            return str(code)
        return str(hit.iloc[0]["name_zh" if lang == "zh" else "name_en"])

    def department_name(self, code: str | None, lang: str) -> str:
        """A department code's name in ``lang``."""
        return department_label(code, lang, self.departments_table)

    def grid_name(self, code: str) -> str:
        """``code name`` of a grid (the code alone when it has no name)."""
        name = self.grid_names.get(code, "")
        return f"{code} {name}".strip()


def _headline_row(name: str, m: pd.DataFrame, inc: dict[str, float], p: dict[str, ReportPeriod]):
    def value(key: str) -> float:
        if name == "incidents":
            return float(inc[key])  # NaN: before the data
        v = m.loc[key, name] if key in m.index else np.nan
        return float(v) if pd.notna(v) else float("nan")

    def change(key: str) -> Change:
        k1, k0 = value("period"), value(key)
        if not (np.isfinite(k1) and np.isfinite(k0)):
            return Change(k1, k0, float("nan"), float("nan"))
        if name in ("incidents", "reported", "closed"):
            return count_change(int(k1), p["period"].days, int(k0), p[key].days)
        if name == "overdue_open":  # a stock at the period's end: same exposure
            return count_change(int(value("period")), 1, int(value(key)), 1)
        if name in RATES:
            num, den = {
                "close_rate": ("closed", "due"),
                "on_time_close_rate": ("closed_on_time", "due"),
                "satisfaction_rate": ("satisfied", "evaluated"),
            }[name]
            if "period" not in m.index or key not in m.index:
                return Change(value("period"), value(key), float("nan"), float("nan"))
            return rate_change(
                int(m.loc["period", num]),
                int(m.loc["period", den]),
                int(m.loc[key, num]),
                int(m.loc[key, den]),
            )
        v1, v0 = value("period"), value(key)  # the score: a difference, no test
        return Change(v1, v0, v1 - v0, float("nan"))

    prev, ly = change("previous"), change("last_year")
    return (
        name,
        value("period"),
        value("previous"),
        prev.pct,
        prev.p_value,
        value("last_year"),
        ly.pct,
        ly.p_value,
    )


def headline_numbers(
    engine: Engine, cube: Cube, period: ReportPeriod
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The headline table and the three ``case_metrics(by="all")`` rows behind it."""
    p = {"period": period, "previous": period.previous(), "last_year": period.last_year()}
    rows = []
    for key, per in p.items():
        m = case_metrics(engine, "all", per.start, per.end)
        if len(m):
            rows.append(m.iloc[0].rename(key))
    metrics = pd.DataFrame(rows)
    first, _ = cube.day_range()
    inc = {  # a comparison before the first incident on record is unknown, not zero
        key: sec.cube_total(cube, per.start, per.end)
        if first is not None and per.start >= pd.Timestamp(first)
        else float("nan")
        for key, per in p.items()
    }
    table = pd.DataFrame(
        [_headline_row(name, metrics, inc, p) for name in HEADLINE],
        columns=[
            "metric",
            "value",
            "previous",
            "prev_change",
            "p_prev",
            "last_year",
            "ly_change",
            "p_ly",
        ],
    )
    return table, metrics


def _both(key: str, **params) -> dict[str, str]:
    """The catalogue text in both languages; ``params`` values may be ``{"zh":, "en":}``."""
    out = {}
    for lang in ("zh", "en"):
        vals = {k: (v[lang] if isinstance(v, dict) else v) for k, v in params.items()}
        out[lang] = t(key, lang, **vals)
    return out


def actions_for(r: PeriodReport, limit: int = 7) -> list[dict[str, str]]:
    """The short list of what to act on, in words (both languages), most pressing first."""
    out: list[dict[str, str]] = []
    head = r.headline.set_index("metric")
    inc = head.loc["incidents"]
    cats = r.categories
    names = {lang: (lambda c, lang=lang: r.category_name(c, lang)) for lang in ("zh", "en")}
    if pd.notna(inc["p_prev"]) and inc["p_prev"] < 0.05 and inc["prev_change"] > 0 and len(cats):
        top = cats.iloc[0]["category_code"]
        cat = {lang: names[lang](top) for lang in names}
        out.append(
            _both("reports.act.incidents_up", pct=inc["prev_change"], p=inc["p_prev"], category=cat)
        )
    rising = cats[(cats["p_value"] < 0.05) & (cats["change_pct"] > 0)]
    for code in rising["category_code"].head(2):
        pct = float(rising.set_index("category_code").loc[code, "change_pct"])
        cat = {lang: names[lang](code) for lang in names}
        out.append(_both("reports.act.category_up", category=cat, pct=pct))
    if len(r.hotspots):
        grids = "、".join(r.grid_name(c) for c in r.hotspots["unit_id"].head(3))
        grids_en = ", ".join(r.grid_name(c) for c in r.hotspots["unit_id"].head(3))
        out.append(
            _both("reports.act.hotspots", n=len(r.hotspots), grids={"zh": grids, "en": grids_en})
        )
    if len(r.overdue):
        worst = r.red_grids.iloc[0] if len(r.red_grids) else None
        out.append(
            _both(
                "reports.act.overdue",
                n=len(r.overdue),
                sup=int(r.overdue["supervision_pending"].sum()),
                grid=r.grid_name(worst["grid_code"]) if worst is not None else "-",
                k=int(worst["overdue_open"]) if worst is not None else 0,
            )
        )
    scored = r.departments[r.departments["score"].notna()]
    if len(scored) > 1:
        last = scored.iloc[-1]
        unit = {lang: r.department_name(last["unit"], lang) for lang in ("zh", "en")}
        rate = last["on_time_close_rate"] if pd.notna(last["on_time_close_rate"]) else 0.0
        out.append(
            _both(
                "reports.act.black",
                unit=unit,
                score=float(last["score"]),
                grade=last["grade"] or "-",
                rate=float(rate),
            )
        )
    if r.patrol is not None and len(r.patrol):
        first = r.patrol.iloc[0]
        reason = {"zh": first["reason_zh"], "en": first["reason_en"]}
        out.append(_both("reports.act.patrol", reason=reason))
    for plan in r.plans.itertuples(index=False):
        if plan.verdict not in ("pending", "effective"):
            verdict = {"zh": plan.verdict_zh, "en": plan.verdict_en}
            out.append(_both("reports.act.plan", name=plan.name, verdict=verdict))
    if not out:
        out.append(_both("reports.act.nothing"))
    return out[:limit]


def build_period_report(
    engine: Engine,
    kind: str,
    day: date | datetime | str | None = None,
    *,
    today: date | None = None,
    cube: Cube | None = None,
    with_patrol: bool = True,
) -> PeriodReport:
    """Compute the ``kind`` report of the period holding ``day`` (default: the last complete
    period before ``today``).

    Parameters
    ----------
    engine
        The store.
    kind
        ``daily``, ``weekly`` or ``monthly``.
    cube
        The ``grid`` incident cube, if already loaded (``gis.store.cube.load_cube``).
    with_patrol
        Compute the patrol gaps (reads the period's fixes and incidents).

    Raises
    ------
    InputError
        Unknown kind or unreadable day; the store has no grids.
    """
    period = report_period(kind, day, today=today)
    cube = cube if cube is not None else load_cube(engine, "grid")
    grids = store.read_grids(engine)
    micro = hs.grid_units(grids, "micro")
    names = grids.set_index("code")["name"] if "name" in grids else pd.Series(dtype=object)
    names = names[~names.index.duplicated()]
    headline, metrics = headline_numbers(engine, cube, period)
    patterns = sec.emerging(cube, micro, period)
    lights = sec.overdue(engine, period)
    report = PeriodReport(
        period=period,
        previous=period.previous(),
        last_year=period.last_year(),
        generated_at=pd.Timestamp(datetime.now()).floor("s"),
        district=store.get_meta(engine, "district"),
        headline=headline,
        metrics=metrics,
        categories=sec.category_changes(cube, period),
        trend=sec.trend_steps(cube, period),
        hotspots=sec.new_hotspots(patterns, names),
        patterns=patterns,
        overdue=lights,
        red_grids=sec.red_light_grids(lights, names),
        departments=sec.rankings(engine, period, "department"),
        grids_rank=sec.rankings(engine, period, "grid:l2"),
        patrol=sec.patrol_gaps(engine, grids, period) if with_patrol else None,
        plans=sec.plans_under_way(engine, period),
        micro=micro,
        taxonomy=store.read_table(engine, "taxonomy"),
        departments_table=store.read_table(engine, "departments"),
        grid_names=names,
    )
    report.actions = actions_for(report)
    return report


__all__ = [
    "HEADLINE",
    "LIST_SIZE",
    "PeriodReport",
    "RATES",
    "actions_for",
    "build_period_report",
    "headline_numbers",
]
