"""Self-assembled interphases: what a precursor coating becomes in contact with Li metal.

At Li metal (mu_Li = Li's hull energy, 0 V) the precursor P takes up Li until its non-Li
composition reaches the lowest grand potential; the products are those phases (I2 -> LiI,
ZnO -> Li2O + LiZn ...).  Reported per formula unit of P: Li consumed, reaction energy per atom
(of P + consumed Li) and per Li, the molar volume ratio V(products)/V(P) and V(products)/V(P + Li),
the electronic character from the products' PBE band gaps, and the most exothermic reaction of
any product with the electrolyte (closed, hull-referenced; see ``screening.thermo.reactions``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.core import Composition, Element

from screening import config, lp
from screening.data.store import PhaseStore, parse_formula
from screening.errors import InputError
from screening.thermo.phases import phase_set, resolve
from screening.thermo.reactions import react


@dataclass(frozen=True)
class Interphase:
    """The interphase a precursor forms with Li metal, and how it behaves (units in names)."""

    precursor: str
    products: tuple[str, ...]
    product_amounts_per_formula_unit: tuple[float, ...]
    li_reaction_energy_eV_per_atom: float
    li_reaction_energy_eV_per_li: float | None
    li_consumed_per_formula_unit: float
    volume_ratio: float | None
    volume_ratio_with_li: float | None
    volume_note: str
    electronic_character: str
    min_product_band_gap_eV: float | None
    conducting_products: tuple[str, ...]
    band_gap_note: str
    electrolyte: str | None
    electrolyte_reaction_energy_eV_per_atom: float | None
    electrolyte_reaction_products: tuple[str, ...]
    electrolyte_reaction: str
    within_dft_error: bool | None
    precursor_e_above_hull_eV_per_atom: float
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        r = lambda v: None if v is None else round(float(v), 5)  # noqa: E731
        return {
            "precursor": self.precursor,
            "products": list(self.products),
            "product_amounts_per_formula_unit": [r(v) for v in self.product_amounts_per_formula_unit],
            "li_reaction_energy_eV_per_atom": r(self.li_reaction_energy_eV_per_atom),
            "li_reaction_energy_eV_per_li": r(self.li_reaction_energy_eV_per_li),
            "li_consumed_per_formula_unit": r(self.li_consumed_per_formula_unit),
            "volume_ratio": r(self.volume_ratio),
            "volume_ratio_with_li": r(self.volume_ratio_with_li),
            "volume_note": self.volume_note,
            "electronic_character": self.electronic_character,
            "min_product_band_gap_eV": r(self.min_product_band_gap_eV),
            "conducting_products": list(self.conducting_products),
            "band_gap_note": self.band_gap_note,
            "electrolyte": self.electrolyte,
            "electrolyte_reaction_energy_eV_per_atom": r(self.electrolyte_reaction_energy_eV_per_atom),
            "electrolyte_reaction_products": list(self.electrolyte_reaction_products),
            "electrolyte_reaction": self.electrolyte_reaction,
            "within_dft_error": self.within_dft_error,
            "precursor_e_above_hull_eV_per_atom": r(self.precursor_e_above_hull_eV_per_atom),
            "warnings": list(self.warnings),
        }


def lithiate(store: PhaseStore, formula: str):
    """Products of ``formula`` + excess Li metal: [(formula, reduced units per reduced f.u.)],
    Li consumed per reduced formula unit, and the reaction energy (eV per reduced f.u.)."""
    row, comp = resolve(store, formula)
    ps = phase_set(store, {el.symbol for el in comp.elements} | {"Li"})
    k = ps.column("Li")
    mu = ps.element_ref("Li")
    red = comp.reduced_composition
    target = ps.vector(red)
    non_li = np.delete(target, k)
    if non_li.sum() <= 0:
        raise InputError("Li metal is the anode itself: give a precursor or interlayer phase")
    # grand potential of each phase (eV per stored f.u.) at mu; minimise subject to the non-Li atoms of P
    phi = ps.energy - mu * ps.amounts[:, k]
    a_eq = np.delete(ps.amounts, k, axis=1).T
    res = lp.solve(phi, a_eq, non_li)
    if res is None:
        raise InputError(f"no phases reach the composition of {red.reduced_formula}: fetch its chemical system")
    units = res.weights
    li_after = float(units @ ps.amounts[:, k])
    li_used = li_after - red[Element("Li")]
    e_p = float(row.energy_per_atom_eV) * red.num_atoms
    d_e = float(units @ ps.energy) - e_p - li_used * mu
    prods = []
    for i in np.nonzero(units > 1e-7)[0]:
        prods.append((ps.formulas[i], float(units[i]) * ps.reduced_units[i], i))
    return prods, li_used, d_e, ps


def interphase(store: PhaseStore, precursor: str, electrolyte: str | None = "Li7La3Zr2O12",
               gap_threshold_eV: float = config.INSULATING_GAP_EV,
               tolerance_eV_per_atom: float = config.DFT_TOLERANCE_EV_PER_ATOM) -> Interphase:
    """The interphase ``precursor`` forms with Li metal and its stability with ``electrolyte``."""
    row, comp = resolve(store, precursor)
    prods, li_used, d_e, ps = lithiate(store, precursor)
    red = comp.reduced_composition
    n_atoms = red.num_atoms + max(li_used, 0.0)
    # amounts are reported per formula unit as the user wrote it (I2, not I)
    given = parse_formula(precursor)
    scale = given.num_atoms / red.num_atoms
    per_atom = d_e / n_atoms
    if abs(per_atom) < 1e-9:  # LP round-off of "no reaction"
        per_atom, d_e = 0.0, 0.0
    per_li = d_e / li_used if li_used > 1e-9 else None
    rows = ps.rows.iloc[[i for _, _, i in prods]]

    # volumes (cm3 per mol of reduced formula units)
    li_row = store.lookup("Li")
    v_p = row.molar_volume_cm3_per_mol
    missing = [f for (f, _, _), v in zip(prods, rows.molar_volume_cm3_per_mol, strict=True) if not np.isfinite(v)]
    if not np.isfinite(v_p):
        missing.insert(0, f"{red.reduced_formula} (precursor)")
    if len(prods) == 1 and prods[0][0] == red.reduced_formula and abs(li_used) < 1e-9:
        v_ratio = v_ratio_li = 1.0  # stable against Li: nothing changes
        v_note = "no reaction with Li: volume unchanged"
    elif missing:
        v_ratio = v_ratio_li = None
        v_note = "no molar volume for " + ", ".join(missing) + ": add a density (user CSV) or fetch structures"
    else:
        v_prod = sum(n * v for (_, n, _), v in zip(prods, rows.molar_volume_cm3_per_mol, strict=True))
        v_ratio = v_prod / v_p
        v_li = li_row.molar_volume_cm3_per_mol
        v_ratio_li = v_prod / (v_p + max(li_used, 0.0) * v_li) if np.isfinite(v_li) else None
        sources = [*rows.volume_source, row.volume_source]
        v_note = "experimental densities" if all("densities" in s for s in sources) else "mixed volume sources: " + "; ".join(sorted(set(sources)))

    # electronic character
    gaps = dict(zip([f for f, _, _ in prods], rows.band_gap_eV, strict=True))
    known = {f: g for f, g in gaps.items() if np.isfinite(g)}
    unknown = sorted(f for f in gaps if f not in known)
    conducting = tuple(sorted(f for f, g in known.items() if g < gap_threshold_eV))
    if conducting:
        character = "mixed"
    elif unknown:
        character = "unknown"
    else:
        character = "insulating"
    gap_note = f"no band gap for {', '.join(unknown)}" if unknown else f"PBE gaps; threshold {gap_threshold_eV} eV"
    min_gap = min(known.values()) if known else None

    # stability of the interphase against the electrolyte
    e_el = None
    el_products: tuple[str, ...] = ()
    el_text = ""
    within = None
    warns = set(store.warnings_for(ps.elements))
    if electrolyte:
        worst = None
        for f, _, _ in prods:
            if Composition(f).reduced_formula == Composition(electrolyte).reduced_formula:
                continue
            rx = react(store, f, electrolyte, tolerance_eV_per_atom=tolerance_eV_per_atom)
            warns |= set(rx.warnings)
            if worst is None or rx.reaction_energy_eV_per_atom < worst.reaction_energy_eV_per_atom:
                worst = rx
        if worst is not None:
            e_el = worst.reaction_energy_eV_per_atom
            el_products = worst.products
            el_text = worst.reaction
            within = worst.within_dft_error
        else:
            e_el, el_text, within = 0.0, "interphase is the electrolyte itself", True
    return Interphase(
        precursor=str(precursor).strip(),
        products=tuple(f for f, _, _ in prods),
        product_amounts_per_formula_unit=tuple(n * scale for _, n, _ in prods),
        li_reaction_energy_eV_per_atom=per_atom,
        li_reaction_energy_eV_per_li=per_li,
        li_consumed_per_formula_unit=li_used * scale,
        volume_ratio=v_ratio,
        volume_ratio_with_li=v_ratio_li,
        volume_note=v_note,
        electronic_character=character,
        min_product_band_gap_eV=min_gap,
        conducting_products=conducting,
        band_gap_note=gap_note,
        electrolyte=Composition(electrolyte).reduced_formula if electrolyte else None,
        electrolyte_reaction_energy_eV_per_atom=e_el,
        electrolyte_reaction_products=el_products,
        electrolyte_reaction=el_text,
        within_dft_error=within,
        precursor_e_above_hull_eV_per_atom=float(row.e_above_hull_eV_per_atom),
        warnings=tuple(sorted(warns)),
    )
