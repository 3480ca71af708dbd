"""Joint rectification (联合整治): propose areas, brief leaders, save plans, judge the result.

Pure analysis functions on GeoDataFrames (no Streamlit); only the plan functions
(``save_plan``, ``list_plans``, ``get_plan``, ``update_plan_status``, ``evaluate_plan``) touch the
database, through ``gis.store.plans``. Geometries come and go in EPSG:4326; areas and distances
are computed in the local metric CRS of ``gis.core.crs.local_metric_crs`` (CGCS2000 3-degree
Gauss-Kruger in China). Times are naive local wall-clock times, as stored.

Modules, one concept each:

==================  ==========================================================================
``zones``           proposed areas: hot units joined into zones, PAI, severity, rank, reasons
``trend``           rising / stable / falling from the two halves of a period
``briefs``          the ``Briefing`` of one area: departments to call, peak hours, addresses,
                    grids with their staff, households, open cases
``plans``           saving, listing, reading plans and their status (rows in ``gis.store.plans``)
``evaluation``      rate test against a control, the WDQ in a buffer ring, the verdict
``departments``     taxonomy lookups: severity weights, lead / co-departments, names
``areas``           area coercion, the metric CRS, points inside an area, polygon cleaning
``periods``         incident times and periods (``START:END`` text)
==================  ==========================================================================

The briefing is rendered by ``gis.reports`` (``render_briefing_html``, ``write_briefing_excel``).

Typical use::

    from gis import hotspots as hs, planning, reports
    units = hs.hotspots(hs.count_by_unit(incidents, hs.h3_units(hs.study_area(grids), 9)))
    zones = planning.propose_zones(units, incidents)                 # ranked, reasons in zh/en
    brief = planning.briefing(zones.geometry.iloc[0], incidents, grids=grids, staff=staff)
    reports.render_briefing_html(brief, "zh", path="brief.html")
    reports.write_briefing_excel(brief, "brief.xlsx")
    plan_id = planning.save_plan(engine, name=..., area=..., period_start=..., period_end=...,
                                 departments=brief.departments_to_call["code"], user=leader)
    ev = planning.evaluate_plan(engine, plan_id, buffer_m=300)       # once the period passed
    ev.verdict, ev.wdq, ev.to_dict()
"""

from gis.planning.areas import area_geometry
from gis.planning.briefs import (
    PEAK_MIN_INCIDENTS,
    PEAK_SHARE,
    WEEKDAYS,
    Briefing,
    briefing,
    peak_window,
    window_text,
)
from gis.planning.departments import MIN_CATEGORY_SHARE
from gis.planning.evaluation import (
    ALPHA,
    VERDICTS,
    Evaluation,
    RateTest,
    evaluate,
    evaluate_plan,
    evaluate_plans,
    plan_periods,
    rate_ratio_test,
    store_district,
    verdict_for,
    wdq,
)
from gis.planning.periods import default_plan_period, parse_period
from gis.planning.plans import get_plan, list_plans, save_plan, update_plan_status
from gis.planning.trend import TREND_ALPHA, TREND_MIN_CHANGE, TREND_ZH, TRENDS, Trend, trend_class
from gis.planning.zones import (
    EDGE_MIN_M2,
    EMERGING_COLUMNS,
    EMERGING_HOT_CLASSES,
    RANK_WEIGHTS,
    ZONE_COLUMNS,
    hot_unit_mask,
    propose_zones,
)

__all__ = [
    "ALPHA",
    "EDGE_MIN_M2",
    "EMERGING_COLUMNS",
    "EMERGING_HOT_CLASSES",
    "MIN_CATEGORY_SHARE",
    "PEAK_MIN_INCIDENTS",
    "PEAK_SHARE",
    "RANK_WEIGHTS",
    "TRENDS",
    "TREND_ALPHA",
    "TREND_MIN_CHANGE",
    "TREND_ZH",
    "VERDICTS",
    "WEEKDAYS",
    "ZONE_COLUMNS",
    "Briefing",
    "Evaluation",
    "RateTest",
    "Trend",
    "area_geometry",
    "briefing",
    "evaluate",
    "evaluate_plan",
    "evaluate_plans",
    "get_plan",
    "list_plans",
    "default_plan_period",
    "parse_period",
    "peak_window",
    "plan_periods",
    "hot_unit_mask",
    "propose_zones",
    "rate_ratio_test",
    "save_plan",
    "store_district",
    "trend_class",
    "update_plan_status",
    "verdict_for",
    "wdq",
    "window_text",
]
