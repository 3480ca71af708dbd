"""Not local by default (issue 19, Medium): the app listens on 127.0.0.1 unless told otherwise
and Streamlit never asks checkip.amazonaws.com for an external address at start."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest
from streamlit import config, net_util
from streamlit.web import bootstrap

ROOT = Path(__file__).resolve().parents[2]


def test_config_binds_localhost_and_sends_nothing():
    conf = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert conf["server"]["address"] == "127.0.0.1"
    assert conf["browser"]["gatherUsageStats"] is False
    assert conf["browser"]["serverAddress"]  # set: no external-address lookup


def test_start_banner_never_looks_up_the_external_address(monkeypatch):
    """Streamlit's own start-up path with the project's config: ``get_external_ip`` (the
    checkip.amazonaws.com request) must not be called, even with headless on."""
    calls = []
    monkeypatch.setattr(net_util, "get_external_ip", lambda: calls.append(1) or None)
    monkeypatch.chdir(ROOT)
    config.get_config_options(force_reparse=True)
    try:
        assert config.get_option("server.address") == "127.0.0.1"
        bootstrap._print_url(False)
    finally:
        monkeypatch.undo()
        config.get_config_options(force_reparse=True)
    assert calls == []


@pytest.mark.parametrize(
    ("args", "address"), [([], "127.0.0.1"), (["--address", "0.0.0.0"], "0.0.0.0")]
)
def test_scripts_app_passes_the_address(tmp_path, args, address):
    """``scripts/app`` runs from a copy whose setup, gridlens and python are recorders."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "app").write_text((ROOT / "scripts" / "app").read_text())
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    log = tmp_path / "calls.txt"
    for name in ("scripts/setup", ".venv/bin/gridlens", ".venv/bin/python"):
        stub = tmp_path / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\n')
        stub.chmod(0o755)
    (tmp_path / "scripts" / "app").chmod(0o755)
    subprocess.run([str(tmp_path / "scripts" / "app"), *args], check=True, env=dict(os.environ))
    run = [line for line in log.read_text().splitlines() if "streamlit run" in line]
    assert len(run) == 1 and f"--server.address {address}" in run[0]
