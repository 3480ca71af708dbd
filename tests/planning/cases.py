"""Constructed cases shared by the planning tests: a metric frame around 112.93E 35.80N
(CGCS2000 GK, what ``local_metric_crs`` picks there), incidents at metric points, users, the
response area / district of the evaluation and ``constructed`` incident counts per area."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis import auth

METRIC = 4547  # CGCS2000 GK CM 114E: what local_metric_crs picks around 112.93E
TO_LL = pyproj.Transformer.from_crs(METRIC, 4326, always_xy=True)
TO_M = pyproj.Transformer.from_crs(4326, METRIC, always_xy=True)
X0, Y0 = (round(v, -2) for v in TO_M.transform(112.93, 35.80))
UNIT = 100.0
LEADER = auth.User(id=None, username="boss", display_name=None, role="leader")
ANALYST = auth.User(id=None, username="ana", display_name=None, role="analyst")


def to_ll(geom_m: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(
        geom_m, lambda xy: np.column_stack(TO_LL.transform(xy[:, 0], xy[:, 1]))
    )


def points_ll(xy_m: np.ndarray) -> np.ndarray:
    lon, lat = TO_LL.transform(xy_m[:, 0], xy_m[:, 1])
    return shapely.points(lon, lat)


def cell_m(ix: int, iy: int) -> shapely.Polygon:
    return shapely.box(X0 + ix * UNIT, Y0 + iy * UNIT, X0 + (ix + 1) * UNIT, Y0 + (iy + 1) * UNIT)


def incidents_frame(xy_m, times, codes, **extra) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(
        {"occurred_at": pd.to_datetime(list(times)), "category_code": list(codes), **extra}
    )
    return gpd.GeoDataFrame(frame, geometry=points_ll(np.asarray(xy_m)), crs=4326)


START, END = pd.Timestamp("2026-01-01"), pd.Timestamp("2026-03-01")
MID = START + (END - START) / 2

AREA_M = shapely.box(X0 - 100, Y0 - 100, X0 + 100, Y0 + 100)
DISTRICT_M = shapely.box(X0 - 1500, Y0 - 1500, X0 + 1500, Y0 + 1500)
BEFORE = ("2026-03-01", "2026-04-01")
AFTER = ("2026-04-01", "2026-05-01")


def constructed(rb, ra, bb, ba, cb, ca, seed=0) -> gpd.GeoDataFrame:
    """Points in the area, in the buffer (60-160 m outside it) and in the control, per period."""
    rng = np.random.default_rng(seed)
    boxes = {
        "area": (X0 - 90, Y0 - 90, X0 + 90, Y0 + 90),
        "buffer": (X0 + 160, Y0 - 90, X0 + 260, Y0 + 90),
        "control": (X0 + 600, Y0 + 600, X0 + 1400, Y0 + 1400),
    }
    xy, times = [], []
    for name, nb, na in (("area", rb, ra), ("buffer", bb, ba), ("control", cb, ca)):
        x0, y0, x1, y1 = boxes[name]
        for n, day in ((nb, "2026-03-10"), (na, "2026-04-10")):
            xy.append(
                np.column_stack([x0 + (x1 - x0) * rng.random(n), y0 + (y1 - y0) * rng.random(n)])
            )
            times += [
                pd.Timestamp(day) + pd.Timedelta(minutes=int(m)) for m in rng.integers(0, 20_000, n)
            ]
    # and some outside both periods and outside the district, which must not count
    xy.append(np.array([[X0, Y0], [X0 + 5000, Y0]]))
    times += [pd.Timestamp("2026-06-01"), pd.Timestamp("2026-03-10")]
    return incidents_frame(np.vstack(xy), times, ["05-05"] * len(times))
