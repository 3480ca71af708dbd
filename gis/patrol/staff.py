"""Patrols per staff member: their grid, the micro-grids they answer for, and their presence."""

from __future__ import annotations

import pandas as pd

from gis.grids import descendants


def staff_summary(
    staff: pd.DataFrame,
    staff_presence: pd.DataFrame,
    grids: pd.DataFrame,
    unpatrolled: pd.DataFrame,
) -> pd.DataFrame:
    """One row per staff member: their grid, the micro-grids they answer for, and their patrols.

    Parameters
    ----------
    staff
        ``staff_code, name, role, grid_code`` (the members to list).
    staff_presence
        ``presence(samples, grids, by=("unit", "staff"))`` over micro-grids.
    grids
        The grid layer (``code, name, level, parent_code``).
    unpatrolled
        ``GapReport.staff_unpatrolled`` for the same period.

    Returns
    -------
    pandas.DataFrame
        ``staff_code, name, role, grid_code, grid_name, micro_grids`` (responsible micro-grids:
        ``grid_code`` and below), ``patrolled`` (of those, visited by the member),
        ``unpatrolled``, ``visits`` (entries into any micro-grid), ``dwell_s`` (time in the
        district's micro-grids), ``own_dwell_s`` (time in their own micro-grids).
    """
    micro = set(grids.loc[grids["level"] == "micro", "code"].astype(str))
    names = dict(zip(grids["code"].astype(str), grids["name"], strict=False))
    pres = staff_presence
    rows = []
    gone = unpatrolled.groupby("staff_code").size() if len(unpatrolled) else pd.Series(dtype=int)
    for rec in staff.itertuples(index=False):
        code = getattr(rec, "grid_code", None)
        mine = descendants(str(code), grids) & micro if code is not None and code == code else set()
        own = pres[pres["staff_code"] == rec.staff_code]
        inside = own["unit_id"].astype(str).isin(mine)
        n_un = int(gone.get(rec.staff_code, 0))
        rows.append(
            {
                "staff_code": rec.staff_code,
                "name": getattr(rec, "name", None),
                "role": getattr(rec, "role", None),
                "grid_code": code,
                "grid_name": names.get(str(code)),
                "micro_grids": len(mine),
                "patrolled": len(mine) - n_un,
                "unpatrolled": n_un,
                "visits": int(own["visits"].sum()),
                "dwell_s": float(own["dwell_s"].sum()),
                "own_dwell_s": float(own.loc[inside, "dwell_s"].sum()),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "staff_code",
            "name",
            "role",
            "grid_code",
            "grid_name",
            "micro_grids",
            "patrolled",
            "unpatrolled",
            "visits",
            "dwell_s",
            "own_dwell_s",
        ],
    )
