"""Emerging hot spots (ArcGIS's Emerging Hot Spot Analysis): Gi* per bin of a space-time cube
with time-lagged neighbours, the Mann-Kendall trend of each unit and its pattern.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import special

from gis.core.errors import InputError
from gis.hotspots.cube import SpaceTimeCube
from gis.hotspots.gistar import confidence_bins, gi_star
from gis.hotspots.patterns import classify_emerging
from gis.hotspots.trend import mann_kendall
from gis.hotspots.weights import drop_diagonal


def space_time_weights(W, n_steps: int, time_lag: int = 1) -> sp.csr_matrix:
    """Space-time neighbours of ArcGIS's Emerging Hot Spot Analysis, as one sparse matrix.

    Bin (unit i, step t) -- row ``t * n_units + i`` (time-major) -- has as neighbours the
    bins of i's spatial neighbours at step t, and of i and its spatial neighbours at the
    ``time_lag`` previous steps: ``kron(L, W + I) - I`` with L the (n_steps, n_steps)
    lower band ``L[t, t'] = 1 for t - time_lag <= t' <= t``. Not symmetric (the
    neighbourhood looks back in time only).

    Parameters
    ----------
    W
        (n_units, n_units) binary spatial weights (diagonal ignored).
    n_steps
        Number of time steps.
    time_lag
        Previous steps in the neighbourhood (ArcGIS's "Neighborhood Time Step"; 0 = none).
    """
    if time_lag < 0:
        raise InputError(f"time_lag must be >= 0, got {time_lag}")
    S = drop_diagonal(W)
    S1 = (S + sp.identity(S.shape[0], format="csr")).tocsr()
    L = sp.diags(
        [np.ones(n_steps - k) for k in range(min(time_lag, n_steps - 1) + 1)],
        [-k for k in range(min(time_lag, n_steps - 1) + 1)],
        shape=(n_steps, n_steps),
        format="csr",
    )
    return drop_diagonal(sp.kron(L, S1, format="csr"))


@dataclass(frozen=True)
class SpaceTimeGi:
    """Gi* of every bin of a cube: (n_units, n_steps) ``z``, ``p``, ``bins``, ``n_neighbors``."""

    z: np.ndarray
    p: np.ndarray
    bins: np.ndarray
    n_neighbors: np.ndarray
    time_lag: int
    fdr: bool


def space_time_gi_star(
    cube: SpaceTimeCube,
    W,
    *,
    time_lag: int = 1,
    fdr: bool = True,
    global_window: Literal["cube", "neighborhood"] = "cube",
) -> SpaceTimeGi:
    """Getis-Ord Gi* per bin with space-time neighbours (``space_time_weights``).

    Parameters
    ----------
    cube, W, time_lag
        The cube, the units' spatial weights and the previous steps in the neighbourhood.
    fdr
        False Discovery Rate correction of the bins, over all bins of the cube.
    global_window
        What each bin is compared with (ArcGIS's "Define Global Window"): ``"cube"`` (default:
        the mean and standard deviation of all bins -- ``gi_star`` on the space-time weights)
        or ``"neighborhood"`` (those of the bins of all units in the steps ``t - time_lag ..
        t``, n = n_units x the steps in that window), which compares each step with its own
        time and so takes out district-wide seasonality.
    """
    Wst = space_time_weights(W, cube.n_steps, time_lag)
    y = cube.counts.T.ravel().astype(float)  # time-major, as the weights
    shape = (cube.n_steps, cube.n_units)
    if global_window == "cube":
        res = gi_star(y, Wst, fdr=fdr)
        z, p, bins, n_nb = res.z, res.p, res.bins, res.n_neighbors
    elif global_window == "neighborhood":
        nu, nt = cube.n_units, cube.n_steps
        slice_sum = cube.counts.sum(axis=0).astype(float)
        slice_sq = (cube.counts.astype(float) ** 2).sum(axis=0)
        c1 = np.concatenate([[0.0], np.cumsum(slice_sum)])
        c2 = np.concatenate([[0.0], np.cumsum(slice_sq)])
        t = np.arange(nt)
        lo = np.maximum(0, t - time_lag)
        n_win = (t - lo + 1) * nu
        mean = (c1[t + 1] - c1[lo]) / n_win
        sd = np.sqrt(np.maximum((c2[t + 1] - c2[lo]) / n_win - mean * mean, 0.0))
        Wd = drop_diagonal(Wst)
        n_nb = np.diff(Wd.indptr).astype(np.int64)
        wi = Wd @ np.ones(len(y)) + 1.0  # binary: S1_i = W_i
        mean_b, sd_b, n_b = (np.repeat(a, nu) for a in (mean, sd, n_win))
        num = Wd @ y + y - mean_b * wi
        den = sd_b * np.sqrt(np.maximum(n_b * wi - wi * wi, 0.0) / np.maximum(n_b - 1, 1))
        z = np.divide(num, den, out=np.zeros(len(y)), where=den > 0)
        p = 2.0 * special.ndtr(-np.abs(z))
        bins = confidence_bins(z, p, fdr=fdr)
    else:
        raise InputError(f"global_window must be 'cube' or 'neighborhood', got {global_window!r}")
    return SpaceTimeGi(
        z.reshape(shape).T.copy(),
        p.reshape(shape).T.copy(),
        bins.reshape(shape).T.copy(),
        n_nb.reshape(shape).T.copy(),
        int(time_lag),
        fdr,
    )


def emerging_hotspots(
    cube: SpaceTimeCube,
    W,
    *,
    time_lag: int = 1,
    fdr: bool = True,
    confidence: float = 0.90,
    trend_alpha: float = 0.05,
    global_window: Literal["cube", "neighborhood"] = "cube",
    skip_edge: bool = True,
) -> pd.DataFrame:
    """Emerging hot spots (ArcGIS's Emerging Hot Spot Analysis) of a space-time cube.

    1. Gi* of every bin with space-time neighbours: the unit's spatial neighbours at the same
       step, and the unit and its neighbours at the ``time_lag`` previous steps
       (``space_time_weights``), against the mean and spread of the whole cube, bins with the
       FDR correction over all bins (``space_time_gi_star``).
    2. Mann-Kendall trend (ties corrected) of each unit's series of Gi* z-scores -- the
       "intensity of clustering" ArcGIS tests -- and, for information, of its counts.
    3. The 17 patterns (``classify_emerging``), a bin significant at ``confidence``.

    Parameters
    ----------
    cube
        From ``space_time_cube``.
    W
        (n_units, n_units) binary spatial weights of the cube's units (``unit_weights``:
        queen contiguity, H3 ring, distance band).
    time_lag
        Previous time steps in the neighbourhood (ArcGIS's "Neighborhood Time Step", default 1).
    fdr
        False Discovery Rate correction of the bins (default, as ArcGIS).
    confidence
        0.90, 0.95 or 0.99: a bin is a significant hot (cold) spot at this confidence.
    trend_alpha
        Significance level of the Mann-Kendall trend that makes a location intensifying or
        diminishing.
    global_window
        ``"cube"`` (default, as ArcGIS) or ``"neighborhood"``; see ``space_time_gi_star``.
    skip_edge
        Leave the first ``time_lag`` steps out of the trend and the pattern (default). Their
        neighbourhoods are cut off by the start of the cube (no earlier steps), so the same
        local intensity gives them a smaller z: kept, they bias every hot spot's trend
        upwards (and every cold spot's downwards). They still serve as the time neighbours
        of the next steps. ``False`` classifies all steps, as ArcGIS does.

    Returns
    -------
    pandas.DataFrame (a GeoDataFrame with the units' geometry when the cube holds units)
        One row per unit: ``unit_id, pattern, trend_z, trend_p`` (Mann-Kendall of the Gi*
        z-scores: what the pattern uses), ``count_trend_z, count_trend_p`` (Mann-Kendall of
        the counts), ``n_hot_steps, n_cold_steps`` (significant at ``confidence``),
        ``last_bin`` and ``last_z`` (Gi* bin and z of the final step), ``total`` (incidents).
        ``attrs``: ``step``, ``n_steps``, ``time_lag``, ``fdr``, ``confidence``,
        ``trend_alpha``, ``start``, ``end`` (ISO strings).
    """
    levels = {0.90: 1, 0.95: 2, 0.99: 3}
    if round(confidence, 2) not in levels:
        raise InputError(f"confidence must be 0.90, 0.95 or 0.99, got {confidence}")
    min_bin = levels[round(confidence, 2)]
    if cube.n_steps < 2:
        raise InputError("emerging hot spots need at least two time steps")
    first = int(time_lag) if skip_edge else 0
    if cube.n_steps - first < 2:
        raise InputError(
            f"{cube.n_steps} steps leave fewer than two to classify after the first "
            f"{first} (time_lag); use more steps or skip_edge=False"
        )
    gi = space_time_gi_star(cube, W, time_lag=time_lag, fdr=fdr, global_window=global_window)
    bins, zs = gi.bins[:, first:], gi.z[:, first:]
    trend = mann_kendall(zs)
    count_trend = mann_kendall(cube.counts[:, first:])
    pattern = classify_emerging(bins, trend.z, trend.p, min_bin=min_bin, trend_alpha=trend_alpha)
    out = pd.DataFrame(
        {
            "unit_id": cube.unit_ids,
            "pattern": pattern,
            "trend_z": trend.z,
            "trend_p": trend.p,
            "count_trend_z": count_trend.z,
            "count_trend_p": count_trend.p,
            "n_hot_steps": (bins >= min_bin).sum(axis=1),
            "n_cold_steps": (bins <= -min_bin).sum(axis=1),
            "last_bin": gi.bins[:, -1],
            "last_z": gi.z[:, -1],
            "total": cube.counts.sum(axis=1),
        }
    )
    if cube.units is not None and "geometry" in cube.units.columns:
        out = gpd.GeoDataFrame(out, geometry=cube.units.geometry.to_numpy(), crs=cube.units.crs)
    out.attrs.update(
        step=cube.step,
        n_steps=cube.n_steps,
        n_steps_classified=cube.n_steps - first,
        time_lag=int(time_lag),
        fdr=bool(fdr),
        global_window=global_window,
        confidence=float(confidence),
        trend_alpha=float(trend_alpha),
        start=cube.edges[0].isoformat(),
        end=cube.edges[-1].isoformat(),
    )
    return out
