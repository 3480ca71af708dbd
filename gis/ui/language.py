"""The language of the session: the zh/en switch, catalogue texts, numbers and dates as the
language writes them, grid level names."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from gis import i18n
from gis.core.text import markdown_text


def lang() -> str:
    """The current language (``zh`` by default)."""
    return st.session_state.get("lang", i18n.DEFAULT_LANG)


def t(key: str, **fmt) -> str:
    """Catalogue text in the current language, for Markdown (``st.markdown``, ``st.caption``,
    ``st.info``, labels ...): text arguments are escaped (:func:`gis.core.text.markdown_text`),
    so a grid or plan name cannot bring a link, an image or emphasis along."""
    safe = {k: markdown_text(v) if isinstance(v, str) else v for k, v in fmt.items()}
    return i18n.t(key, lang(), **safe)


def t_plain(key: str, **fmt) -> str:
    """Catalogue text in the current language with its arguments as they are: for plain-text
    places only (a text input's value, a file name, a selectbox option)."""
    return i18n.t(key, lang(), **fmt)


def md_text(value) -> str:
    """User text (a grid, plan, staff name, an address) for Markdown, escaped."""
    return markdown_text(value)


def language_switch() -> None:
    """The zh/en switch at the top of the sidebar; every label follows it."""
    st.sidebar.radio(
        i18n.t("app.language", lang()),
        options=list(i18n.LANGS),
        format_func=lambda code: {"zh": "中文", "en": "English"}[code],
        horizontal=True,
        key="lang",
    )


def fmt_int(value) -> str:
    """An integer with thousands separators (``12,345``)."""
    return f"{int(value):,}"


def fmt_date(value) -> str:
    """Dates as the language writes them: 2026年10月31日 / 31 Oct 2026."""
    ts = pd.Timestamp(value)
    return f"{ts.year}年{ts.month}月{ts.day}日" if lang() == "zh" else ts.strftime("%d %b %Y")


def level_name(level: str) -> str:
    """The name of a grid level (``l1``, ``l2``, ``micro``, ``dedicated``) in the language."""
    return t(f"level.{level}")
