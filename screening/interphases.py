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
from pymatgen.core import Composition, Element

from screening.data.formula import parse_formula
from screening.errors import InputError
from screening.results import Caveat, CaveatKind, Character, Result, unique_caveats
from screening.settings import DFT_TOLERANCE_EV_PER_ATOM, INSULATING_GAP_EV
from screening.thermo import caveats
from screening.thermo.reactions import react

LI = Element("Li")
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
    warnings: tuple[Caveat, ...] = ()


VOLUME_LABELS = {"measured": "measured densities", "dft": "DFT volumes (MP)", "user": "user densities",
                 "chgnet": "CHGNet volumes"}


def _volume_label(row) -> str:
    return VOLUME_LABELS.get(row.volume_origin, row.volume_origin or "unknown volumes")


def product_properties(store, prec_row, prods, li_used: float, gap_threshold_eV: float, rows) -> Properties:
    """Volumes and character of ``prods`` [(formula, reduced units per reduced f.u. of P, _)]
    whose store rows are ``rows`` (a DataFrame in the same order)."""
    warns: list[Caveat] = []
    unchanged = len(prods) == 1 and prods[0][0] == prec_row.formula and abs(li_used) < 1e-9
    used = [prec_row, *[r for _, r in rows.iterrows()]]
    missing = [r.formula + (" (precursor)" if k == 0 else "") for k, r in enumerate(used)
               if not np.isfinite(r.molar_volume_cm3_per_mol)]
    if unchanged:
        v_ratio = v_ratio_li = 1.0
        v_note = "no reaction with Li: volume unchanged"
    elif missing:
        v_ratio = v_ratio_li = None
        v_note = "no molar volume for " + ", ".join(missing)
        warns.append(Caveat(CaveatKind.NO_VOLUME, v_note, "add a density (user phase CSV) or fetch structures from MP",
                            prec_row.formula))
    else:
        v_prod = float(sum(n * v for (_, n, _), v in zip(prods, rows.molar_volume_cm3_per_mol, strict=True)))
        v_ratio = v_prod / float(prec_row.molar_volume_cm3_per_mol)
        li_row = store.lookup("Li")
        v_li = float(li_row.molar_volume_cm3_per_mol)
        v_ratio_li = v_prod / (prec_row.molar_volume_cm3_per_mol + max(li_used, 0.0) * v_li) if np.isfinite(v_li) else None
        labels = {}
        for r in used:
            labels.setdefault(_volume_label(r), []).append(r.formula)
        if len(labels) == 1:
            v_note = next(iter(labels))
        else:
            v_note = "mixed sources: " + "; ".join(f"{k} ({', '.join(dict.fromkeys(v))})" for k, v in sorted(labels.items()))
            warns.append(Caveat(CaveatKind.MIXED_VOLUME_SOURCES, f"volume ratio of {prec_row.formula} mixes {v_note[15:]}",
                                "", prec_row.formula))
        for r in used:
            kind = WEAK_DIMENSIONS.get(r.dimensionality)
            if r.volume_origin == "dft" and kind:
                warns.append(Caveat(CaveatKind.WEAK_VOLUME,
                                    f"{r.formula} ({r.phase_id}): DFT volume of a {kind} ({r.dimensionality}) crystal; "
                                    "GGA without dispersion overestimates such volumes", "give a measured density", r.formula))
    # electronic character from the products' gaps
    gaps = {f: (float(g), o) for (f, _, _), g, o in zip(prods, rows.band_gap_eV, rows.band_gap_origin, strict=True)}
    known = {f: g for f, (g, _) in gaps.items() if np.isfinite(g)}
    unknown = sorted(f for f in gaps if f not in known)
    conducting = tuple(sorted(f for f, g in known.items() if g < gap_threshold_eV))
    character = Character.MIXED if conducting else (Character.UNKNOWN if unknown else Character.INSULATING)
    origins = sorted({o or "unknown" for f, (_, o) in gaps.items() if f in known})
    gap_note = f"{' and '.join(origins)} gaps; threshold {gap_threshold_eV:g} eV"
    if unknown:
        gap_note = f"no band gap for {', '.join(unknown)}; " + gap_note
        warns.append(Caveat(CaveatKind.NO_BAND_GAP, f"no band gap for {', '.join(unknown)}",
                            "add band_gap_eV in a user phase CSV", prec_row.formula))
    return Properties(
        volume_ratio=None if v_ratio is None else float(v_ratio),
        volume_ratio_with_li=None if v_ratio_li is None else float(v_ratio_li),
        volume_note=v_note,
        electronic_character=character,
        min_product_band_gap_eV=float(min(known.values())) if known else None,
        conducting_products=conducting,
        band_gap_note=gap_note,
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
                "stages": [{k: v for k, v in s.record().items() if k != "properties"} | {
                    "volume_note": s.properties.volume_note, "band_gap_note": s.properties.band_gap_note}
                    for s in self.stages],
                "warnings": [str(w) for w in self.warnings],
                "warning_details": [w.details() for w in self.warnings]}


def _precursor(store, precursor):
    store, row = store.locate(precursor)
    comp = Composition(row.composition)
    red = comp.reduced_composition
    if red.num_atoms - red[LI] <= 0:
        raise InputError("Li metal is the anode itself: give a precursor or interlayer phase")
    ps = store.system({el.symbol for el in comp.elements} | {"Li"}, include=[row.phase_id])
    # amounts are reported per formula unit as the user wrote it (I2, not I)
    scale = 1.0
    if isinstance(precursor, str) and ":" not in precursor and not precursor.startswith(("mp-", "mvc-", "user:", "chgnet:")):
        given = parse_formula(precursor)
        scale = given.num_atoms / red.num_atoms
    return store, row, red, ps, scale


def lithiate(store, precursor, gap_threshold_eV: float = INSULATING_GAP_EV) -> LithiationPath:
    """The staircase of a precursor's Li uptake vs voltage (Li grand potential), stages in falling
    voltage, each with its products, volume ratio and electronic character.  The precursor is
    stabilized onto the hull first (as for windows: stage 1 starts at its reduction limit)."""
    store, row, red, ps, scale = _precursor(store, precursor)
    i = ps.index_of(row.phase_id)
    mu0 = ps.element_energy("Li")
    e_p, e_hull = ps.stabilized_energy(i)
    profile = ps.with_energy(i, e_p).lithiation_profile(ps.vector(red), mu_max=mu0)
    stages = []
    warns: list[Caveat] = list(store.caveats_for(ps.elements))
    for s in profile[1:]:
        prods = ps.products(s.amounts)
        li = s.li - red[LI]
        rows = ps.rows_at([j for _, _, j in prods])
        props = product_properties(store, row, prods, li, gap_threshold_eV, rows)
        warns += caveats.for_rows(ps, [j for _, _, j in prods])
        stages.append(LithiationStage(
            voltage_V=float(max(0.0, mu0 - s.mu_low)),
            li_per_formula_unit=float(li * scale),
            products=tuple(f for f, _, _ in prods),
            product_amounts_per_formula_unit=tuple(float(n * scale) for _, n, _ in prods),
            volume_ratio=props.volume_ratio,
            electronic_character=props.electronic_character,
            min_product_band_gap_eV=props.min_product_band_gap_eV,
            properties=props,
        ))
    return LithiationPath(str(precursor).strip() if isinstance(precursor, str) else row.formula, str(row.phase_id),
                          tuple(stages), float(e_hull), unique_caveats(warns))


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
    electrolyte: str | None
    electrolyte_reaction_energy_eV_per_atom: float | None
    electrolyte_reaction_products: tuple[str, ...]
    electrolyte_reaction: str
    within_dft_error: bool | None
    precursor_e_above_hull_eV_per_atom: float
    warnings: tuple[Caveat, ...] = ()


def lithiation_at(store, precursor, voltage_V: float = 0.0):
    """Products of a precursor in equilibrium with a Li reservoir at ``voltage_V`` (V vs Li/Li+;
    0 = Li metal), from one grand-potential LP:
    (store, row, [(formula, reduced units per reduced f.u., row)], Li taken per reduced f.u.,
    reaction energy in eV per reduced f.u. with the precursor at its own energy, phase set, scale).
    Above 0 V the precursor is stabilized onto the hull first (as in ``lithiate``)."""
    store, row, red, ps, scale = _precursor(store, precursor)
    mu0 = ps.element_energy("Li")
    mu = mu0 - float(voltage_V)
    system = ps
    if voltage_V > 0:
        i = ps.index_of(row.phase_id)
        system = ps.with_energy(i, ps.stabilized_energy(i)[0])
    _, li_after, units = system.grand_minimum(np.delete(ps.vector(red), ps.column("Li")), mu)
    prods = ps.products(units, tol=1e-7)
    li_used = float(li_after - red[LI])
    d_e = float(units @ ps.energies) - float(row.energy_per_atom_eV) * red.num_atoms - li_used * mu
    return store, row, prods, li_used, d_e, ps, scale


def interphase(store, precursor, electrolyte="Li7La3Zr2O12", gap_threshold_eV: float = INSULATING_GAP_EV,
               tolerance_eV_per_atom: float = DFT_TOLERANCE_EV_PER_ATOM, voltage_V: float = 0.0) -> Interphase:
    """The interphase ``precursor`` forms with Li metal (``voltage_V`` = 0; or the lithiation
    stage in equilibrium at ``voltage_V`` vs Li/Li+) and its stability with ``electrolyte``
    (None for none).  Reaction energies with Li are per atom of precursor + Li taken up, the
    precursor at its own energy (a metastable precursor's decomposition counts)."""
    if not (np.isfinite(voltage_V) and 0 <= voltage_V <= 10):
        raise InputError(f"voltage {voltage_V}: give a voltage vs Li/Li+ between 0 and 10 V")
    store, row, prods, li_used, d_e, ps, scale = lithiation_at(store, precursor, voltage_V)
    red = Composition(row.composition).reduced_composition
    n_atoms = red.num_atoms + max(li_used, 0.0)
    per_atom = d_e / n_atoms
    if abs(per_atom) < 1e-9:  # LP round-off of "no reaction"
        per_atom, d_e = 0.0, 0.0
    rows = ps.rows_at([j for _, _, j in prods])
    props = product_properties(store, row, prods, li_used, gap_threshold_eV, rows)
    warns = [*store.caveats_for(ps.elements), *props.warnings, *caveats.for_rows(ps, [j for _, _, j in prods])]
    e_el, el_products, el_text, within, el_name = None, (), "", None, None
    if electrolyte is not None:
        store, el_row = store.locate(electrolyte)
        el_name = el_row.formula
        worst = None
        for f, _, _ in prods:
            if f == el_row.formula:
                continue
            rx = react(store, f, el_row.phase_id, tolerance_eV_per_atom=tolerance_eV_per_atom)
            warns += rx.warnings
            if worst is None or rx.reaction_energy_eV_per_atom < worst.reaction_energy_eV_per_atom:
                worst = rx
        if worst is not None:
            e_el, el_products, el_text, within = (worst.reaction_energy_eV_per_atom, worst.products, worst.reaction,
                                                  worst.within_dft_error)
        else:
            e_el, el_text, within = 0.0, "interphase is the electrolyte itself", True
    return Interphase(
        precursor=str(precursor).strip() if isinstance(precursor, str) else row.formula,
        material_id=str(row.phase_id),
        products=tuple(f for f, _, _ in prods),
        product_amounts_per_formula_unit=tuple(float(n * scale) for _, n, _ in prods),
        li_reaction_energy_eV_per_atom=float(per_atom),
        li_reaction_energy_eV_per_li=float(d_e / li_used) if li_used > 1e-9 else None,
        li_consumed_per_formula_unit=float(li_used * scale),
        voltage_V=float(voltage_V),
        volume_ratio=props.volume_ratio,
        volume_ratio_with_li=props.volume_ratio_with_li,
        volume_note=props.volume_note,
        electronic_character=props.electronic_character,
        min_product_band_gap_eV=props.min_product_band_gap_eV,
        conducting_products=props.conducting_products,
        band_gap_note=props.band_gap_note,
        electrolyte=el_name,
        electrolyte_reaction_energy_eV_per_atom=e_el,
        electrolyte_reaction_products=el_products,
        electrolyte_reaction=el_text,
        within_dft_error=within,
        precursor_e_above_hull_eV_per_atom=float(max(0.0, row.e_above_hull_eV_per_atom)),
        warnings=unique_caveats(warns),
    )

