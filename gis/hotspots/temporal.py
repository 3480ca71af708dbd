"""When: hour x weekday profiles and period comparisons (this period against the previous one
and the same period last year, exact conditional Poisson test).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from scipy.stats import binomtest

from gis.core.errors import InputError
from gis.core.geometry import as_area
from gis.hotspots.gistar import fdr_mask
from gis.hotspots.inputs import naive_times, points_lonlat
from gis.taxonomy import category_mask

WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _select(incidents: pd.DataFrame, category=None, area=None) -> pd.DataFrame:
    """Incidents of some categories (``gis.taxonomy.category_mask``: codes, or major classes
    like ``"05"``) in an area."""
    sel = incidents
    if category is not None:
        sel = sel[category_mask(sel["category_code"], category)]
    if area is not None:
        if isinstance(area, str) or (
            isinstance(area, list | tuple) and area and isinstance(area[0], str)
        ):
            if "grid_code" not in sel.columns:
                raise InputError("selecting by grid code needs a grid_code column")
            grids = [area] if isinstance(area, str) else list(area)
            sel = sel[sel["grid_code"].isin(grids).to_numpy()]
        else:
            geom = as_area(area)
            shapely.prepare(geom)
            lon, lat = points_lonlat(sel)
            ok = np.isfinite(lon) & np.isfinite(lat)
            inside = np.zeros(len(sel), dtype=bool)
            inside[ok] = shapely.contains_xy(geom, lon[ok], lat[ok])
            sel = sel[inside]
    return sel


def hour_weekday(
    incidents: pd.DataFrame,
    *,
    category: str | list[str] | None = None,
    area=None,
    time_column: str = "occurred_at",
) -> pd.DataFrame:
    """Incident counts by hour of day x day of week (the "when" heat table).

    Parameters
    ----------
    incidents
        Incidents with ``occurred_at`` (wall-clock local time, as stored), ``category_code``
        and, for an area, a point geometry (EPSG:4326) or a ``grid_code`` column.
    category
        A minor-class code (``"05-05"``), a major class (``"05"``: every ``"05-xx"``) or a
        list of them (``gis.taxonomy.category_mask``).
    area
        A polygon (shapely geometry, GeoSeries or GeoDataFrame in EPSG:4326: points inside
        it), or grid code(s) matched against ``grid_code``.

    Returns
    -------
    pandas.DataFrame
        24 x 7 int64 counts: index ``hour`` 0..23, columns ``weekday`` 0..6 (Monday = 0;
        ``WEEKDAYS_EN`` has short names), zeros included. ``attrs["n"]``: incidents counted.
    """
    sel = _select(incidents, category, area)
    t = naive_times(sel[time_column])
    ok = ~t.isna()
    cell = np.asarray(t.hour[ok]) * 7 + np.asarray(t.day_of_week[ok])
    counts = np.bincount(cell, minlength=24 * 7).reshape(24, 7).astype(np.int64)
    out = pd.DataFrame(
        counts, index=pd.RangeIndex(24, name="hour"), columns=pd.RangeIndex(7, name="weekday")
    )
    out.attrs["n"] = int(ok.sum())
    return out


def poisson_rate_test(count_a, count_b, length_a=1.0, length_b=1.0) -> np.ndarray:
    """Two-sided p-value that two Poisson counts come from the same rate per unit length.

    The conditional (exact) test: given the total ``a + b``, a is binomial with
    ``p = length_a / (length_a + length_b)`` under equal rates (p = 0.5 for equal periods);
    the p-value is ``scipy.stats.binomtest(a, a + b, p).pvalue``. 1.0 when both are zero.
    Vectorised over arrays of counts (lengths may be scalars or arrays).
    """
    a = np.atleast_1d(np.asarray(count_a, dtype=np.int64))
    b = np.atleast_1d(np.asarray(count_b, dtype=np.int64))
    la = np.broadcast_to(np.asarray(length_a, dtype=float), a.shape)
    lb = np.broadcast_to(np.asarray(length_b, dtype=float), a.shape)
    out = np.ones(a.shape)
    for k in np.flatnonzero(a + b > 0):  # one exact test per key (a few dozen categories)
        out[k] = binomtest(int(a[k]), int(a[k] + b[k]), la[k] / (la[k] + lb[k])).pvalue
    return out


def period_comparison(
    incidents: pd.DataFrame,
    start,
    end,
    *,
    by: str | None = "category",
    alpha: float = 0.05,
    fdr: bool = False,
    coverage: tuple | None = None,
    time_column: str = "occurred_at",
) -> pd.DataFrame:
    """This period against the previous period (环比) and the same period last year (同比).

    Periods are half-open: this ``[start, end)``; previous ``[start - (end - start), start)``;
    last year ``[start - 1 year, end - 1 year)`` (calendar years, so its length differs by a
    day across 29 February). Each comparison is the conditional binomial test of two Poisson
    counts (``poisson_rate_test``), with the periods' lengths in days -- an exact test that
    is ``binomtest(this, this + other, 0.5)`` for equal lengths.

    Parameters
    ----------
    incidents
        Incidents with ``occurred_at`` and the grouping column.
    start, end
        This period (dates or timestamps, wall-clock time as stored).
    by
        ``"category"`` (``category_code``), any other column (``source``, ``grid_code`` ...),
        or None for one total row (key ``"all"``).
    alpha
        Significance level for ``significant_prev`` / ``significant_ly``.
    fdr
        Benjamini-Hochberg over the keys of each comparison instead of plain ``p < alpha``.
    coverage
        (first, last) instants the incident data cover; a comparison period that starts
        before ``first`` has no data, and its counts, changes and p-values are NaN. Default:
        the first and last time in ``incidents``.

    Returns
    -------
    pandas.DataFrame
        ``key, this, previous, last_year`` (counts), ``change_prev, change_ly`` (relative
        change of the daily rate: ``(this / days) / (other / other_days) - 1``, NaN when the
        other count is 0), ``p_prev, p_ly`` (two-sided), ``significant_prev, significant_ly``
        (bool); sorted by ``this`` descending. ``attrs``: the three periods (ISO strings) and
        their lengths in days.
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if not end > start:
        raise InputError(f"the period is empty: start {start} is not before end {end}")
    length = end - start
    periods = {
        "this": (start, end),
        "previous": (start - length, start),
        "last_year": (start - pd.DateOffset(years=1), end - pd.DateOffset(years=1)),
    }
    days = {k: (b - a) / pd.Timedelta(days=1) for k, (a, b) in periods.items()}
    t = naive_times(incidents[time_column])
    if coverage is None:
        valid = t[~t.isna()]
        coverage = (valid.min(), valid.max()) if len(valid) else (start, start)
    first = pd.Timestamp(coverage[0])
    col = {"category": "category_code"}.get(by, by) if by is not None else None
    if col is not None and col not in incidents.columns:
        raise InputError(f"no column {col!r} to group by")
    keys_all = (
        incidents[col].astype(object).fillna("(none)").to_numpy()
        if col
        else np.full(len(incidents), "all", dtype=object)
    )
    tv = t.to_numpy(dtype="datetime64[ns]")
    counts = {}
    for name, (a, b) in periods.items():
        m = (tv >= a.to_datetime64()) & (tv < b.to_datetime64())
        counts[name] = pd.Series(keys_all[m]).value_counts()
    keys = sorted(set().union(*(c.index for c in counts.values())), key=str)
    if not keys:
        keys = ["all"] if col is None else []
    frame = pd.DataFrame({"key": pd.Series(keys, dtype=object)})
    for name in periods:
        frame[name] = counts[name].reindex(keys).fillna(0).astype(np.int64).to_numpy()
    for name, tag in (("previous", "prev"), ("last_year", "ly")):
        covered = periods[name][0] >= first.floor("D")
        other = frame[name].to_numpy()
        if not covered:
            frame[name] = np.nan
            frame[f"change_{tag}"] = np.nan
            frame[f"p_{tag}"] = np.nan
            frame[f"significant_{tag}"] = False
            continue
        rate_this = frame["this"].to_numpy() / days["this"]
        rate_other = other / days[name]
        with np.errstate(divide="ignore", invalid="ignore"):
            frame[f"change_{tag}"] = np.where(other > 0, rate_this / rate_other - 1.0, np.nan)
        p = poisson_rate_test(frame["this"].to_numpy(), other, days["this"], days[name])
        frame[f"p_{tag}"] = p
        sig = fdr_mask(p, alpha) if fdr else p < alpha
        frame[f"significant_{tag}"] = sig & ((frame["this"].to_numpy() + other) > 0)
    frame = frame[
        [
            "key",
            "this",
            "previous",
            "last_year",
            "change_prev",
            "change_ly",
            "p_prev",
            "p_ly",
            "significant_prev",
            "significant_ly",
        ]
    ]
    frame = frame.sort_values(["this", "key"], ascending=[False, True], kind="stable")
    frame = frame.reset_index(drop=True)
    frame.attrs.update(
        {name: [a.isoformat(), b.isoformat()] for name, (a, b) in periods.items()},
        days=days,
        alpha=alpha,
        fdr=fdr,
    )
    return frame
