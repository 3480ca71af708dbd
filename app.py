"""GridLens: the entry point. Language, sign-in, navigation by role, and the global filters.

Each page lives in ``pages/`` and is offered only to the roles allowed to open it
(``gis.ui.shell.PAGES``); the page itself checks again (``ui.page``), so typing a page's URL
does not get around the role.
"""

from __future__ import annotations

from gis import ui

ui.run_app()
