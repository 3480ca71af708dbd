"""Suggested route: a patrol through the most valuable gap units within a time budget,
along the streets (scipy shortest paths) or in straight lines."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from gis.core.errors import InputError
from gis.core.geometry import to_lonlat_geoms, to_metric_xy
from gis.grids import descendants
from gis.patrol.streets import metric_streets


@dataclass
class Route:
    """A suggested patrol: ordered ``stops`` (``order, unit_id, score, arrive_s, depart_s, lon,
    lat``), the ``line`` (LineString, EPSG:4326), totals and the distance ``mode`` used
    (``"network"``: shortest paths on the streets; ``"straight"``: straight lines)."""

    stops: pd.DataFrame
    line: shapely.LineString | None
    total_s: float
    travel_m: float
    mode: str
    skipped: pd.DataFrame


class _Network:
    """Street graph (metric) with shortest paths by scipy.sparse.csgraph (networkx is not a
    dependency; the paths are the same)."""

    def __init__(self, lines: np.ndarray) -> None:
        lines = lines[~(shapely.is_missing(lines) | shapely.is_empty(lines))]
        start = shapely.get_coordinates(shapely.get_point(lines, 0))
        end = shapely.get_coordinates(shapely.get_point(lines, -1))
        ends = np.round(np.vstack([start, end]), 1)
        nodes, inv = np.unique(ends, axis=0, return_inverse=True)
        inv = inv.ravel()
        u, v = inv[: len(lines)], inv[len(lines) :]
        w = np.maximum(shapely.length(lines), 1e-6)
        self.nodes = nodes
        self.lines = lines
        n = len(nodes)
        best: dict[tuple[int, int], int] = {}  # the shortest piece per node pair, no loops
        for k, (a, b) in enumerate(zip(u.tolist(), v.tolist(), strict=True)):
            if a == b:
                continue
            key = (min(a, b), max(a, b))
            if key not in best or w[k] < w[best[key]]:
                best[key] = k
        ks = np.array(sorted(best.values()), dtype=np.int64)
        uu, vv, ww = u[ks], v[ks], w[ks]
        self.graph = coo_matrix(
            (np.concatenate([ww, ww]), (np.concatenate([uu, vv]), np.concatenate([vv, uu]))),
            shape=(n, n),
        ).tocsr()
        self.edge = {}
        for k in ks.tolist():
            coords = shapely.get_coordinates(lines[k])
            self.edge[(int(u[k]), int(v[k]))] = coords
            self.edge[(int(v[k]), int(u[k]))] = coords[::-1]
        self.tree = shapely.STRtree(shapely.points(nodes))

    def snap(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = self.tree.nearest(shapely.points(xy))
        return idx, np.hypot(*(self.nodes[idx] - xy).T)

    def distances(self, node: np.ndarray):
        dist, pred = dijkstra(self.graph, directed=False, indices=node, return_predecessors=True)
        return dist[:, node], pred

    def path(self, pred_row: np.ndarray, a: int, b: int) -> np.ndarray:
        chain = [b]
        while chain[-1] != a and chain[-1] >= 0:
            chain.append(int(pred_row[chain[-1]]))
        chain.reverse()
        pieces = [self.nodes[a][None, :]]
        for p, q in zip(chain[:-1], chain[1:], strict=True):
            pieces.append(self.edge.get((p, q), self.nodes[[p, q]])[1:])
        return np.vstack(pieces)


def _stop_points(stops: pd.DataFrame) -> np.ndarray:
    if isinstance(stops, gpd.GeoDataFrame):
        geo = stops.to_crs(4326) if stops.crs is not None and stops.crs.to_epsg() != 4326 else stops
        g = geo.geometry.to_numpy()
        pts = np.where(shapely.get_type_id(g) == 0, g, shapely.point_on_surface(g))
        return shapely.get_coordinates(pts)
    return stops[["lon", "lat"]].to_numpy(dtype=float)


def suggest_route(
    start_xy: tuple[float, float],
    stops: pd.DataFrame,
    *,
    budget_s: float,
    speed_mps: float = 1.2,
    dwell_s: float = 600.0,
    streets: gpd.GeoDataFrame | None = None,
    return_to_start: bool = False,
) -> Route:
    """A patrol route through the most valuable gap units within a time budget.

    Greedy insertion by ``score / added time`` (travel at ``speed_mps`` plus ``dwell_s`` per
    stop) while the total fits ``budget_s``, then 2-opt on the order, then more insertions with
    the time saved (repeated until nothing changes). Distances are shortest paths on
    ``streets`` (``scipy.sparse.csgraph.dijkstra`` on the noded street pieces, plus the
    straight hop from a stop to its nearest street node) when given, else straight lines.

    Parameters
    ----------
    start_xy
        (lon, lat) where the staff member starts (EPSG:4326).
    stops
        Candidates: ``unit_id, score`` and point/polygon geometry (a polygon's point on
        surface), or ``lon, lat`` columns.
    return_to_start
        Close the tour at the start (the return counts in the budget).

    Returns
    -------
    Route
    """
    pts = _stop_points(stops)
    score = stops["score"].to_numpy(dtype=float) if "score" in stops else np.ones(len(pts))
    ids = stops["unit_id"].to_numpy(dtype=object) if "unit_id" in stops else np.arange(len(pts))
    allxy = np.vstack([np.asarray(start_xy, dtype=float)[None, :], pts])
    mx, my, crs = to_metric_xy(allxy[:, 0], allxy[:, 1])
    mxy = np.column_stack([mx, my])
    n = len(mxy)
    mode = "straight"
    dist = np.hypot(mxy[:, None, 0] - mxy[None, :, 0], mxy[:, None, 1] - mxy[None, :, 1])
    net = None
    if streets is not None and len(streets):
        _, lines, _ = metric_streets(streets, crs)
        net = _Network(lines)
        node, hop = net.snap(mxy)
        d_net, pred = net.distances(node)
        dn = hop[:, None] + d_net + hop[None, :]
        np.fill_diagonal(dn, 0.0)
        if np.isfinite(dn).all():
            dist, mode = dn, "network"
        else:  # a stop off the connected network: straight lines for the pairs without a path
            dist = np.where(np.isfinite(dn), dn, dist * 1.5)
            np.fill_diagonal(dist, 0.0)
            mode = "network"
    travel = dist / speed_mps

    def route_time(route: list[int]) -> float:
        legs = sum(travel[a, b] for a, b in zip(route[:-1], route[1:], strict=True))
        if return_to_start and len(route) > 1:
            legs += travel[route[-1], 0]
        return legs + dwell_s * (len(route) - 1)

    def two_opt(route: list[int]) -> list[int]:
        improved = True
        while improved and len(route) > 3:
            improved = False
            for i in range(1, len(route) - 1):
                for j in range(i + 1, len(route)):
                    cand = route[:i] + route[i : j + 1][::-1] + route[j + 1 :]
                    if route_time(cand) < route_time(route) - 1e-9:
                        route, improved = cand, True
        return route

    route = [0]
    left = set(range(1, n))
    while True:
        while left:  # greedy insertion by score per added second
            base = route_time(route)
            best, best_ratio = None, -1.0
            for c in sorted(left):
                for pos in range(1, len(route) + 1):
                    cand = route[:pos] + [c] + route[pos:]
                    t_new = route_time(cand)
                    if t_new > budget_s:
                        continue
                    ratio = score[c - 1] / max(t_new - base, 1e-9)
                    if ratio > best_ratio:
                        best, best_ratio = cand, ratio
            if best is None:
                break
            left -= set(best) - set(route)
            route = best
        shorter = two_opt(route)
        if shorter == route or not left:
            route = shorter
            break
        route = shorter  # time saved: try to insert more

    # timetable and line
    arrive, depart, clock = [], [], 0.0
    for a, b in zip(route[:-1], route[1:], strict=True):
        clock += travel[a, b]
        arrive.append(clock)
        clock += dwell_s
        depart.append(clock)
    legs = list(zip(route[:-1], route[1:], strict=True))
    if return_to_start and len(route) > 1:
        legs.append((route[-1], 0))
        clock += travel[route[-1], 0]
    coords = [mxy[0][None, :]]
    for a, b in legs:
        if mode == "network" and net is not None and np.isfinite(d_net[a, b]):
            path = net.path(pred[a], int(node[a]), int(node[b]))
            coords += [path, mxy[b][None, :]]
        else:
            coords.append(mxy[b][None, :])
    line = None
    if len(legs):
        xy = np.vstack(coords)
        keep = np.concatenate([[True], np.any(np.diff(xy, axis=0) != 0, axis=1)])
        if keep.sum() >= 2:
            line = to_lonlat_geoms([shapely.LineString(xy[keep])], crs)[0]
    chosen = np.array(route[1:], dtype=np.int64)
    table = pd.DataFrame(
        {
            "order": np.arange(1, len(chosen) + 1),
            "unit_id": ids[chosen - 1] if len(chosen) else np.array([], object),
            "score": score[chosen - 1] if len(chosen) else np.array([], float),
            "arrive_s": arrive,
            "depart_s": depart,
            "lon": allxy[chosen, 0],
            "lat": allxy[chosen, 1],
        }
    )
    rest = np.array(sorted(left), dtype=np.int64)
    skipped = pd.DataFrame(
        {
            "unit_id": ids[rest - 1] if len(rest) else np.array([], object),
            "score": score[rest - 1] if len(rest) else np.array([], float),
        }
    )
    travel_m = float(sum(dist[a, b] for a, b in legs))
    return Route(table, line, float(clock), travel_m, mode, skipped)


def route_for_staff(
    ranked: pd.DataFrame,
    staff_code: str,
    staff: pd.DataFrame,
    grids: gpd.GeoDataFrame,
    *,
    budget_s: float = 5400.0,
    streets: gpd.GeoDataFrame | None = None,
    max_stops: int = 12,
    dwell_s: float = 600.0,
    speed_mps: float = 1.2,
    start_xy: tuple[float, float] | None = None,
) -> Route:
    """A suggested route for one staff member through the top gaps of their micro-grids.

    Candidates are the member's responsible micro-grids (``grid_code`` and below) with a
    positive ``gap_score`` in ``ranked`` (``coverage_gaps(...).ranked`` over micro-grids), the
    ``max_stops`` highest; each stop is the grid's point on surface. The route starts at
    ``start_xy`` (default: the point on surface of the member's own grid) and is planned by
    ``suggest_route`` (street network when ``streets`` is given) within ``budget_s``.
    """
    row = staff.loc[staff["staff_code"] == staff_code]
    if row.empty:
        raise InputError(f"unknown staff member {staff_code!r}")
    code = row["grid_code"].iloc[0]
    if code is None or pd.isna(code):
        raise InputError(f"staff member {staff_code!r} has no grid")
    micro = grids[grids["level"] == "micro"] if "level" in grids else grids
    mine = descendants(str(code), grids) & set(micro["code"].astype(str))
    cand = ranked[ranked["unit_id"].astype(str).isin(mine) & (ranked["gap_score"] > 0)]
    cand = cand.sort_values(["gap_score", "unit_id"], ascending=[False, True]).head(max_stops)
    geo = micro.set_index(micro["code"].astype(str)).geometry
    stops = gpd.GeoDataFrame(
        {"unit_id": cand["unit_id"].astype(str).to_numpy(), "score": cand["gap_score"].to_numpy()},
        geometry=geo.reindex(cand["unit_id"].astype(str)).to_numpy(),
        crs=4326,
    )
    if start_xy is None:
        home = grids.loc[grids["code"].astype(str) == str(code)].geometry
        pt = shapely.point_on_surface(home.iloc[0]) if len(home) else None
        if pt is None:
            raise InputError(f"grid {code} of {staff_code} is not in the grid layer")
        start_xy = (pt.x, pt.y)
    return suggest_route(
        start_xy, stops, budget_s=budget_s, speed_mps=speed_mps, dwell_s=dwell_s, streets=streets
    )
