"""The deterministic demo district: a made-up sub-district (街道) around Gaoping, Shanxi.

``generate_district(seed)`` builds, from ``numpy.random.default_rng(seed)`` alone, everything the
platform shows and analyses: a 15 / 46 / 447 grid hierarchy that tiles the district exactly plus
15 dedicated grids, grid staff and enforcement officers, a named street network, the places that
drive incidents, 12 months of incidents with daily, weekly and seasonal rhythms, two weeks of
patrol GPS tracks, and ``truth`` -- the patterns planted in the data (hotspots, two rectification
operations, neglected micro-grids) so analyses can be checked against it.

All geometry is built in the metric CRS ``settings.DEMO_METRIC_EPSG`` (EPSG:4547, CGCS2000
3-degree Gauss-Kruger CM 114E; metres) and transformed to EPSG:4326 (lon/lat) at the end. Times
are naive wall-clock Asia/Shanghai. Same seed -> byte-identical frames (see
``DemoDistrict.fingerprint``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from shapely import affinity

from gis import _demo_names as names
from gis.core import settings
from gis.core.errors import InputError
from gis.grids import number_west_east_north_south  # noqa: F401 (public here too)
from gis.taxonomy import read_taxonomy

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

_DAY_NS = 86_400 * 10**9
_SEC_NS = 10**9
_METRIC = settings.DEMO_METRIC_EPSG
_TO_LONLAT = Transformer.from_crs(_METRIC, settings.STORAGE_EPSG, always_xy=True)
_TO_METRIC = Transformer.from_crs(settings.STORAGE_EPSG, _METRIC, always_xy=True)

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


# --------------------------------------------------------------------------------------------
# Public result type
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# Geometry helpers (metric CRS)
# --------------------------------------------------------------------------------------------
def _to_lonlat(geoms: np.ndarray) -> np.ndarray:
    """Transform metric (EPSG:4547) geometries to EPSG:4326, vertex by vertex."""

    def fn(xy: np.ndarray) -> np.ndarray:
        lon, lat = _TO_LONLAT.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, fn)


def _as_multipolygon(geom: shapely.Geometry) -> shapely.MultiPolygon:
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, shapely.Polygon) and p.area > 0]
    return shapely.MultiPolygon(parts)


def _points_in(poly: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform random points inside ``poly`` (rejection sampling in its bounding box)."""
    x0, y0, x1, y1 = poly.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        cand = rng.uniform((x0, y0), (x1, y1), size=(max(4 * n, 16), 2))
        cand = cand[shapely.contains_xy(poly, cand[:, 0], cand[:, 1])]
        out = np.vstack([out, cand])
    return out[:n]


def _clipped_voronoi(pts: np.ndarray, parent: shapely.Geometry) -> np.ndarray:
    if len(pts) == 1:
        return np.array([parent], dtype=object)
    extent = shapely.box(*parent.buffer(2_000.0).bounds)
    vor = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=extent, ordered=True)
    return shapely.intersection(shapely.get_parts(vor), parent)


def _relaxed_cells(
    parent: shapely.Geometry, n: int, rng: np.random.Generator, iters: int = 8
) -> np.ndarray:
    """Voronoi cells of ``n`` seeds in ``parent`` after ``iters`` Lloyd steps, clipped to it."""
    pts = _points_in(parent, n, rng)
    for _ in range(iters):
        cells = _clipped_voronoi(pts, parent)
        cen = shapely.get_coordinates(shapely.centroid(cells))
        pos = shapely.get_coordinates(shapely.point_on_surface(cells))
        inside = shapely.contains_xy(parent, cen[:, 0], cen[:, 1])
        pts = np.where(inside[:, None], cen, pos)
    return _clipped_voronoi(pts, parent)


def _allocate(total: int, areas: np.ndarray) -> np.ndarray:
    """Split ``total`` children over parents as evenly as possible, extras to the largest."""
    counts = np.full(len(areas), total // len(areas), dtype=np.int64)
    extra = total - counts.sum()
    counts[np.argsort(-areas, kind="stable")[:extra]] += 1
    return counts


def _district_polygon(rng: np.random.Generator, center_xy: np.ndarray) -> shapely.Polygon:
    """Irregular smooth outline of about 13.5-15 km² around ``center_xy`` (metric)."""
    theta = np.linspace(0.0, 2 * np.pi, 256, endpoint=False)
    r = np.ones_like(theta)
    for k in range(2, 7):
        r += (
            rng.uniform(0.04, 0.09) / np.sqrt(k - 1) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
        )
    stretch = rng.uniform(1.1, 1.3)
    xy = np.column_stack([r * np.cos(theta) * stretch, r * np.sin(theta) / stretch])
    poly = shapely.Polygon(xy)
    target = rng.uniform(13.5e6, 15.0e6)
    xy *= np.sqrt(target / poly.area)
    return shapely.set_precision(shapely.Polygon(xy + center_xy), GRID_SIZE_M)


def _exact_tiling(raw: np.ndarray) -> np.ndarray:
    """Re-node raw micro cells so neighbours share vertices exactly and tile without gaps.

    Boundaries are noded on a ``GRID_SIZE_M`` grid and polygonised into faces; each face goes to
    the raw cell holding its interior point (or, for slivers, to the one it overlaps most), and a
    cell becomes the union of its faces.
    """
    lines = shapely.union_all(shapely.boundary(raw), grid_size=GRID_SIZE_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    tree = shapely.STRtree(raw)
    hit_face, hit_cell = tree.query(shapely.point_on_surface(faces), predicate="intersects")
    owner = np.full(len(faces), -1, dtype=np.int64)
    n_hits = np.bincount(hit_face, minlength=len(faces))
    single = n_hits[hit_face] == 1
    owner[hit_face[single]] = hit_cell[single]
    for f in np.flatnonzero(owner < 0):  # a handful of slivers at most
        cand = tree.query(faces[f], predicate="intersects")
        if len(cand) == 0:
            cand = np.array([tree.nearest(faces[f])])
        overlap = shapely.area(shapely.intersection(raw[cand], faces[f]))
        if overlap.max() <= 0:
            overlap = shapely.length(shapely.intersection(raw[cand], faces[f].buffer(0.05)))
        owner[f] = cand[int(np.argmax(overlap))]
    out = np.empty(len(raw), dtype=object)
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(len(raw) + 1))
    for i in range(len(raw)):
        out[i] = shapely.union_all(faces[order[bounds[i] : bounds[i + 1]]], grid_size=GRID_SIZE_M)
    return out


def _union_groups(geoms: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = shapely.union_all(geoms[group == i], grid_size=GRID_SIZE_M)
    return out


# --------------------------------------------------------------------------------------------
# Grids
# --------------------------------------------------------------------------------------------
@dataclass
class _Grids:
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


def _build_grids(rng: np.random.Generator, district: shapely.Polygon) -> _Grids:
    l1_raw = _relaxed_cells(district, N_L1, rng, iters=10)
    l2_counts = _allocate(N_L2, shapely.area(l1_raw))
    l2_raw, l2_par = [], []
    for i, cell in enumerate(l1_raw):
        l2_raw.extend(_relaxed_cells(cell, int(l2_counts[i]), rng))
        l2_par.extend([i] * int(l2_counts[i]))
    l2_raw = np.array(l2_raw, dtype=object)
    micro_counts = _allocate(N_MICRO, shapely.area(l2_raw))
    mi_raw, mi_par = [], []
    for j, cell in enumerate(l2_raw):
        mi_raw.extend(_relaxed_cells(cell, int(micro_counts[j]), rng, iters=6))
        mi_par.extend([j] * int(micro_counts[j]))
    mi_raw = np.array(mi_raw, dtype=object)
    l2_par_a, mi_par_a = np.array(l2_par), np.array(mi_par)

    micro = _exact_tiling(mi_raw)
    l2 = _union_groups(micro, mi_par_a, N_L2)
    l1 = _union_groups(l2, l2_par_a, N_L1)
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
    return _Grids(
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


# --------------------------------------------------------------------------------------------
# Streets
# --------------------------------------------------------------------------------------------
@dataclass
class _Streets:
    geoms: np.ndarray  # noded pieces (metric LineStrings)
    highway: np.ndarray  # object: main / street / alley
    name: np.ndarray  # object
    line: np.ndarray  # clipped named line of each piece, for house numbers
    u: np.ndarray  # node index of start
    v: np.ndarray  # node index of end
    node_xy: np.ndarray
    length: np.ndarray
    mid: np.ndarray  # (n, 2) midpoints


def _curve(
    p0: np.ndarray, direction: np.ndarray, half_len: float, amp: float, wave: float, phase: float
) -> np.ndarray:
    t = np.linspace(-half_len, half_len, 240)
    normal = np.array([-direction[1], direction[0]])
    bend = amp * np.sin(2 * np.pi * t / wave + phase)
    return p0 + t[:, None] * direction + bend[:, None] * normal


def _build_streets(
    rng: np.random.Generator, district: shapely.Geometry, center: np.ndarray
) -> tuple[_Streets, float]:
    """Main roads, a perturbed street lattice and alleys, noded, clipped and connected.

    Returns the network and the lattice angle (radians) used for building footprints.
    """
    x0, y0, x1, y1 = district.bounds
    half_diag = 0.5 * np.hypot(x1 - x0, y1 - y0) + 300.0
    src_lines: list[np.ndarray] = []
    src_kind: list[str] = []
    src_name: list[str] = []
    src_named_line: list[int] = []  # index into named_lines
    named_lines: list[np.ndarray] = []

    # main roads: two west-east, two north-south, gently curved
    main_names = list(names.MAIN_ROADS)
    for k, (ang0, off) in enumerate([(0.0, -0.3), (0.0, 0.25), (90.0, -0.28), (90.0, 0.3)]):
        ang = np.deg2rad(ang0 + rng.uniform(-12, 12))
        d = np.array([np.cos(ang), np.sin(ang)])
        nrm = np.array([-d[1], d[0]])
        extent = (y1 - y0) if ang0 == 0.0 else (x1 - x0)
        p0 = center + nrm * off * extent * rng.uniform(0.8, 1.1)
        xy = _curve(
            p0, d, half_diag, rng.uniform(50, 120), rng.uniform(1800, 3500), rng.uniform(0, 6.3)
        )
        named_lines.append(xy)
        src_lines.append(xy)
        src_kind.append("main")
        src_name.append(main_names[k])
        src_named_line.append(len(named_lines) - 1)

    # lattice streets: rotated, spacing 150-200 m, nodes jittered, a few links missing
    alpha = np.deg2rad(rng.uniform(-15, 15))
    rot = np.array([[np.cos(alpha), -np.sin(alpha)], [np.sin(alpha), np.cos(alpha)]])
    n_lines = int(2 * half_diag / 150.0) + 2
    us = -half_diag + np.concatenate([[0.0], np.cumsum(rng.uniform(150, 200, n_lines - 1))])
    vs = -half_diag + np.concatenate([[0.0], np.cumsum(rng.uniform(150, 200, n_lines - 1))])
    uu, vv = np.meshgrid(us, vs)  # rows = v (south->north), cols = u
    local = np.stack([uu, vv], axis=-1) + rng.normal(0, 9.0, (n_lines, n_lines, 2))
    nodes = local @ rot.T + center  # (row, col, 2)
    row_xy = [nodes[i, :, :] for i in range(n_lines)]
    col_xy = [nodes[:, j, :] for j in range(n_lines)]
    row_line0 = len(named_lines)
    named_lines.extend(row_xy)
    col_line0 = len(named_lines)
    named_lines.extend(col_xy)

    hseg = np.stack([nodes[:, :-1], nodes[:, 1:]], axis=2).reshape(-1, 2, 2)
    h_row = np.repeat(np.arange(n_lines), n_lines - 1)
    vseg = np.stack([nodes[:-1, :], nodes[1:, :]], axis=2).reshape(-1, 2, 2)
    v_col = np.tile(np.arange(n_lines), n_lines - 1)
    keep_h = rng.random(len(hseg)) > 0.06
    keep_v = rng.random(len(vseg)) > 0.06
    seg_xy = np.concatenate([hseg[keep_h], vseg[keep_v]])
    seg_line = np.concatenate([row_line0 + h_row[keep_h], col_line0 + v_col[keep_v]])

    # alleys: short dead ends into the blocks, starting 0.5 m across their street
    pick = rng.random(len(seg_xy)) < 0.45
    a_seg = seg_xy[pick]
    a_line = seg_line[pick]
    f = rng.uniform(0.25, 0.75, len(a_seg))
    base = a_seg[:, 0] + f[:, None] * (a_seg[:, 1] - a_seg[:, 0])
    d = a_seg[:, 1] - a_seg[:, 0]
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    nrm = np.column_stack([-d[:, 1], d[:, 0]]) * rng.choice([-1.0, 1.0], len(a_seg))[:, None]
    a_len = rng.uniform(40, 75, len(a_seg))
    alley_xy = np.stack([base - 0.5 * nrm, base + a_len[:, None] * nrm], axis=1)

    # clip lattice lines to the district to learn which ones exist, and name them
    lattice = shapely.linestrings(seg_xy)
    alleys = shapely.linestrings(alley_xy)
    mains = shapely.linestrings(np.array(src_lines))
    in_h = shapely.intersects(lattice, district)
    used_rows = np.unique(seg_line[in_h & (seg_line < col_line0)] - row_line0)
    used_cols = np.unique(seg_line[in_h & (seg_line >= col_line0)] - col_line0)
    stems = names.STREET_STEMS
    line_name: dict[int, str] = {}
    for k, r in enumerate(used_rows[::-1]):  # north to south
        line_name[row_line0 + int(r)] = stems[k % len(stems)] + "街"
    for k, c in enumerate(used_cols):  # west to east
        line_name[col_line0 + int(c)] = stems[(len(stems) - 1 - k) % len(stems)] + "路"
    for k, nm in enumerate(main_names[:4]):
        line_name[k] = nm
    seg_name = [line_name.get(int(i), "") for i in seg_line]
    alley_no: dict[int, int] = {}
    alley_name = []
    a_in = shapely.intersects(alleys, district)
    for i, li in enumerate(a_line):
        if not a_in[i]:
            alley_name.append("")
            continue
        alley_no[int(li)] = alley_no.get(int(li), 0) + 1
        alley_name.append(
            line_name.get(int(li), "无名") + names.chinese_number(min(alley_no[int(li)], 99)) + "巷"
        )
    alley_line0 = len(named_lines)
    named_lines.extend(list(alley_xy))

    all_src = np.concatenate([mains, lattice, alleys])
    kind = np.array(src_kind + ["street"] * len(lattice) + ["alley"] * len(alleys), dtype=object)
    nm = np.array(src_name + seg_name + alley_name, dtype=object)
    named_idx = np.concatenate(
        [np.arange(4), seg_line, alley_line0 + np.arange(len(alleys))]
    ).astype(np.int64)
    clipped = shapely.intersection(all_src, district, grid_size=GRID_SIZE_M)
    ok = ~shapely.is_empty(clipped)
    clipped, kind, nm, named_idx = clipped[ok], kind[ok], nm[ok], named_idx[ok]

    noded = shapely.get_parts(shapely.union_all(clipped, grid_size=GRID_SIZE_M))
    noded = noded[shapely.length(noded) > 0]
    mid = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    q_piece, q_src = shapely.STRtree(clipped).query(mid, predicate="dwithin", distance=0.05)
    src = np.full(len(noded), np.iinfo(np.int64).max)
    np.minimum.at(src, q_piece, q_src)  # lowest source index wins: main > street > alley
    found = src < np.iinfo(np.int64).max
    noded, src = noded[found], src[found]

    # graph: nodes are the (grid-snapped) end points
    def build(pieces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ends = np.concatenate(
            [
                shapely.get_coordinates(shapely.get_point(pieces, 0)),
                shapely.get_coordinates(shapely.get_point(pieces, -1)),
            ]
        )
        keys = np.round(ends / GRID_SIZE_M).astype(np.int64)
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        inv = inv.ravel()
        return inv[: len(pieces)], inv[len(pieces) :], uniq * GRID_SIZE_M

    u, v, node_xy = build(noded)
    # drop the 0.5 m alley stubs (dead ends shorter than a metre)
    deg = np.bincount(np.concatenate([u, v]), minlength=len(node_xy))
    stub = (shapely.length(noded) < 1.0) & ((deg[u] == 1) | (deg[v] == 1))
    noded, src = noded[~stub], src[~stub]
    u, v, node_xy = build(noded)
    # keep the largest connected component
    adj = coo_matrix((np.ones(len(u)), (u, v)), shape=(len(node_xy),) * 2)
    _, label = connected_components(adj, directed=False)
    main_comp = np.argmax(np.bincount(label))
    keep = label[u] == main_comp
    noded, src = noded[keep], src[keep]
    # stable order: main roads, streets, alleys; then along the source
    order = np.lexsort((shapely.get_coordinates(shapely.get_point(noded, 0))[:, 0], src))
    noded, src = noded[order], src[order]
    u, v, node_xy = build(noded)
    named_clipped = shapely.intersection(
        np.array([shapely.LineString(x) for x in named_lines], dtype=object),
        district,
        grid_size=GRID_SIZE_M,
    )
    streets = _Streets(
        geoms=noded,
        highway=kind[src],
        name=nm[src],
        line=named_clipped[named_idx[src]],
        u=u,
        v=v,
        node_xy=node_xy,
        length=shapely.length(noded),
        mid=shapely.get_coordinates(shapely.line_interpolate_point(noded, 0.5, normalized=True)),
    )
    return streets, float(alpha)


class _StreetSampler:
    """Random points along a set of lines, with probability proportional to weighted length."""

    def __init__(self, lines: np.ndarray, weights: np.ndarray | None = None) -> None:
        self.lines = lines
        w = shapely.length(lines) * (1.0 if weights is None else weights)
        self.cum = np.concatenate([[0.0], np.cumsum(w)])
        self.share = w / np.where(w > 0, shapely.length(lines), 1.0)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        u = rng.uniform(0.0, self.cum[-1], n)
        idx = np.clip(np.searchsorted(self.cum, u, side="right") - 1, 0, len(self.lines) - 1)
        offset = (u - self.cum[idx]) / self.share[idx]
        pts = shapely.line_interpolate_point(self.lines[idx], offset)
        return shapely.get_coordinates(pts)


# --------------------------------------------------------------------------------------------
# Places and dedicated grids
# --------------------------------------------------------------------------------------------
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
_UNIT_SIZE_M = {  # dedicated grid footprint (width, height) in metres
    "school": (130, 100),
    "hospital": (170, 130),
    "market": (110, 80),
    "park": (260, 180),
    "enterprise": (140, 110),
    "government": (100, 80),
}


def _place_points(
    rng: np.random.Generator, district: shapely.Geometry, streets: _Streets
) -> list[dict]:
    """Put every place/unit on a street point, spread out and away from the district edge."""
    cand = _StreetSampler(streets.geoms[streets.highway != "alley"]).sample(6000, rng)
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


# --------------------------------------------------------------------------------------------
# Incidents
# --------------------------------------------------------------------------------------------
@dataclass
class _Gen:
    """One incident generator: a category, a daily rate, a time-of-day profile and a place."""

    code: str
    daily: np.ndarray  # expected count per day of the period
    windows: list[tuple[float, float, float]]  # (start h, end h, weight); end may pass 24
    centers: np.ndarray | None = None  # (k, 2) metric; Gaussian around one of them
    sigma: float = 60.0
    sampler: _StreetSampler | None = None
    prefix: str = ""
    background: bool = False


def _hourly(profile: list[float]) -> list[tuple[float, float, float]]:
    return [(h, h + 1, float(w)) for h, w in enumerate(profile) if w > 0]


_H_DAY = _hourly(
    [0.1] * 6 + [0.5, 1, 2, 3, 3, 2.5, 2, 2, 2.5, 2.5, 2.2, 1.8, 1.4, 1, 0.8, 0.5, 0.3, 0.2]
)
_H_EVENING = _hourly([0.6, 0.2] + [0] * 6 + [1] * 8 + [4, 4, 4.5, 5, 5, 4.5, 4, 2.5])
_H_NIGHT = _hourly([2.5, 1.5, 0.5] + [0.05] * 5 + [0.2] * 12 + [1.5, 2.5, 3, 3])
_H_WORK = _hourly([0.05] * 6 + [1.5, 3, 3, 3, 3, 2, 1, 3, 3, 3, 3, 2.5, 2, 1, 0.3, 0.6, 0.3, 0.1])
_H_PARKING = _hourly(
    [0.2] * 6 + [0.6, 2, 3, 3.5, 3.5, 3, 3, 3.5, 3.5, 3, 2.5, 2, 1.5, 1.2, 1, 0.6, 0.4, 0.3]
)
_H_MALL = _hourly([0] * 9 + [0.5, 2, 3, 3, 2.5, 2.5, 3, 3, 3, 3.5, 3.5, 3, 2, 0.5, 0])
_H_HUB = _hourly(
    [0.1] * 5 + [0.6, 2, 3, 2.5, 2, 1.5, 1.5, 1.5, 1.5, 2, 2.5, 3, 3.5, 3, 2, 1.2, 0.6, 0.3, 0.1]
)
_SCHOOL_GATE = [(7.25, 8.25, 1.0), (16.5, 17.75, 1.1)]


def _sample_times(gen: _Gen, day: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Occurrence times (int64 ns since epoch, naive local) for events on ``day`` indices."""
    w = np.array([win[2] for win in gen.windows])
    k = rng.choice(len(w), size=len(day), p=w / w.sum())
    start = np.array([win[0] for win in gen.windows])[k]
    end = np.array([win[1] for win in gen.windows])[k]
    sec = np.floor((start + rng.random(len(day)) * (end - start)) * 3600.0).astype(np.int64)
    return DEMO_START.value + day.astype(np.int64) * _DAY_NS + sec * _SEC_NS


def _sample_xy(gen: _Gen, n: int, inside: shapely.Geometry, rng: np.random.Generator) -> np.ndarray:
    def draw(m: int) -> np.ndarray:
        if gen.centers is not None:
            c = gen.centers[rng.integers(len(gen.centers), size=m)]
            return c + rng.normal(0.0, gen.sigma, (m, 2))
        return gen.sampler.sample(m, rng) + rng.normal(0.0, 3.0, (m, 2))

    xy = draw(n)
    for _ in range(200):
        bad = np.flatnonzero(~shapely.contains_xy(inside, xy[:, 0], xy[:, 1]))
        if len(bad) == 0:
            return xy
        xy[bad] = draw(len(bad))
    raise RuntimeError("demo: could not place incidents inside the district")  # pragma: no cover


@dataclass
class _Calendar:
    days: pd.DatetimeIndex
    dow: np.ndarray
    month: np.ndarray  # 1 = 2025-11 ... 12 = 2026-10
    weekday: np.ndarray
    school_day: np.ndarray
    summer: np.ndarray  # 0.15 (winter) .. 1 (mid-July)
    building: np.ndarray  # construction season factor
    ramp: np.ndarray  # 0 -> 1 over the period

    def after(self, date: str) -> np.ndarray:
        return np.asarray(self.days >= pd.Timestamp(date))


def _calendar() -> _Calendar:
    days = pd.date_range(DEMO_START, DEMO_END, freq="D", inclusive="left")
    dow = np.asarray(days.day_of_week)
    month = np.asarray((days.year - 2025) * 12 + days.month - 10)
    doy = np.asarray(days.day_of_year)

    def between(a: str, b: str) -> np.ndarray:
        return np.asarray((days >= pd.Timestamp(a)) & (days < pd.Timestamp(b)))

    holidays = (
        between("2026-01-01", "2026-01-04")
        | between("2026-04-04", "2026-04-07")
        | between("2026-05-01", "2026-05-06")
        | between("2026-06-19", "2026-06-22")
        | between("2026-10-01", "2026-10-09")
    )
    vacation = between("2026-01-24", "2026-03-02") | between("2026-07-11", "2026-09-01")
    weekday = dow < 5
    summer = 0.15 + 0.85 * np.clip(np.cos(2 * np.pi * (doy - 196) / 365.0), 0, None) ** 1.5
    building = np.where(between("2026-01-15", "2026-03-01"), 0.1, 1.0) * np.where(weekday, 1, 0.2)
    return _Calendar(
        days=days,
        dow=dow,
        month=month,
        weekday=weekday,
        school_day=weekday & ~holidays & ~vacation,
        summer=summer,
        building=building,
        ramp=np.linspace(0.0, 1.0, len(days)),
    )


def _generators(
    cal: _Calendar,
    places: dict[str, list[dict]],
    streets: _Streets,
    district: shapely.Geometry,
    ops: dict[str, dict],
) -> list[_Gen]:
    """The incident generators: planted patterns, place-driven rhythms, then background."""
    n = len(cal.days)
    ones = np.ones(n)
    weekend = np.where(cal.dow >= 4, 1.35, 1.0)  # Fri-Sun evenings are busier

    def at(kind: str, i: int | None = None) -> np.ndarray:
        pts = places[kind] if i is None else [places[kind][i]]
        return np.array([p["xy"] for p in pts])

    def near(kind: str, i: int = 0) -> str:
        return places[kind][i]["name"] + "周边"

    op_start = pd.Timestamp("2026-04-01")
    post_op = np.asarray(cal.days >= op_start)
    gens: list[_Gen] = [
        # (1) persistent: bar street encroachment every evening, all year
        _Gen(
            "05-04",
            38 * weekend,
            _H_EVENING[2:] + [(0, 1, 2.0)],
            at("bar_street"),
            55,
            prefix=near("bar_street"),
        ),
        _Gen(
            "05-10",
            22 * cal.summer * weekend,
            _H_EVENING[2:],
            at("bar_street"),
            60,
            prefix=near("bar_street"),
        ),
        _Gen(
            "05-08",
            4 * weekend,
            _H_EVENING[2:] + [(0, 2, 2.0)],
            at("bar_street"),
            50,
            prefix=near("bar_street"),
        ),
        # (2) new: illegal parking around the mall from its opening on 2026-08-01
        _Gen(
            "05-05",
            32 * cal.after("2026-08-01") * np.where(cal.dow >= 5, 1.4, 1.0),
            _H_MALL,
            at("mall"),
            60,
            prefix=near("mall"),
        ),
        # (3) intensifying: vending at the transport hub, rising all year
        _Gen(
            "05-01",
            3 + 29 * cal.ramp,
            _H_HUB,
            at("transport_hub"),
            70,
            prefix=near("transport_hub"),
        ),
        _Gen("05-06", 7 * ones, _H_HUB, at("transport_hub"), 60, prefix=near("transport_hub")),
        _Gen("05-05", 5 * ones, _H_HUB, at("transport_hub"), 70, prefix=near("transport_hub")),
        # (4) diminishing: parking around the hospital, rectified in 2026-04
        _Gen(
            "05-05",
            np.where(post_op, 4.0, 28.0) * np.where(cal.weekday, 1, 0.6),
            _H_PARKING,
            at("hospital"),
            70,
            prefix=near("hospital"),
        ),
        # (5) displacement: market encroachment pushed out to the surrounding streets
        _Gen(
            "05-04",
            np.where(post_op, 4.0, 28.0),
            _H_EVENING,
            at("market", 0),
            50,
            prefix=near("market", 0),
        ),
        _Gen(
            "05-04",
            np.where(post_op, 22.0, 0.0),
            _H_EVENING,
            sampler=ops["market"]["ring_sampler"],
            prefix=near("market", 0),
        ),
    ]
    for i in range(3):  # markets: encroachment, vending, summer barbecue
        if i > 0:
            gens.append(
                _Gen("05-04", 10 * ones, _H_EVENING, at("market", i), 50, prefix=near("market", i))
            )
        gens.append(_Gen("05-01", 5 * ones, _H_DAY, at("market", i), 60, prefix=near("market", i)))
        gens.append(
            _Gen(
                "05-10",
                4 * cal.summer,
                _H_EVENING[2:],
                at("market", i),
                60,
                prefix=near("market", i),
            )
        )
        gens.append(_Gen("05-07", 2 * ones, _H_DAY, at("market", i), 60, prefix=near("market", i)))
    for i in range(len(places["school"])):  # school gates: drop-off and pick-up
        gens.append(
            _Gen(
                "05-05",
                9 * cal.school_day,
                _SCHOOL_GATE,
                at("school", i),
                30,
                prefix=near("school", i),
            )
        )
        gens.append(
            _Gen(
                "05-06",
                3 * cal.school_day,
                _SCHOOL_GATE + [(12, 13, 0.3)],
                at("school", i),
                35,
                prefix=near("school", i),
            )
        )
    for i in range(len(places["construction_site"])):
        gens.append(
            _Gen(
                "03-01",
                6 * cal.building,
                _H_WORK,
                at("construction_site", i),
                45,
                prefix=near("construction_site", i),
            )
        )
        gens.append(
            _Gen(
                "03-02",
                1.2 * cal.building,
                _H_WORK,
                at("construction_site", i),
                60,
                prefix=near("construction_site", i),
            )
        )
    compounds = at("old_compound")
    gens += [
        _Gen(
            "06-02",
            14 * ones * np.where(cal.dow >= 4, 1.3, 1.0),
            _H_NIGHT,
            compounds,
            60,
            prefix="老旧小区",
        ),
        _Gen("01-07", 0.35 * ones, _H_DAY, compounds, 70, prefix="老旧小区"),
        _Gen("06-04", 4 * ones, _H_DAY, compounds, 70, prefix="老旧小区"),
        _Gen("06-01", 5 * ones, _H_NIGHT, compounds, 60, prefix="老旧小区"),
        _Gen("05-07", 6 * ones, _H_DAY, compounds, 70, prefix="老旧小区"),
        _Gen("01-18", 0.6 * ones, _H_DAY, compounds, 80, prefix="老旧小区"),
        _Gen("06-03", 2 * ones, _H_DAY, compounds, 90, prefix="老旧小区"),
    ]

    # background along every street, denser towards the centre
    mid = streets.mid
    c = shapely.get_coordinates(shapely.centroid(district))[0]
    dens = 0.45 + np.exp(-np.sum((mid - c) ** 2, axis=1) / (2 * 1600.0**2))
    dens *= np.select([streets.highway == "main", streets.highway == "alley"], [1.4, 0.6], 1.0)
    bg = _StreetSampler(streets.geoms, dens)
    background = [
        ("01-02", 40, _H_DAY, ones),
        ("02-02", 22, _H_DAY, ones),
        ("05-07", 20, _H_DAY, ones),
        ("02-01", 7, _H_DAY, ones),
        ("05-05", 55, _H_PARKING, ones),
        ("05-06", 18, _H_DAY, ones),
        ("05-04", 28, _H_EVENING, ones),
        ("05-01", 8, _H_DAY, ones),
        ("05-08", 6, _H_EVENING, ones),
        ("05-10", 5, _H_EVENING[2:], cal.summer),
        ("06-01", 6, _H_NIGHT, ones),
        ("06-03", 4, _H_DAY, ones),
        ("06-04", 5, _H_DAY, ones),
        ("01-01", 4, _H_DAY, cal.building),
        ("01-18", 0.8, _H_DAY, ones),
        ("03-02", 2, _H_WORK, cal.building),
        ("04-01", 0.08, _H_DAY, ones),
        ("04-02", 1.0, _H_DAY, ones),
    ]
    planted = sum(float(g.daily.sum()) for g in gens)
    bg_total = sum(rate * float(shape.sum()) for _, rate, _, shape in background)
    scale = max(0.2, (TARGET_INCIDENTS - planted) / bg_total)
    for code, rate, windows, shape in background:
        gens.append(_Gen(code, rate * scale * shape, windows, sampler=bg, background=True))
    return gens


def _incidents(
    rng: np.random.Generator,
    gens: list[_Gen],
    taxonomy: pd.DataFrame,
    inside: shapely.Geometry,
    streets: _Streets,
) -> pd.DataFrame:
    """Draw every generator (Poisson per day), then attributes, all vectorised."""
    parts_t, parts_xy, parts_g = [], [], []
    for gi, gen in enumerate(gens):
        counts = rng.poisson(np.clip(gen.daily, 0, None))
        day = np.repeat(np.arange(len(counts)), counts)
        parts_t.append(_sample_times(gen, day, rng))
        parts_xy.append(_sample_xy(gen, len(day), inside, rng))
        parts_g.append(np.full(len(day), gi, dtype=np.int64))
    occ = np.concatenate(parts_t)
    xy = np.concatenate(parts_xy)
    g = np.concatenate(parts_g)
    keep = occ < DEMO_END.value
    occ, xy, g = occ[keep], xy[keep], g[keep]
    order = np.lexsort((rng.random(len(occ)), occ))
    occ, xy, g = occ[order], xy[order], g[order]
    n = len(occ)

    tax = taxonomy.set_index("code")
    gen_code = np.array([gen.code for gen in gens], dtype=object)
    code = gen_code[g]
    limit_h = tax["time_limit_h"].reindex(gen_code).to_numpy(float)[g]
    weight = tax["severity_weight"].reindex(gen_code).to_numpy(np.int64)[g]
    dept = tax["department"].reindex(gen_code).to_numpy(object)[g]

    # source: residents' complaints dominate the neighbourhood extensions (06-xx)
    p_default = np.array([0.474, 0.221, 0.215, 0.062, 0.028])  # ~45/25/20/7/3 overall
    p_resident = np.array([0.20, 0.55, 0.05, 0.15, 0.05])
    resident = np.char.startswith(code.astype(str), "06")
    u = rng.random(n)
    src_idx = np.where(
        resident,
        np.searchsorted(np.cumsum(p_resident), u, side="right"),
        np.searchsorted(np.cumsum(p_default), u, side="right"),
    ).clip(0, 4)
    source = SOURCES[src_idx]
    base_s = np.array([30, 300, 10, 120, 1800])[src_idx]
    mean_s = np.array([150, 1500, 60, 1200, 14400])[src_idx]
    delay = base_s + np.floor(rng.exponential(1.0, n) * mean_s).astype(np.int64)
    reported = occ + delay * _SEC_NS

    # handling: lognormal around the time limit, ~85 % within it
    factor = np.exp(rng.normal(-0.62, 0.6, n))
    handle_s = np.maximum(60, np.floor(limit_h * 3600 * factor)).astype(np.int64)
    closed = reported + handle_s * _SEC_NS
    now = DEMO_END.value
    age_d = (now - reported) / _DAY_NS
    p_open = np.where(age_d < 21, 0.04 + 0.36 * (1 - age_d / 21), 0.0)
    is_open = (closed >= now) | (rng.random(n) < p_open)
    rework = ~is_open & (age_d < 45) & (rng.random(n) < 0.02)
    status = np.full(n, "closed", dtype=object)
    fresh = age_d < 1
    pick = rng.random(n)
    open_status = np.where(
        fresh,
        np.select([pick < 0.4, pick < 0.75], ["registered", "dispatched"], "handling"),
        np.select([pick < 0.1, pick < 0.4], ["registered", "dispatched"], "handling"),
    ).astype(object)
    status[is_open] = open_status[is_open]
    status[rework] = "rework"
    closed_at = np.where(is_open | rework, np.iinfo(np.int64).min, closed)

    sev_u = rng.random(n)
    p_em = np.select([weight >= 5, weight >= 3], [0.5, 0.01], 0.001)
    p_ma = np.select([weight >= 5, weight >= 3], [0.3, 0.08], 0.015)
    severity = np.select([sev_u < p_em, sev_u < p_em + p_ma], ["emergency", "major"], "general")

    # address from the nearest street: odd numbers on the left, even on the right
    pts = shapely.points(xy)
    q_in, q_tree = shapely.STRtree(streets.geoms).query_nearest(pts, all_matches=False)
    nearest = np.empty(n, dtype=np.int64)
    nearest[q_in] = q_tree
    line = streets.line[nearest]
    s = shapely.line_locate_point(line, pts)
    p0 = shapely.get_coordinates(shapely.line_interpolate_point(line, s))
    p1 = shapely.get_coordinates(shapely.line_interpolate_point(line, s + 1.0))
    cross = (p1[:, 0] - p0[:, 0]) * (xy[:, 1] - p0[:, 1]) - (p1[:, 1] - p0[:, 1]) * (
        xy[:, 0] - p0[:, 0]
    )
    number = 2 * np.floor(s / 12.0).astype(np.int64) + np.where(cross > 0, 1, 2)
    address = streets.name[nearest] + number.astype(str).astype(object) + "号"

    phrase_idx = rng.integers(0, 1 << 30, n)
    phrases = {c: np.array(names.DESCRIPTIONS[c], dtype=object) for c in np.unique(gen_code)}
    desc_base = np.empty(n, dtype=object)
    for c, arr in phrases.items():
        m = code == c
        desc_base[m] = arr[phrase_idx[m] % len(arr)]
    prefix = np.array([gen.prefix for gen in gens], dtype=object)[g]
    description = np.where(prefix == "", desc_base, prefix + "，" + desc_base)

    return pd.DataFrame(
        {
            "external_id": pd.Series([f"DEMO-{i:07d}" for i in range(1, n + 1)], dtype=object),
            "category_code": pd.Series(code, dtype=object),
            "source": pd.Series(source, dtype=object),
            "status": pd.Series(status, dtype=object),
            "severity": pd.Series(severity.astype(object), dtype=object),
            "occurred_at": pd.Series(occ.view("datetime64[ns]")),
            "reported_at": pd.Series(reported.view("datetime64[ns]")),
            "closed_at": pd.Series(closed_at.view("datetime64[ns]")),
            "department": pd.Series(dept, dtype=object),
            "address": pd.Series(address, dtype=object),
            "description": pd.Series(description, dtype=object),
            "_x": xy[:, 0],
            "_y": xy[:, 1],
        }
    )


# --------------------------------------------------------------------------------------------
# Patrol tracks
# --------------------------------------------------------------------------------------------
@dataclass
class _Beat:
    """One grid worker's patrol graph: nodes, all-pairs predecessors and edge polylines."""

    node_xy: np.ndarray
    pred: np.ndarray
    start: int
    edge_xy: dict[tuple[int, int], np.ndarray]


def _beat(streets: _Streets, mask: np.ndarray, home: np.ndarray) -> _Beat | None:
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return None
    nodes, inv = np.unique(np.concatenate([streets.u[idx], streets.v[idx]]), return_inverse=True)
    lu, lv = inv[: len(idx)], inv[len(idx) :]
    m = len(nodes)
    # shortest edge per node pair, no loops
    best: dict[tuple[int, int], int] = {}
    for k, (a, b) in enumerate(zip(lu, lv, strict=True)):
        if a == b:
            continue
        key = (min(a, b), max(a, b))
        if key not in best or streets.length[idx[k]] < streets.length[idx[best[key]]]:
            best[key] = k
    if not best:
        return None
    ks = np.array(list(best.values()))
    a, b = lu[ks], lv[ks]
    w = streets.length[idx[ks]]
    graph = coo_matrix((w, (a, b)), shape=(m, m)).tocsr()
    _, label = connected_components(graph, directed=False)
    big = np.argmax(np.bincount(label))
    _, pred = dijkstra(graph, directed=False, return_predecessors=True)
    keep = np.flatnonzero(label == big)
    xy = streets.node_xy[nodes]
    start = keep[np.argmin(np.hypot(*(xy[keep] - home).T))]
    edge_xy: dict[tuple[int, int], np.ndarray] = {}
    for k, i, j in zip(ks, a, b, strict=True):
        coords = shapely.get_coordinates(streets.geoms[idx[k]])
        edge_xy[(i, j)] = coords
        edge_xy[(j, i)] = coords[::-1]
    pred = np.where(label[None, :] == big, pred, -9999)
    return (
        _Beat(node_xy=xy, pred=pred, start=int(start), edge_xy=edge_xy) if len(keep) > 1 else None
    )


def _route(beat: _Beat, length_m: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A walk of at least ``length_m`` through random targets, as (xy, cumulative distance)."""
    reachable = np.flatnonzero(beat.pred[beat.start] != -9999)
    reachable = np.append(reachable, beat.start)
    pieces = [beat.node_xy[beat.start][None, :]]
    total, here = 0.0, beat.start
    while total < length_m:
        target = int(rng.choice(reachable))
        if target == here:
            continue
        path = [target]
        while path[-1] != here:
            path.append(int(beat.pred[here, path[-1]]))
        path.reverse()
        for a, b in zip(path[:-1], path[1:], strict=True):
            seg = beat.edge_xy[(a, b)]
            pieces.append(seg[1:])
            total += float(np.sum(np.hypot(*np.diff(seg, axis=0).T)))
        here = target
    xy = np.concatenate(pieces)
    step = np.hypot(*np.diff(xy, axis=0).T)
    keep = np.concatenate([[True], step > 0])
    xy = xy[keep]
    cum = np.concatenate([[0.0], np.cumsum(step[step > 0])])
    return xy, cum


def _tracks(
    rng: np.random.Generator,
    streets: _Streets,
    grids: _Grids,
    workers: list[str],
    neglected: np.ndarray,
    track_days: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Twice-daily patrols of every level-2 grid worker over the last ``track_days`` days."""
    blocked = _blocked_edges(streets, grids, neglected)
    homes = shapely.get_coordinates(shapely.point_on_surface(grids.l2))
    n_days = (DEMO_END - DEMO_START).days
    day0 = n_days - track_days
    t_rows, f_code, f_staff, f_t, f_xy = [], [], [], [], []
    for j in range(N_L2):
        beat = _beat(streets, _beat_edges(streets, grids, j, blocked), homes[j])
        if beat is None:  # pragma: no cover - does not happen for the shipped seeds
            continue
        for day in range(day0, n_days):
            date = DEMO_START + pd.Timedelta(days=day)
            for shift, hour in (("morning", 9), ("evening", 19)):
                start_s = hour * 3600 + int(np.clip(rng.normal(0, 240), -600, 600))
                dur_s = int(rng.uniform(60, 120) * 60)
                speed = rng.uniform(1.0, 1.4)
                n_stops = int(rng.integers(1, 4))
                stop_s = rng.uniform(180, 900, n_stops)
                walk_m = speed * (dur_s - stop_s.sum())
                xy, cum = _route(beat, walk_m, rng)
                at_m = np.sort(rng.uniform(0.1, 0.9, n_stops)) * walk_m
                t_k, s_k, t, s = [0.0], [0.0], 0.0, 0.0
                for pos, wait in zip(at_m, stop_s, strict=True):
                    t += (pos - s) / speed
                    t_k += [t, t + wait]
                    s_k += [pos, pos]
                    t, s = t + wait, pos
                t_k.append(float(dur_s))
                s_k.append(walk_m)
                gaps = rng.integers(5, 31, int(dur_s / 5) + 2)
                times = np.concatenate([[0], np.cumsum(gaps)])
                times = times[times <= dur_s]
                dist = np.interp(times, t_k, s_k)
                f_xy.append(
                    np.column_stack(
                        [np.interp(dist, cum, xy[:, 0]), np.interp(dist, cum, xy[:, 1])]
                    )
                )
                code = f"T{date:%Y%m%d}{shift[0].upper()}-{workers[j]}"
                t0 = date.value + start_s * _SEC_NS
                f_t.append(t0 + times * _SEC_NS)
                f_code.append(np.full(len(times), code, dtype=object))
                f_staff.append(np.full(len(times), workers[j], dtype=object))
                t_rows.append((code, workers[j], shift, t0, t0 + dur_s * _SEC_NS))
    if f_xy:
        xy = np.concatenate(f_xy)
        n = len(xy)
        xy = xy + rng.normal(0.0, 4.0, (n, 2))
        out = rng.random(n) < 0.005
        ang = rng.uniform(0, 2 * np.pi, out.sum())
        rad = rng.uniform(30, 80, out.sum())
        xy[out] += np.column_stack([np.cos(ang), np.sin(ang)]) * rad[:, None]
        t_all = np.concatenate(f_t)
        code_all = np.concatenate(f_code)
        staff_all = np.concatenate(f_staff)
    else:
        xy = np.empty((0, 2))
        t_all = np.empty(0, dtype=np.int64)
        code_all = staff_all = np.empty(0, dtype=object)
    tracks = pd.DataFrame(
        t_rows, columns=["track_code", "staff_code", "shift", "started_at", "ended_at"]
    )
    for col in ("track_code", "staff_code", "shift"):
        tracks[col] = tracks[col].astype(object)
    for col in ("started_at", "ended_at"):
        tracks[col] = pd.Series(tracks[col].to_numpy(np.int64).view("datetime64[ns]"))
    tracks = tracks.sort_values("track_code", kind="stable").reset_index(drop=True)
    fixes = pd.DataFrame(
        {
            "track_code": pd.Series(code_all, dtype=object),
            "staff_code": pd.Series(staff_all, dtype=object),
            "t": pd.Series(np.asarray(t_all, dtype=np.int64).view("datetime64[ns]")),
            "_x": xy[:, 0],
            "_y": xy[:, 1],
        }
    )
    fixes = fixes.sort_values(["track_code", "t"], kind="stable").reset_index(drop=True)
    return tracks, fixes


#: Street edges within this distance (metres) of a neglected micro-grid are never patrolled.
NEGLECT_CLEARANCE_M = 20.0


def _blocked_edges(streets: _Streets, grids: _Grids, neglected: np.ndarray) -> np.ndarray:
    """Street pieces within ``NEGLECT_CLEARANCE_M`` of any neglected micro-grid."""
    if len(neglected) == 0:
        return np.zeros(len(streets.geoms), dtype=bool)
    avoid = shapely.union_all(grids.micro[neglected])
    return shapely.dwithin(streets.geoms, avoid, NEGLECT_CLEARANCE_M)


def _beat_edges(streets: _Streets, grids: _Grids, j: int, blocked: np.ndarray) -> np.ndarray:
    """Mask of the street pieces level-2 grid ``j``'s worker walks: the largest connected set of
    unblocked pieces whose midpoint lies in the grid (or, for a tiny grid, within 150 m of it)."""
    mid = streets.mid
    for mask in (
        shapely.contains_xy(grids.l2[j], mid[:, 0], mid[:, 1]) & ~blocked,
        shapely.dwithin(streets.geoms, grids.l2[j], 150.0) & ~blocked,
    ):
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            continue
        nodes, inv = np.unique(
            np.concatenate([streets.u[idx], streets.v[idx]]), return_inverse=True
        )
        graph = coo_matrix(
            (np.ones(len(idx)), (inv[: len(idx)], inv[len(idx) :])), shape=(len(nodes),) * 2
        )
        _, label = connected_components(graph, directed=False)
        big = np.argmax(np.bincount(label))
        keep = idx[label[inv[: len(idx)]] == big]
        if len(keep) >= 6:
            out = np.zeros(len(streets.geoms), dtype=bool)
            out[keep] = True
            return out
    return np.zeros(len(streets.geoms), dtype=bool)  # pragma: no cover


def _choose_neglected(
    rng: np.random.Generator,
    streets: _Streets,
    grids: _Grids,
    keep_clear: shapely.Geometry | None = None,
    n: int = 12,
) -> np.ndarray:
    """Micro-grids (indices) the workers will skip.

    Each has at least 150 m of street inside; they lie in distinct level-2 grids (at most two per
    level-1 grid); none touches ``keep_clear`` (metric); and skipping them must not cut any other
    micro-grid off its worker's beat.
    """
    tree = shapely.STRtree(streets.geoms)
    q_micro, q_street = tree.query(grids.micro, predicate="intersects")
    inside_len = shapely.length(shapely.intersection(streets.geoms[q_street], grids.micro[q_micro]))
    street_m = np.bincount(q_micro, weights=inside_len, minlength=N_MICRO)
    no_block = np.zeros(len(streets.geoms), dtype=bool)
    beats = np.array([_beat_edges(streets, grids, j, no_block) for j in range(N_L2)])

    def touched(beats: np.ndarray) -> np.ndarray:
        walked = beats.any(axis=0)
        hit = np.zeros(N_MICRO, dtype=bool)
        hit[q_micro[walked[q_street] & (inside_len > 5.0)]] = True
        return hit

    required = touched(beats) & (street_m >= 30.0)
    mid = streets.mid
    l2_of_edge = np.full(len(streets.geoms), -1)
    for j in range(N_L2):
        l2_of_edge[shapely.contains_xy(grids.l2[j], mid[:, 0], mid[:, 1])] = j
    chosen: list[int] = []
    used_l2: set[int] = set()
    per_l1: dict[int, int] = {}
    blocked = no_block
    clear = np.ones(N_MICRO, dtype=bool)
    if keep_clear is not None:  # planted hotspots and operations stay out of the patrol story
        clear = ~shapely.intersects(grids.micro, keep_clear)
    for k in rng.permutation(np.flatnonzero((street_m >= 150.0) & clear)):
        p2 = int(grids.micro_parent[k])
        p1 = int(grids.l2_parent[p2])
        if p2 in used_l2 or per_l1.get(p1, 0) >= 2:
            continue
        near = shapely.dwithin(streets.geoms, grids.micro[k], NEGLECT_CLEARANCE_M)
        trial_blocked = blocked | near
        trial = beats.copy()
        for j in np.unique(np.append(l2_of_edge[near], p2)):
            if j >= 0:
                trial[j] = _beat_edges(streets, grids, int(j), trial_blocked)
        need = required.copy()
        need[chosen + [int(k)]] = False
        if (need & ~touched(trial)).any():
            continue
        chosen.append(int(k))
        used_l2.add(p2)
        per_l1[p1] = per_l1.get(p1, 0) + 1
        blocked, beats = trial_blocked, trial
        if len(chosen) == n:
            break
    return np.array(sorted(chosen), dtype=np.int64)


# --------------------------------------------------------------------------------------------
# Staff
# --------------------------------------------------------------------------------------------
def _people(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
    sur = rng.choice(names.SURNAMES, n)
    two = rng.random(n) < 0.7
    g1 = rng.choice(names.GIVEN_CHARS, n)
    g2 = rng.choice(names.GIVEN_CHARS, n)
    person = [s + a + (b if t else "") for s, a, b, t in zip(sur, g1, g2, two, strict=True)]
    prefix = rng.choice(["13", "15", "18"], n)
    tail = rng.choice(10**9, n, replace=False)
    phone = [f"{p}{t:09d}" for p, t in zip(prefix, tail, strict=True)]
    return person, phone


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------
def generate_district(seed: int = 42, track_days: int = 14) -> DemoDistrict:
    """Generate the demo district (deterministic in ``seed`` and ``track_days``).

    Parameters
    ----------
    seed
        Seed for ``numpy.random.default_rng``; the only source of randomness.
    track_days
        Number of days, ending on 2026-10-31, with patrol GPS tracks (0..365).

    Returns
    -------
    DemoDistrict
        Frames in EPSG:4326 with naive Asia/Shanghai times:

        - ``grids``: 15 l1, 46 l2, 447 micro and 15 dedicated grids (MultiPolygon), by level
          then code; ``households``/``population``/``businesses`` of l2/l1 are sums of their
          children; dedicated grids carry 0 households/population and 1 business (the unit).
        - ``staff``: 15 leaders, 61 workers (46 l2 + 15 dedicated), 447 assistants, 30 officers.
        - ``streets`` (noded pieces between junctions), ``places`` (19 incident drivers).
        - ``incidents``: about 165,000, sorted by ``occurred_at`` then ``external_id``.
        - ``tracks``/``fixes``: 2 shifts a day per l2 grid worker over the last ``track_days``.

    Raises
    ------
    ValueError
        If ``track_days`` is outside 0..365.
    InputError
        If the taxonomy lacks a category code the demo uses.
    """
    if not 0 <= int(track_days) <= (DEMO_END - DEMO_START).days:
        raise ValueError(f"track_days must be within 0..365, got {track_days}")
    track_days = int(track_days)
    rng = np.random.default_rng(seed)
    taxonomy = read_taxonomy()
    missing = sorted(set(names.DESCRIPTIONS) - set(taxonomy["code"]))
    if missing:
        raise InputError(f"the demo needs taxonomy code(s) {', '.join(missing)}")

    cx, cy = _TO_METRIC.transform(*CENTER_LONLAT)
    center = np.array([cx, cy])
    district0 = _district_polygon(rng, center)
    grids = _build_grids(rng, district0)
    district = grids.district
    streets, alpha = _build_streets(rng, district, center)
    placed = _place_points(rng, district, streets)
    by_kind: dict[str, list[dict]] = {}
    for p in placed:
        by_kind.setdefault(p["kind"], []).append(p)

    # ---- dedicated grids: a footprint around each unit, clipped to its level-1 grid ----------
    units = [p for p in placed if p["kind"] in DEDICATED_KINDS]
    ded_geom, ded_parent = [], []
    for p in units:
        w, h = _UNIT_SIZE_M[p["kind"]]
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
    od = np.argsort(np.array(ded_code), kind="stable")

    # ---- operations and their areas ---------------------------------------------------------
    m_xy = by_kind["market"][0]["xy"]
    h_xy = by_kind["hospital"][0]["xy"]
    market_area = shapely.Point(m_xy).buffer(150.0, quad_segs=8)
    hospital_area = shapely.Point(h_xy).buffer(250.0, quad_segs=8)
    ring = shapely.Point(m_xy).buffer(550.0).difference(shapely.Point(m_xy).buffer(250.0))
    ring_lines = shapely.intersection(streets.geoms, ring)
    ring_lines = shapely.get_parts(ring_lines[~shapely.is_empty(ring_lines)])
    ring_lines = ring_lines[shapely.length(ring_lines) > 1.0]
    ops = {"market": {"ring_sampler": _StreetSampler(ring_lines)}}

    # ---- incidents ---------------------------------------------------------------------------
    cal = _calendar()
    gens = _generators(cal, by_kind, streets, district, ops)
    inside = shapely.buffer(district, -1.0)
    shapely.prepare(inside)
    inc = _incidents(rng, gens, taxonomy, inside, streets)

    # ---- grid attributes and staff ---------------------------------------------------------
    households = rng.integers(300, 501, N_MICRO)
    population = np.round(households * rng.uniform(2.3, 3.0, N_MICRO)).astype(np.int64)
    micro_rep = shapely.points(shapely.get_coordinates(shapely.point_on_surface(grids.micro)))
    commerce = np.zeros(N_MICRO)
    for p in placed:
        if p["kind"] in ("market", "bar_street", "mall", "transport_hub"):
            commerce += 25.0 * np.exp(-shapely.distance(micro_rep, shapely.Point(p["xy"])) / 250.0)
    businesses = rng.poisson(4.0 + commerce)
    hh2 = np.bincount(grids.micro_parent, households, N_L2).astype(np.int64)
    pop2 = np.bincount(grids.micro_parent, population, N_L2).astype(np.int64)
    bus2 = np.bincount(grids.micro_parent, businesses, N_L2).astype(np.int64)
    hh1 = np.bincount(grids.l2_parent, hh2, N_L1).astype(np.int64)
    pop1 = np.bincount(grids.l2_parent, pop2, N_L1).astype(np.int64)
    bus1 = np.bincount(grids.l2_parent, bus2, N_L1).astype(np.int64)
    n_ded = len(units)
    ded_code_s = [ded_code[k] for k in od]
    ded_parent_s = ded_parent[od]
    geoms = np.concatenate([grids.l1, grids.l2, grids.micro, ded_geom[od]])
    geoms = np.array([_as_multipolygon(gm) for gm in _to_lonlat(geoms)], dtype=object)
    grid_frame = gpd.GeoDataFrame(
        {
            "code": pd.Series(
                grids.l1_code + grids.l2_code + grids.micro_code + ded_code_s, dtype=object
            ),
            "name": pd.Series(
                grids.l1_name
                + grids.l2_name
                + grids.micro_name
                + [units[k]["name"] + "专属网格" for k in od],
                dtype=object,
            ),
            "level": pd.Series(
                ["l1"] * N_L1 + ["l2"] * N_L2 + ["micro"] * N_MICRO + ["dedicated"] * n_ded,
                dtype=object,
            ),
            "parent_code": pd.Series(
                [None] * N_L1
                + [grids.l1_code[p] for p in grids.l2_parent]
                + [grids.l2_code[p] for p in grids.micro_parent]
                + [grids.l1_code[p] for p in ded_parent_s],
                dtype=object,
            ),
            "kind": pd.Series(
                [None] * (N_L1 + N_L2 + N_MICRO) + [units[k]["kind"] for k in od], dtype=object
            ),
            "households": np.concatenate([hh1, hh2, households, np.zeros(n_ded, np.int64)]),
            "population": np.concatenate([pop1, pop2, population, np.zeros(n_ded, np.int64)]),
            "businesses": np.concatenate([bus1, bus2, businesses, np.ones(n_ded, np.int64)]),
        },
        geometry=gpd.GeoSeries(geoms, crs=settings.STORAGE_EPSG),
    )

    roles = (
        [("grid_leader", "shequ", c) for c in grids.l1_code]
        + [("grid_worker", "shequ", c) for c in grids.l2_code]
        + [("grid_assistant", "shequ", c) for c in grids.micro_code]
        + [("grid_worker", "shequ", c) for c in ded_code_s]
    )
    officer_depts = ["chengguan"] * 12 + ["scjg"] * 6 + ["pcs"] * 6 + ["jiaojing"] * 6
    officer_l1 = rng.permutation(np.resize(np.arange(N_L1), len(officer_depts)))
    roles += [
        ("enforcement_officer", d, grids.l1_code[int(i)])
        for d, i in zip(officer_depts, officer_l1, strict=True)
    ]
    person, phone = _people(rng, len(roles))
    staff = pd.DataFrame(
        {
            "staff_code": pd.Series([f"S{i:04d}" for i in range(1, len(roles) + 1)], dtype=object),
            "name": pd.Series(person, dtype=object),
            "role": pd.Series([r[0] for r in roles], dtype=object),
            "department": pd.Series([r[1] for r in roles], dtype=object),
            "grid_code": pd.Series([r[2] for r in roles], dtype=object),
            "phone": pd.Series(phone, dtype=object),
        }
    )
    workers = staff["staff_code"].iloc[N_L1 : N_L1 + N_L2].tolist()

    # ---- patrol tracks -------------------------------------------------------------------------
    key_xy = [by_kind[k][0]["xy"] for k in ("bar_street", "mall", "transport_hub", "hospital")]
    keep_clear = shapely.union_all(
        [shapely.Point(xy).buffer(300.0) for xy in key_xy] + [market_area.buffer(400.0)]
    )
    neglected = _choose_neglected(rng, streets, grids, keep_clear)
    tracks, fixes = _tracks(rng, streets, grids, workers, neglected, track_days)

    # ---- to EPSG:4326 ------------------------------------------------------------------------
    def lonlat_points(x: np.ndarray, y: np.ndarray) -> gpd.GeoSeries:
        lon, lat = _TO_LONLAT.transform(x, y)
        return gpd.GeoSeries(shapely.points(lon, lat), crs=settings.STORAGE_EPSG)

    inc_xy = inc[["_x", "_y"]].to_numpy()
    incidents = gpd.GeoDataFrame(
        inc.drop(columns=["_x", "_y"]), geometry=lonlat_points(inc_xy[:, 0], inc_xy[:, 1])
    )
    fix_xy = fixes[["_x", "_y"]].to_numpy()
    fixes = gpd.GeoDataFrame(
        fixes.drop(columns=["_x", "_y"]), geometry=lonlat_points(fix_xy[:, 0], fix_xy[:, 1])
    )
    street_frame = gpd.GeoDataFrame(
        {
            "street_id": np.arange(1, len(streets.geoms) + 1, dtype=np.int64),
            "name": pd.Series(streets.name, dtype=object),
            "highway": pd.Series(streets.highway, dtype=object),
        },
        geometry=gpd.GeoSeries(_to_lonlat(streets.geoms), crs=settings.STORAGE_EPSG),
    )
    drivers = sorted(
        (p for p in placed if p["kind"] in PLACE_KINDS),
        key=lambda p: (PLACE_KINDS.index(p["kind"]), p["name"]),
    )
    pxy = np.array([p["xy"] for p in drivers])
    places = gpd.GeoDataFrame(
        {
            "place_id": np.arange(1, len(drivers) + 1, dtype=np.int64),
            "name": pd.Series([p["name"] for p in drivers], dtype=object),
            "kind": pd.Series([p["kind"] for p in drivers], dtype=object),
        },
        geometry=lonlat_points(pxy[:, 0], pxy[:, 1]),
    )
    boundary = _to_lonlat(np.array([district], dtype=object))[0]
    if isinstance(boundary, shapely.MultiPolygon):  # pragma: no cover - star-shaped outline
        boundary = max(boundary.geoms, key=lambda p: p.area)

    truth = _truth(
        seed,
        grids,
        by_kind,
        market_area,
        hospital_area,
        neglected,
        track_days,
        len(incidents),
        len(fixes),
    )
    truth["counts"].update(
        {
            "grids": {"l1": N_L1, "l2": N_L2, "micro": N_MICRO, "dedicated": n_ded},
            "staff": len(staff),
            "streets": len(street_frame),
            "places": len(places),
            "tracks": len(tracks),
        }
    )
    return DemoDistrict(
        seed=seed,
        boundary=boundary,
        grids=grid_frame,
        staff=staff,
        streets=street_frame,
        places=places,
        incidents=incidents,
        tracks=tracks,
        fixes=fixes,
        truth=truth,
    )


def _iso(ts: pd.Timestamp) -> str:
    return ts.isoformat()


def _truth(
    seed: int,
    grids: _Grids,
    by_kind: dict[str, list[dict]],
    market_area: shapely.Geometry,
    hospital_area: shapely.Geometry,
    neglected: np.ndarray,
    track_days: int,
    n_incidents: int,
    n_fixes: int,
) -> dict:
    tree = shapely.STRtree(grids.micro)

    def micro_codes(area: shapely.Geometry) -> list[str]:
        idx = tree.query(area, predicate="intersects")
        overlap = shapely.area(shapely.intersection(grids.micro[idx], area))
        return sorted(grids.micro_code[i] for i in idx[overlap > 100.0])

    def lonlat(xy: np.ndarray) -> list[float]:
        lon, lat = _TO_LONLAT.transform(float(xy[0]), float(xy[1]))
        return [round(lon, 7), round(lat, 7)]

    def wkt(area: shapely.Geometry) -> str:
        return shapely.to_wkt(_to_lonlat(np.array([area], dtype=object))[0], rounding_precision=7)

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
        "metric_epsg": int(_METRIC),
        "period": {"start": _iso(DEMO_START), "end": _iso(DEMO_END)},
        "hotspots": hotspots,
        "operations": operations,
        "neglected_micro_codes": [grids.micro_code[i] for i in neglected],
        "track_period": {"start": _iso(track_start), "end": _iso(DEMO_END)},
        "counts": {"incidents": int(n_incidents), "fixes": int(n_fixes)},
    }
