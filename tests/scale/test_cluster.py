"""The LocalCluster starts from inside a Streamlit page, whose ``__main__`` is the page script."""

from __future__ import annotations

import sys
import types

from gis.scale.cluster import client_for


def test_workers_start_when_main_is_a_script_that_cannot_run_twice(tmp_path, monkeypatch):
    # Streamlit's script runner leaves sys.modules["__main__"] = the page module; a spawned
    # worker re-imports __main__ from its file: this one refuses, as a page outside Streamlit would
    page = tmp_path / "page.py"
    page.write_text("raise RuntimeError('a Streamlit page run outside Streamlit')\n")
    fake = types.ModuleType("__main__")
    fake.__file__ = str(page)
    monkeypatch.setitem(sys.modules, "__main__", fake)
    with client_for("dask", workers=1, memory_limit="1GB") as client:
        assert client.submit(sum, [1, 2, 3]).result(timeout=60) == 6
    assert sys.modules["__main__"] is fake
