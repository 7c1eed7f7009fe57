"""User phases: hypothetical candidates from a CSV (``screening --phases FILE``) or records.

Columns: ``formula`` and exactly one energy column per row among
``energy_eV`` (MP2020-compatible total energy of the formula as written),
``formation_energy_eV_per_atom`` (vs the store's elemental phases) or
``e_above_hull_eV_per_atom`` (placed on the store's hull plus this value); optional ``name``
(unique; default the formula), ``band_gap_eV`` (>= 0) and ``density_g_cm3`` (0.05-30, a solid's).

This module reads and validates; the store places the energies (``screening.store.add_phases``).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from screening.data import files
from screening.data.formula import parse_formula
from screening.errors import DataError, InputError

ENERGY_COLUMNS = ("energy_eV", "formation_energy_eV_per_atom", "e_above_hull_eV_per_atom")
#: bounds of physically meaningful values (eV/atom, eV, g/cm3)
MAX_ABS_EV_PER_ATOM = 20.0
MAX_ABS_E_ABOVE_HULL = 5.0
MAX_GAP_EV = 50.0
MAX_DENSITY = 30.0
#: lightest solid accepted (g/cm3): solid hydrogen is 0.086, Li metal 0.534
MIN_DENSITY = 0.05


def read_user_csv(path: Path | str) -> pd.DataFrame:
    """The rows of a user phase CSV, validated (``validate``); DataError names file, row and fix."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"user phase file {path} not found: give the path of a CSV with a 'formula' column")
    how = "write a UTF-8 CSV with a header formula,energy_eV (or formation_energy_eV_per_atom or e_above_hull_eV_per_atom)"
    df = files.read_text_csv(path, f"user phase file {path}", how)
    return validate(df, path.name)


def _absent(v) -> bool:
    """Not given: None, an empty cell, or a float NaN (a column missing in some records).
    The text 'nan' is given, and invalid."""
    return v is None or (isinstance(v, float) and math.isnan(v)) or str(v).strip() == ""


def _value(text, what: str, line: str, lo: float, hi: float, strict_lo: bool = False) -> float | None:
    if _absent(text):
        return None
    try:
        v = float(str(text).strip())
    except ValueError:
        raise DataError(f"{line}: {what} {text!r} is not a number: give a plain number") from None
    bad = not math.isfinite(v) or v > hi or (v <= lo if strict_lo else v < lo)
    if bad:
        rel = ">" if strict_lo else ">="
        raise DataError(f"{line}: {what} {text} is out of range: give a finite number {rel} {lo:g} and <= {hi:g}")
    return v


def validate(df: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Validated records: formula, name, energy_column, energy_value, band_gap_eV, density_g_cm3.

    Every value is checked at the boundary: formulas parse, exactly one finite energy per row,
    gaps >= 0, densities of a solid (0.05-30 g/cm3), names unique.  DataError names the row and the fix.
    """
    df = df.copy()
    df.columns = [str(c).strip() for c in df.columns]
    if "formula" not in df.columns:
        raise DataError(f"{origin} has no 'formula' column: columns must include formula and one of {', '.join(ENERGY_COLUMNS)}")
    if df.empty:
        raise DataError(f"{origin} has no rows: add at least one phase below the header")
    out = []
    for i, r in enumerate(df.to_dict("records")):
        line = f"{origin} row {i + 2}"
        try:
            comp = parse_formula(str(r["formula"]))
        except InputError as exc:
            raise DataError(f"{line}: {exc}") from None
        given = [c for c in ENERGY_COLUMNS if c in r and not _absent(r[c])]
        if len(given) != 1:
            raise DataError(f"{line} ({comp.formula}): give exactly one of {', '.join(ENERGY_COLUMNS)}")
        col = given[0]
        if col == "energy_eV":
            value = _value(r[col], col, line, -MAX_ABS_EV_PER_ATOM * comp.num_atoms, MAX_ABS_EV_PER_ATOM * comp.num_atoms)
        elif col == "formation_energy_eV_per_atom":
            value = _value(r[col], col, line, -MAX_ABS_EV_PER_ATOM, MAX_ABS_EV_PER_ATOM)
        else:
            value = _value(r[col], col, line, -MAX_ABS_E_ABOVE_HULL, MAX_ABS_E_ABOVE_HULL)
        name = str(r.get("name", "") or "").strip() or comp.reduced_formula
        if any(ch in name for ch in ",\n\r\t") or len(name) > 100:
            raise DataError(f"{line}: name {name!r} has commas, line breaks or over 100 characters: give a short name")
        out.append({
            "formula": comp.formula, "name": name, "energy_column": col, "energy_value": value,
            "band_gap_eV": _value(r.get("band_gap_eV"), "band_gap_eV", line, 0.0, MAX_GAP_EV),
            "density_g_cm3": _value(r.get("density_g_cm3"), "density_g_cm3", line, MIN_DENSITY, MAX_DENSITY),
            "origin": origin,
        })
    records = pd.DataFrame(out)
    dup = records.name[records.name.duplicated()]
    if len(dup):
        raise DataError(f"{origin}: name {dup.iloc[0]!r} appears twice: give each phase a unique name")
    return records
