"""Phase sets and finished tables: where the data layer's rows meet the thermodynamic kernel.

:class:`PhaseSet` is a kernel :class:`~screening.thermo.hull.HullSystem` of one chemical system
together with its table rows (ids, formulas, any column); :func:`finish` fills a phase table's
derived columns (energy per atom, formation energy, e_above_hull) with the kernel.  Both the
store (``screening.store``) and the snapshot build (``screening.build``) stand on this module.
Units: energies in eV (per stored formula unit) and eV/atom where named.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element

from screening.data import formula as fml
from screening.data import table as tbl
from screening.thermo.hull import HullSystem, hull_energies_per_atom


def _amounts(elements, rows: pd.DataFrame, memo: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(atoms of each element per stored formula unit, reduced formula units per stored one);
    ``memo``: parsed compositions to reuse (a store keeps one)."""
    col = {el: k for k, el in enumerate(elements)}
    amounts = np.zeros((len(rows), len(elements)))
    units = np.ones(len(rows))
    memo = {} if memo is None else memo
    for i, c in enumerate(rows.composition):
        if c not in memo:
            comp = Composition(c)
            memo[c] = (comp.get_el_amt_dict(), comp.num_atoms / comp.reduced_composition.num_atoms)
        amt, units[i] = memo[c]
        for el, n in amt.items():
            amounts[i, col[el]] = n
    return amounts, units


class PhaseSet(HullSystem):
    """The phases of one chemical system of a store: a :class:`HullSystem` plus its rows (the
    system's hull phases, and the phases a question is about appended by ``including``)."""

    def __init__(self, elements, rows: pd.DataFrame, arrays: tuple[np.ndarray, np.ndarray] | None = None,
                 extra: pd.DataFrame | None = None, memo: dict | None = None):
        frames = [rows.reset_index(drop=True)] + ([extra.reset_index(drop=True)] if extra is not None else [])
        amounts, units = arrays if arrays is not None else _amounts(elements, frames[0], memo)
        energies = np.concatenate([f.energy_eV.to_numpy(dtype=float) for f in frames])
        super().__init__(elements, amounts, energies)
        self._frames = frames
        self.ids = np.concatenate([f.phase_id.to_numpy(dtype=object) for f in frames])
        self.formulas = np.concatenate([f.formula.to_numpy(dtype=object) for f in frames])
        #: reduced formula units per stored formula unit of each row
        self.reduced_units = units
        self._index = {pid: i for i, pid in enumerate(self.ids)}
        self._extended: dict[tuple, PhaseSet] = {}
        self._columns: dict[str, np.ndarray] = {}
        self._memo = memo

    def values(self, column: str) -> np.ndarray:
        """One column of every row, as an array (cached)."""
        if column not in self._columns:
            self._columns[column] = np.concatenate([f[column].to_numpy() for f in self._frames])
        return self._columns[column]

    @property
    def rows(self) -> pd.DataFrame:
        """Every row of the set, in order."""
        return pd.concat(self._frames, ignore_index=True) if len(self._frames) > 1 else self._frames[0]

    def rows_at(self, indices) -> pd.DataFrame:
        """The rows at these positions, in that order."""
        indices = [int(i) for i in indices]
        n0 = len(self._frames[0])
        if all(i < n0 for i in indices):
            return self._frames[0].iloc[indices]
        return pd.concat([self._frames[0].iloc[[i]] if i < n0 else self._frames[1].iloc[[i - n0]] for i in indices])

    def index_of(self, phase_id: str) -> int:
        return self._index[phase_id]

    def including(self, rows: pd.DataFrame) -> PhaseSet:
        """This set plus store rows it lacks (e.g. a metastable phase a question is about)."""
        new = rows[~rows.phase_id.isin(self._index)]
        if new.empty:
            return self
        key = tuple(new.phase_id)
        if key not in self._extended:
            amounts, units = _amounts(self.elements, new, self._memo)
            base = self._frames[0]
            extra = new if len(self._frames) == 1 else pd.concat([self._frames[1], new], ignore_index=True)
            self._extended[key] = PhaseSet(self.elements, base, (np.vstack([self.amounts, amounts]),
                                                                  np.concatenate([self.reduced_units, units])), extra,
                                           self._memo)
        return self._extended[key]

    def vector(self, comp: Composition) -> np.ndarray:
        """Amounts of a composition in this system's element order."""
        return np.array([comp[Element(e)] for e in self.elements], dtype=float)

    def products(self, units: np.ndarray, skip=(), tol: float = 1e-6) -> list[tuple[str, float, int]]:
        """(reduced formula, reduced formula units, row) of rows with weight (stored f.u.) > tol."""
        out = [(self.formulas[i], float(units[i] * self.reduced_units[i]), int(i))
               for i in np.nonzero(units > tol)[0] if i not in skip]
        return sorted(out, key=lambda p: (p[0], p[2]))


def _amount_dicts(compositions) -> list[dict]:
    memo: dict[str, dict] = {}
    out = []
    for c in compositions:
        if c not in memo:
            memo[c] = Composition(c).get_el_amt_dict()
        out.append(memo[c])
    return out


def element_references(t: pd.DataFrame) -> dict[str, float]:
    """Lowest energy per atom of each element's elemental phases (eV/atom)."""
    pure = t[~t.chemsys.str.contains("-")]
    return pure.groupby("chemsys").energy_per_atom_eV.min().to_dict()


def formation_energies(t: pd.DataFrame, refs: dict[str, float], rows) -> np.ndarray:
    """Formation energy (eV/atom) of the table rows at positions ``rows`` vs the references ``refs``."""
    out = np.empty(len(rows))
    for k, amt in enumerate(_amount_dicts(t.composition.iloc[rows])):
        n = sum(amt.values())
        out[k] = sum(refs.get(el, np.nan) * a for el, a in amt.items()) / n
    return t.energy_per_atom_eV.to_numpy()[rows] - out


def finish(table: pd.DataFrame) -> pd.DataFrame:
    """A table with the derived columns filled: energy per atom, formation energy (vs the
    lowest elemental phases) and e_above_hull (vs the phases within each row's system)."""
    t = tbl.conform(table)
    t["energy_per_atom_eV"] = t.energy_eV / t.n_atoms
    refs = element_references(t)
    t["formation_energy_eV_per_atom"] = formation_energies(t, refs, np.arange(len(t)))
    amts = _amount_dicts(t.composition)
    els = sorted({el for a in amts for el in a}, key=lambda s: Element(s).Z)
    col = {el: k for k, el in enumerate(els)}
    frac = np.zeros((len(t), len(els)))
    for i, a in enumerate(amts):
        n = sum(a.values())
        for el, v in a.items():
            frac[i, col[el]] = v / n
    lo, hi = fml.chemsys_masks(t.chemsys)
    epa = t.energy_per_atom_eV.to_numpy()
    t["e_above_hull_eV_per_atom"] = epa - hull_energies_per_atom(frac, epa, lo, hi)
    return t
