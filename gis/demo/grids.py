"""The demo's grid hierarchy: 15 level-1, 46 level-2 and 447 micro-grids tiling the district."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gis.demo import names
from gis.demo.district import COUNTY_CODE, GRID_SIZE_M, N_L1, N_L2, N_MICRO, STREET_CODE
from gis.demo.tiling import allocate, exact_tiling, relaxed_cells, union_groups
from gis.grids import number_west_east_north_south


@dataclass
class MetricGrids:
    """The three grid levels in the metric CRS, in code order, with parents, codes and names."""

    l1: np.ndarray  # metric geometries, in code order
    l2: np.ndarray
    micro: np.ndarray
    l2_parent: np.ndarray  # index into l1
    micro_parent: np.ndarray  # index into l2
    l1_code: list[str]
    l2_code: list[str]
    micro_code: list[str]
    l1_name: list[str]
    l2_name: list[str]
    micro_name: list[str]
    district: shapely.Geometry


def build_grids(rng: np.random.Generator, district: shapely.Polygon) -> MetricGrids:
    """Tile ``district`` (metric) into ``N_L1`` / ``N_L2`` / ``N_MICRO`` nested grids.

    Lloyd-relaxed Voronoi cells inside each parent, re-noded so neighbours share vertices
    exactly; codes numbered west to east, north to south inside each parent
    (``gis.grids.number_west_east_north_south``); names from ``names.COMMUNITIES``.
    """
    l1_raw = relaxed_cells(district, N_L1, rng, iters=10)
    l2_counts = allocate(N_L2, shapely.area(l1_raw))
    l2_raw, l2_par = [], []
    for i, cell in enumerate(l1_raw):
        l2_raw.extend(relaxed_cells(cell, int(l2_counts[i]), rng))
        l2_par.extend([i] * int(l2_counts[i]))
    l2_raw = np.array(l2_raw, dtype=object)
    micro_counts = allocate(N_MICRO, shapely.area(l2_raw))
    mi_raw, mi_par = [], []
    for j, cell in enumerate(l2_raw):
        mi_raw.extend(relaxed_cells(cell, int(micro_counts[j]), rng, iters=6))
        mi_par.extend([j] * int(micro_counts[j]))
    mi_raw = np.array(mi_raw, dtype=object)
    l2_par_a, mi_par_a = np.array(l2_par), np.array(mi_par)

    micro = exact_tiling(mi_raw)
    l2 = union_groups(micro, mi_par_a, N_L2)
    l1 = union_groups(l2, l2_par_a, N_L1)
    district_exact = shapely.union_all(l1, grid_size=GRID_SIZE_M)

    # --- codes: communities over the whole district, then inside each parent ---------------
    def rep(geoms: np.ndarray) -> np.ndarray:
        return shapely.get_coordinates(shapely.point_on_surface(geoms))

    l1_seq = number_west_east_north_south(rep(l1), np.sqrt(district_exact.area / N_L1), max_seq=999)
    l1_prefix = [f"{COUNTY_CODE}{STREET_CODE}{s:03d}" for s in l1_seq]
    l2_code = [""] * N_L2
    for i in range(N_L1):
        kids = np.flatnonzero(l2_par_a == i)
        band = np.sqrt(shapely.area(l2[kids]).mean())
        seq = number_west_east_north_south(rep(l2[kids]), band, max_seq=8)
        for k, s in zip(kids, seq, strict=True):
            l2_code[k] = f"{l1_prefix[i]}{s}00"
    micro_code = [""] * N_MICRO
    for j in range(N_L2):
        kids = np.flatnonzero(mi_par_a == j)
        band = np.sqrt(shapely.area(micro[kids]).mean())
        seq = number_west_east_north_south(rep(micro[kids]), band, max_seq=99)
        for k, s in zip(kids, seq, strict=True):
            micro_code[k] = f"{l2_code[j][:13]}{s:02d}"

    # --- reorder everything by code ----------------------------------------------------------
    o1 = np.argsort(l1_seq, kind="stable")
    inv1 = np.empty(N_L1, dtype=np.int64)
    inv1[o1] = np.arange(N_L1)
    o2 = np.argsort(np.array(l2_code), kind="stable")
    inv2 = np.empty(N_L2, dtype=np.int64)
    inv2[o2] = np.arange(N_L2)
    om = np.argsort(np.array(micro_code), kind="stable")
    l1_code = [f"{l1_prefix[i]}000" for i in o1]
    l1_name = [names.COMMUNITIES[k] for k in range(N_L1)]
    l2_code_s = [l2_code[j] for j in o2]
    l2_parent = inv1[l2_par_a[o2]]
    l2_name = [
        f"{l1_name[p]}第{names.chinese_number(int(c[12]))}网格"
        for p, c in zip(l2_parent, l2_code_s, strict=True)
    ]
    micro_code_s = [micro_code[k] for k in om]
    micro_parent = inv2[mi_par_a[om]]
    micro_name = [
        f"{l2_name[p]}-{c[13:]}微网格" for p, c in zip(micro_parent, micro_code_s, strict=True)
    ]
    return MetricGrids(
        l1=l1[o1],
        l2=l2[o2],
        micro=micro[om],
        l2_parent=l2_parent,
        micro_parent=micro_parent,
        l1_code=l1_code,
        l2_code=l2_code_s,
        micro_code=micro_code_s,
        l1_name=l1_name,
        l2_name=l2_name,
        micro_name=micro_name,
        district=district_exact,
    )
