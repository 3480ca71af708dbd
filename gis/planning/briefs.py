"""The briefing of one area before a joint operation (``Briefing``): what happens there and
when (categories, peak hours, hour x weekday, weekly counts, trend), where (top addresses), who
to call (lead and co-departments), and who lives and works there (grids touched, their staff,
households, residents and businesses, open cases).

The data only: ``gis.reports`` renders it as a self-contained HTML page or an Excel workbook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis.core.geometry import as_area, local_metric_crs, to_metric_geoms
from gis.core.settings import STORAGE_EPSG
from gis.planning.areas import points_inside, points_metric
from gis.planning.departments import departments_of, main_categories, taxonomy_lookup
from gis.planning.periods import incident_period, incident_times
from gis.planning.trend import Trend, trend_class

#: Peak window: the shortest run of hours holding at least this share of a category's incidents.
PEAK_SHARE = 0.6
#: Categories with fewer incidents than this get no peak window.
PEAK_MIN_INCIDENTS = 20
#: Weekday names (Monday first) by language, the columns of the hour x weekday table.
WEEKDAYS = {
    "zh": ["周一", "周二", "周三", "周四", "周五", "周六", "周日"],
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
}
_OPEN_EXCLUDED = frozenset({"closed"})


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
        """The briefing's tables by sheet name (the sheets of
        ``gis.reports.write_briefing_excel``)."""
        hw = self.hour_weekday.copy()
        hw.columns = WEEKDAYS[lang]
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


def _grid_overlaps(
    area_m: shapely.Geometry, grids: gpd.GeoDataFrame, crs: pyproj.CRS
) -> pd.DataFrame:
    """Current grids intersecting the area with overlap area and share, by level."""
    g = grids
    if "valid_to" in g.columns:
        g = g[g["valid_to"].isna()]
    geoms = to_metric_geoms(g.geometry.to_numpy(), crs)
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
    tax = taxonomy_lookup(taxonomy, departments)
    geom = as_area(area, grids)
    crs = local_metric_crs(gpd.GeoSeries([geom], crs=STORAGE_EPSG))
    area_m = to_metric_geoms([geom], crs)[0]
    start, end = incident_period(incidents, period)
    t = incident_times(incidents)
    in_time = ((t >= start) & (t < end)).to_numpy()
    x, y = points_metric(incidents, crs)
    inside = points_inside(area_m, x, y) & in_time
    inc = incidents[inside]
    times = incident_times(inc)
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
    main = main_categories(codes)
    lead, co = departments_of(main.index, tax)
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
        g_m = to_metric_geoms(g_all.geometry.to_numpy(), crs)
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
