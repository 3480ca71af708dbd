"""Duplicates and repeat locations: reports linked in space and time.

``link_duplicates`` and ``flag_repeat_locations`` are pure array functions (metric
coordinates); ``detect_links`` runs both over an import's new rows plus the stored ones near them.
"""

from __future__ import annotations

from collections.abc import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from gis.core.geometry import to_metric_xy
from gis.incidents.locate import District

#: Default windows of duplicate links and repeat locations.
DUPLICATE_WINDOW = pd.Timedelta(hours=24)
REPEAT_WINDOW = pd.Timedelta(days=30)
#: pairs ``link_duplicates`` collects (by default) before reducing them to a spanning forest
PAIRS_HELD = 2_000_000
#: reports per time slab of the pair search (by default)
SLAB = 20_000


def _trailing_pairs(
    x_m: np.ndarray,
    y_m: np.ndarray,
    t_s: np.ndarray,
    group: np.ndarray,
    radius_m: float,
    window_s: float,
    slab: int = SLAB,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Pairs (i, j), j before i in time order, same group, within ``radius_m`` and ``window_s``.

    Positions refer to the arrays as given. Works in time slabs with a k-d tree over
    (x, y, scaled time) and a Chebyshev box query, then keeps the exact disc; memory stays
    bounded by the slab and its window.
    """
    n = len(x_m)
    if n < 2:
        return
    order = np.lexsort((np.arange(n), t_s))
    xs, ys, ts, gs = x_m[order], y_m[order], t_s[order], group[order]
    scale = radius_m / window_s if window_s > 0 else 0.0
    t0 = ts[0]
    pts = np.column_stack([xs + gs * 1e8, ys, (ts - t0) * scale])
    eps = 1e-9 * max(radius_m, 1.0)
    for a in range(0, n, slab):
        b = min(a + slab, n)
        c = int(np.searchsorted(ts, ts[a] - window_s, side="left"))
        here = cKDTree(pts[a:b])
        ctx = cKDTree(pts[c:b])
        sdm = here.sparse_distance_matrix(ctx, radius_m + eps, p=np.inf, output_type="ndarray")
        if len(sdm) == 0:
            continue
        i = sdm["i"].astype(np.int64) + a
        j = sdm["j"].astype(np.int64) + c
        keep = (j < i) & (ts[i] - ts[j] <= window_s)
        i, j = i[keep], j[keep]
        d2 = (xs[i] - xs[j]) ** 2 + (ys[i] - ys[j]) ** 2
        keep = d2 <= radius_m**2 + eps
        yield order[i[keep]], order[j[keep]]


def _groups(category) -> np.ndarray:
    if category is None:
        return np.zeros(0, dtype=np.int64)
    return pd.factorize(pd.Series(category).astype("string").fillna(""))[0].astype(np.int64)


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes under the undirected edges (i, j)."""
    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _forest(n: int, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges with the components of (i, j): each linked node to its component's first node."""
    label = _components(n, i, j)
    _, first = np.unique(label, return_index=True)
    rep = first[label]
    linked = np.flatnonzero(rep != np.arange(n))
    return linked, rep[linked]


def link_duplicates(
    x_m: np.ndarray,
    y_m: np.ndarray,
    t: pd.Series | np.ndarray,
    category=None,
    *,
    radius_m: float = 50.0,
    window: pd.Timedelta = DUPLICATE_WINDOW,
    slab: int = SLAB,
    pairs_held: int = PAIRS_HELD,
) -> np.ndarray:
    """Probable duplicates: reports of the same category within ``radius_m`` and ``window``.

    Two reports are linked when they are at most ``radius_m`` metres apart (metric
    coordinates) and at most ``window`` apart in time; linked reports form chains (A-B, B-C),
    and each chain is resolved to one primary: its earliest report (ties: the earlier
    position). Vectorised: k-d tree pairs in time slabs of ``slab`` reports, then connected
    components; once more than ``max(n, pairs_held)`` pairs are held they are folded into a
    spanning forest (memory stays bounded; the result is the same).

    Returns
    -------
    numpy.ndarray of int
        Position of each report's primary (itself for primaries and lone reports).
    """
    n = len(x_m)
    t_s = pd.to_datetime(pd.Series(t)).to_numpy().astype("datetime64[ns]").astype(np.int64) / 1e9
    group = _groups(category) if category is not None else np.zeros(n, dtype=np.int64)
    ii, jj = [], []
    pending = 0
    found = False
    for i, j in _trailing_pairs(
        np.asarray(x_m, float),
        np.asarray(y_m, float),
        t_s,
        group,
        radius_m,
        window.total_seconds(),
        slab=slab,
    ):
        ii.append(i)
        jj.append(j)
        pending += len(i)
        found = found or len(i) > 0
        if pending > max(n, pairs_held):
            # keep memory bounded: the pairs so far become a spanning forest (at most n edges)
            i, j = _forest(n, np.concatenate(ii), np.concatenate(jj))
            ii, jj, pending = [i], [j], len(i)
    primary = np.arange(n)
    if not found:
        return primary
    label = _components(n, np.concatenate(ii), np.concatenate(jj))
    del ii, jj
    order = np.lexsort((np.arange(n), t_s, label))  # by component, then time, then position
    first = np.ones(n, dtype=bool)
    first[1:] = label[order][1:] != label[order][:-1]
    head = order[first]  # earliest report of each component
    head_of_label = np.empty(label.max() + 1, dtype=np.int64)
    head_of_label[label[head]] = head
    return head_of_label[label]


def flag_repeat_locations(
    x_m: np.ndarray,
    y_m: np.ndarray,
    t: pd.Series | np.ndarray,
    category=None,
    *,
    radius_m: float = 50.0,
    window: pd.Timedelta = REPEAT_WINDOW,
    min_reports: int = 3,
) -> np.ndarray:
    """Reports at repeat locations: places with ``min_reports``+ reports within ``window``.

    A *place* is a square cell of ``radius_m`` metres (default 50 m) of a grid anchored at the
    origin of the metric CRS, so reports at one place are at most ``radius_m * sqrt(2)`` apart
    (two reports 10 m apart across a cell edge are two places: the price of an O(n log n)
    count that stays fast on a million dense reports). A report R completes a repeat location
    when its place holds at least ``min_reports`` reports (R included; of the same category
    when ``category`` is given) in the ``window`` ending at R's time; R and those reports are
    all flagged, so the first two of 3-in-30-days are flagged as soon as the third arrives.

    Returns
    -------
    numpy.ndarray of bool
    """
    n = len(x_m)
    if n == 0:
        return np.zeros(0, dtype=bool)
    # whole seconds keep the combined (place, time) key below 2**63 for any realistic span
    t_ns = pd.to_datetime(pd.Series(t)).to_numpy().astype("datetime64[s]").astype(np.int64)
    w = int(window.total_seconds())
    cx = np.floor(np.asarray(x_m, float) / radius_m).astype(np.int64)
    cy = np.floor(np.asarray(y_m, float) / radius_m).astype(np.int64)
    group = _groups(category) if category is not None else np.zeros(n, dtype=np.int64)
    place = pd.MultiIndex.from_arrays([group, cx, cy]).factorize()[0].astype(np.int64)
    order = np.lexsort((np.arange(n), t_ns, place))
    p, ts = place[order], t_ns[order]
    # one sorted key: place first, then time (times shifted to be non-negative)
    span = int(ts.max() - ts.min()) + 2 * w + 2
    key = p * span + (ts - ts.min() + w)
    # reports of the same place in [t - window, t]: R's position minus the first one's
    first = np.searchsorted(key, key - w, side="left")
    count = np.arange(n) - first + 1
    anchor = count >= min_reports
    # a report is flagged when an anchor of its place lies in [t, t + window]
    anchor_pos = np.flatnonzero(anchor)
    if len(anchor_pos) == 0:
        return np.zeros(n, dtype=bool)
    nxt = np.searchsorted(anchor_pos, np.arange(n), side="left")
    has = nxt < len(anchor_pos)
    cand = anchor_pos[np.minimum(nxt, len(anchor_pos) - 1)]
    flagged_sorted = has & (key[cand] - key <= w) & (p[cand] == p)
    flagged = np.zeros(n, dtype=bool)
    flagged[order] = flagged_sorted | anchor
    return flagged


def detect_links(
    new: gpd.GeoDataFrame,
    existing: gpd.GeoDataFrame,
    metric: District | None,
    *,
    duplicate_radius_m: float = 50.0,
    duplicate_window: pd.Timedelta = DUPLICATE_WINDOW,
    repeat_radius_m: float = 50.0,
    repeat_window: pd.Timedelta = REPEAT_WINDOW,
    repeat_min_reports: int = 3,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Duplicates and repeat locations over new rows plus existing ones (existing first).

    Returns ``(new_links, changed_existing)``: ``duplicate_of`` (primary's external id or None)
    and ``is_repeat_location`` for the new rows, and the existing rows whose values changed
    (``id, duplicate_of, is_repeat_location``).
    """
    # ids and categories stay Arrow-backed strings (no million Python str objects)
    ext = pd.concat(
        [existing["external_id"].astype("string"), new["external_id"].astype("string")],
        ignore_index=True,
    )
    category = pd.concat(
        [existing["category_code"].astype("string"), new["category_code"].astype("string")],
        ignore_index=True,
    )
    occurred = pd.Series(
        np.concatenate(
            [
                pd.to_datetime(existing["occurred_at"]).to_numpy().astype("M8[ns]"),
                pd.to_datetime(new["occurred_at"]).to_numpy().astype("M8[ns]"),
            ]
        )
    )
    geoms = np.concatenate([existing.geometry.to_numpy(), new.geometry.to_numpy()])
    lon, lat = shapely.get_x(geoms), shapely.get_y(geoms)
    if metric is not None:
        x, y = metric.metric(lon, lat)
    else:
        x, y, _ = to_metric_xy(lon, lat)
    primary = link_duplicates(
        x,
        y,
        occurred,
        category,
        radius_m=duplicate_radius_m,
        window=duplicate_window,
    )
    repeat = flag_repeat_locations(
        x,
        y,
        occurred,
        category,
        radius_m=repeat_radius_m,
        window=repeat_window,
        min_reports=repeat_min_reports,
    )
    del x, y, lon, lat, geoms
    # the primary's external id, null for primaries and lone reports (a null index takes null)
    own = primary == np.arange(len(primary))
    dup_arr = pa.array(ext).take(pa.array(primary, mask=own))
    del ext
    k = len(existing)
    new_links = pd.DataFrame(
        {
            "duplicate_of": pd.array(dup_arr.slice(k), dtype=pd.StringDtype("pyarrow")),
            "is_repeat_location": repeat[k:],
        }
    )
    dup_old = dup_arr.slice(0, k).to_numpy(zero_copy_only=False).astype(object)
    old_dup = existing["duplicate_of"].to_numpy(dtype=object)
    # 0/1 floats with NaN on SpatiaLite, booleans on PostGIS: NaN/None read as "not flagged"
    old_rep = (
        pd.to_numeric(existing["is_repeat_location"], errors="coerce").fillna(0).to_numpy() != 0
    )
    changed = (
        pd.Series(old_dup, dtype=object).fillna("").to_numpy()
        != pd.Series(dup_old, dtype=object).fillna("").to_numpy()
    ) | (old_rep != repeat[:k])
    changed_existing = pd.DataFrame(
        {
            "id": existing["id"].to_numpy()[changed],
            # object, so a missing link stays None (not NaN) in the UPDATE
            "duplicate_of": pd.Series(dup_old[changed], dtype=object),
            "is_repeat_location": repeat[:k][changed],
        }
    )
    return new_links, changed_existing
