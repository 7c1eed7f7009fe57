"""Fetch a chemical system from the Materials Project API into the local cache.

``fetch_chemsys`` pulls GGA/GGA+U entries (MP2020-corrected by MP, with structures) and MP band
gaps through ``mp_api.client.MPRester`` and writes them, in the phase-table format, to
``<cache>/mp_api/<chemsys>.parquet``.  ``open_store`` merges every such file: fetched phases
replace the snapshot's phases of that system (one consistent MP data set per system).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Element

from screening.errors import DataError, InputError

AVOGADRO = 6.02214076e23
SOURCE = "mp-api"


def normalize_chemsys(chemsys: str) -> list[str]:
    """Element symbols of 'Li-La-Zr-O' (any order); InputError on junk."""
    parts = [p.strip() for p in str(chemsys).replace(",", "-").split("-") if p.strip()]
    if not parts:
        raise InputError("empty --chemsys: give elements joined by '-', e.g. Li-La-Zr-O")
    for p in parts:
        if not Element.is_valid_symbol(p):
            raise InputError(f"unknown element '{p}' in --chemsys '{chemsys}': use symbols like Li-La-Zr-O")
    return sorted(set(parts), key=lambda s: Element(s).Z)


def _subsystems(els: list[str]) -> list[str]:
    return ["-".join(sorted(c)) for n in range(1, len(els) + 1) for c in itertools.combinations(els, n)]


def entries_to_table(entries, gaps: dict[str, float]) -> pd.DataFrame:
    """Phase-table rows from MP ComputedStructureEntry objects (energies already MP2020)."""
    from screening.data.store import empty_row

    rows = []
    for e in entries:
        comp = e.composition
        mid = str(e.data.get("material_id") or e.entry_id).replace("-GGA+U", "").replace("-GGA", "")
        row = empty_row()
        row.update(
            phase_id=mid, material_id=mid, formula=comp.reduced_formula, composition=comp.formula,
            chemsys=comp.chemical_system, n_atoms=comp.num_atoms, energy_eV=e.energy,
            raw_energy_eV=e.uncorrected_energy, correction_eV=e.correction,
            correction_note="MP2020 (applied by MP)", run_type=str(e.parameters.get("run_type", "GGA/GGA+U")),
            source=SOURCE,
        )
        if mid in gaps and gaps[mid] is not None:
            row.update(band_gap_eV=float(gaps[mid]), band_gap_source="mp-api summary (PBE)")
        structure = getattr(e, "structure", None)
        if structure is not None:
            fu = comp.num_atoms / comp.reduced_composition.num_atoms
            vm = structure.volume / fu * AVOGADRO * 1e-24
            row.update(
                molar_volume_cm3_per_mol=vm,
                density_g_cm3=comp.reduced_composition.weight / vm,
                volume_source="mp-api structure (PBE-relaxed)",
            )
        rows.append(row)
    return pd.DataFrame(rows)


def fetch_chemsys(chemsys: str, cache: Path, api_key: str | None = None, endpoint: str | None = None) -> Path:
    """Download every GGA/GGA+U phase of ``chemsys`` (and subsystems) into the cache.

    Needs an API key (argument or ``MP_API_KEY``) and network; on any failure the cache is left
    untouched and DataError explains what to do.
    """
    els = normalize_chemsys(chemsys)
    key = api_key or os.environ.get("MP_API_KEY")
    if not key:
        raise DataError("no Materials Project API key: set MP_API_KEY (get one at materialsproject.org/api)")
    try:
        from mp_api.client import MPRester

        kwargs = {"api_key": key, "mute_progress_bars": True}
        if endpoint:
            kwargs["endpoint"] = endpoint
        with MPRester(**kwargs) as mpr:
            entries = mpr.get_entries_in_chemsys(
                els, additional_criteria={"thermo_types": ["GGA_GGA+U"]}, property_data=None
            )
            docs = mpr.materials.summary.search(
                chemsys=_subsystems(els), fields=["material_id", "band_gap"]
            )
    except InputError:
        raise
    except Exception as exc:  # network, auth, server: all leave the cache untouched
        msg = str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__
        raise DataError(f"Materials Project fetch of {'-'.join(els)} failed ({msg}): check MP_API_KEY and network") from None
    if not entries:
        raise DataError(f"Materials Project returned no GGA/GGA+U entries for {'-'.join(els)}: check the elements")
    gaps = {str(d.material_id): d.band_gap for d in docs}
    table = entries_to_table(entries, gaps)
    from screening.data.store import write_table

    path = Path(cache) / "mp_api" / f"{'-'.join(els)}.parquet"
    write_table(table, {"chemsys": "-".join(els), "n_entries": len(table)}, path)
    return path


def merge_fetched(store, cache: Path):
    """Merge every fetched system under ``cache/mp_api`` into ``store`` (largest systems first)."""
    folder = Path(cache) / "mp_api"
    files = sorted(folder.glob("*.parquet"), key=lambda p: -len(p.stem.split("-"))) if folder.is_dir() else []
    if not files:
        return store
    from screening.data.store import read_table

    tables = []
    systems = []
    for f in files:
        try:
            t, _ = read_table(f)
        except Exception:
            raise DataError(f"unreadable fetched file {f}: delete it and fetch again") from None
        tables.append(t)
        systems.append(f.stem)
    new = pd.concat(tables, ignore_index=True).drop_duplicates("phase_id", keep="first")
    new["mp_e_above_hull_eV_per_atom"] = np.nan
    return store.with_phases(new, replace_systems=systems)
