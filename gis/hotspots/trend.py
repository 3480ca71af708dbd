"""The Mann-Kendall trend test, vectorised over series, ties corrected."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special


@dataclass(frozen=True)
class MannKendallResult:
    """Mann-Kendall trend test per series: ``s``, ``var_s``, ``z``, two-sided ``p``, ``tau``."""

    s: np.ndarray
    var_s: np.ndarray
    z: np.ndarray
    p: np.ndarray
    tau: np.ndarray


def mann_kendall(x: np.ndarray, *, continuity: bool = True) -> MannKendallResult:
    """Mann-Kendall trend test of each row of ``x`` against time, with the ties correction.

    ``S = sum_{i<j} sign(x_j - x_i)``; ``Var S = (n(n-1)(2n+5) - sum_g t_g(t_g-1)(2t_g+5))
    / 18`` over the groups g of tied values (sizes t_g); ``z = (S - sign S) / sqrt(Var S)``
    (continuity correction; ``continuity=False`` gives ``S / sqrt(Var S)``, the asymptotic
    z of ``scipy.stats.kendalltau(range(n), x)``); p two-sided normal; ``tau = S / (n(n-1)/2)``
    (Kendall's tau-a). Vectorised over rows (a loop over the n - 1 lags).

    Parameters
    ----------
    x
        (m, n) series, one per row (or one series of length n).
    """
    x = np.atleast_2d(np.asarray(x, dtype=float))
    m, n = x.shape
    s = np.zeros(m)
    for k in range(1, n):
        s += np.sign(x[:, k:] - x[:, :-k]).sum(axis=1)
    # ties: runs of equal values in each sorted row
    xs = np.sort(x, axis=1)
    start = np.ones((m, n), dtype=bool)
    start[:, 1:] = xs[:, 1:] != xs[:, :-1]
    gid = np.cumsum(start.ravel()) - 1
    sizes = np.bincount(gid).astype(float)
    g_row = np.flatnonzero(start.ravel()) // n
    ties = np.bincount(g_row, weights=sizes * (sizes - 1) * (2 * sizes + 5), minlength=m)
    var_s = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    num = s - np.sign(s) if continuity else s
    z = np.divide(num, np.sqrt(var_s), out=np.zeros(m), where=var_s > 0)
    p = 2.0 * special.ndtr(-np.abs(z))
    tau = s / (n * (n - 1) / 2.0) if n > 1 else np.zeros(m)
    return MannKendallResult(s, var_s, z, p, tau)
