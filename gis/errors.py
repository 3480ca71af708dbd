"""Errors that reach a person: one clear line, never a traceback."""


class GridLensError(Exception):
    """An error with a message meant for the user (CLI prints it on one line, exits non-zero)."""


class StoreError(GridLensError):
    """The database cannot be reached, is not spatial, or lacks the spatial extension."""


class InputError(GridLensError):
    """A file or argument given by the user cannot be used; the message says why."""


class WriteError(StoreError):
    """The database refused a write (constraint, type); the transaction was rolled back."""
