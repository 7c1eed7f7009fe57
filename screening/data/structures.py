"""Crystal-structure descriptors for the phase table: DFT molar volumes and dimensionality.

* ``dft_molar_volumes``: MP's relaxed volume per atom (``mp2025/structures_summary``, r2SCAN where MP
  has it, else GGA) times the atoms per reduced formula unit (per atom, so conventional vs
  primitive cells do not matter), cm3/mol.  A summary row whose formula does not match the phase
  raises DataError naming the file and id: never a silent wrong volume.
* ``classify_dimensionality``: the bonded network's dimensionality after Larsen et al. (Phys.
  Rev. Materials 3, 034003 (2019); ASE's ``analyze_dimensionality``, covalent-radius bonds),
  corrected for ionic solids: k-intervals with no bond yet are skipped (ASE calls rocksalt and Li
  metal '0D' there), isolation is decided per atom (molecules cut by the cell boundary count as
  molecules), and low-dimensional units held together by isolated metal cations count as 3D.
  All-metal compositions are 'metal'.  GGA without dispersion gets the volumes of molecular
  ('0D'), chain ('1D') and layered ('2D') crystals wrong (I2 +21 %, graphite +22 %, BN +15 %),
  so those DFT volumes are flagged (``weak_volume``).
"""

from __future__ import annotations

import warnings
from collections import defaultdict

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element, Structure

from screening.data import files
from screening.data.formula import reduced_formula
from screening.errors import DataError
from screening.units import A3_IN_CM3, AVOGADRO

LOW_DIMENSIONAL = {"0D": "molecular", "1D": "chain", "2D": "layered"}


def weak_volume(dimensionality: str) -> str | None:
    """'molecular', 'chain', 'layered' or 'low-dimensional' when a DFT volume of that class is
    unreliable (no 3D bonded network), else None."""
    if not dimensionality or dimensionality == "metal" or "3" in dimensionality:
        return None
    return LOW_DIMENSIONAL.get(dimensionality, "low-dimensional")


def dft_molar_volumes(table: pd.DataFrame, summary: pd.DataFrame, max_mismatches: int = 100) -> tuple[pd.Series, list[str]]:
    """MP DFT molar volume (cm3 per mol of reduced formula units) of each row with an MP id in the
    structures summary (NaN elsewhere), and the ids whose summary formula differs from the row's
    (left without a volume, never given a wrong one).  DataError when more than
    ``max_mismatches`` disagree: then the files do not belong together."""
    s = summary.drop_duplicates("material_id").set_index("material_id")
    out = pd.Series(np.nan, index=table.index)
    have = table.material_id.isin(s.index)
    mismatched = []
    for i, mid, formula in zip(table.index[have], table.material_id[have], table.formula[have], strict=True):
        r = s.loc[mid]
        if reduced_formula(Composition(r.formula_sum)) != formula:
            mismatched.append(f"{mid}: {r.formula_sum} in {files.STRUCTURES}, {formula} in the phase table")
            continue
        out[i] = float(r.volume_per_atom_A3) * Composition(formula).num_atoms * AVOGADRO * A3_IN_CM3
    if len(mismatched) > max_mismatches:
        raise DataError(f"{files.STRUCTURES}: {len(mismatched)} material ids have another formula than in the phase table "
                        f"(e.g. {mismatched[0]}): the files do not belong together; rebuild from one consistent data set")
    return out, mismatched


# --------------------------------------------------------------------------- dimensionality
def _atoms(structure):
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.pbc = True
    return atoms


def _kmin(atoms) -> np.ndarray:
    """Per atom, the smallest k = d / (r_i + r_j) to any neighbour (periodic images included)."""
    from ase.data import covalent_radii
    from ase.neighborlist import neighbor_list

    rs = covalent_radii[atoms.get_atomic_numbers()]
    kmin = np.full(len(atoms), np.inf)
    for kmax in (1.3, 2.0, 3.0):
        i, j, d = neighbor_list("ijd", atoms, cutoff=list(kmax * rs), self_interaction=False)
        if len(i):
            np.minimum.at(kmin, i, d / (rs[i] + rs[j]))
        if np.isfinite(kmin).all():
            break
    return kmin


def dimensionality_scores(structure) -> dict[str, float]:
    """Dimensionality type -> score (summing to 1), with the corrections of the module docstring."""
    from ase.geometry.dimensionality import analyze_dimensionality
    from ase.geometry.dimensionality.interval_analysis import calculate_score

    atoms = _atoms(structure)
    metal = np.array([Element(s).is_metal for s in atoms.get_chemical_symbols()])
    kmin = _kmin(atoms)
    scores: dict[str, float] = defaultdict(float)
    for iv in analyze_dimensionality(atoms, method="RDA", merge=False):
        comps = np.asarray(iv.components)
        cdim = np.array([iv.cdim[c] for c in comps])
        cuts = [iv.a] + sorted({float(k) for k in kmin if iv.a < k < iv.b}) + [iv.b]
        for s, e in zip(cuts[:-1], cuts[1:], strict=True):
            iso = kmin > s + 1e-9
            if iso.all():
                continue  # no bond yet: ions far apart, not molecules
            dims = sorted({int(x) for x in cdim[~iso]})
            dimtype = "".join(map(str, dims)) + "D"
            if 3 not in dims and (iso & metal).any():
                dimtype = "3D"  # units held together by isolated metal cations: an ionic 3D network
            scores[dimtype] += float(calculate_score(s, e))
    total = sum(scores.values())
    if total <= 0:
        return {analyze_dimensionality(atoms, method="RDA", merge=True)[0].dimtype: 1.0}
    return {k: v / total for k, v in sorted(scores.items(), key=lambda kv: -kv[1])}


def classify_dimensionality(structure) -> str:
    """'metal' for all-metal compositions, else the highest-scoring type ('3D', '2D', '1D', '0D'
    or a mixture such as '02D')."""
    if all(Element(el.symbol).is_metal for el in structure.composition.elements):
        return "metal"
    scores = dimensionality_scores(structure)
    return max(scores, key=scores.get)


def classify_cif(item: tuple[str, str]) -> tuple[str, str, str]:
    """(material id, CIF text) -> (material id, reduced formula, dimensionality); '' on failure."""
    mid, text = item
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = Structure.from_str(text, fmt="cif")
        return mid, s.composition.reduced_formula, classify_dimensionality(s)
    except Exception:  # an unreadable CIF is reported by the caller, not fatal
        return mid, "", ""
