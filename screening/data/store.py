"""The phase store: every phase the screen knows, MP2020-corrected, with gaps, volumes, provenance.

Built once from the shared MP snapshot (``screening.data.sources``) into a parquet cache keyed by a
hash of the source files and this module's BUILD_VERSION; later opens read the cache (~0.1 s).
Phases fetched from the MP API (``screening fetch``) and user phases (CSV) merge into the same
table.  All energies are MP2020-compatible GGA/GGA+U energies.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pymatgen.core import Composition, Element
from pymatgen.entries.computed_entries import ComputedEntry

from screening import config, lp
from screening.data import corrections, sources, volumes
from screening.errors import DataError, InputError
from screening.files import atomic_write

BUILD_VERSION = "1"
#: Binary systems where a missing compound means missing data rather than no stable compound.
COMMON_ANIONS = frozenset("O N F Cl Br I S Se Te H P".split())
#: Per-phase float columns, in order (units in the names).
FLOAT_COLUMNS = [
    "energy_eV", "raw_energy_eV", "correction_eV", "n_atoms", "energy_per_atom_eV",
    "formation_energy_eV_per_atom", "e_above_hull_eV_per_atom", "mp_e_above_hull_eV_per_atom",
    "band_gap_eV", "density_g_cm3", "molar_volume_cm3_per_mol",
]
STR_COLUMNS = [
    "phase_id", "formula", "composition", "chemsys", "material_id", "source", "run_type",
    "correction_note", "band_gap_source", "volume_source", "uncertain", "warning",
]


# --------------------------------------------------------------------------- element masks
def element_mask(elements) -> tuple[int, int]:
    """Two 64-bit words with bit Z-1 set for each element (Z <= 128)."""
    lo = hi = 0
    for el in elements:
        z = Element(str(el)).Z - 1
        if z < 64:
            lo |= 1 << z
        else:
            hi |= 1 << (z - 64)
    return lo, hi


def _masks(chemsys: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    pairs = [element_mask(c.split("-")) for c in chemsys]
    return (np.array([p[0] for p in pairs], dtype=np.uint64), np.array([p[1] for p in pairs], dtype=np.uint64))


def parse_formula(formula: str) -> Composition:
    """A Composition from user text, or InputError naming the problem."""
    text = str(formula).strip()
    if not text:
        raise InputError("empty formula: give a chemical formula such as LiI or Li7La3Zr2O12")
    for sym in re.findall(r"[A-Z][a-z]*", text):
        if not Element.is_valid_symbol(sym):
            raise InputError(f"unknown element '{sym}' in '{text}': use element symbols such as Li, O, Zr")
    if re.search(r"[^A-Za-z0-9.()\[\] ]", text) or not re.match(r"^[A-Z(\[]", text):
        raise InputError(f"malformed formula '{text}': write it like LiI, Li2O or Li7La3Zr2O12")
    try:
        comp = Composition(text)
    except Exception:  # pymatgen raises ValueError/KeyError/TypeError for junk
        raise InputError(f"malformed formula '{text}': write it like LiI, Li2O or Li7La3Zr2O12") from None
    if comp.num_atoms <= 0 or any(v < 0 for v in comp.values()):
        raise InputError(f"malformed formula '{text}': amounts must be positive")
    for el in comp.elements:
        if not isinstance(el, Element) or el.Z > 103:
            raise InputError(f"unknown element '{el}' in '{text}': use element symbols such as Li, O, Zr")
    return comp


# --------------------------------------------------------------------------- hull energies
def hull_energies_per_atom(table: pd.DataFrame, targets: list[int] | None = None) -> np.ndarray:
    """Convex-hull energy (eV/atom) at the composition of each row in ``targets`` (default all),
    from the phases whose elements lie within that row's chemical system (LP per row)."""
    lo, hi = _masks(table.chemsys)
    comps = [Composition(c) for c in table.composition]
    els = sorted({el.symbol for c in comps for el in c.elements}, key=lambda s: Element(s).Z)
    index = {s: i for i, s in enumerate(els)}
    frac = np.zeros((len(table), len(els)))
    for i, c in enumerate(comps):
        for el, amt in c.get_el_amt_dict().items():
            frac[i, index[el]] = amt / c.num_atoms
    epa = table.energy_per_atom_eV.to_numpy()
    rows = range(len(table)) if targets is None else targets
    out = np.full(len(rows), np.nan)
    cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for k, i in enumerate(rows):
        key = (int(lo[i]), int(hi[i]))
        if key not in cache:
            sub = np.nonzero(((lo & ~lo[i]) == 0) & ((hi & ~hi[i]) == 0))[0]
            cols = np.nonzero(frac[sub].any(axis=0))[0]
            cache[key] = (sub, cols)
        sub, cols = cache[key]
        if len(sub) == 1:
            out[k] = epa[sub[0]]
            continue
        try:
            out[k] = lp.hull_energy(frac[np.ix_(sub, cols)], epa[sub], frac[i, cols]).value
        except ValueError:  # an element without any elemental phase: no hull
            out[k] = np.nan
    return out


def _finish(table: pd.DataFrame, targets: np.ndarray | None = None) -> pd.DataFrame:
    """Derived columns: per-atom energies, formation energies, e_above_hull (for the rows in
    ``targets`` only when given; the others keep their value)."""
    t = table.copy()
    t["energy_per_atom_eV"] = t.energy_eV / t.n_atoms
    elemental = t[~t.chemsys.str.contains("-")]
    refs = elemental.groupby("chemsys").energy_per_atom_eV.min().to_dict()
    ref_e = []
    for c in t.composition:
        comp = Composition(c)
        ref_e.append(sum(refs.get(el.symbol, np.nan) * amt for el, amt in comp.items()) / comp.num_atoms)
    t["formation_energy_eV_per_atom"] = t.energy_per_atom_eV - np.array(ref_e)
    if targets is None:
        t["e_above_hull_eV_per_atom"] = t.energy_per_atom_eV - hull_energies_per_atom(t)
    elif len(targets):
        rows = t.index[targets]
        t.loc[rows, "e_above_hull_eV_per_atom"] = t.energy_per_atom_eV.loc[rows] - hull_energies_per_atom(t, list(targets))
    return t


# --------------------------------------------------------------------------- building
def empty_row() -> dict:
    """A store row with every column missing (NaN / ""), for builders of new rows."""
    row = {c: np.nan for c in FLOAT_COLUMNS}
    row.update({c: "" for c in STR_COLUMNS})
    return row


def _mixed_anion(comp: Composition) -> bool:
    return len([el for el in comp.elements if el.symbol in COMMON_ANIONS and el.symbol != "H"]) > 1


def build_table(root: Path) -> tuple[pd.DataFrame, dict]:
    """Build the corrected phase table from the shared snapshot; returns (table, build report)."""
    t0 = time.perf_counter()
    hull = sources.read_hull_phases(root)
    refs = sources.read_elemental_references(root)
    compat = corrections.compatibility()

    is_mp = hull.MaterialId.str.match(r"^mp-\d+$")
    dropped = hull[~is_mp]
    kept = hull[is_mp]
    entries = [
        corrections.make_entry(r.MaterialId, r.Composition, float(r.energy), compat)
        for r in kept.rename(columns={"Corrected Energy": "energy"}).itertuples()
    ]
    have = {Composition(c).elements[0].symbol for c in kept.Composition if len(Composition(c)) == 1}
    ref_rows = []
    for sym, d in refs.items():
        if sym not in have:  # replaces a non-MP row, or fills an element the snapshot lacks
            e = ComputedEntry.from_dict(d)
            ref_rows.append(e)
    corrected = corrections.correct(entries)
    rejected = [e.entry_id for e in entries if e.entry_id not in corrected]

    rows = []
    for e in list(corrected.values()) + ref_rows:
        comp = e.composition
        mid = e.data.get("material_id", e.entry_id) if e in ref_rows else e.entry_id
        row = empty_row()
        row.update(
            phase_id=mid,
            material_id=mid,
            formula=comp.reduced_formula,
            composition=comp.formula,
            chemsys=comp.chemical_system,
            n_atoms=comp.num_atoms,
            energy_eV=e.energy,
            raw_energy_eV=e.uncorrected_energy,
            correction_eV=e.correction,
            correction_note=corrections.correction_note(e),
            run_type=e.parameters.get("run_type", "GGA"),
            source=sources.REFS_FILE if e in ref_rows else sources.HULL_FILE,
            mp_e_above_hull_eV_per_atom=0.0 if e not in ref_rows else np.nan,
            uncertain="mixed-anion: MP2020 correction depends on the oxidation-state guess"
            if _mixed_anion(comp)
            else "",
        )
        rows.append(row)
    table = _finish(pd.DataFrame(rows))
    off_hull = int((table.e_above_hull_eV_per_atom > 1e-3).sum())

    table = _add_metastable(table, root)
    _add_band_gaps(table, root)
    _add_volumes(table, root)
    incomplete, no_compound = incomplete_systems(table, root)
    report = {
        "n_hull_rows": int(len(hull)),
        "n_corrected": int(sum(1 for e in corrected.values() if e.correction != 0)),
        "n_dropped_non_mp": int(len(dropped)),
        "dropped_non_mp": sorted(Composition(c).reduced_formula for c in dropped.Composition),
        "n_rejected_by_compatibility": len(rejected),
        "n_elemental_references_added": len(ref_rows),
        "n_off_own_hull": off_hull,
        "off_own_hull_fraction": off_hull / max(1, len(corrected) + len(ref_rows)),
        "incomplete_systems": incomplete,
        "n_systems_without_hull_compound": no_compound,
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
    return table, report


def _add_metastable(table: pd.DataFrame, root: Path) -> pd.DataFrame:
    """Place MP metastable phases at hull energy + MP e_above_hull (eV/atom)."""
    meta = sources.read_metastable(root)
    rows = []
    for r in meta.itertuples():
        comp = Composition(r.formula)
        row = empty_row()
        row.update(
            phase_id=r.material_id, material_id=r.material_id, formula=comp.reduced_formula,
            composition=comp.formula, chemsys=comp.chemical_system, n_atoms=comp.num_atoms,
            energy_eV=0.0, source=sources.METASTABLE_FILE, run_type="GGA/GGA+U (MP)",
            correction_note=f"placed at hull + {r.e_above_hull_eV_per_atom:.4f} eV/atom (MP)",
            mp_e_above_hull_eV_per_atom=float(r.e_above_hull_eV_per_atom),
        )
        if not np.isnan(getattr(r, "band_gap_eV", np.nan)):
            row.update(band_gap_eV=float(r.band_gap_eV), band_gap_source=f"{sources.METASTABLE_FILE} (MP PBE)")
        if not np.isnan(getattr(r, "density_g_cm3", np.nan)):
            row.update(
                density_g_cm3=float(r.density_g_cm3),
                molar_volume_cm3_per_mol=volumes.molar_volume_cm3_per_mol(comp.reduced_formula, r.density_g_cm3),
                volume_source=f"{sources.METASTABLE_FILE} (MP relaxed PBE density)",
            )
        rows.append(row)
    if not rows:
        return table
    new = pd.DataFrame(rows)
    for i in new.index:
        comp = Composition(new.at[i, "composition"])
        e_hull = hull_energy_at(table, comp)
        new.at[i, "energy_eV"] = (e_hull + new.at[i, "mp_e_above_hull_eV_per_atom"]) * comp.num_atoms
    return _finish(pd.concat([table, new], ignore_index=True))


def hull_energy_at(table: pd.DataFrame, comp: Composition) -> float:
    """Hull energy (eV/atom) of ``table``'s phases at composition ``comp``."""
    els = {el.symbol for el in comp.elements}
    sub = table[[set(c.split("-")) <= els for c in table.chemsys]]
    order = sorted(els)
    frac = np.array([[Composition(c).get_atomic_fraction(el) for el in order] for c in sub.composition])
    target = np.array([comp.get_atomic_fraction(el) for el in order])
    try:
        return lp.hull_energy(frac, (sub.energy_eV / sub.n_atoms).to_numpy(), target).value
    except ValueError:
        raise DataError(f"no elemental phase for some element of {comp.reduced_formula}: cannot place it on the hull") from None


def _add_band_gaps(table: pd.DataFrame, root: Path) -> None:
    gaps = sources.read_band_gaps(root).drop_duplicates("task_id").set_index("task_id").band_gap
    missing = table.band_gap_eV.isna()
    found = table.material_id.map(gaps)
    use = missing & found.notna()
    table.loc[use, "band_gap_eV"] = found[use]
    table.loc[use, "band_gap_source"] = f"{sources.GAPS_FILE} (MP PBE, 2019)"


def _add_volumes(table: pd.DataFrame, root: Path) -> None:
    choices = volumes.choose_densities(sources.read_densities(root))
    for i in table.index[table.molar_volume_cm3_per_mol.isna()]:
        ch = choices.get(table.at[i, "formula"])
        if ch is None:
            continue
        table.at[i, "density_g_cm3"] = ch.density_g_cm3
        table.at[i, "molar_volume_cm3_per_mol"] = volumes.molar_volume_cm3_per_mol(ch.formula, ch.density_g_cm3)
        table.at[i, "volume_source"] = (
            f"{sources.DENSITY_FILE} rows {','.join(map(str, ch.rows))} (experimental; {ch.note})"
        )


def incomplete_systems(table: pd.DataFrame, root: Path) -> tuple[list[str], int]:
    """Binary metal-anion systems where MP (2019) lists compounds but the store has none.

    Returns (flagged systems, number of all systems of any order without a store compound).
    Only metal + common-anion binaries are flagged: there a missing compound means missing data
    (MgO, Fe2O3, GeO2 ...); intermetallic and higher-order systems without a stable compound are
    common physics, so they are counted but not flagged.
    """
    gaps = sources.read_band_gaps(root)
    known = set()
    for f in gaps.pretty_formula.unique():
        try:
            comp = Composition(f)
        except Exception:
            continue
        if len(comp) >= 2:
            known.add(comp.chemical_system)
    have = set(table.chemsys[table.chemsys.str.contains("-")])
    missing = known - have
    flagged = sorted(
        c for c in missing
        if len(c.split("-")) == 2 and len(set(c.split("-")) & COMMON_ANIONS) == 1
    )
    return flagged, len(missing)


# --------------------------------------------------------------------------- the store
@dataclass(eq=False)
class PhaseStore:
    """All known phases (one row each) with fast chemical-system selection.

    ``table`` columns: see FLOAT_COLUMNS / STR_COLUMNS; energies in eV, volumes in cm3 per mol
    of reduced formula units.  ``report`` holds the build counts.
    """

    table: pd.DataFrame
    report: dict = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.table = self.table.reset_index(drop=True)
        self._lo, self._hi = _masks(self.table.chemsys)
        self._incomplete = [(set(c.split("-")), c) for c in self.report.get("incomplete_systems", [])]
        # lowest-energy row of each reduced formula, for O(1) lookups
        best = self.table.groupby("formula", sort=False)["energy_per_atom_eV"].idxmin()
        self._best = dict(zip(best.index, best.to_numpy(), strict=True))
        self._elements = set(self.table.chemsys[~self.table.chemsys.str.contains("-")])
        self._rows: dict[str, pd.Series] = {}  # lookup cache (rows are never modified in place)

    def content_key(self) -> str:
        """Hash of the table's content (changes with any fetched, user or edited phase)."""
        if getattr(self, "_content_key", None) is None:
            cols = ["phase_id", "formula", "energy_eV", "band_gap_eV", "molar_volume_cm3_per_mol"]
            digest = pd.util.hash_pandas_object(self.table[cols], index=False).to_numpy().tobytes()
            self._content_key = hashlib.sha256(digest).hexdigest()[:16]
        return self._content_key

    # ---- selection
    def _within(self, elements) -> np.ndarray:
        """Mask of the rows whose elements all lie in ``elements``."""
        lo, hi = element_mask(elements)
        return ((self._lo & np.uint64(~lo & (2**64 - 1))) == 0) & ((self._hi & np.uint64(~hi & (2**64 - 1))) == 0)

    def select(self, elements) -> pd.DataFrame:
        """Rows whose elements all lie in ``elements`` (a chemical system and its subsystems)."""
        return self.table[self._within(elements)]

    def entries(self, elements) -> list[ComputedEntry]:
        """pymatgen ComputedEntry objects (corrected energies) for a chemical system."""
        return [
            ComputedEntry(Composition(r.composition), r.energy_eV, entry_id=r.phase_id)
            for r in self.select(elements).itertuples()
        ]

    def lookup(self, formula: str) -> pd.Series:
        """Lowest-energy phase of a formula, or InputError naming the fix."""
        hit = self._rows.get(formula)
        if hit is not None:
            return hit
        comp = parse_formula(formula)
        idx = self._best.get(comp.reduced_formula)
        if idx is None:
            missing = [el.symbol for el in comp.elements if el.symbol not in self._elements]
            if missing:
                raise InputError(f"element(s) {', '.join(missing)} not in the phase store: add them with `screening fetch`")
            raise InputError(
                f"{comp.reduced_formula} is not in the phase store: run `screening fetch --chemsys "
                f"{comp.chemical_system}` or add it from a user CSV (--phases FILE)"
            )
        row = self._rows[formula] = self.table.loc[idx]
        return row

    def warnings_for(self, elements) -> list[str]:
        """Incomplete-offline-data warnings for a chemical system (and its subsystems)."""
        els = {str(e) for e in elements}
        return [
            f"incomplete offline data: MP knows {c} compounds the snapshot lacks; fetch this system from MP"
            for s, c in self._incomplete
            if s <= els
        ]

    def info(self) -> dict:
        t = self.table
        return {
            "n_phases": int(len(t)),
            "n_band_gaps": int(t.band_gap_eV.notna().sum()),
            "n_volumes": int(t.molar_volume_cm3_per_mol.notna().sum()),
            "n_incomplete_systems": len(self._incomplete),
            "sources": self.sources,
            **{k: v for k, v in self.report.items() if k != "incomplete_systems"},
        }

    # ---- merging
    def with_phases(self, new: pd.DataFrame, replace_systems: list[str] = ()) -> PhaseStore:
        """A new store with ``new`` rows added (rows inside ``replace_systems`` dropped first)."""
        keep = np.ones(len(self.table), bool)
        for cs in replace_systems:
            keep &= ~self._within(cs.split("-"))
        t, removed = self.table[keep], self.table.chemsys[~keep]
        merged = pd.concat([t, new[t.columns.intersection(new.columns)]], ignore_index=True)
        # only rows whose chemical system contains a changed phase's system see a new hull
        new_lo, new_hi = _masks(new.chemsys)
        lo, hi = np.concatenate([self._lo[keep], new_lo]), np.concatenate([self._hi[keep], new_hi])
        affected = np.zeros(len(merged), bool)
        for cs in set(new.chemsys) | set(removed):
            mlo, mhi = (np.uint64(v) for v in element_mask(cs.split("-")))
            affected |= ((lo & mlo) == mlo) & ((hi & mhi) == mhi)
        srcs = self.sources + sorted(set(new.source) - set(self.sources))
        return PhaseStore(_finish(merged, np.nonzero(affected)[0]), dict(self.report), srcs)


# --------------------------------------------------------------------------- cache
def _cache_file(key: str, cache: Path) -> Path:
    return cache / f"phases-{key[:16]}.parquet"


def write_table(table: pd.DataFrame, report: dict, path: Path) -> None:
    """Write atomically: a temp file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tab = pa.Table.from_pandas(table, preserve_index=False)
    tab = tab.replace_schema_metadata({**(tab.schema.metadata or {}), b"screening_report": json.dumps(report).encode()})
    with atomic_write(path) as tmp:
        pq.write_table(tab, tmp)


def read_table(path: Path) -> tuple[pd.DataFrame, dict]:
    tab = pq.read_table(path)
    report = json.loads((tab.schema.metadata or {}).get(b"screening_report", b"{}"))
    return tab.to_pandas(), report


def open_store(shared: Path | str | None = None, cache: Path | str | None = None, rebuild: bool = False,
               user_phases: Path | str | None = None) -> PhaseStore:
    """Open the phase store: cached table if its key matches the source files, else build it.

    ``user_phases``: optional CSV of hypothetical phases merged into this session's store.
    Phases fetched from the MP API (``fetch``) under the cache folder are merged too.
    """
    root = Path(shared) if shared else config.shared_root()
    cdir = Path(cache) if cache else config.cache_dir()
    key = hashlib.sha256((sources.fingerprint(root) + BUILD_VERSION).encode()).hexdigest()
    path = _cache_file(key, cdir)
    table = report = None
    if path.is_file() and not rebuild:
        try:
            table, report = read_table(path)
        except Exception:  # a corrupt cache is rebuilt, never trusted
            table = None
    if table is None:
        table, report = build_table(root)
        try:
            write_table(table, report, path)
        except OSError as exc:
            raise DataError(f"cannot write the cache {path} ({exc.strerror}): set SCREENING_CACHE to a writable folder") from None
    store = PhaseStore(table, report, [str(root / s) for s in sources.SOURCE_FILES])
    from screening.data import mp_api, user

    store = mp_api.merge_fetched(store, cdir)
    if user_phases:
        store = user.merge_user_phases(store, Path(user_phases))
    return store
