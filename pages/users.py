"""Users (admins only): the accounts, adding one, disabling or enabling one."""

from __future__ import annotations

import streamlit as st

from gis import auth, ui
from gis.cases.routing import TEAM_NAMES, department_label
from gis.core.errors import InputError
from gis.store import casework

admin = ui.page("manage_users")
st.title(ui.t("users.title"))
eng = ui.engine()
table = auth.list_users(eng)
shown = table[["username", "display_name", "role", "grid_codes", "active"]].copy()
shown["role"] = shown["role"].map(lambda r: ui.t(f"role.{r}"))
st.dataframe(shown, hide_index=True, width="stretch")

with st.form("add_user", clear_on_submit=True):
    st.subheader(ui.t("users.add"))
    cols = st.columns(2)
    username = cols[0].text_input(ui.t("signin.username"))
    display = cols[1].text_input(ui.t("users.display_name"))
    role = cols[0].selectbox(
        ui.t("users.role"), list(auth.PERMISSIONS), format_func=lambda r: ui.t(f"role.{r}")
    )
    password = cols[1].text_input(ui.t("signin.password"), type="password")
    grids = ui.grids()
    assigned = st.multiselect(
        ui.t("users.grids"),
        list(grids["code"]),
        format_func=lambda c: f"{c} {grids.set_index('code').loc[c, 'name']}",
    )
    dep_codes = ["", *TEAM_NAMES, *ui.departments()["code"]]
    department = st.selectbox(
        ui.t("users.department"), dep_codes, key="users_department",
        format_func=lambda c: department_label(c, ui.lang()) if c else "—",
    )  # fmt: skip
    if st.form_submit_button(ui.t("users.add"), type="primary"):
        with ui.guard():
            if (role == "handler") != bool(department):
                raise InputError(ui.t("users.department_rule"))
            auth.create_user(
                eng,
                username.strip(),
                password,
                role,
                display_name=display or None,
                grid_codes=assigned,
                created_by=admin.username,
            )
            if department:
                casework.set_user_department(eng, username.strip(), department)
            st.success(ui.t("users.created", name=username))
            st.rerun()

pick = st.selectbox(ui.t("users.pick"), list(table["username"]), key="users_pick")
if st.button(ui.t("users.toggle"), key="users_toggle") and pick:
    row = table.set_index("username").loc[pick]
    with ui.guard():
        auth.set_active(eng, pick, not bool(row["active"]), by=admin.username)
        st.success(ui.t("users.changed", name=pick))
        st.rerun()
