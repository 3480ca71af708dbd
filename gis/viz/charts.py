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
