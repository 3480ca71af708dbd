"""Sessions in the app (issue 19 Medium lockout/expiry, issue 20 Sessions): a reload keeps the
user signed in, sign-out ends the session, repeated failures lock with a message, the policy is
stated on the sign-in page, a grid admin's grid filter starts at their own grid. (Idle expiry
is tested in the library, tests/test_signin_lockout.py, on both backends.)"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from gis import auth, store, ui
from tests.ui.apptest import APP, new_app, sign_in


def _token(at) -> str:
    return at.session_state[ui.TOKEN_KEY]


def test_a_reload_keeps_the_user_signed_in(page_db):
    at = sign_in(new_app(), "analyst", "analyst-demo")
    token = _token(at)
    assert token in str(at.query_params[ui.TOKEN_PARAM])  # in the URL: a reload keeps it
    # a reload: a new browser session with the same URL
    reload = AppTest.from_file(APP, default_timeout=180)
    reload.query_params[ui.TOKEN_PARAM] = token
    reload.run()
    assert not reload.exception
    assert not [t for t in reload.text_input if t.key == "signin_username"]
    assert reload.session_state[ui.USER_KEY].username == "analyst"
    # a forged token signs nobody in
    forged = AppTest.from_file(APP, default_timeout=180)
    forged.query_params[ui.TOKEN_PARAM] = "x" * 43
    forged.run()
    assert [t for t in forged.text_input if t.key == "signin_username"]


def test_sign_out_ends_the_session(page_db):
    at = sign_in(new_app(), "analyst", "analyst-demo")
    token = _token(at)
    at.button(key="signout").click().run()
    assert auth.resume_session(store.open_store(page_db), token) is None


def test_repeated_failures_lock_with_a_message_and_the_policy_is_shown(page_db):
    at = new_app()
    policy = f"连续 {auth.LOCKOUT_FAILURES} 次密码错误将锁定账号"
    assert any(policy in c.value for c in at.caption)
    for _ in range(auth.LOCKOUT_FAILURES):
        sign_in(at, "leader", "wrong-password")
    assert any("登录失败次数过多" in e.value for e in at.error)
    sign_in(at, "leader", "leader-demo")  # the right password while locked
    assert [t for t in at.text_input if t.key == "signin_username"]
    assert any("登录失败次数过多" in e.value for e in at.error)


@pytest.mark.parametrize(("username", "mine"), [("gridadmin", True), ("analyst", False)])
def test_a_grid_admins_grid_filter_starts_at_their_grid(page_db, username, mine):
    at = sign_in(new_app(), username, f"{username}-demo")
    user = auth.get_user(store.open_store(page_db), username)
    expected = user.grid_codes[0] if mine else ""
    assert at.session_state["flt_grid"] == expected
