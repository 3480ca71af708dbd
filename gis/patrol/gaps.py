"""Coverage gaps: units where incident risk is high and patrol presence low, ranked with
reasons (zh/en); micro-grids nobody visited; each staff member's unpatrolled micro-grids."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gis.core.errors import InputError
from gis.grids import descendants
from gis.taxonomy import read_taxonomy

_CONFIDENCE = {3: 99, 2: 95, 1: 90}
RISK_COLUMNS = ("risk", "score", "density", "gi_z", "z", "count")


@dataclass
class GapReport:
    """``ranked``: units by gap score with reasons (zh/en); ``unvisited``: units (micro-grids)
    with no visit in the period; ``staff_unpatrolled``: per staff member, their responsible
    micro-grids they did not patrol."""

    ranked: pd.DataFrame
    unvisited: pd.DataFrame
    staff_unpatrolled: pd.DataFrame


def _category_names(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(zh, en) names of category codes via the taxonomy; other text is used as it is."""
    zh = values.astype(object).where(values.notna(), None)
    en = zh.copy()
    try:
        tax = read_taxonomy()
        names_zh = dict(zip(tax["code"], tax["name_zh"], strict=True))
        names_en = dict(zip(tax["code"], tax["name_en"], strict=True))
    except Exception:  # pragma: no cover - taxonomy file missing
        names_zh, names_en = {}, {}

    def lower_first(s: str) -> str:
        return s[:1].lower() + s[1:] if s[:2] != s[:2].upper() else s

    zh = zh.map(lambda c: None if c is None else names_zh.get(str(c), str(c)))
    en = en.map(lambda c: None if c is None else lower_first(names_en.get(str(c), str(c))))
    return zh, en


def _reasons(frame: pd.DataFrame, period_s: float) -> tuple[list[str], list[str]]:
    zh_cat, en_cat = (
        _category_names(frame["category"])
        if "category" in frame
        else (pd.Series([None] * len(frame)), pd.Series([None] * len(frame)))
    )
    out_zh, out_en = [], []
    period_days = int(period_s // 86400)
    for k, row in enumerate(frame.itertuples(index=False)):
        gi = getattr(row, "gi_bin", None)
        gi = None if gi is None or pd.isna(gi) else int(gi)
        cz, ce = zh_cat.iloc[k], en_cat.iloc[k]
        if gi is not None and gi >= 1:
            conf = _CONFIDENCE.get(min(gi, 3))
            en = f"{conf} % hotspot" + (f" for {ce}" if ce else "")
            zh = f"{cz or ''}{conf}%置信热点"
        else:
            top = max(1, math.ceil((1.0 - float(row.risk_pct)) * 100))
            en = f"risk in the top {top} %" + (f" for {ce}" if ce else "")
            zh = f"{cz or ''}风险前{top}%"
        emerging = getattr(row, "emerging", None)
        if emerging is not None and not pd.isna(emerging) and str(emerging):
            en += f" ({emerging})"
            zh += f"（{emerging}）"
        tsl = row.time_since_last_visit_s
        if row.visits == 0 or pd.isna(tsl):
            if period_days >= 1:
                en += f", no visit in {period_days} day{'s' if period_days != 1 else ''}"
                zh += f"，{period_days}天无人巡查"
            else:
                en += ", no visit in the period"
                zh += "，本期无人巡查"
        elif tsl >= 86400:
            days = int(tsl // 86400)
            en += f", no visit in {days} day{'s' if days != 1 else ''}"
            zh += f"，{days}天无人巡查"
        else:
            hours = int(tsl // 3600)
            minutes = int(round(row.dwell_s / 60))
            en += f", last visit {hours} h ago, {minutes} min in the period"
            zh += f"，{hours}小时前巡查过，本期共{minutes}分钟"
        out_zh.append(zh)
        out_en.append(en)
    return out_zh, out_en


def _unit_presence(presence: pd.DataFrame) -> pd.DataFrame:
    """Presence per unit; per-staff rows are combined (sums; last visit the latest; the longest
    gap the smallest of the staff's, an upper bound of the combined one)."""
    extra = [c for c in ("staff_code", "day", "shift") if c in presence]
    if not extra:
        return presence
    return presence.groupby("unit_id", as_index=False).agg(
        visits=("visits", "sum"),
        dwell_s=("dwell_s", "sum"),
        first_visit=("first_visit", "min"),
        last_visit=("last_visit", "max"),
        time_since_last_visit_s=("time_since_last_visit_s", "min"),
        max_gap_s=("max_gap_s", "min"),
    )


def coverage_gaps(
    presence: pd.DataFrame,
    risk: pd.DataFrame,
    *,
    staff: pd.DataFrame | None = None,
    grids: pd.DataFrame | None = None,
    period: tuple | None = None,
) -> GapReport:
    """Where risk is high and patrol presence low: a pure function over two tables.

    Parameters
    ----------
    presence
        ``presence(...)`` output: ``unit_id, visits, dwell_s, last_visit,
        time_since_last_visit_s, max_gap_s`` (with ``staff_code`` rows it is combined per unit
        for the ranking and used per staff member for ``staff_unpatrolled``).
    risk
        ``unit_id`` and a risk measure (``risk``, or ``score``/``density``/``gi_z``/``count``);
        optional ``gi_bin`` (-3..3, Gi* confidence bin: 3 = 99 %, 2 = 95 %, 1 = 90 % hot),
        ``category`` (taxonomy code such as ``05-05`` or a name) and ``emerging`` (class text).
    staff
        ``staff_code, grid_code`` (optional ``name, role``): each member's responsible grids
        are ``grid_code`` and its descendants (``gis.grids.descendants``), micro-grids only.
    grids
        The grid layer (``code, level, parent_code``): micro-grids nobody visited.
    period
        ``(start, end)``; default ``presence.attrs["period"]``.

    Scoring
    -------
    ``risk_pct`` = percentile rank of the risk (0-1]; ``presence_score`` = min(1, dwell_s /
    median dwell_s of the visited units in ``presence``); ``staleness`` = min(1,
    time_since_last_visit_s / period) (1 when never visited); ``gap_score = risk_pct * (0.5 *
    (1 - presence_score) + 0.5 * staleness)``. Ranked by ``gap_score`` (then risk).

    Returns
    -------
    GapReport
        ``ranked``: ``rank, unit_id, risk, risk_pct, [gi_bin, category, emerging], visits,
        dwell_s, last_visit, time_since_last_visit_s, max_gap_s, gap_score, reason_zh,
        reason_en`` (e.g. "99 % hotspot for illegal parking (motor vehicles), no visit in 9
        days" / "机动车乱停放99%置信热点，9天无人巡查").
    """
    per_unit = _unit_presence(presence)
    if period is None:
        period = presence.attrs.get("period")
    if period is not None:
        period_s = (pd.Timestamp(period[1]) - pd.Timestamp(period[0])).total_seconds()
    else:
        period_s = float(np.nanmax(per_unit["max_gap_s"])) if len(per_unit) else 86400.0
    risk = risk.copy()
    risk["unit_id"] = risk["unit_id"].astype(str)
    rcol = next((c for c in RISK_COLUMNS if c in risk), None)
    if rcol is None:
        if "gi_bin" not in risk:
            raise InputError(f"risk needs a measure column: one of {', '.join(RISK_COLUMNS)}")
        rcol = "gi_bin"
    risk["risk"] = pd.to_numeric(risk[rcol], errors="coerce").astype(float)
    risk["risk_pct"] = risk["risk"].rank(pct=True, method="max")
    pres = per_unit.copy()
    pres["unit_id"] = pres["unit_id"].astype(str)
    cols = ["visits", "dwell_s", "last_visit", "time_since_last_visit_s", "max_gap_s"]
    merged = risk.merge(pres[["unit_id", *cols]], on="unit_id", how="left")
    merged["visits"] = merged["visits"].fillna(0).astype(np.int64)
    merged["dwell_s"] = merged["dwell_s"].fillna(0.0)
    merged["max_gap_s"] = merged["max_gap_s"].fillna(period_s)
    visited = pres.loc[pres["visits"] > 0, "dwell_s"]
    ref = float(visited.median()) if len(visited) else 1.0
    presence_score = np.minimum(1.0, merged["dwell_s"].to_numpy() / max(ref, 1e-9))
    tsl = merged["time_since_last_visit_s"].to_numpy(dtype=float)
    staleness = np.where(
        (merged["visits"].to_numpy() == 0) | np.isnan(tsl),
        1.0,
        np.minimum(1.0, tsl / max(period_s, 1e-9)),
    )
    merged["presence_score"] = presence_score
    merged["gap_score"] = merged["risk_pct"].to_numpy() * (
        0.5 * (1.0 - presence_score) + 0.5 * staleness
    )
    merged = merged.sort_values(["gap_score", "risk"], ascending=False, kind="stable")
    merged = merged.reset_index(drop=True)
    merged.insert(0, "rank", np.arange(1, len(merged) + 1))
    zh, en = _reasons(merged, period_s)
    merged["reason_zh"], merged["reason_en"] = zh, en
    keep = ["rank", "unit_id", "risk", "risk_pct"]
    keep += [c for c in ("gi_bin", "category", "emerging") if c in merged]
    keep += cols + ["presence_score", "gap_score", "reason_zh", "reason_en"]
    ranked = merged[keep]

    score = dict(zip(ranked["unit_id"], ranked["gap_score"], strict=True))
    risk_of = dict(zip(ranked["unit_id"], ranked["risk"], strict=True))
    visited_any = set(pres.loc[pres["visits"] > 0, "unit_id"])
    micro: list[str] = []
    if grids is not None:
        g = grids[grids["level"] == "micro"] if "level" in grids else grids
        micro = sorted(g["code"].astype(str))
        names = dict(zip(g["code"].astype(str), g.get("name", g["code"]).astype(str), strict=True))
        parents = dict(zip(g["code"].astype(str), g.get("parent_code", g["code"]), strict=True))
        never = [c for c in micro if c not in visited_any]
        unvisited = pd.DataFrame(
            {
                "unit_id": never,
                "name": [names.get(c) for c in never],
                "parent_code": [parents.get(c) for c in never],
                "risk": [risk_of.get(c, np.nan) for c in never],
                "gap_score": [score.get(c, np.nan) for c in never],
            }
        )
    else:
        units = pres.loc[pres["visits"] == 0, "unit_id"].tolist()
        unvisited = pd.DataFrame({"unit_id": units, "risk": [risk_of.get(c) for c in units]})
    unvisited = unvisited.sort_values(
        ["gap_score" if "gap_score" in unvisited else "risk"], ascending=False, na_position="last"
    ).reset_index(drop=True)

    rows = []
    if staff is not None and grids is not None:
        per_staff = "staff_code" in presence
        if per_staff:
            by_staff = presence[presence["visits"] > 0].groupby("staff_code")["unit_id"]
            walked = {s: set(v.astype(str)) for s, v in by_staff}
        micro_set = set(micro)
        for rec in staff.itertuples(index=False):
            code = getattr(rec, "grid_code", None)
            if code is None or pd.isna(code):
                continue
            mine = sorted(descendants(str(code), grids) & micro_set)
            done = walked.get(rec.staff_code, set()) if per_staff else visited_any
            for unit in mine:
                if unit in done:
                    continue
                rows.append(
                    {
                        "staff_code": rec.staff_code,
                        "name": getattr(rec, "name", None),
                        "role": getattr(rec, "role", None),
                        "grid_code": code,
                        "unit_id": unit,
                        "visited_by_others": unit in visited_any,
                        "risk": risk_of.get(unit, np.nan),
                        "gap_score": score.get(unit, np.nan),
                    }
                )
    staff_unpatrolled = pd.DataFrame(
        rows,
        columns=[
            "staff_code",
            "name",
            "role",
            "grid_code",
            "unit_id",
            "visited_by_others",
            "risk",
            "gap_score",
        ],
    )
    if len(staff_unpatrolled):
        staff_unpatrolled = staff_unpatrolled.sort_values(
            ["staff_code", "gap_score"], ascending=[True, False], na_position="last"
        ).reset_index(drop=True)
    return GapReport(ranked=ranked, unvisited=unvisited, staff_unpatrolled=staff_unpatrolled)
