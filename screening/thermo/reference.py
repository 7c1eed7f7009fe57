"""The straightforward pymatgen route to one screen row: the reference for cross-checks and the
baseline of ``benchmarks/whole_mp_screen.py``.

Per candidate P and electrolyte E: a PhaseDiagram of P's system + Li (window from
``get_element_profile``, P stabilized onto the hull first; the interphase with Li metal from the
profile's stage at mu_Li = Li metal), and a PhaseDiagram of P + Li + E's system with
``InterfacialReactivity`` (hull-referenced reactants) for each interphase product against E.
Same store entries (MP2020-corrected) as the fast LP code, nothing shared with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymatgen.analysis.interface_reactions import InterfacialReactivity
from pymatgen.analysis.phase_diagram import PhaseDiagram
from pymatgen.core import Composition, Element
from pymatgen.entries.computed_entries import ComputedEntry


LI = Element("Li")


@dataclass(frozen=True)
class ReferenceRow:
    """pymatgen's numbers for the quantities a screen row reports (units in names)."""

    formula: str
    reduction_limit_V: float
    oxidation_limit_V: float | None
    interphase: tuple[str, ...]
    li_reaction_energy_eV_per_atom: float
    electrolyte_reaction_energy_eV_per_atom: float
    electrolyte_reaction_products: tuple[str, ...]


def _stabilized(pd_: PhaseDiagram, entries: list[ComputedEntry], target: ComputedEntry, margin: float = 1e-6):
    """Diagram with ``target`` lowered onto the hull of the other phases (minus a margin)."""
    others = [e for e in entries if e is not target]
    try:
        e_others = PhaseDiagram(others).get_hull_energy_per_atom(target.composition)
    except ValueError:
        return pd_, target
    own = target.energy_per_atom
    new = ComputedEntry(target.composition, (min(own, e_others) - margin) * target.composition.num_atoms,
                        entry_id=target.entry_id)
    return PhaseDiagram([*others, new]), new


def reference_row(store, formula: str, electrolyte: str = "Li7La3Zr2O12") -> ReferenceRow:
    """One candidate through plain pymatgen (PhaseDiagram, get_element_profile, InterfacialReactivity)."""
    row = store.lookup(formula)
    comp = Composition(row.composition)
    red = comp.reduced_composition
    els = {e.symbol for e in comp.elements} | {"Li"}
    entries = store.entries(els)
    target = next(e for e in entries if e.entry_id == row.phase_id)
    pd_ = PhaseDiagram(entries)
    mu0 = pd_.el_refs[LI].energy_per_atom

    # window: the profile stage whose equilibrium is P itself, on the stabilized diagram
    spd, sentry = _stabilized(pd_, entries, target)
    prof = spd.get_element_profile(LI, red)
    low, high = 0.0, None
    for k, step in enumerate(prof):
        if [e.entry_id for e in step["entries"]] == [sentry.entry_id]:
            low = max(0.0, mu0 - step["chempot"])
            high = mu0 - prof[k + 1]["chempot"] if k + 1 < len(prof) else None
            break
    if red[LI] == 0:
        high = None

    # interphase with Li metal: first stage of the profile on the stabilized diagram (P placed just
    # below the hull of the others, so that a metastable P stable against Li is its own product);
    # energies referenced to the hull at P's composition (its own metastability is no reaction)
    first = spd.get_element_profile(LI, red)[0]
    n_li = float(first["evolution"])
    products = tuple(sorted({e.composition.reduced_formula for e in first["entries"]} - {"Li"}))
    # P + n Li -> products (n < 0: a metastable P releasing Li); per atom of P plus the Li taken up
    if n_li > 1e-9:
        after = red + Composition({LI: n_li})
    elif n_li < -1e-9:
        after = red - Composition({LI: -n_li})
    else:
        after = red
    e_ref = pd_.get_hull_energy_per_atom(red)
    decomposition = spd.get_decomposition(after)
    p_atoms = decomposition.get(sentry, 0.0) * after.num_atoms  # P itself among the products: undo the margin
    e_after = spd.get_hull_energy(after) + 1e-6 * p_atoms
    e_li = (e_after - e_ref * red.num_atoms - n_li * mu0) / (red.num_atoms + max(n_li, 0.0))

    # each product against the electrolyte, in one diagram of the union of the systems
    e_comp = Composition(electrolyte).reduced_composition
    big = PhaseDiagram(store.entries(els | {e.symbol for e in e_comp.elements}))
    results = [(0.0, ())]
    for f in products:
        if Composition(f).reduced_formula == e_comp.reduced_formula:
            continue
        ir = InterfacialReactivity(Composition(f), e_comp, big, norm=True, use_hull_energy=True)
        kink = min(ir.get_kinks(), key=lambda k: k[2])
        results.append((float(ir.minimum[1]), tuple(sorted(c.reduced_formula for c in kink[3].products))))
    worst, worst_products = min(results, key=lambda r: r[0])
    return ReferenceRow(
        formula=red.reduced_formula,
        reduction_limit_V=float(low),
        oxidation_limit_V=None if high is None else float(high),
        interphase=products,
        li_reaction_energy_eV_per_atom=float(e_li),
        electrolyte_reaction_energy_eV_per_atom=float(worst),
        electrolyte_reaction_products=worst_products if worst < -1e-6 else (),
    )


def pymatgen_reactivity(store, a, b, open_li_V: float | None = None, use_hull_energy: bool = True,
                        include_no_mixing_energy: bool = False):
    """pymatgen's (Grand)InterfacialReactivity on the same store entries."""
    from pymatgen.analysis.interface_reactions import GrandPotentialInterfacialReactivity
    from pymatgen.analysis.phase_diagram import GrandPotentialPhaseDiagram

    ra, rb = store.resolve(a), store.resolve(b)
    ca, cb = Composition(ra.composition).reduced_composition, Composition(rb.composition).reduced_composition
    els = {el.symbol for el in ca.elements} | {el.symbol for el in cb.elements}
    if open_li_V is not None:
        els |= {"Li"}
    entries = store.entries(els)
    pd_ = PhaseDiagram(entries)
    if open_li_V is None:
        return InterfacialReactivity(ca, cb, pd_, norm=True, use_hull_energy=use_hull_energy)
    mu = pd_.el_refs[LI].energy_per_atom - open_li_V
    gpd = GrandPotentialPhaseDiagram(entries, {LI: mu})
    return GrandPotentialInterfacialReactivity(ca, cb, gpd, pd_, norm=True, use_hull_energy=use_hull_energy,
                                               include_no_mixing_energy=include_no_mixing_energy)


def pymatgen_window(store, formula) -> tuple[float, float | None]:
    """Window limits (V) read from pymatgen's element profile of the stabilized phase: the stage
    whose equilibrium is the phase itself."""
    row = store.lookup(formula)
    comp = Composition(row.composition)
    entries = store.entries({e.symbol for e in comp.elements} | {"Li"})
    target = next(e for e in entries if e.entry_id == row.phase_id)
    pd_, entry = _stabilized(PhaseDiagram(entries), entries, target)
    mu0 = pd_.el_refs[LI].energy_per_atom
    prof = pd_.get_element_profile(LI, entry.composition)
    for k, step in enumerate(prof):
        if [e.entry_id for e in step["entries"]] == [entry.entry_id]:
            low = max(0.0, mu0 - step["chempot"])
            high = mu0 - prof[k + 1]["chempot"] if k + 1 < len(prof) else None
            return low, (None if comp.reduced_composition[LI] == 0 else high)
    raise ValueError(f"{formula} is never its own equilibrium")

