"""``planted_truth``: the patterns planted in the demo data, for analyses to be checked against."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from gis.demo.district import DEMO_END, DEMO_START
from gis.demo.grids import MetricGrids
from gis.demo.tiling import METRIC_EPSG, TO_LONLAT, to_lonlat


def _iso(ts: pd.Timestamp) -> str:
    return ts.isoformat()


def planted_truth(
    seed: int,
    grids: MetricGrids,
    by_kind: dict[str, list[dict]],
    market_area: shapely.Geometry,
    hospital_area: shapely.Geometry,
    neglected: np.ndarray,
    track_days: int,
    n_incidents: int,
    n_fixes: int,
) -> dict:
    """``DemoDistrict.truth``: the planted hotspots, operations and neglected micro-grids.

    JSON-serialisable: places as lon/lat (EPSG:4326, 7 decimals), areas as WKT, the micro-grid
    codes each pattern covers, the period and the counts (``generate_district`` adds the rest).
    """
    tree = shapely.STRtree(grids.micro)

    def micro_codes(area: shapely.Geometry) -> list[str]:
        idx = tree.query(area, predicate="intersects")
        overlap = shapely.area(shapely.intersection(grids.micro[idx], area))
        return sorted(grids.micro_code[i] for i in idx[overlap > 100.0])

    def lonlat(xy: np.ndarray) -> list[float]:
        lon, lat = TO_LONLAT.transform(float(xy[0]), float(xy[1]))
        return [round(lon, 7), round(lat, 7)]

    def wkt(area: shapely.Geometry) -> str:
        return shapely.to_wkt(to_lonlat(np.array([area], dtype=object))[0], rounding_precision=7)

    op_start, op_end = pd.Timestamp("2026-04-01"), pd.Timestamp("2026-05-01")
    bar, mall = by_kind["bar_street"][0], by_kind["mall"][0]
    hub, hospital = by_kind["transport_hub"][0], by_kind["hospital"][0]
    spots = [
        (f"{bar['name']}店外经营持续热点", "persistent", "05-04", bar, 150.0, DEMO_START, DEMO_END),
        (
            f"{mall['name']}开业后机动车乱停放新热点",
            "new",
            "05-05",
            mall,
            180.0,
            pd.Timestamp("2026-08-01"),
            DEMO_END,
        ),
        (
            f"{hub['name']}无照游商加剧热点",
            "intensifying",
            "05-01",
            hub,
            200.0,
            DEMO_START,
            DEMO_END,
        ),
        (
            f"{hospital['name']}周边机动车乱停放(整治后消退)",
            "diminishing",
            "05-05",
            hospital,
            200.0,
            DEMO_START,
            op_start,
        ),
    ]
    hotspots = [
        {
            "name": nm,
            "pattern": pattern,
            "category_code": code,
            "center_lonlat": lonlat(place["xy"]),
            "radius_m": radius,
            "start": _iso(start),
            "end": _iso(end),
            "micro_codes": micro_codes(shapely.Point(place["xy"]).buffer(radius)),
            "place": place["name"],
        }
        for nm, pattern, code, place, radius, start, end in spots
    ]
    operations = [
        {
            "name": f"{by_kind['hospital'][0]['name']}周边机动车乱停放专项整治",
            "expected": "effective",
            "category_code": "05-05",
            "start": _iso(op_start),
            "end": _iso(op_end),
            "area_wkt": wkt(hospital_area),
            "buffer_m": 400.0,
            "micro_codes": micro_codes(hospital_area),
        },
        {
            "name": f"{by_kind['market'][0]['name']}店外经营联合整治",
            "expected": "displacement",
            "category_code": "05-04",
            "start": _iso(op_start),
            "end": _iso(op_end),
            "area_wkt": wkt(market_area),
            "buffer_m": 400.0,
            "displaced_ring_m": [100.0, 400.0],
            "micro_codes": micro_codes(market_area),
        },
    ]
    track_start = DEMO_END - pd.Timedelta(days=track_days)
    return {
        "seed": int(seed),
        "metric_epsg": int(METRIC_EPSG),
        "period": {"start": _iso(DEMO_START), "end": _iso(DEMO_END)},
        "hotspots": hotspots,
        "operations": operations,
        "neglected_micro_codes": [grids.micro_code[i] for i in neglected],
        "track_period": {"start": _iso(track_start), "end": _iso(DEMO_END)},
        "counts": {"incidents": int(n_incidents), "fixes": int(n_fixes)},
    }
