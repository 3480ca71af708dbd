"""Time limits per category, urgency and stage (``data/case_limits.csv``, editable).

Each row gives a limit (``limit_value`` + ``limit_type``, one of ``clocks.LIMIT_TYPES``) for a
``stage`` (``case``: the whole case from 立案 to 结案; ``accept``, ``dispatch``, ``handle``,
``verify``: the stage clocks) of a ``category`` (a minor class ``05-05``, a major class ``05``
or ``*``) at an ``urgency`` (``general``, ``major``, ``emergency`` or ``*``). An empty limit
means no limit. The most specific row wins: an exact urgency before ``*``, then an exact minor
class before its major class before ``*`` (so ``*,emergency`` beats ``05-05,*``). A ``handle``
stage without a row of its own takes the case limit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gis.cases.clocks import LIMIT_TYPES
from gis.core import settings
from gis.core.errors import InputError
from gis.taxonomy import normalize_label, read_taxonomy

CASE_LIMITS_CSV = settings.DATA_DIR / "case_limits.csv"
LIMIT_STAGES = ("case", "accept", "dispatch", "handle", "verify")
URGENCIES = ("general", "major", "emergency")
#: words for the urgency levels found in real files (normalised) -> urgency
URGENCY_WORDS = {
    "general": "general",
    "normal": "general",
    "一般": "general",
    "普通": "general",
    "低": "general",
    "major": "major",
    "重大": "major",
    "重要": "major",
    "较大": "major",
    "高": "major",
    "emergency": "emergency",
    "urgent": "emergency",
    "紧急": "emergency",
    "突发": "emergency",
    "加急": "emergency",
    "特急": "emergency",
}
_COLUMNS = ("category", "urgency", "stage", "limit_value", "limit_type")


def read_case_limits(
    path: str | Path | None = None, taxonomy: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Read and check the limits table.

    Returns
    -------
    pandas.DataFrame
        ``category, urgency, stage, limit_value`` (float, NaN = no limit), ``limit_type``.

    Raises
    ------
    InputError
        Naming the line: a missing column, an unknown category, urgency, stage or limit type,
        a negative or unreadable limit, or the same category/urgency/stage twice.
    """
    path = Path(path or CASE_LIMITS_CSV)
    if not path.exists():
        raise InputError(f"{path}: no such limits file")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, comment="#")
    missing = set(_COLUMNS) - set(frame.columns)
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    tax = read_taxonomy() if taxonomy is None else taxonomy
    codes = set(tax["code"])
    majors = set(tax["major_code"])
    frame = frame.apply(lambda s: s.str.strip())
    value = pd.to_numeric(frame["limit_value"].replace("", np.nan), errors="coerce")
    problems = []
    for i, row in frame.iterrows():
        line = i + 2
        cat, urg, stage, kind = row["category"], row["urgency"], row["stage"], row["limit_type"]
        if cat != "*" and cat not in codes and cat not in majors:
            problems.append(f"line {line}: category {cat!r} is not in the taxonomy")
        if urg != "*" and urg not in URGENCIES:
            problems.append(f"line {line}: urgency {urg!r} not in {URGENCIES} or *")
        if stage not in LIMIT_STAGES:
            problems.append(f"line {line}: stage {stage!r} not in {LIMIT_STAGES}")
        if row["limit_value"] and (pd.isna(value[i]) or value[i] < 0):
            problems.append(f"line {line}: limit {row['limit_value']!r} is not a number >= 0")
        if row["limit_value"] and kind not in LIMIT_TYPES:
            problems.append(f"line {line}: limit type {kind!r} not in {LIMIT_TYPES}")
        if not row["limit_value"] and kind:
            problems.append(f"line {line}: a limit type without a limit value")
    dup = frame.duplicated(["category", "urgency", "stage"])
    for i in np.flatnonzero(dup.to_numpy()):
        problems.append(f"line {i + 2}: {frame['category'][i]}/{frame['urgency'][i]} twice")
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems[:10]))
    out = frame[list(_COLUMNS)].copy()
    out["limit_value"] = value.astype(float)
    out["limit_type"] = out["limit_type"].replace("", None).astype(object)
    return out


def normalize_urgency(values: pd.Series) -> pd.Series:
    """Urgency words (一般/重大/紧急/突发, general/major/emergency ...) as ``URGENCIES``;
    empty or unknown text becomes ``general``."""
    keys = normalize_label(values.astype("string").fillna(""))
    return keys.map(lambda k: URGENCY_WORDS.get(k, "general")).astype(object)


def _specificity(row_cat: str, row_urg: str, category: str, urgency: str) -> int:
    """How well a row fits a case (-1: not at all); higher wins."""
    if row_urg not in ("*", urgency):
        return -1
    if row_cat == category:
        cat_score = 2
    elif row_cat == str(category)[:2] and "-" not in row_cat:
        cat_score = 1
    elif row_cat == "*":
        cat_score = 0
    else:
        return -1
    return (4 if row_urg == urgency else 0) + cat_score


def limits_for(
    categories: pd.Series | list[str],
    urgencies: pd.Series | list[str] | str = "general",
    *,
    stage: str = "case",
    table: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The limit of each case for one stage.

    Returns
    -------
    pandas.DataFrame
        ``limit_value`` (NaN = no limit) and ``limit_type``, aligned with ``categories``.
    """
    if stage not in LIMIT_STAGES:
        raise InputError(f"unknown stage {stage!r}; one of {', '.join(LIMIT_STAGES)}")
    table = read_case_limits() if table is None else table
    cats = pd.Series(categories, dtype=object).reset_index(drop=True)
    urgs = pd.Series(
        [urgencies] * len(cats) if isinstance(urgencies, str) else list(urgencies), dtype=object
    )
    rows = table[table["stage"] == stage]
    if stage == "handle" and rows.empty:
        return limits_for(cats, urgs, stage="case", table=table)
    pairs = pd.DataFrame({"c": cats.fillna(""), "u": urgs.fillna("general")})
    found: dict[tuple[str, str], tuple[float, object]] = {}
    for c, u in pairs.drop_duplicates().itertuples(index=False):
        best, pick = -1, (np.nan, None)
        for r in rows.itertuples(index=False):
            score = _specificity(r.category, r.urgency, c, u)
            if score > best:
                best, pick = score, (r.limit_value, r.limit_type)
        if best < 0 and stage == "handle":
            pick = tuple(limits_for([c], [u], stage="case", table=table).iloc[0])
        found[(c, u)] = pick
    picked = [found[(c, u)] for c, u in pairs.itertuples(index=False)]
    return pd.DataFrame(
        {
            "limit_value": np.array([p[0] for p in picked], dtype=float),
            "limit_type": pd.Series([p[1] for p in picked], dtype=object),
        }
    )


__all__ = [
    "CASE_LIMITS_CSV",
    "LIMIT_STAGES",
    "URGENCIES",
    "URGENCY_WORDS",
    "limits_for",
    "normalize_urgency",
    "read_case_limits",
]
