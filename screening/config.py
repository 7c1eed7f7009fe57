"""Where data lives and the defaults the science uses (all overridable)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Reaction energies with |E| below this are inside DFT error (eV/atom).
DFT_TOLERANCE_EV_PER_ATOM = 0.020
#: A product counts as electronically insulating above this PBE band gap (eV).
INSULATING_GAP_EV = 1.0


def shared_root() -> Path:
    """Shared data root: ``$SCREENING_SHARED`` if set, else ``../shared`` beside the repo root."""
    env = os.environ.get("SCREENING_SHARED")
    return Path(env).expanduser() if env else REPO_ROOT.parent / "shared"


def cache_dir() -> Path:
    """On-disk cache: ``$SCREENING_CACHE`` if set, else ``data/cache`` in the repo (git-ignored)."""
    env = os.environ.get("SCREENING_CACHE")
    return Path(env).expanduser() if env else REPO_ROOT / "data" / "cache"
