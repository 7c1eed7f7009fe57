"""Build the finished phase table from the raw Materials Project files in ``../shared``.

Run by ``screening data build`` (it writes the table the package ships, or a cached rebuild for
``open_store(shared=...)``).  Steps, each reported in the build info:

1. the MP hull snapshot: raw energies, MP2020 corrections rebuilt (``screening.data.corrections``);
   the 5 non-MP rows replaced by MP's elemental reference entries;
2. metastable phases MP publishes (LLZO): placed at the hull + MP's e_above_hull;
3. band gaps (MP PBE by material id) and molar volumes (measured densities).

Energies stay on one scale (MP2020 GGA/GGA+U); hull energies come from the kernel.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition

from screening.data import files, sources, volumes
from screening.data import table as tbl
from screening.store import PhaseSet, finish

#: Binary systems where a missing compound means missing data rather than no stable compound.
COMMON_ANIONS = frozenset("O N F Cl Br I S Se Te H P".split())


def _mixed_anion(comp: Composition) -> bool:
    return len([el for el in comp.elements if el.symbol in COMMON_ANIONS and el.symbol != "H"]) > 1


def snapshot_rows(root: Path) -> tuple[pd.DataFrame, dict]:
    """Rows of the MP hull snapshot (MP2020-corrected) and the elemental references it lacks."""
    from pymatgen.entries.computed_entries import ComputedEntry

    from screening.data import corrections

    hull = sources.read_hull_phases(root)
    refs = sources.read_elemental_references(root)
    compat = corrections.compatibility()
    is_mp = hull.MaterialId.str.match(r"^mp-\d+$")
    dropped, kept = hull[~is_mp], hull[is_mp]
    entries = [corrections.make_entry(mid, comp, float(e), compat)
               for mid, comp, e in zip(kept.MaterialId, kept.Composition, kept["Corrected Energy"], strict=True)]
    corrected = corrections.correct(entries)
    have = {Composition(c).elements[0].symbol for c in kept.Composition if len(Composition(c)) == 1}
    ref_entries = [ComputedEntry.from_dict(d) for sym, d in refs.items() if sym not in have]
    rows = []
    for e in corrected.values():
        rows.append(_entry_row(e, e.entry_id, "mp-hull", files.HULL))
    for e in ref_entries:
        mid = e.data.get("material_id", e.entry_id)
        rows.append(_entry_row(e, mid, "mp-reference", files.REFS))
    report = {
        "n_hull_rows": int(len(hull)),
        "n_corrected": int(sum(1 for e in corrected.values() if e.correction != 0)),
        "n_dropped_non_mp": int(len(dropped)),
        "dropped_non_mp": sorted(Composition(c).reduced_formula for c in dropped.Composition),
        "n_rejected_by_compatibility": len(entries) - len(corrected),
        "n_elemental_references_added": len(ref_entries),
    }
    return pd.DataFrame(rows), report


def _entry_row(e, mid: str, origin: str, source: str) -> dict:
    comp = e.composition
    row = tbl.empty_row()
    row.update(tbl.identity(comp), phase_id=mid, material_id=mid, origin=origin, source=source,
               energy_eV=e.energy, raw_energy_eV=e.uncorrected_energy, correction_eV=e.correction,
               energy_adjustments=tbl.adjustments_json(e), correction_note=tbl.correction_note(e),
               run_type=e.parameters.get("run_type", "GGA"),
               uncertain="mixed-anion: MP2020 correction depends on the oxidation-state guess" if _mixed_anion(comp) else "")
    return row


def hull_energy_at(table: pd.DataFrame, comp: Composition) -> float:
    """Hull energy (eV/atom) of ``table``'s phases at ``comp`` (the kernel, on that system)."""
    els = sorted({el.symbol for el in comp.elements})
    sub = table[[set(c.split("-")) <= set(els) for c in table.chemsys]]
    ps = PhaseSet(els, sub)
    return ps.hull_energy_per_atom(ps.vector(comp))


def place(table: pd.DataFrame, rows: list[dict], e_above_col: str = "placed_e_above_hull_eV_per_atom") -> pd.DataFrame:
    """Rows placed at ``table``'s hull energy at their composition + their e_above_hull."""
    out = []
    for row in rows:
        comp = Composition(row["composition"])
        e = (hull_energy_at(table, comp) + row[e_above_col]) * comp.num_atoms
        out.append({**row, "energy_eV": e})
    return pd.DataFrame(out)


def published_rows(root: Path, table: pd.DataFrame) -> pd.DataFrame:
    """MP metastable phases with published e_above_hull (``metastable_phases.csv``), placed."""
    meta = sources.read_metastable(root)
    rows = []
    for r in meta.itertuples():
        comp = Composition(r.formula)
        row = tbl.empty_row()
        row.update(tbl.identity(comp), phase_id=r.material_id, material_id=r.material_id, origin="mp-published",
                   source=files.METASTABLE, run_type="GGA/GGA+U (MP)",
                   correction_note=f"placed at hull + {r.e_above_hull_eV_per_atom:.4f} eV/atom (MP)",
                   placed_e_above_hull_eV_per_atom=float(r.e_above_hull_eV_per_atom))
        if np.isfinite(getattr(r, "band_gap_eV", np.nan)):
            row.update(band_gap_eV=float(r.band_gap_eV), band_gap_pbe_eV=float(r.band_gap_eV), band_gap_origin="pbe",
                       band_gap_source=f"{files.METASTABLE} (MP PBE)")
        if np.isfinite(getattr(r, "density_g_cm3", np.nan)):
            row.update(density_g_cm3=float(r.density_g_cm3),
                       molar_volume_cm3_per_mol=volumes.molar_volume_cm3_per_mol(comp.reduced_formula, r.density_g_cm3),
                       volume_source=f"{files.METASTABLE} (MP relaxed PBE density)", volume_origin="dft")
        rows.append(row)
    return place(table, rows) if rows else pd.DataFrame(columns=tbl.COLUMNS)


def add_band_gaps(table: pd.DataFrame, root: Path) -> None:
    """MP PBE gaps (2019) by material id, where a row has none yet."""
    gaps = sources.read_band_gaps(root).drop_duplicates("task_id").set_index("task_id").band_gap
    found = table.material_id.map(gaps)
    use = table.band_gap_eV.isna() & found.notna()
    table.loc[use, "band_gap_eV"] = found[use]
    table.loc[use, "band_gap_pbe_eV"] = found[use]
    table.loc[use, "band_gap_origin"] = "pbe"
    table.loc[use, "band_gap_source"] = f"{files.GAPS} (MP PBE, 2019)"


def add_measured_volumes(table: pd.DataFrame, root: Path) -> None:
    """Molar volumes from measured densities, for the lowest-energy phase of each formula."""
    choices = volumes.choose_densities(sources.read_densities(root))
    default = table.groupby("formula").energy_per_atom_eV.idxmin()
    for formula, ch in choices.items():
        i = default.get(formula)
        if i is None:
            continue
        table.loc[i, "density_g_cm3"] = ch.density_g_cm3
        table.loc[i, "molar_volume_cm3_per_mol"] = volumes.molar_volume_cm3_per_mol(ch.formula, ch.density_g_cm3)
        table.loc[i, "volume_source"] = f"{files.DENSITIES} rows {','.join(map(str, ch.rows))} (measured; {ch.note})"
        table.loc[i, "volume_origin"] = "measured"


def incomplete_systems(table: pd.DataFrame, root: Path) -> tuple[list[str], int]:
    """Binary metal-anion systems where MP (2019) lists compounds but the table has none.

    Returns (flagged systems, number of all systems of any order without a compound here).
    Only metal + common-anion binaries are flagged: there a missing compound means missing data
    (MgO, Fe2O3, GeO2 ...); intermetallic and higher-order systems without a stable compound are
    common physics, so they are counted but not flagged.
    """
    gaps = sources.read_band_gaps(root)
    known = set()
    for f in gaps.pretty_formula.unique():
        try:
            comp = Composition(f)
        except Exception:  # a few malformed formulas in the 2019 list
            continue
        if len(comp) >= 2:
            known.add(comp.chemical_system)
    have = set(table.chemsys[table.chemsys.str.contains("-")])
    missing = known - have
    flagged = sorted(c for c in missing if len(c.split("-")) == 2 and len(set(c.split("-")) & COMMON_ANIONS) == 1)
    return flagged, len(missing)


def known_gga_failures() -> list[dict]:
    """The authored list of known GGA failures by chemical system (``data/known_gga_failures.csv``)."""
    with files.shipped(files.GGA_FAILURES).open("r") as fh:
        df = pd.read_csv(fh, keep_default_na=False, dtype=str)
    return [{"chemsys": "-".join(sorted(c.split("-"))), "message": m, "remedy": r, "reference": ref}
            for c, m, r, ref in zip(df.chemsys, df.message, df.remedy, df.reference, strict=True)]


def build_table(root: Path) -> tuple[pd.DataFrame, dict]:
    """The finished phase table and its build info (counts, validation, sources)."""
    t0 = time.perf_counter()
    rows, report = snapshot_rows(root)
    table = finish(rows)
    report["n_off_own_hull"] = int((table.e_above_hull_eV_per_atom > 1e-3).sum())
    report["off_own_hull_fraction"] = report["n_off_own_hull"] / len(table)
    table = finish(pd.concat([table, published_rows(root, table)], ignore_index=True))
    add_band_gaps(table, root)
    add_measured_volumes(table, root)
    incomplete, no_compound = incomplete_systems(table, root)
    table = table.sort_values(["chemsys", "formula", "phase_id"], kind="stable").reset_index(drop=True)
    info = {
        **report,
        "incomplete_systems": incomplete,
        "n_systems_without_compound": no_compound,
        "known_gga_failures": known_gga_failures(),
        "sources": [f"{name} (Materials Project, CC BY 4.0)" for name in files.RAW],
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
    return table, info
