"""The one error guard of the app: a library error becomes one message on the page, never a
traceback (the map from exception class to what the user sees is here and only here).

    with ui.guard():                              # a block: the page goes on after it
        result = gridedit.merge(grids, codes)

    with ui.guard("hotspots.error", stop=True):   # the message inside a catalogue text ({msg});
        frame = ui.hotspot_units(...)             # the page stops after it

    with ui.guard() as outcome:                   # the page checks what happened
        check = grids_lib.import_grids(...)
    if not outcome.failed: ...

    @ui.guard()                                   # a panel: a failure ends the panel, returns None
    def import_panel(): ...

What the user sees, by exception:

- :class:`~gis.core.errors.InputError` (a file, a value or a choice that cannot be used): a
  warning with its message;
- any other :class:`~gis.core.errors.GridLensError` (the database, an edit conflict, a refused
  write): an error with its message;
- anything else (a bug): a short error naming only the exception's class (its message may hold
  server paths or data), while the traceback goes to the server log (logger ``gis.ui``).

Streamlit's own control flow (``st.stop``, ``st.rerun``) passes through untouched.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from gis.core.errors import GridLensError, InputError
from gis.core.text import markdown_text
from gis.ui.language import t

log = logging.getLogger("gis.ui")


@dataclass
class Outcome:
    """What happened inside a ``with guard()`` block: the exception shown, if any."""

    error: Exception | None = None

    @property
    def failed(self) -> bool:
        """True when the block raised (and its message was shown)."""
        return self.error is not None


def show_error(exc: Exception, message: str | None = None) -> None:
    """Show ``exc`` on the page the guard's way (see the module docstring).

    Parameters
    ----------
    exc
        The exception caught.
    message
        A catalogue key whose text holds ``{msg}``, for a library error's message in context
        (``"hotspots.error"``: "无法计算：{msg}"); None shows the message alone.
    """
    if isinstance(exc, GridLensError):
        text = t(message, msg=str(exc)) if message else markdown_text(exc)
        if isinstance(exc, InputError):
            st.warning(text)
        else:
            st.error(text)
        return
    log.error("unexpected error on a page", exc_info=exc)
    st.error(t("app.unexpected", kind=type(exc).__name__))


class Guard:
    """A context manager and decorator that shows exceptions with :func:`show_error`.

    Made by :func:`guard`; one instance may decorate a function called from many sessions (each
    call gets its own block).
    """

    def __init__(self, message: str | None = None, *, stop: bool = False) -> None:
        self.message = message
        self.stop = stop
        self._outcome = Outcome()

    def __enter__(self) -> Outcome:
        self._outcome = Outcome()
        return self._outcome

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False  # nothing raised, or Streamlit's stop / rerun: let it through
        self._outcome.error = exc
        show_error(exc, self.message)
        if self.stop:
            st.stop()
        return True

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def guarded(*args, **kwargs):
            with Guard(self.message, stop=self.stop):
                return func(*args, **kwargs)
            return None

        return guarded


def guard(message: str | None = None, *, stop: bool = False) -> Guard:
    """The error guard: ``with guard(): ...`` or ``@guard()`` (see the module docstring).

    Parameters
    ----------
    message
        A catalogue key with ``{msg}`` to put a library error's message in context.
    stop
        Stop the page (``st.stop()``) after showing the message.
    """
    return Guard(message, stop=stop)
