"""Where a city-scale run computes: in this process, on a LocalCluster sized to the machine, or
on a running Dask cluster (``dask scheduler`` + ``dask worker`` on several machines).

Dask's value on one box is memory (each worker holds one partition at a time, out of core),
not speed: with 2 cores a 2-worker cluster pays serialisation and start-up that one process
does not. Its value across machines is both.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psutil
from distributed import Client, LocalCluster, get_client

from gis.core.errors import InputError

__all__ = [
    "ENGINES",
    "RssSampler",
    "client_for",
    "dask_client",
    "machine_workers",
    "worker_memory_limit",
]

#: The engines a command accepts.
ENGINES = ("local", "dask")
#: Share of the machine's memory a LocalCluster's workers may use together.
_MEMORY_SHARE = 0.75
#: A worker needs at least this much (one partition of a million points plus the kernels).
_MIN_WORKER_BYTES = 1 * 2**30


def machine_workers() -> int:
    """Workers a LocalCluster gets by default: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def worker_memory_limit(workers: int, total_bytes: int | None = None) -> int:
    """Memory limit (bytes) of each of ``workers`` LocalCluster workers: 75 % of the machine's
    memory shared out, at least 1 GiB."""
    total = total_bytes if total_bytes is not None else psutil.virtual_memory().total
    return max(_MIN_WORKER_BYTES, int(total * _MEMORY_SHARE / max(1, workers)))


@contextmanager
def _bare_main() -> Iterator[None]:
    """Start worker processes with an empty ``__main__``.

    Worker processes are *spawned*: each re-imports the parent's ``__main__`` from its file.
    Inside Streamlit (and its AppTest) ``__main__`` is the page script, so every worker would
    run the page (sign-in, database, widgets) and fail to start. The kernels live in
    ``gis.scale`` and are pickled by reference, so workers need nothing from ``__main__``.
    """
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


@contextmanager
def client_for(
    engine: str,
    scheduler: str | None = None,
    workers: int | None = None,
    *,
    processes: bool = True,
    memory_limit: int | str | None = None,
) -> Iterator[Client | None]:
    """A Dask client for a run, closed afterwards (with its LocalCluster, if it made one).

    Parameters
    ----------
    engine
        ``local`` yields None (the caller computes in this process); ``dask`` yields a client.
    scheduler
        ``tcp://host:8786`` of a running ``dask scheduler``: connect to it (its workers read the
        data, so the paths must be visible to them: a shared filesystem or object store).
        Default: start a ``LocalCluster`` on this machine.
    workers
        Workers of the LocalCluster (default: one per core); each has one thread, so the
        kernels (numpy, shapely, pandas) never contend for the GIL.
    processes
        Workers as processes (default); threads only for quick tests.
    memory_limit
        Per worker (bytes or ``"4GB"``); default :func:`worker_memory_limit`.

    Raises
    ------
    InputError
        An unknown engine, a scheduler with the local engine, or ``workers < 1``.
    """
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "local":
        if scheduler:
            raise InputError("--scheduler needs --engine dask")
        yield None
        return
    if scheduler:
        client = Client(scheduler, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    n = machine_workers() if workers is None else int(workers)
    if n < 1:
        raise InputError(f"workers must be at least 1, got {n}")
    with _bare_main():
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=processes,
            memory_limit=memory_limit if memory_limit is not None else worker_memory_limit(n),
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@contextmanager
def dask_client(client: Client | None = None) -> Iterator[Client]:
    """``client`` itself; else the client already active in this process; else a
    LocalCluster sized to the machine for the duration of the block."""
    if client is not None:
        yield client
        return
    try:
        active = get_client()
    except ValueError:
        active = None
    if active is not None:
        yield active
        return
    with client_for("dask") as made:
        yield made


def _process_rss() -> int:
    return int(psutil.Process().memory_info().rss)


@dataclass
class RssSampler:
    """Peak resident memory of every worker process of a client, sampled on a timer.

    Use as a context manager around a run; ``peaks`` maps worker address to the highest RSS
    (bytes) seen. ``client.run`` asks each worker for its own process's RSS.
    """

    client: Client
    interval_s: float = 0.5
    peaks: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        """Take one sample now."""
        try:
            now = self.client.run(_process_rss)
        except Exception:  # noqa: BLE001 - a worker restarting must not end the benchmark
            return
        for addr, rss in now.items():
            self.peaks[addr] = max(self.peaks.get(addr, 0), int(rss))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> RssSampler:
        self._stop.clear()
        self.sample()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.sample()

    @property
    def max_bytes(self) -> int:
        """The highest peak of any worker."""
        return max(self.peaks.values(), default=0)
