"""Run every benchmark and collect their RESULT lines.

    python benchmarks/run.py [--only NAME] [--quick]

Benchmarks run one after another in their own processes (so one's memory or JIT warm-up does
not colour another's). The store's bulk load is the first entry. The RESULT lines are printed
and written to ``artifacts/benchmarks.txt``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: (name, script, arguments for --quick)
BENCHMARKS = [
    ("store_load", "bench_store_load.py", ["--rows", "50000"]),
    ("assign", "bench_assign.py", ["--points", "100000"]),
    ("patrol", "bench_patrol.py", ["--fixes", "200000", "--repeat", "1"]),
    ("kde", "bench_kde.py", ["--points", "20000", "--grid", "200", "--peer-cells", "500"]),
    ("gistar", "bench_gistar.py", ["--cols", "200", "--rows", "100"]),
    ("hotspots_page", "bench_hotspots_page.py", ["--incidents", "200000", "--repeat", "1"]),
    ("intake", "bench_intake.py", ["--rows", "100000"]),
    ("cases", "bench_cases.py", ["--cases", "50000", "--repeat", "1"]),
    ("cluster", "bench_cluster.py", ["--quick"]),
    ("reports", "bench_reports.py", ["--incidents", "200000", "--repeat", "1"]),
    ("app_scale", "bench_app_scale.py", ["--quick"]),
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="run only this benchmark")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    args = parser.parse_args()
    results: list[str] = []
    failed = []
    for name, script, quick in BENCHMARKS:
        if args.only and args.only != name:
            continue
        print(f"== {name}", flush=True)
        cmd = [sys.executable, str(HERE / script), *(quick if args.quick else [])]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            failed.append(name)
            sys.stdout.write(proc.stderr[-3000:])
        results += [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    out = Path(os.environ.get("GRIDLENS_ARTIFACTS", HERE.parent / "artifacts"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmarks.txt").write_text("\n".join(results) + "\n")
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
