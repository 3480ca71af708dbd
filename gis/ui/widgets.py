"""Widgets whose labels follow the language and whose values survive the language switch."""

from __future__ import annotations

import streamlit as st

from gis.ui.language import lang


def keyed_choice(widget, label: str, options: list, key: str, default, **kw):
    """A choice widget whose labels follow the language and whose value survives the switch.

    Streamlit keeps a keyed widget's old labels when ``format_func`` changes, so the widget is
    keyed per language and its value is carried in ``session_state[key]``.
    """
    value = st.session_state.get(key, default)
    if widget is st.multiselect or getattr(widget, "__name__", "") == "multiselect":
        out = widget(label, options, default=value, key=f"{key}_{lang()}", **kw)
    else:
        index = options.index(value) if value in options else options.index(default)
        out = widget(label, options, index=index, key=f"{key}_{lang()}", **kw)
    st.session_state[key] = out
    return out


def keyed_value(widget, label: str, key: str, default, **kw):
    """A value widget (checkbox, number input ...) whose label follows the language and whose
    value survives the switch (as ``keyed_choice``: keyed per language, value in state)."""
    value = st.session_state.get(key, default)
    out = widget(label, value=value, key=f"{key}_{lang()}", **kw)
    st.session_state[key] = out
    return out
