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

from screening.errors import DataError, ScreeningError

PACKAGE_DATA = "screening._data"

# shipped (derived by screening.build, or authored in data/)
PHASES = "phases.parquet"
MANIFEST = "manifest.json"
CANDIDATES = "candidates.csv"
COATINGS = "cathode_coatings.csv"
DENSITY_RULES = "density_rules.csv"
MEASURED_GAPS = "measured_band_gaps.csv"
GGA_U_GAPS = "gga_u_band_gaps.csv"  # validation set of the GGA+U gap treatment
GGA_FAILURES = "known_gga_failures.csv"
CONDUCTIVITIES = "li_ion_conductivities.csv"
NO_COMPOUND_SYSTEMS = "li_no_compound_systems.csv"
ELEMENT_FLAGS = "element_flags.csv"
REPORTED_INTERLAYERS = "reported_interlayers.csv"
COATING_LITERATURE = "cathode_coating_literature.csv"
AUTHORED = (CANDIDATES, COATINGS, DENSITY_RULES, MEASURED_GAPS, GGA_U_GAPS, GGA_FAILURES, CONDUCTIVITIES, NO_COMPOUND_SYSTEMS)
# derived by scripts of this package from public data, shipped (their scripts name the sources)
BVSE_BARRIERS = "li_bvse_barriers.csv"  # python -m screening.data.bvse (MP structures, bvlain)
JANAF_GDELTA = "janaf_gdelta.csv"  # python -m screening.data.janaf (NIST-JANAF tables, via the janaf package)
MLIP_PHASES = "mlip_phases.csv"  # python -m screening.halides (CHGNet on substituted MP prototypes)

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
MP_ATTRIBUTION = "Materials Project, CC BY 4.0"
#: where each raw file's values come from (the densities are not MP data)
ATTRIBUTION = {**{name: MP_ATTRIBUTION for name in (*RAW, CIFS)},
               DENSITIES: "measured densities, the source page of each value in the file"}

SHARED_HOW = "set SCREENING_SHARED to the folder holding mp/, mp2025/, mp_legacy/ and densities/"


def shipped(name: str):
    """The shipped file ``name`` (a Traversable: ``.open('rb')``, ``.read_text()``)."""
    item = resources.files(PACKAGE_DATA).joinpath(name)
    if not item.is_file():
        raise DataError(f"the package data file {name} is missing: reinstall screening (pip install --force-reinstall screening)")
    return item


def read_text_csv(source, what: str, how: str, error=DataError):
    """A user's CSV as strings (no NA guessing: the formula "NaN" is sodium nitride).  ``source``:
    a path or a Traversable; ``what`` names it in messages ("candidate file x.csv"); problems
    (missing, not UTF-8, empty, malformed) raise ``error`` naming the file and ``how`` to fix it."""
    import csv
    import io

    import pandas as pd

    try:
        with source.open("r", encoding="utf-8") as fh:  # universal newlines: \r, \r\n and \n end rows
            text = fh.read()
        rows = csv.reader(io.StringIO(text))
        header = next((row for row in rows if row), [])  # blank lines before the header are skipped
        names = [h.strip() for h in header]
        dup = next((h for i, h in enumerate(names) if h and h in names[:i]), None)
        if dup is not None:
            raise error(f"{what} has the column {dup!r} twice in its header: keep one column of each name")
        for k, row in enumerate(rows, 2):
            if len(row) > len(header):
                raise error(f"{what} row {k} has {len(row)} fields but the header has {len(header)}: "
                            "quote fields that hold commas, or add the column to the header")
        return pd.read_csv(io.StringIO(text), keep_default_na=False, dtype=str, skipinitialspace=True)
    except ScreeningError:
        raise
    except FileNotFoundError:
        raise error(f"{what} not found: {how}") from None
    except UnicodeDecodeError:
        raise error(f"{what} is not UTF-8 text: {how}") from None
    except pd.errors.EmptyDataError:
        raise error(f"{what} is empty: {how}") from None
    except (OSError, ValueError, csv.Error) as exc:
        raise error(f"cannot read {what} ({exc.__class__.__name__}, malformed CSV): {how}") from None


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
