"""Readers of the raw shared files (``screening.data.files`` names them): each reads one file in
place and returns plain pandas objects; a missing or malformed file raises DataError naming it.

Read only when (re)building the shipped tables (``screening data build``); never copied.
"""

from __future__ import annotations

import gzip
import json
import tarfile
from pathlib import Path

import pandas as pd

from screening.data import files
from screening.errors import DataError


def _csv(root: Path, name: str, required: list[str], **kw) -> pd.DataFrame:
    p = files.raw(name, root)
    try:
        # keep_default_na=False: the formula "NaN" (sodium nitride) must not become a float NaN
        df = pd.read_csv(p, keep_default_na=False, na_values={"": ""}, dtype=str, **kw)
    except (OSError, ValueError, UnicodeDecodeError, EOFError) as exc:
        raise DataError(f"cannot read {p} ({exc.__class__.__name__}): {files.SHARED_HOW}") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(f"{p} lacks column(s) {', '.join(missing)}: is it the right file? {files.SHARED_HOW}")
    return df


def _numbers(df: pd.DataFrame, cols, path: str) -> pd.DataFrame:
    for c in cols:
        values = pd.to_numeric(df[c], errors="coerce")
        bad = values.isna() & (df[c] != "")
        if bad.any():
            raise DataError(f"{path}: column {c} has non-numbers (row {int(bad.idxmax()) + 2}: {df[c][bad].iloc[0]!r})")
        df[c] = values
    return df


def read_hull_phases(root: Path) -> pd.DataFrame:
    """MP hull phases; ``Corrected Energy`` is the RAW VASP total energy of ``Composition`` (eV)."""
    df = _csv(root, files.HULL, ["Composition", "MaterialId", "Reduced Formula", "Corrected Energy"])
    return _numbers(df, ["Corrected Energy"], files.HULL)


def read_band_gaps(root: Path) -> pd.DataFrame:
    """MP (2019) PBE band gaps by material id: task_id, pretty_formula, band_gap (eV)."""
    df = _csv(root, files.GAPS, ["task_id", "pretty_formula", "band_gap"])
    return _numbers(df, ["band_gap"], files.GAPS)


def read_elemental_references(root: Path) -> dict:
    """MP GGA elemental reference ComputedEntry dicts, keyed by element symbol."""
    p = files.raw(files.REFS, root)
    try:
        with gzip.open(p, "rt") as fh:
            return json.load(fh)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"cannot read {p} ({exc.__class__.__name__}): {files.SHARED_HOW}") from None


def read_metastable(root: Path) -> pd.DataFrame:
    """MP values for metastable phases absent from the hull file (e_above_hull in eV/atom)."""
    df = _csv(root, files.METASTABLE, ["material_id", "formula", "e_above_hull_eV_per_atom"])
    return _numbers(df, [c for c in ("e_above_hull_eV_per_atom", "band_gap_eV", "density_g_cm3") if c in df], files.METASTABLE)


def read_densities(root: Path) -> pd.DataFrame:
    """Experimental room-temperature densities (g/cm3) with their sources, one row per reading."""
    return _csv(root, files.DENSITIES, ["formula", "phase", "density_g_cm3", "source_url"])


def read_structures(root: Path) -> pd.DataFrame:
    """MP 2025.02 structures: material_id, formula_sum, nsites, volume_A3, volume_per_atom_A3."""
    df = _csv(root, files.STRUCTURES, ["material_id", "formula_sum", "nsites", "volume_A3", "volume_per_atom_A3"],
              usecols=["material_id", "formula_structural", "formula_sum", "nsites", "volume_A3", "volume_per_atom_A3"])
    return _numbers(df, ["nsites", "volume_A3", "volume_per_atom_A3"], files.STRUCTURES)


def read_legacy_2019(root: Path) -> pd.DataFrame:
    """MP 2019 formation energies (legacy corrections): task_id, composition, formation_energy_per_atom."""
    df = _csv(root, files.LEGACY_2019, ["task_id", "composition", "formation_energy_per_atom"])
    return _numbers(df, ["formation_energy_per_atom"], files.LEGACY_2019)


def read_legacy_2018(root: Path) -> pd.DataFrame:
    """MP 2018.6.1 formation energies (legacy corrections): material_id, formation_energy_per_atom."""
    df = _csv(root, files.LEGACY_2018, ["material_id", "formation_energy_per_atom"])
    return _numbers(df, ["formation_energy_per_atom"], files.LEGACY_2018)


def iter_cifs(root: Path, wanted: set[str] | None = None):
    """(material id, CIF text) of the archive's members (only ``wanted`` ids if given)."""
    p = files.raw(files.CIFS, root)
    try:
        with tarfile.open(p, "r:xz") as tar:
            for member in tar:
                if not member.isfile() or not member.name.endswith(".cif"):
                    continue
                mid = Path(member.name).stem
                if wanted is not None and mid not in wanted:
                    continue
                yield mid, tar.extractfile(member).read().decode()
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise DataError(f"cannot read {p} ({exc.__class__.__name__}): {files.SHARED_HOW}") from None
