"""The app shell: page setup, sign-in and roles, navigation by role, the page gate.

``app.py`` calls :func:`run_app`; every page calls :func:`page` first, which enforces the page's
permission, so a page is refused even when its URL is typed in.
"""

from __future__ import annotations

import streamlit as st

from gis import auth
from gis.ui.cache import engine
from gis.ui.errors import guard
from gis.ui.language import language_switch, t
from gis.ui.maps import basemap_switch
from gis.ui.sidebar import FILTERS_KEY, sidebar_filters

USER_KEY = "gridlens_user"

#: page file (relative to ``app.py``), catalogue key of its title, icon, action it needs
PAGES = [
    ("pages/home.py", "nav.home", ":material/dashboard:", "view"),
    ("pages/patrol.py", "nav.patrol", ":material/directions_walk:", "view"),
    ("pages/hotspots.py", "nav.hotspots", ":material/local_fire_department:", "view"),
    ("pages/rectification.py", "nav.rectification", ":material/handshake:", "view"),
    ("pages/grids.py", "nav.grids", ":material/grid_on:", "view"),
    ("pages/data.py", "nav.data", ":material/upload_file:", "view"),
    ("pages/users.py", "nav.users", ":material/group:", "manage_users"),
]


def current_user() -> auth.User | None:
    """The signed-in user, the desktop admin when sign-in is off, else None.

    Opens the database first, so a database problem is reported before anyone signs in.
    """
    engine()
    if not auth.auth_enabled():
        return auth.current_desktop_user()
    user = st.session_state.get(USER_KEY)
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
    """The sign-in form (the only page a visitor who is not signed in can reach)."""
    st.title(t("signin.title"))
    st.caption(t("signin.caption"))
    with st.form("signin"):
        username = st.text_input(t("signin.username"), key="signin_username")
        password = st.text_input(t("signin.password"), type="password", key="signin_password")
        submitted = st.form_submit_button(t("signin.submit"), type="primary")
    if submitted:
        user = auth.authenticate(engine(), username.strip(), password)
        if user is None:
            st.error(t("signin.failed"))
        else:
            st.session_state[USER_KEY] = user
            st.rerun()


def sign_out() -> None:
    """Forget the signed-in user (the sign-out button's callback)."""
    st.session_state.pop(USER_KEY, None)


def user_box(user: auth.User) -> None:
    """Who is signed in, with their role, and the sign-out button."""
    st.sidebar.markdown(f"**{user.label}** · {t('role.' + user.role)}")
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
    st.session_state[FILTERS_KEY] = sidebar_filters()
    basemap_switch()
    nav.run()
