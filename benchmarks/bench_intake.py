"""Incident intake: a 1,000,000-row Chinese-header CSV into a fresh demo database (SpatiaLite).

The file is generated in the demo district (positions and categories drawn from the demo's own
incidents, jittered by ~30 m, times over a year) with a few per cent of bad rows: missing or
non-numeric coordinates, unreadable and future times, unknown categories, points 5 km outside,
repeated ids. The import (``gis.incidents.import_incidents``: read, detect columns, check every
row, assign grids, link duplicates and repeat locations, write in one transaction) runs in a
child process; its wall time and peak RSS (the child's own ``VmHWM``) are measured. Every row
must be accounted for: the benchmark exits non-zero when the counts do not add up, the reasons
do not match the planted bad rows, the store did not grow by the imported rows in one batch, or
the peak RSS exceeds ``--max-rss-mb`` (default 2048; ``--max-seconds`` optionally bounds the
time). ``--trace`` prints the child's RSS and peak after each import step.

Peer: reading the same file with pandas' delimiter sniffing (``read_csv(sep=None,
engine="python")``, what a plain "read any CSV" does), in the same run.

    python benchmarks/bench_intake.py [--rows 1000000] [--encoding utf-8|gbk] [--trace]
        [--max-rss-mb 2048] [--max-seconds 0]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks._common import result_line  # noqa: E402

#: Chinese category text per demo code (aliases in data/category_aliases.csv)
TEXTS = {
    "05-05": ["违停", "机动车乱停放", "违章停车"],
    "05-06": ["非机动车乱停放", "共享单车乱停放"],
    "05-04": ["占道经营", "店外经营"],
    "05-01": ["流动摊贩", "无照经营游商"],
    "05-07": ["乱堆物料"],
    "05-08": ["商业噪音"],
    "05-10": ["露天烧烤"],
    "01-01": ["私搭乱建", "违建"],
    "01-07": ["僵尸车"],
    "01-18": ["私自饲养家禽家畜"],
    "03-01": ["施工扰民"],
    "06-01": ["占用消防通道"],
    "06-02": ["噪声扰民"],
    "06-03": ["流浪犬"],
    "06-04": ["邻里纠纷"],
}


def make_demo_db(path: Path) -> None:
    from gis import store
    from gis.demo import generate_district, load_demo

    engine = store.open_store(str(path))
    store.init_db(engine)
    load_demo(engine, generate_district(seed=42, track_days=1))
    engine.dispose()


def make_csv(
    db: Path | str,
    out: Path,
    rows: int,
    encoding: str,
    seed: int = 7,
    *,
    start: str = "2024-11-01",
    days: int = 365,
    bad_rows: bool = True,
    first_id: int = 0,
) -> dict[str, int]:
    """Write the test file; return the bad rows planted per kind.

    Times are uniform over ``days`` days from ``start``; ids run ``GL{first_id:08d}`` on (so
    several files can be imported into one store); ``bad_rows=False`` writes no bad row.
    """
    from gis import store

    engine = store.open_store(str(db))
    base = store.read_frame(engine, "incidents", columns=["category_code", "geom"])
    engine.dispose()
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(base), rows)
    lon = base.geometry.x.to_numpy()[pick] + rng.normal(0, 0.0003, rows)
    lat = base.geometry.y.to_numpy()[pick] + rng.normal(0, 0.0003, rows)
    codes = base["category_code"].to_numpy()[pick]
    text = np.empty(rows, dtype=object)
    for code in np.unique(codes):
        idx = np.flatnonzero(codes == code)
        text[idx] = rng.choice(TEXTS.get(code, [code]), len(idx))
    t = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, days * 86400, rows), "s")
    frame = pd.DataFrame(
        {
            "事件编号": [f"GL{i:08d}" for i in range(first_id, first_id + rows)],
            "事件类型": text,
            "上报时间": t.strftime("%Y/%m/%d %H:%M:%S"),
            "经度": np.round(lon, 6).astype(str),
            "纬度": np.round(lat, 6).astype(str),
            "地址": "高平市某某路" + pd.Series(rng.integers(1, 300, rows)).astype(str) + "号",
            "问题描述": "巡查发现" + text,
            "来源": rng.choice(["网格员巡查", "12345热线", "视频监控"], rows),
            "状态": rng.choice(["已结案", "处置中"], rows),
        }
    )
    planted = {}
    bad = rng.permutation(rows)
    cuts = {
        "no coordinates": 0.01,
        "coordinates are not numbers": 0.002,
        "missing or unreadable occurred_at": 0.005,
        "occurred_at is in the future": 0.002,
        "unknown category": 0.005,
        "outside": 0.005,
        "duplicate external_id in the file": 0.003,
    }
    start = 0
    for kind, share in cuts.items():
        if not bad_rows:
            break
        idx = bad[start : start + int(rows * share)]
        start += len(idx)
        planted[kind] = len(idx)
        if kind == "no coordinates":
            frame.loc[idx, ["经度", "纬度"]] = ""
        elif kind == "coordinates are not numbers":
            frame.loc[idx, "经度"] = "东经112度"
        elif kind == "missing or unreadable occurred_at":
            frame.loc[idx, "上报时间"] = "待补录"
        elif kind == "occurred_at is in the future":
            frame.loc[idx, "上报时间"] = "2099/01/01 08:00:00"
        elif kind == "unknown category":
            frame.loc[idx, "事件类型"] = "其他问题"
        elif kind == "outside":
            frame.loc[idx, "经度"] = (lon[idx] + 0.06).round(6).astype(str)
        else:
            frame.loc[idx, "事件编号"] = frame.loc[bad[-len(idx) :], "事件编号"].to_numpy()
    frame.to_csv(out, index=False, encoding=encoding)
    return planted


CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
import sqlalchemy as sa
from gis import store
from gis.incidents import import_incidents

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20

def peak_mb():
    # VmHWM: this process's own peak; ru_maxrss would carry over the parent's peak across
    # fork + exec (Linux keeps the larger of the two)
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

t0 = time.perf_counter()
def progress(fraction, message):
    if {trace!r} and not message.startswith("wrote"):
        print(f"  {{time.perf_counter() - t0:6.1f}} s  rss {{rss_mb():6.0f}} MB  peak {{peak_mb():6.0f}} MB"
              f"  {{message}}", file=sys.stderr, flush=True)

engine = store.open_store({db!r})
before = store.count_rows(engine, "incidents")
batches = store.count_rows(engine, "import_batches")
t0 = time.perf_counter()
r = import_incidents(engine, {csv!r}, imported_by="bench", progress=progress)
dt = time.perf_counter() - t0
n = store.count_rows(engine, "incidents")
with engine.connect() as conn:
    batch = conn.execute(sa.text(
        "SELECT total, imported, rejected FROM import_batches ORDER BY id DESC LIMIT 1"
    )).fetchone()
print(json.dumps({{"seconds": dt, "total": r.total, "imported": r.imported,
                  "rejected": r.rejected_count, "reasons": r.reasons.to_dict(),
                  "duplicates": r.duplicates, "repeats": r.repeat_locations,
                  "rows_in_db_before": before, "rows_in_db": n,
                  "new_batches": store.count_rows(engine, "import_batches") - batches,
                  "batch_counts": list(batch), "peak_rss_mb": peak_mb()}}))
"""


def run_import(db: Path, csv: Path, trace: bool = False) -> tuple[dict, float]:
    """Import in a child process: (its result, its peak RSS in MB, as the child measured it)."""
    code = CHILD.format(root=str(ROOT), db=str(db), csv=str(csv), trace=trace)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if trace or proc.returncode != 0:
        sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(1)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out, float(out["peak_rss_mb"])


def accounting_errors(out: dict, rows: int, planted: dict[str, int]) -> list[str]:
    """What is wrong with the import's accounting (empty when every row is accounted for).

    Every row imported or rejected; the reasons add up to the rejected rows and match the bad
    rows planted (exactly, except points 5 km out, a few of which lie within the 500 m
    tolerance of the district's outline, and repeated ids, whose kept copy may fail another
    check); the store grew by the imported rows in one batch whose counts agree.
    """
    errors = []
    if out["imported"] + out["rejected"] != out["total"] or out["total"] != rows:
        errors.append(
            f"{out['imported']} imported + {out['rejected']} rejected != {out['total']} total"
            f" (file: {rows} rows)"
        )
    reasons = out["reasons"]
    if sum(reasons.values()) != out["rejected"]:
        errors.append(f"reasons count {sum(reasons.values())} rows, rejected {out['rejected']}")
    names = {
        "no coordinates": "no coordinates",
        "coordinates are not numbers": "coordinates are not numbers",
        "missing or unreadable occurred_at": "missing or unreadable occurred_at",
        "occurred_at is in the future": "occurred_at is in the future",
        "unknown category": "unknown category: 其他问题",
        "outside": "outside the district (more than 500 m)",
        "duplicate external_id in the file": "duplicate external_id in the file",
    }
    for kind, count in planted.items():
        got = reasons.get(names[kind], 0)
        loose = kind in ("outside", "duplicate external_id in the file")
        if (not loose and got != count) or (loose and not 0.95 * count <= got <= count):
            errors.append(f"{kind}: {got} rejected, {count} planted")
    unexpected = set(reasons) - set(names.values())
    if unexpected:
        errors.append(f"unexpected reasons: {sorted(unexpected)}")
    if out["rows_in_db"] != out["rows_in_db_before"] + out["imported"]:
        errors.append(
            f"store holds {out['rows_in_db']} incidents, expected "
            f"{out['rows_in_db_before']} + {out['imported']}"
        )
    if out["new_batches"] != 1 or out["batch_counts"] != [
        out["total"],
        out["imported"],
        out["rejected"],
    ]:
        errors.append(f"import batches: {out['new_batches']} new, counts {out['batch_counts']}")
    return errors


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--encoding", default="utf-8", choices=["utf-8", "gbk"])
    parser.add_argument(
        "--max-rss-mb", type=float, default=2048, help="fail above this peak RSS (0: no limit)"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=0, help="fail above this import time (0: no limit)"
    )
    parser.add_argument(
        "--trace", action="store_true", help="print RSS and peak RSS after each import step"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = tmp / "demo.db"
        t0 = time.perf_counter()
        make_demo_db(db)
        csv = tmp / "incidents.csv"
        planted = make_csv(db, csv, args.rows, args.encoding)
        print(f"setup (demo db + {args.rows:,}-row file, {csv.stat().st_size / 1e6:.0f} MB): "
              f"{time.perf_counter() - t0:.1f} s", flush=True)  # fmt: skip
        out, peak_mb = run_import(db, csv, trace=args.trace)
        print(json.dumps(out, ensure_ascii=False), flush=True)
        print(f"planted bad rows: {json.dumps(planted, ensure_ascii=False)}")
        ours = out["seconds"]
        print(
            f"import: {ours:.1f} s, {args.rows / ours:,.0f} rows/s, peak RSS {peak_mb:,.0f} MB"
            f" (targets: 60 s, 2048 MB)",
            flush=True,
        )
        errors = accounting_errors(out, args.rows, planted)
        if args.max_rss_mb and peak_mb > args.max_rss_mb:
            errors.append(f"peak RSS {peak_mb:.0f} MB > {args.max_rss_mb:.0f} MB")
        if args.max_seconds and ours > args.max_seconds:
            errors.append(f"import took {ours:.1f} s > {args.max_seconds:.0f} s")
        t1 = time.perf_counter()
        peer = pd.read_csv(
            csv,
            sep=None,
            engine="python",
            dtype=str,
            encoding=args.encoding.replace("gbk", "gb18030"),
        )
        peer_s = time.perf_counter() - t1
        if len(peer) != args.rows:
            errors.append(f"peer read {len(peer)} rows, expected {args.rows}")
        del peer
    print(
        result_line(
            "intake",
            ours,
            "pandas_read_csv_sniff_only",
            peer_s,
            rows=args.rows,
            rows_per_s=int(args.rows / ours),
            peak_rss_mb=int(peak_mb),
            imported=out["imported"],
            rejected=out["rejected"],
            duplicates=out["duplicates"],
            repeats=out["repeats"],
            encoding=args.encoding,
            ok=not errors,
        )
    )
    for error in errors:
        print(f"FAILED: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
