"""Helpers shared by the benchmarks: timing and the RESULT line every benchmark prints last."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(fn: Callable[[], object], repeat: int = 3, setup: Callable[[], object] | None = None):
    """Best wall-clock seconds of ``repeat`` runs of ``fn`` (``setup`` runs untimed before each)."""
    best = float("inf")
    for _ in range(repeat):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def result_line(name: str, ours_s: float, peer: str, peer_s: float, **extra) -> str:
    """``RESULT name=... ours_s=... peer=... peer_s=... ratio=peer_s/ours_s [key=value ...]``."""
    fields = [
        f"name={name}",
        f"ours_s={ours_s:.4f}",
        f"peer={peer}",
        f"peer_s={peer_s:.4f}",
        f"ratio={peer_s / ours_s:.2f}",
    ]
    fields += [f"{k}={v}" for k, v in extra.items()]
    return "RESULT " + " ".join(fields)
