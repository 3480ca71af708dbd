"""Case metrics for 1,000,000 cases (about 6-7 million transitions) on SpatiaLite, against pandas.

Ours: ``gis.cases.case_metrics`` (one SQL pass over the cases' stored view of their
transitions; the few cases whose state at the period's end differs from the view look at their
transitions) for ``--by`` over one year. Peer: a plain pandas groupby of the same transitions
(``gis.cases.metrics_from_transitions``: per-case facts from the transitions, then a groupby per
unit), on frames already in memory, in the same run. Both must give the same table (checked; the
benchmark exits non-zero otherwise).

The synthetic histories (``synthetic_histories``) follow the workflow: 上报, 受理, 立案 with a
deadline, 派遣 (some to a second level, some returned and sent again), 处置, 核查 (some 返工),
结案, 回访评价 for some; a few are refused, extended, still open. The database is built once and
kept (``--db``, default ``artifacts/bench_cases_<N>.db``); building 1M cases takes minutes.

    python benchmarks/bench_cases.py [--cases 1000000] [--by department] [--db PATH] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks._common import best_of, result_line  # noqa: E402
from gis import store  # noqa: E402
from gis.cases import case_facts, case_metrics, metrics_from_transitions  # noqa: E402
from gis.store import cases as case_store  # noqa: E402

START, END = pd.Timestamp("2026-01-01"), pd.Timestamp("2027-01-01")
DEPARTMENTS = np.array(
    ["street_team", "jiaojing", "pcs", "xiaofang", "zhujian", "shequ", "nonglinshui", "scjg"],
    dtype=object,
)
CATEGORIES = np.array(
    ["05-04", "05-05", "05-01", "01-02", "05-07", "05-06", "02-02", "05-10", "06-02", "03-01"],
    dtype=object,
)
_M = 60 * 10**9


def synthetic_histories(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` cases (static columns + stored view) and their transitions (``case_id`` = 1..n)."""
    rng = np.random.default_rng(seed)
    t0 = START.value + rng.integers(0, (END - START).value - 30 * 86400 * 10**9, n)
    t0 = t0 // 10**9 * 10**9
    dept = DEPARTMENTS[rng.integers(0, len(DEPARTMENTS), n)]
    staff = np.array([f"S{i:04d}" for i in range(30)], dtype=object)[rng.integers(0, 30, n)]
    u = rng.random(n)
    refused = u < 0.01
    live = ~refused
    is_open = live & (rng.random(n) < 0.03)
    returned = live & (rng.random(n) < 0.01)
    level2 = live & (rng.random(n) < 0.1)
    rework = live & ~is_open & (rng.random(n) < 0.04)
    extend = live & (rng.random(n) < 0.01)
    evaluate = live & ~is_open & (rng.random(n) < 0.1)
    limit = rng.integers(2 * 60, 5 * 24 * 60, n) * _M
    accept = t0 + rng.integers(1, 30, n) * _M
    register = accept + rng.integers(1, 10, n) * _M
    deadline = register + limit
    wrong_at = register + rng.integers(2, 20, n) * _M
    back_at = wrong_at + rng.integers(30, 240, n) * _M
    dispatch = np.where(returned, back_at, register) + rng.integers(2, 20, n) * _M
    dispatch2 = dispatch + rng.integers(5, 60, n) * _M
    ext_at = dispatch2 + rng.integers(1, 30, n) * _M
    handle = ext_at + (limit * rng.uniform(0.1, 1.3, n)).astype(np.int64)
    reject_at = handle + rng.integers(30, 240, n) * _M
    handle2 = reject_at + rng.integers(60, 24 * 60, n) * _M
    verify = np.where(rework, handle2, handle) + rng.integers(10, 240, n) * _M
    close = verify + rng.integers(1, 15, n) * _M
    evaluated = close + rng.integers(60, 48 * 60, n) * _M
    deadline2 = deadline + limit
    wrong = DEPARTMENTS[(np.searchsorted(DEPARTMENTS, dept) + 1) % len(DEPARTMENTS)]
    none = np.full(n, None, dtype=object)
    plan = [
        ("report", "reported", np.ones(n, bool), t0, none, none, None, None),
        ("refuse", "rejected", refused, accept, none, none, None, None),
        ("accept", "accepted", live, accept, none, none, None, None),
        ("register", "registered", live, register, none, none, deadline, None),
        ("dispatch", "dispatched", returned, wrong_at, wrong, none, None, None),
        ("return", "registered", returned, back_at, wrong, none, None, None),
        ("dispatch", "dispatched", live, dispatch, dept, none, None, None),
        ("dispatch", "dispatched", level2, dispatch2, dept, staff, None, None),
        ("extend", "dispatched", extend, ext_at, none, none, deadline2, None),
        ("handle", "handled", live & ~is_open, handle, none, none, None, None),
        ("rework", "dispatched", rework, reject_at, none, none, None, None),
        ("handle", "handled", rework, handle2, none, none, None, None),
        ("verify", "verified", live & ~is_open, verify, none, none, None, None),
        ("close", "closed", live & ~is_open, close, none, none, None, None),
        ("evaluate", "evaluated", evaluate, evaluated, none, none, None, "satisfied"),
    ]
    present = np.stack([p[2] for p in plan], axis=1)
    times = np.stack([p[3] for p in plan], axis=1)
    pos, k = np.nonzero(present)
    nat = np.iinfo(np.int64).min

    def column(i: int, default=None) -> np.ndarray:
        out = np.full(len(pos), default, dtype=object)
        for j, p in enumerate(plan):
            m = k == j
            if p[i] is None:
                continue
            out[m] = p[i][pos[m]] if isinstance(p[i], np.ndarray) else p[i]
        return out

    dl = np.full(len(pos), nat, dtype=np.int64)
    for j, p in enumerate(plan):
        if p[6] is not None:
            m = k == j
            dl[m] = p[6][pos[m]]
    steps = pd.DataFrame(
        {
            "case_id": pos + 1,
            "seq": pd.Series(pos).groupby(pos).cumcount().to_numpy() + 1,
            "action": np.array([p[0] for p in plan], dtype=object)[k],
            "to_state": np.array([p[1] for p in plan], dtype=object)[k],
            "actor": "bench",
            "at": times[pos, k].astype("datetime64[ns]"),
            "department": column(4),
            "assignee": column(5),
            "deadline": dl.astype("datetime64[ns]"),
            "result": column(7),
        }
    )
    prev = steps.groupby("case_id")["to_state"].shift(1)
    steps.insert(3, "from_state", prev.astype(object).where(prev.notna(), None))
    facts = case_facts(steps).reset_index(drop=True)
    cases = pd.DataFrame(
        {
            "case_code": [f"B{i:08d}" for i in range(1, n + 1)],
            "source": np.where(evaluate, "hotline", "patrol").astype(object),
            "category_code": CATEGORIES[rng.integers(0, len(CATEGORIES), n)],
            "urgency": "general",
            "grid_code": np.array([f"G{i:03d}" for i in range(447)], dtype=object)[
                rng.integers(0, 447, n)
            ],
            "limit_value": limit / 3.6e12,
            "limit_type": "natural_hour",
        }
    )
    for col in case_store.VIEW_COLUMNS:
        cases[col] = facts[col].to_numpy()
    cases["satisfied"] = facts["satisfied"].astype(object).where(facts["satisfied"].notna(), None)
    return cases, steps


def build(path: Path, n: int) -> None:
    """Create the benchmark database at ``path`` (cases 1..n and their transitions)."""
    t = time.perf_counter()
    cases, steps = synthetic_histories(n)
    print(f"generated {n:,} cases, {len(steps):,} transitions in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    engine = store.open_store(str(path))
    with engine.begin() as conn:
        case_store.insert_cases(conn, cases)
        case_store.insert_transitions(conn, steps)
    engine.dispose()
    print(f"stored in {time.perf_counter() - t:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--by", default="department")
    parser.add_argument("--db", help="benchmark database (built when missing)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    artifacts = Path(os.environ.get("GRIDLENS_ARTIFACTS", ROOT / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    path = Path(args.db or artifacts / f"bench_cases_{args.cases}.db")
    engine = store.open_store(str(path)) if path.exists() else None
    if engine is None or case_store.count_cases(engine)[0] != args.cases:
        if engine is not None:
            engine.dispose()
        path.unlink(missing_ok=True)
        build(path, args.cases)
        engine = store.open_store(str(path))
    n_cases, n_steps = case_store.count_cases(engine)
    ours_table = case_metrics(engine, args.by, START, END)
    ours = best_of(lambda: case_metrics(engine, args.by, START, END), args.repeat)
    # the peer's input is read before its clock starts
    steps = case_store.read_transitions(engine)
    static = case_store.read_cases(engine, columns=["id", "category_code", "grid_code"])
    peer_table = None

    def peer_run() -> None:
        nonlocal peer_table
        peer_table = metrics_from_transitions(steps, static, args.by, START, END)

    peer = best_of(peer_run, max(1, args.repeat - 1))
    pd.testing.assert_frame_equal(ours_table, peer_table, check_dtype=False, atol=1e-6)
    print(f"cases {n_cases:,}, transitions {n_steps:,}, units {len(ours_table)}")
    print(f"ours (SQL over the stored view, SpatiaLite): {ours:.3f} s")
    print(f"peer (pandas groupby of the transitions in memory): {peer:.3f} s")
    print(f"ratio peer/ours: {peer / ours:.2f}; same table: yes")
    print(
        result_line(
            "case_metrics_spatialite",
            ours,
            "pandas_groupby_transitions",
            peer,
            cases=n_cases,
            transitions=n_steps,
            by=args.by,
        )
    )
    engine.dispose()
    return 0 if ours <= 5.0 or args.cases < 1_000_000 else 1


if __name__ == "__main__":
    raise SystemExit(main())
