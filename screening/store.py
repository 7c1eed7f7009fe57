"""The phase store: every phase the screen knows, and the :class:`~screening.phases.PhaseSource`
the physics gets its phase sets from.

A :class:`PhaseStore` holds a finished phase table (``screening.data.table.PhaseTable``: NumPy
column arrays) and its build info.  It resolves what users name -- a formula (its lowest-energy
polymorph), ``formula:id``, a phase id, a ``Composition``, a pymatgen ``ComputedEntry`` or a
:class:`~screening.data.table.Phase` -- into a :class:`Phase` record, once, and hands the
physics one :class:`~screening.phases.PhaseSet` per chemical system (its hull phases plus the
phases a question is about).  An entry that is in no table becomes a record placed against this
store's hull (formation energy and e_above_hull computed); it is never added to a copy of the store.

Stores are immutable.  ``with_phases`` / ``with_entries`` / ``add_phases`` return new stores
(only rows whose hull can change are recomputed); ``without_artefacts`` returns a view of the
same table that leaves artefact phases out of every hull and lookup.  The only state a store keeps
besides its data is a bounded LRU cache of phase sets (``phase_set_cache`` sets, default 4096):
screens ask for the same chemical systems many times, and building a set costs a selection over
the whole table.

``open_store()`` opens the finished table shipped with the package (verified against its
SHA-256 checksum), merges MP systems fetched with ``screening fetch`` and, optionally, a CSV of
user phases.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition

from screening.data import cache as cache_io
from screening.data import files, gibbs, mp_api, user
from screening.data import formula as fml
from screening.data import table as tbl
from screening.data.table import Phase, PhaseTable
from screening.errors import DataError, InputError
from screening.phases import PhaseSet, element_references, finish, formation_energies, system_key
from screening.results import Caveat, CaveatKind

#: rows up to this far above the hull (eV/atom, round-off) take part in hull decompositions
HULL_ROW_TOL = 1e-6
#: default size of a store's phase-set cache (sets; a set of a 5-element system is ~100 kB)
PHASE_SET_CACHE = 4096
#: |E per atom| of a given entry beyond this is not a DFT energy (eV/atom)
MAX_ABS_ENERGY_EV_PER_ATOM = 100.0


class PhaseStore:
    """All known phases (one row each); immutable; a :class:`~screening.phases.PhaseSource`.

    ``table``: a :class:`~screening.data.table.PhaseTable` or a DataFrame of finished rows
    (``screening.data.table.COLUMNS``); ``info``: build counts, validation numbers and sources.
    Construct with ``PhaseStore(finished_table)``, ``PhaseStore.from_table(rows)``,
    ``PhaseStore.from_entries(entries)`` or ``open_store()``.
    """

    def __init__(self, table, info: dict | None = None, *, exclude_artefacts: bool = False,
                 phase_set_cache: int = PHASE_SET_CACHE, temperature_K: float = 0.0):
        if isinstance(table, pd.DataFrame):
            missing = [c for c in tbl.COLUMNS if c not in table.columns and c != "e_above_hull_without_artefacts_eV_per_atom"]
            if missing:
                raise DataError(f"phase table lacks column(s) {', '.join(missing)}: build it with PhaseStore.from_table")
            table = PhaseTable.from_frame(table)
        if not isinstance(table, PhaseTable):
            raise TypeError(f"table must be a PhaseTable or a pandas DataFrame, not {type(table).__name__}")
        self._t = table
        self.info_ = dict(info or {})
        self.exclude_artefacts = bool(exclude_artefacts)
        pid = table.col("phase_id")
        self._ids = {p: i for i, p in enumerate(pid)}
        if len(self._ids) != len(pid):
            seen: set = set()
            dup = next(p for p in pid if p in seen or seen.add(p))
            raise InputError(f"phase id {dup} appears twice: give every phase a unique id")
        self._lo, self._hi = table.masks
        art = table.col("artefact") != ""
        self._usable = ~art if self.exclude_artefacts else np.ones(len(table), bool)
        ehull = self._ehull_column()
        self.temperature_K = gibbs.check_temperature(temperature_K)
        self._g = self._g_label = self._janaf = None
        if self.temperature_K:
            # at T every phase can be on the hull (a high-T polymorph, an entropy-stabilised phase)
            self._hull = np.nonzero(self._usable)[0]
        else:
            self._hull = np.nonzero((ehull <= HULL_ROW_TOL) & self._usable)[0]
        self._by_system: dict[tuple[int, int], np.ndarray] | None = None
        lo, hi = self._lo, self._hi
        single = ((lo & (lo - np.uint64(1))) == 0) & ((hi & (hi - np.uint64(1))) == 0) & ((lo == 0) != (hi == 0))
        self._element_rows = np.nonzero(single & self._usable)[0]  # rows of one element
        self._elements = set(table.col("chemsys")[self._element_rows])
        self._best: dict[str, int] | None = None
        self._incomplete = [(set(c.split("-")), c) for c in self.info_.get("incomplete_systems", [])]
        self._gga = [(set(r["chemsys"].split("-")), r) for r in self.info_.get("known_gga_failures", [])]
        self._sets: OrderedDict[tuple[str, ...], PhaseSet] = OrderedDict()
        self._max_sets = int(phase_set_cache)
        self._key: str | None = None

    def _ehull_column(self) -> np.ndarray:
        if not self.exclude_artefacts:
            return self._t.col("e_above_hull_eV_per_atom")
        col = self._t.col("e_above_hull_without_artefacts_eV_per_atom")
        if np.isnan(col[self._usable]).any():
            raise DataError("this phase table has no e_above_hull without artefacts: rebuild it (screening data build)")
        return col

    # ---- construction
    @classmethod
    def from_table(cls, rows: pd.DataFrame, info: dict | None = None) -> PhaseStore:
        """A store from phase rows (schema of ``screening.data.table``); derived columns computed."""
        return cls(finish(rows), info)

    @classmethod
    def from_entries(cls, entries, compatibility=None, info: dict | None = None) -> PhaseStore:
        """A store from pymatgen ``ComputedEntry``/``ComputedStructureEntry`` objects (e.g. your own
        DFT).  Energies are taken as given unless a compatibility scheme is passed (e.g.
        ``MaterialsProject2020Compatibility()``), which is then applied first; entries it rejects
        raise.  Every element needs an elemental entry (its chemical potential reference)."""
        entries = list(entries)
        if not entries:
            raise InputError("entries is empty: pass pymatgen ComputedEntry objects")
        for k, e in enumerate(entries):
            check_entry(e, f"entries[{k}]")
        if compatibility is not None:
            done = compatibility.process_entries(entries, inplace=False, on_error="raise")
            if len(done) != len(entries):
                kept = {id(e.entry_id) for e in done}
                lost = [str(e.entry_id) for e in entries if id(e.entry_id) not in kept][:3]
                raise InputError(f"the compatibility scheme rejected entries ({', '.join(lost)}): check their run parameters")
            entries = done
        rows = tbl.rows_from_entries(entries)
        els = {el for c in rows.chemsys for el in c.split("-")}
        missing = sorted(els - set(rows.chemsys[~rows.chemsys.str.contains("-")]))
        if missing:
            raise InputError(f"no elemental entry for {', '.join(missing)}: add one per element (its energy is the reference)")
        return cls.from_table(rows, info or {"sources": ["pymatgen entries"]})

    # ---- the table
    @property
    def phase_table(self) -> PhaseTable:
        """The table's column arrays (read-only)."""
        return self._t

    @property
    def table(self) -> pd.DataFrame:
        """The phase table as a new DataFrame (for inspection; the store does not use it)."""
        return self.frame()

    def frame(self, columns=None) -> pd.DataFrame:
        """Rows as a new DataFrame (``columns``: some of them): every phase of this store, artefacts
        left out in a view that excludes them (where e_above_hull is the view's)."""
        cols = list(columns or tbl.COLUMNS)
        if not self.exclude_artefacts:
            return self._t.frame(columns=cols)
        rows = np.nonzero(self._usable)[0]
        df = self._t.frame(rows, cols)
        if "e_above_hull_eV_per_atom" in cols:
            df["e_above_hull_eV_per_atom"] = self._t.col("e_above_hull_without_artefacts_eV_per_atom")[rows]
        return df

    def column(self, name: str) -> np.ndarray:
        """One column of every row (read-only array)."""
        return self._t.col(name)

    def __len__(self) -> int:
        return len(self._t)

    def __repr__(self) -> str:
        extra = (", artefacts excluded" if self.exclude_artefacts else "") + \
            (f", Gibbs energies at {self.temperature_K:g} K" if self.temperature_K else "")
        return f"PhaseStore({len(self)} phases, {len(self._elements)} elements{extra})"

    def __getstate__(self):  # sent to Dask workers: the column arrays, no cached sets
        return {"table": self._t.arrow(), "info": self.info_, "exclude_artefacts": self.exclude_artefacts,
                "phase_set_cache": self._max_sets, "temperature_K": self.temperature_K}

    def __setstate__(self, state):
        self.__init__(PhaseTable(state["table"]), state["info"], exclude_artefacts=state["exclude_artefacts"],
                      phase_set_cache=state["phase_set_cache"], temperature_K=state.get("temperature_K", 0.0))

    def _view(self, **changes) -> PhaseStore:
        kw = {"exclude_artefacts": self.exclude_artefacts, "phase_set_cache": self._max_sets,
              "temperature_K": self.temperature_K, **changes}
        return PhaseStore(self._t, kw.pop("info", self.info_), **kw)

    # ---- Gibbs energies (a view at a temperature)
    def at_temperature(self, temperature_K: float) -> PhaseStore:
        """A view of this store whose energies are Gibbs energies of formation at ``temperature_K``
        (``screening.data.gibbs``: Bartel's descriptor with each phase's volume, NIST-JANAF where
        it has the compound, the elements' tabulated G(T)); 0 gives the 0 K DFT energies.  Every
        phase of a system takes part in its hull at T.  Shares the table."""
        t = gibbs.check_temperature(temperature_K)
        return self if t == self.temperature_K else self._view(temperature_K=t)

    def _gibbs(self, rows) -> np.ndarray:
        """G_f(T) (eV/atom) of table rows (NaN where a phase has no volume), computed once per row."""
        rows = np.asarray(rows, dtype=np.int64)
        if self._g is None:
            self._g = np.full(len(self._t), np.nan)
            self._g_label = np.full(len(self._t), "", dtype=object)
            self._janaf = gibbs.read_janaf()
        todo = rows[self._g_label[rows] == ""]
        if len(todo):
            comp = self._t.col("composition")[todo]
            vols = [gibbs.volume_per_atom_A3(v, c) if np.isfinite(v) else np.nan
                    for v, c in zip(self._t.col("molar_volume_cm3_per_mol")[todo], comp, strict=True)]
            g, labels = gibbs.gibbs_formation_energies(list(comp), self._t.col("formation_energy_eV_per_atom")[todo],
                                                       vols, self.temperature_K, formulas=list(self._t.col("formula")[todo]),
                                                       table=self._janaf)
            # an element's metastable polymorphs keep their 0 K excess over its ground state (the
            # tabulated G(T) is the element's standard state, the reference: 0 at every T)
            single = np.array([len(c.split()) == 1 for c in comp])
            g = np.where(single, self._t.col("formation_energy_eV_per_atom")[todo], g)
            self._g[todo] = g
            self._g_label[todo] = labels
        return self._g[rows]

    def content_key(self) -> str:
        """Hash of the table's content (changes with any fetched, user or edited phase)."""
        if self._key is None:
            h = hashlib.sha256()
            for c in ("phase_id", "formula", "artefact"):
                h.update("\x1f".join(self._t.col(c)).encode())
            for c in ("energy_eV", "band_gap_eV", "molar_volume_cm3_per_mol"):
                h.update(np.ascontiguousarray(self._t.col(c)).tobytes())
            h.update(b"x" if self.exclude_artefacts else b"")
            self._key = h.hexdigest()[:16]
        return self._key

    @property
    def elements(self) -> set[str]:
        """Elements with an elemental phase in the store."""
        return set(self._elements)

    def element_energies(self) -> dict[str, float]:
        """Energy per atom (eV) of the lowest elemental phase of each element: the references of
        formation energies and of chemical potentials."""
        cs = self._t.col("chemsys")
        epa = self._t.col("energy_per_atom_eV")
        out: dict[str, float] = {}
        for i in self._element_rows:
            if cs[i] not in out or epa[i] < out[cs[i]]:
                out[cs[i]] = float(epa[i])
        return out

    # ---- phase sets (the PhaseSource interface)
    def _systems(self) -> dict[tuple[int, int], np.ndarray]:
        if self._by_system is None:
            groups: dict[tuple[int, int], list[int]] = {}
            for i, lo, hi in zip(self._hull, self._lo[self._hull], self._hi[self._hull], strict=True):
                groups.setdefault((int(lo), int(hi)), []).append(int(i))
            self._by_system = {k: np.array(v, dtype=np.int64) for k, v in groups.items()}
        return self._by_system

    def _hull_rows(self, key: tuple[str, ...]) -> np.ndarray:
        """Hull rows whose elements lie within ``key`` (its chemical system and every subsystem)."""
        if len(key) <= 12:
            masks = [fml.element_mask([e]) for e in key]
            systems = self._systems()
            parts = []
            for n in range(1, len(key) + 1):
                for combo in combinations(masks, n):
                    lo = hi = 0
                    for a, b in combo:
                        lo |= a
                        hi |= b
                    got = systems.get((lo, hi))
                    if got is not None:
                        parts.append(got)
            rows = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        else:
            rows = self._hull[fml.within(self._lo[self._hull], self._hi[self._hull], key)]
        return np.sort(rows)

    def phase_set(self, elements: Iterable[str], include: Sequence[Phase] = ()) -> PhaseSet:
        """The :class:`PhaseSet` of a chemical system: its hull phases (the only ones a hull
        decomposition can use) plus the phases in ``include`` (records from ``resolve``: a
        metastable phase or an entry that is in no table)."""
        key = system_key(elements)
        ps = self._sets.get(key)
        if ps is None:
            missing = [el for el in key if el not in self._elements]
            if missing:
                raise InputError(f"element(s) {', '.join(missing)} have no elemental phase in the store: "
                                 "fetch them (screening fetch) or add an elemental entry")
            rows = self._hull_rows(key)
            if self.temperature_K:
                g = self._gibbs(rows)
                rows = rows[np.isfinite(g)]
                ps = PhaseSet(key, self._t, rows, caveats=self.caveats_for(key) + self._thermal_caveats(key, rows),
                              energies=self._gibbs(rows) * self._t.col("n_atoms")[rows])
            else:
                ps = PhaseSet(key, self._t, rows, caveats=self.caveats_for(key))
            self._sets[key] = ps
            if len(self._sets) > self._max_sets:
                self._sets.popitem(last=False)
        else:
            self._sets.move_to_end(key)
        if include:
            for p in include:
                if not set(p.elements) <= set(key):
                    raise ValueError(f"{p.formula} is not in the chemical system {'-'.join(key)}")
            ps = ps.including(include, [self._row_of(p) for p in include])
        return ps

    system = phase_set  # the name of earlier versions

    def _thermal_caveats(self, key, rows) -> tuple[Caveat, ...]:
        """The Gibbs model's caveat, phases left out for want of a volume, and formulas whose stable
        polymorph at T differs from 0 K's (in the system ``key``)."""
        t = self.temperature_K
        out = [Caveat(CaveatKind.MODEL, f"Gibbs energies at {t:g} K: Bartel's descriptor with the phases' volumes "
                      f"(NIST-JANAF where it has the compound; elements in their state at {t:g} K, e.g. Li liquid above "
                      f"453.7 K); energies within {gibbs.DESCRIPTOR_ERROR_EV_PER_ATOM:g} eV/atom are inconclusive",
                      "read differences below that as no difference", "-".join(key))]
        within = self._hull_rows(key)
        lost = within[~np.isfinite(self._gibbs(within))]
        if len(lost):
            out.append(Caveat(CaveatKind.NO_VOLUME, f"{len(lost)} phases of {'-'.join(key)} have no volume and are left out "
                              f"at {t:g} K ({', '.join(self._t.col('formula')[lost][:5])})", "give densities (user phase CSV)",
                              "-".join(key)))
        formula = self._t.col("formula")[rows]
        e0 = self._t.col("energy_per_atom_eV")[rows]
        gt = self._g[rows]
        for f in sorted(set(formula[pd.Series(formula).duplicated(keep=False).to_numpy()])):
            k = np.nonzero(formula == f)[0]
            cold, hot = rows[k[np.argmin(e0[k])]], rows[k[np.argmin(gt[k])]]
            if cold != hot:
                pid = self._t.col("phase_id")
                out.append(Caveat(CaveatKind.MODEL, f"the stable polymorph of {f} changes with temperature: {pid[hot]} at {t:g} K, "
                                  f"{pid[cold]} at 0 K", "", f))
        return tuple(out)

    def _row_of(self, p: Phase) -> int | None:
        """Table row of a record taken from this store (None for records of no table)."""
        i = self._ids.get(p.phase_id)
        return i if i is not None and p.composition == self._t.col("composition")[i] and p.energy_eV == self._t.col("energy_eV")[i] else None

    def phase_set_cache_info(self) -> dict:
        """Cached phase sets and the limit."""
        return {"sets": len(self._sets), "max_sets": self._max_sets}

    # ---- lookups
    def phase(self, phase_id: str) -> Phase:
        """The record of a stored phase id; InputError names the fix."""
        i = self._ids.get(phase_id)
        if i is None or not self._usable[i]:
            self._excluded(pid=phase_id)
            raise InputError(f"phase id {phase_id} is not in the store: check the id (screening phase FORMULA lists a formula's phases)")
        return self._record(i)

    def _record(self, i: int) -> Phase:
        rec = self._t.record(int(i))
        if self.exclude_artefacts:  # e_above_hull as this view's hulls have it
            rec["e_above_hull_eV_per_atom"] = rec["e_above_hull_without_artefacts_eV_per_atom"]
        if self.temperature_K:
            g = float(self._gibbs([i])[0])
            if not np.isfinite(g):
                raise InputError(f"{rec['formula']} ({rec['phase_id']}) has no molar volume: its Gibbs energy at "
                                 f"{self.temperature_K:g} K is unknown; give a density (user phase CSV) or use temperature 0")
            ps = self.phase_set(rec["chemsys"].split("-"))
            amounts = self._t.amounts([i], ps.elements)[0]
            hull = ps.hull_energy_per_atom(amounts)
            rec.update(energy_eV=g * rec["n_atoms"], energy_per_atom_eV=g, formation_energy_eV_per_atom=g,
                       e_above_hull_eV_per_atom=max(0.0, g - hull), e_above_hull_without_artefacts_eV_per_atom=max(0.0, g - hull),
                       correction_note=f"Gibbs energy of formation at {self.temperature_K:g} K ({self._g_label[i]}); "
                                       f"0 K: {rec['formation_energy_eV_per_atom']:.4f} eV/atom")
        return Phase.from_record(rec)

    def _best_rows(self) -> dict[str, int]:
        if self._best is None and self.temperature_K:  # the lowest G(T) polymorph, found per formula on demand
            return _LowestG(self)
        if self._best is None:
            epa = pd.Series(self._t.col("energy_per_atom_eV"))
            formula = self._t.col("formula")
            usable = np.nonzero(self._usable)[0]
            best = epa.iloc[usable].groupby(formula[usable], sort=False).idxmin()
            self._best = dict(zip(best.index, best.to_numpy(), strict=True))
        return self._best

    def resolve(self, item) -> Phase:
        """The record of a phase: a formula (its lowest-energy polymorph), 'formula:id', a phase
        id, a ``Composition``, a pymatgen ``ComputedEntry`` (placed against this store's hull when
        it is in no table) or a :class:`Phase`.  TypeError for other types; InputError (a
        ValueError) naming the fix when the phase is not known."""
        if isinstance(item, Phase):
            return self._adhoc(item)
        if isinstance(item, Composition):
            return self._by_formula(fml.reduced_formula(fml.parse_formula(item)))
        if hasattr(item, "lattice") and hasattr(item, "sites"):
            raise TypeError("a Structure has no energy: pass a ComputedStructureEntry (your DFT) or relax it "
                            "with screening.mlip.add_structures (CHGNet)")
        if hasattr(item, "energy") and hasattr(item, "composition"):
            check_entry(item, "entry")
            eid = str(item.entry_id) if item.entry_id is not None else None
            i = self._ids.get(eid) if eid is not None else None
            if i is not None:
                rec = self._record(i)
                if fml.reduced_formula(item.composition) != rec.formula or \
                        abs(item.energy - rec.energy_eV) > 1e-6 * max(1, abs(rec.energy_eV)):
                    raise InputError(f"entry id {eid} is in the store with another composition or energy: "
                                     "give the entry a new entry_id")
                return rec
            default = hashlib.sha256(repr((item.composition.formula, item.energy)).encode()).hexdigest()[:8]
            row = tbl.row_from_entry(item, default_id=f"entry:{fml.reduced_formula(item.composition)}:{default}")
            return self._adhoc(Phase.from_record(row))
        if not isinstance(item, str):
            raise TypeError(f"cannot look up a {type(item).__name__}: give a formula, 'formula:mp-id', a phase id, "
                            "a Composition, a ComputedEntry or a Phase")
        text = item.strip()
        formula, pid = (None, text) if text in self._ids else fml.split_identifier(text)
        if pid is None:
            return self._by_formula(fml.reduced_formula(fml.parse_formula(formula)))
        rec = self.phase(pid)
        if formula is not None and fml.reduced_formula(fml.parse_formula(formula)) != rec.formula:
            raise InputError(f"{pid} is {rec.formula}, not {formula}: check the id")
        return rec

    lookup = resolve  # the name of earlier versions

    def _by_formula(self, reduced: str) -> Phase:
        i = self._best_rows().get(reduced)
        if i is None:
            self._excluded(formula=reduced)
            comp = Composition(reduced)
            missing = [el.symbol for el in comp.elements if el.symbol not in self._elements]
            if missing:
                raise InputError(f"element(s) {', '.join(missing)} not in the phase store: add them with `screening fetch`")
            raise InputError(f"{reduced} is not in the phase store: run `screening fetch --chemsys {comp.chemical_system}` "
                             "or add it as a user phase (--phases FILE)")
        return self._record(i)

    def _adhoc(self, p: Phase) -> Phase:
        """A record that is in no table, placed against this store: formation energy vs its
        elemental references, e_above_hull vs the hull of its system (the record itself counts)."""
        i = self._ids.get(p.phase_id)
        if i is not None:
            rec = self._record(i)
            if rec == p:
                return rec
            raise InputError(f"phase id {p.phase_id} is in the store with other values: give the phase another phase_id")
        if p.energy_eV is None or p.n_atoms is None or not p.composition:
            raise ValueError(f"phase {p.phase_id} has no energy or composition: give energy_eV, n_atoms and composition")
        refs = self.element_energies()
        missing = [el for el in p.elements if el not in refs]
        if missing:
            raise InputError(f"element(s) {', '.join(missing)} of {p.formula} have no elemental phase in the store: "
                             "fetch them (screening fetch) or add an elemental entry")
        epa = p.energy_eV / p.n_atoms
        ps = self.phase_set(p.elements)
        own = np.array([p.amounts.get(e, 0.0) for e in ps.elements])
        try:
            hull = ps.hull_energy_per_atom(own)
        except ValueError:
            hull = np.inf
        ehull = epa - min(epa, hull)
        form = epa - sum(refs[el] * n for el, n in p.amounts.items()) / p.n_atoms
        changes = dict(energy_per_atom_eV=epa, formation_energy_eV_per_atom=form, e_above_hull_eV_per_atom=ehull,
                       e_above_hull_without_artefacts_eV_per_atom=ehull)
        return dataclasses.replace(p, **changes)

    def polymorphs(self, item) -> list[Phase]:
        """Every phase of the formula of ``item`` (anything ``resolve`` takes), lowest energy per
        atom first; InputError when the store has no phase of it."""
        reduced = self.resolve(item).formula
        rows = np.nonzero((self._t.col("formula") == reduced) & self._usable)[0]
        rows = rows[np.argsort(self._t.col("energy_per_atom_eV")[rows], kind="stable")]
        return [self._record(i) for i in rows]

    def select(self, elements) -> pd.DataFrame:
        """Rows whose elements all lie in ``elements`` (a chemical system and its subsystems)."""
        return self._t.frame(np.nonzero(fml.within(self._lo, self._hi, elements) & self._usable)[0])

    def entries(self, elements) -> list:
        """pymatgen ComputedEntry objects of a chemical system, energy adjustments visible."""
        return [tbl.entry_from_row(r) for r in self.select(elements).itertuples()]

    # ---- caveats about the data
    def caveats_for(self, elements) -> tuple[Caveat, ...]:
        """Data caveats for a chemical system and its subsystems: incomplete offline data, known
        GGA failures."""
        els = {str(e) for e in elements}
        out = [Caveat(CaveatKind.INCOMPLETE_DATA, f"incomplete offline data: MP knows {c} compounds the snapshot lacks",
                      f"fetch this system from MP (screening fetch --chemsys {c})", c)
               for s, c in self._incomplete if s <= els]
        out += [Caveat(CaveatKind.GGA_FAILURE, r["message"], r.get("remedy", ""), r["chemsys"]) for s, r in self._gga if s <= els]
        return tuple(out)

    def info(self) -> dict:
        """Counts and sources of the store (``screening data info``)."""
        t = self._t
        origin = pd.Series(t.col("origin")).value_counts().to_dict()
        hull = int((t.col("e_above_hull_eV_per_atom") <= 1e-6).sum())
        has_v = np.isfinite(t.col("molar_volume_cm3_per_mol"))
        vol = pd.Series(t.col("volume_origin")[has_v]).replace("", "unknown").value_counts().to_dict()
        out = {
            "n_phases": int(len(t)),
            "n_hull_phases": hull,
            "n_metastable_phases": int(len(t) - hull),
            "n_converted_phases": int(origin.get("mp-converted", 0)),
            "n_deprecated_left_out": int(self.info_.get("n_deprecated_left_out", 0)),
            "n_band_gaps": int(np.isfinite(t.col("band_gap_eV")).sum()),
            "n_volumes": int(has_v.sum()),
            "n_volumes_by_source": {k: int(v) for k, v in sorted(vol.items())},
            "n_phases_by_origin": {k: int(v) for k, v in sorted(origin.items())},
            "n_incomplete_systems": len(self._incomplete),
        }
        skip = {"known_gga_failures", "conversion_offsets", "harmonize_2018_offsets", "volume_formula_mismatches",
                "dropped_non_mp", "elements", "build_seconds"}
        out.update({k: v for k, v in self.info_.items() if k not in out and k not in skip})
        if "volume_validation" in out:  # the summary; the worst cases and classes stay in the build info
            out["volume_validation"] = {"all": out["volume_validation"]["all"],
                                        "by_class_median_abs_pct": {k: v["median_abs_pct"] for k, v in
                                                                    out["volume_validation"]["by_class"].items()}}
        return out

    # ---- new stores
    def with_phases(self, rows: pd.DataFrame | None = None, replace_systems=(), drop_ids=()) -> PhaseStore:
        """A new store with ``rows`` added (rows within ``replace_systems`` and rows whose phase id
        is in ``drop_ids`` dropped first).  Only rows whose chemical system contains a changed
        phase's system get a new hull (a phase whose id and energy are unchanged is no change)."""
        new = tbl.conform(rows if rows is not None else pd.DataFrame(columns=tbl.COLUMNS))
        t = self._t
        keep = np.ones(len(t), bool)
        for cs in replace_systems:
            keep &= ~fml.within(self._lo, self._hi, cs.split("-"))
        if len(drop_ids):
            keep &= ~np.isin(t.col("phase_id"), list(drop_ids))
        kept_ids = set(t.col("phase_id")[keep])
        clash = set(new.phase_id) & kept_ids
        if clash or not new.phase_id.is_unique:
            pid = sorted(clash)[0] if clash else new.phase_id[new.phase_id.duplicated()].iloc[0]
            raise InputError(f"phase id {pid} is already in the store: give the new phase another name")
        new["energy_per_atom_eV"] = new.energy_eV / new.n_atoms
        # what changes the hull: dropped rows that do not come back with the same energy, and new ones
        energy = dict(zip(t.col("phase_id")[~keep], t.col("energy_eV")[~keep], strict=True))
        same = np.array([pid in energy and abs(e - energy[pid]) <= 1e-9 * max(1.0, abs(e))
                         for pid, e in zip(new.phase_id, new.energy_eV, strict=True)], bool)
        returned = set(new.phase_id[same])
        changed = {cs for cs, pid in zip(t.col("chemsys")[~keep], t.col("phase_id")[~keep], strict=True) if pid not in returned}
        changed |= set(new.chemsys[~same])
        merged = t.take(np.nonzero(keep)[0]).concat(PhaseTable.from_frame(new))
        frame = merged.frame(columns=["phase_id", "composition", "chemsys", "energy_per_atom_eV", "artefact"])
        refs_old = element_references(t.frame(np.nonzero(keep)[0], ["chemsys", "energy_per_atom_eV"])) if keep.any() else {}
        refs = element_references(frame)
        form = merged.col("formation_energy_eV_per_atom").copy()
        redo = np.arange(len(merged)) if refs != refs_old else np.arange(int(keep.sum()), len(merged))
        form[redo] = formation_energies(frame, refs, redo)
        ehull = merged.col("e_above_hull_eV_per_atom").copy()
        ehull_x = merged.col("e_above_hull_without_artefacts_eV_per_atom").copy()
        lo, hi = merged.masks
        affected = np.zeros(len(merged), bool)
        for cs in changed:
            affected |= fml.containing(lo, hi, cs.split("-"))
        if affected.any():
            staged = merged.with_columns(formation_energy_eV_per_atom=form)
            art = merged.col("artefact") != ""
            for cs in sorted(set(merged.col("chemsys")[affected])):
                els = system_key(cs.split("-"))
                within = fml.within(lo, hi, els)
                rows_cs = np.nonzero(affected & (merged.col("chemsys") == cs))[0]
                for column, pool in ((ehull, within), (ehull_x, within & ~art)):
                    ps = PhaseSet(els, staged, np.nonzero(pool)[0])
                    epa = ps.energy_per_atom
                    for r in rows_cs:
                        if column is ehull_x and art[r]:
                            column[r] = np.nan
                            continue
                        own = merged.amounts([r], els)[0]
                        column[r] = merged.col("energy_per_atom_eV")[r] - ps.hull_energy_per_atom(own) if len(epa) else 0.0
        out = merged.with_columns(formation_energy_eV_per_atom=form, e_above_hull_eV_per_atom=ehull,
                                  e_above_hull_without_artefacts_eV_per_atom=ehull_x)
        info = dict(self.info_)
        info["sources"] = list(dict.fromkeys([*self.info_.get("sources", []), *sorted(set(new.source))]))
        return PhaseStore(out, info, exclude_artefacts=self.exclude_artefacts, phase_set_cache=self._max_sets,
                          temperature_K=self.temperature_K)

    def without_artefacts(self) -> PhaseStore:
        """A view of this store that leaves the phases flagged as artefacts (e.g. dilute supercells
        like LiMg149) out of every hull and lookup; shares the table (no copy)."""
        art = self._t.col("artefact") != ""
        if self.exclude_artefacts or not art.any():
            return self
        info = {**self.info_, "excluded_artefacts": dict(zip(self._t.col("phase_id")[art], self._t.col("formula")[art],
                                                              strict=True))}
        return self._view(info=info, exclude_artefacts=True)

    def with_artefacts(self) -> PhaseStore:
        """A view of this store that keeps the phases flagged as artefacts in every hull."""
        if not self.exclude_artefacts:
            return self
        return self._view(info={k: v for k, v in self.info_.items() if k != "excluded_artefacts"}, exclude_artefacts=False)

    def _excluded(self, pid: str | None = None, formula: str | None = None) -> None:
        """InputError when a phase asked for was left out as an artefact (``without_artefacts``)."""
        for xid, xformula in self.info_.get("excluded_artefacts", {}).items():
            if pid == xid or (pid is None and formula == xformula):
                raise InputError(f"{xformula} ({xid}) was left out as a dilute-supercell artefact (exclude_artefacts): "
                                 "run without that option to use it")

    def with_entries(self, entries) -> PhaseStore:
        """A new store with pymatgen entries added, energies as given (e.g. your own DFT)."""
        entries = list(entries)
        for k, e in enumerate(entries):
            check_entry(e, f"entries[{k}]")
        return self.with_phases(tbl.rows_from_entries(entries))


def check_entry(entry, name: str) -> None:
    """TypeError for something that is not a pymatgen entry, ValueError for an energy that is not
    a finite DFT energy."""
    if not (hasattr(entry, "energy") and hasattr(entry, "composition")) or isinstance(entry, (dict, str)):
        raise TypeError(f"{name} is a {type(entry).__name__}, not a pymatgen ComputedEntry: "
                        "make one with ComputedEntry(composition, energy_eV)")
    try:
        energy = float(entry.energy)
        n = float(entry.composition.num_atoms)
    except (TypeError, ValueError, AttributeError):
        raise TypeError(f"{name}: its energy or composition is not a number / Composition") from None
    if not (n > 0 and np.isfinite(energy) and abs(energy / n) <= MAX_ABS_ENERGY_EV_PER_ATOM):
        raise ValueError(f"{name} ({entry.composition.reduced_formula}) has energy {energy!r} eV: give a finite total "
                         f"energy within {MAX_ABS_ENERGY_EV_PER_ATOM:g} eV/atom (MP2020-compatible DFT)")


class _LowestG(dict):
    """Formula -> the row of its lowest Gibbs energy at the store's temperature, looked up on demand."""

    def __init__(self, store: PhaseStore):
        super().__init__()
        self._store = store

    def get(self, formula, default=None):
        st = self._store
        rows = np.nonzero((st._t.col("formula") == formula) & st._usable)[0]
        if not len(rows):
            return default
        g = st._gibbs(rows)
        if not np.isfinite(g).any():
            return int(rows[0])
        return int(rows[np.nanargmin(g)])


# --------------------------------------------------------------------------- user phases
def user_rows(store: PhaseStore, records, origin: str = "python") -> pd.DataFrame:
    """Phase rows of user records (dicts or a DataFrame with the user CSV's columns; see
    ``screening.data.user``), energies placed against ``store``."""
    df = records if isinstance(records, pd.DataFrame) and "energy_column" in records else user.validate(pd.DataFrame(records), origin)
    refs = store.element_energies()
    rows = []
    for r in df.itertuples():
        comp = Composition(r.formula)
        missing = sorted(el.symbol for el in comp.elements if el.symbol not in refs)
        if missing:
            raise DataError(f"{r.origin}: {r.formula}: element(s) {', '.join(missing)} not in the store: fetch them first")
        n = comp.num_atoms
        if r.energy_column == "energy_eV":
            energy = r.energy_value
        elif r.energy_column == "formation_energy_eV_per_atom":
            energy = sum(refs[el.symbol] * amt for el, amt in comp.items()) + r.energy_value * n
        else:
            ps = store.phase_set([el.symbol for el in comp.elements])
            energy = (ps.hull_energy_per_atom(ps.vector(comp)) + r.energy_value) * n
        row = tbl.empty_row()
        row.update(tbl.identity(comp), phase_id=f"user:{r.name}", origin="user", source=f"user:{r.origin}",
                   run_type="user", energy_eV=float(energy), correction_note=f"user {r.energy_column}")
        if r.band_gap_eV is not None and np.isfinite(r.band_gap_eV):
            row.update(band_gap_eV=float(r.band_gap_eV), band_gap_origin="user", band_gap_source=f"user:{r.origin}")
        if r.density_g_cm3 is not None and np.isfinite(r.density_g_cm3):
            vm = comp.reduced_composition.weight / r.density_g_cm3
            row.update(density_g_cm3=float(r.density_g_cm3), molar_volume_cm3_per_mol=float(vm),
                       volume_source=f"user:{r.origin}", volume_origin="user")
        rows.append(row)
    return tbl.conform(pd.DataFrame(rows))


def add_phases(store: PhaseStore, records, origin: str = "python") -> PhaseStore:
    """The store plus hypothetical phases (records with the user CSV's columns: formula, one of
    energy_eV / formation_energy_eV_per_atom / e_above_hull_eV_per_atom, optional name,
    band_gap_eV, density_g_cm3)."""
    return store.with_phases(user_rows(store, records, origin))


# --------------------------------------------------------------------------- opening
def open_store(shared: Path | str | None = None, phases: Path | str | None = None, *, cache: Path | str | None = None,
               rebuild: bool = False, fetched: bool = True) -> PhaseStore:
    """Open the phase store.

    Default: the finished table shipped with the package (verified, no build, works offline).
    ``shared``: rebuild from the raw Materials Project files in that folder instead (cached in the
    user cache folder, keyed by the files, the package and pymatgen versions).
    ``phases``: a CSV of user phases merged for this session; ``fetched``: merge MP systems
    fetched with ``screening fetch`` (under the cache folder).
    """
    cdir = Path(cache) if cache else files.cache_dir()
    if shared is None and not rebuild:
        table, info = cache_io.read_shipped()
    else:
        from screening import build

        root = Path(shared) if shared else files.shared_root(required=True)
        table, info = cache_io.cached_build(root, cdir, build.build_table, rebuild=rebuild)
    store = PhaseStore(table, info)
    if fetched:
        rows, systems = mp_api.read_fetched(cdir)
        if len(rows):
            store = store.with_phases(rows, replace_systems=systems)
    if phases:
        store = add_phases(store, user.read_user_csv(phases))
    return store
