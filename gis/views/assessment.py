"""The assessment page's model (考核评价): the closed loop's metrics for a period against the
previous period and the same period last year, the ranking with its red and black lists (红黑榜),
grid colours by on-time closure, and the workbook to download.

The figures are ``gis.cases.case_metrics`` unchanged (the page shows what
``gridlens cases metrics`` writes for the same period); this module only lines periods up.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

#: the metrics compared across periods
COMPARED = ("reported", "closed", "close_rate", "on_time_close_rate", "overdue_open", "score")
#: on-time closure classes of the grid map (upper bounds) and their colours (red -> green)
ON_TIME_EDGES = (0.6, 0.75, 0.9, 1.01)
ON_TIME_RGB = ([215, 25, 28, 200], [253, 174, 97, 200], [166, 217, 106, 200], [26, 150, 65, 200])
NO_DATA_RGB = [200, 200, 200, 120]


@dataclass(frozen=True)
class Periods:
    """A period ``[start, end)``, the one before it of the same length, and the same dates one
    year earlier."""

    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def previous(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The period of the same length just before."""
        return self.start - (self.end - self.start), self.start

    @property
    def last_year(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The same dates a year earlier (同比)."""
        return self.start - pd.DateOffset(years=1), self.end - pd.DateOffset(years=1)


def month_periods(month: str) -> Periods:
    """The periods of a calendar month ``YYYY-MM``."""
    start = pd.Timestamp(f"{month}-01")
    return Periods(start, start + pd.DateOffset(months=1))


def compare(current: pd.DataFrame, previous: pd.DataFrame, last_year: pd.DataFrame) -> pd.DataFrame:
    """The current metrics per unit with each ``COMPARED`` metric of the previous period
    (``<m>_prev``), of last year (``<m>_yoy``) and the changes (``<m>_chg``, ``<m>_yoy_chg``:
    current minus earlier; NaN where the earlier period has no such unit)."""
    out = current.copy()
    for other, tag in ((previous, "prev"), (last_year, "yoy")):
        right = other.set_index("unit")[list(COMPARED)] if len(other) else None
        for m in COMPARED:
            values = (
                out["unit"].map(right[m]) if right is not None else pd.Series(np.nan, out.index)
            )
            out[f"{m}_{tag}"] = values.astype(float)
            out[f"{m}_{'chg' if tag == 'prev' else 'yoy_chg'}"] = out[m].astype(float) - values
    return out


def ranking(metrics: pd.DataFrame, n: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The red list (红榜: the ``n`` best scores, grades A/B only) and the black list (黑榜: the
    ``n`` worst, grades D/E only), ties by unit. Units without a score are in neither."""
    scored = metrics[metrics["score"].notna()].sort_values(
        ["score", "unit"], ascending=[False, True]
    )
    red = scored[scored["grade"].isin(["A", "B"])].head(n)
    black = scored[scored["grade"].isin(["D", "E"])].sort_values(["score", "unit"]).head(n)
    return red.reset_index(drop=True), black.reset_index(drop=True)


def on_time_colors(rates: np.ndarray) -> list[list[int]]:
    """The fill colour of each grid by its on-time closure rate (grey without cases due)."""
    out = []
    for rate in np.asarray(rates, dtype=float):
        if not np.isfinite(rate):
            out.append(NO_DATA_RGB)
            continue
        k = int(np.searchsorted(ON_TIME_EDGES, rate, side="right"))
        out.append(ON_TIME_RGB[min(k, len(ON_TIME_RGB) - 1)])
    return out


def combined_scores(
    metrics: pd.DataFrame, ratings: pd.DataFrame, objective_weight: float = 0.7
) -> pd.DataFrame:
    """The objective score combined with the community's rating of each officer.

    Parameters
    ----------
    metrics
        Case metrics by ``staff`` (``unit`` = staff code, ``score`` 0-100).
    ratings
        ``officer, score`` (0-100, one row per rating); averaged per officer.
    objective_weight
        Weight of the objective score; the rating gets ``1 - objective_weight``. An officer
        with only one of the two gets that one.

    Returns
    -------
    pandas.DataFrame
        ``officer, objective, rating, n_ratings, combined``, best first.
    """
    w = float(objective_weight)
    if not 0 <= w <= 1:
        raise ValueError("the objective weight is between 0 and 1")
    obj = metrics[metrics["unit"].notna()].set_index("unit")["score"].astype(float)
    rated = ratings.groupby("officer")["score"].agg(["mean", "count"]) if len(ratings) else None
    officers = sorted(set(obj.index) | (set(rated.index) if rated is not None else set()))
    frame = pd.DataFrame({"officer": officers})
    frame["objective"] = frame["officer"].map(obj).astype(float)
    frame["rating"] = (
        frame["officer"].map(rated["mean"]).astype(float) if rated is not None else np.nan
    )
    frame["n_ratings"] = (
        frame["officer"].map(rated["count"]).fillna(0).astype(int) if rated is not None else 0
    )
    both = frame["objective"].notna() & frame["rating"].notna()
    frame["combined"] = np.where(
        both,
        w * frame["objective"] + (1 - w) * frame["rating"],
        frame["objective"].fillna(frame["rating"]),
    )
    return frame.sort_values(["combined", "officer"], ascending=[False, True]).reset_index(
        drop=True
    )


def workbook(sheets: dict[str, pd.DataFrame]) -> bytes:
    """An Excel workbook with one sheet per frame (names cut to Excel's 31 characters)."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        for name, frame in sheets.items():
            frame.to_excel(xl, sheet_name=name[:31], index=False)
    return buf.getvalue()


def period_label(start: datetime, end: datetime) -> str:
    """``2026-10-01 – 2026-10-31`` (the last day included)."""
    last = pd.Timestamp(end) - pd.Timedelta(days=1)
    return f"{pd.Timestamp(start):%Y-%m-%d} – {last:%Y-%m-%d}"


__all__ = [
    "COMPARED",
    "NO_DATA_RGB",
    "ON_TIME_EDGES",
    "ON_TIME_RGB",
    "Periods",
    "combined_scores",
    "compare",
    "month_periods",
    "on_time_colors",
    "period_label",
    "ranking",
    "workbook",
]
