"""GCJ-02 / BD-09 / WGS-84 conversions: published pairs, round trips, EPSG codes, speed."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.core import coords

# (wgs lon, wgs lat, gcj lon, gcj lat)
# googollee/eviltransform python/test.py TESTS (shanghai, shenzhen, beijing), assertAlmostEqual 6 places
EVILTRANSFORM_WGS_GCJ = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
]
# hujiulong/gcoord test/unit/crs/{WGS84,GCJ02,BD09}.spec.ts, all at (123, 45), toBeCloseTo(.., 5)
GCOORD_FORWARD = [
    ("wgs84_to_gcj02", (123.0, 45.0), (123.00607541, 45.00197815)),
    ("gcj02_to_bd09", (123.0, 45.0), (123.00636499, 45.00636899)),
    ("wgs84_to_bd09", (123.0, 45.0), (123.0124491, 45.0083293)),
]
# gcoord's inverses are the one-step approximations (about 0.1-1 m off the exact inverse)
GCOORD_INVERSE = [
    ("gcj02_to_wgs84", (123.0, 45.0), (122.99395597, 44.99804071)),
    ("bd09_to_gcj02", (123.0, 45.0), (122.99363304, 44.99365430)),
    ("bd09_to_wgs84", (123.0, 45.0), (122.98762210, 44.99171540)),
]


@pytest.mark.parametrize(("wx", "wy", "gx", "gy"), EVILTRANSFORM_WGS_GCJ)
def test_eviltransform_pairs(wx, wy, gx, gy):
    x, y = coords.wgs84_to_gcj02(wx, wy)
    assert abs(x - gx) < 1e-9 and abs(y - gy) < 1e-9
    bx, by = coords.gcj02_to_wgs84(gx, gy)
    assert coords.haversine_m(bx, by, wx, wy) < 0.01  # eviltransform's exact inverse asks < 0.5 m


@pytest.mark.parametrize(("fn", "src", "dst"), GCOORD_FORWARD)
def test_gcoord_forward_pairs(fn, src, dst):
    x, y = getattr(coords, fn)(*src)
    assert abs(x - dst[0]) < 1e-7 and abs(y - dst[1]) < 1e-7


@pytest.mark.parametrize(("fn", "src", "dst"), GCOORD_INVERSE)
def test_gcoord_inverse_pairs_within_their_tolerance(fn, src, dst):
    x, y = getattr(coords, fn)(*src)
    assert abs(x - dst[0]) < 5e-6 and abs(y - dst[1]) < 5e-6  # toBeCloseTo(.., 5)
    assert coords.haversine_m(x, y, *dst) < 1.0


def test_outside_china_gcj_is_wgs():
    x, y = coords.wgs84_to_gcj02([183.0, -71.06, 2.35], [45.0, 42.36, 48.85])
    assert np.array_equal(x, [183.0, -71.06, 2.35]) and np.array_equal(y, [45.0, 42.36, 48.85])
    x, y = coords.to_wgs84([-71.06], [42.36], "gcj02")
    assert (x[0], y[0]) == (-71.06, 42.36)


china_lon = st.floats(73.6, 134.9, allow_nan=False)
china_lat = st.floats(18.2, 53.5, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_round_trips_better_than_half_a_metre(lon, lat):
    for fwd, inv in (
        (coords.wgs84_to_gcj02, coords.gcj02_to_wgs84),
        (coords.wgs84_to_bd09, coords.bd09_to_wgs84),
        (coords.gcj02_to_bd09, coords.bd09_to_gcj02),
    ):
        x, y = inv(*fwd(lon, lat))
        assert coords.haversine_m(x, y, lon, lat) < 0.5
        assert abs(x - lon) < 1e-7 and abs(y - lat) < 1e-7
    # and the offset is really there (100-700 m in China)
    gx, gy = coords.wgs84_to_gcj02(lon, lat)
    assert 1 < coords.haversine_m(gx, gy, lon, lat) < 1500


def test_one_million_points_vectorised():
    rng = np.random.default_rng(1)
    n = 1_000_000
    x, y = rng.uniform(73.6, 134.9, n), rng.uniform(18.2, 53.5, n)
    bx, by = coords.from_wgs84(x, y, "bd09")
    wx, wy = coords.to_wgs84(bx, by, "bd09")
    err = coords.haversine_m(wx, wy, x, y)
    assert err.max() < 0.5 and np.percentile(err, 99) < 1e-3


@pytest.mark.parametrize(
    ("crs", "name"),
    [
        ("wgs84", "wgs84"),
        ("WGS-84", "wgs84"),
        ("cgcs2000", "wgs84"),
        (4490, "wgs84"),
        ("EPSG:4326", "wgs84"),
        ("GCJ-02", "gcj02"),
        ("bd09", "bd09"),
        ("Baidu", "bd09"),
        (4547, "EPSG:4547"),
        ("epsg:3857", "EPSG:3857"),
    ],
)
def test_crs_names(crs, name):
    assert coords.normalize_crs(crs) == name


def test_epsg_codes_go_through_pyproj():
    lon, lat = np.array([112.93]), np.array([35.80])
    e, n = coords.from_wgs84(lon, lat, 4547)
    ref = pyproj.Transformer.from_crs(4326, 4547, always_xy=True).transform(lon, lat)
    assert np.allclose((e, n), ref)
    back = coords.to_wgs84(e, n, "EPSG:4547")
    assert np.allclose(back, (lon, lat), atol=1e-9)
    with pytest.raises(ValueError, match="unknown coordinate system"):
        coords.normalize_crs("martian")
