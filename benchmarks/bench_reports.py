"""The monthly report (月通报) for a district with 1,000,000 incidents and their cases.

The district is the demo's (grids, staff, streets, a week of patrol tracks) with its twelve
months of incidents repeated (each copy moved by a few minutes, so the months keep their
rhythms) up to ``--incidents``, stored as the intake stores them (grid keys, H3/fishnet keys,
the incident cube), and one case history per incident (``gis.demo.cases``: the demo's workflow,
about 8 steps each). Built once and kept (``--db``, default ``artifacts/bench_reports_<N>.db``).

Ours: ``gis.reports.generate_report`` of the October 2026 monthly bulletin, from the store to
the finished file (model + render), for HTML and for PDF. Peer, in the same run: the case
numbers alone computed the way the pages' peer does (``gis.cases.metrics_from_transitions``,
pandas over every transition already in memory) for the same three periods the headline reads.
Target: the monthly report in <= 10 s.

    python benchmarks/bench_reports.py [--incidents 1000000] [--db PATH] [--repeat 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks._common import best_of, result_line  # noqa: E402
from gis import reports, store  # noqa: E402
from gis.cases import metrics_from_transitions  # noqa: E402
from gis.demo import generate_district, load_demo  # noqa: E402
from gis.demo.cases import load_demo_cases  # noqa: E402
from gis.store import cases as case_store  # noqa: E402

DAY = "2026-10-15"


def scaled_incidents(incidents: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` incidents: the demo's repeated, each copy moved by up to ±90 minutes (clipped to
    the demo's year), with new external ids."""
    rng = np.random.default_rng(seed)
    reps = int(np.ceil(n / len(incidents)))
    big = pd.concat([incidents] * reps, ignore_index=True).iloc[:n].copy()
    minutes = rng.integers(-90, 91, len(big))
    minutes[: len(incidents)] = 0  # the first copy is the demo itself
    t = big["occurred_at"] + pd.to_timedelta(minutes, unit="min")
    lo, hi = incidents["occurred_at"].min(), incidents["occurred_at"].max()
    big["occurred_at"] = t.clip(lo, hi)
    big["external_id"] = [f"BENCH-{i:08d}" for i in range(1, len(big) + 1)]
    return big.sort_values(["occurred_at", "external_id"], kind="stable").reset_index(drop=True)


def build(path: Path, n: int) -> None:
    t = time.perf_counter()
    demo = generate_district(seed=42, track_days=7)
    demo = dataclasses.replace(demo, incidents=scaled_incidents(demo.incidents, n))
    print(f"generated {len(demo.incidents):,} incidents in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    engine = store.open_store(str(path))
    store.init_db(engine)
    load_demo(engine, demo, loaded_by="bench")
    print(f"stored the district in {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    written = load_demo_cases(engine, seed=42)
    print(
        f"{written['cases']:,} cases, {written['transitions']:,} steps in "
        f"{time.perf_counter() - t:.1f} s"
    )
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--db", help="benchmark database (built when missing)")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    artifacts = Path(os.environ.get("GRIDLENS_ARTIFACTS", ROOT / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    path = Path(args.db or artifacts / f"bench_reports_{args.incidents}.db")
    if path.exists():
        engine = store.open_store(str(path))
        if store.count_rows(engine, "incidents") != args.incidents:
            engine.dispose()
            path.unlink()
    if not path.exists():
        build(path, args.incidents)
    engine = store.open_store(str(path))
    n_inc = store.count_rows(engine, "incidents")
    n_cases, n_steps = case_store.count_cases(engine)
    times = {}
    for fmt in ("html", "pdf"):
        times[fmt] = best_of(
            lambda fmt=fmt: reports.generate_report(
                engine, "monthly", DAY, fmt=fmt, generated_by="bench", archive=False
            ),
            args.repeat,
        )
        print(f"monthly report, {fmt}: {times[fmt]:.2f} s", flush=True)
    t = time.perf_counter()
    r = reports.build_period_report(engine, "monthly", DAY)
    model_s = time.perf_counter() - t
    print(f"of which the model: {model_s:.2f} s")
    # peer: the headline's case numbers from every transition with pandas (inputs in memory)
    steps = case_store.read_transitions(engine)
    static = case_store.read_cases(engine, columns=["id", "category_code", "grid_code"])
    periods = [r.period, r.previous, r.last_year]

    def peer() -> None:
        for p in periods:
            metrics_from_transitions(steps, static, "all", p.start, p.end)

    peer_s = best_of(peer, 1)
    mine = r.headline.set_index("metric")
    ref = metrics_from_transitions(steps, static, "all", r.period.start, r.period.end).iloc[0]
    assert mine.loc["closed", "value"] == ref["closed"], "the report and the peer disagree"
    print(f"incidents {n_inc:,}, cases {n_cases:,}, transitions {n_steps:,}")
    print(
        result_line(
            "reports_monthly",
            times["pdf"],
            "pandas_case_metrics_3_periods",
            peer_s,
            html_s=f"{times['html']:.2f}",
            model_s=f"{model_s:.2f}",
            incidents=n_inc,
            cases=n_cases,
            target_s=10,
        )
    )
    return 0 if max(times.values()) <= 10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
