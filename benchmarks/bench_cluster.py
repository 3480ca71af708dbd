"""City scale on Dask (issue 15): counts and patrol presence over partitioned Parquet.

Generates, partition by partition (never whole in memory), a synthetic city of 1,600
micro-grids: ``--incidents`` incidents over a year (``month=YYYY-MM`` folders, ~2 % outside the
grids) and ``--fixes`` GPS fixes (a fix every ~15 s of 8-hour shifts, ``staff_bucket=NN``
folders of about ``--per-bucket`` fixes). Then, in this order, each timed with its peak memory:

1. the single-process path (everything read into one frame, the kernel called once: what one
   machine does today) on the largest size given to it (``--peer-incidents`` /
   ``--peer-fixes``: all incidents, and the first staff buckets holding that many fixes);
2. ``engine="local"``: the partition functions over the partitions in one process;
3. a ``LocalCluster`` of 1 worker, then of 2 workers (1 thread each, ``--worker-memory``):
   ``aggregate`` (grid:micro by day) and ``coverage`` (grid:micro), the peak RSS of every
   worker sampled twice a second (``client.run`` of psutil).

It checks that the local and Dask outputs are identical (and the single-process peer's, on its
rows), and prints throughput, wall time and peak RSS per worker, then RESULT lines.

    python benchmarks/bench_cluster.py [--quick] [--incidents 20000000] [--fixes 50000000]
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from queue import Empty

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import psutil  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import shapely  # noqa: E402

from benchmarks._common import result_line  # noqa: E402
from gis import patrol  # noqa: E402
from gis.scale import (  # noqa: E402
    RssSampler,
    aggregate,
    bucket_groups,
    bucket_labels,
    client_for,
    coverage,
    read_points_folder,
    scan_points,
    staff_bucket,
)

LON0, LAT0, CELL, SIDE = 113.60, 34.70, 0.005, 40  # 40 x 40 micro-grids of ~450 m x 550 m
CATEGORIES = np.array([f"{a:02d}-{b:02d}" for a in range(1, 11) for b in range(1, 4)])
SOURCES = np.array(["hotline", "patrol", "camera", "app"])
FIX_EVERY_S = 15.0
SHIFT_H = 8


# ------------------------------------------------------------------------------ the city
def city_grids() -> gpd.GeoDataFrame:
    """1,600 micro-grids in 100 level-2 grids in 4 level-1 grids (squares)."""
    rows = []
    for i in range(SIDE):
        for j in range(SIDE):
            box = shapely.box(
                LON0 + i * CELL, LAT0 + j * CELL, LON0 + (i + 1) * CELL, LAT0 + (j + 1) * CELL
            )
            rows.append((f"M{i:02d}{j:02d}", "micro", f"B{i // 4}{j // 4}", box))
    for a in range(SIDE // 4):
        for b in range(SIDE // 4):
            box = shapely.box(
                LON0 + 4 * a * CELL, LAT0 + 4 * b * CELL, LON0 + 4 * (a + 1) * CELL,
                LAT0 + 4 * (b + 1) * CELL,
            )  # fmt: skip
            rows.append((f"B{a}{b}", "l2", f"A{a // 5}{b // 5}", box))
    for a in range(2):
        for b in range(2):
            box = shapely.box(
                LON0 + 20 * a * CELL, LAT0 + 20 * b * CELL, LON0 + 20 * (a + 1) * CELL,
                LAT0 + 20 * (b + 1) * CELL,
            )  # fmt: skip
            rows.append((f"A{a}{b}", "l1", None, box))
    frame = pd.DataFrame(rows, columns=["code", "level", "parent_code", "geometry"])
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=4326)


def write_incidents(folder: Path, total: int, rows_per_file: int, seed: int = 7) -> int:
    """``total`` incidents over 2025, a month at a time, files of ``rows_per_file``."""
    rng = np.random.default_rng(seed)
    hot = rng.uniform(0, SIDE * CELL, (60, 2))
    written = 0
    for m in range(12):
        n_month = total // 12 + (1 if m < total % 12 else 0)
        start = pd.Timestamp(2025, m + 1, 1)
        seconds = ((start + pd.offsets.MonthBegin(1)) - start).total_seconds()
        for k, lo in enumerate(range(0, n_month, rows_per_file)):
            n = min(rows_per_file, n_month - lo)
            clustered = rng.random(n) < 0.4
            xy = rng.uniform(-0.01 * SIDE * CELL, 1.01 * SIDE * CELL, (n, 2))
            centre = hot[rng.integers(0, len(hot), n)]
            xy[clustered] = centre[clustered] + rng.normal(0, 0.002, (int(clustered.sum()), 2))
            t = start.value + (rng.uniform(0, seconds, n) * 1e9).astype(np.int64)
            table = pa.table(
                {
                    "category_code": CATEGORIES[rng.integers(0, len(CATEGORIES), n)],
                    "source": SOURCES[rng.integers(0, len(SOURCES), n)],
                    "occurred_at": pa.array(t, type=pa.timestamp("ns")),
                    "lon": LON0 + xy[:, 0],
                    "lat": LAT0 + xy[:, 1],
                }
            )
            out = folder / f"month=2025-{m + 1:02d}"
            out.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, out / f"part-{k:05d}.parquet", compression="zstd")
            written += n
    return written


def write_fixes(folder: Path, total: int, per_bucket: int, seed: int = 11) -> tuple[int, int]:
    """About ``total`` fixes: 8-hour shifts of staff walking their beat, a fix every ~15 s,
    written bucket by bucket (``month=2025-03/staff_bucket=NN``). Returns (fixes, buckets)."""
    per_shift = int(SHIFT_H * 3600 / FIX_EVERY_S)
    shifts = max(1, total // per_shift)
    days = max(1, min(28, int(np.ceil(shifts / 2000))))
    staff = int(np.ceil(shifts / days))
    codes = np.array([f"S{s:05d}" for s in range(staff)], dtype=object)
    buckets = max(1, int(np.ceil(staff * days * per_shift / per_bucket)))
    of = staff_bucket(codes, buckets)
    labels = bucket_labels(np.arange(buckets), buckets)
    written = 0
    for b in range(buckets):
        rng = np.random.default_rng(seed + b)
        mine = np.flatnonzero(of == b)
        if not len(mine):
            continue
        n_runs = len(mine) * days
        n = n_runs * per_shift
        run = np.repeat(np.arange(n_runs), per_shift)
        home = rng.uniform(0.05, 0.95, (len(mine), 2)) * SIDE * CELL
        step = rng.normal(0, 1.2e-4, (n, 2))  # ~13 m per fix: walking
        walk = np.cumsum(step, axis=0)
        walk -= np.repeat(walk[::per_shift] - step[::per_shift], per_shift, axis=0)
        xy = np.repeat(np.repeat(home, days, axis=0), per_shift, axis=0) + walk
        day = np.repeat(np.tile(np.arange(days), len(mine)), per_shift)
        start_s = 8 * 3600 + (np.repeat(np.arange(n_runs), per_shift) % 3) * 1800
        offs = np.tile(np.arange(per_shift) * FIX_EVERY_S, n_runs) + rng.uniform(-2, 2, n)
        t = pd.Timestamp("2025-03-01").value + ((day * 86400 + start_s + offs) * 1e9).astype(
            np.int64
        )
        staff_of = codes[np.repeat(mine, days)][run]
        table = pa.table(
            {
                "staff_code": pa.array(staff_of, type=pa.string()),
                "t": pa.array(t, type=pa.timestamp("ns")),
                "lon": LON0 + xy[:, 0],
                "lat": LAT0 + xy[:, 1],
            }
        )
        out = folder / "month=2025-03" / f"staff_bucket={labels[b]}"
        out.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out / "part-00000.parquet", compression="zstd")
        written += n
    return written, buckets


# ------------------------------------------------------------------------------ measuring
class PeakRss:
    """Peak RSS of this process, sampled on a timer (the process's own high-water mark)."""

    def __init__(self, interval_s: float = 0.2) -> None:
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()

    def _loop(self) -> None:
        proc = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, proc.memory_info().rss)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def _child(job: str, args: dict, queue) -> None:
    """One single-process measurement in a fresh process (its memory is its own)."""
    grids = city_grids()
    t0 = time.perf_counter()
    with PeakRss() as rss:
        if job == "peer_aggregate":
            points = read_points_folder(args["folder"])  # every incident in one frame
            rows = len(points)
            out = aggregate(points, "grid:micro", "day", grids=grids, batch_rows=rows).counts
        elif job == "peer_coverage":
            folder = scan_points(args["folder"], "fixes")
            fixes = folder.read_files(args["files"])
            frame = gpd.GeoDataFrame(
                fixes[["staff_code", "t"]],
                geometry=gpd.points_from_xy(fixes["lon"], fixes["lat"]),
                crs=4326,
            )
            data = patrol.track_data(frame, district=grids[grids["level"] == "l1"])
            start, end = patrol.default_period(data.clean.fixes)
            out = patrol.coverage_table(data.samples, grids, start=start, end=end)
            rows = len(fixes)
        elif job == "local_aggregate":
            out = aggregate(args["folder"], "grid:micro", "day", grids=grids).counts
            rows = scan_points(args["folder"]).rows
        elif job == "local_coverage":
            folder = scan_points(args["folder"], "fixes")
            if args.get("files") is not None:
                folder = _subset(folder, args["files"])
            out = coverage(folder, "grid:micro", grids=grids).table
            rows = folder.rows
        else:  # pragma: no cover
            raise ValueError(job)
    wall = time.perf_counter() - t0
    path = Path(args["out"])
    out = out.reset_index(drop=True)
    out.attrs = {}  # (coverage_table keeps its period there: not JSON for the Parquet footer)
    out.to_parquet(path)
    queue.put({"wall": wall, "rss": rss.peak, "rows": rows, "out": str(path)})


def _subset(folder, files):
    """The folder restricted to some of its files (the peer's staff buckets)."""
    keep = [i for i, f in enumerate(folder.files) if f in set(files)]
    return type(folder)(
        folder.root, folder.kind, tuple(folder.files[i] for i in keep), folder.columns,
        folder.geometry, folder.geometry_crs,
        sum(pq.ParquetFile(folder.files[i]).metadata.num_rows for i in keep),
        tuple(folder.keys[i] for i in keep),
    )  # fmt: skip


def in_child(job: str, **args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(job, args, queue))
    proc.start()
    result = None
    while result is None:
        try:
            result = queue.get(timeout=1.0)
        except Empty:
            if not proc.is_alive():
                raise RuntimeError(f"{job} failed with exit code {proc.exitcode}") from None
    proc.join()
    return result


def on_cluster(workers: int, memory: str, incidents: Path, fixes: Path) -> dict:
    grids = city_grids()
    out = {}
    with client_for("dask", workers=workers, memory_limit=memory) as client:
        client.run(__import__, "gis.scale")
        for name, fn in (
            (
                "aggregate",
                lambda: (
                    aggregate(
                        incidents, "grid:micro", "day", grids=grids, engine="dask", client=client
                    ).counts
                ),  # fmt: skip
            ),
            (
                "coverage",
                lambda: (
                    coverage(fixes, "grid:micro", grids=grids, engine="dask", client=client).table
                ),  # fmt: skip
            ),
        ):
            with RssSampler(client, interval_s=0.5) as rss:
                t0 = time.perf_counter()
                table = fn()
                wall = time.perf_counter() - t0
            out[name] = {"wall": wall, "peaks": dict(rss.peaks), "table": table}
    return out


def _roundtrip(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as the files hold it (the local runs are compared through their files)."""
    buf = io.BytesIO()
    frame = frame.reset_index(drop=True)
    frame.attrs = {}
    frame.to_parquet(buf)
    return pd.read_parquet(io.BytesIO(buf.getvalue()))


def _gb(b: float) -> str:
    return f"{b / 2**30:.2f} GB"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="500k incidents, 1M fixes")
    parser.add_argument("--incidents", type=int, default=20_000_000)
    parser.add_argument("--fixes", type=int, default=50_000_000)
    parser.add_argument("--per-bucket", type=int, default=500_000, help="fixes per staff bucket")
    parser.add_argument("--file-rows", type=int, default=1_000_000, help="incidents per file")
    parser.add_argument("--peer-incidents", type=int, help="default: all incidents")
    parser.add_argument("--peer-fixes", type=int, default=3_000_000)
    parser.add_argument("--worker-memory", default="4GB")
    parser.add_argument("--workdir", help="where the Parquet folders go (default a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated folders")
    args = parser.parse_args()
    if args.quick:
        args.incidents, args.fixes = 500_000, 1_000_000
        args.per_bucket, args.file_rows, args.peer_fixes = 250_000, 100_000, 500_000
    work = Path(args.workdir or tempfile.mkdtemp(prefix="gridlens-bench-cluster-"))
    inc, fix = work / "incidents", work / "fixes"
    for d in (inc, fix):
        shutil.rmtree(d, ignore_errors=True)
    try:
        t0 = time.perf_counter()
        n_inc = write_incidents(inc, args.incidents, args.file_rows)
        t_inc = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_fix, n_buckets = write_fixes(fix, args.fixes, args.per_bucket)
        t_fix = time.perf_counter() - t0
        print(f"generated {n_inc:,} incidents in {t_inc:.1f} s, {n_fix:,} fixes in "
              f"{n_buckets} staff buckets in {t_fix:.1f} s -> {work}")  # fmt: skip

        # single-process peers: all incidents; the first buckets up to --peer-fixes fixes
        if args.peer_incidents and args.peer_incidents < n_inc:
            print("(--peer-incidents smaller than the data: the peer reads every incident)")
        peer_a = in_child("peer_aggregate", folder=str(inc), out=str(work / "peer_a.parquet"))
        groups = bucket_groups(scan_points(fix, "fixes"))
        files, rows = [], 0
        for g in groups:
            if rows >= args.peer_fixes:
                break
            files += g
            rows += sum(pq.ParquetFile(f).metadata.num_rows for f in g)
        peer_c = in_child(
            "peer_coverage", folder=str(fix), files=files, out=str(work / "peer_c.parquet")
        )
        sub_c = in_child(
            "local_coverage", folder=str(fix), files=files, out=str(work / "sub_c.parquet")
        )
        local_a = in_child("local_aggregate", folder=str(inc), out=str(work / "local_a.parquet"))
        local_c = in_child("local_coverage", folder=str(fix), out=str(work / "local_c.parquet"))
        runs = {w: on_cluster(w, args.worker_memory, inc, fix) for w in (1, 2)}

        # identical outputs
        la = pd.read_parquet(local_a["out"])
        lc = pd.read_parquet(local_c["out"])
        same_a = all(_roundtrip(runs[w]["aggregate"]["table"]).equals(la) for w in runs)
        same_c = all(_roundtrip(runs[w]["coverage"]["table"]).equals(lc) for w in runs)
        pa_ = pd.read_parquet(peer_a["out"]).reset_index(drop=True)
        peer_same_a = pa_[la.columns].equals(la)
        pc, sc = pd.read_parquet(peer_c["out"]), pd.read_parquet(sub_c["out"])
        exact = ["unit_id", "visits", "first_visit", "last_visit", "time_since_last_visit_s"]
        peer_same_c = (
            pc[exact].equals(sc[exact])
            and np.allclose(pc["dwell_s"], sc["dwell_s"], rtol=1e-9)
            and np.allclose(pc["max_gap_s"], sc["max_gap_s"], atol=1e-3)
        )

        print(f"\n{'run':<34}{'rows':>12}{'wall s':>9}{'rows/s':>12}  peak RSS")

        def line(name, rows, wall, rss):  # noqa: E306
            print(f"{name:<34}{rows:>12,}{wall:>9.1f}{rows / wall:>12,.0f}  {rss}")

        line("aggregate single process (peer)", peer_a["rows"], peer_a["wall"], _gb(peer_a["rss"]))
        line("aggregate engine=local", local_a["rows"], local_a["wall"], _gb(local_a["rss"]))
        for w in runs:
            r = runs[w]["aggregate"]
            peaks = ", ".join(_gb(v) for v in r["peaks"].values())
            line(f"aggregate dask {w} worker(s)", n_inc, r["wall"], f"per worker {peaks}")
        line("coverage single process (peer)", peer_c["rows"], peer_c["wall"], _gb(peer_c["rss"]))
        line("coverage engine=local, peer rows", sub_c["rows"], sub_c["wall"], _gb(sub_c["rss"]))
        line("coverage engine=local", local_c["rows"], local_c["wall"], _gb(local_c["rss"]))
        for w in runs:
            r = runs[w]["coverage"]
            peaks = ", ".join(_gb(v) for v in r["peaks"].values())
            line(f"coverage dask {w} worker(s)", n_fix, r["wall"], f"per worker {peaks}")
        print(f"\nidentical: aggregate local == dask 1 == dask 2: {same_a}; "
              f"single-process peer == local: {peer_same_a}")  # fmt: skip
        print(f"identical: coverage local == dask 1 == dask 2: {same_c}; single-process peer "
              f"== local on its {peer_c['rows']:,} fixes (dwell 1e-9, max gap 1 ms): {peer_same_c}")  # fmt: skip

        max_rss = max(max(runs[w][k]["peaks"].values()) for w in runs for k in runs[w])
        peer_fix_s = peer_c["wall"] * n_fix / peer_c["rows"]
        print(result_line(
            "cluster_aggregate", runs[2]["aggregate"]["wall"], "single_process",
            peer_a["wall"], rows=n_inc, dask1_s=f"{runs[1]['aggregate']['wall']:.2f}",
            local_s=f"{local_a['wall']:.2f}", identical=same_a and peer_same_a,
        ))  # fmt: skip
        print(result_line(
            "cluster_coverage", runs[2]["coverage"]["wall"], "single_process_extrapolated",
            peer_fix_s, rows=n_fix, peer_rows=peer_c["rows"],
            peer_measured_s=f"{peer_c['wall']:.2f}",
            dask1_s=f"{runs[1]['coverage']['wall']:.2f}", local_s=f"{local_c['wall']:.2f}",
            max_worker_rss_gb=f"{max_rss / 2**30:.2f}", identical=same_c and peer_same_c,
        ))  # fmt: skip
        return 0 if (same_a and same_c and peer_same_a and peer_same_c) else 1
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
