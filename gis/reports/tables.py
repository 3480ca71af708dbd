"""The briefing's tables in the reader's language: codes as names (roles, departments, grid
levels, categories, case states), numbers rounded, the period with an inclusive end date.
Shared by the HTML briefing and the Excel workbook."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gis import i18n
from gis.planning import WEEKDAYS, Briefing

#: sheet titles of the workbook, per language
SHEETS: dict[str, dict[str, str]] = {
    "summary": {"zh": "摘要", "en": "Summary"},
    "categories": {"zh": "问题类别", "en": "Categories"},
    "departments": {"zh": "责任部门", "en": "Departments"},
    "departments_to_call": {"zh": "需调度部门", "en": "Departments to call"},
    "hour_weekday": {"zh": "时段×星期", "en": "Hour x weekday"},
    "peak_windows": {"zh": "高发时段", "en": "Peak hours"},
    "top_addresses": {"zh": "高发地址", "en": "Top addresses"},
    "weekly": {"zh": "每周趋势", "en": "Weekly"},
    "grids": {"zh": "涉及网格", "en": "Grids"},
    "staff": {"zh": "网格人员", "en": "Grid staff"},
    "open_cases": {"zh": "未结案件", "en": "Open cases"},
}
#: column headers, per language (columns not listed are left out of the workbook)
HEADERS: dict[str, tuple[str, str]] = {
    "summary": ("摘要", "Summary"),
    "category": ("类别", "Category"),
    "department": ("部门", "Department"),
    "co_departments": ("配合部门", "Supporting departments"),
    "incidents": ("事件数", "Incidents"),
    "severity_weighted": ("严重度加权", "Severity-weighted"),
    "share": ("占比", "Share"),
    "peak": ("高发时段", "Peak hours"),
    "role": ("角色", "Role"),
    "joint_team": ("4+X", "4+X"),
    "categories": ("负责的问题", "Responsible for"),
    "hour": ("时", "Hour"),
    "address": ("地址", "Address"),
    "week_start": ("周起始日", "Week starting"),
    "code": ("网格编码", "Grid code"),
    "name": ("名称", "Name"),
    "level": ("层级", "Level"),
    "parent": ("上级网格", "Parent grid"),
    "overlap_ha": ("区域内面积（公顷）", "Area inside (ha)"),
    "overlap_share": ("区域内比例", "Share inside"),
    "households": ("户数", "Households"),
    "population": ("人口", "Population"),
    "businesses": ("商户", "Businesses"),
    "grid": ("网格", "Grid"),
    "phone": ("电话", "Phone"),
    "external_id": ("编号", "Case number"),
    "status": ("状态", "Status"),
    "occurred_at": ("发生时间", "Occurred"),
}
_ROLE = {"lead": ("牵头", "Lead"), "co": ("配合", "Supporting")}
_EXTRA_DEPARTMENTS = {"shequ": ("社区", "Community"), "wuye": ("物业", "Property management")}


def inclusive_period(brief: Briefing, lang: str) -> str:
    """``2026-05-01 – 2026-05-31``: the period's first and last day (its end is exclusive)."""
    start, end = (pd.Timestamp(x) for x in brief.period)
    last = end - pd.Timedelta(seconds=1) if end > start else end
    sep = " 至 " if lang == "zh" else " – "
    return f"{start:%Y-%m-%d}{sep}{last:%Y-%m-%d}"


def _names(frame: pd.DataFrame, key: str, lang: str) -> dict[str, str]:
    col = f"name_{lang}"
    if frame is None or frame.empty or key not in frame.columns or col not in frame.columns:
        return {}
    return dict(zip(frame[key].astype(str), frame[col].astype(str), strict=True))


def department_names(brief: Briefing, lang: str) -> dict[str, str]:
    """Department code -> name in ``lang`` from the briefing's own tables (and the community
    and property management, which are not enforcement departments)."""
    out = {k: v[0 if lang == "zh" else 1] for k, v in _EXTRA_DEPARTMENTS.items()}
    out |= _names(brief.by_department, "department", lang)
    out |= _names(brief.departments_to_call, "code", lang)
    return out


def localised_tables(brief: Briefing, lang: str) -> dict[str, pd.DataFrame]:
    """The briefing's tables (``Briefing.tables``) with readable values and headers, by sheet
    title in ``lang``: codes become names, shares are rounded to 0.1 %, areas to 0.01 ha,
    households and people to whole numbers; no raw code column is left where a name exists."""
    zh = lang == "zh"
    k = 0 if zh else 1
    deps = department_names(brief, lang)
    cats = _names(brief.by_category, "category_code", lang)

    def dep(code) -> str:
        return deps.get(str(code), str(code)) if isinstance(code, str) and code else ""

    def deps_list(text) -> str:
        codes = [c.strip() for c in str(text or "").replace(";", ",").split(",") if c.strip()]
        return ("、" if zh else ", ").join(dep(c) for c in codes)

    def level(code) -> str:
        key = f"level.{code}"
        return i18n.t(key, lang) if key in i18n.CATALOGUE else str(code)

    def role(code) -> str:
        if code in _ROLE:
            return _ROLE[code][k]
        key = f"staff.{code}"
        return i18n.t(key, lang) if key in i18n.CATALOGUE else str(code)

    def status(code) -> str:
        key = f"rect.case.{code}"
        text = i18n.t(key, lang) if key in i18n.CATALOGUE else str(code)
        return text[:1].upper() + text[1:]  # "Registered": a word in a cell, not the code

    def pct(x) -> float:
        return round(float(x), 3) if pd.notna(x) else np.nan

    def whole(x):
        return int(round(float(x))) if pd.notna(x) else None

    t = brief.tables(lang)
    grid_names = (
        dict(zip(brief.grids["code"], brief.grids["name"], strict=True)) if len(brief.grids) else {}
    )
    name = f"name_{lang}"
    out: dict[str, pd.DataFrame] = {}

    def put(sheet: str, frame: pd.DataFrame, cols: dict[str, pd.Series | list]) -> None:
        data = {HEADERS[h][k]: v for h, v in cols.items()}
        out[SHEETS[sheet][lang]] = pd.DataFrame(data, index=frame.index).reset_index(drop=True)

    s = t["summary"]
    put("summary", s, {"summary": s["summary"]})
    c = t["categories"]
    put(
        "categories",
        c,
        {
            "category": c[name],
            "incidents": c["incidents"],
            "severity_weighted": c["severity_weighted"].map(whole),
            "share": c["share"].map(pct),
            "department": c["department"].map(dep),
            "co_departments": c["co_departments"].map(deps_list),
            "peak": c[f"peak_{lang}"].fillna(""),
        },
    )
    d = t["departments"]
    put(
        "departments",
        d,
        {"department": d[name], "incidents": d["incidents"], "share": d["share"].map(pct)},
    )
    d = t["departments_to_call"]
    put(
        "departments_to_call",
        d,
        {
            "department": d[name],
            "role": d["role"].map(role),
            "joint_team": d["joint_team"].fillna(""),
            "categories": d[f"categories_{lang}"],
            "incidents": d["incidents"],
        },
    )
    hw = t["hour_weekday"].rename(columns={"hour": HEADERS["hour"][k]})
    hw.columns = [HEADERS["hour"][k], *WEEKDAYS[lang]]
    out[SHEETS["hour_weekday"][lang]] = hw
    p = t["peak_windows"]
    put(
        "peak_windows",
        p,
        {"category": p[name], "peak": p[f"peak_{lang}"], "share": p["peak_share"].map(pct)},
    )
    a = t["top_addresses"]
    put(
        "top_addresses",
        a,
        {"address": a["address"], "incidents": a["incidents"], "category": a[name]},
    )
    w = t["weekly"]
    put(
        "weekly",
        w,
        {"week_start": w["week_start"].dt.strftime("%Y-%m-%d"), "incidents": w["incidents"]},
    )
    g = t["grids"]
    put(
        "grids",
        g,
        {
            "name": g["name"],
            "code": g["code"],
            "level": g["level"].map(level),
            "parent": g["parent_code"].map(
                lambda x: grid_names.get(x, "") if isinstance(x, str) else ""
            ),
            "overlap_ha": (g["overlap_m2"] / 1e4).round(2),
            "overlap_share": g["overlap_share"].map(pct),
            "households": g["households"].map(whole),
            "population": g["population"].map(whole),
            "businesses": g["businesses"].map(whole),
        },
    )
    st = t["staff"]
    put(
        "staff",
        st,
        {
            "grid": st["grid_name"],
            "level": st["level"].map(level),
            "role": st["role"].map(role),
            "name": st["name"],
            "phone": st["phone"].fillna(""),
            "department": st["department"].map(dep),
        },
    )
    o = t["open_cases"]
    put(
        "open_cases",
        o,
        {
            "external_id": o["external_id"],
            "category": o["category_code"].map(lambda x: cats.get(str(x), str(x))),
            "status": o["status"].map(status),
            "occurred_at": pd.to_datetime(o["occurred_at"]).dt.strftime("%Y-%m-%d %H:%M"),
            "address": o["address"].fillna(""),
        },
    )
    return out
