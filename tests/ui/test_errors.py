"""The one error guard (gis.ui.errors): which message a page shows for which exception."""

from __future__ import annotations

import logging

import pytest
from streamlit.testing.v1 import AppTest

from gis import ui
from gis.core.errors import EditConflict, GridLensError, InputError, StoreError


def guarded_page():
    """A page that raises what ``session_state["raise"]`` names inside the guards."""
    import streamlit as st

    from gis import ui
    from gis.core.errors import InputError, StoreError

    def boom(kind: str):
        if kind == "input":
            raise InputError("shift '9-5pm' does not parse")
        if kind == "store":
            raise StoreError("database is locked")
        if kind == "bug":
            raise KeyError("/srv/gridlens/secret/path.db")

    kind = st.session_state.get("raise", "")
    with ui.guard() as outcome:
        boom(kind)
    st.write(f"failed={outcome.failed}")

    @ui.guard("hotspots.error")
    def panel() -> str:
        boom(kind)
        return "panel ran"

    st.write(f"panel={panel()}")
    with ui.guard(stop=True):
        boom(kind)
    st.write("reached the end")


def run(kind: str) -> AppTest:
    at = AppTest.from_function(guarded_page, default_timeout=30)
    at.session_state["raise"] = kind
    at.run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def test_nothing_raised_nothing_shown():
    at = run("")
    assert not at.error and not at.warning
    assert texts(at.markdown) == ["failed=False", "panel=panel ran", "reached the end"]


def test_input_error_is_a_warning_with_its_message():
    at = run("input")
    assert not at.error
    assert texts(at.warning) == [
        "shift '9-5pm' does not parse",
        "无法计算：shift '9-5pm' does not parse",  # the panel's catalogue text
        "shift '9-5pm' does not parse",
    ]
    # the block and the panel go on; stop=True stops the page
    assert texts(at.markdown) == ["failed=True", "panel=None"]


def test_other_library_errors_are_errors():
    at = run("store")
    assert not at.warning
    assert texts(at.error)[0] == "database is locked"
    assert len(at.error) == 3


def test_a_bug_is_a_short_error_without_its_message_and_is_logged(caplog):
    with caplog.at_level(logging.ERROR, logger="gis.ui"):
        at = run("bug")
    shown = texts(at.error)
    assert len(shown) == 3
    assert "KeyError" in shown[0] and "/srv" not in shown[0] and "secret" not in shown[0]
    logged = [r for r in caplog.records if r.name == "gis.ui"]
    assert logged and "secret/path.db" in str(logged[0].exc_info[1])


def test_english_text_follows_the_language():
    at = AppTest.from_function(guarded_page, default_timeout=30)
    at.session_state["raise"] = "bug"
    at.session_state["lang"] = "en"
    at.run()
    assert at.error[0].value.startswith("Something went wrong (KeyError)")


class FakeStreamlit:
    """Records st.warning / st.error calls (the guard's only outputs)."""

    def __init__(self):
        self.shown: list[tuple[str, str]] = []

    def warning(self, text):
        self.shown.append(("warning", text))

    def error(self, text):
        self.shown.append(("error", text))

    def stop(self):
        raise AssertionError("not stopped in these cases")


@pytest.mark.parametrize(
    "exc, level",
    [
        (InputError("x"), "warning"),
        (StoreError("x"), "error"),
        (EditConflict("x"), "error"),
        (GridLensError("x"), "error"),
        (ValueError("x"), "error"),
    ],
)
def test_one_map_from_exception_class_to_message(exc, level, monkeypatch):
    fake = FakeStreamlit()
    monkeypatch.setattr("gis.ui.errors.st", fake)
    with ui.guard() as outcome:
        raise exc
    assert outcome.failed and outcome.error is exc
    assert [lvl for lvl, _ in fake.shown] == [level]


def test_streamlit_control_flow_passes_through(monkeypatch):
    """st.stop / st.rerun raise BaseExceptions that the guard must not swallow."""
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    fake = FakeStreamlit()
    monkeypatch.setattr("gis.ui.errors.st", fake)
    with pytest.raises(StopException), ui.guard():
        raise StopException()
    assert fake.shown == []
