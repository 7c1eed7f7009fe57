"""Atomic file writes: every writer of the project builds its file beside the target and renames
it at the end, so an interrupted or failed write never leaves a partial file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path: Path | str):
    """Yield a temporary path in ``path``'s folder; on success it replaces ``path``, on any error
    or interrupt it is removed (``path`` is then untouched)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
