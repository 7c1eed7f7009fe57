"""The everyday Python API: a phase store first, then phases named any way a user names them.

Each function is a thin front: it checks its arguments (TypeError for wrong types, ValueError --
``screening.errors.InputError`` -- for bad values, each naming the argument and the fix), resolves
every name, composition, pymatgen entry or :class:`~screening.data.table.Phase` once with the
store, and calls the physics (``screening.thermo``, ``screening.interphases``,
``screening.ranking``), which works on phase records and never sees names or the store.  Every
``Settings`` field is honoured: ``exclude_artefacts`` leaves artefact phases out of every hull
and lookup of the call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pandas as pd

from screening.data import elements
from screening.data.formula import parse_formula, split_identifier
from screening.data.table import Phase
from screening.errors import InputError, ScreeningError
from screening.interphases import Interphase, LithiationPath, interphase_with_li, lithiation_path
from screening.ranking import candidates as cands
from screening.ranking.figures import FigureInputs, SeedCase, figure_inputs, seed_case_of
from screening.ranking import evaluate_all, rank, rows_frame
from screening.ranking.rows import Candidate, Context
from screening.results import Caveat, CaveatKind, unique_caveats
from screening.settings import Settings, Weights, as_settings, check_number, check_voltage
from screening.data.gibbs import DESCRIPTOR_ERROR_EV_PER_ATOM
from screening.store import PhaseStore
from screening.thermo.reactions import Kink, Reaction, interface_reaction, reaction_kinks
from screening.thermo.windows import Stage, Window, equilibrium_staircase, stability_window

_FROM_SETTINGS = object()  # "the electrolyte of the settings"


def source(store, settings: Settings) -> PhaseStore:
    """The view of ``store`` the settings ask for: artefacts left out (or kept), energies at
    ``settings.temperature_K``."""
    if not isinstance(store, PhaseStore):
        raise TypeError(f"store must be a screening.PhaseStore (from open_store()), not {type(store).__name__}")
    view = store.without_artefacts() if settings.exclude_artefacts else store.with_artefacts()
    return view.at_temperature(settings.temperature_K)


def _effective(settings: Settings) -> Settings:
    """At a finite temperature energies within the Gibbs model's error are not distinguishable: the
    DFT tolerance is raised to it (and the settings record the tolerance used)."""
    if settings.temperature_K and settings.tolerance_eV_per_atom < DESCRIPTOR_ERROR_EV_PER_ATOM:
        return settings.with_(tolerance_eV_per_atom=DESCRIPTOR_ERROR_EV_PER_ATOM)
    return settings


def _resolve(store: PhaseStore, item, name: str) -> Phase:
    if isinstance(item, (bytes, bytearray)):
        raise TypeError(f"{name} is bytes: give a str, e.g. {name}='LiI'")
    if isinstance(item, (dict, list, tuple, set, int, float)) or item is None:
        raise TypeError(f"{name} is a {type(item).__name__}: give a formula, 'formula:mp-id', a phase id, a Composition, "
                        "a pymatgen ComputedEntry or a Phase")
    return store.resolve(item)


def formula_units(item, phase: Phase) -> float:
    """Reduced formula units of ``phase`` per formula unit as the user wrote it (2 for 'I2')."""
    if not isinstance(item, str):
        return 1.0
    formula, pid = split_identifier(item)
    if pid is not None or formula is None:
        return 1.0
    return parse_formula(formula).num_atoms / sum(phase.reduced_amounts.values())


def _settings(settings, **overrides) -> Settings:
    s = as_settings(settings)
    changes = {k: v for k, v in overrides.items() if v is not None}
    return _effective(s.with_(**changes) if changes else s)


def _named(result, item, field: str):
    """The result with the phase named as the user named it (text as given, else the formula)."""
    return dataclasses.replace(result, **{field: item.strip()}) if isinstance(item, str) else result


# --------------------------------------------------------------------------- thermodynamics
def window(store: PhaseStore, phase, *, settings: Settings | None = None) -> Window:
    """Electrochemical stability window of a phase vs Li/Li+ (a formula picks its lowest-energy
    polymorph)."""
    s = as_settings(settings)
    src = source(store, s)
    return stability_window(_resolve(src, phase, "phase"), src)


def staircase(store: PhaseStore, phase, *, settings: Settings | None = None) -> list[Stage]:
    """Every equilibrium of a phase vs voltage, from 0 V upwards."""
    s = as_settings(settings)
    src = source(store, s)
    return equilibrium_staircase(_resolve(src, phase, "phase"), src)


def react(store: PhaseStore, a, b, open_li_V: float | None = None, tolerance_eV_per_atom: float | None = None, *,
          settings: Settings | None = None) -> Reaction:
    """Most negative reaction energy of the A|B interface, closed or open to Li at ``open_li_V``
    (V vs Li/Li+)."""
    s = _settings(settings, tolerance_eV_per_atom=tolerance_eV_per_atom)
    v = check_voltage("open_li_V", open_li_V)
    src = source(store, s)
    r = interface_reaction(_resolve(src, a, "a"), _resolve(src, b, "b"), src, v, s.tolerance_eV_per_atom)
    if s.temperature_K:  # say what temperature changed
        cold = source(store, s.with_(temperature_K=0.0))
        r0 = interface_reaction(_resolve(cold, a, "a"), _resolve(cold, b, "b"), cold, v, s.tolerance_eV_per_atom)
        r = dataclasses.replace(r, warnings=unique_caveats(r.warnings, [temperature_note(r0, r, s.temperature_K)]))
    return r


def reaction_curve(store: PhaseStore, a, b, open_li_V: float | None = None, *,
                   settings: Settings | None = None) -> list[Kink]:
    """Every kink of the A|B reaction line: mixing ratio x of A, reaction energy, products."""
    s = as_settings(settings)
    v = check_voltage("open_li_V", open_li_V)
    src = source(store, s)
    return reaction_kinks(_resolve(src, a, "a"), _resolve(src, b, "b"), src, v)


def interphase(store: PhaseStore, precursor, electrolyte=_FROM_SETTINGS, gap_threshold_eV: float | None = None,
               tolerance_eV_per_atom: float | None = None, voltage_V: float = 0.0, *,
               settings: Settings | None = None) -> Interphase:
    """The interphase ``precursor`` forms with Li metal (or the lithiation stage in equilibrium at
    ``voltage_V``) and its stability with ``electrolyte`` (default: the settings' electrolyte,
    Li7La3Zr2O12; None: no electrolyte)."""
    s = _settings(settings, gap_threshold_eV=gap_threshold_eV, tolerance_eV_per_atom=tolerance_eV_per_atom)
    v = check_voltage("voltage_V", voltage_V, optional=False)
    src = source(store, s)
    p = _resolve(src, precursor, "precursor")
    el = None
    if electrolyte is not None:
        el = check_electrolyte(src, s.electrolyte if electrolyte is _FROM_SETTINGS else electrolyte)
    result = interphase_with_li(p, src, s, el, voltage_V=v, formula_units=formula_units(precursor, p))
    return _named(result, precursor, "precursor")


def lithiate(store: PhaseStore, precursor, gap_threshold_eV: float | None = None, *,
             settings: Settings | None = None) -> LithiationPath:
    """The stages of a precursor's Li uptake as the voltage falls to 0 V (Li metal)."""
    s = _settings(settings, gap_threshold_eV=gap_threshold_eV)
    src = source(store, s)
    p = _resolve(src, precursor, "precursor")
    return _named(lithiation_path(p, src, s, formula_units(precursor, p)), precursor, "precursor")


def check_electrolyte(store: PhaseStore, electrolyte) -> Phase:
    """The electrolyte's record; InputError when it is Li metal or holds no Li."""
    p = _resolve(store, electrolyte, "electrolyte")
    if p.formula == "Li":
        raise InputError("electrolyte: Li metal is the anode, not an electrolyte: give e.g. Li7La3Zr2O12",
                         argument="electrolyte")
    if not p.has_li:
        raise InputError(f"electrolyte {p.formula} holds no Li: give a Li-ion conductor such as Li7La3Zr2O12 or Li3PS4",
                         argument="electrolyte")
    return p


def temperature_note(cold: Reaction, hot: Reaction, temperature_K: float) -> Caveat:
    """How the reaction changes from 0 K to ``temperature_K``, and why."""
    def text(r):
        return "no reaction" if r.reaction_energy_eV_per_atom >= -1e-6 else f"{r.reaction_energy_eV_per_atom:.4f} eV/atom ({r.reaction})"

    why = ("T S terms move it: a reactant that is liquid or a gas at this temperature (Li melts at 453.7 K) loses its entropy "
           "when it is bound in a solid product, and the products' vibrational entropy differs from the reactants'")
    return Caveat(CaveatKind.MODEL, f"at 0 K: {text(cold)}; at {temperature_K:g} K: {text(hot)}",
                  why if abs(cold.reaction_energy_eV_per_atom - hot.reaction_energy_eV_per_atom) > 1e-6 else "",
                  "-".join(cold.reactants))


# --------------------------------------------------------------------------- screens
def resolve_candidates(store: PhaseStore, candidates=None) -> list[Candidate]:
    """Candidates to screen: None (the shipped list), a candidate DataFrame (formula, kind, family,
    note), one name, or an iterable of names, Compositions, entries or Phases.  A name that is
    not in the store becomes a candidate with an ``error`` (an error row of the screen)."""
    if candidates is None:
        df = cands.load_candidates()
    elif isinstance(candidates, pd.DataFrame):
        df = cands.as_candidates(candidates)
    elif isinstance(candidates, (bytes, bytearray)) or not isinstance(candidates, (str, Iterable)) or isinstance(candidates, dict):
        raise TypeError(f"candidates is a {type(candidates).__name__}: give a list of formulas (or entries, Phases), "
                        "a candidate DataFrame or None for the shipped list")
    else:
        items = [candidates] if isinstance(candidates, str) else list(candidates)
        if not items:
            raise InputError("candidates is empty: give formulas, a candidate DataFrame or None for the shipped list",
                             argument="candidates")
        flags = elements.read_flags()
        out = []
        for k, item in enumerate(items):
            if isinstance(item, str):
                out.append(_candidate(store, cands.as_candidates([item]).iloc[0].to_dict(), flags))
                continue
            p = _resolve(store, item, f"candidates[{k}]")
            out.append(Candidate(name=str(getattr(item, "entry_id", None) or p.formula), phase=p, kind=cands.kind_of(p),
                                 family=cands.family_of(p.elements), note="", flags=elements.flag_text(p.elements, flags)))
        return out
    flags = elements.read_flags()
    return [_candidate(store, r, flags) for r in df.to_dict("records")]


def _candidate(store: PhaseStore, r: dict, flags: dict) -> Candidate:
    name = str(r["formula"])
    try:
        p = store.resolve(name)
    except ScreeningError as exc:
        return Candidate(name, None, r["kind"], r.get("family", ""), r.get("note", ""), error=str(exc))
    return Candidate(name, p, r["kind"], r.get("family", "") or cands.family_of(p.elements), r.get("note", ""),
                     formula_units=formula_units(name, p), flags=elements.flag_text(p.elements, flags))


def screen(store: PhaseStore, candidates=None, settings: Settings | None = None, *, electrolyte=None,
           weights: Weights | None = None, tolerance: float | None = None, gap: float | None = None,
           stage: str | None = None, side: str | None = None, cathode=None, voltage_V: float | None = None,
           anode: str = "Li", progress=None, runner=None) -> pd.DataFrame:
    """Screen candidates and rank them; the ranked DataFrame, one row per candidate in (failed
    candidates keep their row with an ``error``).

    The anode side (default): interlayers and precursors against Li metal and the electrolyte.
    The cathode side (``side="cathode"``): coatings between ``cathode`` (default LiCoO2) at
    ``voltage_V`` (default: its own delithiation voltage, the oxidation limit of its window) and
    the electrolyte (``screening.ranking.coatings``).
    ``candidates``: see ``resolve_candidates`` (None: the shipped list of the side).  ``settings``
    (or the keyword shortcuts): tolerance, gap threshold, weights, stage, artefacts, temperature,
    film thickness; ``electrolyte`` and ``cathode`` (any phase: a formula, an id, a ComputedEntry
    ...) override the settings'.  ``progress``: callable(done, total, name).  ``runner``: evaluates
    the rows elsewhere (``screening.distributed.DaskRunner``), with the signature of
    ``ranking.evaluate_all``.
    """
    s = _settings(settings, weights=weights, tolerance_eV_per_atom=tolerance, gap_threshold_eV=gap, stage=stage, side=side,
                  cathode_voltage_V=voltage_V)
    if anode != "Li":
        raise InputError(f"anode={anode!r}: only Li metal anodes are modelled: leave anode out", argument="anode")
    if progress is not None and not callable(progress):
        raise TypeError("progress must be a callable(done, total, name) or None")
    src = source(store, s)
    if candidates is None and s.side == "cathode":
        candidates = cands.load_candidates(side="cathode")
    cand = resolve_candidates(src, candidates)
    el = check_electrolyte(src, s.electrolyte if electrolyte is None else electrolyte)
    if electrolyte is not None:  # the settings record the electrolyte used (an entry by its id)
        s = s.with_(electrolyte=electrolyte.strip() if isinstance(electrolyte, str) else el.phase_id)
    if s.side == "cathode":
        k = check_cathode(src, s.cathode if cathode is None else cathode)
        if cathode is not None:
            s = s.with_(cathode=cathode.strip() if isinstance(cathode, str) else k.phase_id)
        v = s.cathode_voltage_V if s.cathode_voltage_V is not None else cathode_voltage(src, k)
        context = Context(el, v, k)
    else:
        context = Context(el, stability_window(el, src).reduction_limit_V)
    rows = (runner or evaluate_all)(src, cand, s, context, progress)
    df = rows_frame(rows, s)
    df["electrolyte"] = el.formula
    return rank(df, s)


def check_cathode(store: PhaseStore, cathode) -> Phase:
    """The cathode's record; InputError when it holds no Li (no delithiation voltage) or is Li."""
    p = _resolve(store, cathode, "cathode")
    if not p.has_li or p.formula == "Li":
        raise InputError(f"cathode {p.formula} holds no Li (or is Li metal): give a lithiated cathode such as LiCoO2",
                         argument="cathode")
    return p


def cathode_voltage(store: PhaseStore, cathode: Phase) -> float:
    """A cathode's own delithiation voltage: the oxidation limit of its window (V vs Li/Li+), the
    voltage above which it gives up Li at equilibrium (LiCoO2: the onset of LixCoO2 phases)."""
    w = stability_window(cathode, store)
    if w.oxidation_limit_V is None:
        raise InputError(f"{cathode.formula} has no oxidation limit: give cathode_voltage_V", argument="cathode")
    return w.oxidation_limit_V


def seed_case(store: PhaseStore, electrolyte: str = "Li7La3Zr2O12", *, settings: Settings | None = None) -> SeedCase:
    """The LLZO / LiI story: electrolyte window, electrolyte|Li, LiI|Li, I2 -> LiI interphase."""
    s = as_settings(settings)
    src = source(store, s)
    el = check_electrolyte(src, electrolyte)
    return seed_case_of(src, el, src.resolve("LiI"), src.resolve("I2"), src.resolve("Li"), s)


def report_inputs(store: PhaseStore, df: pd.DataFrame, settings: Settings | None = None,
                  n_windows: int = 15, n_curves: int = 3) -> FigureInputs:
    """The windows and reaction curves a report draws for a ranked screen ``df``: the
    electrolyte's window and those of the top candidates (interlayers themselves, precursors by
    their first interphase product), and the reaction curves of the top candidates' first
    interphase product with the electrolyte."""
    s = as_settings(settings)
    src = source(store, s)
    el = check_electrolyte(src, s.electrolyte)
    ok = df[df["error"].fillna("") == ""]
    if s.side == "cathode":  # the cathode, the top coatings, and their reaction curves with the electrolyte
        k = check_cathode(src, s.cathode)
        top = [src.resolve(m) for m in ok.material_id.head(n_windows - 2)]
        curves = [(i, r.candidate, src.resolve(r.material_id)) for i, r in enumerate(ok.head(n_curves).itertuples(), 1)]
        return figure_inputs(src, el, [k, *top], curves)

    def first_product(r) -> Phase | None:
        f = str(r.interphase).split(" + ")[0]
        return src.resolve(f) if f else None

    shown = []
    for r in ok.head(20).itertuples():
        p = src.resolve(r.material_id) if r.kind == "interlayer" else first_product(r)
        if p is not None and p.phase_id not in {q.phase_id for q in shown} and p.phase_id != el.phase_id:
            shown.append(p)
        if len(shown) >= n_windows - 1:
            break
    curves = [(k, r.candidate, first_product(r)) for k, r in enumerate(ok.head(n_curves).itertuples(), 1)]
    return figure_inputs(src, el, shown, [c for c in curves if c[2] is not None])


__all__ = ["window", "staircase", "react", "reaction_curve", "interphase", "lithiate", "screen", "seed_case",
           "report_inputs", "resolve_candidates", "check_electrolyte", "formula_units", "check_number"]
