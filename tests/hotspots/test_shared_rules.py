"""The hotspot statistics follow the shared rules of the house: one time parser (offsets are
converted to the district's zone, not dropped), one category rule ("05" is a major class), one
district outline (level-1 grids; dedicated grids never count) and one unit grammar
(``gis.units.UnitSpec``). Each test failed on the copies these rules replaced."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis import hotspots as hs
from gis.core import settings
from gis.core.errors import InputError


def _incidents(times, codes) -> gpd.GeoDataFrame:
    n = len(times)
    return gpd.GeoDataFrame(
        {"occurred_at": times, "category_code": codes},
        geometry=gpd.points_from_xy(np.full(n, 112.9), np.full(n, 35.8)),
        crs=4326,
    )


def test_times_with_an_offset_are_converted_to_the_district_zone():
    utc = pd.Series(pd.to_datetime(["2026-05-04 00:30", "2026-05-06 23:10"]).tz_localize("UTC"))
    local = utc.dt.tz_convert(settings.DISTRICT_TZ).dt.tz_localize(None)
    hw = hs.hour_weekday(_incidents(utc, ["05-04", "05-04"]))
    expected = pd.DataFrame(0, index=hw.index, columns=hw.columns)
    for t in local:
        expected.loc[t.hour, t.day_of_week] += 1
    pd.testing.assert_frame_equal(hw, expected)
    # the same instants written as text with an offset
    text = utc.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    assert hs.naive_times(text).equals(pd.DatetimeIndex(local))


def test_space_time_cube_puts_an_offset_time_in_its_local_day():
    # 2026-05-04 20:00 UTC is already 2026-05-05 in Asia/Shanghai (UTC+8)
    if settings.DISTRICT_TZ != "Asia/Shanghai":
        pytest.skip("the day boundary below is written for Asia/Shanghai")
    units = hs.fishnet_units(shapely.box(112.89, 35.79, 112.91, 35.81), 5000)
    t = pd.Series([pd.Timestamp("2026-05-04 20:00", tz="UTC")])
    cube = hs.space_time_cube(
        _incidents(t, ["05-04"]), t, units, step="day", start="2026-05-03", end="2026-05-06"
    )
    day = cube.step_starts[cube.counts.sum(axis=0).argmax()]
    assert day == pd.Timestamp("2026-05-05")


def test_a_major_class_selects_all_its_minor_classes():
    inc = _incidents(pd.to_datetime(["2026-05-04 08:00"] * 4), ["05-04", "05-05", "06-01", "05-01"])
    n = {sel: hs.hour_weekday(inc, category=sel).attrs["n"] for sel in ("05", "05-", "05-04")}
    assert n == {"05": 3, "05-": 3, "05-04": 1}
    assert hs.hour_weekday(inc, category="05-04,06-01").attrs["n"] == 2
    assert hs.hour_weekday(inc, category=["05-05", "06"]).attrs["n"] == 2


def test_study_area_is_the_district_outline_without_dedicated_grids():
    l2 = [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)]
    dedicated = shapely.box(5, 5, 6, 6)  # a school far off: overlays, never the district
    grids = gpd.GeoDataFrame(
        {"code": ["a", "b", "d"], "level": ["l2", "l2", "dedicated"]},
        geometry=[*l2, dedicated],
        crs=4326,
    )
    area = hs.study_area(grids)
    assert area.equals(shapely.union_all(l2))


def test_analysis_units_read_the_unit_grammar(demo_small):
    grids = demo_small.grids
    micro = hs.analysis_units("micro", grids)  # UnitSpec alias of grid:micro
    assert micro.attrs["unit_kind"] == "grid"
    assert len(micro) == int((grids["level"] == "micro").sum())
    cells = hs.analysis_units("H3 : 8", grids)  # case and spaces do not matter
    assert cells.attrs["h3_resolution"] == 8
    pts = demo_small.incidents.geometry.iloc[:200]
    net = hs.analysis_units("fishnet:500", points=pts)
    assert net.attrs["cell_m"] == 500.0
    assert hs.count_by_unit(pts, net).attrs["n_outside"] == 0
    with pytest.raises(InputError, match="h3:RES"):
        hs.analysis_units("hexagons", grids)
    with pytest.raises(InputError):
        hs.analysis_units("streets", grids)
