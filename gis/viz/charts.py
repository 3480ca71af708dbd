"""Charts (Altair) shared by the pages: the hour x weekday heat map."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd


def hour_weekday_chart(
    table: pd.DataFrame,
    *,
    days: list[str],
    hour_title: str,
    weekday_title: str,
    count_title: str,
    height: int = 230,
) -> alt.Chart:
    """An hour x weekday heat map (Altair rects, orange-red by count).

    Parameters
    ----------
    table : pandas.DataFrame
        Counts with hours (0-23) as the index and weekday numbers (0 = Monday) as columns.
    days : list of str
        Weekday names, Monday first (indexed by ``table``'s columns); also the y-axis order.
    hour_title, weekday_title, count_title : str
        Axis and legend titles (already translated).
    height : int
        Chart height in pixels.

    Returns
    -------
    altair.Chart
        Hours across, weekdays down, one rect per cell with its count in the tooltip.
    """
    long = pd.DataFrame(
        {
            "hour": np.repeat(np.asarray(table.index, dtype=int), table.shape[1]),
            "weekday": np.tile([days[i] for i in table.columns], table.shape[0]),
            "n": table.to_numpy().ravel(),
        }
    )
    return (
        alt.Chart(long)
        .mark_rect()
        .encode(
            x=alt.X("hour:O", title=hour_title),
            y=alt.Y("weekday:N", sort=days, title=weekday_title),
            color=alt.Color("n:Q", title=count_title, scale=alt.Scale(scheme="orangered")),
            tooltip=["weekday", "hour", "n"],
        )
        .properties(height=height)
    )


#: date axis labels: numbers only (月-日), so no English month or weekday name shows in the
#: Chinese UI (Vega-Lite's own "%b %d" labels are English)
DATE_AXIS_FORMAT = "%m-%d"


def date_line_chart(
    series: pd.Series, *, date_title: str, value_title: str, height: int = 220
) -> alt.Chart:
    """A line over dates with numeric date labels (``08-09``) and a ``2026-08-09`` tooltip.

    Parameters
    ----------
    series : pandas.Series
        Values indexed by dates (days or week starts).
    date_title, value_title : str
        Axis titles (already translated).
    height : int
        Chart height in pixels.
    """
    frame = pd.DataFrame({"date": pd.to_datetime(series.index), "value": series.to_numpy()})
    return (
        alt.Chart(frame)
        .mark_line(point=len(frame) <= 60)
        .encode(
            x=alt.X("date:T", title=date_title, axis=alt.Axis(format=DATE_AXIS_FORMAT)),
            y=alt.Y("value:Q", title=value_title),
            tooltip=[
                alt.Tooltip("date:T", title=date_title, format="%Y-%m-%d"),
                alt.Tooltip("value:Q", title=value_title, format=","),
            ],
        )
        .properties(height=height)
    )
