"""Getis-Ord Gi* (analytic z, two-sided p) and the False Discovery Rate confidence bins.

``gi_star(y, W)`` is a function of a value vector and a sparse matrix only, so a space-time
neighbourhood matrix works unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from gis.core.errors import InputError
from gis.hotspots.weights import drop_diagonal

#: Confidence levels of the Gi* bins: bin 1, 2, 3 = 90, 95, 99 % (alpha 0.10, 0.05, 0.01).
GI_ALPHAS = (0.10, 0.05, 0.01)


def fdr_cutoffs(p: np.ndarray, alphas) -> list[float]:
    """Benjamini-Hochberg p-value cut-offs, one per false discovery rate in ``alphas``.

    For each alpha the largest k with ``p_(k) <= k / n * alpha`` sets the cut-off ``p_(k)``
    (all p <= it pass); -1 when nothing passes. One sort serves every alpha.
    """
    p = np.asarray(p, dtype=float)
    n = len(p)
    ps = np.sort(np.where(np.isnan(p), np.inf, p))
    ranks = np.arange(1, n + 1) / max(n, 1)
    out = []
    for alpha in alphas:
        ok = np.flatnonzero(ps <= alpha * ranks)
        out.append(float(ps[ok[-1]]) if len(ok) else -1.0)
    return out


def fdr_mask(p: np.ndarray, alpha: float) -> np.ndarray:
    """Benjamini-Hochberg: which p-values are significant at false discovery rate ``alpha``.

    The largest k with ``p_(k) <= k / n * alpha`` sets the cut-off; all p <= p_(k) pass
    (the same cells as ``p <= esda.fdr(p, alpha)``).
    """
    p = np.asarray(p, dtype=float)
    return np.nan_to_num(p, nan=np.inf) <= fdr_cutoffs(p, [alpha])[0]


def confidence_bins(z: np.ndarray, p: np.ndarray, *, fdr: bool = True) -> np.ndarray:
    """ArcGIS's Gi_Bin: ±3 / ±2 / ±1 at 99 / 95 / 90 % confidence (sign of z), 0 otherwise.

    With ``fdr`` the levels are the Benjamini-Hochberg corrected ones (applied to the bins
    only: z and p stay as computed).
    """
    z, p = np.asarray(z, dtype=float), np.asarray(p, dtype=float)
    pn = np.nan_to_num(p, nan=np.inf)
    cuts = fdr_cutoffs(p, GI_ALPHAS) if fdr else list(GI_ALPHAS)
    level = np.zeros(len(p), dtype=np.int64)
    for k, cut in enumerate(cuts, start=1):
        level[pn <= cut] = k
    return (np.sign(np.nan_to_num(z)) * level).astype(np.int64)


@dataclass(frozen=True)
class GiStarResult:
    """Gi* per unit: ``z``, two-sided ``p``, FDR ``bins`` and ``n_neighbors`` (self excluded)."""

    z: np.ndarray
    p: np.ndarray
    bins: np.ndarray
    n_neighbors: np.ndarray
    fdr: bool = True

    def to_frame(self) -> pd.DataFrame:
        """Columns ``gi_z, gi_p, gi_bin, n_neighbors``."""
        return pd.DataFrame(
            {"gi_z": self.z, "gi_p": self.p, "gi_bin": self.bins, "n_neighbors": self.n_neighbors}
        )


def gi_star(y: np.ndarray, W, *, fdr: bool = True) -> GiStarResult:
    """Getis-Ord Gi* with analytic z-scores (ArcGIS's Hot Spot Analysis; Ord & Getis 1995).

    ``z_i = (sum_j w_ij y_j - ybar W_i) / (S sqrt((n S1_i - W_i²) / (n - 1)))`` with the unit
    itself among its neighbours (w_ii = 1), ``W_i = sum_j w_ij``, ``S1_i = sum_j w_ij²``,
    ybar and S the mean and (population) standard deviation of y over all n units. For
    binary weights this is ``esda.G_Local(y, w, star=True, transform="B").Zs``.

    Parameters
    ----------
    y
        Value per unit (counts, densities).
    W
        (n, n) sparse weights, binary without the diagonal (any diagonal is replaced by 1).
        Any neighbourhood works, e.g. a space-time one for emerging hot spots.
    fdr
        Apply the False Discovery Rate correction to the bins (default, as ArcGIS).

    Returns
    -------
    GiStarResult
        z, two-sided p (normal), bins ±3/±2/±1/0 and the neighbour count (self excluded).
        When y does not vary, z = 0 and p = 1 everywhere.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    W = drop_diagonal(W)
    if W.shape[0] != n:
        raise InputError(f"weights are {W.shape[0]}x{W.shape[0]} but there are {n} values")
    n_nb = np.diff(W.indptr)
    # the self weight 1 is added arithmetically: sum_j w_ij y_j + y_i, W_i + 1, S1_i + 1
    wi = W @ np.ones(n) + 1.0
    if W.nnz and (W.data == 1.0).all():
        s1 = wi
    else:
        s1 = W.multiply(W) @ np.ones(n) + 1.0
    ybar = y.mean()
    s = math.sqrt(max((y * y).mean() - ybar * ybar, 0.0))
    if not s > 0 or n < 2:
        z = np.zeros(n)
    else:
        num = W @ y + y - ybar * wi
        den = s * np.sqrt(np.maximum(n * s1 - wi * wi, 0.0) / (n - 1))
        z = np.divide(num, den, out=np.zeros(n), where=den > 0)
    p = 2.0 * special.ndtr(-np.abs(z))  # two-sided, normal
    return GiStarResult(z, p, confidence_bins(z, p, fdr=fdr), n_nb.astype(np.int64), fdr)
