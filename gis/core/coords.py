"""Chinese web-map coordinate systems (GCJ-02, BD-09) and conversion of any CRS to WGS-84.

Web maps and phone apps in China mostly publish **GCJ-02** ("Mars" coordinates: Amap/Gaode,
Tencent, Google China), an obfuscation of WGS-84 that moves points by 100-700 m, or **BD-09**
(Baidu), a further offset of GCJ-02. Mixing them with WGS-84 silently misplaces every point.

Forward formulas are the standard public ones (as in the eviltransform, coordtransform and gcoord
libraries): GCJ-02 from WGS-84 with the Krasovsky-ellipsoid offset polynomial, BD-09 from GCJ-02
with Baidu's rotation/scale. Inverses are computed by fixed-point iteration on the forward
formula (``w <- w - (F(w) - target)``): the offset's derivative is about 2e-3, so each step gains
nearly three digits and 6 steps reach 1e-9 degrees (about 0.1 mm), far below the 0.5 m the
usual one-step inverse gives.

**Outside China GCJ-02 = WGS-84.** The forward formula is applied only inside the bounding box
used by the reference libraries (``72.004 <= lon <= 137.8347``, ``0.8293 <= lat <= 55.8271``,
see ``in_china``). It is a box, not the border: parts of neighbouring countries inside it are
shifted too, exactly as the Chinese map services do. BD-09 is always applied on top of GCJ-02.

CGCS2000 (EPSG:4490) is taken as WGS-84: the two agree to a few centimetres. Any other CRS (an
EPSG code, a ``"EPSG:4547"`` string, a PROJ/WKT string) goes through pyproj.

All functions are vectorised over numpy arrays (longitude ``x`` and latitude ``y`` in degrees)
and return new float64 arrays; NaN stays NaN.
"""

from __future__ import annotations

import re

import numpy as np
import pyproj

#: Krasovsky 1940 semi-major axis (m) and first eccentricity squared, used by GCJ-02.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

#: The "in China" box of the reference libraries (degrees).
CHINA_BOX = (72.004, 0.8293, 137.8347, 55.8271)

#: Canonical names of the systems handled here; anything else goes to pyproj.
WGS84, GCJ02, BD09 = "wgs84", "gcj02", "bd09"
_ALIASES = {
    "wgs84": WGS84,
    "wgs-84": WGS84,
    "wgs 84": WGS84,
    "epsg:4326": WGS84,
    "4326": WGS84,
    "cgcs2000": WGS84,
    "cgcs-2000": WGS84,
    "epsg:4490": WGS84,
    "4490": WGS84,
    "gcj02": GCJ02,
    "gcj-02": GCJ02,
    "gcj": GCJ02,
    "mars": GCJ02,
    "amap": GCJ02,
    "gaode": GCJ02,
    "bd09": BD09,
    "bd-09": BD09,
    "bd09ll": BD09,
    "baidu": BD09,
}

#: Iterations of the inverse (each gains about 3 digits; 6 reach ~1e-9 deg).
_INVERSE_STEPS = 8


def _arrays(x, y) -> tuple[np.ndarray, np.ndarray]:
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.shape != ya.shape:
        raise ValueError(f"x and y differ in shape: {xa.shape} vs {ya.shape}")
    return xa, ya


def in_china(x, y) -> np.ndarray:
    """True where (lon, lat) in degrees lies inside the GCJ-02 box (``CHINA_BOX``)."""
    x, y = _arrays(x, y)
    x0, y0, x1, y1 = CHINA_BOX
    return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)


def _offset_deg(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset (dlon, dlat) in degrees at WGS-84 (x, y), zero outside China."""
    u = x - 105.0
    v = y - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * u * pi) + 20.0 * np.sin(2.0 * u * pi)) * 2.0 / 3.0
    sq = np.sqrt(np.abs(u))
    dlat = (
        -100.0
        + 2.0 * u
        + 3.0 * v
        + 0.2 * v * v
        + 0.1 * u * v
        + 0.2 * sq
        + common
        + (20.0 * np.sin(v * pi) + 40.0 * np.sin(v / 3.0 * pi)) * 2.0 / 3.0
        + (160.0 * np.sin(v / 12.0 * pi) + 320.0 * np.sin(v * pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + u
        + 2.0 * v
        + 0.1 * u * u
        + 0.1 * u * v
        + 0.1 * sq
        + common
        + (20.0 * np.sin(u * pi) + 40.0 * np.sin(u / 3.0 * pi)) * 2.0 / 3.0
        + (150.0 * np.sin(u / 12.0 * pi) + 300.0 * np.sin(u / 30.0 * pi)) * 2.0 / 3.0
    )
    rad = y / 180.0 * pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * pi)
    inside = in_china(x, y)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(x, y) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 (lon, lat) degrees to GCJ-02; unchanged outside China (``in_china``)."""
    x, y = _arrays(x, y)
    dx, dy = _offset_deg(x, y)
    return x + dx, y + dy


def gcj02_to_bd09(x, y) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 (lon, lat) degrees to BD-09 (Baidu's rotation and scale, applied everywhere)."""
    x, y = _arrays(x, y)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd09_to_gcj02_approx(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u = x - 0.0065
    v = y - 0.006
    z = np.sqrt(u * u + v * v) - 0.00002 * np.sin(v * _X_PI)
    theta = np.arctan2(v, u) - 0.000003 * np.cos(u * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _invert(forward, x: np.ndarray, y: np.ndarray, start) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(w) = (x, y)`` by fixed-point iteration from ``start``."""
    wx, wy = start
    for _ in range(_INVERSE_STEPS):
        fx, fy = forward(wx, wy)
        ex, ey = fx - x, fy - y
        wx, wy = wx - ex, wy - ey
        if not (
            np.nanmax(np.abs(ex), initial=0.0) > 1e-11 or np.nanmax(np.abs(ey), initial=0.0) > 1e-11
        ):
            break
    return wx, wy


def gcj02_to_wgs84(x, y) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 (lon, lat) degrees to WGS-84 by iterating the forward formula (~1e-9 deg)."""
    x, y = _arrays(x, y)
    return _invert(wgs84_to_gcj02, x, y, (x.copy(), y.copy()))


def bd09_to_gcj02(x, y) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 (lon, lat) degrees to GCJ-02 (the usual closed form, then refined by iteration)."""
    x, y = _arrays(x, y)
    return _invert(gcj02_to_bd09, x, y, _bd09_to_gcj02_approx(x, y))


def wgs84_to_bd09(x, y) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 (lon, lat) degrees to BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(x, y))


def bd09_to_wgs84(x, y) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 (lon, lat) degrees to WGS-84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(x, y))


def normalize_crs(crs: str | int | None) -> str:
    """Canonical name: ``"wgs84"`` (WGS-84 and CGCS2000), ``"gcj02"``, ``"bd09"`` or
    ``"EPSG:n"`` / the given string for anything pyproj must handle.

    Raises
    ------
    ValueError
        When pyproj does not know the CRS either.
    """
    if crs is None:
        return WGS84
    key = str(crs).strip().lower().replace("_", "")
    if key in _ALIASES:
        return _ALIASES[key]
    if re.fullmatch(r"\d+", key):
        key = f"epsg:{key}"
    try:
        parsed = pyproj.CRS.from_user_input(key if key.startswith("epsg:") else str(crs))
    except pyproj.exceptions.CRSError as exc:
        raise ValueError(
            f"unknown coordinate system {crs!r}; use wgs84, cgcs2000, gcj02, bd09 or an EPSG code"
        ) from exc
    epsg = parsed.to_epsg()
    if epsg in (4326, 4490):
        return WGS84
    return f"EPSG:{epsg}" if epsg else parsed.to_string()


def to_wgs84(x, y, crs: str | int | None) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates in ``crs`` to WGS-84 (lon, lat) degrees.

    Parameters
    ----------
    x, y
        Array-likes: longitude/latitude for geographic systems, easting/northing (metres) for
        projected EPSG codes.
    crs
        ``"wgs84"``, ``"cgcs2000"`` / 4490 (taken as WGS-84), ``"gcj02"``, ``"bd09"``, or any
        CRS pyproj accepts (EPSG code as int or ``"EPSG:4547"``).
    """
    name = normalize_crs(crs)
    x, y = _arrays(x, y)
    if name == WGS84:
        return x.copy(), y.copy()
    if name == GCJ02:
        return gcj02_to_wgs84(x, y)
    if name == BD09:
        return bd09_to_wgs84(x, y)
    tr = pyproj.Transformer.from_crs(name, 4326, always_xy=True)
    return tr.transform(x, y)


def from_wgs84(x, y, crs: str | int | None) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 (lon, lat) degrees to ``crs`` (same names as ``to_wgs84``), for export."""
    name = normalize_crs(crs)
    x, y = _arrays(x, y)
    if name == WGS84:
        return x.copy(), y.copy()
    if name == GCJ02:
        return wgs84_to_gcj02(x, y)
    if name == BD09:
        return wgs84_to_bd09(x, y)
    tr = pyproj.Transformer.from_crs(4326, name, always_xy=True)
    return tr.transform(x, y)


def haversine_m(x1, y1, x2, y2) -> np.ndarray:
    """Great-circle distance in metres between (lon, lat) degree pairs (sphere R = 6371008.8 m)."""
    x1, y1 = _arrays(x1, y1)
    x2, y2 = _arrays(x2, y2)
    p1, p2 = np.radians(y1), np.radians(y2)
    dp = p2 - p1
    dl = np.radians(x2 - x1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371008.8 * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


__all__ = [
    "BD09",
    "CHINA_BOX",
    "GCJ02",
    "WGS84",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "haversine_m",
    "in_china",
    "normalize_crs",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]
