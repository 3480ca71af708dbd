"""The demo's street network: main roads, a perturbed lattice and alleys, noded and named."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gis.demo import names
from gis.demo.district import GRID_SIZE_M


@dataclass
class StreetNetwork:
    """The noded street pieces (metric) with their kind, name and the graph of their end nodes."""

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


def build_streets(
    rng: np.random.Generator, district: shapely.Geometry, center: np.ndarray
) -> tuple[StreetNetwork, float]:
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
    streets = StreetNetwork(
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


class StreetSampler:
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
