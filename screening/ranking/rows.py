"""One screen row per candidate: every number the ranking uses, from the interphase, the
lithiation stage at the electrolyte's reduction limit and the window; nothing is scored here.

:class:`ScreenRow` is the one schema of a row (units in the field names): the ranking adds its
scores (``screening.ranking.scoring.SCORE_COLUMNS``) and every output format reads the fields in
this order.  ``warnings`` holds strings and ``warning_kinds`` the matching caveat kinds; ``error``
is empty unless the candidate could not be computed (then every number is missing and the row
keeps its place).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from screening.data.table import Phase
from screening.errors import ScreeningError
from screening.interphases import Interphase, interphase_with_li
from screening.phases import PhaseSource
from screening.results import CandidateKind, Caveat, CaveatKind, Result, unique_caveats
from screening.settings import Settings
from screening.thermo.windows import stability_window


@dataclass(frozen=True)
class ScreenRow(Result):
    """Everything the ranking knows about one candidate (None where unknown or not computed)."""

    candidate: str
    formula: str = ""
    material_id: str = ""
    kind: str = ""
    interphase: str = ""
    li_consumed_per_formula_unit: float | None = None
    li_reaction_energy_eV_per_atom: float | None = None
    li_reaction_energy_eV_per_li: float | None = None
    electronic_character: str = ""
    min_product_band_gap_eV: float | None = None
    band_gap_note: str = ""
    conducting_products: str = ""
    volume_ratio: float | None = None
    volume_ratio_with_li: float | None = None
    volume_note: str = ""
    gap_borderline: bool | None = None
    interphase_thickness_um: float | None = None
    li_consumed_mAh_per_cm2: float | None = None
    li_consumed_um: float | None = None
    transport: str = ""  # ionic | metallic | blocking | unknown
    li_conductivity_S_per_cm: float | None = None
    conductivity_origin: str = ""
    asr_ohm_cm2: float | None = None
    asr_low_ohm_cm2: float | None = None
    asr_high_ohm_cm2: float | None = None
    asr_at_temperature_ohm_cm2: float | None = None
    transport_note: str = ""
    electrolyte_reaction_energy_eV_per_atom: float | None = None
    electrolyte_reaction_products: str = ""
    electrolyte_reaction: str = ""
    stage_voltage_V: float | None = None
    stage_interphase: str = ""
    stage_li_per_formula_unit: float | None = None
    stage_electronic_character: str = ""
    stage_min_product_band_gap_eV: float | None = None
    stage_volume_ratio: float | None = None
    stage_electrolyte_reaction_energy_eV_per_atom: float | None = None
    stage_transport: str = ""
    stage_asr_ohm_cm2: float | None = None
    reduction_limit_V: float | None = None
    oxidation_limit_V: float | None = None
    window_width_V: float | None = None
    e_above_hull_eV_per_atom: float | None = None
    li_within_dft_error: bool | None = None
    electrolyte_within_dft_error: bool | None = None
    warnings: tuple[str, ...] = ()
    warning_kinds: tuple[str, ...] = ()
    error: str = ""
    family: str = ""
    flags: str = ""  # practicality: radioactive / toxic / scarce / precious elements (screening.data.elements)
    note: str = ""


#: columns of an evaluated row, in output order (scores are added by ``scoring.rank``)
ROW_COLUMNS = [f.name for f in dataclasses.fields(ScreenRow)]
#: the row columns that hold numbers (float; None -> NaN in a DataFrame)
NUMBER_COLUMNS = [f.name for f in dataclasses.fields(ScreenRow) if f.type == "float | None"]
BOOL_COLUMNS = [f.name for f in dataclasses.fields(ScreenRow) if f.type == "bool | None"]
LIST_COLUMNS = ["warnings", "warning_kinds"]


def failed(c: Candidate, error: str) -> ScreenRow:
    """The row of a candidate that could not be computed."""
    return ScreenRow(candidate=c.name, kind=c.kind, error=error, family=c.family, flags=c.flags, note=c.note)


def _stage_part(ip: Interphase) -> dict:
    return {
        "stage_interphase": " + ".join(ip.products),
        "stage_li_per_formula_unit": ip.li_consumed_per_formula_unit,
        "stage_electronic_character": ip.electronic_character.value,
        "stage_min_product_band_gap_eV": ip.min_product_band_gap_eV,
        "stage_volume_ratio": ip.volume_ratio,
        "stage_electrolyte_reaction_energy_eV_per_atom": ip.electrolyte_reaction_energy_eV_per_atom,
        "stage_transport": ip.film.transport,
        "stage_asr_ohm_cm2": ip.film.asr_ohm_cm2,
    }


@dataclass(frozen=True)
class Candidate:
    """A candidate to screen: its name as given, its phase record, interlayer or precursor."""

    name: str
    phase: Phase | None  # None when it could not be resolved (``error`` says why)
    kind: str
    family: str = ""
    note: str = ""
    error: str = ""
    formula_units: float = 1.0
    flags: str = ""


def evaluate(candidate: Candidate, phases: PhaseSource, settings: Settings, electrolyte: Phase,
             electrolyte_reduction_V: float = 0.0, reactions: dict | None = None) -> ScreenRow:
    """All numbers of one candidate (a screen row); a ScreeningError becomes an error row."""
    if candidate.phase is None:
        return failed(candidate, candidate.error)
    try:
        return _evaluate(candidate, phases, settings, electrolyte, electrolyte_reduction_V, reactions)
    except ScreeningError as exc:
        return failed(candidate, str(exc))


def _evaluate(c: Candidate, phases: PhaseSource, settings: Settings, electrolyte: Phase, v_red_el: float,
              reactions: dict | None) -> ScreenRow:
    tol = settings.tolerance_eV_per_atom
    p = c.phase
    ip = interphase_with_li(p, phases, settings, electrolyte, formula_units=c.formula_units, reactions=reactions)
    stage = interphase_with_li(p, phases, settings, electrolyte, voltage_V=v_red_el, formula_units=c.formula_units,
                               reactions=reactions) if v_red_el > 1e-9 else ip
    w = stability_window(p, phases)
    e_li = ip.li_reaction_energy_eV_per_atom
    li_within = abs(e_li) < tol
    notes: list[Caveat] = []
    if c.kind == CandidateKind.INTERLAYER.value and e_li < 0 and li_within:
        notes.append(Caveat(CaveatKind.WITHIN_DFT_ERROR, "reaction with Li within DFT error", "", p.formula))
    if ip.within_dft_error and (ip.electrolyte_reaction_energy_eV_per_atom or 0) < 0:
        notes.append(Caveat(CaveatKind.WITHIN_DFT_ERROR, "electrolyte reaction within DFT error", "", p.formula))
    if ip.precursor_e_above_hull_eV_per_atom > 1e-6:
        notes.append(Caveat(CaveatKind.METASTABLE, f"candidate is {1000 * ip.precursor_e_above_hull_eV_per_atom:.1f} meV/atom above the hull",
                            "", p.formula))
    cav = unique_caveats(notes, ip.warnings, stage.warnings, w.warnings)
    if c.kind == CandidateKind.INTERLAYER.value and ip.volume_ratio is None and ip.li_consumed_per_formula_unit <= 1e-9:
        cav = tuple(x for x in cav if x.kind is not CaveatKind.NO_VOLUME)  # nothing forms: no volume needed
    return ScreenRow(
        candidate=c.name,
        formula=p.formula,
        material_id=ip.material_id,
        kind=c.kind,
        interphase=" + ".join(ip.products),
        li_consumed_per_formula_unit=ip.li_consumed_per_formula_unit,
        li_reaction_energy_eV_per_atom=e_li,
        li_reaction_energy_eV_per_li=ip.li_reaction_energy_eV_per_li,
        electronic_character=ip.electronic_character.value,
        min_product_band_gap_eV=ip.min_product_band_gap_eV,
        band_gap_note=ip.band_gap_note,
        conducting_products=" + ".join(ip.conducting_products),
        volume_ratio=ip.volume_ratio,
        volume_ratio_with_li=ip.volume_ratio_with_li,
        volume_note=ip.volume_note,
        gap_borderline=ip.gap_borderline,
        interphase_thickness_um=ip.film.interphase_thickness_um,
        li_consumed_mAh_per_cm2=ip.film.li_consumed_mAh_per_cm2,
        li_consumed_um=ip.film.li_consumed_um,
        transport=ip.film.transport,
        li_conductivity_S_per_cm=ip.film.li_conductivity_S_per_cm,
        conductivity_origin=ip.film.conductivity_origin,
        asr_ohm_cm2=ip.film.asr_ohm_cm2,
        asr_low_ohm_cm2=ip.film.asr_low_ohm_cm2,
        asr_high_ohm_cm2=ip.film.asr_high_ohm_cm2,
        asr_at_temperature_ohm_cm2=ip.film.asr_at_temperature_ohm_cm2,
        transport_note=ip.film.transport_note,
        electrolyte_reaction_energy_eV_per_atom=ip.electrolyte_reaction_energy_eV_per_atom,
        electrolyte_reaction_products=" + ".join(ip.electrolyte_reaction_products),
        electrolyte_reaction=ip.electrolyte_reaction,
        stage_voltage_V=float(v_red_el),
        **_stage_part(stage),
        reduction_limit_V=w.reduction_limit_V,
        oxidation_limit_V=w.oxidation_limit_V,
        window_width_V=w.width_V,
        e_above_hull_eV_per_atom=ip.precursor_e_above_hull_eV_per_atom,
        li_within_dft_error=bool(li_within),
        electrolyte_within_dft_error=bool(ip.within_dft_error),
        warnings=tuple(str(x) for x in cav),
        warning_kinds=tuple(x.kind.value for x in cav),
        family=c.family,
        flags=c.flags,
        note=c.note,
    )


@dataclass(frozen=True)
class Context(Result):
    """What every row of a screen is evaluated against: the electrolyte and a voltage (the anode
    side: the electrolyte's reduction limit, where the first lithiation stage is taken; the cathode
    side: the cathode's operating voltage) and, on the cathode side, the cathode."""

    electrolyte: Phase
    voltage_V: float
    cathode: Phase | None = None


def evaluate_all(phases: PhaseSource, candidates: list[Candidate], settings: Settings, context: Context,
                 progress=None) -> list[ScreenRow]:
    """Rows of the candidates, in order (serial).  Product|electrolyte reactions are computed once
    per product for the whole list."""
    reactions: dict = {}
    rows = []
    for k, c in enumerate(candidates):
        rows.append(evaluate(c, phases, settings, context.electrolyte, context.voltage_V, reactions))
        if progress:
            progress(k + 1, len(candidates), c.name)
    return rows


def rows_frame(rows: list[ScreenRow]) -> pd.DataFrame:
    """The rows as a DataFrame in ``ROW_COLUMNS`` order: numbers as floats (NaN where None),
    warnings as lists."""
    data = {c: [getattr(r, c) for r in rows] for c in ROW_COLUMNS}
    for c in NUMBER_COLUMNS:
        data[c] = np.array([np.nan if v is None else v for v in data[c]], dtype=float)
    for c in LIST_COLUMNS:
        data[c] = [list(v) for v in data[c]]
    return pd.DataFrame(data, columns=ROW_COLUMNS)
