"""User-facing errors: the command line prints ``str(err)`` as one line and exits 2.

``InputError`` is also a ``ValueError`` (bad values passed from Python are value errors, as in
ASE and pymatgen); every message names the problem and the fix.  Messages about an argument name
it as Python does (``tolerance_eV_per_atom=-1: ...``) and carry it in ``argument``, so that the
command line can say its own flag instead (``--tolerance -1: ...``).
"""


class ScreeningError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class DataError(ScreeningError):
    """Missing, unreadable or malformed input data."""


class InputError(ScreeningError, ValueError):
    """Bad user input (formula, element, option value, output path)."""

    def __init__(self, message: str, argument: str | None = None):
        super().__init__(message)
        #: the Python argument the message is about (None: not about one argument)
        self.argument = argument
