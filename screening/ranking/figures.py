"""What a report shows besides the ranking table, computed here so that reports only render:
the seed case (LLZO | Li, LiI | Li, I2 -> LiI) and the windows and reaction curves of the top
candidates."""

from __future__ import annotations

from dataclasses import dataclass

from screening.data.table import Phase
from screening.interphases import Interphase, interphase_with_li
from screening.phases import PhaseSource
from screening.results import Result
from screening.settings import Settings
from screening.thermo.reactions import Kink, Reaction, interface_reaction, reaction_kinks
from screening.thermo.windows import Window, stability_window


@dataclass(frozen=True)
class SeedCase(Result):
    """The seed case: the electrolyte and LiI, their windows and reactions with Li, and the
    interphase of an I2 film on Li metal."""

    electrolyte: Phase
    lii: Phase
    electrolyte_window: Window
    lii_window: Window
    electrolyte_li: Reaction
    lii_li: Reaction
    i2_interphase: Interphase
    i2_li: Reaction


def seed_case_of(phases: PhaseSource, electrolyte: Phase, lii: Phase, i2: Phase, li: Phase, settings: Settings) -> SeedCase:
    tol = settings.tolerance_eV_per_atom
    ip = interphase_with_li(i2, phases, settings, electrolyte, formula_units=2.0)
    return SeedCase(
        electrolyte=electrolyte, lii=lii,
        electrolyte_window=stability_window(electrolyte, phases),
        lii_window=stability_window(lii, phases),
        electrolyte_li=interface_reaction(electrolyte, li, phases, tolerance_eV_per_atom=tol),
        lii_li=interface_reaction(lii, li, phases, tolerance_eV_per_atom=tol),
        i2_interphase=ip.__class__(**{**{f: getattr(ip, f) for f in ip.__dataclass_fields__}, "precursor": "I2"}),
        i2_li=interface_reaction(i2, li, phases, tolerance_eV_per_atom=tol),
    )


@dataclass(frozen=True)
class Curve(Result):
    """The reaction curve of a top candidate's interphase product with the electrolyte."""

    rank: int
    candidate: str
    product: str
    kinks: tuple[Kink, ...]


@dataclass(frozen=True)
class FigureInputs(Result):
    """Windows (the electrolyte's, then the top candidates': interlayers themselves, precursors
    by their first interphase product) and reaction curves of the top candidates."""

    windows: tuple[Window, ...]
    curves: tuple[Curve, ...]


def figure_inputs(phases: PhaseSource, electrolyte: Phase, window_phases: list[Phase],
                  curve_products: list[tuple[int, str, Phase]]) -> FigureInputs:
    """Windows of the electrolyte and ``window_phases``, and the reaction curve with the
    electrolyte of each (rank, candidate, product) in ``curve_products``."""
    seen, windows = set(), []
    for p in [electrolyte, *window_phases]:
        if p.phase_id not in seen:
            seen.add(p.phase_id)
            windows.append(stability_window(p, phases))
    curves = tuple(Curve(k, cand, p.formula, tuple(reaction_kinks(p, electrolyte, phases)))
                   for k, cand, p in curve_products if p.formula != electrolyte.formula)
    return FigureInputs(tuple(windows), curves)
