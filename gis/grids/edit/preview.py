"""The impact preview of an edit: areas, incidents, households and staff that change grid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.core.geometry import REGULAR_LEVELS, local_metric_crs, to_metric_geoms
from gis.grids.assign import assign_points
from gis.grids.edit.geometry import SLIVER_M2
from gis.grids.edit.result import DEDICATED, EditResult
from gis.grids.validate import NOISE_M2, validate_hierarchy

_TEXT = {
    "head": {"en": "Impact of {action}", "zh": "{action} 的影响"},
    "areas": {
        "en": "{n} grid(s) affected: {changed} changed, {created} new, {retired} retired",
        "zh": "涉及 {n} 个网格：{changed} 个变更，{created} 个新增，{retired} 个撤销",
    },
    "area_row": {
        "en": "  {code} {name}: {before} → {after} m² ({change:+,.0f} m²)",
        "zh": "  {code} {name}：{before} → {after} m²（{change:+,.0f} m²）",
    },
    "incidents": {
        "en": "Incidents that change grid: {n} (micro-grid {micro}, level-2 {l2}, level-1 {l1})",
        "zh": "改变所属网格的事件：{n} 件（微网格 {micro}，二级网格 {l2}，一级网格 {l1}）",
    },
    "no_incidents": {"en": "Incidents: not given", "zh": "事件：未提供"},
    "households": {
        "en": "Households that change grid (by area share): {hh:,} ({pop:,} residents)",
        "zh": "改变所属网格的户数（按面积估算）：{hh:,} 户（{pop:,} 人）",
    },
    "staff": {"en": "Staff affected: {n}", "zh": "受影响的网格人员：{n} 人"},
    "no_staff": {"en": "Staff: not given", "zh": "网格人员：未提供"},
    "codes": {"en": "New codes: {codes}", "zh": "新编码：{codes}"},
    "retired": {"en": "Retired codes: {codes}", "zh": "撤销的编码：{codes}"},
    "valid": {
        "en": "Validation after the edit: {errors} error(s), {warnings} warning(s) (before: {eb})",
        "zh": "修改后校验：{errors} 个错误，{warnings} 个警告（修改前 {eb} 个错误）",
    },
    "none": {"en": "(none)", "zh": "（无）"},
}
_ACTION_ZH = {
    "reshape": "调整边界",
    "split": "拆分",
    "merge": "合并",
    "move": "调整上级网格",
    "add_dedicated": "新增专属网格",
    "retire": "撤销专属网格",
    "restore": "恢复版本",
}


def _tr(key: str, lang: str, **fmt) -> str:
    text = _TEXT[key]["zh" if lang == "zh" else "en"]
    return text.format(**fmt) if fmt else text


@dataclass
class ImpactPreview:
    """What an edit does, for the person about to save it.

    Attributes
    ----------
    action
        The edit's action.
    areas
        One row per affected grid: ``code, name, level, status (changed|created|retired),
        area_before_m2, area_after_m2, change_m2`` (m² in the local metric CRS; 0 where the
        grid does not exist on that side).
    incidents_moved
        Incidents whose micro-grid, level-2 or level-1 grid (any of them) changes; None when no
        incidents were given.
    incidents_by_level
        ``{"micro": n, "l2": n, "l1": n, "dedicated": n}``: incidents changing grid per level.
    incident_moves
        ``level, from_code, to_code, incidents``: the moves per level (``outside`` for
        points outside every grid; for dedicated grids ``-`` means "in no dedicated grid").
    households_moved, population_moved
        Households and residents that change micro-grid (leaf grid), estimated by area share:
        each grid's households are assumed spread evenly over its area before the edit.
    household_moves
        ``from_code, to_code, area_m2, households, population`` (estimates, per pair of leaf
        grids that exchange area).
    staff
        Staff rows whose ``grid_code`` is changed or retired, with ``change`` (``changed`` or
        ``retired``) and ``new_code`` (the grid's new code when it was only re-coded); None when
        no staff were given.
    new_codes, retired_codes
        Codes created and retired by the edit.
    validation
        :func:`gis.grids.validate_hierarchy` of the hierarchy after the edit.
    errors_before
        Validation errors of the hierarchy before the edit (an edit should not add any).
    """

    action: str
    areas: pd.DataFrame
    incidents_moved: int | None
    incidents_by_level: dict[str, int]
    incident_moves: pd.DataFrame
    households_moved: int
    population_moved: int
    household_moves: pd.DataFrame
    staff: pd.DataFrame | None
    new_codes: list[str]
    retired_codes: list[str]
    validation: Any
    errors_before: int

    @property
    def ok(self) -> bool:
        """True when the edited hierarchy has no more validation errors than before."""
        return self.validation.errors <= self.errors_before

    def summary(self, lang: str = "en") -> pd.DataFrame:
        """The headline numbers as a two-column table (``item``, ``value``) for a page."""
        zh = lang == "zh"
        items = [
            ("受影响网格" if zh else "grids affected", len(self.areas)),
            (
                "改变所属网格的事件" if zh else "incidents changing grid",
                "" if self.incidents_moved is None else self.incidents_moved,
            ),
            (
                "改变所属网格的户数（估算）" if zh else "households changing grid (est.)",
                self.households_moved,
            ),
            (
                "改变所属网格的人口（估算）" if zh else "residents changing grid (est.)",
                self.population_moved,
            ),
            (
                "受影响人员" if zh else "staff affected",
                "" if self.staff is None else len(self.staff),
            ),
            ("新编码" if zh else "new codes", ", ".join(self.new_codes)),
            ("撤销编码" if zh else "retired codes", ", ".join(self.retired_codes)),
            ("校验错误" if zh else "validation errors", self.validation.errors),
        ]
        return pd.DataFrame(items, columns=["item", "value"]).astype({"value": str})

    def text(self, lang: str = "en", *, limit: int = 20) -> str:
        """The preview as readable lines (``lang`` ``"en"`` or ``"zh"``)."""
        action = _ACTION_ZH.get(self.action, self.action) if lang == "zh" else self.action
        counts = self.areas["status"].value_counts()
        lines = [
            _tr("head", lang, action=action),
            _tr(
                "areas",
                lang,
                n=len(self.areas),
                changed=int(counts.get("changed", 0)),
                created=int(counts.get("created", 0)),
                retired=int(counts.get("retired", 0)),
            ),
        ]
        for row in self.areas.head(limit).itertuples(index=False):
            lines.append(
                _tr(
                    "area_row",
                    lang,
                    code=row.code,
                    name=row.name or "",
                    before=f"{row.area_before_m2:,.0f}",
                    after=f"{row.area_after_m2:,.0f}",
                    change=row.change_m2,
                )
            )
        if self.incidents_moved is None:
            lines.append(_tr("no_incidents", lang))
        else:
            lvl = self.incidents_by_level
            lines.append(
                _tr(
                    "incidents",
                    lang,
                    n=self.incidents_moved,
                    micro=lvl.get("micro", 0),
                    l2=lvl.get("l2", 0),
                    l1=lvl.get("l1", 0),
                )
            )
        lines.append(_tr("households", lang, hh=self.households_moved, pop=self.population_moved))
        lines.append(
            _tr("no_staff", lang) if self.staff is None else _tr("staff", lang, n=len(self.staff))
        )
        none = _tr("none", lang)
        lines.append(_tr("codes", lang, codes=", ".join(self.new_codes) or none))
        if self.retired_codes:
            lines.append(_tr("retired", lang, codes=", ".join(self.retired_codes)))
        lines.append(
            _tr(
                "valid",
                lang,
                errors=self.validation.errors,
                warnings=self.validation.warnings,
                eb=self.errors_before,
            )
        )
        return "\n".join(lines)


def impact_preview(
    before: gpd.GeoDataFrame,
    result: EditResult,
    *,
    incidents: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    staff: pd.DataFrame | None = None,
    sliver_m2: float = SLIVER_M2,
) -> ImpactPreview:
    """The impact of an edit: areas, incidents, households and staff that change grid.

    Parameters
    ----------
    before
        The hierarchy the edit was made on (EPSG:4326).
    result
        What the edit operation returned.
    incidents
        Incident points (EPSG:4326), or None. Each is assigned with
        :func:`gis.grids.assign_points` on the hierarchy before and after; only points in the
        bounding box of the affected grids can change, so only those are assigned.
    staff
        Staff with a ``grid_code`` column, or None.
    sliver_m2
        Passed to :func:`gis.grids.validate_hierarchy`.

    Returns
    -------
    ImpactPreview
    """
    after = result.grids
    crs = local_metric_crs(before)
    touched = result.touched
    b_idx = before.set_index(before["code"].astype(str))
    a_idx = after.set_index(after["code"].astype(str))
    rows = []
    for status, codes in (
        ("changed", result.changed),
        ("created", result.created),
        ("retired", result.retired),
    ):
        for code in codes:
            src = a_idx if code in a_idx.index else b_idx
            rows.append(
                {
                    "code": code,
                    "name": src.at[code, "name"] if "name" in src else None,
                    "level": src.at[code, "level"],
                    "status": status,
                    "geom_before": b_idx.geometry.get(code),
                    "geom_after": a_idx.geometry.get(code),
                }
            )
    areas = pd.DataFrame(
        rows, columns=["code", "name", "level", "status", "geom_before", "geom_after"]
    )
    areas["area_before_m2"] = _metric_areas(areas["geom_before"], crs)
    areas["area_after_m2"] = _metric_areas(areas["geom_after"], crs)
    areas["change_m2"] = areas["area_after_m2"] - areas["area_before_m2"]
    areas = areas.drop(columns=["geom_before", "geom_after"])

    # ---- incidents ------------------------------------------------------------------------
    moves = pd.DataFrame(columns=["level", "from_code", "to_code", "incidents"])
    by_level = {"micro": 0, "l2": 0, "l1": 0, "dedicated": 0}
    moved: int | None = None
    if incidents is not None:
        points = incidents.geometry if isinstance(incidents, gpd.GeoDataFrame) else incidents
        geoms = [
            g
            for g in (
                *b_idx.geometry.reindex(touched).dropna(),
                *a_idx.geometry.reindex(touched).dropna(),
            )
        ]
        if geoms and len(points):
            minx, miny, maxx, maxy = shapely.total_bounds(np.array(geoms, dtype=object))
            x, y = shapely.get_x(points.to_numpy()), shapely.get_y(points.to_numpy())
            near = (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)
            pts = points[near]
        else:
            pts = points.iloc[:0]
        any_move = np.zeros(len(pts), dtype=bool)
        parts = []
        if len(pts):
            was = assign_points(pts, before)
            now = assign_points(pts, after)
            for level in ("micro", "l2", "l1"):
                diff = (was[level] != now[level]).to_numpy()
                by_level[level] = int(diff.sum())
                any_move |= diff
                if diff.any():
                    t = (
                        pd.DataFrame({"from_code": was[level][diff], "to_code": now[level][diff]})
                        .value_counts()
                        .rename("incidents")
                        .reset_index()
                    )
                    t.insert(0, "level", level)
                    parts.append(t)
            ded = [c for c in touched if _level_of(c, a_idx, b_idx) == DEDICATED]
            if ded:
                was_d = _in_dedicated(pts, b_idx, ded)
                now_d = _in_dedicated(pts, a_idx, ded)
                diff = was_d != now_d
                by_level["dedicated"] = int(diff.sum())
                any_move |= diff
                if diff.any():
                    t = (
                        pd.DataFrame({"from_code": was_d[diff], "to_code": now_d[diff]})
                        .value_counts()
                        .rename("incidents")
                        .reset_index()
                    )
                    t.insert(0, "level", DEDICATED)
                    parts.append(t)
        moved = int(any_move.sum())
        if parts:
            moves = pd.concat(parts, ignore_index=True).sort_values(
                ["level", "incidents"], ascending=[True, False], kind="stable"
            )
            moves = moves.reset_index(drop=True)

    # ---- households by area share of the leaf grids ------------------------------------------
    hh_moves = _household_moves(before, after, result, crs)

    # ---- staff ------------------------------------------------------------------------------
    staff_out = None
    if staff is not None:
        changed, retired = set(result.changed), set(result.retired)
        mask = staff["grid_code"].isin(changed | retired)
        staff_out = staff.loc[mask].copy()
        staff_out["change"] = np.where(staff_out["grid_code"].isin(retired), "retired", "changed")
        staff_out["new_code"] = [result.recoded.get(c, "") for c in staff_out["grid_code"]]
        staff_out = staff_out.reset_index(drop=True)

    validation = validate_hierarchy(after, sliver_m2=sliver_m2)
    errors_before = validate_hierarchy(before, sliver_m2=sliver_m2).errors
    return ImpactPreview(
        action=result.action,
        areas=areas,
        incidents_moved=moved,
        incidents_by_level=by_level,
        incident_moves=moves,
        households_moved=int(round(hh_moves["households"].sum())) if len(hh_moves) else 0,
        population_moved=int(round(hh_moves["population"].sum())) if len(hh_moves) else 0,
        household_moves=hh_moves,
        staff=staff_out,
        new_codes=list(result.created),
        retired_codes=list(result.retired),
        validation=validation,
        errors_before=errors_before,
    )


def _metric_areas(geoms: pd.Series, crs) -> np.ndarray:
    arr = np.array([g if g is not None and not pd.isna(g) else None for g in geoms], dtype=object)
    out = np.zeros(len(arr))
    ok = np.array([g is not None for g in arr], dtype=bool)
    if ok.any():
        out[ok] = shapely.area(to_metric_geoms(arr[ok], crs))
    return out


def _level_of(code: str, *frames: pd.DataFrame) -> str | None:
    for f in frames:
        if code in f.index:
            return f.at[code, "level"]
    return None


def _in_dedicated(points: gpd.GeoSeries, grids: pd.DataFrame, codes: list[str]) -> np.ndarray:
    """The (first, by code) dedicated grid among ``codes`` holding each point, else ``-``."""
    out = np.full(len(points), "-", dtype=object)
    for code in sorted(codes, reverse=True):
        if code not in grids.index:
            continue
        g = grids.geometry[code]
        shapely.prepare(g)
        inside = shapely.intersects(g, points.to_numpy())
        out[inside] = code
    return out


def _household_moves(before, after, result: EditResult, crs) -> pd.DataFrame:
    cols = ["from_code", "to_code", "area_m2", "households", "population"]
    touched = set(result.touched)

    def leaves(frame):
        regular = frame[frame["level"].isin(REGULAR_LEVELS)]
        parents = set(regular["parent_code"].dropna())
        out = regular[~regular["code"].isin(parents) & regular["code"].isin(touched)]
        return out

    a, b = leaves(before), leaves(after)
    if a.empty or b.empty:
        return pd.DataFrame(columns=cols)
    am = a.to_crs(crs)
    bm = b.to_crs(crs)
    tree = shapely.STRtree(bm.geometry.to_numpy())
    ai, bi = tree.query(am.geometry.to_numpy(), predicate="intersects")
    a_codes = am["code"].to_numpy()[ai]
    b_codes = bm["code"].to_numpy()[bi]
    keep = a_codes != b_codes
    ai, bi = ai[keep], bi[keep]
    inter = shapely.area(
        shapely.intersection(am.geometry.to_numpy()[ai], bm.geometry.to_numpy()[bi])
    )
    share = inter / np.maximum(am.geometry.area.to_numpy()[ai], 1e-9)
    hh = (
        pd.to_numeric(am["households"], errors="coerce").to_numpy(float)[ai]
        if "households" in am
        else np.zeros(len(ai))
    )
    pop = (
        pd.to_numeric(am["population"], errors="coerce").to_numpy(float)[ai]
        if "population" in am
        else np.zeros(len(ai))
    )
    out = pd.DataFrame(
        {
            "from_code": am["code"].to_numpy()[ai],
            "to_code": bm["code"].to_numpy()[bi],
            "area_m2": inter,
            "households": np.nan_to_num(hh * share),
            "population": np.nan_to_num(pop * share),
        }
    )
    out = out[out["area_m2"] > NOISE_M2].sort_values("area_m2", ascending=False, kind="stable")
    return out.reset_index(drop=True)
