"""The phase table: one row per phase, its columns (units in the names), and conversions between
rows and pymatgen entries.  Plain data: thermodynamic columns (formation energy, e_above_hull) are
filled by the store (``screening.store``) with the kernel.

Energies are MP2020-compatible GGA/GGA+U total energies of the stored composition (eV); volumes
are per mole of reduced formula units (cm3/mol); band gaps in eV.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from pymatgen.core import Composition

from screening.data.formula import reduced_formula

#: where a row's energy comes from (the ``origin`` column)
ORIGINS = {
    "mp-hull": "Materials Project hull phase (2024 snapshot), raw energy MP2020-corrected here",
    "mp-reference": "Materials Project GGA elemental reference entry",
    "mp-published": "Materials Project metastable phase, placed at the hull + MP's published e_above_hull",
    "mp-legacy": "Materials Project 2019/2018 phase, placed at the hull + its e_above_hull in the legacy data",
    "mp-converted": "Materials Project 2018/2019 energy, converted to MP2020 (fills a system the snapshot lacks)",
    "mp-api": "Materials Project API (MP2020-corrected by MP)",
    "entries": "pymatgen entries given by the user (energies as given)",
    "user": "user phase (CSV or records)",
    "chgnet": "CHGNet-relaxed hypothetical phase",
}
FLOAT_COLUMNS = [
    "n_atoms", "energy_eV", "raw_energy_eV", "correction_eV", "energy_per_atom_eV",
    "formation_energy_eV_per_atom", "e_above_hull_eV_per_atom", "placed_e_above_hull_eV_per_atom",
    "converted_minus_placed_eV_per_atom", "band_gap_eV", "band_gap_pbe_eV", "density_g_cm3",
    "molar_volume_cm3_per_mol", "dft_molar_volume_cm3_per_mol",
]
STR_COLUMNS = [
    "phase_id", "material_id", "formula", "composition", "chemsys", "origin", "source", "run_type",
    "energy_adjustments", "correction_note", "band_gap_origin", "band_gap_source", "volume_source", "volume_origin",
    "dimensionality", "uncertain", "artefact", "warning",
]
COLUMNS = STR_COLUMNS + FLOAT_COLUMNS
#: columns the store derives (never read from input rows)
DERIVED = ["energy_per_atom_eV", "formation_energy_eV_per_atom", "e_above_hull_eV_per_atom"]


def empty_row() -> dict:
    """A row with every column missing (NaN / '')."""
    row = {c: np.nan for c in FLOAT_COLUMNS}
    row.update({c: "" for c in STR_COLUMNS})
    return row


def identity(comp: Composition) -> dict:
    """The composition columns of a row."""
    return {
        "formula": reduced_formula(comp),
        "composition": comp.formula,
        "chemsys": comp.chemical_system,
        "n_atoms": float(comp.num_atoms),
    }


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every column of the schema, in order, with the schema's dtypes."""
    out = df.copy()
    for c in STR_COLUMNS:
        out[c] = out[c].fillna("").astype(str) if c in out else ""
    for c in FLOAT_COLUMNS:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float) if c in out else np.nan
    return out[COLUMNS].reset_index(drop=True)


def adjustments_json(entry) -> str:
    """The energy adjustments of a pymatgen entry as JSON [[name, eV], ...]."""
    return json.dumps([[a.name, float(a.value)] for a in entry.energy_adjustments])


def rows_from_entries(entries, origin: str = "entries", source: str = "pymatgen entries") -> pd.DataFrame:
    """Rows of pymatgen ``ComputedEntry``/``ComputedStructureEntry`` objects, energies as given.

    Band gaps from ``entry.data['band_gap']``; volumes from the structure of a
    ``ComputedStructureEntry`` (a DFT volume) or ``entry.data['volume']`` (A^3 per stored formula).
    """
    rows = []
    for e in entries:
        comp = e.composition
        row = empty_row()
        eid = str(e.entry_id) if e.entry_id is not None else f"entry:{comp.reduced_formula}-{len(rows)}"
        mid = str((e.data or {}).get("material_id") or (eid if eid.startswith(("mp-", "mvc-")) else ""))
        row.update(identity(comp), phase_id=eid, material_id=mid, origin=origin, source=source,
                   energy_eV=float(e.energy), raw_energy_eV=float(e.uncorrected_energy),
                   correction_eV=float(e.correction), energy_adjustments=adjustments_json(e),
                   correction_note=correction_note(e), run_type=str((e.parameters or {}).get("run_type", "")))
        gap = (e.data or {}).get("band_gap")
        if gap is not None and np.isfinite(float(gap)):
            row.update(band_gap_eV=float(gap), band_gap_pbe_eV=float(gap), band_gap_origin="pbe",
                       band_gap_source=f"{source} (entry data)")
        structure = getattr(e, "structure", None)
        volume = structure.volume if structure is not None else (e.data or {}).get("volume")
        if volume:
            row.update(molar_volume(comp, float(volume), f"{source} structure (DFT)", "dft"))
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS) if not rows else conform(pd.DataFrame(rows))


AVOGADRO = 6.02214076e23


def molar_volume(comp: Composition, cell_volume_A3: float, source: str, origin: str) -> dict:
    """Volume columns from the volume (A^3) of a cell of composition ``comp``."""
    fu = comp.num_atoms / comp.reduced_composition.num_atoms
    vm = cell_volume_A3 / fu * AVOGADRO * 1e-24
    return {"molar_volume_cm3_per_mol": vm, "density_g_cm3": comp.reduced_composition.weight / vm,
            "volume_source": source, "volume_origin": origin}


def correction_note(entry) -> str:
    """Short list of an entry's energy adjustments (names and eV per atom)."""
    parts = []
    for adj in entry.energy_adjustments:
        name = adj.name.replace("MP2020 ", "").replace("anion correction", "anion").replace("GGA/GGA+U mixing correction", "U")
        parts.append(f"{name} {adj.value / entry.composition.num_atoms:+.3f}")
    return "; ".join(parts) if parts else "none"


def entry_from_row(row) -> object:
    """A pymatgen ComputedEntry of a row, its energy adjustments visible (raw energy + adjustments
    = ``energy_eV``); rows without a raw energy (placed phases) carry their energy as given."""
    from pymatgen.entries.computed_entries import ComputedEntry, ConstantEnergyAdjustment

    comp = Composition(row.composition)
    data = {"origin": row.origin, "formula": row.formula, "material_id": row.material_id or None}
    adjustments = json.loads(row.energy_adjustments) if row.energy_adjustments else []
    raw = row.raw_energy_eV
    if np.isfinite(raw):
        adj = [ConstantEnergyAdjustment(v, name=n, cls=None) for n, v in adjustments]
        total = raw + sum(v for _, v in adjustments)
        if abs(total - row.energy_eV) > 1e-6:  # adjustments not itemised: one lump correction
            adj = [ConstantEnergyAdjustment(row.energy_eV - raw, name="correction", cls=None)]
        return ComputedEntry(comp, float(raw), energy_adjustments=adj, entry_id=row.phase_id, data=data)
    data["placement"] = row.correction_note
    return ComputedEntry(comp, float(row.energy_eV), entry_id=row.phase_id, data=data)
