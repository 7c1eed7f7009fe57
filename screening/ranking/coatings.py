"""The cathode side: coatings between a cathode and the solid electrolyte, as screened by
Richards et al. (Chem. Mater. 28, 266 (2016)) and Xiao et al. (Joule 3, 1252 (2019)).

A coating C between cathode K (at its operating voltage V vs Li/Li+) and electrolyte E must
(1) be stable at V: its window (``screening.thermo.windows``) covers V;
(2) not react with the cathode: the closed C|K reaction energy (hull-referenced, most exothermic
    mixing ratio);
(3) not react with the electrolyte: the closed C|E reaction energy;
(4) not react with the cathode under the cell's Li chemical potential: C|K open to Li at V (per
    non-Li atom, the reactants at their grand-potential hull at V: the reactivity of the mixture
    alone, pymatgen's GrandPotentialInterfacialReactivity default);
(5) block electrons: its own band gap above the threshold (measured where known, else treated DFT
    gaps: ``screening.data.gaps``);
(6) conduct Li+: the area-specific resistance of a ``thickness_um`` film of it
    (``screening.layer``; cathode coatings are typically 2-10 nm: give --thickness 0.01).

Sub-scores in [0, 1] (NaN where unknown; an unknown counts 0.5 in the score): ``s_window`` =
1 - min(shortfall / 1 V, 1) with shortfall = V - oxidation limit (or reduction limit - V) when the
window misses V, 1 when it covers V; ``s_cathode``, ``s_electrolyte``, ``s_open`` = 1 - min(penalty
/ 0.1 eV/atom, 1), |E| below the DFT tolerance counting as 0; ``s_insulation`` and
``s_transport`` as on the anode side (``screening.ranking.scoring``).  The cathode's default
voltage is its own delithiation voltage: the oxidation limit of its window.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from screening.data.table import Phase
from screening.errors import ScreeningError
from screening.interphases import ProductPhase
from screening.layer import film
from screening.phases import PhaseSource
from screening.ranking.rows import Candidate, Context
from screening.ranking.scoring import GAP_SCALE_EV, PENALTY_SCALE_EV_PER_ATOM, ranked, transport_score
from screening.results import CaveatKind, Caveat, Result, unique_caveats
from screening.settings import Settings
from screening.thermo.reactions import interface_reaction
from screening.thermo.windows import stability_window

#: a window that misses the voltage by this much or more scores 0 (V)
WINDOW_SCALE_V = 1.0
CRITERIA = ["window", "cathode", "electrolyte", "open", "insulation", "transport"]
SUB_SCORES = [f"s_{c}" for c in CRITERIA]
#: Pareto objectives (penalties minimised; sub-scores maximised: sign -1)
OBJECTIVES = ["s_window", "cathode_penalty_eV_per_atom", "electrolyte_penalty_eV_per_atom", "open_penalty_eV_per_atom",
              "s_insulation", "s_transport"]
OBJECTIVE_SIGNS = np.array([-1, 1, 1, 1, -1, -1], float)
#: secondary keys for tied scores: (column, larger is better, label, unit)
TIE_KEYS = [
    ("voltage_margin_V", True, "voltage margin", "V"),
    ("asr_ohm_cm2", False, "layer resistance", "ohm cm2"),
    ("band_gap_eV", True, "gap", "eV"),
    ("electrolyte_reaction_energy_eV_per_atom", True, "electrolyte reaction", "eV/atom"),
]


@dataclass(frozen=True)
class CoatingRow(Result):
    """Everything the cathode-side ranking knows about one coating (None where unknown)."""

    candidate: str
    formula: str = ""
    material_id: str = ""
    kind: str = "coating"
    cathode: str = ""
    cathode_voltage_V: float | None = None
    reduction_limit_V: float | None = None
    oxidation_limit_V: float | None = None
    window_width_V: float | None = None
    covers_voltage: bool | None = None
    voltage_margin_V: float | None = None  # distance of V from the nearer window limit (negative: outside)
    cathode_reaction_energy_eV_per_atom: float | None = None
    cathode_reaction: str = ""
    electrolyte_reaction_energy_eV_per_atom: float | None = None
    electrolyte_reaction: str = ""
    open_reaction_energy_eV_per_atom: float | None = None  # per non-Li atom, open to Li at the voltage
    open_reaction: str = ""
    electronic_character: str = ""
    band_gap_eV: float | None = None
    band_gap_origin: str = ""
    gap_borderline: bool | None = None
    transport: str = ""
    li_conductivity_S_per_cm: float | None = None
    conductivity_origin: str = ""
    asr_ohm_cm2: float | None = None
    asr_at_temperature_ohm_cm2: float | None = None
    transport_note: str = ""
    e_above_hull_eV_per_atom: float | None = None
    warnings: tuple[str, ...] = ()
    warning_kinds: tuple[str, ...] = ()
    error: str = ""
    family: str = ""
    flags: str = ""
    note: str = ""


ROW_COLUMNS = [f.name for f in dataclasses.fields(CoatingRow)]
NUMBER_COLUMNS = [f.name for f in dataclasses.fields(CoatingRow) if f.type == "float | None"]


def evaluate(c: Candidate, phases: PhaseSource, settings: Settings, cathode: Phase, electrolyte: Phase,
             voltage_V: float) -> CoatingRow:
    """All numbers of one coating; a ScreeningError becomes an error row."""
    if c.phase is None:
        return CoatingRow(candidate=c.name, error=c.error, family=c.family, flags=c.flags, note=c.note)
    try:
        return _evaluate(c, phases, settings, cathode, electrolyte, voltage_V)
    except ScreeningError as exc:
        return CoatingRow(candidate=c.name, error=str(exc), family=c.family, flags=c.flags, note=c.note)


def _evaluate(c: Candidate, phases: PhaseSource, settings: Settings, cathode: Phase, electrolyte: Phase,
              v: float) -> CoatingRow:
    p, tol = c.phase, settings.tolerance_eV_per_atom
    w = stability_window(p, phases)
    ox = w.oxidation_limit_V
    covers = w.reduction_limit_V - 1e-9 <= v and (ox is None or v <= ox + 1e-9)
    margin = min(v - w.reduction_limit_V, np.inf if ox is None else ox - v)
    same_k, same_e = p.formula == cathode.formula, p.formula == electrolyte.formula
    rk = None if same_k else interface_reaction(p, cathode, phases, tolerance_eV_per_atom=tol)
    re = None if same_e else interface_reaction(p, electrolyte, phases, tolerance_eV_per_atom=tol)
    ro = None if same_k else interface_reaction(p, cathode, phases, open_li_V=v, tolerance_eV_per_atom=tol)
    gap, err = p.band_gap_eV, p.band_gap_error_eV
    character = "unknown" if gap is None else ("insulating" if gap >= settings.gap_threshold_eV else "mixed")
    borderline = gap is not None and err is not None and abs(gap - settings.gap_threshold_eV) < err
    ps = phases.phase_set({*p.elements, "Li"}, include=[p])
    f = film(p, [ProductPhase(p, 1.0, ps.index_of(p.phase_id))], 0.0, ps.phase(ps.element_row("Li")), settings.thickness_um,
             settings.temperature_K or None)
    notes = [x for x in (rk, re, ro) if x is not None]
    cav = unique_caveats(w.warnings, *[x.warnings for x in notes])
    if borderline:
        cav = unique_caveats(cav, [Caveat(CaveatKind.PBE_GAP, f"the band gap of {p.formula} lies within its error of the "
                                                              f"{settings.gap_threshold_eV:g} eV threshold", "", p.formula)])
    if gap is None:
        cav = unique_caveats(cav, [Caveat(CaveatKind.NO_BAND_GAP, f"no band gap for {p.formula}", "add band_gap_eV in a user phase CSV",
                                          p.formula)])
    return CoatingRow(
        candidate=c.name, formula=p.formula, material_id=p.phase_id, kind="coating", cathode=cathode.formula,
        cathode_voltage_V=float(v), reduction_limit_V=w.reduction_limit_V, oxidation_limit_V=ox, window_width_V=w.width_V,
        covers_voltage=bool(covers), voltage_margin_V=None if not np.isfinite(margin) else float(margin),
        cathode_reaction_energy_eV_per_atom=0.0 if rk is None else rk.reaction_energy_eV_per_atom,
        cathode_reaction="the cathode itself" if rk is None else rk.reaction,
        electrolyte_reaction_energy_eV_per_atom=0.0 if re is None else re.reaction_energy_eV_per_atom,
        electrolyte_reaction="the electrolyte itself" if re is None else re.reaction,
        open_reaction_energy_eV_per_atom=0.0 if ro is None else ro.reaction_energy_eV_per_atom,
        open_reaction="the cathode itself" if ro is None else ro.reaction,
        electronic_character=character, band_gap_eV=gap, band_gap_origin=p.band_gap_origin, gap_borderline=bool(borderline),
        transport=f.transport, li_conductivity_S_per_cm=f.li_conductivity_S_per_cm, conductivity_origin=f.conductivity_origin,
        asr_ohm_cm2=f.asr_ohm_cm2, asr_at_temperature_ohm_cm2=f.asr_at_temperature_ohm_cm2, transport_note=f.transport_note,
        e_above_hull_eV_per_atom=max(0.0, p.e_above_hull_eV_per_atom or 0.0),
        warnings=tuple(str(x) for x in cav), warning_kinds=tuple(x.kind.value for x in cav), family=c.family, flags=c.flags,
        note=c.note)


def evaluate_all(phases: PhaseSource, candidates: list[Candidate], settings: Settings, context: Context,
                 progress=None) -> list[CoatingRow]:
    """Rows of the coatings, in order (serial)."""
    rows = []
    for k, c in enumerate(candidates):
        rows.append(evaluate(c, phases, settings, context.cathode, context.electrolyte, context.voltage_V))
        if progress:
            progress(k + 1, len(candidates), c.name)
    return rows


def rows_frame(rows: list[CoatingRow]) -> pd.DataFrame:
    """The rows as a DataFrame in ``ROW_COLUMNS`` order (numbers as floats, warnings as lists)."""
    data = {c: [getattr(r, c) for r in rows] for c in ROW_COLUMNS}
    for c in NUMBER_COLUMNS:
        data[c] = np.array([np.nan if v is None else v for v in data[c]], dtype=float)
    for c in ("warnings", "warning_kinds"):
        data[c] = [list(v) for v in data[c]]
    return pd.DataFrame(data, columns=ROW_COLUMNS)


def weights(settings: Settings) -> np.ndarray:
    w = settings.coating_weights
    return np.array([w.window, w.cathode, w.electrolyte, w.open, w.insulation, w.transport])


def _penalty(energy: pd.Series, tol: float) -> np.ndarray:
    e = pd.to_numeric(energy, errors="coerce").fillna(0.0)
    return np.where(e.abs() >= tol, np.maximum(-e, 0), 0.0)


def sub_scores(d: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Penalties (eV/atom; per non-Li atom for the open reaction) and sub-scores of coating rows."""
    tol = settings.tolerance_eV_per_atom
    v = pd.to_numeric(d["cathode_voltage_V"], errors="coerce").to_numpy()
    red = pd.to_numeric(d["reduction_limit_V"], errors="coerce").to_numpy()
    ox = pd.to_numeric(d["oxidation_limit_V"], errors="coerce").fillna(np.inf).to_numpy()
    shortfall = np.maximum(np.maximum(v - ox, red - v), 0.0)
    out = pd.DataFrame(index=d.index)
    for name, col in (("cathode", "cathode_reaction_energy_eV_per_atom"), ("electrolyte", "electrolyte_reaction_energy_eV_per_atom"),
                      ("open", "open_reaction_energy_eV_per_atom")):
        out[f"{name}_penalty_eV_per_atom"] = _penalty(d[col], tol)
    out["s_window"] = np.where(np.isfinite(red), 1 - np.minimum(shortfall / WINDOW_SCALE_V, 1), np.nan)
    for name in ("cathode", "electrolyte", "open"):
        out[f"s_{name}"] = 1 - np.minimum(out[f"{name}_penalty_eV_per_atom"] / PENALTY_SCALE_EV_PER_ATOM, 1)
    gap = pd.to_numeric(d["band_gap_eV"], errors="coerce")
    character = d["electronic_character"].astype(str)
    s_ins = np.clip(gap.fillna(0).to_numpy() / GAP_SCALE_EV, 0, 1)
    s_ins = np.where(character == "unknown", np.nan, np.where(character == "mixed", 0.0, s_ins))
    out["s_insulation"] = s_ins
    out["s_transport"] = transport_score(pd.to_numeric(d["asr_ohm_cm2"], errors="coerce"), d["transport"].to_numpy())
    return out


def rank(df: pd.DataFrame, settings: Settings | None = None) -> pd.DataFrame:
    """Penalties, sub-scores, score, Pareto front, ranks and rank intervals of coating rows (the
    anode side's machinery: ``screening.ranking.scoring.ranked``)."""
    settings = settings or Settings(side="cathode")
    s = sub_scores(df, settings)
    return ranked(df, s, SUB_SCORES, CRITERIA, weights(settings), s[OBJECTIVES].to_numpy() * OBJECTIVE_SIGNS, TIE_KEYS)
