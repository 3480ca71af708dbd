"""Metric CRS, study areas and the district outline: one rule each."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis.core.errors import InputError
from gis.core.geometry import (
    as_area,
    district_outline,
    metric_crs_for_points,
    to_metric,
    to_metric_xy,
)


def _grids():
    boxes = [shapely.box(112.90, 35.78, 112.92, 35.80), shapely.box(112.92, 35.78, 112.94, 35.80)]
    micro = [shapely.box(112.90, 35.78, 112.91, 35.79)]
    ded = [shapely.box(112.95, 35.81, 112.96, 35.82)]
    return gpd.GeoDataFrame(
        {"code": ["A", "B", "A1", "D"], "level": ["l1", "l1", "micro", "dedicated"]},
        geometry=boxes + micro + ded,
        crs=4326,
    )


def test_metric_crs_is_the_gauss_kruger_zone_in_china_and_utm_elsewhere():
    assert metric_crs_for_points(np.array([112.93]), np.array([35.8])).to_epsg() == 4547
    assert metric_crs_for_points(np.array([-71.06]), np.array([42.36])).to_epsg() == 32619
    # a few far-off points do not pick the zone
    lon = np.r_[np.full(200, 112.93), [120.0]]
    lat = np.r_[np.full(200, 35.8), [30.0]]
    assert metric_crs_for_points(lon, lat).to_epsg() == 4547
    with pytest.raises(InputError):
        metric_crs_for_points(np.array([np.nan]), np.array([np.nan]))


def test_to_metric_round_numbers():
    x, y, crs = to_metric_xy(np.array([112.93, 112.94]), np.array([35.8, 35.8]))
    assert crs.to_epsg() == 4547
    assert 880 < abs(x[1] - x[0]) < 920  # 0.01 degree of longitude at 35.8 N is about 903 m
    frame, crs2 = to_metric(_grids())
    assert crs2.to_epsg() == 4547 and frame.crs == crs2


def test_district_outline_is_the_union_of_level_one_grids():
    outline = district_outline(_grids())
    assert (
        outline.equals(shapely.box(112.90, 35.78, 112.94, 35.80).normalize())
        or abs(outline.area - 0.04 * 0.02) < 1e-12
    )
    only_micro = _grids().query("level == 'micro'")
    assert district_outline(only_micro).area == pytest.approx(0.01 * 0.01)
    with pytest.raises(InputError):
        district_outline(_grids().query("level == 'dedicated'"))
    with pytest.raises(InputError):
        district_outline(_grids().iloc[0:0])


def test_as_area_accepts_what_a_user_picks():
    box = shapely.box(112.9, 35.78, 112.92, 35.8)
    assert as_area(box).equals(box)
    assert as_area(box.wkt).equals(box)
    assert as_area(shapely.geometry.mapping(box)).equals(box)
    assert as_area(["A", "B"], grids=_grids()).area == pytest.approx(0.04 * 0.02)
    pts = gpd.GeoSeries(shapely.points([[112.9, 35.78], [112.92, 35.78], [112.91, 35.8]]), crs=4326)
    assert as_area(pts).geom_type == "Polygon"
    with pytest.raises(InputError, match="unknown grid code"):
        as_area(["Z"], grids=_grids())
    with pytest.raises(InputError):
        as_area("not wkt")
    with pytest.raises(InputError):
        as_area(shapely.LineString([(0, 0), (1, 1)]))
