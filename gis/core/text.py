"""User text shown in HTML or Markdown: the one place that escapes it.

Grid names, incident addresses and descriptions, staff and plan names come from files and
forms. Shown as they are, ``<img src=x onerror=...>`` runs script in a map tooltip (folium
writes tooltips as HTML) and ``![x](http://host/p.png)`` makes every viewer's browser fetch
that host from Markdown. Every user string put into HTML goes through :func:`html_text`, into
Markdown (``st.markdown``, ``st.caption``, ``st.info`` ..., catalogue texts' arguments) through
:func:`markdown_text`.
"""

from __future__ import annotations

import html
import re

import pandas as pd

#: characters with a meaning in (Streamlit's GitHub-flavoured) Markdown, escaped with ``\``:
#: emphasis, code, links/images, raw HTML, headings, tables, strike-through, LaTeX
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#!|~$])")


def _plain(value) -> str:
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):  # arrays, lists: shown as their text
        pass
    return str(value)


def html_text(value) -> str:
    """``value`` as text for HTML (``& < > " '`` as entities); None/NA as ''."""
    return html.escape(_plain(value), quote=True)


def markdown_text(value) -> str:
    """``value`` as literal text inside Markdown: no emphasis, link, image, HTML or heading can
    come from it (each special character backslash-escaped, line breaks as spaces); None/NA
    as ''. Escaped text renders as the original characters."""
    text = re.sub(r"[\r\n]+", " ", _plain(value))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


__all__ = ["html_text", "markdown_text"]
