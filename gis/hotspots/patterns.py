"""ArcGIS's 17 emerging hot spot patterns from per-step Gi* bins and a trend."""

from __future__ import annotations

import numpy as np

#: ArcGIS's Emerging Hot Spot Analysis pattern names, in the order of its documentation.
PATTERNS = (
    "New Hot Spot",
    "Consecutive Hot Spot",
    "Intensifying Hot Spot",
    "Persistent Hot Spot",
    "Diminishing Hot Spot",
    "Sporadic Hot Spot",
    "Oscillating Hot Spot",
    "Historical Hot Spot",
    "New Cold Spot",
    "Consecutive Cold Spot",
    "Intensifying Cold Spot",
    "Persistent Cold Spot",
    "Diminishing Cold Spot",
    "Sporadic Cold Spot",
    "Oscillating Cold Spot",
    "Historical Cold Spot",
    "No Pattern Detected",
)
NO_PATTERN = "No Pattern Detected"
#: Share of the time steps that makes a location a persistent / intensifying / diminishing /
#: historical hot (cold) spot ("at least 90 percent of the time-step intervals").
EMERGING_SHARE = 0.9


def _trailing_run(flags: np.ndarray) -> np.ndarray:
    """Length of the run of True at the end of each row."""
    return np.cumprod(flags[:, ::-1], axis=1).sum(axis=1)


def classify_emerging(
    bins: np.ndarray,
    trend_z: np.ndarray,
    trend_p: np.ndarray,
    *,
    min_bin: int = 1,
    trend_alpha: float = 0.05,
) -> np.ndarray:
    """ArcGIS's 17 emerging hot spot patterns from per-bin Gi* bins and the z-score trend.

    Per location (row), with n steps, a bin "hot" when ``bins >= min_bin`` and "cold" when
    ``bins <= -min_bin``, H the number of hot steps, R the length of the final run of hot
    steps, and a trend significant when ``trend_p < trend_alpha``. The final step decides the
    side first; hot side (cold mirrored with hot <-> cold, up <-> down):

    - final step hot and ``H >= 90 %`` of the steps: **Intensifying Hot Spot** (significant
      upward trend), **Diminishing Hot Spot** (significant downward), else **Persistent Hot
      Spot**;
    - final step hot and ``H < 90 %``: **Oscillating Hot Spot** if it was ever a cold spot;
      otherwise **New Hot Spot** if it was never hot before (H = 1), **Consecutive Hot Spot**
      if the only hot steps are the final run of at least two (H = R >= 2), else **Sporadic
      Hot Spot** (on and off, hot before the final run, never cold);
    - final step neither hot nor cold: **Historical Hot Spot** if ``H >= 90 %`` (Historical
      Cold Spot likewise), else **No Pattern Detected**.

    The ArcGIS definitions leave one overlap open: a location cold in the past and hot only in
    the final step(s) matches both "New/Consecutive" and "Oscillating"; it is Oscillating here
    (the flip from cold to hot is what the analyst needs to see).

    Returns
    -------
    numpy.ndarray
        Pattern names (object), one per row.
    """
    bins = np.asarray(bins)
    m, n = bins.shape
    out = np.full(m, NO_PATTERN, dtype=object)
    sig = np.asarray(trend_p) < trend_alpha
    up, down = sig & (np.asarray(trend_z) > 0), sig & (np.asarray(trend_z) < 0)
    for side, flags, other, rising, falling in (
        ("Hot", bins >= min_bin, bins <= -min_bin, up, down),
        ("Cold", bins <= -min_bin, bins >= min_bin, down, up),
    ):
        count = flags.sum(axis=1)
        run = _trailing_run(flags)
        most = count * 10 >= 9 * n  # at least 90 % of the steps, exact in integers
        last = flags[:, -1]
        ever_other = other.any(axis=1)
        rules = [
            (last & most & rising, "Intensifying"),
            (last & most & falling, "Diminishing"),
            (last & most & ~rising & ~falling, "Persistent"),
            (last & ~most & ever_other, "Oscillating"),
            (last & ~most & ~ever_other & (count == 1), "New"),
            (last & ~most & ~ever_other & (count == run) & (run >= 2), "Consecutive"),
            (last & ~most & ~ever_other & (count > run), "Sporadic"),
        ]
        for mask, name in rules:
            out[mask] = f"{name} {side} Spot"
    neither = ~(bins[:, -1] >= min_bin) & ~(bins[:, -1] <= -min_bin)
    hot_n, cold_n = (bins >= min_bin).sum(axis=1), (bins <= -min_bin).sum(axis=1)
    out[neither & (hot_n * 10 >= 9 * n)] = "Historical Hot Spot"
    out[neither & (cold_n * 10 >= 9 * n)] = "Historical Cold Spot"
    return out
