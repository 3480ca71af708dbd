"""The real app at a district's volume: every page in Chromium on 1M (and 5M) imported incidents.

For each size N the benchmark builds a SpatiaLite database the way a user would: the demo
district (``python -m gis demo --seed 42 --track-days 1``: grids, staff, streets, one day of
tracks, the demo's 164,549 incidents, the demo accounts), then ``python -m gis incidents
import`` of generated CSV files (the intake benchmark's generator: Chinese headers, positions
and categories drawn from the demo's incidents, jittered ~30 m, times over five years ending
with the demo's year, no bad rows) of at most 1,000,000 rows each, until the store holds N
incidents. The import's wall time and peak RSS (the CLI process, sampled) are printed.

Then the real app (``streamlit run app.py``, headless, free port on 127.0.0.1, ``GRIDLENS_DB``
pointing at the database) is driven in Debian's Chromium (Playwright): sign in as admin (the
home page's first render), every other page from the sidebar (cold: the server's first visit),
every page again (warm), and a filter change on the home page (one category from the sidebar).
A step's time is from the click to the app's script state turning ``notRunning`` for good
(watched in the page by a MutationObserver; a rerun within 1 s counts to the step); the server's
CPU seconds during the step are printed beside it (``cpu_s``: on a shared machine, what the step
costs the server, whatever else runs). The
server's RSS (psutil: the server and its children) is sampled every 0.2 s; printed are its peak
and the value after each step. At the largest size, 4 more sessions (browser contexts, all kept
open) sign in and visit every page: the RSS with 5 sessions.

The peer is today's in-memory app: ``--peer-ref`` (default ``0c15d11``, main before the pages
moved onto the cube) checked out with ``git worktree add`` into a temporary folder and served
the same way, on the same database, in the same run (one server at a time). Its schema revision
is stamped as the database's while it runs (newer migrations only add). ``--ours-ref`` serves
another commit as "ours" (e.g. a branch before it is merged; default: this checkout).

With ``GRIDLENS_BENCH_PG_URL`` (a PostgreSQL server URL whose user may create databases) each
size is also built and measured in a fresh PostGIS database (dropped afterwards).

    python benchmarks/bench_app_scale.py [--sizes 1000000,5000000] [--quick]
        [--peer-ref 0c15d11] [--ours-ref REF] [--no-peer] [--sessions 5]
        [--keep DIR [--reuse] [--build-only]]

``--quick``: 220,000 incidents (the demo's and an import of ~55,000), two pages, two sessions:
a smoke run.
Targets (issue 13, SpatiaLite, 2 cores): 1M: first render <= 3 s, filter change <= 1 s, RSS
<= 1 GB; 5M: first render <= 5 s, filter change <= 1.5 s, RSS <= 1.5 GB with 5 sessions.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from benchmarks._common import result_line  # noqa: E402
from benchmarks.bench_intake import make_csv  # noqa: E402
from gis import store  # noqa: E402

CHROMIUM = os.environ.get("GRIDLENS_CHROMIUM", "/usr/bin/chromium")
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")
#: (url name, sidebar title in Chinese) of every page an admin sees, in the sidebar's order
PAGES = [
    ("home", "首页"),
    ("patrol", "巡查覆盖"),
    ("hotspots", "热点分析"),
    ("rectification", "联合整治"),
    ("grids", "网格管理"),
    ("data", "数据导入导出"),
    ("users", "用户管理"),
]
QUICK_PAGES = ("home", "hotspots")
#: --quick: the demo's 164,549 incidents and an import of ~55,000
QUICK_SIZE = 220_000
ADMIN = ("admin", "admin-demo")
#: incidents per generated CSV file (one import each)
FILE_ROWS = 1_000_000
STEP_TIMEOUT_MS = 900_000
#: watches the app's script state; a step ends when it is notRunning and stays so for 1 s
WATCH_JS = """() => {
  window.__gl = window.__gl || [];
  if (window.__glWatch) return;
  const app = document.querySelector("[data-testid='stApp']");
  window.__glWatch = new MutationObserver(() => window.__gl.push(
    [app.getAttribute('data-test-script-state'), performance.now()]));
  window.__glWatch.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
DONE_JS = """(quiet) => {
  const s = window.__gl; const now = performance.now();
  const app = document.querySelector("[data-testid='stApp']");
  if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (!s.some(x => x[0] !== 'notRunning')) return false;
  const last = s[s.length - 1];
  return last[0] === 'notRunning' && now - last[1] >= quiet;
}"""


# ------------------------------------------------------------------------------ processes
def run(cmd: list[str], root: Path, db: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRIDLENS_DB": db, "PYTHONPATH": str(root)}
    return subprocess.run(cmd, cwd=root, env=env, check=True, **kw)


def tree_cpu_s(proc: psutil.Process) -> float:
    """CPU seconds (user + system) of a process and its live children."""
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def tree_rss_mb(proc: psutil.Process) -> float:
    """RSS of a process and all its children, MB."""
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total / 2**20


class RssSampler:
    """Samples a process tree's RSS every ``every_s`` seconds in a thread; keeps the peak."""

    def __init__(self, pid: int, every_s: float = 0.2):
        self.proc = psutil.Process(pid)
        self.peak = 0.0
        self.cpu_last = 0.0
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mb(self.proc))
            self.cpu_last = max(self.cpu_last, tree_cpu_s(self.proc))
            self._stop.wait(self.every_s)

    def cpu(self) -> float:
        """CPU seconds used so far by the process tree."""
        return tree_cpu_s(self.proc)

    def now(self) -> float:
        value = tree_rss_mb(self.proc)
        self.peak = max(self.peak, value)
        return value

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def timed_cli(cmd: list[str], root: Path, db: str, log: Path) -> tuple[float, float, float]:
    """Run a CLI command; (wall seconds, peak RSS MB and CPU seconds, sampled every 0.2 s)."""
    env = {**os.environ, "GRIDLENS_DB": db, "PYTHONPATH": str(root)}
    t0 = time.perf_counter()
    with open(log, "a") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
        with RssSampler(proc.pid) as rss:
            code = proc.wait()
    if code != 0:
        sys.stdout.write(log.read_text()[-3000:])
        raise SystemExit(f"{' '.join(cmd)} failed (exit {code})")
    return time.perf_counter() - t0, rss.peak, rss.cpu_last


# ------------------------------------------------------------------------------ databases
def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@contextlib.contextmanager
def postgis_database(server_url: str):
    """A fresh database on the PostGIS server (dropped afterwards); yields its URL."""
    url = sa.engine.make_url(server_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg2")
    name = f"gl_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def count_incidents(db: str) -> int:
    engine = store.make_engine(db)
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT COUNT(*) FROM incidents")).scalar()
    engine.dispose()
    return int(n)


def build_database(root: Path, db: str, size: int, work: Path, demo: bool = True) -> dict:
    """The demo district (unless ``demo`` is False: a database that holds it already), then
    CLI imports of generated files up to ``size`` incidents."""
    py = sys.executable
    log = work / "build.log"
    t0 = time.perf_counter()
    if demo:
        run([py, "-m", "gis", "demo", "--seed", "42", "--track-days", "1"], root, db,
            stdout=open(log, "a"), stderr=subprocess.STDOUT)  # fmt: skip
    demo_s = time.perf_counter() - t0 if demo else math.nan
    have = count_incidents(db)
    need = max(0, size - have)
    import_s, import_peak, files = 0.0, 0.0, 0
    done = 0
    while done < need:
        rows = min(FILE_ROWS, need - done)
        csv = work / f"incidents_{files}.csv"
        make_csv(db, csv, rows, "utf-8", seed=100 + files, start="2021-11-01",
                 days=5 * 365, bad_rows=False, first_id=done)  # fmt: skip
        secs, peak, cpu = timed_cli(
            [py, "-m", "gis", "incidents", "import", str(csv)], root, db, log
        )
        csv.unlink()
        print(f"  import {files + 1}: {rows:,} rows in {secs:.1f} s ({cpu:.1f} CPU s),"
              f" peak RSS {peak:,.0f} MB",
              flush=True)  # fmt: skip
        import_s += secs
        import_peak = max(import_peak, peak)
        done += rows
        files += 1
    n = count_incidents(db)
    return {"incidents": n, "demo_s": demo_s, "import_s": import_s,
            "import_rows": done, "import_peak_mb": import_peak, "files": files}  # fmt: skip


def schema_head(root: Path) -> str:
    code = "from gis.store import migrate; print(migrate.head())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


@contextlib.contextmanager
def stamped(db: str, revision: str):
    """The database's schema revision set to ``revision`` while the peer runs (an older app
    refuses a revision it does not know; newer migrations only add columns, tables, indexes)."""
    engine = store.make_engine(db)
    with engine.begin() as conn:
        before = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    try:
        yield before
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": before})
        engine.dispose()


@contextlib.contextmanager
def checkout(ref: str):
    """``git worktree add`` of ``ref`` into a temporary folder (removed afterwards)."""
    tmp = Path(tempfile.mkdtemp(prefix="gl_peer_"))
    path = tmp / "src"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT,
                       capture_output=True)  # fmt: skip
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------ the app
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(root: Path, db: str, log: Path, timeout_s: float = 120):
    """``streamlit run app.py`` of checkout ``root`` on a free port; yields (url, pid)."""
    port = free_port()
    env = {**os.environ, "GRIDLENS_DB": db, "PYTHONPATH": str(root)}
    env.pop("GRIDLENS_AUTH", None)
    out = open(log, "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(root / "app.py"),
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start (see {log})")
            time.sleep(0.3)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        out.close()


@dataclass
class Drive:
    """What one server did: seconds per step, RSS after each step, problems seen."""

    cold: dict[str, float] = field(default_factory=dict)
    #: the server's CPU seconds during each step: what the step costs on an idle machine
    cold_cpu: dict[str, float] = field(default_factory=dict)
    warm_cpu: dict[str, float] = field(default_factory=dict)
    filter_cpu: float = math.nan
    warm: dict[str, float] = field(default_factory=dict)
    rss_after: dict[str, float] = field(default_factory=dict)
    filter_s: float = math.nan
    rss_mb: float = math.nan
    peak_mb: float = math.nan
    sessions_rss_mb: float = math.nan
    sessions_peak_mb: float = math.nan
    exceptions: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)


def _step(page, action, timeout_ms: int = STEP_TIMEOUT_MS) -> float:
    """Seconds from ``action()`` to the script state settling at ``notRunning``."""
    page.evaluate(WATCH_JS)
    page.evaluate("() => { window.__gl = []; }")
    t0 = page.evaluate("performance.now()")
    action()
    page.wait_for_function(DONE_JS, arg=1000, timeout=timeout_ms, polling=100)
    end = page.evaluate("window.__gl[window.__gl.length - 1][1]")
    return (end - t0) / 1000.0


def _sign_in(page) -> float:
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']",
                           timeout=STEP_TIMEOUT_MS)  # fmt: skip
    page.get_by_label("用户名").fill(ADMIN[0])
    page.get_by_label("密码").fill(ADMIN[1])
    return _step(page, lambda: page.get_by_role("button", name="登录").click())


def _visit(page, title: str) -> float:
    link = page.locator("[data-testid='stSidebarNav']").get_by_text(title, exact=True)
    return _step(page, lambda: link.first.click())


def _exceptions(page, where: str, drive: Drive) -> None:
    shown = page.locator("[data-testid='stException']")
    if shown.count():
        drive.exceptions.append(f"{where}: {shown.first.inner_text()[:300]}")


def _filter_change(page) -> float:
    """One category from the sidebar's category filter (on the page shown)."""
    side = page.locator("[data-testid='stSidebar']")
    box = side.locator("[data-testid='stMultiSelect'] input").first
    box.click()
    box.fill("05-05")
    page.wait_for_timeout(400)
    took = _step(page, lambda: page.keyboard.press("Enter"))
    page.keyboard.press("Escape")
    return took


def _new_page(browser, drive: Drive):
    context = browser.new_context(viewport={"width": 1500, "height": 1100}, locale="zh-CN")
    page = context.new_page()
    page.on("request", lambda r: None if r.url.startswith(LOCAL) else drive.external.append(r.url))
    return context, page


def drive_app(url: str, pid: int, pages: list[tuple[str, str]], sessions: int) -> Drive:
    """Sign in, every page cold then warm, a filter change; then more sessions."""
    from playwright.sync_api import sync_playwright

    drive = Drive()
    with sync_playwright() as pw, RssSampler(pid) as rss:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"],
        )  # fmt: skip
        contexts = []
        try:
            context, page = _new_page(browser, drive)
            contexts.append(context)
            page.goto(url)
            c0 = rss.cpu()
            drive.cold["home"] = _sign_in(page)
            drive.cold_cpu["home"] = rss.cpu() - c0
            drive.rss_after["home"] = rss.now()
            _exceptions(page, "home cold", drive)
            print(f"    home cold {drive.cold['home']:.2f} s ({drive.cold_cpu['home']:.2f} CPU s),"
                  f" RSS {rss.now():,.0f} MB", flush=True)  # fmt: skip
            for name, title in pages[1:]:
                c0 = rss.cpu()
                drive.cold[name] = _visit(page, title)
                drive.cold_cpu[name] = rss.cpu() - c0
                drive.rss_after[name] = rss.now()
                _exceptions(page, f"{name} cold", drive)
                print(f"    {name} cold {drive.cold[name]:.2f} s ({drive.cold_cpu[name]:.2f} CPU s),"
                      f" RSS {rss.now():,.0f} MB",
                      flush=True)  # fmt: skip
            for name, title in pages:
                c0 = rss.cpu()
                drive.warm[name] = _visit(page, title)
                drive.warm_cpu[name] = rss.cpu() - c0
                _exceptions(page, f"{name} warm", drive)
            print("    warm: " + ", ".join(f"{k} {v:.2f} s ({drive.warm_cpu[k]:.2f} CPU s)"
                                        for k, v in drive.warm.items()),
                  flush=True)  # fmt: skip
            _visit(page, pages[0][1])
            c0 = rss.cpu()
            drive.filter_s = _filter_change(page)
            drive.filter_cpu = rss.cpu() - c0
            _exceptions(page, "home filtered", drive)
            print(f"    filter change {drive.filter_s:.2f} s ({drive.filter_cpu:.2f} CPU s)",
                  flush=True)  # fmt: skip
            drive.rss_mb = rss.now()
            drive.peak_mb = rss.peak
            for k in range(1, sessions):
                context, other = _new_page(browser, drive)
                contexts.append(context)
                other.goto(url)
                _sign_in(other)
                for _name, title in pages[1:]:
                    _visit(other, title)
                _exceptions(other, f"session {k + 1}", drive)
            if sessions > 1:
                drive.sessions_rss_mb = rss.now()
                drive.sessions_peak_mb = rss.peak
                print(f"    {sessions} sessions: RSS {drive.sessions_rss_mb:,.0f} MB"
                      f" (peak {drive.sessions_peak_mb:,.0f} MB)", flush=True)  # fmt: skip
        except Exception as exc:  # a page that never settles: report what was measured
            drive.exceptions.append(f"driver: {type(exc).__name__}: {str(exc)[:300]}")
            print(f"    FAILED: {drive.exceptions[-1]}", flush=True)
        finally:
            for context in contexts:
                with contextlib.suppress(Exception):
                    context.close()
            browser.close()
    return drive


def measure(label: str, root: Path, db: str, pages, sessions: int, work: Path) -> Drive:
    print(f"  {label}: serving {root}", flush=True)
    with serve(root, db, work / f"streamlit-{label}.log") as (url, pid):
        return drive_app(url, pid, pages, sessions)


# ------------------------------------------------------------------------------ report
def _fmt(v: float) -> str:
    return "nan" if v is None or math.isnan(v) else f"{v:.2f}"


def report(tag: str, size: int, build: dict, ours: Drive, peer: Drive | None, peer_name: str,
           pages) -> list[str]:  # fmt: skip
    """RESULT lines: one per page (cold; warm, RSS after the page as extras), the filter
    change, and the server (RSS, peak, sessions)."""
    lines = []
    nan = float("nan")
    p = peer or Drive()

    def line(name, ours_s, peer_s, **extra):
        ours_s = ours_s if ours_s == ours_s and ours_s else nan
        if math.isnan(ours_s):
            return (f"RESULT name={name} ours_s=nan peer={peer_name} peer_s={_fmt(peer_s)} ratio=nan "
                    + " ".join(f"{k}={v}" for k, v in extra.items()))  # fmt: skip
        return result_line(name, ours_s, peer_name, peer_s if peer_s == peer_s else nan, **extra)

    for name, _ in pages:
        lines.append(line(
            f"app_scale_{tag}_{name}_cold", ours.cold.get(name, nan), p.cold.get(name, nan),
            warm_s=_fmt(ours.warm.get(name, nan)), peer_warm_s=_fmt(p.warm.get(name, nan)),
            cpu_s=_fmt(ours.cold_cpu.get(name, nan)), peer_cpu_s=_fmt(p.cold_cpu.get(name, nan)),
            warm_cpu_s=_fmt(ours.warm_cpu.get(name, nan)),
            peer_warm_cpu_s=_fmt(p.warm_cpu.get(name, nan)),
            rss_mb=int(ours.rss_after.get(name, 0)), peer_rss_mb=int(p.rss_after.get(name, 0)),
            incidents=size,
        ))  # fmt: skip
    lines.append(line(
        f"app_scale_{tag}_filter_change", ours.filter_s, p.filter_s,
        cpu_s=_fmt(ours.filter_cpu), peer_cpu_s=_fmt(p.filter_cpu), incidents=size,
    ))  # fmt: skip
    worst = max(ours.cold.values(), default=nan)
    peer_worst = max(p.cold.values(), default=nan)
    lines.append(line(
        f"app_scale_{tag}_server", worst, peer_worst,
        rss_mb=_fmt(ours.rss_mb), peer_rss_mb=_fmt(p.rss_mb),
        peak_rss_mb=_fmt(ours.peak_mb), peer_peak_rss_mb=_fmt(p.peak_mb),
        sessions_rss_mb=_fmt(ours.sessions_rss_mb), peer_sessions_rss_mb=_fmt(p.sessions_rss_mb),
        import_s=_fmt(build["import_s"]), import_rows=build["import_rows"],
        import_peak_rss_mb=int(build["import_peak_mb"]), incidents=build["incidents"],
        exceptions=len(ours.exceptions), peer_exceptions=len(p.exceptions),
        external_requests=len(ours.external) + len(p.external),
    ))  # fmt: skip
    return lines


def bench_size(size, backend, db, work, args, ours_root, peer_root, pages, sessions) -> list[str]:
    tag = f"{backend}_{size // 1000}k"
    print(f"== {size:,} incidents, {backend}", flush=True)
    t0 = time.perf_counter()
    reuse = args.reuse and db.startswith("sqlite") and Path(db.removeprefix("sqlite:///")).exists()
    if reuse:
        print(f"  reusing {db} ({count_incidents(db):,} incidents)", flush=True)
    build = build_database(ours_root, db, size, work, demo=not reuse)
    print(f"  database: {build['incidents']:,} incidents (demo {build['demo_s']:.0f} s, "
          f"{build['import_rows']:,} rows imported in {build['import_s']:.1f} s, peak RSS "
          f"{build['import_peak_mb']:,.0f} MB), {time.perf_counter() - t0:.0f} s in all",
          flush=True)  # fmt: skip
    if args.build_only:
        return []
    # the schema at ours' head before the server starts (a migration is not a page's render)
    run([sys.executable, "-m", "gis", "migrate", "up"], ours_root, db, capture_output=True)
    ours = measure("ours", ours_root, db, pages, sessions, work)
    peer = None
    if peer_root is not None:
        with stamped(db, schema_head(peer_root)):
            peer = measure("peer", peer_root, db, pages, sessions, work)
    for who, d in (("ours", ours), ("peer", peer)):
        for problem in d.exceptions if d else []:
            print(f"  {who} PROBLEM: {problem}", flush=True)
        if d and d.external:
            print(f"  {who}: requests left 127.0.0.1: {d.external[:5]}", flush=True)
    return report(tag, build["incidents"], build, ours, peer, f"inmemory_{args.peer_ref}", pages)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000", help="comma-separated incident counts")
    parser.add_argument("--quick", action="store_true", help="220k incidents, 2 pages, 2 sessions")
    parser.add_argument("--peer-ref", default="0c15d11", help="commit of the in-memory app")
    parser.add_argument("--ours-ref", help="serve this commit as ours (default: this checkout)")
    parser.add_argument("--no-peer", action="store_true", help="measure ours only")
    parser.add_argument("--sessions", type=int, default=5, help="sessions at the largest size")
    parser.add_argument("--keep", help="build the databases in this folder and keep them")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --keep: start from the database there (imports up to the size)",
    )
    parser.add_argument("--build-only", action="store_true", help="build the databases, no app")
    args = parser.parse_args()
    # a terminated run still stops its server and removes its checkouts (the finally blocks)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.no_peer = args.no_peer or args.build_only
    sizes = [QUICK_SIZE] if args.quick else [int(s) for s in args.sizes.split(",")]
    pages = [p for p in PAGES if p[0] in QUICK_PAGES] if args.quick else PAGES
    sessions = 2 if args.quick else args.sessions
    pg = os.environ.get("GRIDLENS_BENCH_PG_URL")
    lines: list[str] = []
    with contextlib.ExitStack() as stack:
        ours_root = ROOT
        if args.ours_ref:
            ours_root = stack.enter_context(checkout(args.ours_ref))
        peer_root = None if args.no_peer else stack.enter_context(checkout(args.peer_ref))
        if args.keep:
            base = Path(args.keep)
            base.mkdir(parents=True, exist_ok=True)
        else:
            base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gl_app_scale_")))
        for size in sizes:
            n_sessions = sessions if size == max(sizes) else 1
            work = base / f"n{size}"
            work.mkdir(exist_ok=True)
            db_file = work / "gridlens.db"
            if not args.reuse:
                db_file.unlink(missing_ok=True)
            lines += bench_size(size, "spatialite", sqlite_url(db_file), work, args, ours_root,
                                peer_root, pages, n_sessions)  # fmt: skip
            if pg:
                with postgis_database(pg) as url:
                    lines += bench_size(size, "postgis", url, work, args, ours_root, peer_root,
                                        pages, n_sessions)  # fmt: skip
            else:
                print("(PostGIS case skipped: set GRIDLENS_BENCH_PG_URL)")
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
    if args.build_only:
        return 0
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end "
          "(shared: other work runs beside this benchmark)")  # fmt: skip
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
