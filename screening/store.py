"""The phase store: every phase the screen knows, finished by the thermodynamic kernel.

A :class:`PhaseStore` is built from a phase table (``screening.data.table``) or from pymatgen
entries (``PhaseStore.from_entries``: your own DFT, energies as given).  It derives formation
energies and e_above_hull with the kernel (``screening.thermo.hull``), answers lookups (a formula,
``formula:id``, a phase id, a ``Composition`` or a ``ComputedEntry``) and hands the thermodynamics
layer one :class:`PhaseSet` per chemical system.  It is immutable: ``with_phases`` and
``with_entries`` return new stores (only the rows whose hull can change are recomputed), and every
cache lives on the instance.

``open_store()`` opens the finished table shipped with the package (built from the Materials
Project data by ``screening data build``), merges MP systems fetched with ``screening fetch`` and,
optionally, a CSV of user phases.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element

from screening.data import cache as cache_io
from screening.data import files, mp_api, user
from screening.data import formula as fml
from screening.data import table as tbl
from screening.data.cache import FrameRows
from screening.errors import DataError, InputError
from screening.phases import PhaseSet, element_references, finish, formation_energies
from screening.results import Caveat, CaveatKind

LI = Element("Li")
#: rows up to this far above the hull (eV/atom, round-off) take part in hull decompositions
HULL_ROW_TOL = 1e-6


class PhaseStore:
    """All known phases (one row each) with per-instance caches; immutable.

    ``table`` columns: ``screening.data.table.COLUMNS`` (energies in eV, volumes in cm3 per mol of
    reduced formula units); ``info`` holds build counts, validation numbers and data sources.
    Construct with ``PhaseStore(finished_table)``, ``PhaseStore.from_table(rows)``,
    ``PhaseStore.from_entries(entries)`` or ``open_store()``.
    """

    def __init__(self, table, info: dict | None = None):
        rows = FrameRows(table) if isinstance(table, pd.DataFrame) else table
        missing = [c for c in tbl.COLUMNS if c not in rows.columns]
        if missing:
            raise DataError(f"phase table lacks column(s) {', '.join(missing)}: build it with PhaseStore.from_table")
        self._rows = rows
        idx = rows.index()
        self._pid = idx.phase_id.to_numpy(dtype=object)
        if len(set(self._pid)) != len(self._pid):
            dup = idx.phase_id[idx.phase_id.duplicated()].iloc[0]
            raise InputError(f"phase id {dup} appears twice: give every phase a unique id")
        self.info_ = dict(info or {})
        if "mask_lo" in idx:
            self._lo, self._hi = idx.mask_lo.to_numpy(dtype=np.uint64), idx.mask_hi.to_numpy(dtype=np.uint64)
        else:
            self._lo, self._hi = fml.chemsys_masks(idx.chemsys)
        self._formula = idx.formula.to_numpy(dtype=object)
        self._ehull = idx.e_above_hull_eV_per_atom.to_numpy(dtype=float)
        best = pd.Series(idx.energy_per_atom_eV.to_numpy(dtype=float)).groupby(self._formula, sort=False).idxmin()
        self._best = dict(zip(best.index, best.to_numpy(), strict=True))
        self._ids = dict(zip(self._pid, range(len(self._pid)), strict=True))
        chemsys = idx.chemsys.to_numpy(dtype=object)
        self._elements = {c for c in set(chemsys) if "-" not in c}
        self._incomplete = [(set(c.split("-")), c) for c in self.info_.get("incomplete_systems", [])]
        self._gga = [(set(r["chemsys"].split("-")), r) for r in self.info_.get("known_gga_failures", [])]
        self._systems: dict[tuple[str, ...], PhaseSet] = {}
        self._located: dict = {}
        self._memo: dict = {}
        self._row_cache: dict[int, pd.Series] = {}
        self._parsed: dict[str, tuple[dict, float]] = {}  # composition text -> (amounts, reduced units)
        self._key: str | None = None

    def _row(self, i: int) -> pd.Series:
        if i not in self._row_cache:
            self._row_cache[i] = self._rows.take([i]).iloc[0]
        return self._row_cache[i]

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
            raise InputError("no entries given: pass pymatgen ComputedEntry objects")
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
    def table(self) -> pd.DataFrame:
        """The whole phase table (read on first use; treat as read-only: derive new stores with
        ``with_phases``)."""
        return self._rows.all()

    def __len__(self) -> int:
        return len(self._pid)

    def __repr__(self) -> str:
        return f"PhaseStore({len(self)} phases, {len(self._elements)} elements)"

    def __getstate__(self):  # sent to Dask workers: data only, caches rebuilt there
        return {"table": self.table, "info": self.info_}

    def __setstate__(self, state):
        self.__init__(state["table"], state["info"])

    def content_key(self) -> str:
        """Hash of the table's content (changes with any fetched, user or edited phase)."""
        if self._key is None:
            cols = ["phase_id", "formula", "energy_eV", "band_gap_eV", "molar_volume_cm3_per_mol"]
            digest = pd.util.hash_pandas_object(self.table[cols], index=False).to_numpy().tobytes()
            self._key = hashlib.sha256(digest).hexdigest()[:16]
        return self._key

    @property
    def elements(self) -> set[str]:
        """Elements with an elemental phase in the store."""
        return set(self._elements)

    def element_energies(self) -> dict[str, float]:
        """Energy per atom (eV) of the lowest elemental phase of each element: the references of
        formation energies and of chemical potentials."""
        idx = self._rows.index()
        pure = idx[~idx.chemsys.str.contains("-")]
        return pure.groupby("chemsys").energy_per_atom_eV.min().to_dict()

    def memo(self, key, compute):
        """A derived result cached on this store (results depend only on its content)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    # ---- selection
    def _within(self, elements) -> np.ndarray:
        return fml.within(self._lo, self._hi, elements)

    def select(self, elements) -> pd.DataFrame:
        """Rows whose elements all lie in ``elements`` (a chemical system and its subsystems)."""
        return self._rows.take(np.nonzero(self._within(elements))[0])

    def system(self, elements, include=()) -> PhaseSet:
        """The :class:`PhaseSet` of a chemical system: its hull phases (the only ones any hull
        decomposition uses) plus the rows whose phase ids are in ``include`` (the phases a question
        is about, e.g. a metastable reactant).  Cached on this store."""
        key = tuple(sorted({str(e) for e in elements}, key=lambda s: Element(s).Z))
        if key not in self._systems:
            missing = [el for el in key if el not in self._elements]
            if missing:
                raise InputError(f"element(s) {', '.join(missing)} have no elemental phase in the store: "
                                 "fetch them (screening fetch) or add an elemental entry")
            mask = self._within(key) & (self._ehull <= HULL_ROW_TOL)
            self._systems[key] = PhaseSet(key, self._rows.take(np.nonzero(mask)[0]), memo=self._parsed)
        ps = self._systems[key]
        if len(include) and not all(p in ps._index for p in include):
            ps = ps.including(self._rows.take([self._ids[p] for p in include]))
        return ps

    def entries(self, elements) -> list:
        """pymatgen ComputedEntry objects of a chemical system, energy adjustments visible."""
        return [tbl.entry_from_row(r) for r in self.select(elements).itertuples()]

    # ---- lookups
    def lookup(self, item) -> pd.Series:
        """The row of a phase: a formula (its lowest-energy polymorph), 'formula:id', a phase id,
        a Composition or a ComputedEntry already in the store.  InputError names the fix."""
        store, row = self.locate(item)
        if store is not self:
            raise InputError(f"entry {getattr(item, 'entry_id', item)} is not in the store: use store.with_entries([entry])")
        return row

    def locate(self, item) -> tuple[PhaseStore, pd.Series]:
        """(store, row) of a phase.  A ComputedEntry that is not in the store is added to a
        copy of it (kept on this store for the next call), so its energy is used as given."""
        if isinstance(item, str) and item in self._located:
            return self, self._located[item]
        if hasattr(item, "energy") and hasattr(item, "composition") and not isinstance(item, Composition):
            return self._locate_entry(item)
        if hasattr(item, "lattice") and hasattr(item, "sites"):
            raise InputError("a Structure has no energy: pass a ComputedStructureEntry (your DFT) or relax it "
                             "with screening.mlip.add_structures (CHGNet)")
        if isinstance(item, Composition):
            return self, self._by_formula(fml.reduced_formula(fml.parse_formula(item)), str(item))
        if not isinstance(item, str):
            raise InputError(f"cannot look up a {type(item).__name__}: give a formula, 'formula:mp-id', a phase id, "
                             "a Composition or a ComputedEntry")
        text = item.strip()
        formula, pid = (None, text) if text in self._ids else fml.split_identifier(text)
        if pid is not None:
            idx = self._ids.get(pid)
            if idx is None:
                self._excluded(pid=pid)
                raise InputError(f"phase id {pid} is not in the store: check the id (screening phase FORMULA lists a formula's phases)")
            row = self._row(idx)
            if formula is not None and fml.reduced_formula(fml.parse_formula(formula)) != row.formula:
                raise InputError(f"{pid} is {row.formula}, not {formula}: check the id")
        else:
            row = self._by_formula(fml.reduced_formula(fml.parse_formula(formula)), text)
        self._located[item] = row
        return self, row

    def _by_formula(self, reduced: str, text: str) -> pd.Series:
        idx = self._best.get(reduced)
        if idx is None:
            self._excluded(formula=reduced)
            comp = Composition(reduced)
            missing = [el.symbol for el in comp.elements if el.symbol not in self._elements]
            if missing:
                raise InputError(f"element(s) {', '.join(missing)} not in the phase store: add them with `screening fetch`")
            raise InputError(f"{reduced} is not in the phase store: run `screening fetch --chemsys {comp.chemical_system}` "
                             "or add it as a user phase (--phases FILE)")
        return self._row(idx)

    def _locate_entry(self, entry) -> tuple[PhaseStore, pd.Series]:
        eid = str(entry.entry_id) if entry.entry_id is not None else None
        if eid in self._ids:
            row = self._row(self._ids[eid])
            if fml.reduced_formula(entry.composition) != row.formula or abs(entry.energy - row.energy_eV) > 1e-6 * max(1, abs(row.energy_eV)):
                raise InputError(f"entry id {eid} is in the store with another composition or energy: give the entry a new entry_id")
            return self, row
        key = (eid, entry.composition.formula, float(entry.energy))
        if key not in self._located:
            bigger = self.with_entries([entry])
            self._located[key] = (bigger, bigger.table.iloc[-1])
        return self._located[key]

    def polymorphs(self, item) -> pd.DataFrame:
        """Every phase of the formula of ``item`` (anything ``lookup`` takes), lowest energy first;
        InputError when the store has no phase of it."""
        reduced = self.lookup(item).formula
        return self._rows.take(np.nonzero(self._formula == reduced)[0]).sort_values("energy_per_atom_eV")

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
        t = self.table
        origin = t.origin.value_counts().to_dict()
        hull = int((t.e_above_hull_eV_per_atom <= 1e-6).sum())
        vol = t.volume_origin[t.molar_volume_cm3_per_mol.notna()].replace("", "unknown").value_counts().to_dict()
        out = {
            "n_phases": int(len(t)),
            "n_hull_phases": hull,
            "n_metastable_phases": int(len(t) - hull),
            "n_converted_phases": int(origin.get("mp-converted", 0)),
            "n_deprecated_left_out": int(self.info_.get("n_deprecated_left_out", 0)),
            "n_band_gaps": int(t.band_gap_eV.notna().sum()),
            "n_volumes": int(t.molar_volume_cm3_per_mol.notna().sum()),
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
        phase's system get a new hull."""
        new = tbl.conform(rows if rows is not None else pd.DataFrame(columns=tbl.COLUMNS))
        table = self.table
        keep = np.ones(len(table), bool)
        for cs in replace_systems:
            keep &= ~self._within(cs.split("-"))
        if len(drop_ids):
            keep &= ~table.phase_id.isin(list(drop_ids)).to_numpy()
        clash = set(new.phase_id) & set(table.phase_id[keep])
        if clash or not new.phase_id.is_unique:
            pid = sorted(clash)[0] if clash else new.phase_id[new.phase_id.duplicated()].iloc[0]
            raise InputError(f"phase id {pid} is already in the store: give the new phase another name")
        old = table[keep]
        t = pd.concat([old, new], ignore_index=True) if len(new) else old.reset_index(drop=True).copy()
        t["energy_per_atom_eV"] = t.energy_eV / t.n_atoms
        changed = list(set(new.chemsys) | set(table.chemsys[~keep]))
        refs = element_references(t)
        if refs != element_references(old) or not keep.all():
            t["formation_energy_eV_per_atom"] = formation_energies(t, refs, np.arange(len(t)))
        else:
            n = np.arange(len(old), len(t))
            t.loc[n, "formation_energy_eV_per_atom"] = formation_energies(t, refs, n)
        lo, hi = fml.chemsys_masks(t.chemsys)
        affected = np.zeros(len(t), bool)
        for cs in changed:
            affected |= fml.containing(lo, hi, cs.split("-"))
        staged = PhaseStore(t, self.info_)  # hull energies of the affected rows, system by system
        for cs in sorted(set(t.chemsys[affected])):
            ps = PhaseSet(cs.split("-"), staged.select(cs.split("-")))  # every row: removals can raise the hull
            rows_cs = np.nonzero(affected & (t.chemsys == cs).to_numpy())[0]
            for r in rows_cs:
                i = ps.index_of(t.phase_id.iat[r])
                t.iat[r, t.columns.get_loc("e_above_hull_eV_per_atom")] = ps.e_above_hull(i)
        info = dict(self.info_)
        info["sources"] = list(dict.fromkeys([*self.info_.get("sources", []), *sorted(set(new.source))]))
        return PhaseStore(t, info)

    def without_artefacts(self) -> PhaseStore:
        """A new store without the phases flagged as artefacts (e.g. dilute supercells like LiMg149)."""
        t = self.table
        flagged = t[t.artefact != ""]
        if not len(flagged):
            return self
        new = self.with_phases(drop_ids=list(flagged.phase_id))
        new.info_ = {**new.info_, "excluded_artefacts": dict(zip(flagged.phase_id, flagged.formula, strict=True))}
        return new

    def _excluded(self, pid: str | None = None, formula: str | None = None) -> None:
        """InputError when a phase asked for was left out as an artefact (``without_artefacts``)."""
        for xid, xformula in self.info_.get("excluded_artefacts", {}).items():
            if pid == xid or (pid is None and formula == xformula):
                raise InputError(f"{xformula} ({xid}) was left out as a dilute-supercell artefact (--exclude-artefacts): "
                                 "run without that option to use it")

    def with_entries(self, entries) -> PhaseStore:
        """A new store with pymatgen entries added, energies as given (e.g. your own DFT)."""
        return self.with_phases(tbl.rows_from_entries(list(entries)))


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
            ps = store.system([el.symbol for el in comp.elements])
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

    Default: the finished table shipped with the package (no build, works offline).
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
