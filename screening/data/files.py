"""Every data file the package reads, named once, and where each lives.

* Shipped tables (package data, read with ``importlib.resources``): the finished phase table
  derived from the Materials Project files in ``../shared`` by ``screening data build`` (MP data,
  CC BY 4.0), and the tables this project authors (``data/`` in the source tree: candidates,
  density rules, measured band gaps, known GGA failures).
* Raw shared files (``$SCREENING_SHARED``, or ``../shared`` beside a source checkout): only needed
  to rebuild the shipped tables and for crystal structures.
* The user cache folder (``$SCREENING_CACHE``, else the platform's user cache folder): rebuilt
  stores, fetched MP systems, CHGNet relaxations, run checkpoints.  Never inside the package.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from screening.errors import DataError

PACKAGE_DATA = "screening._data"

# shipped (derived by screening.build, or authored in data/)
PHASES = "phases.parquet"
MANIFEST = "manifest.json"
CANDIDATES = "candidates.csv"
DENSITY_RULES = "density_rules.csv"
MEASURED_GAPS = "measured_band_gaps.csv"
GGA_FAILURES = "known_gga_failures.csv"
AUTHORED = (CANDIDATES, DENSITY_RULES, MEASURED_GAPS, GGA_FAILURES)

# raw shared files (relative to the shared root)
HULL = "mp/mp_hull_phases.csv"
GAPS = "mp/mp_bandgaps_2019.csv"
REFS = "mp/mp_elemental_reference_entries.json.gz"
METASTABLE = "mp/metastable_phases.csv"
DENSITIES = "densities/densities.csv"
STRUCTURES = "mp2025/structures_summary.csv.gz"
CIFS = "mp2025/cifs.tar.xz"
LEGACY_2019 = "mp_legacy/mp_formation_2019.csv.gz"
LEGACY_2018 = "mp_legacy/mp_formation_2018.csv.gz"
RAW = (HULL, GAPS, REFS, METASTABLE, DENSITIES, STRUCTURES, LEGACY_2019, LEGACY_2018)

SHARED_HOW = "set SCREENING_SHARED to the folder holding mp/, mp2025/, mp_legacy/ and densities/"


def shipped(name: str):
    """The shipped file ``name`` (a Traversable: ``.open('rb')``, ``.read_text()``)."""
    item = resources.files(PACKAGE_DATA).joinpath(name)
    if not item.is_file():
        raise DataError(f"the package data file {name} is missing: reinstall screening (pip install --force-reinstall screening)")
    return item


def source_tree() -> Path | None:
    """Root of the source checkout this package runs from (None for an installed wheel)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "screening").is_dir() else None


def shared_root(required: bool = False) -> Path | None:
    """``$SCREENING_SHARED``, else ``../shared`` beside a source checkout; None if neither exists
    (DataError instead when ``required``)."""
    env = os.environ.get("SCREENING_SHARED")
    if env:
        root = Path(env).expanduser()
    else:
        tree = source_tree()
        root = tree.parent / "shared" if tree else None
    if root is None or not root.is_dir():
        if required:
            where = f"{root} does not exist" if root else "no shared data folder is known"
            raise DataError(f"{where}: {SHARED_HOW}")
        return None
    return root


def raw(name: str, root: Path | str | None = None) -> Path:
    """Path of a raw shared file; DataError naming the file and the fix when it is missing."""
    base = Path(root) if root is not None else shared_root(required=True)
    path = base / name
    if not path.is_file():
        raise DataError(f"missing data file {path}: {SHARED_HOW}")
    return path


def cache_dir() -> Path:
    """``$SCREENING_CACHE``, else the user cache folder (platformdirs), e.g. ~/.cache/screening."""
    env = os.environ.get("SCREENING_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("screening", appauthor=False))
