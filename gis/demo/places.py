"""The places that drive incidents (markets, schools, a bar street ...) and the dedicated grids.

Every place sits on a street, spread out and away from the district edge; units of
``DEDICATED_KINDS`` (schools, hospitals ...) get a dedicated grid around them.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely import affinity

from gis.demo import names
from gis.demo.district import DEDICATED_KINDS, GRID_SIZE_M, N_L1
from gis.demo.grids import MetricGrids
from gis.demo.streets import StreetNetwork, StreetSampler
from gis.grids import number_west_east_north_south

#: (kind, index in its name list, keep-out radius m, min distance to the district edge m)
_PLACE_PLAN = [
    ("market", 0, 450, 700),  # the displacement market: ring reaches 550 m out
    ("hospital", 0, 400, 450),
    ("mall", 0, 350, 350),
    ("transport_hub", 0, 350, 350),
    ("bar_street", 0, 350, 350),
    ("market", 1, 230, 250),
    ("market", 2, 230, 250),
    ("school", 0, 230, 200),
    ("school", 1, 230, 200),
    ("school", 2, 230, 200),
    ("school", 3, 230, 200),
    ("old_compound", 0, 200, 150),
    ("old_compound", 1, 200, 150),
    ("old_compound", 2, 200, 150),
    ("old_compound", 3, 200, 150),
    ("old_compound", 4, 200, 150),
    ("construction_site", 0, 200, 150),
    ("construction_site", 1, 200, 150),
    ("construction_site", 2, 200, 150),
    ("park", 0, 160, 200),
    ("enterprise", 0, 120, 120),
    ("enterprise", 1, 120, 120),
    ("enterprise", 2, 120, 120),
    ("enterprise", 3, 120, 120),
    ("government", 0, 120, 120),
    ("government", 1, 120, 120),
]
UNIT_SIZE_M = {  # dedicated grid footprint (width, height) in metres
    "school": (130, 100),
    "hospital": (170, 130),
    "market": (110, 80),
    "park": (260, 180),
    "enterprise": (140, 110),
    "government": (100, 80),
}


def place_points(
    rng: np.random.Generator, district: shapely.Geometry, streets: StreetNetwork
) -> list[dict]:
    """Put every place/unit on a street point, spread out and away from the district edge."""
    cand = StreetSampler(streets.geoms[streets.highway != "alley"]).sample(6000, rng)
    edge = shapely.distance(shapely.boundary(district), shapely.points(cand))
    placed: list[dict] = []
    for kind, k, keep_out, min_edge in _PLACE_PLAN:
        name = (names.PLACE_NAMES.get(kind) or names.UNIT_NAMES[kind])[k]
        scale = 1.0
        while True:
            ok = edge >= min_edge * scale
            for p in placed:
                dist = np.hypot(cand[:, 0] - p["xy"][0], cand[:, 1] - p["xy"][1])
                ok &= dist >= (keep_out + p["keep_out"]) * scale
            if ok.any():
                break
            scale *= 0.9
        xy = cand[rng.choice(np.flatnonzero(ok))]
        placed.append({"kind": kind, "name": name, "xy": xy, "keep_out": keep_out})
    return placed


def dedicated_grids(
    rng: np.random.Generator, placed: list[dict], grids: MetricGrids, alpha: float
) -> tuple[list[dict], np.ndarray, np.ndarray, list[str]]:
    """A footprint around each unit (school, hospital ...), clipped to its level-1 grid.

    Returns the units (the places of ``DEDICATED_KINDS``, in placing order), their metric
    geometries, the index of their level-1 grid and their codes (the level-1 code's first 12
    digits, ``9``, a 2-digit sequence numbered west to east, north to south).
    """
    units = [p for p in placed if p["kind"] in DEDICATED_KINDS]
    ded_geom, ded_parent = [], []
    for p in units:
        w, h = UNIT_SIZE_M[p["kind"]]
        ang = alpha + rng.uniform(-0.1, 0.1)
        box = affinity.rotate(
            shapely.box(-w / 2, -h / 2, w / 2, h / 2), ang, origin=(0, 0), use_radians=True
        )
        box = affinity.translate(box, *p["xy"])
        parent = int(np.flatnonzero(shapely.contains_xy(grids.l1, *p["xy"]))[0])
        ded_geom.append(shapely.intersection(box, grids.l1[parent], grid_size=GRID_SIZE_M))
        ded_parent.append(parent)
    ded_geom = np.array(ded_geom, dtype=object)
    ded_parent = np.array(ded_parent)
    ded_code = [""] * len(units)
    for i in range(N_L1):
        kids = np.flatnonzero(ded_parent == i)
        if len(kids) == 0:
            continue
        rep = shapely.get_coordinates(shapely.point_on_surface(ded_geom[kids]))
        seq = number_west_east_north_south(rep, 300.0, max_seq=99)
        for k, s in zip(kids, seq, strict=True):
            ded_code[k] = f"{grids.l1_code[i][:12]}9{s:02d}"
    return units, ded_geom, ded_parent, ded_code
