"""Routing by the two lists: who should get a case of a category on a date, and why.

``data/routing.csv`` (editable) maps a category to the street team's enforcement powers (执法清单,
``list = enforcement``, lead ``street_team``) or to a responsible department with co-departments
(服务/协作清单, ``list = service``), each row valid from ``valid_from`` to ``valid_to`` (exclusive,
empty = still valid): powers are granted and taken back, so routing depends on the date. A
category on neither list on that date goes up to the higher (district) platform.
``suggest_route`` gives the target with the reason in words, in Chinese and English.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from gis.core import settings
from gis.core.errors import InputError
from gis.taxonomy import read_departments, read_taxonomy

ROUTING_CSV = settings.DATA_DIR / "routing.csv"
ROUTE_LISTS = ("enforcement", "service")
STREET_TEAM = "street_team"
HIGHER_PLATFORM = "higher_platform"
#: names of the two targets that are not departments of ``data/departments.csv``
TEAM_NAMES = {
    STREET_TEAM: ("街道综合行政执法队", "street comprehensive enforcement team"),
    HIGHER_PLATFORM: ("区级指挥平台", "district command platform"),
}
_COLUMNS = ("category", "list", "lead", "co_departments", "valid_from", "valid_to")


def read_routing(
    path: str | Path | None = None,
    *,
    taxonomy: pd.DataFrame | None = None,
    departments: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Read and check the routing table.

    Returns
    -------
    pandas.DataFrame
        ``category, list, lead, co_departments, valid_from, valid_to`` (dates as Timestamps,
        ``valid_to`` NaT = open), ``power_no``, ``note``.

    Raises
    ------
    InputError
        Naming the line: an unknown category, list or department, an enforcement power not led
        by ``street_team``, bad dates, or two rows of one category in force on the same day.
    """
    path = Path(path or ROUTING_CSV)
    if not path.exists():
        raise InputError(f"{path}: no such routing file")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, comment="#")
    missing = set(_COLUMNS) - set(frame.columns)
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    frame = frame.apply(lambda s: s.str.strip())
    tax = read_taxonomy() if taxonomy is None else taxonomy
    deps = set((read_departments() if departments is None else departments)["code"])
    start = pd.to_datetime(frame["valid_from"], format="%Y-%m-%d", errors="coerce")
    end = pd.to_datetime(frame["valid_to"].replace("", None), format="%Y-%m-%d", errors="coerce")
    problems = []
    for i, row in frame.iterrows():
        line = i + 2
        if row["category"] not in set(tax["code"]):
            problems.append(f"line {line}: category {row['category']!r} is not in the taxonomy")
        if row["list"] not in ROUTE_LISTS:
            problems.append(f"line {line}: list {row['list']!r} not in {ROUTE_LISTS}")
        elif row["list"] == "enforcement" and row["lead"] != STREET_TEAM:
            problems.append(f"line {line}: an enforcement power is led by {STREET_TEAM}")
        elif row["list"] == "service" and row["lead"] not in deps:
            problems.append(f"line {line}: unknown lead department {row['lead']!r}")
        for dep in filter(None, row["co_departments"].split(";")):
            if dep not in deps:
                problems.append(f"line {line}: unknown co-department {dep!r}")
        if pd.isna(start[i]):
            problems.append(f"line {line}: valid_from {row['valid_from']!r} is not YYYY-MM-DD")
        if row["valid_to"] and (pd.isna(end[i]) or (pd.notna(start[i]) and end[i] <= start[i])):
            problems.append(f"line {line}: valid_to {row['valid_to']!r} is not a later date")
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems[:10]))
    frame["valid_from"], frame["valid_to"] = start, end
    open_end = frame["valid_to"].astype("datetime64[ns]").fillna(pd.Timestamp.max)
    for cat, rows in frame.groupby("category"):
        rows = rows.assign(_end=open_end[rows.index]).sort_values("valid_from")
        overlap = rows["valid_from"].to_numpy()[1:] < rows["_end"].to_numpy()[:-1]
        if overlap.any():
            raise InputError(f"{path}: two rows of {cat} are in force at the same time")
    frame["power_no"] = pd.to_numeric(frame.get("power_no", ""), errors="coerce").astype("Int64")
    if "note" not in frame:
        frame["note"] = ""
    return frame[[*_COLUMNS, "power_no", "note"]]


def department_label(code: str | None, lang: str = "zh", departments: pd.DataFrame | None = None):
    """The name of a department code (or of ``street_team`` / ``higher_platform``)."""
    if code in TEAM_NAMES:
        return TEAM_NAMES[code][0 if lang == "zh" else 1]
    deps = read_departments() if departments is None else departments
    hit = deps[deps["code"] == code]
    if hit.empty:
        return str(code)
    return str(hit.iloc[0]["name_zh" if lang == "zh" else "name_en"])


@dataclass(frozen=True)
class RouteSuggestion:
    """Where a case of ``category`` should go on ``day``, and why.

    ``target_kind`` is ``street_team``, ``department`` or ``higher_platform``; ``department``
    the code of the lead (``street_team`` / ``higher_platform`` for those two).
    """

    category: str
    day: date
    list: str | None
    target_kind: str
    department: str
    co_departments: tuple[str, ...]
    power_no: int | None
    reason_zh: str
    reason_en: str

    def reason(self, lang: str = "zh") -> str:
        """The reason in Chinese (``zh``) or English."""
        return self.reason_zh if lang == "zh" else self.reason_en


def _in_force(routing: pd.DataFrame, category: str, day: pd.Timestamp) -> pd.DataFrame:
    rows = routing[routing["category"] == category]
    ok = (rows["valid_from"] <= day) & (rows["valid_to"].isna() | (rows["valid_to"] > day))
    return rows[ok]


def suggest_route(
    category: str,
    at=None,
    *,
    routing: pd.DataFrame | None = None,
    taxonomy: pd.DataFrame | None = None,
    departments: pd.DataFrame | None = None,
) -> RouteSuggestion:
    """The suggested dispatch target of a case of ``category`` at time ``at`` (default today).

    Returns
    -------
    RouteSuggestion
        The street team for a power on the enforcement list; the responsible department (with
        co-departments) for the service list; otherwise the higher platform. The reason names
        the list, the power number, the validity and, when a power was taken back, since when.
    """
    day = pd.Timestamp(at if at is not None else pd.Timestamp.now()).normalize()
    routing = (
        read_routing(taxonomy=taxonomy, departments=departments) if routing is None else routing
    )
    tax = read_taxonomy() if taxonomy is None else taxonomy
    deps = read_departments() if departments is None else departments
    hit = tax[tax["code"] == category]
    name_zh = hit.iloc[0]["name_zh"] if len(hit) else category
    name_en = hit.iloc[0]["name_en"] if len(hit) else category
    rows = _in_force(routing, category, day)
    d = day.date().isoformat()
    if rows.empty:
        ended = routing[
            (routing["category"] == category)
            & routing["valid_to"].notna()
            & (routing["valid_to"] <= day)
        ]
        note_zh = note_en = ""
        if len(ended):
            last = ended.sort_values("valid_to").iloc[-1]
            since = last["valid_to"].date().isoformat()
            note_zh, note_en = (
                f"（原{last['list']}清单事项，{since}起失效）",
                f" (listed until {since})",
            )
        return RouteSuggestion(
            category,
            day.date(),
            None,
            "higher_platform",
            HIGHER_PLATFORM,
            (),
            None,
            f"「{category} {name_zh}」{d}不在街道执法清单或服务清单内{note_zh}：上报区级平台派遣",
            f"{category} {name_en} is on neither of the street's lists on {d}{note_en}: "
            "escalate to the district platform",
        )
    row = rows.iloc[0]
    co = tuple(filter(None, str(row["co_departments"]).split(";")))
    since = row["valid_from"].date().isoformat()
    until_zh = f"至{row['valid_to'].date().isoformat()}" if pd.notna(row["valid_to"]) else ""
    until_en = f" until {row['valid_to'].date().isoformat()}" if pd.notna(row["valid_to"]) else ""
    co_zh = "、".join(department_label(c, "zh", deps) for c in co)
    co_en = ", ".join(department_label(c, "en", deps) for c in co)
    power = None if pd.isna(row["power_no"]) else int(row["power_no"])
    if row["list"] == "enforcement":
        zh = (
            f"「{category} {name_zh}」属街道执法清单第{power}项（{since}起{until_zh}有效）："
            f"由街道综合行政执法队处置" + (f"，{co_zh}配合" if co else "")
        )
        en = (
            f"{category} {name_en} is power {power} on the street's enforcement list (in force "
            f"since {since}{until_en}): dispatch to the street enforcement team"
            + (f", with {co_en} assisting" if co else "")
        )
        return RouteSuggestion(
            category, day.date(), "enforcement", "street_team", STREET_TEAM, co, power, zh, en
        )
    lead_zh, lead_en = (
        department_label(row["lead"], "zh", deps),
        department_label(row["lead"], "en", deps),
    )
    zh = (
        f"「{category} {name_zh}」属服务清单（{since}起{until_zh}有效），不在街道执法权限内："
        f"由{lead_zh}主办" + (f"，{co_zh}协办" if co else "") + "，街道负责协调"
    )
    en = (
        f"{category} {name_en} is on the service list (since {since}{until_en}), outside the "
        f"street's powers: dispatch to {lead_en} as lead"
        + (f" with {co_en} assisting" if co else "")
        + "; the street coordinates"
    )
    return RouteSuggestion(
        category, day.date(), "service", "department", str(row["lead"]), co, None, zh, en
    )


def route_targets(categories, times, routing: pd.DataFrame | None = None) -> pd.DataFrame:
    """Vectorised targets for many cases: ``list, target_kind, department, co_departments``."""
    routing = read_routing() if routing is None else routing
    cats = pd.Series(categories, dtype=object).reset_index(drop=True)
    days = pd.to_datetime(pd.Series(times)).reset_index(drop=True).dt.normalize()
    out = pd.DataFrame(
        {
            "list": pd.Series([None] * len(cats), dtype=object),
            "target_kind": "higher_platform",
            "department": HIGHER_PLATFORM,
            "co_departments": pd.Series([None] * len(cats), dtype=object),
        }
    )
    for row in routing.itertuples(index=False):
        hit = (cats == row.category) & (days >= row.valid_from)
        if pd.notna(row.valid_to):
            hit &= days < row.valid_to
        idx = np.flatnonzero(hit.to_numpy())
        if len(idx):
            out.loc[idx, "list"] = row.list
            out.loc[idx, "target_kind"] = (
                "street_team" if row.list == "enforcement" else "department"
            )
            out.loc[idx, "department"] = row.lead
            out.loc[idx, "co_departments"] = row.co_departments or None
    return out


__all__ = [
    "HIGHER_PLATFORM",
    "ROUTE_LISTS",
    "ROUTING_CSV",
    "RouteSuggestion",
    "STREET_TEAM",
    "TEAM_NAMES",
    "department_label",
    "read_routing",
    "route_targets",
    "suggest_route",
]
