"""Readers for the shared offline data (``$SCREENING_SHARED``, default ``../shared``).

Every function reads one file in place and returns plain pandas/pymatgen objects; a missing or
malformed file raises :class:`DataError` naming the file and how to point at the data.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pandas as pd

from screening.errors import DataError

HULL_FILE = "mp/mp_hull_phases.csv"
GAPS_FILE = "mp/mp_bandgaps_2019.csv"
REFS_FILE = "mp/mp_elemental_reference_entries.json.gz"
METASTABLE_FILE = "mp/metastable_phases.csv"
DENSITY_FILE = "densities/densities.csv"
SOURCE_FILES = (HULL_FILE, GAPS_FILE, REFS_FILE, METASTABLE_FILE, DENSITY_FILE)

_HOW = "set SCREENING_SHARED to the folder holding mp/ and densities/ (default: ../shared beside the repo)"


def _path(root: Path, rel: str) -> Path:
    p = Path(root) / rel
    if not p.is_file():
        raise DataError(f"missing data file {p}: {_HOW}")
    return p


def _csv(root: Path, rel: str, required: list[str]) -> pd.DataFrame:
    p = _path(root, rel)
    try:
        # keep_default_na=False: the formula "NaN" (sodium nitride) must not become a float NaN
        df = pd.read_csv(p, keep_default_na=False, na_values={"": ""}, dtype=str)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {p} ({exc.__class__.__name__}): {_HOW}") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(f"{p} lacks column(s) {', '.join(missing)}: is it the right file? {_HOW}")
    return df


def read_hull_phases(root: Path) -> pd.DataFrame:
    """MP hull phases; ``Corrected Energy`` is the RAW VASP total energy of ``Composition`` (eV)."""
    df = _csv(root, HULL_FILE, ["Composition", "MaterialId", "Reduced Formula", "Corrected Energy"])
    df["Corrected Energy"] = pd.to_numeric(df["Corrected Energy"], errors="raise")
    return df


def read_band_gaps(root: Path) -> pd.DataFrame:
    """MP (2019) PBE band gaps by material id: columns task_id, pretty_formula, band_gap (eV)."""
    df = _csv(root, GAPS_FILE, ["task_id", "pretty_formula", "band_gap"])
    df["band_gap"] = pd.to_numeric(df["band_gap"], errors="coerce")
    return df


def read_elemental_references(root: Path) -> dict:
    """MP GGA elemental reference ComputedEntry dicts, keyed by element symbol."""
    p = _path(root, REFS_FILE)
    try:
        with gzip.open(p, "rt") as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {p} ({exc.__class__.__name__}): {_HOW}") from None


def read_metastable(root: Path) -> pd.DataFrame:
    """MP values for metastable phases absent from the hull file (e_above_hull in eV/atom)."""
    df = _csv(root, METASTABLE_FILE, ["material_id", "formula", "e_above_hull_eV_per_atom"])
    for col in ("e_above_hull_eV_per_atom", "band_gap_eV", "density_g_cm3"):
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def read_densities(root: Path) -> pd.DataFrame:
    """Experimental room-temperature densities (g/cm3) with their sources, one row per reading."""
    return _csv(root, DENSITY_FILE, ["formula", "phase", "density_g_cm3", "source_url"])


def fingerprint(root: Path) -> str:
    """SHA-256 over the bytes of every source file: the cache key of a build."""
    h = hashlib.sha256()
    for rel in SOURCE_FILES:
        h.update(rel.encode())
        h.update(_path(root, rel).read_bytes())
    return h.hexdigest()
