"""Phases: the immutable :class:`Phase` record, the :class:`PhaseSet` of one chemical system, and
the one interface the physics asks for phases through (:class:`PhaseSource`).

* :class:`Phase` (defined with the table schema in ``screening.data.table``) is one row of the
  phase table: energies in eV, volumes in cm3 per mol of reduced formula units, band gaps in eV,
  each with its origin and source; frozen and serializable; missing numbers are None, never NaN.
* :class:`PhaseSet` is the kernel's :class:`~screening.hull.HullSystem` of a chemical system (its
  hull phases, plus the phases a question is about) with the columns of its rows and the data
  caveats of the system.  Rows are described by arrays; a :class:`Phase` is made only for the
  rows a result names.
* :class:`PhaseSource` is what windows, reactions, interphases and screen rows need: the phase set
  of a chemical system, including given phases.  ``screening.store.PhaseStore`` implements it;
  physics functions take a source and :class:`Phase` records, never names or a database.

:func:`finish` fills a table's derived columns (energy per atom, formation energy, e_above_hull,
with and without artefacts) with the kernel; the store and the snapshot build stand on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element

from screening.data import formula as fml
from screening.data import table as tbl
from screening.data.table import Phase
from screening.hull import HullSystem, hull_energies_per_atom
from screening.results import Caveat

LI = "Li"


def system_key(elements) -> tuple[str, ...]:
    """Element symbols of a chemical system, each once, by atomic number (the key of a phase set)."""
    return tuple(sorted({str(e) for e in elements}, key=lambda s: Element(s).Z))


@runtime_checkable
class PhaseSource(Protocol):
    """Where physics functions get phases from: the phase set of a chemical system, including the
    given phases (e.g. a metastable reactant, or an entry that is in no table)."""

    def phase_set(self, elements: Iterable[str], include: Sequence[Phase] = ()) -> PhaseSet: ...


@dataclass(frozen=True)
class Product:
    """A row of a phase set in a phase combination: its reduced formula, its amount in reduced
    formula units (per whatever the combination is normalised to) and its row."""

    formula: str
    amount: float
    row: int


class PhaseSet(HullSystem):
    """The phases of one chemical system for hull linear programs: a :class:`HullSystem` plus the
    rows' table columns (``table`` rows ``rows``; included phases that are in no table follow as
    ``extra`` records) and the data caveats of the system (``caveats``)."""

    def __init__(self, elements, table: tbl.PhaseTable, rows, extra: Sequence[Phase] = (),
                 caveats: tuple[Caveat, ...] = (), energies=None):
        self.table = table
        self.rows = np.asarray(rows, dtype=np.int64)
        self.extra = tuple(extra)
        elements = tuple(elements)
        amounts = table.amounts(self.rows, elements)
        units = table.formula_units[self.rows]
        if self.extra:
            amounts = np.vstack([amounts, [[p.amounts.get(e, 0.0) for e in elements] for p in self.extra]])
            units = np.concatenate([units, [p.formula_units for p in self.extra]])
        if energies is None:
            energies = np.concatenate([table.col("energy_eV")[self.rows], [p.energy_eV for p in self.extra]])
        super().__init__(elements, amounts, energies)
        self.ids = np.concatenate([table.col("phase_id")[self.rows], np.array([p.phase_id for p in self.extra], object)])
        self.formulas = np.concatenate([table.col("formula")[self.rows], np.array([p.formula for p in self.extra], object)])
        #: reduced formula units per stored formula unit of each row
        self.reduced_units = units
        self.caveats = tuple(caveats)
        self._index = {pid: i for i, pid in enumerate(self.ids)}

    @classmethod
    def from_frame(cls, elements, rows: pd.DataFrame) -> PhaseSet:
        """A set of every row of a DataFrame of schema rows (for builds and tests)."""
        return cls(tuple(elements), tbl.PhaseTable.from_frame(rows), np.arange(len(rows)))

    def with_energy(self, i: int, energy_eV: float) -> PhaseSet:
        """A copy with row ``i`` at another total energy (e.g. stabilized onto the hull)."""
        e = self.energies.copy()
        e[i] = energy_eV
        return PhaseSet(self.elements, self.table, self.rows, self.extra, self.caveats, e)

    def __contains__(self, phase_id: str) -> bool:
        return phase_id in self._index

    def index_of(self, phase_id: str) -> int:
        return self._index[phase_id]

    def values(self, column: str) -> np.ndarray:
        """One table column of every row, in order (included records' fields last)."""
        extra = [getattr(p, column) for p in self.extra]
        if column in tbl.FLOAT_COLUMNS:
            extra = [np.nan if v is None else v for v in extra]
        return np.concatenate([self.table.col(column)[self.rows], np.array(extra, dtype=object if column in tbl.STR_COLUMNS else float)])

    def phase(self, i: int) -> Phase:
        """The record of row ``i``."""
        i = int(i)
        n = len(self.rows)
        return self.extra[i - n] if i >= n else Phase.from_record(self.table.record(int(self.rows[i])))

    def including(self, phases: Sequence[Phase], table_rows: Sequence[int | None]) -> PhaseSet:
        """This set plus phases it lacks: table rows where ``table_rows`` gives one, else the
        record itself."""
        rows, extra = list(self.rows), list(self.extra)
        for p, r in zip(phases, table_rows, strict=True):
            if p.phase_id in self._index or p.phase_id in {q.phase_id for q in extra}:
                continue
            if r is None:
                extra.append(p)
            else:
                rows.append(int(r))
        if len(rows) == len(self.rows) and len(extra) == len(self.extra):
            return self
        return PhaseSet(self.elements, self.table, rows, extra, self.caveats)

    def vector(self, comp) -> np.ndarray:
        """Amounts of a composition (a Composition or {element: amount}) in element order."""
        get = comp.get if isinstance(comp, dict) else (lambda e, d=0.0: comp[Element(e)])
        return np.array([get(e, 0.0) for e in self.elements], dtype=float)

    def element_row(self, el: str) -> int:
        """Row of the lowest-energy elemental phase of ``el``."""
        k = self.column(el)
        pure = np.nonzero((self.amounts[:, k] > 0) & np.isclose(self.n_atoms, self.amounts[:, k]))[0]
        if len(pure) == 0:
            raise ValueError(f"no elemental {el} phase")
        return int(pure[np.argmin(self.energy_per_atom[pure])])

    def products(self, units: np.ndarray, skip=(), tol: float = 1e-6) -> list[Product]:
        """The rows with weight (stored formula units) above ``tol``, by formula."""
        out = [Product(self.formulas[i], float(units[i] * self.reduced_units[i]), int(i))
               for i in np.nonzero(units > tol)[0] if i not in skip]
        return sorted(out, key=lambda p: (p.formula, p.row))


# --------------------------------------------------------------------------- finishing tables
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


def _fractions(compositions) -> tuple[np.ndarray, list[str]]:
    amts = _amount_dicts(compositions)
    els = sorted({el for a in amts for el in a}, key=lambda s: Element(s).Z)
    col = {el: k for k, el in enumerate(els)}
    frac = np.zeros((len(amts), len(els)))
    for i, a in enumerate(amts):
        n = sum(a.values())
        for el, v in a.items():
            frac[i, col[el]] = v / n
    return frac, els


def finish(table: pd.DataFrame) -> pd.DataFrame:
    """A table with the derived columns filled: energy per atom, formation energy (vs the
    lowest elemental phases), e_above_hull (vs the phases within each row's system) and the same
    without the rows flagged as artefacts (NaN for those rows; only rows in systems holding an
    artefact can differ)."""
    t = tbl.conform(table)
    t["energy_per_atom_eV"] = t.energy_eV / t.n_atoms
    refs = element_references(t)
    t["formation_energy_eV_per_atom"] = formation_energies(t, refs, np.arange(len(t)))
    frac, _ = _fractions(t.composition)
    lo, hi = fml.chemsys_masks(t.chemsys)
    epa = t.energy_per_atom_eV.to_numpy()
    ehull = epa - hull_energies_per_atom(frac, epa, lo, hi)
    t["e_above_hull_eV_per_atom"] = ehull
    t["e_above_hull_without_artefacts_eV_per_atom"] = without_artefacts_e_above_hull(t, frac, lo, hi, ehull)
    return t


def fill_without_artefacts(t: pd.DataFrame) -> None:
    """Recompute ``e_above_hull_without_artefacts_eV_per_atom`` in place (after artefacts were
    flagged on a finished table)."""
    frac, _ = _fractions(t.composition)
    lo, hi = fml.chemsys_masks(t.chemsys)
    t["e_above_hull_without_artefacts_eV_per_atom"] = without_artefacts_e_above_hull(
        t, frac, lo, hi, t.e_above_hull_eV_per_atom.to_numpy())


def without_artefacts_e_above_hull(t: pd.DataFrame, frac, lo, hi, ehull) -> np.ndarray:
    """e_above_hull of every row with the artefact rows left out of every hull (NaN for them)."""
    art = (t.artefact != "").to_numpy()
    out = np.where(art, np.nan, ehull)
    if not art.any():
        return out
    affected = np.zeros(len(t), bool)
    for cs in set(t.chemsys[art]):
        affected |= fml.containing(lo, hi, cs.split("-"))
    # the hull of an affected row's system, from the rows within it (artefacts left out)
    pool = np.zeros(len(t), bool)
    for cs in set(t.chemsys[affected]):
        pool |= fml.within(lo, hi, cs.split("-"))
    pool &= ~art
    idx = np.nonzero(pool)[0]
    epa = t.energy_per_atom_eV.to_numpy()
    h = hull_energies_per_atom(frac[idx], epa[idx], lo[idx], hi[idx])
    sub = epa[idx] - h
    keep = affected[idx]
    out[idx[keep]] = sub[keep]
    return out
