"""User-facing errors: the CLI prints ``str(err)`` as one line and exits 2."""


class ScreeningError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class DataError(ScreeningError):
    """Missing, unreadable or malformed input data."""


class InputError(ScreeningError):
    """Bad user input (formula, element, option value)."""
