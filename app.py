"""GridLens: the entry point. Language, sign-in, navigation by role, and the global filters.

Each page lives in ``pages/`` and is listed here only for the roles allowed to open it; the page
itself checks again (``ui.page``), so typing a page's URL does not get around the role.
"""

from __future__ import annotations

import streamlit as st

from gis import auth, ui
from gis.core.errors import GridLensError

st.set_page_config(page_title="GridLens", page_icon="🗺️", layout="wide")

#: page file, catalogue key of its title, icon, action it needs
PAGES = [
    ("pages/home.py", "nav.home", ":material/dashboard:", "view"),
    ("pages/patrol.py", "nav.patrol", ":material/directions_walk:", "view"),
    ("pages/hotspots.py", "nav.hotspots", ":material/local_fire_department:", "view"),
    ("pages/rectification.py", "nav.rectification", ":material/handshake:", "view"),
    ("pages/grids.py", "nav.grids", ":material/grid_on:", "view"),
    ("pages/data.py", "nav.data", ":material/upload_file:", "view"),
    ("pages/users.py", "nav.users", ":material/group:", "manage_users"),
]

ui.language_switch()
try:
    user = ui.current_user()
except GridLensError as exc:  # an unreachable or non-spatial database: one clear line
    st.error(str(exc))
    st.stop()

if user is None:
    nav = st.navigation([st.Page(ui.sign_in_page, title=ui.t("nav.signin"), url_path="signin")])
    nav.run()
    st.stop()

ui.user_box(user)
allowed = [
    st.Page(path, title=ui.t(title), icon=icon)
    for path, title, icon, action in PAGES
    if auth.can(user, action)
]
nav = st.navigation(allowed)
st.session_state[ui.FILTERS_KEY] = ui.sidebar_filters()
nav.run()
