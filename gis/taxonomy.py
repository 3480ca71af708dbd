"""The incident taxonomy (major + minor class) and the departments that handle incidents.

The taxonomy is data the user can edit (``data/taxonomy.csv``), not code: codes and names differ
by city. This module reads and validates it; ``gis.store`` loads it into the database.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from gis import settings
from gis.errors import InputError

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
