"""Errors that reach a person: one clear line, never a traceback."""


class GridLensError(Exception):
    """An error with a message meant for the user (CLI prints it on one line, exits non-zero)."""


class StoreError(GridLensError):
    """The database cannot be reached, is not spatial, or lacks the spatial extension."""


class InputError(GridLensError):
    """A file or argument given by the user cannot be used; the message says why."""


class WriteError(StoreError):
    """The database refused a write (constraint, type); the transaction was rolled back."""


class EditConflict(GridLensError):
    """A grid edit was saved on top of an older version: someone else saved a newer one first.

    The message names the grid, the version the editor started from, and who saved the newer
    version and when. Nothing of the rejected edit was written.
    """
