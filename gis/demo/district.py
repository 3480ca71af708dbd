"""What the demo district is: where and when it lies, its sizes, and the ``DemoDistrict`` result.

``DemoDistrict.fingerprint`` is the byte-identity check of the generator: the same seed and
``track_days`` give the same fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

DEMO_START = pd.Timestamp("2025-11-01")
DEMO_END = pd.Timestamp("2026-11-01")  # exclusive

#: Where the district sits (lon, lat, EPSG:4326): Gaoping, Shanxi.
CENTER_LONLAT = (112.93, 35.80)
COUNTY_CODE = "140581"  # Gaoping (GB/T 2260)
STREET_CODE = "001"
N_L1, N_L2, N_MICRO = 15, 46, 447
#: Precision grid (metres) for all overlay work: adjacent grids share identical vertices.
GRID_SIZE_M = 0.01
TARGET_INCIDENTS = 165_000

#: nanoseconds per day and per second (times are built as int64 nanoseconds)
DAY_NS = 86_400 * 10**9
SEC_NS = 10**9

DEDICATED_KINDS = ("school", "hospital", "market", "park", "enterprise", "government")
PLACE_KINDS = (
    "market",
    "bar_street",
    "school",
    "hospital",
    "transport_hub",
    "old_compound",
    "construction_site",
    "mall",
)
SOURCES = np.array(["patrol", "hotline", "camera", "wechat", "referral"], dtype=object)
_FRAMES = ("grids", "staff", "streets", "places", "incidents", "tracks", "fixes")


@dataclass
class DemoDistrict:
    """Everything the demo generator produces; geometries in EPSG:4326, times naive local.

    Attributes
    ----------
    seed
        The seed it was generated from.
    boundary
        District outline (Polygon, EPSG:4326); the union of the level-1 grids.
    grids, staff, streets, places, incidents, tracks, fixes
        The frames described in the module docstring of ``gis.demo`` and in ``generate_district``.
    truth
        JSON-serialisable description of the planted patterns.
    """

    seed: int
    boundary: shapely.Polygon
    grids: gpd.GeoDataFrame
    staff: pd.DataFrame
    streets: gpd.GeoDataFrame
    places: gpd.GeoDataFrame
    incidents: gpd.GeoDataFrame
    tracks: pd.DataFrame
    fixes: gpd.GeoDataFrame
    truth: dict = field(default_factory=dict)

    def fingerprint(self) -> str:
        """SHA-256 (hex) over a canonical serialisation of every frame, the boundary and truth.

        Geometries enter as little-endian 2-D WKB, datetimes as int64 nanoseconds, numbers as
        little-endian int64/float64, strings as UTF-8; every piece is length-prefixed. Equal seeds
        (and ``track_days``) give equal fingerprints.
        """
        h = hashlib.sha256()

        def feed(tag: str, payload: bytes) -> None:
            h.update(tag.encode())
            h.update(len(payload).to_bytes(8, "little"))
            h.update(payload)

        feed("seed", str(self.seed).encode())
        feed("boundary", shapely.to_wkb(self.boundary, byte_order=1, output_dimension=2))
        for name in _FRAMES:
            frame = getattr(self, name)
            feed(name, "\x1f".join(map(str, frame.columns)).encode())
            for col in frame.columns:
                feed(f"{name}.{col}", _column_bytes(frame[col]))
        truth = json.dumps(self.truth, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        feed("truth", truth.encode())
        return h.hexdigest()


def _column_bytes(series: pd.Series) -> bytes:
    """Canonical bytes of one column (see ``DemoDistrict.fingerprint``)."""
    if isinstance(series, gpd.GeoSeries) or str(series.dtype) == "geometry":
        wkb = shapely.to_wkb(np.asarray(series.values), byte_order=1, output_dimension=2)
        lengths = np.fromiter((len(w) for w in wkb), dtype="<i8", count=len(wkb))
        return lengths.tobytes() + b"".join(wkb)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.to_numpy(dtype="datetime64[ns]").view("<i8").tobytes()
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_integer_dtype(series.dtype):
        return series.to_numpy(dtype="<i8").tobytes()
    if pd.api.types.is_float_dtype(series.dtype):
        return series.to_numpy(dtype="<f8").tobytes()
    values = ("\x00" if v is None or v is pd.NA or v != v else str(v) for v in series.tolist())
    return "\x1f".join(values).encode()
