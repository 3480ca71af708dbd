"""Browser test harness: a real ``streamlit run app.py`` driven by Debian's headless Chromium.

Every page test uses it the same way::

    with streamlit_server(db) as url, chromium_page(url) as (page, guard):
        ...
        guard.check()         # no exception shown, no request left 127.0.0.1

Screenshots go to ``$GRIDLENS_ARTIFACTS/screenshots`` (CI keeps the folder).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("GRIDLENS_CHROMIUM", "/usr/bin/chromium")
LOCAL_PREFIXES = ("http://127.0.0.1", "http://localhost", "ws://127.0.0.1", "ws://localhost")
LOCAL_PREFIXES += ("data:", "blob:", "about:")


def require_browser() -> None:
    """Skip (or fail in CI) when Chromium or Playwright is missing."""
    required = bool(os.environ.get("GRIDLENS_REQUIRE_BROWSER"))
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install playwright)")
    if missing:
        message = "browser tests need " + ", ".join(missing)
        if required:
            pytest.fail(message)
        pytest.skip(message)


def screenshot_dir() -> Path:
    out = Path(os.environ.get("GRIDLENS_ARTIFACTS", ROOT / "artifacts")) / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_streamlit(script: str | Path, env: dict, log_dir: Path) -> tuple:
    """Start ``streamlit run script`` on a port free just now: ``(proc, url, log)``; its log is
    ``streamlit-<xdist worker>-<port>.log`` in ``log_dir``."""
    port = _free_port()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    log = open(log_dir / f"streamlit-{worker}-{port}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(script),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return proc, f"http://127.0.0.1:{port}", log


def _port_taken(log) -> bool:
    log.flush()
    text = Path(log.name).read_text(errors="replace")
    return "is not available" in text or "already in use" in text


@contextlib.contextmanager
def streamlit_server(db: str, timeout_s: float = 90, script: str | Path | None = None):
    """Run ``streamlit run app.py`` on a free port against database ``db``; yield its URL.

    ``script`` runs another Streamlit script instead of ``app.py`` (e.g. one under
    ``tests/viz/apps/``), still with the repository root as working directory. Streamlit serves
    ``/app/static`` from the ``static/`` folder beside the script, so such a folder needs a
    ``static`` symlink to the repository's (``tests/viz/apps/static`` is one).

    The port is free when chosen but may be bound by another process (a parallel test worker)
    before Streamlit binds it: Streamlit then exits saying so, and a new port is tried.
    """
    env = {**os.environ, "GRIDLENS_DB": db}
    script = script if script is not None else ROOT / "app.py"
    deadline = time.monotonic() + timeout_s
    proc, url, log = _start_streamlit(script, env, screenshot_dir().parent)
    try:
        attempts = 1
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None and attempts < 3 and _port_taken(log):
                log.close()
                proc, url, log = _start_streamlit(script, env, screenshot_dir().parent)
                attempts += 1
                continue
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start (see {log.name})")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@dataclass
class Guard:
    """Collects what a page did that a test must refuse: outside requests, shown exceptions."""

    page: object
    external: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def settle(self, timeout_ms: int = 90_000, extra_ms: int = 1500) -> None:
        """Wait until the script has finished running and the page has drawn."""
        page = self.page
        page.wait_for_selector("[data-testid='stApp']", timeout=timeout_ms)
        page.wait_for_timeout(300)
        page.wait_for_selector(
            "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout_ms
        )
        page.wait_for_timeout(extra_ms)

    def check(self) -> None:
        """Fail on any exception box on the page or any request that left 127.0.0.1."""
        shown = self.page.locator("[data-testid='stException']")
        assert shown.count() == 0, shown.first.inner_text()
        assert not self.external, f"requests left 127.0.0.1: {self.external[:5]}"

    def screenshot(self, name: str) -> Path:
        path = screenshot_dir() / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@contextlib.contextmanager
def chromium_page(url: str, width: int = 1500, height: int = 1100):
    """Open ``url`` in headless Chromium; yield ``(page, guard)``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
            guard = Guard(page)

            def on_request(request):
                if not request.url.startswith(LOCAL_PREFIXES):
                    guard.external.append(request.url)

            page.on("request", on_request)
            page.on(
                "console",
                lambda m: guard.console_errors.append(m.text) if m.type == "error" else None,
            )
            page.goto(url)
            guard.settle()
            yield page, guard
        finally:
            browser.close()
