"""Electrochemical stability windows vs Li/Li+ (Zhu, He & Mo 2015; Richards et al. 2016).

A phase P is stable at Li chemical potential mu when no combination of other phases plus Li
exchanged with the reservoir has a lower grand potential.  For a reduction (Li uptake dn > 0)
P + dn Li -> products, P becomes unstable once mu > dE/dn, so the reduction limit is

    mu_red = min over product sets of dE/dn        (dE: energy change without the Li term)

and the oxidation limit is the same with dn = -1 (the kernel's ``li_exchange``).  Voltages vs
Li/Li+: V = mu_Li(metal) - mu (eV -> V), with the Li reference = the hull energy of Li metal.
Metastable phases are first stabilized onto the hull (their energy lowered to 1e-6 eV/atom below
the hull of the other phases); their e_above_hull is reported beside the window.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymatgen.core import Composition, Element

from screening.errors import InputError
from screening.results import Caveat, Result, unique_caveats
from screening.thermo import caveats

LI = Element("Li")


@dataclass(frozen=True)
class Window(Result):
    """Stability window of a phase vs Li/Li+ (V) and the phases at each limit.

    ``oxidation_limit_V`` is None when P holds no Li (it cannot be delithiated);
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
    warnings: tuple[Caveat, ...] = ()

    @property
    def width_V(self) -> float | None:
        return None if self.oxidation_limit_V is None else self.oxidation_limit_V - self.reduction_limit_V


@dataclass(frozen=True)
class Stage(Result):
    """One step of a phase's equilibrium staircase: the phases it is in equilibrium with between
    two voltages (V vs Li/Li+; ``high_V`` None at the top) and the Li atoms taken up (+) or
    released (-) per reduced formula unit."""

    low_V: float
    high_V: float | None
    phases: tuple[str, ...]
    li_uptake_per_formula_unit: float


def _prepare(store, phase):
    """(store, row, composition, phase set of P + Li, row index, Li reference mu in eV/atom)."""
    store, row = store.locate(phase)
    comp = Composition(row.composition)
    if comp.reduced_formula == "Li":
        raise InputError("Li metal is the reference electrode: its window is not defined; give another phase")
    ps = store.system({el.symbol for el in comp.elements} | {"Li"}, include=[row.phase_id])
    return store, row, comp, ps, ps.index_of(row.phase_id), ps.element_energy("Li")


def window(store, phase) -> Window:
    """Electrochemical window of a phase (a formula picks its lowest-energy polymorph)."""
    store, row, comp, ps, i, mu_li = _prepare(store, phase)
    e_p, e_hull = ps.stabilized_energy(i)
    li_metal = {j for j, f in enumerate(ps.formulas) if f == "Li"}
    red = ps.li_exchange(i, e_p, +1.0)
    mu_red, red_units = red if red is not None else (mu_li, None)
    v_red = max(0.0, mu_li - mu_red)
    stable_li = v_red <= 1e-9
    ox = ps.li_exchange(i, e_p, -1.0) if comp[LI] > 0 else None
    red_products = () if stable_li or red_units is None else tuple(sorted(f for f, _, _ in ps.products(red_units, skip=li_metal)))
    ox_products = () if ox is None else tuple(sorted(f for f, _, _ in ps.products(ox[1], skip=li_metal)))
    decided = [] if stable_li or red_units is None else [j for _, _, j in ps.products(red_units)]
    return Window(
        formula=row.formula,
        material_id=str(row.phase_id),
        reduction_limit_V=float(v_red),
        oxidation_limit_V=None if ox is None else float(mu_li + ox[0]),
        reduction_products=red_products,
        oxidation_products=ox_products,
        e_above_hull_eV_per_atom=float(e_hull),
        stable_against_li=bool(stable_li),
        chemsys="-".join(ps.elements),
        warnings=unique_caveats(store.caveats_for(ps.elements), caveats.for_rows(ps, decided)),
    )


def staircase(store, phase) -> list[Stage]:
    """Every equilibrium of a phase vs voltage, from 0 V upwards: the kernel's lithiation profile
    of the stabilized phase from fully delithiated to fully lithiated (pymatgen's
    ``get_element_profile`` gives the same stages)."""
    store, row, comp, ps, i, mu_li = _prepare(store, phase)
    e_p, _ = ps.stabilized_energy(i)
    ps_stab = ps.with_energy(i, e_p)
    red = comp.reduced_composition
    amounts = ps.vector(red)
    own_li = float(red[LI])
    profile = ps_stab.lithiation_profile(amounts, mu_max=mu_li, li_min=0.0)
    stages = []
    for s in reversed(profile):
        phases = tuple(sorted({f for f, _, _ in ps.products(s.amounts)} - {"Li"}))
        low = 0.0 if s.mu_high is None else max(0.0, mu_li - s.mu_high)
        high = None if s.mu_low is None else max(0.0, mu_li - s.mu_low)
        if high is not None and high - low < 1e-9:
            continue
        stages.append(Stage(float(low), None if high is None else float(high), phases, float(s.li - own_li)))
    return stages
