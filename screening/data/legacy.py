"""Older Materials Project formation energies (2019 and 2018.6.1 sets, legacy corrections): their
union, and their conversion to the MP2020 scale of the phase table.

* ``read_union``: one row per MP id, 2019 winning duplicates; the 2018 file has no compositions,
  so they come from the 2019 file, the 2025 structure summary or the 2019 band-gap list.
  ``harmonize_2018`` puts the 2018-only rows on the 2019 reference scale (MP changed some
  elemental references between the two: Rb +47, Cs +35, In +27, Ca -18 meV per atom of element),
  with offsets fitted on the ids in both files.
* ``convert``: per atom, with x the atomic fractions (every correction of both schemes is a
  constant of the composition, so this is a composition-only shift):

      E_leg  = E_f,leg + sum x_el mu_leg,el       legacy-corrected energy
      raw    = E_leg - c_legacy(x)                 pymatgen MaterialsProjectCompatibility removed
      E_2020 = raw + c_MP2020(x)                   MP2020 applied with this project's rules
      E_f    = E_2020 - sum x_el mu_el + offsets   vs the table's elemental references

  The legacy references are MP's GGA elemental energies except N, F, Cl and H, for which the
  legacy scheme used fitted gas energies (MPCompatibility.yaml); the legacy data carry the sulfide
  correction on every S, as this project's MP2020 rule does.  Optional per-element offsets
  (``fit_offsets``, robust least squares on the overlap with the current snapshot; plus a term per
  U metal in GGA+U compounds) absorb the reference and mixing-energy changes since.

All energies in eV per atom.  Hulls are the kernel's job (``screening.hull``).
"""

from __future__ import annotations

import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element

from screening.data import sources

ANIONS = ("O", "N", "F", "Cl", "Br", "I", "S", "Se", "Te")
U_METALS = ("Co", "Cr", "Fe", "Mn", "Mo", "Ni", "V", "W")


class _Parsed(dict):
    """Formula -> Composition, parsed once per call site (no state kept between calls)."""

    def __missing__(self, formula: str) -> Composition:
        c = self[formula] = Composition(formula)
        return c


# --------------------------------------------------------------------------- reading
def read_union(root: Path) -> pd.DataFrame:
    """Union of the 2019 and 2018 legacy formation-energy files by MP id (2019 wins duplicates):
    material_id, composition ('' when none is known), formation_energy_per_atom, source
    ('2019'/'2018'), in_2018, e_form_2018."""
    a = sources.read_legacy_2019(root).rename(columns={"task_id": "material_id"})
    b = sources.read_legacy_2018(root)
    summary = sources.read_structures(root).drop_duplicates("material_id").set_index("material_id").formula_sum
    gaps = sources.read_band_gaps(root).drop_duplicates("task_id").set_index("task_id").pretty_formula
    a = a.drop_duplicates("material_id")
    a["source"] = "2019"
    only18 = b[~b.material_id.isin(a.material_id)].drop_duplicates("material_id").copy()
    only18["source"] = "2018"
    comp = only18.material_id.map(summary)
    only18["composition"] = comp.fillna(only18.material_id.map(gaps)).fillna("").astype(str)
    df = pd.concat([a[["material_id", "composition", "formation_energy_per_atom", "source"]],
                    only18[["material_id", "composition", "formation_energy_per_atom", "source"]]], ignore_index=True)
    df["in_2018"] = df.material_id.isin(b.material_id)
    df["e_form_2018"] = df.material_id.map(b.drop_duplicates("material_id").set_index("material_id").formation_energy_per_atom)
    return df


# --------------------------------------------------------------------------- features
def fractions(formulas, elements: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """(atomic fractions n x m, element symbols ordered by Z); '' gives a zero row."""
    parsed = _Parsed()
    comps = [parsed[f] if f else None for f in formulas]
    els = elements or sorted({el.symbol for c in comps if c is not None for el in c.elements}, key=lambda s: Element(s).Z)
    index = {s: i for i, s in enumerate(els)}
    frac = np.zeros((len(comps), len(els)))
    for i, c in enumerate(comps):
        if c is not None:
            n = c.num_atoms
            for el, amt in c.items():
                frac[i, index[el.symbol]] = amt / n
    return frac, list(els)


def is_gga_u(comp: Composition) -> bool:
    """MP's run-type rule (both schemes): GGA+U when the most electronegative element is O or F
    and a U metal (Co Cr Fe Mn Mo Ni V W) is present."""
    most = max(comp.elements, key=lambda el: el.X).symbol
    return most in ("O", "F") and any(el.symbol in U_METALS for el in comp.elements)


def offset_features(formulas, elements: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Atomic fraction of each element, plus 'M(U)': the fraction of U metal M in GGA+U compounds."""
    frac, els = fractions(formulas, elements)
    parsed = _Parsed()
    gu = np.array([bool(f) and len(parsed[f]) > 1 and is_gga_u(parsed[f]) for f in formulas])
    extra = [frac[:, els.index(m)] * gu if m in els else np.zeros(len(formulas)) for m in U_METALS]
    return np.hstack([frac, np.array(extra).T]), els + [f"{m}(U)" for m in U_METALS]


def fit_offsets(formulas, residual, f_scale: float = 0.01, ridge: float = 1e-4) -> dict[str, float]:
    """Offsets c (eV per atom of element, or of U metal in GGA+U compounds) minimising
    |residual + F c| with a soft-L1 loss (phases MP recalculated since, 0.1-1 eV/atom off, do not
    drag the fit) and a small ridge (elements without data stay near 0)."""
    from scipy.optimize import least_squares
    from scipy.sparse import csr_matrix, identity, vstack

    formulas = list(formulas)
    F, names = offset_features(formulas)
    m = F.shape[1]
    a = vstack([csr_matrix(F), np.sqrt(ridge) * identity(m)]).tocsr()
    b = np.concatenate([-np.asarray(residual, dtype=float), np.zeros(m)])
    res = least_squares(lambda c: a @ c - b, np.zeros(m), jac=lambda c: a, loss="soft_l1", f_scale=f_scale,
                        method="trf", tr_solver="lsmr")
    return {k: float(v) for k, v in zip(names, res.x, strict=True) if (F[:, names.index(k)] > 0).any()}


def apply_offsets(formulas, offsets: dict[str, float]) -> np.ndarray:
    """The per-atom shift (eV/atom) the offsets give each formula."""
    formulas = list(formulas)
    if not formulas:
        return np.zeros(0)
    F, names = offset_features(formulas)
    return F @ np.array([offsets.get(k, 0.0) for k in names])


def cross_validate_offsets(formulas, residual, groups, k: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold residuals after offsets, folds drawn by ``groups`` (chemical systems): no system
    trains its own prediction."""
    formulas = list(formulas)
    residual = np.asarray(residual, dtype=float)
    groups = np.asarray(groups)
    ug = np.unique(groups)
    fold_of = dict(zip(ug, np.random.default_rng(seed).integers(0, k, len(ug)), strict=True))
    fold = np.array([fold_of[g] for g in groups])
    out = np.full(len(residual), np.nan)
    for f in range(k):
        tr, te = np.nonzero(fold != f)[0], np.nonzero(fold == f)[0]
        c = fit_offsets([formulas[i] for i in tr], residual[tr])
        out[te] = residual[te] + apply_offsets([formulas[i] for i in te], c)
    return out


def harmonize_2018(union: pd.DataFrame, offsets: dict[str, float] | None = None) -> tuple[pd.DataFrame, dict[str, float]]:
    """2018-only rows shifted onto the 2019 reference scale (offsets fitted on the ids in both
    files unless given); returns (new frame, offsets)."""
    if offsets is None:
        both = union[(union.source == "2019") & union.in_2018 & (union.composition != "")]
        offsets = fit_offsets(both.composition, (both.e_form_2018 - both.formation_energy_per_atom).to_numpy(), f_scale=0.005)
    out = union.copy()
    m = (out.source == "2018") & (out.composition != "")
    out.loc[m, "formation_energy_per_atom"] = out.formation_energy_per_atom[m] + apply_offsets(out.composition[m], offsets)
    return out, offsets


# --------------------------------------------------------------------------- corrections
def legacy_gas_energies() -> dict[str, float]:
    """The legacy scheme's fitted elemental energies (eV/atom) of N, F, Cl, H."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pymatgen.entries.compatibility import MODULE_DIR, GasCorrection

        g = GasCorrection(f"{MODULE_DIR}/MPCompatibility.yaml")
    return {Composition(k).elements[0].symbol: float(v) for k, v in g.cpd_energies.items()}


def _legacy_entry(comp: Composition, compat):
    """A ComputedEntry with what the legacy scheme checks: run type, MP's U values, MPRelaxSet
    POTCAR symbols (its PotcarCorrection raises without them), oxide type from composition."""
    from pymatgen.entries.computed_entries import ComputedEntry
    from pymatgen.io.vasp.sets import MPRelaxSet

    from screening.data.corrections import oxide_type

    ucorr = next(c for c in compat.corrections if type(c).__name__ == "UCorrection")
    anion = max(comp.elements, key=lambda el: el.X).symbol
    table = ucorr.u_settings.get(anion, {})
    hubbards = {el.symbol: float(table[el.symbol]) for el in comp.elements if float(table.get(el.symbol, 0))}
    potcars = MPRelaxSet.CONFIG["POTCAR"]
    symbols = [f"PAW_PBE {potcars.get(el.symbol, el.symbol + '_none')} legacy" for el in comp.elements]
    return ComputedEntry(comp, -1.0 * comp.num_atoms,
                         parameters={"run_type": "GGA+U" if hubbards else "GGA", "hubbards": hubbards,
                                     "is_hubbard": bool(hubbards), "potcar_symbols": symbols},
                         data={"oxide_type": oxide_type(comp)})


def _corrections(reduced: list[str]) -> list[tuple[float, float]]:
    """(legacy, MP2020) corrections per atom of reduced formulas (NaN where a scheme rejects)."""
    from screening.data import corrections

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pymatgen.entries.compatibility import MaterialsProjectCompatibility

        legacy = MaterialsProjectCompatibility(compat_type="Advanced", correct_peroxide=True)
        mp2020 = corrections.compatibility()
        out = []
        for f in reduced:
            red = Composition(f)
            try:
                c_leg = sum(a.value for a in legacy.get_adjustments(_legacy_entry(red, legacy))) / red.num_atoms
            except Exception:  # CompatibilityError, KeyError: rejected by the legacy scheme
                c_leg = np.nan
            try:
                c_new = sum(a.value for a in mp2020.get_adjustments(corrections.make_entry(f, f, -1.0 * red.num_atoms, mp2020)))
                c_new /= red.num_atoms
            except Exception:  # CompatibilityError: rejected by MP2020
                c_new = np.nan
            out.append((c_leg, c_new))
    return out


def correction_table(formulas, workers: int = 2) -> pd.DataFrame:
    """Legacy and MP2020 corrections (eV/atom) of each distinct non-elemental reduced formula."""
    parsed = _Parsed()
    reduced = sorted({parsed[f].reduced_formula for f in formulas if f and len(parsed[f]) > 1})
    if workers > 1 and len(reduced) > 2000:
        chunks = [reduced[i::workers] for i in range(workers)]
        with ProcessPoolExecutor(workers) as ex:
            parts = list(ex.map(_corrections, chunks))
        got = {f: v for chunk, part in zip(chunks, parts, strict=True) for f, v in zip(chunk, part, strict=True)}
    else:
        got = dict(zip(reduced, _corrections(reduced), strict=True))
    return pd.DataFrame({"formula": list(got), "legacy_eV_per_atom": [v[0] for v in got.values()],
                         "mp2020_eV_per_atom": [v[1] for v in got.values()]}).set_index("formula")


def convert(union: pd.DataFrame, refs: dict[str, float], corr: pd.DataFrame,
            offsets: dict[str, float] | None = None) -> pd.DataFrame:
    """MP2020 energies per atom of legacy rows: energy_per_atom_eV, formation_energy_eV_per_atom
    (vs ``refs``, the table's elemental energies per atom), legacy/MP2020 corrections, offset;
    NaN where a scheme rejects the composition or an element has no reference."""
    refs_leg = {**refs, **legacy_gas_energies()}
    formulas = union.composition.fillna("").tolist()
    frac, els = fractions(formulas)
    mu_leg = np.array([refs_leg.get(el, np.nan) for el in els])
    mu_new = np.array([refs.get(el, np.nan) for el in els])
    with np.errstate(invalid="ignore"):
        ref_leg = (np.where(frac > 0, frac * mu_leg, 0)).sum(axis=1)
        ref_new = (np.where(frac > 0, frac * mu_new, 0)).sum(axis=1)
    missing = ((frac > 0) & ~np.isfinite(mu_new)).any(axis=1) | ((frac > 0) & ~np.isfinite(mu_leg)).any(axis=1)
    ref_leg[missing] = np.nan
    ref_new[missing] = np.nan
    elemental = (frac > 0).sum(axis=1) == 1
    parsed = _Parsed()
    reduced = ["" if not f else parsed[f].reduced_formula for f in formulas]
    c_leg = np.array([0.0 if e or not r else corr.legacy_eV_per_atom.get(r, np.nan) for r, e in zip(reduced, elemental, strict=True)])
    c_new = np.array([0.0 if e or not r else corr.mp2020_eV_per_atom.get(r, np.nan) for r, e in zip(reduced, elemental, strict=True)])
    shift = apply_offsets(formulas, offsets) if offsets else np.zeros(len(union))
    shift[elemental] = 0.0
    ef = union.formation_energy_per_atom.to_numpy(dtype=float)
    e_new = ef + ref_leg - c_leg + c_new + shift
    e_new[elemental] = ef[elemental] + ref_new[elemental]  # elements keep their E_f vs their own reference
    return pd.DataFrame({"legacy_correction_eV_per_atom": c_leg, "mp2020_correction_eV_per_atom": c_new,
                         "offset_eV_per_atom": shift, "energy_per_atom_eV": e_new,
                         "formation_energy_eV_per_atom": e_new - ref_new}, index=union.index)


def anion_class(formula: str) -> str:
    """Validation class of a composition (element, no anion, hydride, oxide, fluoride, GGA+U
    oxide/fluoride, sulfide, nitride, halide, selenide/telluride, mixed anion)."""
    comp = Composition(formula)
    syms = {el.symbol for el in comp.elements}
    if len(syms) == 1:
        return "element"
    an = syms & set(ANIONS)
    if len(an) >= 2:
        return "mixed anion"
    if not an:
        return "hydride" if "H" in syms else "no anion"
    (a,) = an
    if a in ("O", "F"):
        return "GGA+U oxide/fluoride" if is_gga_u(comp) else ("oxide" if a == "O" else "fluoride")
    return {"S": "sulfide", "N": "nitride", "Cl": "halide", "Br": "halide", "I": "halide",
            "Se": "selenide/telluride", "Te": "selenide/telluride"}[a]


def stats(d) -> dict:
    """n, median and 90th percentile of |d| and the signed median (meV/atom)."""
    d = np.asarray(d, dtype=float)
    d = d[np.isfinite(d)]
    if not len(d):
        return {"n": 0}
    a = np.abs(d) * 1000
    return {"n": int(len(d)), "median_abs_meV": round(float(np.median(a)), 1),
            "p90_abs_meV": round(float(np.percentile(a, 90)), 1), "median_signed_meV": round(float(np.median(d) * 1000), 1)}


def deprecated(union: pd.DataFrame, root: Path) -> np.ndarray:
    """Union rows whose MP id is not in the 2025 structure summary (MP no longer serves them)."""
    alive = set(sources.read_structures(root).material_id)
    return ~union.material_id.isin(alive).to_numpy()

