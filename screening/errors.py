"""User-facing errors: the command line prints ``str(err)`` as one line and exits 2.

``InputError`` is also a ``ValueError`` (bad values passed from Python are value errors, as in
ASE and pymatgen); every message names the problem and the fix.
"""


class ScreeningError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class DataError(ScreeningError):
    """Missing, unreadable or malformed input data."""


class InputError(ScreeningError, ValueError):
    """Bad user input (formula, element, option value, output path)."""
