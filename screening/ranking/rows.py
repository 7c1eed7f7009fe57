"""One screen row per candidate: every number the ranking uses, from the interphase, the
lithiation stage at the electrolyte's reduction limit and the window; nothing is scored here.

Row columns (units in the names): see ``ROW_COLUMNS``.  ``warnings`` is a list of strings and
``warning_kinds`` the matching caveat kinds; ``error`` is empty unless the candidate could not be
computed (then every number is missing and the row keeps its place).
"""

from __future__ import annotations

import numpy as np

from screening.errors import ScreeningError
from screening.interphases import Interphase, interphase
from screening.results import Caveat, CaveatKind, CandidateKind, unique_caveats
from screening.settings import Settings
from screening.thermo.windows import window

#: columns of an evaluated row, in output order (scores are added by ``scoring.rank``)
ROW_COLUMNS = [
    "candidate", "formula", "material_id", "kind", "interphase", "li_consumed_per_formula_unit",
    "li_reaction_energy_eV_per_atom", "li_reaction_energy_eV_per_li", "electronic_character",
    "min_product_band_gap_eV", "band_gap_note", "conducting_products", "volume_ratio", "volume_ratio_with_li",
    "volume_note", "electrolyte_reaction_energy_eV_per_atom", "electrolyte_reaction_products", "electrolyte_reaction",
    "stage_voltage_V", "stage_interphase", "stage_li_per_formula_unit", "stage_electronic_character",
    "stage_min_product_band_gap_eV", "stage_volume_ratio", "stage_electrolyte_reaction_energy_eV_per_atom",
    "reduction_limit_V", "oxidation_limit_V", "window_width_V", "e_above_hull_eV_per_atom",
    "li_within_dft_error", "electrolyte_within_dft_error", "warnings", "warning_kinds", "error",
]


def empty(candidate: str, kind: str, error: str) -> dict:
    row = {c: np.nan for c in ROW_COLUMNS}
    row.update(candidate=candidate, formula="", material_id="", kind=kind, interphase="", band_gap_note="",
               conducting_products="", volume_note="", electrolyte_reaction_products="", electrolyte_reaction="",
               stage_interphase="", electronic_character="", stage_electronic_character="", warnings=[],
               warning_kinds=[], error=error, li_within_dft_error=None, electrolyte_within_dft_error=None)
    return row


def _stage_part(ip: Interphase) -> dict:
    return {
        "stage_interphase": " + ".join(ip.products),
        "stage_li_per_formula_unit": ip.li_consumed_per_formula_unit,
        "stage_electronic_character": ip.electronic_character.value,
        "stage_min_product_band_gap_eV": ip.min_product_band_gap_eV,
        "stage_volume_ratio": ip.volume_ratio,
        "stage_electrolyte_reaction_energy_eV_per_atom": ip.electrolyte_reaction_energy_eV_per_atom,
    }


def evaluate(store, candidate: str, kind: str, settings: Settings, electrolyte_reduction_V: float = 0.0) -> dict:
    """All numbers of one candidate (a screen row); a ScreeningError becomes an error row."""
    try:
        return _evaluate(store, candidate, kind, settings, electrolyte_reduction_V)
    except ScreeningError as exc:
        return empty(candidate, kind, str(exc))


def _evaluate(store, candidate: str, kind: str, settings: Settings, v_red_el: float) -> dict:
    tol = settings.tolerance_eV_per_atom
    kw = dict(electrolyte=settings.electrolyte, gap_threshold_eV=settings.gap_threshold_eV, tolerance_eV_per_atom=tol)
    ip = interphase(store, candidate, **kw)
    stage = interphase(store, candidate, voltage_V=v_red_el, **kw) if v_red_el > 1e-9 else ip
    w = window(store, candidate)
    row_store = store.lookup(ip.material_id)
    e_li = ip.li_reaction_energy_eV_per_atom
    li_within = abs(e_li) < tol
    notes: list[Caveat] = []
    if kind == CandidateKind.INTERLAYER.value and e_li < 0 and li_within:
        notes.append(Caveat(CaveatKind.WITHIN_DFT_ERROR, "reaction with Li within DFT error", "", row_store.formula))
    if ip.within_dft_error and (ip.electrolyte_reaction_energy_eV_per_atom or 0) < 0:
        notes.append(Caveat(CaveatKind.WITHIN_DFT_ERROR, "electrolyte reaction within DFT error", "", row_store.formula))
    if ip.precursor_e_above_hull_eV_per_atom > 1e-6:
        notes.append(Caveat(CaveatKind.METASTABLE, f"candidate is {1000 * ip.precursor_e_above_hull_eV_per_atom:.1f} meV/atom above the hull",
                            "", row_store.formula))
    caveats = unique_caveats(notes, ip.warnings, stage.warnings, w.warnings)
    if kind == CandidateKind.INTERLAYER.value and ip.volume_ratio is None and ip.li_consumed_per_formula_unit <= 1e-9:
        caveats = tuple(c for c in caveats if c.kind is not CaveatKind.NO_VOLUME)  # nothing forms: no volume needed
    row = {
        "candidate": candidate,
        "formula": row_store.formula,
        "material_id": ip.material_id,
        "kind": kind,
        "interphase": " + ".join(ip.products),
        "li_consumed_per_formula_unit": ip.li_consumed_per_formula_unit,
        "li_reaction_energy_eV_per_atom": e_li,
        "li_reaction_energy_eV_per_li": ip.li_reaction_energy_eV_per_li,
        "electronic_character": ip.electronic_character.value,
        "min_product_band_gap_eV": ip.min_product_band_gap_eV,
        "band_gap_note": ip.band_gap_note,
        "conducting_products": " + ".join(ip.conducting_products),
        "volume_ratio": ip.volume_ratio,
        "volume_ratio_with_li": ip.volume_ratio_with_li,
        "volume_note": ip.volume_note,
        "electrolyte_reaction_energy_eV_per_atom": ip.electrolyte_reaction_energy_eV_per_atom,
        "electrolyte_reaction_products": " + ".join(ip.electrolyte_reaction_products),
        "electrolyte_reaction": ip.electrolyte_reaction,
        "stage_voltage_V": float(v_red_el),
        **_stage_part(stage),
        "reduction_limit_V": w.reduction_limit_V,
        "oxidation_limit_V": w.oxidation_limit_V,
        "window_width_V": w.width_V,
        "e_above_hull_eV_per_atom": ip.precursor_e_above_hull_eV_per_atom,
        "li_within_dft_error": bool(li_within),
        "electrolyte_within_dft_error": bool(ip.within_dft_error),
        "warnings": [str(c) for c in caveats],
        "warning_kinds": [c.kind.value for c in caveats],
        "error": "",
    }
    return {c: (np.nan if row[c] is None else row[c]) for c in ROW_COLUMNS}


def evaluate_all(store, cand, settings: Settings, progress=None, electrolyte_reduction_V: float | None = None) -> list[dict]:
    """Unranked rows for a candidate DataFrame, in its order (serial)."""
    if electrolyte_reduction_V is None:
        electrolyte_reduction_V = window(store, settings.electrolyte).reduction_limit_V
    rows = []
    for k, r in enumerate(cand.itertuples()):
        row = evaluate(store, r.formula, r.kind, settings, electrolyte_reduction_V)
        row.update(family=r.family, note=r.note)
        rows.append(row)
        if progress:
            progress(k + 1, len(cand), r.formula)
    return rows
