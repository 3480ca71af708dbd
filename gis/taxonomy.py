"""The incident taxonomy (major + minor class) and the departments that handle incidents.

The taxonomy is data the user can edit (``data/taxonomy.csv``), not code: codes and names differ
by city. This module reads and validates it; ``gis.store`` loads it into the database.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from gis.core import settings
from gis.core.errors import InputError

TAXONOMY_COLUMNS = [
    "code",
    "major_code",
    "major_name_zh",
    "major_name_en",
    "minor_code",
    "name_zh",
    "name_en",
    "department",
    "co_departments",
    "list_type",
    "time_limit_h",
    "severity_weight",
]
LIST_TYPES = ("enforcement", "service")
_CODE = re.compile(r"^\d{2}-\d{2}$")


def read_departments(path: str | Path | None = None) -> pd.DataFrame:
    """Read the departments table (``code, name_zh, name_en, joint_team``)."""
    path = Path(path or settings.DEPARTMENTS_CSV)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"code", "name_zh", "name_en"} - set(frame.columns)
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    if frame["code"].duplicated().any():
        dup = frame.loc[frame["code"].duplicated(), "code"].tolist()
        raise InputError(f"{path}: duplicate department code(s) {dup}")
    return frame


def read_taxonomy(
    path: str | Path | None = None, departments: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Read and validate the taxonomy CSV.

    Parameters
    ----------
    path
        CSV with the columns in ``TAXONOMY_COLUMNS``; defaults to ``data/taxonomy.csv``.
    departments
        Known departments; every ``department`` and ``co_departments`` entry must be one of them.

    Returns
    -------
    pandas.DataFrame
        One row per minor class, ``time_limit_h`` (hours) as float and ``severity_weight`` as int.

    Raises
    ------
    InputError
        Naming the file, row and problem: missing columns, malformed or duplicate codes, a code
        that disagrees with its major/minor parts, an unknown department or list type.
    """
    path = Path(path or settings.TAXONOMY_CSV)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = set(TAXONOMY_COLUMNS) - set(frame.columns)
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    departments = read_departments() if departments is None else departments
    known = set(departments["code"])
    problems = []
    for i, row in frame.iterrows():
        line = i + 2  # header is line 1
        code = row["code"]
        if not _CODE.match(code):
            problems.append(f"line {line}: code {code!r} is not NN-NN")
        elif code != f"{row['major_code']}-{row['minor_code']}":
            problems.append(f"line {line}: code {code} != major_code-minor_code")
        if row["list_type"] not in LIST_TYPES:
            problems.append(f"line {line}: list_type {row['list_type']!r} not in {LIST_TYPES}")
        for dep in [row["department"], *filter(None, row["co_departments"].split(";"))]:
            if dep not in known:
                problems.append(f"line {line}: unknown department {dep!r}")
    dup = frame["code"][frame["code"].duplicated()].tolist()
    if dup:
        problems.append(f"duplicate code(s) {dup}")
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems))
    frame["time_limit_h"] = pd.to_numeric(frame["time_limit_h"]).astype(float)
    frame["severity_weight"] = pd.to_numeric(frame["severity_weight"]).astype(int)
    return frame


#: The code given to incidents whose category the alias table does not know, when the user
#: imports them with ``unknown="unclassified"`` (never otherwise). It is a row of
#: ``data/taxonomy.csv`` (99 未分类 / Unclassified), so filters and names treat it as a class.
UNCLASSIFIED = "99-99"
ALIAS_COLUMNS = ["alias", "category_code", "note"]


def normalize_label(values: pd.Series | list[str] | str):
    """Normalise category text for matching: NFKC (full-width to half-width), case-folded,
    whitespace collapsed, spaces around ``-`` and ``/`` removed. Works on a str or a Series."""
    if isinstance(values, str):
        return normalize_label(pd.Series([values])).iloc[0]
    s = pd.Series(values, dtype="object").astype("string")
    s = s.map(lambda v: unicodedata.normalize("NFKC", v) if isinstance(v, str) else v)
    s = s.str.casefold().str.replace(r"\s+", " ", regex=True).str.strip()
    return s.str.replace(r"\s*([-/])\s*", r"\1", regex=True)


def read_category_aliases(
    path: str | Path | None = None, taxonomy: pd.DataFrame | None = None
) -> dict[str, str]:
    """The alias table as ``{normalised alias: category code}``.

    Besides ``data/category_aliases.csv`` (``alias, category_code, note``; editable), every
    taxonomy code (``05-05``), name (``机动车乱停放``, ``Illegal parking (motor vehicles)``) and
    name without its bracketed part (``店外经营``) is an alias of its own class.

    Raises
    ------
    InputError
        A missing column, an alias naming a code that is not in the taxonomy, or one alias given
        two different codes.
    """
    path = Path(path or settings.CATEGORY_ALIASES_CSV)
    taxonomy = read_taxonomy() if taxonomy is None else taxonomy
    codes = set(taxonomy["code"])
    out: dict[str, str] = {}
    for col in ("code", "name_zh", "name_en"):
        names = taxonomy[col].astype(str)
        for key, code in zip(normalize_label(names), taxonomy["code"], strict=True):
            out.setdefault(key, code)
        short = names.str.replace(r"\s*[\(（].*?[\)）]\s*", "", regex=True)
        for key, code in zip(normalize_label(short), taxonomy["code"], strict=True):
            out.setdefault(key, code)
    if not path.exists():
        return out
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"alias", "category_code"} - set(frame.columns)
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    problems, seen = [], {}
    for line, (alias, code, key) in enumerate(
        zip(frame["alias"], frame["category_code"], normalize_label(frame["alias"]), strict=True),
        start=2,
    ):
        if not key:
            continue
        if code not in codes:
            problems.append(f"line {line}: {alias!r} -> unknown category code {code!r}")
        elif key in seen and seen[key] != code:
            problems.append(f"line {line}: {alias!r} given both {seen[key]} and {code}")
        seen[key] = code
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems))
    out.update(seen)
    return out


def map_categories(raw: pd.Series, aliases: dict[str, str]) -> tuple[pd.Series, pd.Series]:
    """Map category text to taxonomy codes through the alias table, never guessing.

    Returns
    -------
    (codes, unknown)
        ``codes``: the code per row (``<NA>`` where the text is empty or unknown);
        ``unknown``: counts of the unknown texts (as written in the file), largest first.
    """
    text = raw.astype("string").str.strip()
    uniques, inverse = np.unique(text.fillna("").to_numpy(dtype=object), return_inverse=True)
    keys = normalize_label(pd.Series(uniques, dtype=object))
    mapped = np.array([aliases.get(k) if k else None for k in keys], dtype=object)
    codes = pd.Series(mapped[inverse], index=raw.index, dtype="string")
    unknown_mask = codes.isna() & text.notna() & (text != "")
    unknown = text[unknown_mask].value_counts()
    return codes, unknown


def category_mask(
    codes: pd.Series, selection: str | list[str] | tuple[str, ...] | None
) -> np.ndarray:
    """THE category filter rule: which ``codes`` a user's category selection keeps.

    A minor-class code (``"05-05"``) matches exactly; a major-class code (``"05"``, or
    ``"05-"``) matches every minor class of that major class (``"05-xx"``) — the same in every
    command and page. Several codes (a list, or text separated by commas) are alternatives.
    ``None`` or an empty selection keeps everything.

    Parameters
    ----------
    codes
        Category codes (``"MM-NN"``) of the rows to filter.
    selection
        The codes and major classes chosen.

    Returns
    -------
    numpy.ndarray
        Boolean, aligned with ``codes``.
    """
    if isinstance(selection, str):
        selection = selection.split(",")
    chosen = [str(c).strip() for c in (selection or []) if str(c).strip()]
    if not chosen:
        return np.ones(len(codes), dtype=bool)
    text = pd.Series(codes).astype("string").fillna("").str.strip()
    exact = {c for c in chosen if _CODE.match(c)}
    majors = {c.rstrip("-") for c in chosen if c not in exact}
    keep = text.isin(exact).to_numpy(dtype=bool, copy=True)
    if majors:
        keep |= text.str.split("-", n=1).str[0].isin(majors).to_numpy(dtype=bool)
    return keep
