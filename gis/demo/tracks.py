"""The demo's patrol GPS tracks: twice-daily walks of every level-2 grid worker along the
streets of their beat, skipping the neglected micro-grids planted for the patrol analyses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from gis.demo.district import DEMO_END, DEMO_START, N_L2, N_MICRO, SEC_NS
from gis.demo.grids import MetricGrids
from gis.demo.streets import StreetNetwork


@dataclass
class _Beat:
    """One grid worker's patrol graph: nodes, all-pairs predecessors and edge polylines."""

    node_xy: np.ndarray
    pred: np.ndarray
    start: int
    edge_xy: dict[tuple[int, int], np.ndarray]


def _beat(streets: StreetNetwork, mask: np.ndarray, home: np.ndarray) -> _Beat | None:
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


def draw_tracks(
    rng: np.random.Generator,
    streets: StreetNetwork,
    grids: MetricGrids,
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
                t0 = date.value + start_s * SEC_NS
                f_t.append(t0 + times * SEC_NS)
                f_code.append(np.full(len(times), code, dtype=object))
                f_staff.append(np.full(len(times), workers[j], dtype=object))
                t_rows.append((code, workers[j], shift, t0, t0 + dur_s * SEC_NS))
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


def _blocked_edges(streets: StreetNetwork, grids: MetricGrids, neglected: np.ndarray) -> np.ndarray:
    """Street pieces within ``NEGLECT_CLEARANCE_M`` of any neglected micro-grid."""
    if len(neglected) == 0:
        return np.zeros(len(streets.geoms), dtype=bool)
    avoid = shapely.union_all(grids.micro[neglected])
    return shapely.dwithin(streets.geoms, avoid, NEGLECT_CLEARANCE_M)


def _beat_edges(
    streets: StreetNetwork, grids: MetricGrids, j: int, blocked: np.ndarray
) -> np.ndarray:
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


def choose_neglected(
    rng: np.random.Generator,
    streets: StreetNetwork,
    grids: MetricGrids,
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
