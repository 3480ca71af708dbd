"""Patrol tracks in the store (``gis.store.tracks``): stored fix times and writing tracks with
their fixes; a track code already taken gets a numeric suffix."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from gis import store
from gis.store.tracks import save_tracks, stored_fix_times

T0 = pd.Timestamp("2026-03-01 09:00:00")


def one_track(staff: str = "S1") -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    t = T0 + pd.to_timedelta([0, 10, 20], "s")
    tracks = pd.DataFrame(
        {
            "track_id": [0],
            "track_code": [f"{staff}/20260301T090000"],
            "staff_code": [staff],
            "shift": ["morning"],
            "started_at": [t[0]],
            "ended_at": [t[-1]],
        }
    )
    fixes = gpd.GeoDataFrame(
        {"track_id": 0, "staff_code": staff, "t": t},
        geometry=shapely.points([112.93, 112.9301, 112.9302], [35.8, 35.8, 35.8]),
        crs=4326,
    )
    return tracks, fixes


def test_save_tracks_and_read_back(engine):
    tracks, fixes = one_track()
    with engine.begin() as conn:
        assert save_tracks(conn, tracks, fixes) == ["S1/20260301T090000"]
    later = fixes.assign(t=fixes["t"] + pd.Timedelta(seconds=5))  # one fix per staff and time
    with engine.begin() as conn:  # the same code again: a suffix, the first row untouched
        assert save_tracks(conn, tracks, later) == ["S1/20260301T090000-2"]
    with engine.begin() as conn:
        assert save_tracks(conn, tracks.iloc[0:0], fixes.iloc[0:0]) == []
    stored = store.read_fixes(engine)
    assert len(stored) == 6
    assert sorted(set(stored["track_code"])) == ["S1/20260301T090000", "S1/20260301T090000-2"]
    assert (stored.groupby("track_code").size() == 3).all()
    got = stored_fix_times(engine, ["S1", "S9"], T0, T0 + pd.Timedelta(seconds=10))
    ten = T0 + pd.Timedelta(seconds=10)
    five = T0 + pd.Timedelta(seconds=5)
    assert sorted(pd.to_datetime(got["t"])) == [T0, five, ten]  # both ends included
    assert set(got["staff_code"]) == {"S1"}
    assert stored_fix_times(engine, [], T0, T0).empty
