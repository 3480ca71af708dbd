"""Checking rendered HTML for offline use: no URL that leaves the server, no missing vendored file.

Used by the tests of every page and map (pydeck, Leaflet, the HTML briefing) and by notebooks
that write HTML: ``assert_offline_html(html)`` fails naming the URLs a page would fetch from
elsewhere; ``missing_static_files(html)`` lists ``/app/static/...`` references with no file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from gis.core.settings import tile_server_settings
from gis.viz.leaflet import STATIC_DIR, STATIC_URL

#: attributes through which a page loads something
_LOAD_ATTRS = {"src", "href", "srcset", "data", "poster", "background", "xlink:href"}
#: namespace identifiers: look like URLs, are never fetched
_NAMESPACES = (
    "http://www.w3.org/2000/svg",
    "http://www.w3.org/1999/xhtml",
    "http://www.w3.org/1999/xlink",
)
_ABSOLUTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_CSS_URL = re.compile(
    r"""url\(\s*['"]?([^'")\s]+)|@import\s+(?:url\()?\s*['"]([^'"]+)""", re.IGNORECASE
)
# a URL literal in script: scheme://host or a quoted protocol-relative //host.tld
_JS_URL = re.compile(
    r"""(?:\b(?:https?|wss?|ftp):)//[^\s"'`<>\\)]+"""
    r"""|(?<=["'`(])//[a-z0-9-]+(?:\.[a-z0-9-]+)+(?::\d+)?(?:/[^\s"'`<>\\)]*)?""",
    re.IGNORECASE,
)
# a URL that is the target of a link (<a href="...">) written inside a JS string: not a load
_HREF_BEFORE = re.compile(r"""href\s*=\s*(?:\\?["']|\\u0022|\\u0027|&quot;)?$""", re.IGNORECASE)


class _UrlFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if value is None:
                continue
            if key == "style":
                self._css(value)
            elif key in _LOAD_ATTRS and not (tag == "a" and key == "href"):
                parts = value.split(",") if key == "srcset" else [value]
                for part in parts:
                    url = part.strip().split(" ")[0]
                    if _ABSOLUTE.match(url):
                        self.urls.append(url)
        if tag in ("script", "style"):
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self._css(data)
        elif self._in == "script":
            for match in _JS_URL.finditer(data):
                url = match.group(0)
                if url.startswith(_NAMESPACES):
                    continue
                if _HREF_BEFORE.search(data[max(0, match.start() - 12) : match.start()]):
                    continue
                self.urls.append(url)

    def _css(self, text: str) -> None:
        for match in _CSS_URL.finditer(text):
            url = match.group(1) or match.group(2)
            if _ABSOLUTE.match(url):
                self.urls.append(url)


def external_urls(html: str) -> list[str]:
    """Absolute or protocol-relative URLs the page would load, in order, without duplicates.

    Looked at: ``src`` / ``href`` / ``srcset`` / ``data`` / ``poster`` attributes of every tag
    but plain anchors (``<a href>`` is navigation, e.g. an attribution link); CSS ``url()`` and
    ``@import`` in ``<style>`` and ``style=""``; URL literals in inline scripts (a tile URL
    template, a script a plugin injects), except link targets written as ``href=...`` inside a
    string and XML namespace identifiers. Strict by design: ``http://127.0.0.1/...`` counts
    too, since the page must use paths relative to the server it came from.

    Parameters
    ----------
    html
        A rendered page, e.g. ``m.get_root().render()``.

    Returns
    -------
    list[str]
        The URLs, empty when the page loads nothing from elsewhere.
    """
    finder = _UrlFinder()
    finder.feed(html)
    finder.close()
    return list(dict.fromkeys(finder.urls))


def allowed_hosts() -> tuple[str, ...]:
    """The hosts a page may load from: exactly the configured intranet tile service's
    (``GRIDLENS_TILE_URL``), or none."""
    url = tile_server_settings()["url"]
    return (urlsplit(url).netloc,) if url else ()


def assert_offline_html(html: str, allowed: Iterable[str] | None = None) -> None:
    """Raise ``AssertionError`` naming the URLs if the page would load anything from elsewhere.

    See :func:`external_urls` for what counts. ``allowed``: hosts (``host[:port]``) a URL may
    name, default :func:`allowed_hosts` (the configured intranet tile service only).
    """
    hosts = set(allowed_hosts() if allowed is None else allowed)
    urls = [u for u in external_urls(html) if urlsplit(u.strip()).netloc not in hosts]
    if urls:
        raise AssertionError(f"page loads {len(urls)} external URL(s): {urls[:10]}")


def missing_static_files(
    html: str, static_url: str = STATIC_URL, static_dir: Path = STATIC_DIR
) -> list[str]:
    """Paths under ``static_url`` referenced by ``html`` with no file under ``static_dir``.

    Parameters
    ----------
    html
        A rendered page (or any text: every ``<static_url>/...`` occurrence is checked).
    static_url, static_dir
        The URL prefix Streamlit serves and the folder behind it.

    Returns
    -------
    list[str]
        The referenced URLs whose file is missing (or would escape ``static_dir``).
    """
    prefix = static_url.rstrip("/") + "/"
    root = static_dir.resolve()
    missing = []
    for match in re.finditer(re.escape(prefix) + r"""[^\s"'`<>)\\?#]+""", html):
        url = match.group(0)
        path = (root / url[len(prefix) :]).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            missing.append(url)
    return list(dict.fromkeys(missing))
