"""The thermodynamic kernel: every convex-hull question of the package is answered here, by
linear programming (one LP per question; HiGHS solves these in about a millisecond).

:class:`HullSystem` holds the phases of one chemical system as arrays, in the role pymatgen's
``PhaseDiagram`` plays (``get_hull_energy``, ``get_decomposition``, ``get_e_above_hull``,
``get_element_profile``), without building a convex hull in up to nine dimensions:

* hull energy and decomposition at a composition, closed or open to Li at chemical potential mu
  (grand potential per non-Li atom, Phi = (E - mu N_Li) / N_nonLi, as pymatgen's
  ``GrandPotentialPhaseDiagram``);
* e_above_hull and the energy of a metastable phase stabilized onto the hull (windows);
* the Li exchange limits of a phase (Zhu, He & Mo 2015; Richards et al. 2016);
* the most exothermic mixing of two reactants (pymatgen's ``InterfacialReactivity``);
* the lithiation profile: the equilibria of a composition vs mu_Li (``get_element_profile``).

:func:`hull_energies_per_atom` answers the hull energy of every row of a phase table at once,
for finishing a store.  :func:`solve_lp` is the only call of the LP solver in the package (HiGHS,
through its own Python binding highspy: the same solver scipy's ``linprog`` wraps, without
importing scipy.optimize, which costs 0.2 s at start-up, or its per-call checks).

Units: energies in eV (per stored formula unit ``energies``, per atom where named), amounts in
atoms, chemical potentials in eV/atom.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from highspy import _core as highs

#: Weights below this are numerical noise, not products.
WEIGHT_TOL = 1e-7
#: A metastable phase is stabilized this far (eV/atom) below the hull of the other phases.
STABILIZE_MARGIN_EV_PER_ATOM = 1e-6
#: Grand-potential gains below this (eV per formula unit) do not make a new lithiation stage.
PROFILE_TOL_EV = 1e-7


@dataclass(frozen=True)
class LPResult:
    """Optimal value and the variables that attain it."""

    value: float
    x: np.ndarray


def _announce_quietly() -> None:
    """HiGHS prints a banner on stdout when the first solver of a process is made; make that one
    with stdout pointed at /dev/null (``--json`` output must stay pure)."""
    try:
        saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    except OSError:  # no stdout to protect
        highs._Highs()
        return
    try:
        os.dup2(null, 1)
        highs._Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


_announce_quietly()


def solve_lp(c, a_eq, b_eq, bounds=(0, None)) -> LPResult | None:
    """min c.x subject to a_eq x = b_eq and bounds (one (low, high) pair for all variables or one
    per variable, None for unbounded); None when infeasible or unbounded.  HiGHS, via highspy."""
    c = np.asarray(c, dtype=float)
    a = np.asarray(a_eq, dtype=float)
    b = np.asarray(b_eq, dtype=float)
    m, n = a.shape
    if isinstance(bounds, tuple):
        bounds = [bounds] * n
    lower = np.array([-highs.kHighsInf if lo is None else lo for lo, _ in bounds], dtype=float)
    upper = np.array([highs.kHighsInf if hi is None else hi for _, hi in bounds], dtype=float)
    at = a.T
    nz = at != 0
    lp = highs.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = c, lower, upper
    lp.row_lower_ = lp.row_upper_ = b
    lp.a_matrix_.format_ = highs.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
    lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum(nz.sum(axis=1))]).astype(np.int32)
    lp.a_matrix_.index_ = np.nonzero(nz)[1].astype(np.int32)
    lp.a_matrix_.value_ = at[nz]
    solver = highs._Highs()
    solver.setOptionValue("output_flag", False)
    solver.passModel(lp)
    solver.run()
    if solver.getModelStatus() != highs.HighsModelStatus.kOptimal:
        return None
    x = np.array(solver.getSolution().col_value)
    x = np.where(np.abs(x) < WEIGHT_TOL, 0.0, x)
    return LPResult(float(solver.getInfo().objective_function_value), x)


@dataclass(frozen=True)
class Decomposition:
    """Lowest-energy phase combination at a composition.

    ``energy`` is per atom (closed) or per non-Li atom (open to Li); ``amounts[i]`` are stored
    formula units of row i per atom (per non-Li atom) of the target composition.
    """

    energy: float
    amounts: np.ndarray

    def rows(self, tol: float = 1e-6) -> np.ndarray:
        return np.nonzero(self.amounts > tol)[0]


@dataclass(frozen=True)
class Stabilized:
    """A phase placed just below the hull of the other phases: its total energy (eV) there and its
    own e_above_hull (eV/atom)."""

    energy_eV: float
    e_above_hull_eV_per_atom: float


@dataclass(frozen=True)
class Exchange:
    """Cheapest Li exchange of a phase P: energy per Li exchanged (eV) and the product formula
    units per formula unit of P."""

    energy_eV_per_li: float
    units: np.ndarray


@dataclass(frozen=True)
class Mixing:
    """A point of a pseudo-binary mixing line x A + (1-x) B: energy per (non-Li) atom of mixture,
    x, and product formula units per atom of mixture."""

    energy: float
    x: float
    units: np.ndarray


@dataclass(frozen=True)
class GrandMinimum:
    """Lowest grand potential of some non-Li amounts plus any Li: G = E - mu N_Li (eV), the Li
    atoms taken and the stored formula units of each row."""

    energy_eV: float
    li: float
    units: np.ndarray


@dataclass(frozen=True)
class ProfileStage:
    """A vertex of the lithiation profile of a composition P: the equilibrium phases when P holds
    ``li`` Li atoms (per formula unit of the target), reached once mu_Li exceeds ``mu_low``
    (None for the Li-poorest vertex) and left above ``mu_high`` (None for the Li-richest)."""

    li: float
    energy: float  # eV per formula unit of the target (P + li Li) at the hull
    amounts: np.ndarray  # stored formula units of each row per formula unit of the target
    mu_low: float | None
    mu_high: float | None


class HullSystem:
    """Phases of one chemical system (and its subsystems) for hull linear programs.

    ``elements``: element symbols (column order); ``amounts[i, k]``: atoms of element k in row
    i's stored formula unit; ``energies[i]``: its total energy (eV, MP2020-compatible).
    Instances are immutable; derived arrays are cached on first use.
    """

    def __init__(self, elements, amounts, energies):
        self.elements = tuple(elements)
        self.amounts = np.asarray(amounts, dtype=float)
        self.energies = np.asarray(energies, dtype=float)
        self.amounts.setflags(write=False)
        self.energies.setflags(write=False)
        if self.amounts.shape != (len(self.energies), len(self.elements)):
            raise ValueError("amounts must be (n_phases, n_elements) and energies (n_phases,)")
        self._grand: dict[float, tuple] = {}

    def __len__(self) -> int:
        return len(self.energies)

    def with_energy(self, i: int, energy_eV: float) -> HullSystem:
        """A copy with row ``i`` at another total energy (e.g. stabilized onto the hull)."""
        e = self.energies.copy()
        e[i] = energy_eV
        return HullSystem(self.elements, self.amounts, e)

    # ---- per-row arrays
    @cached_property
    def n_atoms(self) -> np.ndarray:
        return self.amounts.sum(axis=1)

    @cached_property
    def fractions(self) -> np.ndarray:
        return self.amounts / self.n_atoms[:, None]

    @cached_property
    def energy_per_atom(self) -> np.ndarray:
        return self.energies / self.n_atoms

    def column(self, el: str) -> int:
        try:
            return self.elements.index(el)
        except ValueError:
            raise ValueError(f"element {el} is not in the system {'-'.join(self.elements)}") from None

    def element_energy(self, el: str) -> float:
        """Energy per atom of the lowest elemental phase of ``el`` (its chemical potential
        reference, eV/atom); ValueError when the system has none."""
        k = self.column(el)
        pure = np.nonzero((self.amounts[:, k] > 0) & np.isclose(self.n_atoms, self.amounts[:, k]))[0]
        if len(pure) == 0:
            raise ValueError(f"no elemental {el} phase")
        return float(self.energy_per_atom[pure].min())

    # ---- hull energies and decompositions
    def _grand_basis(self, mu_li: float):
        """Rows with non-Li atoms, their non-Li atomic fractions and Phi (eV per non-Li atom)."""
        if mu_li not in self._grand:
            k = self.column("Li")
            non_li = self.n_atoms - self.amounts[:, k]
            keep = np.nonzero(non_li > 1e-9)[0]
            frac = np.delete(self.amounts[keep], k, axis=1) / non_li[keep, None]
            phi = (self.energies[keep] - mu_li * self.amounts[keep, k]) / non_li[keep]
            self._grand[mu_li] = (keep, frac, phi, non_li[keep])
        return self._grand[mu_li]

    def basis(self, mu_li: float | None = None):
        """(rows, fractions, energies per (non-Li) atom, (non-Li) atoms per stored f.u.)."""
        if mu_li is None:
            return np.arange(len(self)), self.fractions, self.energy_per_atom, self.n_atoms
        return self._grand_basis(float(mu_li))

    def point(self, amounts, mu_li: float | None = None) -> np.ndarray:
        """Atomic fractions of a composition (amounts in element order), over the non-Li atoms
        when open to Li; ValueError when nothing is left."""
        v = np.asarray(amounts, dtype=float)
        if mu_li is not None:
            v = np.delete(v, self.column("Li"))
        if v.sum() <= 0:
            raise ValueError("the composition has no atoms besides the open element")
        return v / v.sum()

    def decomposition(self, amounts, mu_li: float | None = None, exclude=()) -> Decomposition:
        """Hull decomposition at a composition (amounts in element order), closed or open to Li;
        rows in ``exclude`` are left out.  ValueError when no phase combination reaches it."""
        rows, frac, e, atoms = self.basis(mu_li)
        target = self.point(amounts, mu_li)
        keep = np.ones(len(rows), bool)
        if len(exclude):
            keep &= ~np.isin(rows, list(exclude))
        res = solve_lp(e[keep], frac[keep].T, target)
        if res is None:
            raise ValueError("no phase combination reaches this composition")
        full = np.zeros(len(self))
        full[rows[keep]] = res.x / atoms[keep]
        return Decomposition(res.value, full)

    def hull_energy_per_atom(self, amounts, mu_li: float | None = None, exclude=()) -> float:
        """Hull energy (eV/atom; eV per non-Li atom when open to Li) at a composition."""
        return self.decomposition(amounts, mu_li, exclude).energy

    def e_above_hull(self, i: int) -> float:
        """Energy of row i above the hull at its composition (eV/atom, >= 0 up to round-off)."""
        return float(self.energy_per_atom[i] - self.hull_energy_per_atom(self.amounts[i]))

    def stabilized_energy(self, i: int) -> Stabilized:
        """Row i placed just below the hull of the other phases (a phase below that hull keeps its
        energy, minus the margin), and its e_above_hull."""
        own = float(self.energy_per_atom[i])
        try:
            others = self.hull_energy_per_atom(self.amounts[i], exclude=(i,))
        except ValueError:  # the only phase reaching its composition
            others = np.inf
        e_hull = max(0.0, own - min(own, others))
        return Stabilized((min(own, others) - STABILIZE_MARGIN_EV_PER_ATOM) * self.n_atoms[i], e_hull)

    # ---- Li exchange (windows)
    def li_exchange(self, i: int, energy_eV: float, dn: float) -> Exchange | None:
        """Cheapest P + dn Li -> products for row P = i at total energy ``energy_eV``, per Li:
        min (E(products) - E(P)) / |dn| over product sets (a linear-fractional program solved
        as one LP, Charnes-Cooper), dn = +1 (reduction) or -1 (oxidation).

        None when no product set exists.  P is unstable once mu_Li > value (reduction) or
        mu_Li < -value (oxidation).
        """
        k = self.column("Li")
        idx = np.nonzero(np.arange(len(self)) != i)[0]
        a_eq = np.hstack([self.amounts[idx].T, -self.amounts[i][:, None]])
        b_eq = np.zeros(len(self.elements))
        b_eq[k] = dn
        res = solve_lp(np.concatenate([self.energies[idx], [-energy_eV]]), a_eq, b_eq)
        if res is None:
            return None
        t = res.x[-1]
        units = np.zeros(len(self))
        if t > 1e-9:
            units[idx] = res.x[:-1] / t
        return Exchange(res.value, units)

    # ---- interface reactions
    def mixing_minimum(self, fa, ea: float, fb, eb: float, mu_li: float | None = None) -> Mixing:
        """Most negative reaction energy of the pseudo-binary x A + (1-x) B.

        ``fa``, ``fb``: atomic fractions of the reactants (over non-Li atoms when open to Li);
        ``ea``, ``eb``: their energies per (non-Li) atom.  The energy at x is
        E_hull(x fa + (1-x) fb) - x ea - (1-x) eb; its minimum over x and product sets is one LP.
        """
        m = self._mixture_lp(fa, fb, ea - eb, mu_li)
        return Mixing(m.energy - eb, m.x, m.units)

    def _mixture_lp(self, fa, fb, slope: float, mu_li: float | None) -> Mixing:
        """min over x in [0, 1] and product sets of H(x) - slope x, H = hull energy of the mixture
        x fa + (1-x) fb."""
        rows, frac, e, atoms = self.basis(mu_li)
        a_eq = np.hstack([frac.T, -(np.asarray(fa, float) - np.asarray(fb, float))[:, None]])
        res = solve_lp(np.concatenate([e, [-slope]]), a_eq, np.asarray(fb, float), bounds=[(0, None)] * len(e) + [(0, 1)])
        if res is None:
            raise ValueError("no phase combination reaches the mixture")
        units = np.zeros(len(self))
        units[rows] = res.x[:-1] / atoms
        return Mixing(res.value, float(res.x[-1]), units)

    def mixing_vertices(self, fa, fb, mu_li: float | None = None) -> list[Mixing]:
        """Kinks of the hull energy H along the mixing line x fa + (1-x) fb, x from 0 to 1 (energy
        = H(x) per (non-Li) atom), found by recursive chord slopes (one LP each).  The reaction
        energy at x is H(x) - x e_A - (1-x) e_B."""
        def at(x: float) -> Mixing:
            d = self.decomposition_of_point(x * np.asarray(fa, float) + (1 - x) * np.asarray(fb, float), mu_li)
            return Mixing(d.energy, x, d.amounts)

        ends = [at(0.0), at(1.0)]

        def refine(a: Mixing, b: Mixing) -> list[Mixing]:
            slope = (b.energy - a.energy) / (b.x - a.x)
            m = self._mixture_lp(fa, fb, slope, mu_li)
            if m.energy < a.energy - slope * a.x - 1e-9 and a.x + 1e-9 < m.x < b.x - 1e-9:
                mid = Mixing(m.energy + slope * m.x, m.x, m.units)
                return refine(a, mid) + [mid] + refine(mid, b)
            return []

        return [ends[0], *refine(*ends), ends[1]]

    def decomposition_of_point(self, fractions, mu_li: float | None = None) -> Decomposition:
        """Hull decomposition at atomic fractions (over non-Li atoms when open to Li)."""
        rows, frac, e, atoms = self.basis(mu_li)
        res = solve_lp(e, frac.T, np.asarray(fractions, float))
        if res is None:
            raise ValueError("no phase combination reaches this composition")
        full = np.zeros(len(self))
        full[rows] = res.x / atoms
        return Decomposition(res.value, full)

    # ---- lithiation profile
    def grand_minimum(self, non_li: np.ndarray, mu_li: float) -> GrandMinimum:
        """Lowest grand potential G = E - mu N_Li of the non-Li amounts ``non_li`` plus any Li."""
        k = self.column("Li")
        res = solve_lp(self.energies - mu_li * self.amounts[:, k], np.delete(self.amounts, k, axis=1).T, non_li)
        if res is None:
            raise ValueError("no phase combination reaches this composition")
        return GrandMinimum(res.value, float(res.x @ self.amounts[:, k]), res.x)

    def lithiation_profile(self, amounts, mu_max: float, li_min: float | None = None) -> list[ProfileStage]:
        """Equilibria of a composition (amounts per formula unit) as it exchanges Li, from
        ``li_min`` Li atoms (default: its own Li content) up to full lithiation at mu_Li =
        ``mu_max`` (Li metal).  The hull energy E(n) along composition + n Li is convex and
        piecewise linear; its vertices are the stages and the slopes between them the chemical
        potentials at which one stage gives way to the next (pymatgen's element profile).
        Vertices are found by recursive chord slopes: each costs one grand-potential LP.
        """
        amounts = np.asarray(amounts, dtype=float)
        k = self.column("Li")
        non_li = np.delete(amounts, k)
        li0 = amounts[k] if li_min is None else float(li_min)

        def at(li: float) -> tuple[float, np.ndarray]:
            target = amounts.copy()
            target[k] = li
            res = solve_lp(self.energies, self.amounts.T, target)
            if res is None:
                raise ValueError("no phase combination reaches this composition")
            return res.value, res.x

        e_lo, x_lo = at(li0)
        top = self.grand_minimum(non_li, mu_max)
        if top.li < li0 + 1e-9:  # nothing to take up: one stage
            return [ProfileStage(li0, e_lo, x_lo, None, None)]
        vertices = [(li0, e_lo, x_lo), (top.li, top.energy_eV + mu_max * top.li, top.units)]

        def refine(a, b):
            slope = (b[1] - a[1]) / (b[0] - a[0])
            g = self.grand_minimum(non_li, slope)
            if g.energy_eV < a[1] - slope * a[0] - PROFILE_TOL_EV and a[0] + 1e-9 < g.li < b[0] - 1e-9:
                mid = (g.li, g.energy_eV + slope * g.li, g.units)
                return refine(a, mid) + [mid] + refine(mid, b)
            return []

        vertices = [vertices[0], *refine(*vertices), vertices[1]]
        stages = []
        for j, (li, e, x) in enumerate(vertices):
            low = None if j == 0 else (e - vertices[j - 1][1]) / (li - vertices[j - 1][0])
            high = None if j == len(vertices) - 1 else (vertices[j + 1][1] - e) / (vertices[j + 1][0] - li)
            stages.append(ProfileStage(li, e, x, low, high))
        return stages


# --------------------------------------------------------------------------- whole tables
def hull_energies_per_atom(fractions: np.ndarray, energy_per_atom: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                           on_hull_tol: float = 1e-8) -> np.ndarray:
    """Hull energy (eV/atom) at the composition of every row, from the phases within its
    chemical system.

    ``fractions`` (n_phases, n_elements) are atomic fractions; ``lo``/``hi`` the element bit masks
    of each row (``screening.data.formula``).  Chemical systems are taken by increasing number of
    elements; the candidates of a system are its own rows plus the rows found on the hull of its
    proper subsystems (a phase above a subsystem's hull is never a vertex of a larger hull), one
    LP per row.  NaN where an element has no elemental phase or the energy is not finite.
    """
    n = len(energy_per_atom)
    out = np.full(n, np.nan)
    valid = ((lo != 0) | (hi != 0)) & np.isfinite(energy_per_atom)
    idx = np.nonzero(valid)[0]
    n_el = np.array([int(a).bit_count() + int(b).bit_count() for a, b in zip(lo[idx], hi[idx], strict=True)], dtype=int)
    order = idx[np.lexsort((hi[idx], lo[idx], n_el))]
    on_idx: list[int] = []  # rows found on the hull so far
    a_lo = a_hi = np.zeros(0, np.uint64)
    a_idx = np.zeros(0, np.int64)
    full = 2**64 - 1
    start = 0
    while start < len(order):
        m_lo, m_hi = lo[order[start]], hi[order[start]]
        end = start
        while end < len(order) and lo[order[end]] == m_lo and hi[order[end]] == m_hi:
            end += 1
        rows = order[start:end]
        start = end
        if len(a_idx) != len(on_idx):
            a_idx = np.array(on_idx, np.int64)
            a_lo, a_hi = lo[a_idx], hi[a_idx]
        inside = ((a_lo & np.uint64(~int(m_lo) & full)) == 0) & ((a_hi & np.uint64(~int(m_hi) & full)) == 0)
        cand = np.concatenate([a_idx[inside], rows])
        cols = np.nonzero(fractions[cand].any(axis=0))[0]
        fc, ec = fractions[np.ix_(cand, cols)], energy_per_atom[cand]
        if len(cols) == 1:
            h = np.full(len(rows), ec.min())
        else:
            h = np.full(len(rows), np.nan)
            for k, i in enumerate(rows):
                res = solve_lp(ec, fc.T, fractions[i, cols])
                if res is not None:
                    h[k] = res.value
        out[rows] = h
        on_idx.extend(int(i) for i in rows[energy_per_atom[rows] - h <= on_hull_tol])
    return out
