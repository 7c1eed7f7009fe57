"""The phase table: one row per phase, its columns (units in the names), the table as NumPy
column arrays (:class:`PhaseTable`), and conversions between rows and pymatgen entries.  Plain
data: thermodynamic columns (formation energy, e_above_hull) are filled with the kernel by
``screening.phases.finish``.

Energies are MP2020-compatible GGA/GGA+U total energies of the stored composition (eV); volumes
are per mole of reduced formula units (cm3/mol); band gaps in eV.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
from pymatgen.core import Composition, Element

from screening.data.formula import chemsys_masks, reduced_formula
from screening.results import Result
from screening.units import molar_volume_cm3_per_mol

#: where a row's energy comes from (the ``origin`` column)
ORIGINS = {
    "mp-hull": "Materials Project hull phase (2024 snapshot), raw energy MP2020-corrected here",
    "mp-reference": "Materials Project GGA elemental reference entry",
    "mp-published": "Materials Project metastable phase, placed at the hull + MP's published e_above_hull",
    "mp-legacy": "Materials Project 2019/2018 phase, placed at the hull + its e_above_hull in the legacy data",
    "mp-converted": "Materials Project 2018/2019 energy, converted to MP2020 (fills a system the snapshot lacks)",
    "mp-api": "Materials Project API (MP2020-corrected by MP)",
    "entries": "pymatgen entries given by the user (energies as given)",
    "user": "user phase (CSV or records)",
    "chgnet": "CHGNet-relaxed hypothetical phase",
}
@dataclass(frozen=True)
class Phase(Result):
    """One phase: a row of the phase table, immutable.  Energies in eV for ``composition`` as
    stored (eV/atom where named); ``molar_volume_cm3_per_mol`` per mole of reduced formula units;
    every property has its origin and source beside it; missing numbers are None, never NaN."""

    # identity
    phase_id: str
    material_id: str = ""
    formula: str = ""  # reduced formula
    composition: str = ""  # as stored, pymatgen's formula ("Li2 O1")
    chemsys: str = ""
    origin: str = ""  # ORIGINS
    source: str = ""
    run_type: str = ""
    # energy
    energy_adjustments: str = ""  # JSON [[name, eV], ...]
    correction_note: str = ""
    band_gap_origin: str = ""  # measured | pbe-corrected | pbe+u | mixed-valence | pbe | user | ...
    band_gap_source: str = ""
    li_conductivity_origin: str = ""  # measured | estimated | electronic | no Li | unknown
    li_conductivity_source: str = ""
    volume_source: str = ""
    volume_origin: str = ""  # measured | dft | user | chgnet
    dimensionality: str = ""  # 0D/1D/2D/3D/metal (Larsen et al.)
    uncertain: str = ""  # why the energy is uncertain
    artefact: str = ""  # why the phase is a DFT artefact
    warning: str = ""
    n_atoms: float | None = None  # atoms in ``composition``
    energy_eV: float | None = None  # MP2020-compatible total energy of ``composition``
    raw_energy_eV: float | None = None
    correction_eV: float | None = None
    energy_per_atom_eV: float | None = None
    formation_energy_eV_per_atom: float | None = None
    e_above_hull_eV_per_atom: float | None = None
    placed_e_above_hull_eV_per_atom: float | None = None
    converted_minus_placed_eV_per_atom: float | None = None
    band_gap_eV: float | None = None
    band_gap_pbe_eV: float | None = None
    density_g_cm3: float | None = None
    molar_volume_cm3_per_mol: float | None = None
    dft_molar_volume_cm3_per_mol: float | None = None
    e_above_hull_without_artefacts_eV_per_atom: float | None = None
    band_gap_error_eV: float | None = None  # 1-sigma error of band_gap_eV (the treatment's validation)
    li_conductivity_S_per_cm: float | None = None  # Li+ conductivity at 25 C
    li_activation_energy_eV: float | None = None
    li_conductivity_error_log10: float | None = None  # 1-sigma error in decades (estimates)

    @classmethod
    def from_record(cls, rec: dict) -> Phase:
        """A phase from a row dict (NaN and missing numbers become None)."""
        return cls(**{c: (_number(rec.get(c)) if c in FLOAT_COLUMNS else str(rec.get(c, "") or "")) for c in COLUMNS})

    @cached_property
    def amounts(self) -> dict[str, float]:
        """Atoms of each element in ``composition``."""
        return Composition(self.composition).get_el_amt_dict()

    @cached_property
    def elements(self) -> tuple[str, ...]:
        """Element symbols by atomic number."""
        return tuple(sorted(self.amounts, key=SYMBOL_Z.__getitem__))

    @cached_property
    def formula_units(self) -> float:
        """Stored formula units per reduced formula unit."""
        comp = Composition(self.composition)
        return comp.num_atoms / comp.reduced_composition.num_atoms

    @property
    def reduced_amounts(self) -> dict[str, float]:
        """Atoms of each element per reduced formula unit."""
        return {el: n / self.formula_units for el, n in self.amounts.items()}

    @property
    def has_li(self) -> bool:
        return "Li" in self.amounts

    def __repr__(self) -> str:
        return f"Phase({self.formula}, {self.phase_id})"


def _number(v):
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


FLOAT_COLUMNS = [f.name for f in fields(Phase) if f.type == "float | None"]
STR_COLUMNS = [f.name for f in fields(Phase) if f.type == "str"]
COLUMNS = [f.name for f in fields(Phase)]
#: columns the kernel derives (never read from input rows); the last is NaN for artefact rows
DERIVED = ["energy_per_atom_eV", "formation_energy_eV_per_atom", "e_above_hull_eV_per_atom",
           "e_above_hull_without_artefacts_eV_per_atom"]


def empty_row() -> dict:
    """A row with every column missing (NaN / '')."""
    row = {c: np.nan for c in FLOAT_COLUMNS}
    row.update({c: "" for c in STR_COLUMNS})
    return row


def identity(comp: Composition) -> dict:
    """The composition columns of a row."""
    return {
        "formula": reduced_formula(comp),
        "composition": comp.formula,
        "chemsys": comp.chemical_system,
        "n_atoms": float(comp.num_atoms),
    }


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every column of the schema, in order, with the schema's dtypes."""
    out = df.copy()
    for c in STR_COLUMNS:
        out[c] = out[c].fillna("").astype(str) if c in out else ""
    for c in FLOAT_COLUMNS:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float) if c in out else np.nan
    return out[COLUMNS].reset_index(drop=True)


def adjustments_json(entry) -> str:
    """The energy adjustments of a pymatgen entry as JSON [[name, eV], ...]."""
    return json.dumps([[a.name, float(a.value)] for a in entry.energy_adjustments])


def row_from_entry(e, origin: str = "entries", source: str = "pymatgen entries", default_id: str | None = None) -> dict:
    """The row (a dict of the schema's columns) of a pymatgen ``ComputedEntry`` or
    ``ComputedStructureEntry``, energy as given.  Band gap from ``entry.data['band_gap']``; volume
    from the structure of a ``ComputedStructureEntry`` (a DFT volume) or ``entry.data['volume']``
    (A^3 per stored formula)."""
    comp = e.composition
    row = empty_row()
    eid = str(e.entry_id) if e.entry_id is not None else (default_id or f"entry:{comp.reduced_formula}")
    mid = str((e.data or {}).get("material_id") or (eid if eid.startswith(("mp-", "mvc-")) else ""))
    row.update(identity(comp), phase_id=eid, material_id=mid, origin=origin, source=source,
               energy_eV=float(e.energy), raw_energy_eV=float(e.uncorrected_energy),
               correction_eV=float(e.correction), energy_adjustments=adjustments_json(e),
               correction_note=correction_note(e), run_type=str((e.parameters or {}).get("run_type", "")))
    gap = (e.data or {}).get("band_gap")
    if gap is not None and np.isfinite(float(gap)):
        row.update(band_gap_eV=float(gap), band_gap_pbe_eV=float(gap), band_gap_origin="pbe",
                   band_gap_source=f"{source} (entry data)")
    structure = getattr(e, "structure", None)
    volume = structure.volume if structure is not None else (e.data or {}).get("volume")
    if volume:
        row.update(molar_volume(comp, float(volume), f"{source} structure (DFT)", "dft"))
    return row


def rows_from_entries(entries, origin: str = "entries", source: str = "pymatgen entries") -> pd.DataFrame:
    """Rows of pymatgen entries (``row_from_entry``), energies as given."""
    rows = [row_from_entry(e, origin, source, f"entry:{e.composition.reduced_formula}-{k}") for k, e in enumerate(entries)]
    return pd.DataFrame(rows, columns=COLUMNS) if not rows else conform(pd.DataFrame(rows))


def molar_volume(comp: Composition, cell_volume_A3: float, source: str, origin: str) -> dict:
    """Volume columns from the volume (A^3) of a cell of composition ``comp``."""
    fu = comp.num_atoms / comp.reduced_composition.num_atoms
    vm = molar_volume_cm3_per_mol(cell_volume_A3, fu)
    return {"molar_volume_cm3_per_mol": vm, "density_g_cm3": comp.reduced_composition.weight / vm,
            "volume_source": source, "volume_origin": origin}


def correction_note(entry) -> str:
    """Short list of an entry's energy adjustments (names and eV per atom)."""
    parts = []
    for adj in entry.energy_adjustments:
        name = adj.name.replace("MP2020 ", "").replace("anion correction", "anion").replace("GGA/GGA+U mixing correction", "U")
        parts.append(f"{name} {adj.value / entry.composition.num_atoms:+.3f}")
    return "; ".join(parts) if parts else "none"


def entry_from_row(row) -> object:
    """A pymatgen ComputedEntry of a row, its energy adjustments visible (raw energy + adjustments
    = ``energy_eV``); rows without a raw energy (placed phases) carry their energy as given."""
    from pymatgen.entries.computed_entries import ComputedEntry, ConstantEnergyAdjustment

    comp = Composition(row.composition)
    data = {"origin": row.origin, "formula": row.formula, "material_id": row.material_id or None}
    adjustments = json.loads(row.energy_adjustments) if row.energy_adjustments else []
    raw = row.raw_energy_eV
    if np.isfinite(raw):
        adj = [ConstantEnergyAdjustment(v, name=n, cls=None) for n, v in adjustments]
        total = raw + sum(v for _, v in adjustments)
        if abs(total - row.energy_eV) > 1e-6:  # adjustments not itemised: one lump correction
            adj = [ConstantEnergyAdjustment(row.energy_eV - raw, name="correction", cls=None)]
        return ComputedEntry(comp, float(raw), energy_adjustments=adj, entry_id=row.phase_id, data=data)
    data["placement"] = row.correction_note
    return ComputedEntry(comp, float(row.energy_eV), entry_id=row.phase_id, data=data)


# --------------------------------------------------------------------------- columns as arrays
#: atomic number of each element symbol (compositions are stored as (Z, amount) pairs)
SYMBOL_Z = {el.symbol: el.Z for el in Element}
Z_SYMBOL = {z: s for s, z in SYMBOL_Z.items()}
_TERM = re.compile(r"([A-Z][a-z]?)([0-9.]+)")
#: pymatgen's special formulas (``Composition.special_formulas``): elements written X2 and 1:1
#: peroxides written M2O2, by atomic number
SPECIAL_ELEMENTS = (1, 7, 8, 9, 17)
SPECIAL_PEROXIDE_CATIONS = (1, 3, 11, 19, 37, 55)
#: list columns of a written table holding each row's composition
COMPOSITION_COLUMNS = ("el_z", "el_amt")
MASK_COLUMNS = ("mask_lo", "mask_hi")


def composition_arrays(compositions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row starts, atomic numbers, amounts) of pymatgen formula strings ('Li2 O1'): row i's
    elements are ``z[start[i]:start[i + 1]]``."""
    zs, amts, lens = [], [], []
    memo: dict[str, list] = {}
    for c in compositions:
        terms = memo.get(c)
        if terms is None:
            terms = memo[c] = [(SYMBOL_Z[el], float(n)) for el, n in _TERM.findall(c)]
        lens.append(len(terms))
        for z, n in terms:
            zs.append(z)
            amts.append(n)
    start = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=start[1:])
    return start, np.asarray(zs, dtype=np.int16), np.asarray(amts, dtype=float)


class PhaseTable:
    """Phase rows as NumPy column arrays (the schema's ``COLUMNS``; strings as object arrays),
    converted from Arrow column by column on first use, plus each row's composition as
    (atomic number, amount) pairs and its element bit masks.  Immutable: arrays are read-only;
    ``take`` and ``concat`` make new tables.  No pandas on the way from a file to a phase set.
    """

    def __init__(self, data: pa.Table | dict, length: int | None = None):
        if isinstance(data, pa.Table):
            self._arrow, self._cols = data, {}
            self.n = data.num_rows
        else:
            self._arrow, self._cols = None, {k: _frozen(v) for k, v in data.items()}
            self.n = int(length if length is not None else len(next(iter(self._cols.values()))))
        self._csr: tuple | None = None

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> PhaseTable:
        """A table of schema rows (``conform``-ed)."""
        t = conform(df)
        return cls({c: t[c].to_numpy(dtype=object if c in STR_COLUMNS else float) for c in COLUMNS}, len(t))

    def __len__(self) -> int:
        return self.n

    @property
    def columns(self) -> list[str]:
        return list(COLUMNS)

    def has(self, name: str) -> bool:
        return name in self._cols or (self._arrow is not None and name in self._arrow.column_names)

    def col(self, name: str) -> np.ndarray:
        """One column, every row (read-only).  Schema columns missing in a file are NaN / ''."""
        got = self._cols.get(name)
        if got is None:
            if name in MASK_COLUMNS:
                self._masks()
                return self._cols[name]
            if self._arrow is not None and name in self._arrow.column_names:
                arr = self._arrow.column(name)
                got = arr.to_numpy(zero_copy_only=False)
                if name in STR_COLUMNS:
                    got = np.asarray(got, dtype=object)
            elif name in STR_COLUMNS:
                got = np.full(self.n, "", dtype=object)
            elif name in FLOAT_COLUMNS:
                got = np.full(self.n, np.nan)
            else:
                raise KeyError(name)
            got = self._cols[name] = _frozen(got)
        return got

    def _masks(self) -> None:
        if self._arrow is not None and "mask_lo" in self._arrow.column_names:
            lo = self._arrow.column("mask_lo").to_numpy().astype(np.uint64)
            hi = self._arrow.column("mask_hi").to_numpy().astype(np.uint64)
        else:
            lo, hi = chemsys_masks(self.col("chemsys"))
        self._cols["mask_lo"], self._cols["mask_hi"] = _frozen(lo), _frozen(hi)

    @property
    def masks(self) -> tuple[np.ndarray, np.ndarray]:
        """Element bit masks of every row (``screening.data.formula.element_mask``)."""
        return self.col("mask_lo"), self.col("mask_hi")

    @property
    def compositions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row starts, atomic numbers, amounts) of every row's stored composition."""
        if self._csr is None:
            if self._arrow is not None and "el_z" in self._arrow.column_names:
                z = self._arrow.column("el_z").combine_chunks()
                a = self._arrow.column("el_amt").combine_chunks()
                start = np.asarray(z.offsets, dtype=np.int64)
                self._csr = (_frozen(start), _frozen(np.asarray(z.values, dtype=np.int16)),
                             _frozen(np.asarray(a.values, dtype=float)))
            else:
                self._csr = tuple(_frozen(x) for x in composition_arrays(self.col("composition")))
        return self._csr

    def amounts(self, rows, elements) -> np.ndarray:
        """Atoms of each of ``elements`` (symbols) per stored formula unit of ``rows``; ValueError
        when a row holds an element outside ``elements``."""
        rows = np.asarray(rows, dtype=np.int64)
        start, z, amt = self.compositions
        lens = start[rows + 1] - start[rows]
        total = int(lens.sum())
        owner = np.repeat(np.arange(len(rows)), lens)
        pos = np.repeat(start[rows], lens) + (np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens))
        column = np.full(128, -1, dtype=np.int64)
        column[[SYMBOL_Z[e] for e in elements]] = np.arange(len(elements))
        k = column[z[pos]]
        if (k < 0).any():
            raise ValueError("a row holds an element outside the system")
        out = np.zeros((len(rows), len(elements)))
        out[owner, k] = amt[pos]
        return out

    @property
    def formula_units(self) -> np.ndarray:
        """Stored formula units per reduced formula unit of every row (pymatgen's reduction
        factor: the gcd of integer amounts, 1 for fractional ones)."""
        got = self._cols.get("formula_units")
        if got is None:
            start, z, amt = self.compositions
            ints = np.round(amt)
            whole = np.logical_and.reduceat(np.abs(amt - ints) < 1e-8, start[:-1])
            gcd = np.gcd.reduceat(ints.astype(np.int64), start[:-1])
            factor = np.where(whole & (gcd > 0), gcd, 1).astype(float)
            # pymatgen's special formulas (O2, N2, Li2O2 ...): their reduced unit is twice the gcd one
            n_el = np.diff(start)
            first = z[start[:-1]]
            one = (n_el == 1) & np.isin(first, SPECIAL_ELEMENTS) & (amt[start[:-1]] == factor)
            second = z[np.minimum(start[:-1] + 1, len(z) - 1)]
            a1, a2 = amt[start[:-1]], amt[np.minimum(start[:-1] + 1, len(z) - 1)]
            pair = (n_el == 2) & (a1 == factor) & (a2 == factor) & (
                (np.isin(first, SPECIAL_PEROXIDE_CATIONS) & (second == 8)) | (np.isin(second, SPECIAL_PEROXIDE_CATIONS) & (first == 8)))
            factor = np.where(whole & (one | pair), factor / 2, factor)
            got = self._cols["formula_units"] = _frozen(factor)
        return got

    def record(self, i: int) -> dict:
        """Row ``i`` as a dict of the schema's columns (floats as Python floats, NaN kept)."""
        return {c: (float(self.col(c)[i]) if c in FLOAT_COLUMNS else str(self.col(c)[i])) for c in COLUMNS}

    def frame(self, rows=None, columns=None) -> pd.DataFrame:
        """Rows (all, or these positions) as a DataFrame with the schema's columns."""
        cols = list(columns or COLUMNS)
        sel = slice(None) if rows is None else np.asarray(rows, dtype=np.int64)
        return pd.DataFrame({c: self.col(c)[sel] for c in cols})

    def take(self, rows) -> PhaseTable:
        """A new table of these rows."""
        rows = np.asarray(rows, dtype=np.int64)
        data = {c: self.col(c)[rows] for c in (*COLUMNS, *MASK_COLUMNS)}
        out = PhaseTable(data, len(rows))
        start, z, amt = self.compositions
        lens = start[rows + 1] - start[rows]
        pos = np.concatenate([np.arange(start[r], start[r + 1]) for r in rows]) if len(rows) else np.zeros(0, np.int64)
        new_start = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lens, out=new_start[1:])
        out._csr = (_frozen(new_start), _frozen(z[pos]), _frozen(amt[pos]))
        return out

    def concat(self, other: PhaseTable) -> PhaseTable:
        """This table followed by ``other``."""
        data = {c: np.concatenate([self.col(c), other.col(c)]) for c in (*COLUMNS, *MASK_COLUMNS)}
        out = PhaseTable(data, len(self) + len(other))
        (s1, z1, a1), (s2, z2, a2) = self.compositions, other.compositions
        out._csr = (_frozen(np.concatenate([s1, s2[1:] + s1[-1]])), _frozen(np.concatenate([z1, z2])),
                    _frozen(np.concatenate([a1, a2])))
        return out

    def with_columns(self, **columns) -> PhaseTable:
        """A new table with some columns replaced (same rows)."""
        data = {c: self.col(c) for c in (*COLUMNS, *MASK_COLUMNS)}
        data.update(columns)
        out = PhaseTable(data, len(self))
        out._csr = self.compositions
        return out

    def arrow(self) -> pa.Table:
        """The table for writing: schema columns, element masks and compositions (list columns)."""
        if self._arrow is not None and all(c in self._arrow.column_names for c in (*COLUMNS, *MASK_COLUMNS,
                                                                                 *COMPOSITION_COLUMNS)):
            return self._arrow.select([*COLUMNS, *MASK_COLUMNS, *COMPOSITION_COLUMNS])
        start, z, amt = self.compositions
        cols = {c: pa.array(self.col(c), type=pa.string() if c in STR_COLUMNS else pa.float64()) for c in COLUMNS}
        cols["mask_lo"], cols["mask_hi"] = pa.array(self.col("mask_lo")), pa.array(self.col("mask_hi"))
        offsets = pa.array(start.astype(np.int32))
        cols["el_z"] = pa.ListArray.from_arrays(offsets, pa.array(z.astype(np.uint8)))
        cols["el_amt"] = pa.ListArray.from_arrays(offsets, pa.array(amt))
        return pa.table(cols)


def _frozen(a) -> np.ndarray:
    a = np.asarray(a)
    a.setflags(write=False)
    return a
