"""Joint rectification (联合整治): propose areas, brief leaders, save plans, judge the result.

Pure analysis functions on GeoDataFrames (no Streamlit); only the plan functions
(``save_plan``, ``list_plans``, ``get_plan``, ``update_plan_status``, ``evaluate_plan``) touch the
database. Geometries come and go in EPSG:4326; areas and distances are computed in the local
metric CRS of ``gis.core.crs.local_metric_crs`` (CGCS2000 3-degree Gauss-Kruger in China). Times are
naive local wall-clock times, as stored.

Typical use::

    from gis import hotspots as hs, planning
    units = hs.hotspots(hs.count_by_unit(incidents, hs.h3_units(hs.study_area(grids), 9)))
    zones = planning.propose_zones(units, incidents)                 # ranked, reasons in zh/en
    brief = planning.briefing(zones.geometry.iloc[0], incidents, grids=grids, staff=staff)
    brief.to_html("zh", path="brief.html"); brief.to_excel("brief.xlsx")
    plan_id = planning.save_plan(engine, name=..., area=..., period_start=..., period_end=...,
                                 departments=brief.departments_to_call["code"], user=leader)
    ev = planning.evaluate_plan(engine, plan_id, buffer_m=300)       # once the period passed
    ev.verdict, ev.wdq, ev.to_dict()

Proposed areas
--------------
Hot units are those with ``gi_bin >= min_bin`` (Gi* bins after the False Discovery Rate
correction, see ``gis.hotspots.gi_star``) or an *active* emerging hot spot class
(``EMERGING_HOT_CLASSES``: new, consecutive, intensifying, persistent, sporadic, oscillating;
diminishing and historical hot spots are not proposed). Hot units sharing an edge (a common
boundary of at least ~5 m: rook contiguity, so squares touching only at a corner stay apart) are
joined into zones: connected components of that graph (``scipy.sparse.csgraph``). Each zone is
dissolved, its small holes filled and simplified in metric units, optionally tightened to the
(concave) hull of its incidents, and dropped when smaller than ``min_area_m2`` or holding fewer
than ``min_incidents`` incidents.

Per zone: incidents, severity-weighted count (taxonomy ``severity_weight``), area, **PAI** (share
of the district's incidents / share of the district's area), **trend** (see ``trend_class``),
categories and departments involved, optional **patrol deficit**, then a composite score
(``RANK_WEIGHTS``), a rank and ``reason_zh`` / ``reason_en``.

Trend
-----
``trend_class`` splits the period into two halves of equal length and tests the second half's
count against the first as a conditional Poisson (binomial) test: with ``n1 + n2`` incidents
and equal exposure, ``n2 ~ Binomial(n1 + n2, 1/2)`` under "no change" (exact two-sided p,
``scipy.stats.binomtest``). ``rising`` when p < ``TREND_ALPHA`` and ``n2/n1 >= 1 +
TREND_MIN_CHANGE``; ``falling`` when p < ``TREND_ALPHA`` and ``n2/n1 <= 1 / (1 +
TREND_MIN_CHANGE)``; otherwise ``stable`` (a real but small change is stable: with thousands of
incidents a 3 % drift is significant and of no interest to a leader).

Evaluation: rate test and the weighted displacement quotient
------------------------------------------------------------
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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from scipy import special, stats
from scipy.sparse.csgraph import connected_components

from gis.core.crs import local_metric_crs
from gis.core.errors import InputError

STORAGE_EPSG = 4326

#: Emerging hot spot classes proposed as zones (ArcGIS names; matched case-insensitively in a
#: column ``emerging``, ``emerging_class`` or ``pattern``; "_" and "-" read as spaces).
EMERGING_HOT_CLASSES = (
    "new hot spot",
    "consecutive hot spot",
    "intensifying hot spot",
    "persistent hot spot",
    "sporadic hot spot",
    "oscillating hot spot",
)
_EMERGING_HOT_ZH = ("新热点", "连续热点", "加剧热点", "持续热点", "零星热点", "振荡热点")
EMERGING_COLUMNS = ("emerging", "emerging_class", "pattern")

#: Units sharing at least this much of a 1 m wide overlap band (~ metres of common edge) are
#: neighbours; corner contact (~1 m²) is not.
EDGE_MIN_M2 = 5.0
#: Trend: significance level and smallest relative change read as rising / falling.
TREND_ALPHA = 0.05
TREND_MIN_CHANGE = 0.2
#: A category counts as "involved" in a zone or area from this share of its incidents.
MIN_CATEGORY_SHARE = 0.05
#: Composite ranking score: weights of the percentile ranks (among the zones) of the
#: severity-weighted count, the PAI and the number of departments, of the trend (rising 1,
#: stable 0.5, falling 0) and of the patrol deficit (0..1). Without presence data the patrol
#: weight is dropped and the others rescaled.
RANK_WEIGHTS = {"severity": 0.35, "pai": 0.25, "departments": 0.15, "trend": 0.10, "patrol": 0.15}
#: Peak window: the shortest run of hours holding at least this share of a category's incidents.
PEAK_SHARE = 0.6
#: Categories with fewer incidents than this get no peak window.
PEAK_MIN_INCIDENTS = 20
#: Evaluation significance level.
ALPHA = 0.05

TRENDS = ("rising", "stable", "falling")
TREND_ZH = {"rising": "上升", "stable": "平稳", "falling": "下降", "too few": "样本太少"}

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

_WEEKDAYS = {
    "zh": ["周一", "周二", "周三", "周四", "周五", "周六", "周日"],
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
}
_OPEN_EXCLUDED = frozenset({"closed"})


# --------------------------------------------------------------------------------------------
# Small helpers


def _metric_crs(geoms) -> pyproj.CRS:
    series = geoms if isinstance(geoms, gpd.GeoSeries) else gpd.GeoSeries(geoms, crs=STORAGE_EPSG)
    return local_metric_crs(series)


def _to_metric(geoms, crs: pyproj.CRS) -> np.ndarray:
    return gpd.GeoSeries(np.asarray(geoms, dtype=object), crs=STORAGE_EPSG).to_crs(crs).to_numpy()


def _to_lonlat(geoms, crs: pyproj.CRS) -> np.ndarray:
    return gpd.GeoSeries(np.asarray(geoms, dtype=object), crs=crs).to_crs(STORAGE_EPSG).to_numpy()


def _points_metric(incidents: gpd.GeoDataFrame, crs: pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
    """Metric x, y of the incident points (NaN where missing)."""
    geoms = incidents.geometry
    if geoms.crs is not None and geoms.crs.to_epsg() != STORAGE_EPSG:
        geoms = geoms.to_crs(STORAGE_EPSG)
    arr = geoms.to_numpy()
    ok = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    lon = np.full(len(arr), np.nan)
    lat = np.full(len(arr), np.nan)
    lon[ok], lat[ok] = shapely.get_x(arr[ok]), shapely.get_y(arr[ok])
    tr = pyproj.Transformer.from_crs(STORAGE_EPSG, crs, always_xy=True)
    x, y = tr.transform(lon, lat)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def _inside(geom: shapely.Geometry, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Points inside ``geom`` (same CRS), with a bounding-box prefilter."""
    out = np.zeros(len(x), dtype=bool)
    if geom is None or geom.is_empty:
        return out
    minx, miny, maxx, maxy = geom.bounds
    cand = np.flatnonzero((x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy))
    if len(cand):
        shapely.prepare(geom)
        out[cand] = shapely.intersects_xy(geom, x[cand], y[cand])
    return out


def _times(incidents: pd.DataFrame) -> pd.Series:
    if "occurred_at" not in incidents:
        raise InputError("incidents need an occurred_at column")
    return pd.to_datetime(incidents["occurred_at"])


def _period(incidents: pd.DataFrame, period) -> tuple[pd.Timestamp, pd.Timestamp]:
    if period is not None:
        start, end = (pd.Timestamp(v) for v in period)
        if not end > start:
            raise InputError(f"period end {end} is not after its start {start}")
        return start, end
    t = _times(incidents)
    if t.notna().sum() == 0:
        raise InputError("no incident times to derive a period from; pass period=(start, end)")
    return t.min(), t.max() + pd.Timedelta(seconds=1)


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Only the polygon parts of a geometry (a MultiPolygon or Polygon, possibly empty)."""
    if geom is None or geom.is_empty:
        return shapely.Polygon()
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _fill_holes(geom: shapely.Geometry, max_hole_m2: float) -> shapely.Geometry:
    """Drop interior rings smaller than ``max_hole_m2`` (metric CRS)."""

    def fill(poly: shapely.Polygon) -> shapely.Polygon:
        keep = [r for r in poly.interiors if shapely.Polygon(r).area >= max_hole_m2]
        return shapely.Polygon(poly.exterior, keep)

    geom = _polygonal(geom)
    if geom.is_empty or max_hole_m2 <= 0:
        return geom
    if geom.geom_type == "Polygon":
        return fill(geom)
    return shapely.MultiPolygon([fill(p) for p in geom.geoms])


def _clean(geom: shapely.Geometry, max_hole_m2: float, simplify_m: float) -> shapely.Geometry:
    """buffer(0), small holes filled, simplified (metric CRS), polygon parts only."""
    geom = _polygonal(shapely.make_valid(geom)).buffer(0)
    geom = _fill_holes(geom, max_hole_m2)
    if simplify_m > 0:
        geom = shapely.simplify(geom, simplify_m, preserve_topology=True)
    return _polygonal(geom.buffer(0))


def area_geometry(area, grids: pd.DataFrame | None = None) -> shapely.Geometry:
    """One (multi)polygon in EPSG:4326 from whatever a user picked.

    Parameters
    ----------
    area
        A shapely geometry (EPSG:4326), WKT text, a GeoSeries / GeoDataFrame (unioned, any CRS),
        or a sequence of grid codes (their union; needs ``grids``).
    grids
        The grid layer (``code``, geometry in EPSG:4326) for grid codes.

    Raises
    ------
    InputError
        Empty or non-polygonal area, unknown grid codes, codes without ``grids``.
    """
    if isinstance(area, str):
        try:
            area = shapely.from_wkt(area)
        except Exception as exc:  # shapely raises its own GEOSException
            raise InputError(f"cannot read the area as WKT ({exc})") from exc
    if isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):
        gs = area.geometry if isinstance(area, gpd.GeoDataFrame) else area
        if gs.crs is not None and gs.crs.to_epsg() != STORAGE_EPSG:
            gs = gs.to_crs(STORAGE_EPSG)
        geoms = gs.to_numpy()
        geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
        area = shapely.union_all(shapely.make_valid(geoms)) if len(geoms) else shapely.Polygon()
    elif not isinstance(area, shapely.Geometry):
        codes = [str(c).strip() for c in area if str(c).strip()]
        if grids is None:
            raise InputError("choosing grids by code needs the grid layer")
        sel = grids[grids["code"].astype(str).isin(codes)]
        unknown = sorted(set(codes) - set(sel["code"].astype(str)))
        if unknown:
            raise InputError(f"unknown grid code(s): {', '.join(unknown[:10])}")
        area = shapely.union_all(shapely.make_valid(sel.geometry.to_numpy()))
    geom = _polygonal(area)
    if geom.is_empty:
        raise InputError("the area is empty or not a polygon")
    return geom


# --------------------------------------------------------------------------------------------
# Taxonomy lookups


@dataclass(frozen=True)
class _Tax:
    weight: dict[str, float]
    lead: dict[str, str]
    co: dict[str, list[str]]
    name_zh: dict[str, str]
    name_en: dict[str, str]
    dept_zh: dict[str, str]
    dept_en: dict[str, str]
    joint_team: dict[str, str]

    def cat_name(self, code: str, lang: str) -> str:
        names = self.name_zh if lang == "zh" else self.name_en
        return names.get(code, str(code))

    def dept_name(self, code: str, lang: str) -> str:
        names = self.dept_zh if lang == "zh" else self.dept_en
        return names.get(code, str(code))


def _tax(taxonomy: pd.DataFrame | None, departments: pd.DataFrame | None = None) -> _Tax:
    from gis.taxonomy import read_departments, read_taxonomy

    departments = read_departments() if departments is None else departments
    taxonomy = read_taxonomy(departments=departments) if taxonomy is None else taxonomy
    codes = taxonomy["code"].astype(str)
    co = taxonomy.get("co_departments", pd.Series("", index=taxonomy.index)).fillna("")
    weight = pd.to_numeric(taxonomy.get("severity_weight", 1), errors="coerce")
    weight = pd.Series(weight, index=taxonomy.index).fillna(1.0)
    return _Tax(
        weight=dict(zip(codes, weight.astype(float), strict=True)),
        lead=dict(zip(codes, taxonomy["department"].astype(str), strict=True)),
        co={c: [d for d in str(v).split(";") if d] for c, v in zip(codes, co, strict=True)},
        name_zh=dict(zip(codes, taxonomy["name_zh"].astype(str), strict=True)),
        name_en=dict(zip(codes, taxonomy["name_en"].astype(str), strict=True)),
        dept_zh=dict(zip(departments["code"], departments["name_zh"], strict=True)),
        dept_en=dict(zip(departments["code"], departments["name_en"], strict=True)),
        joint_team=dict(
            zip(
                departments["code"],
                departments.get("joint_team", pd.Series("", index=departments.index)).fillna(""),
                strict=True,
            )
        ),
    )


def _main_categories(codes: pd.Series) -> pd.Series:
    """Counts of the categories with at least ``MIN_CATEGORY_SHARE`` of the incidents (the top
    one always), largest first."""
    counts = codes.astype(str).value_counts()
    if counts.empty:
        return counts
    keep = counts[counts >= MIN_CATEGORY_SHARE * counts.sum()]
    return keep if len(keep) else counts.iloc[:1]


def _departments_of(categories: Iterable[str], tax: _Tax) -> tuple[list[str], list[str]]:
    """(lead departments, co-departments not leading) of some categories, in first-seen order."""
    lead: list[str] = []
    co: list[str] = []
    for c in categories:
        d = tax.lead.get(c)
        if d and d not in lead:
            lead.append(d)
    for c in categories:
        for d in tax.co.get(c, []):
            if d not in lead and d not in co:
                co.append(d)
    return lead, co


# --------------------------------------------------------------------------------------------
# Trend


@dataclass(frozen=True)
class Trend:
    """Second half of the period against the first (see the module docstring).

    ``ratio`` = second / first (inf when the first half is empty), ``p_value`` exact two-sided,
    ``trend`` one of ``rising``, ``stable``, ``falling`` or ``too few`` (no incidents)."""

    first_half: int
    second_half: int
    ratio: float
    p_value: float
    trend: str

    def text(self, lang: str = "en") -> str:
        """E.g. "rising (+38 % in the second half)" / "上升（后半期+38%）"."""
        if self.trend == "too few":
            return TREND_ZH["too few"] if lang == "zh" else "too few incidents"
        if math.isinf(self.ratio):
            change = "new" if lang == "en" else "新出现"
        else:
            change = f"{(self.ratio - 1) * 100:+.0f}%"
        if lang == "zh":
            return f"{TREND_ZH[self.trend]}（后半期{change}）"
        return f"{self.trend} ({change.replace('%', ' %')} in the second half)"


def trend_class(times, start, end) -> Trend:
    """Rising / stable / falling from the counts of the two halves of ``[start, end)``.

    Parameters
    ----------
    times
        Occurrence times (naive local); those outside the period are ignored.
    start, end
        The period.
    """
    t = pd.to_datetime(pd.Series(np.asarray(times))).dropna()
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    mid = start + (end - start) / 2
    n1 = int(((t >= start) & (t < mid)).sum())
    n2 = int(((t >= mid) & (t < end)).sum())
    n = n1 + n2
    if n == 0:
        return Trend(0, 0, float("nan"), 1.0, "too few")
    p = float(stats.binomtest(n2, n, 0.5).pvalue)
    ratio = n2 / n1 if n1 else float("inf")
    trend = "stable"
    if p < TREND_ALPHA and ratio >= 1 + TREND_MIN_CHANGE:
        trend = "rising"
    elif p < TREND_ALPHA and ratio <= 1 / (1 + TREND_MIN_CHANGE):
        trend = "falling"
    return Trend(n1, n2, float(ratio), p, trend)


# --------------------------------------------------------------------------------------------
# Proposed areas


def _hot_mask(units: pd.DataFrame, min_bin: int) -> tuple[np.ndarray, np.ndarray]:
    """(hot mask, emerging class text per unit or empty)."""
    bins = pd.to_numeric(units["gi_bin"], errors="coerce").fillna(0).to_numpy()
    hot = bins >= min_bin
    col = next((c for c in EMERGING_COLUMNS if c in units.columns), None)
    emerging = np.full(len(units), "", dtype=object)
    if col is not None:
        text = units[col].astype(object).where(units[col].notna(), "").astype(str)
        norm = text.str.lower().str.replace(r"[_\-]+", " ", regex=True).str.strip()
        active = norm.isin(EMERGING_HOT_CLASSES) | text.isin(_EMERGING_HOT_ZH)
        hot |= active.to_numpy()
        emerging = np.where(active.to_numpy(), text.to_numpy(), "")
    return hot, emerging


def _edge_graph(geoms_m: np.ndarray) -> sp.csr_matrix:
    """Units sharing an edge (not just a corner), as a symmetric sparse matrix."""
    n = len(geoms_m)
    if n == 0:
        return sp.csr_matrix((0, 0))
    tree = shapely.STRtree(geoms_m)
    i, j = tree.query(geoms_m, predicate="dwithin", distance=1.0)
    keep = i < j
    i, j = i[keep], j[keep]
    if len(i):
        fat = shapely.buffer(geoms_m, 0.5, quad_segs=2)
        shared = shapely.area(shapely.intersection(fat[i], fat[j]))
        ok = shared >= EDGE_MIN_M2
        i, j = i[ok], j[ok]
    data = np.ones(2 * len(i))
    return sp.csr_matrix((data, (np.r_[i, j], np.r_[j, i])), shape=(n, n))


def _tighten(zone: shapely.Geometry, x: np.ndarray, y: np.ndarray, ratio: float, buffer_m: float):
    """The zone cut down to the concave hull of its incidents (buffered by ``buffer_m``)."""
    if len(x) < 3:
        return zone
    pts = np.unique(np.round(np.column_stack([x, y]), 1), axis=0)
    if len(pts) < 3:
        return zone
    hull = shapely.concave_hull(shapely.multipoints(pts), ratio=ratio)
    tight = shapely.intersection(zone, hull.buffer(buffer_m))
    tight = _polygonal(tight)
    return tight if not tight.is_empty else zone


def _pct_rank(values: np.ndarray) -> np.ndarray:
    if len(values) == 0:
        return values
    return pd.Series(values).rank(pct=True, method="average").to_numpy()


def _patrol_dwell(
    presence: pd.DataFrame,
    unit_ids: np.ndarray,
    members: list[np.ndarray],
    zones_m: list[shapely.Geometry],
    crs: pyproj.CRS,
) -> tuple[np.ndarray, float]:
    """Patrol dwell (s) per zone and in total, from presence per unit.

    Presence ids equal to the analysis units' ids: a zone gets the dwell of its member units.
    Otherwise a presence frame with geometry is spread over the zones by area share.
    """
    if "dwell_s" not in presence or "unit_id" not in presence:
        raise InputError("presence needs unit_id and dwell_s columns (gis.patrol.presence)")
    per_unit = presence.groupby(presence["unit_id"].astype(str))["dwell_s"].sum()
    total = float(per_unit.sum())
    ids = pd.Index(unit_ids.astype(str))
    if ids.isin(per_unit.index).any():
        dwell = per_unit.reindex(ids).fillna(0.0).to_numpy()
        return np.array([dwell[m].sum() for m in members]), total
    if not isinstance(presence, gpd.GeoDataFrame):
        raise InputError(
            "presence unit ids do not match the analysis units; pass presence per the same "
            "units, or a GeoDataFrame with the presence units' polygons"
        )
    geo = presence.dissolve(by=presence["unit_id"].astype(str), aggfunc={"dwell_s": "sum"})
    geoms = _to_metric(geo.geometry.to_numpy(), crs)
    area = shapely.area(geoms)
    dwell = geo["dwell_s"].to_numpy(dtype=float)
    out = []
    for z in zones_m:
        share = shapely.area(shapely.intersection(geoms, z)) / np.where(area > 0, area, 1.0)
        out.append(float((dwell * share).sum()))
    return np.array(out), total


ZONE_COLUMNS = [
    "rank",
    "zone_id",
    "n_units",
    "unit_ids",
    "max_gi_bin",
    "emerging",
    "incidents",
    "severity_weighted",
    "area_m2",
    "incident_share",
    "area_share",
    "pai",
    "first_half",
    "second_half",
    "trend_ratio",
    "trend_p",
    "trend",
    "n_categories",
    "categories",
    "top_category",
    "n_departments",
    "departments",
    "lead_departments",
    "patrol_dwell_h",
    "patrol_share",
    "patrol_deficit",
    "score",
    "reason_zh",
    "reason_en",
]


def propose_zones(
    units_with_gi: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame,
    *,
    min_bin: int = 2,
    min_incidents: int = 20,
    min_area_m2: float = 10_000.0,
    tighten: bool = False,
    tighten_ratio: float = 0.3,
    tighten_buffer_m: float = 30.0,
    max_hole_m2: float | None = None,
    simplify_m: float = 2.0,
    taxonomy: pd.DataFrame | None = None,
    departments: pd.DataFrame | None = None,
    presence: pd.DataFrame | None = None,
    period: tuple | None = None,
    top: int | None = None,
) -> gpd.GeoDataFrame:
    """Candidate areas for a joint rectification, ranked, with the rank explained in words.

    Parameters
    ----------
    units_with_gi
        ``gis.hotspots.hotspots(...)`` output: ``unit_id, gi_bin, geometry`` (EPSG:4326),
        usually ``count``; optional emerging class column (``emerging``/``emerging_class``/
        ``pattern``, see ``EMERGING_HOT_CLASSES``). All units (hot or not) make the district
        for PAI: its area is the sum of the units' areas.
    incidents
        The incidents the units were counted from: points (EPSG:4326), ``occurred_at``,
        ``category_code``.
    min_bin
        Smallest Gi* bin that makes a unit hot (2 = 95 % confidence after FDR).
    min_incidents, min_area_m2
        Zones with fewer incidents or a smaller area (m², after cleaning/tightening) are dropped.
    tighten
        Cut each zone down to the concave hull (``tighten_ratio``, 0 = tightest, 1 = convex) of
        its incidents, buffered by ``tighten_buffer_m`` metres.
    max_hole_m2
        Holes smaller than this (m²) are filled; default 2.5 x the median hot unit area.
    simplify_m
        Douglas-Peucker tolerance in metres (topology preserved).
    taxonomy, departments
        Taxonomy and departments tables (default: ``data/taxonomy.csv``, ``data/departments.csv``).
    presence
        Optional patrol presence (``gis.patrol.presence``: ``unit_id, dwell_s``) per the same
        units, or a GeoDataFrame of presence units (spread by area). Adds ``patrol_dwell_h``,
        ``patrol_share`` (share of all patrol time) and ``patrol_deficit = clip(1 -
        patrol_share / incident_share, 0, 1)``: 0.8 means 80 % less patrol time than the
        zone's share of incidents would give it.
    period
        ``(start, end)`` for the trend; default the incidents' first to last time.
    top
        Keep only the first ``top`` zones.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per zone, best first, columns ``ZONE_COLUMNS`` + geometry (EPSG:4326):
        ``pai`` = incident_share / area_share; ``trend`` rising/stable/falling (``trend_class``);
        ``categories`` / ``departments`` ";"-joined codes of the categories holding at least
        ``MIN_CATEGORY_SHARE`` of the zone's incidents and their lead + co-departments;
        ``score`` the composite of ``RANK_WEIGHTS``; ``reason_zh`` / ``reason_en``. Patrol
        columns are NaN without ``presence``. ``attrs``: ``metric_epsg``, ``period``,
        ``district_incidents``, ``district_area_m2``, ``hot_units``.
    """
    for col in ("unit_id", "gi_bin"):
        if col not in units_with_gi.columns:
            raise InputError(f"units need a {col!r} column (from gis.hotspots.hotspots)")
    tax = _tax(taxonomy, departments)
    start, end = _period(incidents, period)
    units = units_with_gi
    if units.crs is not None and units.crs.to_epsg() != STORAGE_EPSG:
        units = units.to_crs(STORAGE_EPSG)
    crs = _metric_crs(units.geometry)
    units_m = _to_metric(units.geometry.to_numpy(), crs)
    unit_area = shapely.area(units_m)
    district_area = float(unit_area.sum())
    hot, emerging = _hot_mask(units, min_bin)
    hot_idx = np.flatnonzero(hot)

    x, y = _points_metric(incidents, crs)
    times = _times(incidents).to_numpy()
    cats = (
        incidents["category_code"].astype(str).to_numpy() if "category_code" in incidents else None
    )
    district = shapely.union_all(units_m)
    in_district = _inside(district, x, y)
    n_total = int(in_district.sum())
    attrs = {
        "metric_epsg": crs.to_epsg(),
        "period": (start, end),
        "district_incidents": n_total,
        "district_area_m2": district_area,
        "hot_units": int(len(hot_idx)),
    }
    empty = gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in ZONE_COLUMNS},
        geometry=gpd.GeoSeries([], crs=STORAGE_EPSG),
    )
    empty.attrs.update(attrs)
    if len(hot_idx) == 0:
        return empty

    graph = _edge_graph(units_m[hot_idx])
    n_comp, label = connected_components(graph, directed=False)
    hole = max_hole_m2 if max_hole_m2 is not None else 2.5 * float(np.median(unit_area[hot_idx]))
    bins = pd.to_numeric(units["gi_bin"], errors="coerce").fillna(0).to_numpy()
    ids = units["unit_id"].astype(str).to_numpy()

    rows, geoms_m, members = [], [], []
    for k in range(n_comp):
        member = hot_idx[label == k]
        zone = _clean(shapely.union_all(units_m[member]), hole, simplify_m)
        mask = _inside(zone, x, y)
        if tighten and mask.any():
            zone = _clean(
                _tighten(zone, x[mask], y[mask], tighten_ratio, tighten_buffer_m), hole, simplify_m
            )
            mask = _inside(zone, x, y)
        n = int(mask.sum())
        area_m2 = float(zone.area)
        if n < min_incidents or area_m2 < min_area_m2 or zone.is_empty:
            continue
        zone_cats = pd.Series(cats[mask] if cats is not None else np.array([], dtype=object))
        weights = zone_cats.map(tax.weight).fillna(1.0).to_numpy() if cats is not None else None
        main = _main_categories(zone_cats) if cats is not None else pd.Series(dtype=int)
        lead, co = _departments_of(main.index, tax)
        tr = trend_class(times[mask], start, end)
        em = sorted({e for e in emerging[member] if e})
        rows.append(
            {
                "n_units": len(member),
                "unit_ids": ";".join(ids[member]),
                "max_gi_bin": int(bins[member].max()),
                "emerging": ";".join(em),
                "incidents": n,
                "severity_weighted": float(weights.sum()) if weights is not None else float(n),
                "area_m2": area_m2,
                "incident_share": n / n_total if n_total else np.nan,
                "area_share": area_m2 / district_area if district_area else np.nan,
                "first_half": tr.first_half,
                "second_half": tr.second_half,
                "trend_ratio": tr.ratio,
                "trend_p": tr.p_value,
                "trend": tr.trend,
                "n_categories": len(main),
                "categories": ";".join(main.index),
                "top_category": main.index[0] if len(main) else None,
                "n_departments": len(lead) + len(co),
                "departments": ";".join(lead + co),
                "lead_departments": ";".join(lead),
            }
        )
        geoms_m.append(zone)
        members.append(member)
    if not rows:
        return empty
    out = pd.DataFrame(rows)
    out["pai"] = out["incident_share"] / out["area_share"]

    if presence is not None:
        dwell, total_dwell = _patrol_dwell(presence, ids, members, geoms_m, crs)
        out["patrol_dwell_h"] = dwell / 3600.0
        out["patrol_share"] = dwell / total_dwell if total_dwell > 0 else 0.0
        ratio = out["patrol_share"] / out["incident_share"].replace(0, np.nan)
        out["patrol_deficit"] = np.clip(1.0 - ratio.fillna(1.0), 0.0, 1.0)
    else:
        out["patrol_dwell_h"] = out["patrol_share"] = out["patrol_deficit"] = np.nan

    parts = {
        "severity": _pct_rank(out["severity_weighted"].to_numpy(float)),
        "pai": _pct_rank(out["pai"].to_numpy(float)),
        "departments": _pct_rank(out["n_departments"].to_numpy(float)),
        "trend": out["trend"].map({"rising": 1.0, "stable": 0.5, "falling": 0.0}).fillna(0.5),
    }
    weights_used = dict(RANK_WEIGHTS)
    if presence is not None:
        parts["patrol"] = out["patrol_deficit"].to_numpy(float)
    else:
        weights_used.pop("patrol")
    wsum = sum(weights_used.values())
    contrib = {k: np.asarray(parts[k], float) * w / wsum for k, w in weights_used.items()}
    out["score"] = sum(contrib.values())
    contrib_frame = pd.DataFrame(contrib)
    order = np.lexsort((-out["severity_weighted"].to_numpy(), -out["score"].to_numpy()))
    out = out.iloc[order].reset_index(drop=True)
    contrib_frame = contrib_frame.iloc[order].reset_index(drop=True)
    geoms_m = [geoms_m[i] for i in order]
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    out.insert(1, "zone_id", [f"Z{r:02d}" for r in out["rank"]])
    out["reason_zh"], out["reason_en"] = _zone_reasons(out, contrib_frame, tax)
    if top is not None:
        out, geoms_m = out.iloc[: int(top)], geoms_m[: int(top)]
    result = gpd.GeoDataFrame(
        out[ZONE_COLUMNS], geometry=list(_to_lonlat(geoms_m, crs)), crs=STORAGE_EPSG
    )
    result.attrs.update(attrs)
    return result


_FACTOR_NAMES = {
    "severity": ("严重度加权事件数", "the severity-weighted count"),
    "pai": ("事件集中度(PAI)", "the concentration (PAI)"),
    "departments": ("涉及部门多", "the number of departments involved"),
    "trend": ("趋势", "the trend"),
    "patrol": ("巡查不足", "the patrol deficit"),
}


def _zone_reasons(out: pd.DataFrame, contrib: pd.DataFrame, tax: _Tax) -> tuple[list, list]:
    zh_all, en_all = [], []
    for i, r in enumerate(out.itertuples(index=False)):
        cats = [c for c in str(r.categories).split(";") if c]
        deps = [d for d in str(r.departments).split(";") if d]
        tr = Trend(
            int(r.first_half), int(r.second_half), float(r.trend_ratio), float(r.trend_p), r.trend
        )
        top2 = contrib.iloc[i].sort_values(ascending=False).index[:2]
        inc_pct = 100 * float(r.incident_share)
        area_pct = 100 * float(r.area_share)
        zh = (
            f"第{r.rank}名：事件{r.incidents:,}件（严重度加权{r.severity_weighted:,.0f}），"
            f"PAI {r.pai:.1f}（{area_pct:.1f}%的面积集中了{inc_pct:.1f}%的事件），"
            f"{tr.text('zh')}，涉及{len(cats)}类问题"
            f"（{'、'.join(tax.cat_name(c, 'zh') for c in cats[:4])}）"
            f"、{len(deps)}个部门（{'、'.join(tax.dept_name(d, 'zh') for d in deps[:6])}）"
        )
        en = (
            f"#{r.rank}: {r.incidents:,} incidents (severity-weighted {r.severity_weighted:,.0f}), "
            f"PAI {r.pai:.1f} ({inc_pct:.1f} % of incidents on {area_pct:.1f} % of the area), "
            f"{tr.text('en')}, {len(cats)} "
            f"categor{'y' if len(cats) == 1 else 'ies'} "
            f"({', '.join(tax.cat_name(c, 'en') for c in cats[:4])}) for {len(deps)} "
            f"department{'' if len(deps) == 1 else 's'} "
            f"({', '.join(tax.dept_name(d, 'en') for d in deps[:6])})"
        )
        if not pd.isna(r.patrol_deficit):
            zh += f"，巡查时间比事件占比低{100 * r.patrol_deficit:.0f}%"
            en += f", patrol time {100 * r.patrol_deficit:.0f} % below its share of incidents"
        if r.emerging:
            zh += f"，时空趋势：{r.emerging}"
            en += f", emerging: {r.emerging}"
        zh += f"；排名主要因为{'和'.join(_FACTOR_NAMES[k][0] for k in top2)}"
        en += f"; ranked mostly by {' and '.join(_FACTOR_NAMES[k][1] for k in top2)}"
        zh_all.append(zh)
        en_all.append(en)
    return zh_all, en_all


# --------------------------------------------------------------------------------------------
# Briefing


def peak_window(hours, share: float = PEAK_SHARE) -> tuple[int, int, float]:
    """The shortest run of whole hours (wrapping past midnight) holding ``share`` of the events.

    Parameters
    ----------
    hours
        Hour of day (0-23) of each event.
    share
        Fraction of the events the window must hold.

    Returns
    -------
    (start_hour, end_hour, covered)
        ``end_hour`` exclusive (0..24; a window may wrap, e.g. (20, 2)); ``covered`` the share it
        holds. Among windows of the same length the fullest wins (the earliest on ties).
        ``(0, 24, 1.0)`` for no events.
    """
    h = np.asarray(hours, dtype=np.int64) % 24
    counts = np.bincount(h, minlength=24).astype(float)
    total = counts.sum()
    if total == 0:
        return 0, 24, 1.0
    doubled = np.concatenate([[0.0], np.cumsum(np.r_[counts, counts])])
    for length in range(1, 25):
        sums = doubled[np.arange(24) + length] - doubled[np.arange(24)]
        best = int(np.argmax(sums))
        if sums[best] >= share * total - 1e-9:
            end = best + length
            return best, end if end <= 24 else end - 24, float(sums[best] / total)
    return 0, 24, 1.0  # pragma: no cover - length 24 always holds everything


def _hhmm(h: int) -> str:
    return f"{h:02d}:00"


def window_text(start: int, end: int) -> str:
    """``16:00–22:00``; a wrapping window ``20:00–02:00``."""
    return f"{_hhmm(start)}–{_hhmm(end)}"


@dataclass
class Briefing:
    """Everything a leader needs about one area before a joint operation.

    Attributes
    ----------
    title_zh, title_en
        A heading.
    area
        The area (EPSG:4326); ``area_m2`` its metric area.
    period
        ``(start, end)`` of the incidents looked at.
    n_incidents, severity_weighted
        Incidents in the area and their severity-weighted count.
    by_category
        ``category_code, name_zh, name_en, incidents, share, severity_weighted, department,
        co_departments, peak_start, peak_end, peak_share, peak_zh, peak_en``, largest first.
    by_department
        Incidents per responsible (lead) department: ``department, name_zh, name_en,
        incidents, share``.
    departments_to_call
        ``code, name_zh, name_en, role (lead/co), joint_team (4/X), categories_zh,
        categories_en, incidents`` for the categories with at least ``MIN_CATEGORY_SHARE``.
    hour_weekday
        Incidents by hour (rows 0-23) x weekday (columns 0 = Monday .. 6).
    top_addresses
        ``address, incidents, top_category, name_zh, name_en``.
    weekly
        ``week_start, incidents`` (Monday-based weeks covering the period).
    trend
        ``Trend`` of the period's two halves.
    grids
        Grids touching the area: ``code, name, level, parent_code, overlap_m2, overlap_share,
        households, population, businesses`` (the area-weighted parts).
    staff
        The people to involve: ``grid_code, grid_name, level, role, name, phone, department``
        (leaders of the level-1 grids, workers of the level-2 and dedicated grids, assistants of
        the micro-grids, enforcement officers assigned to the level-1 grids).
    affected
        ``households, population, businesses``: sums over the micro-grids of each value x the
        share of the grid's area inside the area (uniform density inside a micro-grid), plus
        the businesses of dedicated grids the same way; ``key_places``: dedicated grids touched.
    open_cases
        Incidents in the area and period whose status is not ``closed``.
    points
        (n, 2) lon/lat of the incidents in the area (for the map).
    context
        Grid outlines near the area (for the map).
    """

    title_zh: str
    title_en: str
    area: shapely.Geometry
    area_m2: float
    period: tuple[pd.Timestamp, pd.Timestamp]
    n_incidents: int
    severity_weighted: float
    by_category: pd.DataFrame
    by_department: pd.DataFrame
    departments_to_call: pd.DataFrame
    hour_weekday: pd.DataFrame
    top_addresses: pd.DataFrame
    weekly: pd.DataFrame
    trend: Trend
    grids: pd.DataFrame
    staff: pd.DataFrame
    affected: dict[str, Any]
    open_cases: pd.DataFrame
    points: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 2)))
    context: gpd.GeoDataFrame | None = field(repr=False, default=None)

    @property
    def peak_windows(self) -> pd.DataFrame:
        """The categories' peak windows: ``category_code, name_zh, name_en, peak_zh, peak_en``."""
        cols = ["category_code", "name_zh", "name_en", "peak_start", "peak_end", "peak_share"]
        sel = self.by_category.dropna(subset=["peak_start"])
        return sel[cols + ["peak_zh", "peak_en"]].reset_index(drop=True)

    def summary(self, lang: str = "zh") -> list[str]:
        """The briefing's key points as sentences."""
        zh = lang == "zh"
        start, end = self.period
        days = (end - start) / pd.Timedelta(days=1)
        lines = []
        if zh:
            lines.append(
                f"{start:%Y-%m-%d}至{end - pd.Timedelta(seconds=1):%Y-%m-%d}（{days:.0f}天），"
                f"区域面积{self.area_m2 / 1e4:.1f}公顷，共发生事件{self.n_incidents:,}件"
                f"（严重度加权{self.severity_weighted:,.0f}），趋势{self.trend.text('zh')}。"
            )
        else:
            lines.append(
                f"{start:%Y-%m-%d} to {end - pd.Timedelta(seconds=1):%Y-%m-%d} ({days:.0f} days): "
                f"{self.n_incidents:,} incidents (severity-weighted {self.severity_weighted:,.0f}) "
                f"on {self.area_m2 / 1e4:.1f} ha; trend {self.trend.text('en')}."
            )
        calls = self.departments_to_call
        if len(calls):
            lead = calls[calls["role"] == "lead"]
            co = calls[calls["role"] == "co"]
            col = "name_zh" if zh else "name_en"
            if zh:
                text = f"牵头部门：{'、'.join(lead[col])}"
                text += f"；配合部门：{'、'.join(co[col])}。" if len(co) else "。"
            else:
                text = f"Lead: {', '.join(lead[col])}"
                text += f"; with: {', '.join(co[col])}." if len(co) else "."
            lines.append(text)
        peaks = self.peak_windows
        if len(peaks):
            col = "peak_zh" if zh else "peak_en"
            sep = "；" if zh else "; "
            head = "高发时段：" if zh else "When: "
            lines.append(head + sep.join(peaks[col].iloc[:5]) + ("。" if zh else "."))
        a = self.affected
        if zh:
            lines.append(
                f"涉及网格{int((self.grids['level'] == 'micro').sum())}个微网格，约{a['households']:,.0f}户、"
                f"{a['population']:,.0f}人、{a['businesses']:,.0f}家商户；未结案件{len(self.open_cases):,}件。"
            )
        else:
            lines.append(
                f"{int((self.grids['level'] == 'micro').sum())} micro-grids; about "
                f"{a['households']:,.0f} households, {a['population']:,.0f} residents and "
                f"{a['businesses']:,.0f} businesses; {len(self.open_cases):,} open cases."
            )
        if a.get("key_places"):
            places = "、".join(a["key_places"]) if zh else ", ".join(a["key_places"])
            lines.append(("重点单位：" if zh else "Key places: ") + places)
        return lines

    def tables(self, lang: str = "zh") -> dict[str, pd.DataFrame]:
        """The briefing's tables by sheet name (used by ``to_excel`` and ``to_html``)."""
        hw = self.hour_weekday.copy()
        hw.columns = _WEEKDAYS[lang]
        hw.index.name = "hour"
        return {
            "summary": pd.DataFrame({"summary": self.summary(lang)}),
            "categories": self.by_category,
            "departments": self.by_department,
            "departments_to_call": self.departments_to_call,
            "hour_weekday": hw.reset_index(),
            "peak_windows": self.peak_windows,
            "top_addresses": self.top_addresses,
            "weekly": self.weekly,
            "grids": self.grids,
            "staff": self.staff,
            "open_cases": self.open_cases,
        }

    def to_excel(self, path: str | Path, lang: str = "zh") -> Path:
        """Write the tables to an .xlsx workbook (one sheet per table); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with pd.ExcelWriter(path, engine="openpyxl") as writer:
                for name, table in self.tables(lang).items():
                    table.to_excel(writer, sheet_name=name[:31], index=False)
        except OSError as exc:
            raise InputError(f"{path}: cannot write ({exc})") from exc
        return path

    def to_html(self, lang: str = "zh", path: str | Path | None = None) -> str:
        """A self-contained HTML page (map and charts as embedded PNG, no external URL).

        Parameters
        ----------
        lang
            ``zh`` or ``en``.
        path
            Also write the page there (UTF-8).
        """
        from gis import _briefing_html

        page = _briefing_html.render(self, lang)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(page, encoding="utf-8")
        return page


def _grid_overlaps(
    area_m: shapely.Geometry, grids: gpd.GeoDataFrame, crs: pyproj.CRS
) -> pd.DataFrame:
    """Current grids intersecting the area with overlap area and share, by level."""
    g = grids
    if "valid_to" in g.columns:
        g = g[g["valid_to"].isna()]
    geoms = _to_metric(g.geometry.to_numpy(), crs)
    tree = shapely.STRtree(geoms)
    idx = tree.query(area_m, predicate="intersects")
    inter = shapely.area(shapely.intersection(geoms[idx], area_m))
    full = shapely.area(geoms[idx])
    keep = inter > 1.0
    idx, inter, full = idx[keep], inter[keep], full[keep]
    sel = pd.DataFrame(g.iloc[idx].drop(columns=g.geometry.name))
    sel["overlap_m2"] = inter
    sel["overlap_share"] = inter / np.where(full > 0, full, 1.0)
    return sel.reset_index(drop=True)


def briefing(
    area,
    incidents: gpd.GeoDataFrame,
    *,
    grids: gpd.GeoDataFrame | None = None,
    staff: pd.DataFrame | None = None,
    taxonomy: pd.DataFrame | None = None,
    departments: pd.DataFrame | None = None,
    period: tuple | None = None,
    title: str | tuple[str, str] | None = None,
    top_n: int = 10,
) -> Briefing:
    """The briefing for any area: a proposed zone, a drawn polygon or a list of grid codes.

    Parameters
    ----------
    area
        See ``area_geometry``: a geometry (EPSG:4326), WKT, GeoSeries/GeoDataFrame or grid codes.
    incidents
        Incident points (EPSG:4326) with ``occurred_at, category_code`` and, where present,
        ``status, address, external_id``.
    grids
        The grid layer (``code, name, level, parent_code, households, population, businesses``).
    staff
        ``staff_code, name, role, department, grid_code, phone``.
    taxonomy, departments
        Default: ``data/taxonomy.csv`` and ``data/departments.csv``.
    period
        ``(start, end)``: incidents with ``start <= occurred_at < end``; default all given.
    title
        A heading, or ``(zh, en)``.
    top_n
        Rows of the top addresses table.
    """
    tax = _tax(taxonomy, departments)
    geom = area_geometry(area, grids)
    crs = _metric_crs(gpd.GeoSeries([geom], crs=STORAGE_EPSG))
    area_m = _to_metric([geom], crs)[0]
    start, end = _period(incidents, period)
    t = _times(incidents)
    in_time = ((t >= start) & (t < end)).to_numpy()
    x, y = _points_metric(incidents, crs)
    inside = _inside(area_m, x, y) & in_time
    inc = incidents[inside]
    times = _times(inc)
    codes = inc["category_code"].astype(str) if "category_code" in inc else pd.Series(dtype=str)
    weight = codes.map(tax.weight).fillna(1.0)
    n = len(inc)

    # categories, with peak windows
    by_cat = (
        pd.DataFrame({"category_code": codes.to_numpy(), "w": weight.to_numpy()})
        .groupby("category_code")
        .agg(incidents=("w", "size"), severity_weighted=("w", "sum"))
        .sort_values("incidents", ascending=False)
        .reset_index()
    )
    by_cat.insert(1, "name_zh", by_cat["category_code"].map(lambda c: tax.cat_name(c, "zh")))
    by_cat.insert(2, "name_en", by_cat["category_code"].map(lambda c: tax.cat_name(c, "en")))
    by_cat["share"] = by_cat["incidents"] / max(n, 1)
    by_cat["department"] = by_cat["category_code"].map(tax.lead)
    by_cat["co_departments"] = by_cat["category_code"].map(lambda c: ";".join(tax.co.get(c, [])))
    hours = times.dt.hour.to_numpy()
    peaks = []
    for code, nz, ne in zip(
        by_cat["category_code"], by_cat["name_zh"], by_cat["name_en"], strict=True
    ):
        h = hours[(codes == code).to_numpy()]
        if len(h) < PEAK_MIN_INCIDENTS:
            peaks.append((np.nan, np.nan, np.nan, None, None))
            continue
        s, e, cov = peak_window(h)
        w = window_text(s, e)
        peaks.append(
            (
                s,
                e,
                cov,
                f"{nz} {w}（占{100 * cov:.0f}%）",
                f"{ne[:1].lower() + ne[1:]} {w} ({100 * cov:.0f} % of cases)",
            )
        )
    peak_frame = pd.DataFrame(
        peaks, columns=["peak_start", "peak_end", "peak_share", "peak_zh", "peak_en"]
    )
    by_cat = pd.concat([by_cat, peak_frame], axis=1)

    # departments
    dep = codes.map(tax.lead).fillna("?")
    by_dep = dep.value_counts().rename_axis("department").reset_index(name="incidents")
    by_dep.insert(1, "name_zh", by_dep["department"].map(lambda d: tax.dept_name(d, "zh")))
    by_dep.insert(2, "name_en", by_dep["department"].map(lambda d: tax.dept_name(d, "en")))
    by_dep["share"] = by_dep["incidents"] / max(n, 1)
    main = _main_categories(codes)
    lead, co = _departments_of(main.index, tax)
    call_rows = []
    for role, deps in (("lead", lead), ("co", co)):
        for d in deps:
            mine = [c for c in main.index if (tax.lead.get(c) == d) or (d in tax.co.get(c, []))]
            call_rows.append(
                {
                    "code": d,
                    "name_zh": tax.dept_name(d, "zh"),
                    "name_en": tax.dept_name(d, "en"),
                    "role": role,
                    "joint_team": tax.joint_team.get(d, ""),
                    "categories_zh": "、".join(tax.cat_name(c, "zh") for c in mine),
                    "categories_en": "; ".join(tax.cat_name(c, "en") for c in mine),
                    "incidents": int(main[mine].sum()),
                }
            )
    calls = pd.DataFrame(
        call_rows,
        columns=[
            "code",
            "name_zh",
            "name_en",
            "role",
            "joint_team",
            "categories_zh",
            "categories_en",
            "incidents",
        ],
    )

    # when
    hw = pd.crosstab(times.dt.hour, times.dt.day_of_week) if n else pd.DataFrame()
    hw = hw.reindex(index=range(24), columns=range(7), fill_value=0).astype(np.int64)
    hw.index.name, hw.columns.name = "hour", "weekday"
    week0 = (start - pd.Timedelta(days=start.day_of_week)).normalize()
    weeks = pd.date_range(week0, end, freq="7D", inclusive="left")
    wk = (times.dt.normalize() - pd.to_timedelta(times.dt.day_of_week, unit="D")).value_counts()
    weekly = pd.DataFrame(
        {"week_start": weeks, "incidents": wk.reindex(weeks, fill_value=0).to_numpy()}
    )
    trend = trend_class(times, start, end)

    # where
    if "address" in inc and n:
        addr = inc[["address"]].assign(category_code=codes.to_numpy()).dropna(subset=["address"])
        top = addr["address"].value_counts().head(top_n)
        top_cat = (
            addr[addr["address"].isin(top.index)]
            .groupby("address")["category_code"]
            .agg(lambda s: s.value_counts().index[0])
        )
        top_addresses = pd.DataFrame(
            {
                "address": top.index,
                "incidents": top.to_numpy(),
                "top_category": top_cat.reindex(top.index).to_numpy(),
            }
        )
    else:
        top_addresses = pd.DataFrame(columns=["address", "incidents", "top_category"])
    top_addresses["name_zh"] = top_addresses["top_category"].map(lambda c: tax.cat_name(c, "zh"))
    top_addresses["name_en"] = top_addresses["top_category"].map(lambda c: tax.cat_name(c, "en"))

    # who and how many
    grid_cols = [
        "code",
        "name",
        "level",
        "parent_code",
        "overlap_m2",
        "overlap_share",
        "households",
        "population",
        "businesses",
    ]
    affected: dict[str, Any] = {"households": 0.0, "population": 0.0, "businesses": 0.0}
    context = None
    if grids is not None and len(grids):
        over = _grid_overlaps(area_m, grids, crs)
        for col in ("households", "population", "businesses"):
            if col not in over:
                over[col] = np.nan
            over[col] = pd.to_numeric(over[col], errors="coerce")
        weighted = over[["households", "population", "businesses"]].mul(
            over["overlap_share"], axis=0
        )
        micro = (over["level"] == "micro").to_numpy()
        ded = (over["level"] == "dedicated").to_numpy()
        affected = {
            "households": float(weighted.loc[micro, "households"].sum()),
            "population": float(weighted.loc[micro, "population"].sum()),
            "businesses": float(
                weighted.loc[micro, "businesses"].sum() + weighted.loc[ded, "businesses"].sum()
            ),
        }
        affected["key_places"] = (
            over.loc[ded, "name"].astype(str).tolist() if "name" in over else []
        )
        over[["households", "population", "businesses"]] = weighted
        level_order = {"l1": 0, "l2": 1, "micro": 2, "dedicated": 3}
        over = over.sort_values(
            ["level", "code"], key=lambda s: s.map(level_order) if s.name == "level" else s
        )
        grid_table = over.reindex(columns=grid_cols).reset_index(drop=True)
        near = area_m.buffer(150.0)
        g_all = grids[grids["level"].isin(["micro", "dedicated"])] if "level" in grids else grids
        g_m = _to_metric(g_all.geometry.to_numpy(), crs)
        close = shapely.intersects(g_m, near)
        context = gpd.GeoDataFrame(
            {"code": g_all["code"].to_numpy()[close], "level": g_all["level"].to_numpy()[close]},
            geometry=g_all.geometry.to_numpy()[close],
            crs=STORAGE_EPSG,
        )
    else:
        grid_table = pd.DataFrame(columns=grid_cols)
        affected["key_places"] = []

    staff_cols = ["grid_code", "grid_name", "level", "role", "name", "phone", "department"]
    if staff is not None and len(grid_table):
        names = dict(zip(grid_table["code"], grid_table["name"], strict=True))
        levels = dict(zip(grid_table["code"], grid_table["level"], strict=True))
        st = staff[staff["grid_code"].isin(set(grid_table["code"]))].copy()
        if "active" in st:
            st = st[st["active"].fillna(True).astype(bool)]
        st["grid_name"] = st["grid_code"].map(names)
        st["level"] = st["grid_code"].map(levels)
        role_order = {
            "grid_leader": 0,
            "grid_worker": 1,
            "grid_assistant": 2,
            "enforcement_officer": 3,
        }
        st = st.sort_values(
            ["role", "grid_code"], key=lambda s: s.map(role_order) if s.name == "role" else s
        )
        staff_table = st.reindex(columns=staff_cols).reset_index(drop=True)
    else:
        staff_table = pd.DataFrame(columns=staff_cols)

    open_cols = ["external_id", "category_code", "status", "occurred_at", "address"]
    if "status" in inc:
        status = inc["status"].astype(object)
        open_mask = status.notna() & ~status.isin(_OPEN_EXCLUDED)
        open_cases = inc.loc[open_mask.to_numpy()].reindex(columns=open_cols)
        open_cases = pd.DataFrame(open_cases).sort_values("occurred_at").reset_index(drop=True)
    else:
        open_cases = pd.DataFrame(columns=open_cols)

    if isinstance(title, tuple):
        title_zh, title_en = title
    else:
        title_zh = title or "联合整治区域简报"
        title_en = title or "Joint rectification briefing"
    pts = inc.geometry.to_numpy()
    points = np.column_stack([shapely.get_x(pts), shapely.get_y(pts)]) if n else np.zeros((0, 2))
    return Briefing(
        title_zh=title_zh,
        title_en=title_en,
        area=geom,
        area_m2=float(area_m.area),
        period=(start, end),
        n_incidents=n,
        severity_weighted=float(weight.sum()),
        by_category=by_cat,
        by_department=by_dep,
        departments_to_call=calls,
        hour_weekday=hw,
        top_addresses=top_addresses,
        weekly=weekly,
        trend=trend,
        grids=grid_table,
        staff=staff_table,
        affected=affected,
        open_cases=open_cases,
        points=points,
        context=context,
    )


# --------------------------------------------------------------------------------------------
# Plans (the only database functions here)


def _user_name(user) -> str:
    from gis import auth

    auth.require(user, "save_plan")
    return user.username


def _multipolygon_wkb(geom: shapely.Geometry) -> bytes:
    geom = _polygonal(geom)
    if geom.geom_type == "Polygon":
        geom = shapely.MultiPolygon([geom])
    return shapely.to_wkb(geom, include_srid=False)


def _join_codes(values) -> str | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = values.replace(",", ";").split(";")
    codes = [str(v).strip() for v in values if str(v).strip()]
    return ";".join(dict.fromkeys(codes)) or None


def save_plan(
    engine,
    *,
    name: str,
    area,
    period_start,
    period_end,
    departments: Iterable[str] | str | None = None,
    status: str = "draft",
    notes: str | None = None,
    user,
    grids: pd.DataFrame | None = None,
) -> int:
    """Save a joint rectification plan; leaders and admins only.

    Parameters
    ----------
    engine
        The store (SpatiaLite or PostGIS).
    name
        The plan's name, e.g. "医院周边机动车乱停放专项整治".
    area
        See ``area_geometry`` (grid codes need ``grids``); stored as a MultiPolygon, EPSG:4326.
    period_start, period_end
        The operation's period (naive local times), end after start.
    departments
        Department codes (stored ";"-joined).
    status
        One of ``gis.store.models.PLAN_STATUSES``.
    user
        The signed-in ``gis.auth.User``; must be allowed ``save_plan``.

    Returns
    -------
    int
        The new plan's id.

    Raises
    ------
    gis.auth.PermissionDenied
        The user may not save plans.
    InputError
        Empty name or area, period end not after start, unknown status.
    """
    import sqlalchemy as sa

    from gis.store.models import PLAN_STATUSES

    by = _user_name(user)
    name = (name or "").strip()
    if not name:
        raise InputError("a plan needs a name")
    if status not in PLAN_STATUSES:
        raise InputError(f"status must be one of {', '.join(PLAN_STATUSES)}, got {status!r}")
    start, end = pd.Timestamp(period_start), pd.Timestamp(period_end)
    if not end > start:
        raise InputError(f"the plan ends ({end}) before it starts ({start})")
    geom = area_geometry(area, grids)
    fn = "ST_GeomFromWKB" if engine.dialect.name == "postgresql" else "GeomFromWKB"
    sql = sa.text(
        "INSERT INTO plans (name, period_start, period_end, departments, status, notes, "
        "created_by, created_at, geom) VALUES (:name, :start, :end, :deps, :status, :notes, "
        f":by, :at, {fn}(:wkb, {STORAGE_EPSG})) RETURNING id"
    ).bindparams(
        sa.bindparam("start", type_=sa.DateTime),
        sa.bindparam("end", type_=sa.DateTime),
        sa.bindparam("at", type_=sa.DateTime),
        sa.bindparam("wkb", type_=sa.LargeBinary),
    )
    with engine.begin() as conn:
        new_id = conn.execute(
            sql,
            {
                "name": name,
                "start": start.to_pydatetime(),
                "end": end.to_pydatetime(),
                "deps": _join_codes(departments),
                "status": status,
                "notes": notes,
                "by": by,
                "at": datetime.now().replace(microsecond=0),
                "wkb": _multipolygon_wkb(geom),
            },
        ).scalar_one()
    return int(new_id)


def list_plans(engine) -> gpd.GeoDataFrame:
    """All plans, oldest first: ``id, name, period_start, period_end, departments, status,
    notes, created_by, created_at, geometry`` (EPSG:4326)."""
    from gis.store import read_frame

    return read_frame(engine, "plans", order_by="id")


def get_plan(engine, plan_id: int) -> pd.Series:
    """One plan as a row (``geometry`` in EPSG:4326); ``InputError`` when there is none."""
    from gis.store import read_frame

    frame = read_frame(engine, "plans", where="id = :id", params={"id": int(plan_id)})
    if frame.empty:
        raise InputError(f"no plan with id {plan_id}")
    return frame.iloc[0]


def update_plan_status(
    engine, plan_id: int, status: str, *, user, notes: str | None = None
) -> None:
    """Move a plan to another status (leaders and admins only); ``notes`` replaces the notes.

    Raises
    ------
    gis.auth.PermissionDenied, InputError
        Not allowed; unknown plan or status.
    """
    import sqlalchemy as sa

    from gis.store.models import PLAN_STATUSES

    _user_name(user)
    if status not in PLAN_STATUSES:
        raise InputError(f"status must be one of {', '.join(PLAN_STATUSES)}, got {status!r}")
    sets, params = ["status = :status"], {"status": status, "id": int(plan_id)}
    if notes is not None:
        sets.append("notes = :notes")
        params["notes"] = notes
    with engine.begin() as conn:
        done = conn.execute(
            sa.text(f"UPDATE plans SET {', '.join(sets)} WHERE id = :id"), params
        ).rowcount
    if not done:
        raise InputError(f"no plan with id {plan_id}")


# --------------------------------------------------------------------------------------------
# Evaluation


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


def _window(value) -> tuple[pd.Timestamp, pd.Timestamp]:
    if isinstance(value, str):
        a, sep, b = value.partition(":") if value.count(":") == 1 else value.partition("/")
        if not sep:
            raise InputError(f"a period is START:END or START/END, got {value!r}")
        value = (a, b)
    start, end = (pd.Timestamp(v) for v in value)
    if not end > start:
        raise InputError(f"period end {end} is not after its start {start}")
    return start, end


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
        Only these category codes (e.g. the operation's target problem).
    alpha
        Significance level of the verdict.
    label
        A name carried into the result.

    Returns
    -------
    Evaluation
    """
    geom = area_geometry(area_geom)
    before, after = _window(before), _window(after)
    inc = incidents
    if categories:
        inc = inc[inc["category_code"].astype(str).isin([str(c) for c in categories])]
    crs = _metric_crs(gpd.GeoSeries([geom], crs=STORAGE_EPSG))
    area_m = _to_metric([geom], crs)[0]
    x, y = _points_metric(inc, crs)
    if district is None:
        ok = np.isfinite(x) & np.isfinite(y)
        district_m = shapely.convex_hull(shapely.multipoints(np.column_stack([x[ok], y[ok]])))
        district_m = shapely.union(district_m, area_m.buffer(buffer_m))
    else:
        district_m = _to_metric([area_geometry(district)], crs)[0]
    outer = area_m.buffer(float(buffer_m), quad_segs=16)
    ring = shapely.difference(outer, area_m)
    control = shapely.difference(district_m, outer)
    t = _times(inc).to_numpy()
    in_before = (t >= before[0].to_datetime64()) & (t < before[1].to_datetime64())
    in_after = (t >= after[0].to_datetime64()) & (t < after[1].to_datetime64())
    in_area = _inside(area_m, x, y)
    in_ring = _inside(ring, x, y) & ~in_area
    in_control = _inside(control, x, y) & ~in_area & ~in_ring
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
    from gis import store

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
    l1 = store.read_grids(engine, level="l1")
    district = area_geometry(l1) if len(l1) else None
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
