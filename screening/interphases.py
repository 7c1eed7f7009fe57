"""Self-assembled interphases: what a precursor coating becomes in contact with Li metal.

At Li metal (mu_Li = Li's hull energy, 0 V) the precursor P takes up Li until its non-Li
composition reaches the lowest grand potential; the products are those phases (I2 -> LiI,
ZnO -> Li2O + LiZn ...).  ``lithiate`` gives the whole path: the stages P passes through as the
voltage falls (Al2O3 -> LiAl5O8 + Al -> LiAlO2 -> Li5AlO4 -> Li2O + Li-Al alloy), where a
kinetically limited interphase may stop.

Reported per formula unit of P as written (I2, not I): Li consumed, reaction energy per atom
(of P + consumed Li) and per Li, the molar volume ratio V(products)/V(P) and V(products)/V(P + Li),
the electronic character from the products' band gaps (insulating when every product's gap is
above the threshold; the gap used is the measured one where known, see ``screening.data.gaps``),
and the most exothermic reaction of any product with the electrolyte (closed, hull-referenced;
``screening.thermo.reactions``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from screening.data.table import Phase
from screening.errors import InputError
from screening.layer import Film, film
from screening.phases import PhaseSet, PhaseSource
from screening.results import Caveat, CaveatKind, Character, Result, unique_caveats
from screening.settings import Settings
from screening.thermo import caveats
from screening.thermo.reactions import interface_reaction
from screening.thermo.windows import stabilized
WEAK_DIMENSIONS = {"0D": "molecular", "1D": "chain", "2D": "layered"}


# --------------------------------------------------------------------------- product properties
@dataclass(frozen=True)
class Properties(Result):
    """Volume and electronic character of a set of products (per formula unit of P)."""

    volume_ratio: float | None
    volume_ratio_with_li: float | None
    volume_note: str
    electronic_character: Character
    min_product_band_gap_eV: float | None
    conducting_products: tuple[str, ...]
    band_gap_note: str
    gap_borderline: bool = False  # a product's gap lies within its error of the threshold
    warnings: tuple[Caveat, ...] = ()


VOLUME_LABELS = {"measured": "measured densities", "dft": "DFT volumes (MP)", "user": "user densities",
                 "chgnet": "CHGNet volumes"}


def _volume_label(row) -> str:
    return VOLUME_LABELS.get(row.volume_origin, row.volume_origin or "unknown volumes")


@dataclass(frozen=True)
class ProductPhase:
    """A product phase and its amount (reduced formula units per reduced formula unit of P)."""

    phase: Phase
    amount: float
    row: int  # its row in the phase set it came from

    @property
    def formula(self) -> str:
        return self.phase.formula


def product_properties(precursor: Phase, products: list[ProductPhase], li_used: float, li_metal: Phase,
                       gap_threshold_eV: float) -> Properties:
    """Volumes and electronic character of ``products`` of ``precursor`` that took up ``li_used``
    Li per reduced formula unit (``li_metal``: the Li reference phase, for V(P + Li))."""
    warns: list[Caveat] = []
    unchanged = len(products) == 1 and products[0].formula == precursor.formula and abs(li_used) < 1e-9
    used = [precursor, *[p.phase for p in products]]
    missing = [r.formula + (" (precursor)" if k == 0 else "") for k, r in enumerate(used) if r.molar_volume_cm3_per_mol is None]
    if unchanged:
        v_ratio = v_ratio_li = 1.0
        v_note = "no reaction with Li: volume unchanged"
    elif missing:
        v_ratio = v_ratio_li = None
        v_note = "no molar volume for " + ", ".join(missing)
        warns.append(Caveat(CaveatKind.NO_VOLUME, v_note, "add a density (user phase CSV) or fetch structures from MP",
                            precursor.formula))
    else:
        v_prod = float(sum(p.amount * p.phase.molar_volume_cm3_per_mol for p in products))
        v_ratio = v_prod / precursor.molar_volume_cm3_per_mol
        v_li = li_metal.molar_volume_cm3_per_mol
        v_ratio_li = v_prod / (precursor.molar_volume_cm3_per_mol + max(li_used, 0.0) * v_li) if v_li is not None else None
        labels: dict[str, list[str]] = {}
        for r in used:
            labels.setdefault(_volume_label(r), []).append(r.formula)
        if len(labels) == 1:
            v_note = next(iter(labels))
        else:
            v_note = "mixed sources: " + "; ".join(f"{k} ({', '.join(dict.fromkeys(v))})" for k, v in sorted(labels.items()))
            warns.append(Caveat(CaveatKind.MIXED_VOLUME_SOURCES, f"volume ratio of {precursor.formula} mixes {v_note[15:]}",
                                "", precursor.formula))
        for r in used:
            kind = WEAK_DIMENSIONS.get(r.dimensionality)
            if r.volume_origin == "dft" and kind:
                warns.append(Caveat(CaveatKind.WEAK_VOLUME,
                                    f"{r.formula} ({r.phase_id}): DFT volume of a {kind} ({r.dimensionality}) crystal; "
                                    "GGA without dispersion overestimates such volumes", "give a measured density", r.formula))
    # electronic character from the products' gaps
    gaps = {p.formula: (p.phase.band_gap_eV, p.phase.band_gap_origin) for p in products}
    known = {f: g for f, (g, _) in gaps.items() if g is not None}
    unknown = sorted(f for f in gaps if f not in known)
    conducting = tuple(sorted(f for f, g in known.items() if g < gap_threshold_eV))
    character = Character.MIXED if conducting else (Character.UNKNOWN if unknown else Character.INSULATING)
    origins = sorted({o or "unknown" for f, (_, o) in gaps.items() if f in known})
    gap_note = f"{' and '.join(origins)} gaps; threshold {gap_threshold_eV:g} eV"
    near = sorted({p.formula for p in products if p.phase.band_gap_eV is not None and p.phase.band_gap_error_eV is not None
                   and abs(p.phase.band_gap_eV - gap_threshold_eV) < p.phase.band_gap_error_eV})
    if near:
        warns.append(Caveat(CaveatKind.PBE_GAP, f"the band gap of {', '.join(near)} lies within its error of the "
                            f"{gap_threshold_eV:g} eV threshold: the electronic character is borderline",
                            "give a measured gap (user phase CSV) or read the character as uncertain", precursor.formula))
    if unknown:
        gap_note = f"no band gap for {', '.join(unknown)}; " + gap_note
        warns.append(Caveat(CaveatKind.NO_BAND_GAP, f"no band gap for {', '.join(unknown)}",
                            "add band_gap_eV in a user phase CSV", precursor.formula))
    return Properties(
        volume_ratio=None if v_ratio is None else float(v_ratio),
        volume_ratio_with_li=None if v_ratio_li is None else float(v_ratio_li),
        volume_note=v_note,
        electronic_character=character,
        min_product_band_gap_eV=float(min(known.values())) if known else None,
        conducting_products=conducting,
        band_gap_note=gap_note,
        gap_borderline=bool(near),
        warnings=unique_caveats(warns),
    )


# --------------------------------------------------------------------------- lithiation path
@dataclass(frozen=True)
class LithiationStage(Result):
    """A stage of a precursor's lithiation: reached once the voltage falls to ``voltage_V``
    (V vs Li/Li+), holding ``li_per_formula_unit`` Li per formula unit of the precursor."""

    voltage_V: float
    li_per_formula_unit: float
    products: tuple[str, ...]
    product_amounts_per_formula_unit: tuple[float, ...]
    volume_ratio: float | None
    electronic_character: Character
    min_product_band_gap_eV: float | None
    properties: Properties
    film: Film | None = None


@dataclass(frozen=True)
class LithiationPath(Result):
    """The stages of a precursor's Li uptake in falling voltage (the pristine precursor is not a
    stage); the last stage is the interphase with Li metal (0 V)."""

    precursor: str
    material_id: str
    stages: tuple[LithiationStage, ...]
    e_above_hull_eV_per_atom: float
    warnings: tuple[Caveat, ...] = ()

    def stage_at(self, volts: float) -> LithiationStage | None:
        """The stage in equilibrium at ``volts`` (None: the pristine precursor)."""
        current = None
        for s in self.stages:
            if s.voltage_V >= volts - 1e-9:
                current = s
        return current

    def record(self) -> dict:
        return {"precursor": self.precursor, "material_id": self.material_id,
                "e_above_hull_eV_per_atom": self.e_above_hull_eV_per_atom,
                "stages": [{k: v for k, v in s.record().items() if k not in ("properties",)} | {
                    "volume_note": s.properties.volume_note, "band_gap_note": s.properties.band_gap_note}
                    for s in self.stages],
                "warnings": [str(w) for w in self.warnings],
                "warning_details": [w.details() for w in self.warnings]}


def _li_system(precursor: Phase, phases: PhaseSource) -> PhaseSet:
    if precursor.formula == "Li":
        raise InputError("Li metal is the anode itself: give a precursor or interlayer phase")
    return phases.phase_set({*precursor.elements, "Li"}, include=[precursor])


def _products(ps: PhaseSet, units, tol: float) -> list[ProductPhase]:
    return [ProductPhase(ps.phase(p.row), p.amount, p.row) for p in ps.products(units, tol=tol)]


def lithiation_path(precursor: Phase, phases: PhaseSource, settings: Settings | None = None,
                    formula_units: float = 1.0) -> LithiationPath:
    """The staircase of a precursor's Li uptake vs voltage (Li grand potential), stages in falling
    voltage, each with its products, volume ratio and electronic character.  The precursor is
    stabilized onto the hull first (as for windows: stage 1 starts at its reduction limit).
    Amounts are per ``formula_units`` reduced formula units (2 for I2 written as I2)."""
    settings = settings or Settings()
    ps = _li_system(precursor, phases)
    red = precursor.reduced_amounts
    i = ps.index_of(precursor.phase_id)
    mu0 = ps.element_energy("Li")
    st = stabilized(ps, i, precursor)
    li_metal = ps.phase(ps.element_row("Li"))
    profile = ps.with_energy(i, st.energy_eV).lithiation_profile(ps.vector(red), mu_max=mu0)
    stages = []
    warns: list[Caveat] = list(ps.caveats)
    for s in profile[1:]:
        prods = _products(ps, s.amounts, 1e-6)
        li = s.li - red.get("Li", 0.0)
        props = product_properties(precursor, prods, li, li_metal, settings.gap_threshold_eV)
        warns += caveats.for_rows(ps, [p.row for p in prods])
        stages.append(LithiationStage(
            film=film(precursor, prods, li, li_metal, settings.thickness_um, settings.temperature_K or None),
            voltage_V=float(max(0.0, mu0 - s.mu_low)),
            li_per_formula_unit=float(li * formula_units),
            products=tuple(p.formula for p in prods),
            product_amounts_per_formula_unit=tuple(float(p.amount * formula_units) for p in prods),
            volume_ratio=props.volume_ratio,
            electronic_character=props.electronic_character,
            min_product_band_gap_eV=props.min_product_band_gap_eV,
            properties=props,
        ))
    return LithiationPath(precursor.formula, precursor.phase_id, tuple(stages), float(st.e_above_hull_eV_per_atom),
                          unique_caveats(warns))


@dataclass(frozen=True)
class Equilibrium:
    """A precursor in equilibrium with a Li reservoir at ``voltage_V``: its products, the Li taken
    up and the reaction energy (eV per reduced formula unit of P, P at its own energy)."""

    products: tuple[ProductPhase, ...]
    li_used: float
    energy_eV: float
    voltage_V: float
    phase_set: PhaseSet


def equilibrium_with_li(precursor: Phase, phases: PhaseSource, voltage_V: float = 0.0) -> Equilibrium:
    """Products of a precursor in equilibrium with a Li reservoir at ``voltage_V`` (V vs Li/Li+;
    0 = Li metal), from one grand-potential LP, with the precursor stabilized onto the hull first
    (as in ``lithiation_path``): a metastable precursor that is stable against Li once on the hull
    is its own product, and its decomposition is neither a reaction nor an expansion.  The energy
    is per reduced formula unit, referenced to the hull energy at the precursor's composition."""
    ps = _li_system(precursor, phases)
    red = precursor.reduced_amounts
    mu = ps.element_energy("Li") - float(voltage_V)
    i = ps.index_of(precursor.phase_id)
    st = stabilized(ps, i, precursor)
    g = ps.with_energy(i, st.energy_eV).grand_minimum(np.delete(ps.vector(red), ps.column("Li")), mu)
    prods = _products(ps, g.units, 1e-7)
    li_used = float(g.li - red.get("Li", 0.0))
    e_hull_per_atom = float(ps.energy_per_atom[i]) - st.e_above_hull_eV_per_atom  # the hull at P's composition
    energies = ps.energies.copy()
    energies[i] = e_hull_per_atom * ps.n_atoms[i]
    d_e = float(g.units @ energies) - e_hull_per_atom * sum(red.values()) - li_used * mu
    return Equilibrium(tuple(prods), li_used, d_e, float(voltage_V), ps)


# --------------------------------------------------------------------------- interphase
@dataclass(frozen=True)
class Interphase(Result):
    """The interphase a precursor forms with Li metal, and how it behaves (units in names)."""

    precursor: str
    material_id: str
    products: tuple[str, ...]
    product_amounts_per_formula_unit: tuple[float, ...]
    li_reaction_energy_eV_per_atom: float
    li_reaction_energy_eV_per_li: float | None
    li_consumed_per_formula_unit: float
    voltage_V: float
    volume_ratio: float | None
    volume_ratio_with_li: float | None
    volume_note: str
    electronic_character: Character
    min_product_band_gap_eV: float | None
    conducting_products: tuple[str, ...]
    band_gap_note: str
    gap_borderline: bool
    electrolyte: str | None
    electrolyte_reaction_energy_eV_per_atom: float | None
    electrolyte_reaction_products: tuple[str, ...]
    electrolyte_reaction: str
    within_dft_error: bool | None
    precursor_e_above_hull_eV_per_atom: float
    film: Film | None = None
    warnings: tuple[Caveat, ...] = ()


def interphase_with_li(precursor: Phase, phases: PhaseSource, settings: Settings | None = None,
                       electrolyte: Phase | None = None, voltage_V: float = 0.0, formula_units: float = 1.0,
                       reactions: dict | None = None) -> Interphase:
    """The interphase ``precursor`` forms with Li metal (``voltage_V`` = 0; or the lithiation
    stage in equilibrium at ``voltage_V`` vs Li/Li+) and its stability with ``electrolyte``
    (None for none).  Reaction energies with Li are per atom of precursor + Li taken up, the
    precursor at the hull energy of its composition (its own metastability is reported apart, in
    ``precursor_e_above_hull_eV_per_atom``, never counted as reactivity or expansion).  The film
    (``screening.layer``) is that of a ``settings.thickness_um`` layer of the precursor.
    ``reactions``: an optional mapping that keeps product|electrolyte reactions between calls
    (a screen passes one; keys are (product id, electrolyte id, tolerance))."""
    settings = settings or Settings()
    eq = equilibrium_with_li(precursor, phases, voltage_V)
    prods, li_used, d_e, ps = list(eq.products), eq.li_used, eq.energy_eV, eq.phase_set
    n_atoms = sum(precursor.reduced_amounts.values()) + max(li_used, 0.0)
    per_atom = d_e / n_atoms
    if abs(per_atom) < 1e-9:  # LP round-off of "no reaction"
        per_atom, d_e = 0.0, 0.0
    li_metal = ps.phase(ps.element_row("Li"))
    props = product_properties(precursor, prods, li_used, li_metal, settings.gap_threshold_eV)
    warns = [*ps.caveats, *props.warnings, *caveats.for_rows(ps, [p.row for p in prods])]
    e_el, el_products, el_text, within, el_name = None, (), "", None, None
    if electrolyte is not None:
        el_name = electrolyte.formula
        worst = None
        tol = settings.tolerance_eV_per_atom
        for p in prods:
            if p.formula == electrolyte.formula:
                continue
            key = (p.phase.phase_id, electrolyte.phase_id, tol)
            rx = reactions.get(key) if reactions is not None else None
            if rx is None:
                rx = interface_reaction(p.phase, electrolyte, phases, tolerance_eV_per_atom=tol)
                if reactions is not None:
                    reactions[key] = rx
            warns += rx.warnings
            if worst is None or rx.reaction_energy_eV_per_atom < worst.reaction_energy_eV_per_atom:
                worst = rx
        if worst is not None:
            e_el, el_products, el_text, within = (worst.reaction_energy_eV_per_atom, worst.products, worst.reaction,
                                                  worst.within_dft_error)
        else:
            e_el, el_text, within = 0.0, "interphase is the electrolyte itself", True
    return Interphase(
        precursor=precursor.formula,
        material_id=precursor.phase_id,
        products=tuple(p.formula for p in prods),
        product_amounts_per_formula_unit=tuple(float(p.amount * formula_units) for p in prods),
        li_reaction_energy_eV_per_atom=float(per_atom),
        li_reaction_energy_eV_per_li=float(d_e / li_used) if li_used > 1e-9 else None,
        li_consumed_per_formula_unit=float(li_used * formula_units),
        voltage_V=float(voltage_V),
        volume_ratio=props.volume_ratio,
        volume_ratio_with_li=props.volume_ratio_with_li,
        volume_note=props.volume_note,
        electronic_character=props.electronic_character,
        min_product_band_gap_eV=props.min_product_band_gap_eV,
        conducting_products=props.conducting_products,
        band_gap_note=props.band_gap_note,
        gap_borderline=props.gap_borderline,
        electrolyte=el_name,
        electrolyte_reaction_energy_eV_per_atom=e_el,
        electrolyte_reaction_products=el_products,
        electrolyte_reaction=el_text,
        within_dft_error=within,
        precursor_e_above_hull_eV_per_atom=float(max(0.0, precursor.e_above_hull_eV_per_atom or 0.0)),
        film=film(precursor, prods, li_used, li_metal, settings.thickness_um, settings.temperature_K or None),
        warnings=unique_caveats(warns),
    )
