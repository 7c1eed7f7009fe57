"""Interface reactions A|B (pseudo-binary mixing; Richards et al. 2016, pymatgen's
InterfacialReactivity).

Closed system: the reaction energy at atomic mixing fraction x of A is

    dE(x) = E_hull(x f_A + (1-x) f_B) - x e_A - (1-x) e_B        (eV/atom of mixture)

and its minimum over x and over product sets is a single LP in (x, w): minimise
sum_j w_j e_j - x (e_A - e_B) subject to sum_j w_j f_j - x (f_A - f_B) = f_B.

``reaction_energy_eV_per_atom`` references both reactants to the hull at their composition, so
a metastable reactant's own decomposition (LLZO is 6.8 meV/atom above the hull) is not counted
as reactivity; ``raw_reaction_energy_eV_per_atom`` uses their own energies and includes it.

Open to Li at voltage V (mu_Li = mu_Li(metal) - V): the same LP on grand potentials per non-Li
atom, Phi_j = (E_j - mu_Li N_Li,j) / N_nonLi,j, with reactants at their grand hull energy
(pymatgen's GrandPotentialInterfacialReactivity defaults).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np
from pymatgen.core import Composition, Element

from screening import config, lp
from screening.data.store import PhaseStore
from screening.errors import InputError
from screening.thermo.phases import PhaseSet, phase_set, resolve


@dataclass(frozen=True)
class Reaction:
    """Most exothermic reaction between A and B.

    ``mixing_ratio``: atomic fraction of A in the A+B mixture (all atoms, Li included) at the
    minimum; None when nothing reacts.  Energies in eV per atom of mixture (per non-Li atom when
    open to Li, as in pymatgen).
    """

    reactants: tuple[str, str]
    reaction_energy_eV_per_atom: float
    mixing_ratio: float | None
    products: tuple[str, ...]
    reaction: str
    within_dft_error: bool
    open_li_V: float | None = None
    raw_reaction_energy_eV_per_atom: float | None = None
    e_above_hull_eV_per_atom: tuple[float, float] = (0.0, 0.0)
    tolerance_eV_per_atom: float = config.DFT_TOLERANCE_EV_PER_ATOM
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        r = lambda v: None if v is None else round(float(v), 5)  # noqa: E731
        return {
            "reactants": list(self.reactants),
            "reaction_energy_eV_per_atom": r(self.reaction_energy_eV_per_atom),
            "mixing_ratio": r(self.mixing_ratio),
            "products": list(self.products),
            "reaction": self.reaction,
            "within_dft_error": self.within_dft_error,
            "open_li_V": self.open_li_V,
            "raw_reaction_energy_eV_per_atom": r(self.raw_reaction_energy_eV_per_atom),
            "e_above_hull_eV_per_atom": [r(v) for v in self.e_above_hull_eV_per_atom],
            "warnings": list(self.warnings),
        }


def _fmt(coef: float, formula: str) -> str:
    c = f"{coef:.4g}"
    return formula if c == "1" else f"{c} {formula}"


def _reaction_string(a: str, na: float, b: str, nb: float, prods: list[tuple[str, float]], li: float = 0.0) -> str:
    """Balanced reaction normalised to one formula unit of A (amounts in formula units)."""
    s = 1.0 / na
    left = [_fmt(1.0, a), _fmt(nb * s, b)]
    right = [_fmt(n * s, f) for f, n in prods]
    if li > 1e-9:
        left.append(_fmt(li * s, "Li"))
    elif li < -1e-9:
        right.append(_fmt(-li * s, "Li"))
    return " + ".join(left) + " -> " + " + ".join(right)


@dataclass(frozen=True)
class _Basis:
    """Per-atom fractions and energies of the phases (closed) or of their non-Li part (open)."""

    frac: np.ndarray
    e: np.ndarray
    keep: np.ndarray  # store rows represented
    atoms: np.ndarray  # atoms (or non-Li atoms) per stored formula
    mu: float | None


def _basis(ps: PhaseSet, mu_li: float | None) -> _Basis:
    if mu_li is None:
        n = ps.n_atoms
        return _Basis(ps.amounts / n[:, None], ps.energy / n, np.arange(len(n)), n, None)
    k = ps.column("Li")
    non_li = ps.n_atoms - ps.amounts[:, k]
    keep = np.nonzero(non_li > 1e-9)[0]
    am = np.delete(ps.amounts[keep], k, axis=1)
    phi = (ps.energy[keep] - mu_li * ps.amounts[keep, k]) / non_li[keep]
    return _Basis(am / non_li[keep, None], phi, keep, non_li[keep], mu_li)


def _point(ps: PhaseSet, comp: Composition, mu_li: float | None) -> np.ndarray:
    v = ps.vector(comp)
    if mu_li is not None:
        v = np.delete(v, ps.column("Li"))
    if v.sum() <= 0:
        raise InputError(f"{comp.reduced_formula} has no atoms besides Li: it cannot react with an open Li reservoir")
    return v / v.sum()


def _min_mixing(basis: _Basis, fa: np.ndarray, ea: float, fb: np.ndarray, eb: float):
    a_eq = np.hstack([basis.frac.T, -(fa - fb)[:, None]])
    c = np.concatenate([basis.e, [-(ea - eb)]])
    bounds = [(0, None)] * len(basis.e) + [(0, 1)]
    res = lp.solve(c, a_eq, fb, bounds=bounds)
    if res is None:
        raise InputError("no phase set reaches the A|B mixture: the store lacks an element's phases")
    return res.value - eb, float(res.weights[-1]), res.weights[:-1]


_MEMO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def react(store: PhaseStore, a: str, b: str, open_li_V: float | None = None,
          tolerance_eV_per_atom: float = config.DFT_TOLERANCE_EV_PER_ATOM) -> Reaction:
    """Most negative reaction energy of the A|B interface, closed or open to Li at ``open_li_V``.

    Results are memoised per store (a screen asks for the same product|electrolyte pairs often).
    """
    key = (str(a), str(b), open_li_V, tolerance_eV_per_atom)
    memo = _MEMO.setdefault(store, {})
    if key not in memo:
        memo[key] = _react(store, a, b, open_li_V, tolerance_eV_per_atom)
    return memo[key]


def _react(store: PhaseStore, a: str, b: str, open_li_V: float | None,
           tolerance_eV_per_atom: float) -> Reaction:
    row_a, ca = resolve(store, a)
    row_b, cb = resolve(store, b)
    if ca.reduced_formula == cb.reduced_formula:
        raise InputError(f"A and B are both {ca.reduced_formula}: give two different phases")
    if open_li_V is not None and (not np.isfinite(open_li_V) or open_li_V < 0):
        raise InputError(f"--open-li {open_li_V} V: the voltage vs Li/Li+ must be >= 0")
    els = {el.symbol for el in ca.elements} | {el.symbol for el in cb.elements}
    if open_li_V is not None:
        els |= {"Li"}
    ps = phase_set(store, els)
    mu = None if open_li_V is None else ps.element_ref("Li") - open_li_V
    basis = _basis(ps, mu)
    fa, fb = _point(ps, ca, mu), _point(ps, cb, mu)
    own = (float(row_a.energy_per_atom_eV), float(row_b.energy_per_atom_eV))
    ehull = (float(row_a.e_above_hull_eV_per_atom), float(row_b.e_above_hull_eV_per_atom))
    stored = bool(np.isfinite(ehull).all())
    if mu is None and stored:
        # closed: the hull at a phase's composition only involves its own sub-system, so it is
        # the store's (own energy - e_above_hull), computed by the same LP when the store was built
        ea, eb = own[0] - ehull[0], own[1] - ehull[1]
    else:
        hull = lambda f: lp.hull_energy(basis.frac, basis.e, f).value  # noqa: E731
        ea, eb = hull(fa), hull(fb)
    energy, x, w = _min_mixing(basis, fa, ea, fb, eb)
    energy = 0.0 if abs(energy) < 1e-9 else energy
    raw = None
    if mu is None:
        on_hull = stored and max(ehull) <= 0.0
        raw = energy if on_hull else _min_mixing(basis, fa, own[0], fb, own[1])[0]

    reacts = energy < -1e-6
    if not reacts:
        products = tuple(sorted({ca.reduced_formula, cb.reduced_formula}))
        text = f"{ca.reduced_formula} + {cb.reduced_formula}: no reaction"
        ratio = None
    else:
        # formula units of each product per atom (or non-Li atom) of mixture
        rows = basis.keep[w > 1e-7]
        units = w[w > 1e-7] / basis.atoms[w > 1e-7]
        red = [ps.formulas[r] for r in rows]
        prods = sorted(zip(red, units * np.array([_reduced_factor(ps, r) for r in rows])), key=lambda p: p[0])
        products = tuple(f for f, _ in prods)
        na = x / _atoms_per_reduced(ca, mu is not None)
        nb = (1 - x) / _atoms_per_reduced(cb, mu is not None)
        li = 0.0
        if mu is not None:
            li_in = na * ca.reduced_composition[Element("Li")] + nb * cb.reduced_composition[Element("Li")]
            li_out = sum(n * Composition(f)[Element("Li")] for f, n in prods)
            li = li_out - li_in
        text = _reaction_string(ca.reduced_formula, na, cb.reduced_formula, nb, prods, li)
        ratio = x if mu is None else _to_full_basis(x, ca, cb)
    return Reaction(
        reactants=(ca.reduced_formula, cb.reduced_formula),
        reaction_energy_eV_per_atom=float(energy),
        mixing_ratio=ratio,
        products=products,
        reaction=text,
        within_dft_error=bool(abs(energy) < tolerance_eV_per_atom),
        open_li_V=open_li_V,
        raw_reaction_energy_eV_per_atom=raw,
        e_above_hull_eV_per_atom=(max(0.0, ehull[0]), max(0.0, ehull[1])),
        tolerance_eV_per_atom=tolerance_eV_per_atom,
        warnings=tuple(store.warnings_for(ps.elements)),
    )


def _reduced_factor(ps: PhaseSet, r: int) -> float:
    """Reduced formula units per stored formula unit of row r."""
    return float(ps.reduced_units[r])


def _atoms_per_reduced(comp: Composition, non_li: bool) -> float:
    red = comp.reduced_composition
    return red.num_atoms - (red[Element("Li")] if non_li else 0.0)


def _to_full_basis(x: float, ca: Composition, cb: Composition) -> float:
    """Mixing fraction over non-Li atoms -> over all atoms (pymatgen's conversion)."""
    f1 = _atoms_per_reduced(ca, True) / ca.reduced_composition.num_atoms
    f2 = _atoms_per_reduced(cb, True) / cb.reduced_composition.num_atoms
    return x * f2 / ((1 - x) * f1 + x * f2)


def pymatgen_reactivity(store: PhaseStore, a: str, b: str, open_li_V: float | None = None,
                        use_hull_energy: bool = True):
    """pymatgen's (Grand)InterfacialReactivity on the same store entries (reference / plotting)."""
    from pymatgen.analysis.interface_reactions import GrandPotentialInterfacialReactivity, InterfacialReactivity
    from pymatgen.analysis.phase_diagram import GrandPotentialPhaseDiagram, PhaseDiagram

    _, ca = resolve(store, a)
    _, cb = resolve(store, b)
    els = {el.symbol for el in ca.elements} | {el.symbol for el in cb.elements}
    if open_li_V is not None:
        els |= {"Li"}
    pd_ = PhaseDiagram(store.entries(els))
    ca, cb = ca.reduced_composition, cb.reduced_composition
    if open_li_V is None:
        return InterfacialReactivity(ca, cb, pd_, norm=True, use_hull_energy=use_hull_energy)
    mu = pd_.el_refs[Element("Li")].energy_per_atom - open_li_V
    gpd = GrandPotentialPhaseDiagram(store.entries(els), {Element("Li"): mu})
    return GrandPotentialInterfacialReactivity(ca, cb, gpd, pd_, norm=True, use_hull_energy=True)


def reaction_kinks(store: PhaseStore, a: str, b: str, open_li_V: float | None = None) -> list[tuple[float, float, str]]:
    """(mixing ratio x of A, reaction energy eV/atom, products) at every kink of the A|B line."""
    ir = pymatgen_reactivity(store, a, b, open_li_V)
    out = []
    for _, x, e, rxn, _ in ir.get_kinks():
        prods = " + ".join(sorted(c.reduced_formula for c in rxn.products))
        out.append((float(x), float(e), prods))
    return sorted(out)
