"""User phases: hypothetical candidates from a CSV, merged into one session's store.

Columns: ``formula`` and exactly one energy column per row among
``energy_eV`` (MP2020-compatible total energy of the formula as written),
``formation_energy_eV_per_atom`` (vs the store's elemental phases) or
``e_above_hull_eV_per_atom`` (placed on the store's hull plus this value); optional ``name``,
``band_gap_eV``, ``density_g_cm3``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from screening.errors import DataError

ENERGY_COLUMNS = ("energy_eV", "formation_energy_eV_per_atom", "e_above_hull_eV_per_atom")


def read_user_csv(path: Path) -> pd.DataFrame:
    if not Path(path).is_file():
        raise DataError(f"user phase file {path} not found: give the path of a CSV with a 'formula' column")
    try:
        df = pd.read_csv(path, keep_default_na=False, na_values={c: [""] for c in ENERGY_COLUMNS})
    except Exception as exc:
        raise DataError(f"cannot read user phase file {path} ({exc.__class__.__name__}): it must be a CSV") from None
    if "formula" not in df.columns:
        raise DataError(f"{path} has no 'formula' column: columns must include formula and one of {', '.join(ENERGY_COLUMNS)}")
    return df


def user_rows(store, df: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Phase-table rows for the user phases in ``df`` (energies placed against ``store``)."""
    from screening.data.store import empty_row, hull_energy_at, parse_formula
    from screening.errors import InputError

    refs = store.table[~store.table.chemsys.str.contains("-")].groupby("chemsys").energy_per_atom_eV.min()
    rows = []
    for i, r in df.iterrows():
        line = f"{origin} row {i + 2}"
        try:
            comp = parse_formula(str(r["formula"]))
        except InputError as exc:
            raise DataError(f"{line}: {exc}") from None
        given = [c for c in ENERGY_COLUMNS if c in df.columns and pd.notna(r[c]) and str(r[c]) != ""]
        if len(given) != 1:
            raise DataError(f"{line} ({comp.formula}): give exactly one of {', '.join(ENERGY_COLUMNS)}")
        col = given[0]
        try:
            value = float(r[col])
        except ValueError:
            raise DataError(f"{line}: {col} '{r[col]}' is not a number") from None
        missing = [el.symbol for el in comp.elements if el.symbol not in refs]
        if missing:
            raise DataError(f"{line}: element(s) {', '.join(missing)} not in the store: fetch them first")
        n = comp.num_atoms
        if col == "energy_eV":
            energy = value
        elif col == "formation_energy_eV_per_atom":
            energy = sum(refs[el.symbol] * amt for el, amt in comp.items()) + value * n
        else:
            energy = (hull_energy_at(store.table, comp) + value) * n
        name = str(r.get("name", "") or "") or comp.reduced_formula
        row = empty_row()
        row.update(
            phase_id=f"user:{name}", material_id="", formula=comp.reduced_formula, composition=comp.formula,
            chemsys=comp.chemical_system, n_atoms=n, energy_eV=energy, source=f"user:{origin}",
            run_type="user", correction_note=f"user {col}",
        )
        if "band_gap_eV" in df.columns and str(r["band_gap_eV"]) != "" and pd.notna(r["band_gap_eV"]):
            row.update(band_gap_eV=float(r["band_gap_eV"]), band_gap_source=f"user:{origin}")
        if "density_g_cm3" in df.columns and str(r["density_g_cm3"]) != "" and pd.notna(r["density_g_cm3"]):
            d = float(r["density_g_cm3"])
            if not d > 0:
                raise DataError(f"{line}: density_g_cm3 must be positive")
            row.update(
                density_g_cm3=d,
                molar_volume_cm3_per_mol=comp.reduced_composition.weight / d,
                volume_source=f"user:{origin}",
            )
        rows.append(row)
    return pd.DataFrame(rows)


def merge_user_phases(store, path: Path):
    """The store plus the phases of a user CSV (this session only; nothing is cached)."""
    df = read_user_csv(path)
    if df.empty:
        return store
    return store.with_phases(user_rows(store, df, Path(path).name))


def add_phases(store, records: list[dict], origin: str = "python"):
    """Python twin of the CSV path: ``records`` are dicts with the CSV's columns."""
    return store.with_phases(user_rows(store, pd.DataFrame(records), origin))

