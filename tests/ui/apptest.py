"""AppTest harness shared by the page tests: the app on the demo district, signed in.

at = sign_in(new_app(), "analyst", "analyst-demo")
metrics(at)["本周新增事件"]
"""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def new_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="signin_username").input(username)
    at.text_input(key="signin_password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}
