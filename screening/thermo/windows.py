"""Electrochemical stability windows vs Li/Li+ (Zhu, He & Mo 2015; Richards et al. 2016).

A phase P is stable at Li chemical potential mu when no combination of other phases plus Li
exchanged with the reservoir has a lower grand potential.  For a reduction (Li uptake dn > 0)
P + dn Li -> products, P becomes unstable once mu > dE/dn, so the reduction limit is

    mu_red = min over product sets of dE/dn        (dE: energy change without the Li term)

a linear-fractional program, solved as one LP with dn normalised to 1 (Charnes-Cooper).  The
oxidation limit is the same with dn = -1.  Voltages vs Li/Li+: V = mu_Li(metal) - mu (eV -> V),
with the Li reference = the hull energy of Li metal.  Metastable phases are first stabilized onto
the hull (energy lowered by their e_above_hull plus 1e-6 eV/atom); their e_above_hull is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.analysis.phase_diagram import PhaseDiagram
from pymatgen.core import Composition, Element
from pymatgen.entries.computed_entries import ComputedEntry

from screening import lp
from screening.data.store import PhaseStore
from screening.errors import InputError
from screening.thermo.phases import PhaseSet, phase_set, products_of, resolve, row_index

STABILIZE_MARGIN_EV_PER_ATOM = 1e-6


@dataclass(frozen=True)
class Stage:
    """One step of the equilibrium staircase: the phases P decomposes into between two voltages
    (V vs Li/Li+) and the Li atoms taken up (+) or released (-) per formula unit of P."""

    low_V: float
    high_V: float | None
    phases: tuple[str, ...]
    li_uptake_per_formula_unit: float


@dataclass(frozen=True)
class Window:
    """Stability window of a phase vs Li/Li+ and the phases at each limit.

    ``oxidation_limit_V`` is None when P holds no Li (it cannot be delithiated).
    ``reduction_products`` is empty when P is stable against Li metal (limit 0 V).
    """

    formula: str
    material_id: str
    reduction_limit_V: float
    oxidation_limit_V: float | None
    reduction_products: tuple[str, ...]
    oxidation_products: tuple[str, ...]
    e_above_hull_eV_per_atom: float
    stable_against_li: bool
    chemsys: str
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "formula": self.formula,
            "material_id": self.material_id,
            "reduction_limit_V": round(self.reduction_limit_V, 4),
            "oxidation_limit_V": None if self.oxidation_limit_V is None else round(self.oxidation_limit_V, 4),
            "reduction_products": list(self.reduction_products),
            "oxidation_products": list(self.oxidation_products),
            "e_above_hull_eV_per_atom": round(self.e_above_hull_eV_per_atom, 5),
            "stable_against_li": self.stable_against_li,
            "warnings": list(self.warnings),
        }


def stabilized_energy(ps: PhaseSet, i: int) -> tuple[float, float]:
    """(energy placed on the hull minus a margin, e_above_hull in eV/atom) for row i."""
    n = ps.n_atoms[i]
    comp = Composition(ps.rows.composition.iat[i])
    try:
        others = ps.hull_energy_per_atom(comp, exclude=i)
    except ValueError:  # the only phase of an element: nothing else reaches its composition
        others = np.inf
    own = ps.energy[i] / n
    e_hull = max(0.0, own - min(own, others))
    return (min(own, others) - STABILIZE_MARGIN_EV_PER_ATOM) * n, e_hull


def _limit(ps: PhaseSet, i: int, e_p: float, dn: float) -> tuple[float, list[tuple[str, float]]] | None:
    """min dE for P + dn Li -> products with |dn| = 1 (eV per Li); None if infeasible."""
    k_li = ps.column("Li")
    others = np.ones(len(ps.energy), bool)
    others[i] = False
    idx = np.nonzero(others)[0]
    a_eq = np.hstack([ps.amounts[idx].T, -ps.amounts[i][:, None]])
    b_eq = np.zeros(len(ps.elements))
    b_eq[k_li] = dn
    c = np.concatenate([ps.energy[idx], [-e_p]])
    res = lp.solve(c, a_eq, b_eq)
    if res is None:
        return None
    t = res.weights[-1]
    li_metal = np.nonzero(ps.formulas[idx] == "Li")[0]
    prods = []
    if t > 1e-9:
        w = np.zeros(len(ps.energy))
        w[idx] = res.weights[:-1] / t
        prods = products_of(ps, w, skip=tuple(idx[j] for j in li_metal))
    return res.value, prods


def window(store: PhaseStore, formula: str) -> Window:
    """Electrochemical window of ``formula`` (lowest-energy phase of that formula in the store)."""
    row, comp = resolve(store, formula)
    if comp.reduced_formula == "Li":
        raise InputError("Li metal is the reference electrode: its window is not defined; give another phase")
    els = {el.symbol for el in comp.elements} | {"Li"}
    ps = phase_set(store, els)
    i = row_index(ps, row.phase_id)
    mu_li = ps.element_ref("Li")
    e_p, e_hull = stabilized_energy(ps, i)
    red = _limit(ps, i, e_p, +1.0)
    mu_red, red_products = red if red is not None else (mu_li, [])
    v_red = max(0.0, mu_li - mu_red)
    stable_li = v_red <= 1e-9
    ox = _limit(ps, i, e_p, -1.0) if comp[Element("Li")] > 0 else None
    v_ox = None if ox is None else mu_li + ox[0]
    return Window(
        formula=comp.reduced_formula,
        material_id=str(row.phase_id),
        reduction_limit_V=v_red,
        oxidation_limit_V=v_ox,
        reduction_products=() if stable_li else tuple(sorted(f for f, _ in red_products)),
        oxidation_products=() if ox is None else tuple(sorted(f for f, _ in ox[1])),
        e_above_hull_eV_per_atom=e_hull,
        stable_against_li=stable_li,
        chemsys="-".join(ps.elements),
        warnings=tuple(store.warnings_for(ps.elements)),
    )


def stabilized_phase_diagram(store: PhaseStore, formula: str) -> tuple[PhaseDiagram, ComputedEntry]:
    """pymatgen PhaseDiagram of formula's system + Li with the phase stabilized onto the hull."""
    row, comp = resolve(store, formula)
    ps = phase_set(store, {el.symbol for el in comp.elements} | {"Li"})
    i = row_index(ps, row.phase_id)
    e_p, _ = stabilized_energy(ps, i)
    entries = []
    target = None
    for j, r in enumerate(ps.rows.itertuples()):
        e = ComputedEntry(Composition(r.composition), e_p if j == i else float(r.energy_eV), entry_id=r.phase_id)
        entries.append(e)
        if j == i:
            target = e
    return PhaseDiagram(entries), target


def staircase(store: PhaseStore, formula: str) -> list[Stage]:
    """All equilibria of ``formula`` vs voltage (pymatgen ``get_element_profile`` on the
    stabilized diagram), from 0 V upwards."""
    pd_, entry = stabilized_phase_diagram(store, formula)
    comp = entry.composition
    li = Element("Li")
    mu0 = pd_.el_refs[li].energy_per_atom
    per_fu = comp.num_atoms / comp.reduced_composition.num_atoms
    profile = pd_.get_element_profile(li, comp)
    stages = []
    for k, step in enumerate(profile):
        v_low = max(0.0, mu0 - step["chempot"])
        v_high = max(0.0, mu0 - profile[k + 1]["chempot"]) if k + 1 < len(profile) else None
        phases = tuple(sorted(e.composition.reduced_formula for e in step["entries"]))
        if v_high is not None and v_high - v_low < 1e-9:
            continue
        stages.append(Stage(float(v_low), None if v_high is None else float(v_high), phases, float(step["evolution"]) / per_fu))
    return stages
