"""The app shell: page setup, sign-in and roles, navigation by role, the page gate.

``app.py`` calls :func:`run_app`; every page calls :func:`page` first, which enforces the page's
permission, so a page is refused even when its URL is typed in.
"""

from __future__ import annotations

import streamlit as st

from gis import auth
from gis.ui.cache import engine
from gis.ui.errors import guard
from gis.ui.language import language_switch, md_text, t
from gis.ui.maps import basemap_switch
from gis.ui.sidebar import FILTERS_KEY, sidebar_filters

USER_KEY = "gridlens_user"
#: the session token in ``st.session_state`` and in the URL (``?s=``), so a reload (F5) or a
#: bookmark of the page keeps the user signed in until the session expires
TOKEN_KEY = "gridlens_session"
TOKEN_PARAM = "s"
_EXPIRED_KEY = "gridlens_session_expired"

#: page file (relative to ``app.py``), catalogue key of its title, icon, action it needs
PAGES = [
    ("pages/home.py", "nav.home", ":material/dashboard:", "view"),
    ("pages/patrol.py", "nav.patrol", ":material/directions_walk:", "view"),
    ("pages/hotspots.py", "nav.hotspots", ":material/local_fire_department:", "view"),
    ("pages/rectification.py", "nav.rectification", ":material/handshake:", "view"),
    ("pages/grids.py", "nav.grids", ":material/grid_on:", "view"),
    ("pages/data.py", "nav.data", ":material/upload_file:", "view"),
    ("pages/reports.py", "nav.reports", ":material/summarize:", "view_reports"),
    ("pages/cases.py", "nav.cases", ":material/assignment:", "view_cases"),
    ("pages/assessment.py", "nav.assessment", ":material/leaderboard:", "assess"),
    ("pages/users.py", "nav.users", ":material/group:", "manage_users"),
]


def _client_address() -> str | None:
    """The browser's network address as Streamlit sees it (None in tests and old versions)."""
    try:
        return st.context.ip_address
    except (AttributeError, RuntimeError):
        return None


def _resume(token: str | None) -> auth.User | None:
    """The user of session ``token`` (None when it is unknown or expired: then the sign-in
    page says the session ended) and the token kept in the session and the URL."""
    user = auth.resume_session(engine(), token)
    if user is None:
        if token:
            st.session_state[_EXPIRED_KEY] = True
        st.session_state.pop(USER_KEY, None)
        st.session_state.pop(TOKEN_KEY, None)
        if TOKEN_PARAM in st.query_params:
            del st.query_params[TOKEN_PARAM]
        return None
    st.session_state[USER_KEY] = user
    st.session_state[TOKEN_KEY] = token
    if st.query_params.get(TOKEN_PARAM) != token:
        st.query_params[TOKEN_PARAM] = token
    return user


def current_user() -> auth.User | None:
    """The signed-in user, the desktop admin when sign-in is off, else None.

    The user's session token lives in the session and in the URL (``?s=``), so a reload or a
    bookmark keeps the user signed in; every run checks it in the store (an idle or ended
    session, a disabled account or a changed role take effect at once). Opens the database
    first, so a database problem is reported before anyone signs in.
    """
    engine()
    if not auth.auth_enabled():
        return auth.current_desktop_user()
    token = st.session_state.get(TOKEN_KEY) or st.query_params.get(TOKEN_PARAM)
    if token:
        return _resume(token)
    user = st.session_state.get(USER_KEY)  # put there by the server (tests), never by a client
    if user is None:
        return None
    # re-read: a disabled account or changed role takes effect at once
    fresh = auth.get_user(engine(), user.username)
    if fresh is None or not fresh.active:
        st.session_state.pop(USER_KEY, None)
        return None
    st.session_state[USER_KEY] = fresh  # whatever was put in the session, the database decides
    return fresh


def sign_in_page() -> None:
    """The sign-in form (the only page a visitor who is not signed in can reach). After
    sign-in the app shows the page the URL asked for."""
    st.title(t("signin.title"))
    st.caption(t("signin.caption"))
    if auth.demo_accounts_present(engine()):
        st.caption(t("signin.demo_hint"))
    if st.session_state.pop(_EXPIRED_KEY, False):
        st.info(t("signin.expired", minutes=int(auth.SESSION_IDLE.total_seconds() // 60)))
    with st.form("signin"):
        username = st.text_input(t("signin.username"), key="signin_username")
        password = st.text_input(t("signin.password"), type="password", key="signin_password")
        submitted = st.form_submit_button(t("signin.submit"), type="primary")
    st.caption(
        t(
            "signin.policy",
            failures=auth.LOCKOUT_FAILURES,
            lock=int(auth.LOCKOUT_DURATION.total_seconds() // 60),
            idle=int(auth.SESSION_IDLE.total_seconds() // 60),
        )
    )
    if submitted:
        address = _client_address()
        user = auth.authenticate(engine(), username.strip(), password, address=address)
        if user is None:
            until = auth.blocked_until(engine(), username.strip(), address)
            if until is not None:
                st.error(t("signin.locked", until=f"{until:%H:%M}"))
            else:
                st.error(t("signin.failed"))
        else:
            _resume(auth.start_session(engine(), user))
            st.rerun()


def sign_out() -> None:
    """End the session (the sign-out button's callback)."""
    auth.end_session(engine(), st.session_state.pop(TOKEN_KEY, None))
    st.session_state.pop(USER_KEY, None)
    if TOKEN_PARAM in st.query_params:
        del st.query_params[TOKEN_PARAM]


def user_box(user: auth.User) -> None:
    """Who is signed in, with their role, and the sign-out button."""
    st.sidebar.markdown(f"**{md_text(user.label)}** · {t('role.' + user.role)}")
    if auth.auth_enabled():
        st.sidebar.button(t("signin.signout"), on_click=sign_out, key="signout")


def page(action: str = "view") -> auth.User:
    """Call first on every page: stops the page unless the user may ``action``."""
    user = current_user()
    if user is None or not auth.can(user, action):
        st.error(t("auth.denied"))
        st.stop()
    return user


def run_app() -> None:
    """The whole app around the pages: page setup, the language switch, sign-in (a database
    problem is one clear line), the navigation offering the pages the user's role may open,
    the global filters, then the chosen page."""
    st.set_page_config(page_title="GridLens", page_icon="🗺️", layout="wide")
    language_switch()
    with guard(stop=True):  # an unreachable or non-spatial database: one clear line
        user = current_user()
    if user is None:
        nav = st.navigation([st.Page(sign_in_page, title=t("nav.signin"), url_path="signin")])
        nav.run()
        st.stop()
    user_box(user)
    allowed = [
        st.Page(path, title=t(title), icon=icon)
        for path, title, icon, action in PAGES
        if auth.can(user, action)
    ]
    nav = st.navigation(allowed)
    home = user.grid_codes[0] if user.role == "grid_admin" and user.grid_codes else None
    st.session_state[FILTERS_KEY] = sidebar_filters(home_grid=home)
    basemap_switch()
    nav.run()
