"""Interface reactions A|B (pseudo-binary mixing; Richards et al. 2016, pymatgen's
InterfacialReactivity / GrandPotentialInterfacialReactivity).

Closed system: the reaction energy at atomic mixing fraction x of A is

    dE(x) = E_hull(x f_A + (1-x) f_B) - x e_A - (1-x) e_B        (eV/atom of mixture)

minimised over x and product sets in one LP (the kernel's ``mixing_minimum``).
``reaction_energy_eV_per_atom`` references both reactants to the hull at their composition, so
a metastable reactant's own decomposition (LLZO is 6.8 meV/atom above the hull) is not counted
as reactivity; ``raw_reaction_energy_eV_per_atom`` uses their own energies and includes it.

Open to Li at voltage V (mu_Li = mu_Li(metal) - V): the same on grand potentials per non-Li atom,
Phi = (E - mu_Li N_Li) / N_nonLi.  ``reaction_energy_eV_per_atom`` then takes each reactant at
its grand hull energy (already decomposed at that voltage: pymatgen's default), so it is the
reactivity of the mixture alone.  As in Richards et al. the reactants' own decomposition at that
voltage is reported too: ``decomposition_energy_eV_per_atom`` (each reactant decomposing alone,
weighted by the mixing ratio of the most exothermic reaction) and
``reaction_energy_with_decomposition_eV_per_atom`` (the minimum of the reaction curve with each
reactant at its own closed-hull energy: pymatgen's ``include_no_mixing_energy=True``).  All open
energies are per non-Li atom of the mixture.
"""

from __future__ import annotations

from dataclasses import dataclass

from screening.data.table import Phase
from screening.errors import InputError
from screening.phases import PhaseSource
from screening.results import Caveat, CaveatKind, Result, unique_caveats
from screening.settings import DFT_TOLERANCE_EV_PER_ATOM
from screening.thermo import caveats
from screening.thermo.windows import stability_window


@dataclass(frozen=True)
class Reaction(Result):
    """Most exothermic reaction between A and B (energies in eV per atom of mixture; per non-Li
    atom when open to Li, as in pymatgen).

    ``mixing_ratio``: atomic fraction of A in the A+B mixture (all atoms, Li included) at the
    minimum; None when nothing reacts.  ``products``: reduced formulas; ``material_ids``: the
    phases used for A and B.
    """

    reactants: tuple[str, str]
    material_ids: tuple[str, str]
    reaction_energy_eV_per_atom: float
    mixing_ratio: float | None
    products: tuple[str, ...]
    reaction: str
    within_dft_error: bool
    open_li_V: float | None = None
    raw_reaction_energy_eV_per_atom: float | None = None
    decomposition_energy_eV_per_atom: float | None = None
    reaction_energy_with_decomposition_eV_per_atom: float | None = None
    e_above_hull_eV_per_atom: tuple[float, float] = (0.0, 0.0)
    tolerance_eV_per_atom: float = DFT_TOLERANCE_EV_PER_ATOM
    warnings: tuple[Caveat, ...] = ()

    @property
    def energy_basis(self) -> str:
        return "eV per atom of mixture" if self.open_li_V is None else "eV per non-Li atom of mixture"

    def record(self) -> dict:
        out = super().record()
        out["energy_basis"] = self.energy_basis
        return out


def _fmt(coef: float, formula: str) -> str:
    c = f"{coef:.4g}"
    return formula if c == "1" else f"{c} {formula}"


def reaction_text(a: str, na: float, b: str, nb: float, prods, li: float = 0.0) -> str:
    """Balanced reaction normalised to one formula unit of A (amounts in formula units)."""
    s = 1.0 / na
    left = [_fmt(1.0, a), _fmt(nb * s, b)]
    right = [_fmt(n * s, f) for f, n in prods]
    if li > 1e-9:
        left.append(_fmt(li * s, "Li"))
    elif li < -1e-9:
        right.append(_fmt(-li * s, "Li"))
    return " + ".join(left) + " -> " + " + ".join(right)


def _atoms_per_reduced(p: Phase, non_li: bool) -> float:
    red = p.reduced_amounts
    return sum(red.values()) - (red.get("Li", 0.0) if non_li else 0.0)


def _to_full_basis(x: float, a: Phase, b: Phase) -> float:
    """Mixing fraction over non-Li atoms -> over all atoms (pymatgen's conversion)."""
    f1 = _atoms_per_reduced(a, True) / _atoms_per_reduced(a, False)
    f2 = _atoms_per_reduced(b, True) / _atoms_per_reduced(b, False)
    return x * f2 / ((1 - x) * f1 + x * f2)


def _pair_system(a: Phase, b: Phase, phases: PhaseSource, open_li_V: float | None):
    if a.formula == b.formula:
        raise InputError(f"A and B are both {a.formula}: give two different phases")
    els = {*a.elements, *b.elements} | ({"Li"} if open_li_V is not None else set())
    ps = phases.phase_set(els, include=[a, b])
    mu = None if open_li_V is None else ps.element_energy("Li") - float(open_li_V)
    return ps, ps.index_of(a.phase_id), ps.index_of(b.phase_id), mu


def interface_reaction(a: Phase, b: Phase, phases: PhaseSource, open_li_V: float | None = None,
                       tolerance_eV_per_atom: float = DFT_TOLERANCE_EV_PER_ATOM) -> Reaction:
    """Most negative reaction energy of the A|B interface, closed or open to Li at ``open_li_V``
    (V vs Li/Li+), from the phases of the A+B(+Li) system."""
    ps, ia, ib, mu = _pair_system(a, b, phases, open_li_V)
    ehull = (max(0.0, a.e_above_hull_eV_per_atom or 0.0), max(0.0, b.e_above_hull_eV_per_atom or 0.0))
    try:
        fa, fb = ps.point(ps.amounts[ia], mu), ps.point(ps.amounts[ib], mu)
    except ValueError:
        which = a.formula if ps.amounts[ia].sum() == ps.amounts[ia][ps.column("Li")] else b.formula
        raise InputError(f"{which} has no atoms besides Li: it cannot react with an open Li reservoir; "
                         "leave open_li_V out or give a phase with other elements", argument="open_li_V") from None
    if mu is None:
        # closed: each reactant at the hull energy of its own composition (its e_above_hull removed)
        ea = ps.energy_per_atom[ia] - ehull[0]
        eb = ps.energy_per_atom[ib] - ehull[1]
    else:
        ea = ps.hull_energy_per_atom(ps.amounts[ia], mu)
        eb = ps.hull_energy_per_atom(ps.amounts[ib], mu)
    best = ps.mixing_minimum(fa, ea, fb, eb, mu)
    energy, x, units = (0.0 if abs(best.energy) < 1e-9 else float(best.energy)), best.x, best.units
    raw = decomposition = with_decomposition = None
    warnings = list(ps.caveats)
    if mu is None:
        raw = energy if max(ehull) <= 0.0 else float(ps.mixing_minimum(fa, ps.energy_per_atom[ia], fb, ps.energy_per_atom[ib]).energy)
    else:
        # each reactant at its own (closed-hull) energy: its grand potential without decomposing
        own = []
        for i in (ia, ib):
            non_li = ps.n_atoms[i] - ps.amounts[i][ps.column("Li")]
            closed = ps.hull_energy_per_atom(ps.amounts[i]) * ps.n_atoms[i]
            own.append((closed - mu * ps.amounts[i][ps.column("Li")]) / non_li)
        d_a, d_b = ea - own[0], eb - own[1]  # <= 0: decomposition alone at this voltage
        w = ps.mixing_minimum(fa, own[0], fb, own[1], mu)
        with_decomposition = 0.0 if abs(w.energy) < 1e-9 else float(w.energy)
        decomposition = float(w.x * d_a + (1 - w.x) * d_b)
        if abs(decomposition) < 1e-9:
            decomposition = 0.0
        for p, d in ((a, d_a), (b, d_b)):
            if d < -1e-6:
                warnings.append(_outside_window(p, phases, open_li_V, d))
    reacts = energy < -1e-6
    if not reacts:
        products = tuple(sorted({a.formula, b.formula}))
        text = f"{a.formula} + {b.formula}: no reaction"
        ratio = None
        decided = []
    else:
        prods = ps.products(units, tol=1e-7)
        products = tuple(p.formula for p in prods)
        decided = [p.row for p in prods]
        na = x / _atoms_per_reduced(a, mu is not None)
        nb = (1 - x) / _atoms_per_reduced(b, mu is not None)
        li = 0.0
        if mu is not None:
            li_in = na * a.reduced_amounts.get("Li", 0.0) + nb * b.reduced_amounts.get("Li", 0.0)
            li = sum(p.amount * ps.phase(p.row).reduced_amounts.get("Li", 0.0) for p in prods) - li_in
        text = reaction_text(a.formula, na, b.formula, nb, [(p.formula, p.amount) for p in prods], li)
        ratio = x if mu is None else _to_full_basis(x, a, b)
    return Reaction(
        reactants=(a.formula, b.formula),
        material_ids=(a.phase_id, b.phase_id),
        reaction_energy_eV_per_atom=energy,
        mixing_ratio=None if ratio is None else float(ratio),
        products=products,
        reaction=text,
        within_dft_error=bool(abs(energy) < tolerance_eV_per_atom),
        open_li_V=None if open_li_V is None else float(open_li_V),
        raw_reaction_energy_eV_per_atom=None if raw is None else float(raw),
        decomposition_energy_eV_per_atom=decomposition,
        reaction_energy_with_decomposition_eV_per_atom=with_decomposition,
        e_above_hull_eV_per_atom=ehull,
        tolerance_eV_per_atom=float(tolerance_eV_per_atom),
        warnings=unique_caveats(warnings, caveats.for_rows(ps, decided)),
    )


def _outside_window(p: Phase, phases: PhaseSource, volts: float, d: float) -> Caveat:
    w = stability_window(p, phases)
    ox = "no Li to remove" if w.oxidation_limit_V is None else f"{w.oxidation_limit_V:.2f} V"
    return Caveat(CaveatKind.OUTSIDE_WINDOW,
                  f"{p.formula} is outside its stability window ({w.reduction_limit_V:.2f} V to {ox}) at {volts:g} V: "
                  f"it decomposes on its own by {d:.3f} eV per non-Li atom",
                  "read decomposition_energy_eV_per_atom and reaction_energy_with_decomposition_eV_per_atom",
                  p.formula)


@dataclass(frozen=True)
class Kink(Result):
    """A kink of the A|B reaction line: mixing ratio x of A (over all atoms), the reaction energy
    there (eV per atom of mixture; per non-Li atom when open to Li) and the products."""

    x: float
    energy_eV_per_atom: float
    products: str


def reaction_kinks(a: Phase, b: Phase, phases: PhaseSource, open_li_V: float | None = None) -> list[Kink]:
    """Every kink of the A|B reaction line, reactants hull-referenced as in
    ``interface_reaction`` (the kernel's mixing vertices; pymatgen's
    ``InterfacialReactivity.get_kinks`` gives the same points)."""
    ps, ia, ib, mu = _pair_system(a, b, phases, open_li_V)
    fa, fb = ps.point(ps.amounts[ia], mu), ps.point(ps.amounts[ib], mu)
    if mu is None:
        ea, eb = ps.hull_energy_per_atom(ps.amounts[ia]), ps.hull_energy_per_atom(ps.amounts[ib])
    else:
        ea, eb = ps.hull_energy_per_atom(ps.amounts[ia], mu), ps.hull_energy_per_atom(ps.amounts[ib], mu)
    out = []
    for v in ps.mixing_vertices(fa, fb, mu):
        e = v.energy - v.x * ea - (1 - v.x) * eb
        prods = " + ".join(p.formula for p in ps.products(v.units, tol=1e-7))
        xf = v.x if mu is None else (_to_full_basis(v.x, a, b) if 0 < v.x < 1 else v.x)
        out.append(Kink(float(xf), 0.0 if abs(e) < 1e-9 else float(e), prods))
    return out
