"""The phases of one chemical system as arrays, ready for the LPs (cached per store)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element

from screening.data.store import PhaseStore, parse_formula
from screening.errors import InputError

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True, eq=False)
class PhaseSet:
    """Phases whose elements lie within ``elements``.

    ``amounts[i, k]``: atoms of element k in row i's stored formula; ``energy[i]``: its
    MP2020-corrected total energy (eV); ``rows``: the store rows (for ids, gaps, volumes);
    ``formulas``: reduced formulas; ``reduced_units[i]``: reduced formula units per stored one.
    """

    elements: tuple[str, ...]
    rows: pd.DataFrame
    amounts: np.ndarray
    energy: np.ndarray
    formulas: np.ndarray
    reduced_units: np.ndarray

    @property
    def n_atoms(self) -> np.ndarray:
        return self.amounts.sum(axis=1)

    def column(self, el: str) -> int:
        return self.elements.index(el)

    def vector(self, comp: Composition) -> np.ndarray:
        return np.array([comp[Element(e)] for e in self.elements], dtype=float)

    def element_ref(self, el: str) -> float:
        """Energy per atom of the lowest elemental phase of ``el`` (eV/atom)."""
        k = self.column(el)
        pure = np.nonzero((self.amounts[:, k] > 0) & (self.n_atoms == self.amounts[:, k]))[0]
        if len(pure) == 0:
            raise InputError(f"no elemental {el} phase in the store: fetch the {el} system")
        return float(np.min(self.energy[pure] / self.n_atoms[pure]))

    def hull_energy_per_atom(self, comp: Composition, exclude: int | None = None) -> float:
        """Lower-hull energy (eV/atom) at ``comp``, optionally without row ``exclude``."""
        from screening import lp

        frac = self.amounts / self.n_atoms[:, None]
        epa = self.energy / self.n_atoms
        keep = np.ones(len(epa), bool)
        if exclude is not None:
            keep[exclude] = False
        target = self.vector(comp) / comp.num_atoms
        return lp.hull_energy(frac[keep], epa[keep], target).value


@lru_cache(maxsize=None)
def _parsed(composition: str) -> tuple[dict[str, float], float]:
    """Element amounts of a stored composition and its reduced formula units."""
    comp = Composition(composition)
    return comp.get_el_amt_dict(), comp.num_atoms / comp.reduced_composition.num_atoms


def phase_set(store: PhaseStore, elements) -> PhaseSet:
    """Cached PhaseSet of ``store`` for the chemical system ``elements``."""
    key = tuple(sorted({str(e) for e in elements}, key=lambda s: Element(s).Z))
    per_store = _CACHE.setdefault(store, {})
    if key not in per_store:
        rows = store.select(key).reset_index(drop=True)
        amounts = np.zeros((len(rows), len(key)))
        units = np.ones(len(rows))
        col = {el: k for k, el in enumerate(key)}
        for i, c in enumerate(rows.composition):
            amt, units[i] = _parsed(c)
            for el, n in amt.items():
                amounts[i, col[el]] = n
        per_store[key] = PhaseSet(key, rows, amounts, rows.energy_eV.to_numpy(dtype=float),
                                  rows.formula.to_numpy(dtype=object), units)
    return per_store[key]


def resolve(store: PhaseStore, formula: str) -> tuple[pd.Series, Composition]:
    """The store row of a formula (lowest energy polymorph) and its composition."""
    row = store.lookup(formula)
    return row, parse_formula(row.composition)


def row_index(ps: PhaseSet, phase_id: str) -> int:
    return int(np.nonzero(ps.rows.phase_id.to_numpy() == phase_id)[0][0])


def products_of(ps: PhaseSet, weights: np.ndarray, tol: float = 1e-6, skip: tuple[int, ...] = ()) -> list[tuple[str, float]]:
    """(formula, formula units) for the rows with non-negligible weight (weights in formula units)."""
    out = []
    for i in np.nonzero(weights > tol)[0]:
        if i in skip:
            continue
        out.append((ps.formulas[i], float(weights[i])))
    return out
