"""Gibbs energies of formation at finite temperature from 0 K DFT formation enthalpies.

Model, per atom of a phase of composition x_i (mole fractions of the elements)::

    G_f(T) = DeltaH_f(0 K DFT, MP2020) + Gdelta_compound(T) - sum_i x_i Gdelta_element_i(T)

where Gdelta(T) = G(T) - H(298.15 K), per atom.

* ``Gdelta_compound``: NIST-JANAF where the table :data:`JANAF_GDELTA` has the compound (its reduced
  formula), else Bartel et al.'s SISSO descriptor of the volume per atom V (A^3) and the reduced mass
  m (amu, Eq. 6 of the paper), Gdelta = (-2.48e-4 ln V - 8.94e-5 m / V) T + 0.181 ln T - 0.882 eV/atom
  (C. J. Bartel et al., Nat. Commun. 9, 4168 (2018), doi:10.1038/s41467-018-06682-4), computed by
  pymatgen's own implementation (``GibbsComputedStructureEntry._g_delta_sisso`` and
  ``._reduced_mass``), so the numbers equal pymatgen's ``GibbsComputedStructureEntry`` for a
  structure of that volume.  The JANAF values (derived by :mod:`screening.data.janaf` from the
  NIST-JANAF tables, 4th ed., 1998) are those of the composition's most stable state at 1 bar
  (crystal, liquid or ideal gas: Li2O melts at 1843 K in the table, H2O is a gas above 373 K),
  referred to the H(298.15 K) of the state stable at 298.15 K; linear in T between the table's
  rows (every 100 K plus every transition).  A compound whose JANAF table ends below T (Li3N ends
  at 1300 K) falls back to the descriptor, and its label says so.
* ``Gdelta_element``: pymatgen's element table (``g_els.json``, from Bartel et al.; for the
  elements checked it equals the NIST-JANAF reference states to < 1 meV/atom: Li liquid above
  453.69 K and gas above 1620 K, O2/N2/F2/Cl2/H2 gases, Br2 liquid then gas above 332.5 K, I2
  crystal, liquid above 386.75 K and gas above 457.67 K, S rhombic/monoclinic/liquid then gas above
  882 K, P white then liquid above 317.3 K and gas above 1180 K, C graphite), interpolated linearly
  between its 100 K rows exactly as pymatgen does.
* Elements have G_f = 0 at every temperature.

Range: T = 0 means the 0 K DFT numbers unchanged (no transform); otherwise 300-2000 K, the range
pymatgen enforces (Bartel et al. fitted and tested the descriptor on 300-1800 K); 0 < T < 300 K and
T > 2000 K are refused (:func:`check_temperature`).

Error: the descriptor predicts G(T) with ~50 meV/atom (~1 kcal/mol) resolution (Bartel et al. 2018,
abstract), :data:`DESCRIPTOR_ERROR_EV_PER_ATOM`; it describes crystalline solids only.  The JANAF
values are experimental; mixing them with descriptor values in one phase diagram is consistent to
about that error.  On top of either comes the error of the 0 K DFT formation enthalpy.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from screening import settings
from screening.data import files
from screening.errors import InputError
from screening.units import A3_IN_CM3, AVOGADRO

#: the shipped NIST-JANAF table (derived by ``python -m screening.data.janaf``)
JANAF_GDELTA = files.JANAF_GDELTA
#: temperatures the model covers (K); 0 K means "the DFT numbers unchanged"
TEMPERATURE_RANGE_K = settings.TEMPERATURE_RANGE_K
#: stated resolution of Bartel et al.'s descriptor (Nat. Commun. 9, 4168 (2018): "~50 meV/atom")
DESCRIPTOR_ERROR_EV_PER_ATOM = 0.05

DESCRIPTOR = "Bartel SISSO descriptor"
ELEMENT = "element"
NO_VOLUME = "no volume (unknown)"
DFT_0K = "0 K DFT"


def check_temperature(T) -> float:
    """``T`` as a float: 0 (the 0 K DFT energies unchanged) or inside :data:`TEMPERATURE_RANGE_K`
    (``screening.settings.check_temperature``: TypeError / InputError naming the range)."""
    return settings.check_temperature("temperature_K", T)


def _gibbs_entry_class():
    from pymatgen.entries.computed_entries import GibbsComputedStructureEntry

    return GibbsComputedStructureEntry


def _element_table():
    from pymatgen.analysis.compatibility import computed_entries as ce

    return ce.G_ELEMS


def _in_range(T) -> float:
    t = check_temperature(T)
    if t == 0.0:
        lo, hi = TEMPERATURE_RANGE_K
        raise InputError(f"Gdelta(T) = G(T) - H(298.15 K) is defined from {lo:g} to {hi:g} K; T = 0 means the "
                         "0 K DFT energies unchanged (use gibbs_formation_energies, which passes them through)")
    return t


def _elements_at(t: float) -> tuple[tuple[str, float], ...]:
    g_elems = _element_table()
    if t % 100 == 0:  # pymatgen reads the row, and interpolates only between rows
        row = g_elems[str(int(t))]
        return tuple((el, float(v)) for el, v in row.items())
    from scipy.interpolate import interp1d

    temps = [float(k) for k in g_elems]
    els = list(next(iter(g_elems.values())))
    out = []
    for el in els:  # the same interp1d call per element as GibbsComputedStructureEntry._sum_g_i
        out.append((el, float(interp1d(temps, [g[el] for g in g_elems.values()])(t))))
    return tuple(out)


def gdelta_elements(T) -> dict[str, float]:
    """G(T) - H(298.15 K) of every element in pymatgen's element table, eV/atom (300-2000 K)."""
    return dict(_elements_at(_in_range(T)))


def read_janaf() -> dict[str, tuple[np.ndarray, np.ndarray, tuple[str, ...]]]:
    """formula -> (T, Gdelta eV/atom, phase) from the shipped JANAF table (read on each call: keep
    the result, e.g. in a store's memo, and pass it as ``table=`` to :func:`gdelta_compounds`)."""
    import csv
    import io

    from screening.data import files

    text = files.shipped(JANAF_GDELTA).read_text(encoding="utf-8")
    rows: dict[str, list[tuple[float, float, str]]] = {}
    for r in csv.DictReader(io.StringIO(text)):
        rows.setdefault(r["formula"], []).append((float(r["T_K"]), float(r["gdelta_eV_per_atom"]), r["phase"]))
    out = {}
    for formula, rs in rows.items():
        rs.sort()
        out[formula] = (np.array([r[0] for r in rs]), np.array([r[1] for r in rs]), tuple(r[2] for r in rs))
    return out


def janaf_formulas() -> list[str]:
    """Reduced formulas (pymatgen's spelling) of the compounds with JANAF data."""
    return sorted(read_janaf())


def _janaf_gdelta(table, formula: str, t: float) -> tuple[float, str] | None:
    data = table.get(formula)
    if data is None:
        return None
    temps, gd, phases = data
    if not temps[0] <= t <= temps[-1]:
        return None
    k = int(np.searchsorted(temps, t, side="right")) - 1  # the row at or below t gives the state
    return float(np.interp(t, temps, gd)), phases[k]


def _composition(c):
    from pymatgen.core import Composition

    if isinstance(c, Composition):
        return c
    try:
        return Composition(c)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot read the composition {c!r} ({exc}): give a pymatgen Composition, a formula "
                         "or a dict {element: amount}") from None


def _reduced(formula) -> str:
    return _composition(formula).reduced_formula


def volume_per_atom_A3(molar_volume_cm3_per_mol, composition) -> float:
    """Volume per atom (A^3) from a molar volume in cm^3 per mole of reduced formula units."""
    comp = _composition(composition)
    vm = float(molar_volume_cm3_per_mol) if molar_volume_cm3_per_mol is not None else math.nan
    return vm / AVOGADRO / A3_IN_CM3 / comp.reduced_composition.num_atoms


def _volumes(volumes, n: int) -> np.ndarray:
    v = np.array([np.nan if x is None else x for x in volumes], dtype=float) if volumes is not None else np.full(n, np.nan)
    if v.shape != (n,):
        raise InputError(f"{v.size} volumes for {n} compositions: give one volume per atom (A^3) per phase, "
                         "NaN where it is unknown")
    return v


def gdelta_compounds(compositions, volumes_per_atom_A3, T, formulas=None, janaf: bool = True, table=None):
    """Gdelta(T) = G(T) - H(298.15 K) of each phase, eV/atom, and its source label.

    ``compositions``: pymatgen Compositions, formulas or dicts {element: amount};
    ``volumes_per_atom_A3``: one per phase (NaN where unknown; JANAF compounds and elements need
    none); ``formulas``: the names to look up in the JANAF table (default: each composition's
    reduced formula); ``janaf=False`` uses the descriptor for every compound (pymatgen's numbers);
    ``table``: :func:`read_janaf`'s result, if already read.
    Labels: "JANAF cr|l|g", "Bartel SISSO descriptor" (with " (beyond JANAF range)" where the JANAF
    table ends below T), "element", "no volume (unknown)", "no element data (X)"."""
    t = _in_range(T)
    comps = [_composition(c) for c in compositions]
    n = len(comps)
    vols = _volumes(volumes_per_atom_A3, n)
    if formulas is not None and len(formulas) != n:
        raise InputError(f"{len(formulas)} formulas for {n} compositions: give one per composition or none")
    gel = gdelta_elements(t)
    cls = _gibbs_entry_class()
    if janaf and table is None:
        table = read_janaf()
    out = np.full(n, np.nan)
    labels: list[str] = []
    for k, comp in enumerate(comps):
        symbols = [el.symbol for el in comp.elements]
        missing = [s for s in symbols if s not in gel]
        if comp.is_element:
            if missing:
                labels.append(f"no element data ({', '.join(missing)})")
            else:
                out[k] = gel[symbols[0]]
                labels.append(ELEMENT)
            continue
        beyond = False
        if janaf:
            key = _reduced(formulas[k]) if formulas is not None else comp.reduced_formula
            hit = _janaf_gdelta(table, key, t)
            if hit is not None:
                out[k] = hit[0]
                labels.append(f"JANAF {hit[1]}")
                continue
            beyond = key in table
        if missing:
            labels.append(f"no element data ({', '.join(missing)})")
            continue
        v = vols[k]
        if not (np.isfinite(v) and v > 0):
            labels.append(NO_VOLUME)
            continue
        mass = cls._reduced_mass(SimpleNamespace(composition=comp))
        out[k] = float(cls._g_delta_sisso(float(v), mass, t))
        labels.append(DESCRIPTOR + (" (beyond JANAF range)" if beyond else ""))
    return out, labels


def gibbs_formation_energies(compositions, formation_enthalpy_eV_per_atom, volumes_per_atom_A3, T,
                             formulas=None, janaf: bool = True, table=None):
    """G_f(T) per atom (eV) of each phase and the source label of its Gdelta.

    ``formation_enthalpy_eV_per_atom``: the 0 K DFT (MP2020) formation energies; at T = 0 they are
    returned unchanged (label "0 K DFT").  Elements get 0 at every T.  A phase without volume (and
    without JANAF data) gets NaN and the label "no volume (unknown)".  See the module docstring for
    the model, its range and error."""
    t = check_temperature(T)
    comps = [_composition(c) for c in compositions]
    dh = np.asarray(formation_enthalpy_eV_per_atom, dtype=float).reshape(-1)
    if dh.shape != (len(comps),):
        raise InputError(f"{dh.size} formation enthalpies for {len(comps)} compositions: give one per phase")
    if t == 0.0:
        return dh.copy(), [DFT_0K] * len(comps)
    gd, labels = gdelta_compounds(comps, volumes_per_atom_A3, t, formulas=formulas, janaf=janaf, table=table)
    gel = gdelta_elements(t)
    out = np.full(len(comps), np.nan)
    for k, comp in enumerate(comps):
        if comp.is_element:
            out[k] = 0.0
            labels[k] = ELEMENT
            continue
        if any(el.symbol not in gel for el in comp.elements):
            continue
        if not np.isfinite(gd[k]):
            continue
        amounts = comp.get_el_amt_dict()
        natoms = comp.num_atoms
        out[k] = dh[k] + gd[k] - sum(amt * gel[el] for el, amt in amounts.items()) / natoms
    return out, labels
