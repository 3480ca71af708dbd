"""Proposed areas for a joint rectification: hot units joined into zones, ranked and explained.

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
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from gis.core.errors import InputError
from gis.core.geometry import local_metric_crs, polygonal, to_lonlat_geoms, to_metric_geoms
from gis.core.settings import STORAGE_EPSG
from gis.planning.areas import clean_polygon, points_inside, points_metric
from gis.planning.departments import (
    TaxonomyLookup,
    departments_of,
    main_categories,
    taxonomy_lookup,
)
from gis.planning.periods import incident_period, incident_times
from gis.planning.trend import Trend, trend_class

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
#: Composite ranking score: weights of the percentile ranks (among the zones) of the
#: severity-weighted count, the PAI and the number of departments, of the trend (rising 1,
#: stable 0.5, falling 0) and of the patrol deficit (0..1). Without presence data the patrol
#: weight is dropped and the others rescaled.
RANK_WEIGHTS = {"severity": 0.35, "pai": 0.25, "departments": 0.15, "trend": 0.10, "patrol": 0.15}


def hot_unit_mask(units: pd.DataFrame, min_bin: int = 2) -> np.ndarray:
    """Which units :func:`propose_zones` makes zones of: ``gi_bin >= min_bin`` or an active
    emerging hot class."""
    return _hot_mask(units, min_bin)[0]


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
    tight = polygonal(tight)
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
    geoms = to_metric_geoms(geo.geometry.to_numpy(), crs)
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
    district_incidents: int | None = None,
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
    district_incidents
        The incidents in the district (the units' union), when ``incidents`` holds only those
        that can fall in a zone (a selection around the hot units, read from the store at a
        district's volume); default: counted from ``incidents``.

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
    tax = taxonomy_lookup(taxonomy, departments)
    start, end = incident_period(incidents, period)
    units = units_with_gi
    if units.crs is not None and units.crs.to_epsg() != STORAGE_EPSG:
        units = units.to_crs(STORAGE_EPSG)
    crs = local_metric_crs(units.geometry)
    units_m = to_metric_geoms(units.geometry.to_numpy(), crs)
    unit_area = shapely.area(units_m)
    district_area = float(unit_area.sum())
    hot, emerging = _hot_mask(units, min_bin)
    hot_idx = np.flatnonzero(hot)

    x, y = points_metric(incidents, crs)
    times = incident_times(incidents).to_numpy()
    cats = (
        incidents["category_code"].astype(str).to_numpy() if "category_code" in incidents else None
    )
    district = shapely.union_all(units_m)
    in_district = points_inside(district, x, y)
    n_total = int(in_district.sum()) if district_incidents is None else int(district_incidents)
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
        zone = clean_polygon(shapely.union_all(units_m[member]), hole, simplify_m)
        mask = points_inside(zone, x, y)
        if tighten and mask.any():
            zone = clean_polygon(
                _tighten(zone, x[mask], y[mask], tighten_ratio, tighten_buffer_m), hole, simplify_m
            )
            mask = points_inside(zone, x, y)
        n = int(mask.sum())
        area_m2 = float(zone.area)
        if n < min_incidents or area_m2 < min_area_m2 or zone.is_empty:
            continue
        zone_cats = pd.Series(cats[mask] if cats is not None else np.array([], dtype=object))
        weights = zone_cats.map(tax.weight).fillna(1.0).to_numpy() if cats is not None else None
        main = main_categories(zone_cats) if cats is not None else pd.Series(dtype=int)
        lead, co = departments_of(main.index, tax)
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
        out[ZONE_COLUMNS], geometry=list(to_lonlat_geoms(geoms_m, crs)), crs=STORAGE_EPSG
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


def _zone_reasons(
    out: pd.DataFrame, contrib: pd.DataFrame, tax: TaxonomyLookup
) -> tuple[list, list]:
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
