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

from screening.data.table import Phase
from screening.errors import InputError
from screening.hull import STABILIZE_MARGIN_EV_PER_ATOM, Stabilized
from screening.phases import PhaseSet, PhaseSource
from screening.results import Caveat, Result, unique_caveats
from screening.thermo import caveats


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


def _li_system(phase: Phase, phases: PhaseSource) -> tuple[PhaseSet, int, float]:
    """(phase set of the phase's system + Li including it, its row, the Li reference mu eV/atom)."""
    if phase.formula == "Li":
        raise InputError("Li metal is the reference electrode: its window is not defined; give another phase")
    ps = phases.phase_set({*phase.elements, "Li"}, include=[phase])
    return ps, ps.index_of(phase.phase_id), ps.element_energy("Li")


def stabilized(ps: PhaseSet, i: int, phase: Phase) -> Stabilized:
    """Row i placed just below the hull of the other phases: the kernel's ``stabilized_energy``,
    without its LP for a phase on the hull (e_above_hull <= 0: its own energy is the lower one)."""
    ehull = phase.e_above_hull_eV_per_atom
    if ehull is not None and ehull <= 0.0:
        return Stabilized((float(ps.energy_per_atom[i]) - STABILIZE_MARGIN_EV_PER_ATOM) * ps.n_atoms[i], 0.0)
    return ps.stabilized_energy(i)


def stability_window(phase: Phase, phases: PhaseSource) -> Window:
    """Electrochemical window of ``phase`` vs Li/Li+ from the phases of its system + Li."""
    ps, i, mu_li = _li_system(phase, phases)
    st = stabilized(ps, i, phase)
    li_metal = {j for j, f in enumerate(ps.formulas) if f == "Li"}
    red = ps.li_exchange(i, st.energy_eV, +1.0)
    v_red = max(0.0, mu_li - (mu_li if red is None else red.energy_eV_per_li))
    stable_li = v_red <= 1e-9
    ox = ps.li_exchange(i, st.energy_eV, -1.0) if phase.has_li else None
    reduced = [] if stable_li or red is None else ps.products(red.units)
    red_products = tuple(sorted(p.formula for p in reduced if p.row not in li_metal))
    ox_products = () if ox is None else tuple(sorted(p.formula for p in ps.products(ox.units, skip=li_metal)))
    return Window(
        formula=phase.formula,
        material_id=phase.phase_id,
        reduction_limit_V=float(v_red),
        oxidation_limit_V=None if ox is None else float(mu_li + ox.energy_eV_per_li),
        reduction_products=red_products,
        oxidation_products=ox_products,
        e_above_hull_eV_per_atom=float(st.e_above_hull_eV_per_atom),
        stable_against_li=bool(stable_li),
        chemsys="-".join(ps.elements),
        warnings=unique_caveats(ps.caveats, caveats.for_rows(ps, [p.row for p in reduced])),
    )


def equilibrium_staircase(phase: Phase, phases: PhaseSource) -> list[Stage]:
    """Every equilibrium of a phase vs voltage, from 0 V upwards: the kernel's lithiation profile
    of the stabilized phase from fully delithiated to fully lithiated (pymatgen's
    ``get_element_profile`` gives the same stages)."""
    ps, i, mu_li = _li_system(phase, phases)
    ps_stab = ps.with_energy(i, stabilized(ps, i, phase).energy_eV)
    red = phase.reduced_amounts
    amounts = ps.vector(red)
    own_li = float(red.get("Li", 0.0))
    profile = ps_stab.lithiation_profile(amounts, mu_max=mu_li, li_min=0.0)
    stages = []
    for s in reversed(profile):
        phases_ = tuple(sorted({p.formula for p in ps.products(s.amounts)} - {"Li"}))
        low = 0.0 if s.mu_high is None else max(0.0, mu_li - s.mu_high)
        high = None if s.mu_low is None else max(0.0, mu_li - s.mu_low)
        if high is not None and high - low < 1e-9:
            continue
        stages.append(Stage(float(low), None if high is None else float(high), phases_, float(s.li - own_li)))
    return stages
