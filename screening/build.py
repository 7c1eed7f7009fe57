"""Build the finished phase table from the raw Materials Project files in ``../shared``.

Run by ``screening data build`` (it writes the table the package ships, or a cached rebuild for
``open_store(shared=...)``).  Steps, each counted and validated in the build info:

1. the MP hull snapshot: raw energies, MP2020 corrections rebuilt (``screening.data.corrections``);
   the 5 non-MP rows replaced by MP's elemental reference entries;
2. legacy data (MP 2019 + 2018, ``screening.data.legacy``): their union, their own hull, and their
   energies converted to MP2020 (validated on the overlap with the snapshot);
3. systems the snapshot lacks (binary and ternary systems with no snapshot compound where the
   legacy hull has one: MgO, Mg3N2, GeO2 ...): their legacy hull compounds enter with converted
   energies (origin ``mp-converted``);
4. metastable phases: MP's published ones (LLZO, ``metastable_phases.csv``) and every legacy phase
   MP still serves (its id is in the 2025 structures), placed at the current hull + their
   e_above_hull within the legacy data (at least ``PLACEMENT_MARGIN``), so they never move the
   hull; each is cross-checked against its converted energy;
5. band gaps (measured where known, else corrected PBE: ``screening.data.gaps``), molar volumes
   (measured density for the lowest-energy polymorph of a formula, else MP's DFT volume of the same
   id), structural dimensionality (weak DFT volumes flagged), dilute-supercell artefacts.

``build_table(root, elements=...)`` builds only the phases within some elements (same numbers as
the full build for those rows when ``fitted`` passes the full build's fitted parameters): the
test suite rebuilds such a sample and compares it with the shipped table.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition

from screening.data import files, gaps, legacy, sources, structures, transport, volumes
from screening.data import table as tbl
from screening.data.formula import chemsys_masks, within
from screening.errors import DataError
from screening.phases import PhaseSet, fill_without_artefacts, finish
from screening.hull import hull_energies_per_atom

#: Binary systems where a missing compound means missing data rather than no stable compound.
COMMON_ANIONS = frozenset("O N F Cl Br I S Se Te H P".split())
#: elements MP2020 corrects as anions: two of them in one phase make its correction depend on the
#: oxidation-state guess
CORRECTED_ANIONS = frozenset(legacy.ANIONS)
#: placed phases sit at least this far above the current hull (eV/atom): they never displace a hull phase
PLACEMENT_MARGIN_EV_PER_ATOM = 1e-4
#: the dilute-supercell rule (see ``flag_artefacts``)
DILUTE_ATOMS_PER_LI = 20
DILUTE_MAX_EV_PER_ATOM = 0.04
DILUTE_MAX_DRIVE_EV_PER_LI = -1.0


def _mixed_anion(comp: Composition) -> bool:
    return len([el for el in comp.elements if el.symbol in CORRECTED_ANIONS]) > 1


def _within(compositions, elements) -> np.ndarray:
    if elements is None:
        return np.ones(len(compositions), bool)
    els = set(elements)
    return np.array([bool(c) and {e.symbol for e in Composition(c).elements} <= els for c in compositions])


# --------------------------------------------------------------------------- 1. snapshot
def snapshot_rows(root: Path, elements=None) -> tuple[pd.DataFrame, dict]:
    """Rows of the MP hull snapshot (MP2020-corrected) and the elemental references it lacks."""
    from pymatgen.entries.computed_entries import ComputedEntry

    from screening.data import corrections

    hull = sources.read_hull_phases(root)
    refs = sources.read_elemental_references(root)
    compat = corrections.compatibility()
    is_mp = hull.MaterialId.str.match(r"^mp-\d+$")
    dropped, kept = hull[~is_mp], hull[is_mp & _within(hull.Composition, elements)]
    entries = [corrections.make_entry(mid, comp, float(e), compat)
               for mid, comp, e in zip(kept.MaterialId, kept.Composition, kept["Corrected Energy"], strict=True)]
    corrected = corrections.correct(entries)
    have = {Composition(c).elements[0].symbol for c in kept.Composition if len(Composition(c)) == 1}
    ref_entries = [ComputedEntry.from_dict(d) for sym, d in refs.items()
                   if sym not in have and (elements is None or sym in elements)]
    rows = [_entry_row(e, e.entry_id, "mp-hull", files.HULL) for e in corrected.values()]
    rows += [_entry_row(e, e.data.get("material_id", e.entry_id), "mp-reference", files.REFS) for e in ref_entries]
    report = {
        "n_hull_rows": int(len(hull)),
        "n_corrected": int(sum(1 for e in corrected.values() if e.correction != 0)),
        "n_dropped_non_mp": int(len(dropped)),
        "dropped_non_mp": sorted(Composition(c).reduced_formula for c in dropped.Composition),
        "n_rejected_by_compatibility": len(entries) - len(corrected),
        "n_elemental_references_added": len(ref_entries),
    }
    return pd.DataFrame(rows), report


def _entry_row(e, mid: str, origin: str, source: str) -> dict:
    comp = e.composition
    row = tbl.empty_row()
    row.update(tbl.identity(comp), phase_id=mid, material_id=mid, origin=origin, source=source,
               energy_eV=e.energy, raw_energy_eV=e.uncorrected_energy, correction_eV=e.correction,
               energy_adjustments=tbl.adjustments_json(e), correction_note=tbl.correction_note(e),
               run_type=e.parameters.get("run_type", "GGA"),
               uncertain="mixed-anion: MP2020 correction depends on the oxidation-state guess" if _mixed_anion(comp) else "")
    return row


# --------------------------------------------------------------------------- hull helpers
def _fractions(table: pd.DataFrame) -> np.ndarray:
    return legacy.fractions(table.composition.tolist())


def hull_at(table: pd.DataFrame, compositions: list[str]) -> np.ndarray:
    """Hull energy (eV/atom) of ``table``'s hull phases at each composition (the kernel, one
    phase set per chemical system)."""
    hull = table[table.e_above_hull_eV_per_atom <= 1e-6]
    out = np.full(len(compositions), np.nan)
    by_system: dict[str, list[int]] = {}
    comps = [Composition(c) for c in compositions]
    for k, c in enumerate(comps):
        by_system.setdefault(c.chemical_system, []).append(k)
    lo, hi = chemsys_masks(hull.chemsys)
    for cs, ks in by_system.items():
        els = cs.split("-")
        sub = hull[within(lo, hi, els)]
        if set(sub.chemsys[~sub.chemsys.str.contains("-")]) != set(els):
            continue  # an element without a phase
        ps = PhaseSet.from_frame(els, sub)
        for k in ks:
            out[k] = ps.hull_energy_per_atom(ps.vector(comps[k]))
    return out


def legacy_hull(union: pd.DataFrame) -> np.ndarray:
    """e_above_hull (eV/atom) of every union row within the legacy data (elements at 0 eV/atom)."""
    ok = (union.composition != "").to_numpy()
    comps = union.composition[ok].tolist()
    frac, els = legacy.fractions(comps)
    el_frac = np.eye(len(els))
    lo, hi = chemsys_masks([Composition(c).chemical_system for c in comps] + els)
    e = np.concatenate([union.formation_energy_per_atom[ok].to_numpy(float), np.zeros(len(els))])
    h = hull_energies_per_atom(np.vstack([frac, el_frac]), e, lo, hi)
    out = np.full(len(union), np.nan)
    out[ok] = (e - h)[: len(comps)]
    return out


# --------------------------------------------------------------------------- 2-4. legacy data
def legacy_rows(root: Path, table: pd.DataFrame, elements=None, fitted: dict | None = None, skip_ids=()):
    """(converted gap-filling rows, legacy metastable phases to place, report) from the legacy
    data; ``skip_ids``: phases placed from elsewhere (MP's published values win)."""
    fitted = fitted or {}
    union = legacy.read_union(root)
    union, harm = legacy.harmonize_2018(union, fitted.get("harmonize_2018_offsets"))
    union = union[_within(union.composition, elements)].reset_index(drop=True)
    e_leg = legacy_hull(union)
    union["legacy_e_above_hull_eV_per_atom"] = e_leg
    dead = legacy.deprecated(union, root)
    known = union.composition != ""

    # conversion, validated on the overlap with the snapshot
    refs = table[~table.chemsys.str.contains("-")].groupby("chemsys").energy_per_atom_eV.min().to_dict()
    corr = legacy.correction_table(union.composition[known])
    conv0 = legacy.convert(union, refs, corr)
    snap = table[table.origin == "mp-hull"].set_index("material_id").formation_energy_eV_per_atom
    overlap = (union.material_id.isin(snap.index) & known & (union.composition.map(lambda c: bool(c) and len(Composition(c)) > 1))).to_numpy()
    ov = union[overlap]
    before = ov.formation_energy_per_atom.to_numpy() - ov.material_id.map(snap).to_numpy()
    after = conv0.formation_energy_eV_per_atom[overlap].to_numpy() - ov.material_id.map(snap).to_numpy()
    offsets = fitted.get("conversion_offsets")
    report: dict = {}
    if offsets is None:
        good = np.isfinite(after)
        offsets = legacy.fit_offsets(ov.composition[good], after[good])
        cv = legacy.cross_validate_offsets(ov.composition[good], after[good],
                                           [Composition(c).chemical_system for c in ov.composition[good]])
        report["conversion_validation"] = {
            "before_meV": legacy.stats(before), "after_meV": legacy.stats(after),
            "after_offsets_cross_validated_meV": legacy.stats(cv)}
    conv = legacy.convert(union, refs, corr, offsets)
    union["converted_energy_per_atom_eV"] = conv.energy_per_atom_eV.to_numpy()

    # 3. systems the snapshot lacks
    snap_systems = set(table.chemsys[table.chemsys.str.contains("-")])
    cs = union.composition.map(lambda c: Composition(c).chemical_system if c else "")
    n_el = cs.str.count("-") + 1
    stable = (union.legacy_e_above_hull_eV_per_atom <= 1e-6) & known & (n_el >= 2)
    gap = stable & n_el.between(2, 3) & ~cs.isin(snap_systems) & ~dead & np.isfinite(union.converted_energy_per_atom_eV)
    converted = []
    for r in union[gap].itertuples():
        comp = Composition(r.composition)
        row = tbl.empty_row()
        row.update(tbl.identity(comp), phase_id=r.material_id, material_id=r.material_id, origin="mp-converted",
                   source=files.LEGACY_2019 if r.source == "2019" else files.LEGACY_2018, run_type="GGA/GGA+U (MP legacy)",
                   energy_eV=r.converted_energy_per_atom_eV * comp.num_atoms,
                   correction_note=f"MP {r.source}, converted to MP2020 (legacy correction removed, MP2020 applied, "
                                   f"offset {1000 * conv.offset_eV_per_atom[r.Index]:+.1f} meV/atom)",
                   uncertain=_converted_caveat(comp))
        converted.append(row)
    converted = pd.DataFrame(converted, columns=tbl.COLUMNS) if converted else pd.DataFrame(columns=tbl.COLUMNS)

    # 4. metastable phases MP still serves
    skip = set(table.phase_id) | set(converted.phase_id) | set(skip_ids)
    meta = union[known & ~dead & ~union.material_id.isin(skip) & np.isfinite(union.legacy_e_above_hull_eV_per_atom)]
    stable_binaries = sorted(set(cs[stable & (n_el == 2)]))
    report.update({
        "legacy_stable_binary_systems": stable_binaries,
        "n_legacy_union": int(len(union)),
        "n_legacy_without_composition": int((~known).sum()),
        "n_deprecated_left_out": int((dead & known & ~union.material_id.isin(table.phase_id)).sum()),
        "n_gap_systems": int(cs[gap].nunique()),
        "harmonize_2018_offsets": harm,
        "conversion_offsets": offsets,
    })
    return converted, meta, report


def _converted_caveat(comp: Composition) -> str:
    syms = {e.symbol for e in comp.elements}
    notes = []
    if "Yb" in syms:
        notes.append("legacy Yb energies used a divalent-Yb pseudopotential: trivalent Yb compounds are unreliable")
    if syms & set(legacy.U_METALS) and syms & {"O", "F"}:
        notes.append("converted GGA+U energy: +-50-100 meV per U-metal atom")
    if _mixed_anion(comp):
        notes.append("mixed-anion: MP2020 correction depends on the oxidation-state guess")
    return "; ".join(notes) or "converted from MP 2018/2019 legacy data (median 1-4 meV/atom from MP2020 on the overlap)"


def placed_rows(meta: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Legacy metastable phases at the current hull + their legacy e_above_hull (>= the margin)."""
    e_place = np.maximum(meta.legacy_e_above_hull_eV_per_atom.to_numpy(), PLACEMENT_MARGIN_EV_PER_ATOM)
    h = hull_at(table, meta.composition.tolist())
    rows = []
    for r, e, hh in zip(meta.itertuples(), e_place, h, strict=True):
        if not np.isfinite(hh):
            continue
        comp = Composition(r.composition)
        row = tbl.empty_row()
        row.update(tbl.identity(comp), phase_id=r.material_id, material_id=r.material_id, origin="mp-legacy",
                   source=files.LEGACY_2019 if r.source == "2019" else files.LEGACY_2018, run_type="GGA/GGA+U (MP legacy)",
                   energy_eV=(hh + e) * comp.num_atoms, placed_e_above_hull_eV_per_atom=float(e),
                   correction_note=f"placed at the hull + {1000 * e:.1f} meV/atom (its e_above_hull in MP {r.source} legacy data)",
                   converted_minus_placed_eV_per_atom=float(r.converted_energy_per_atom_eV - (hh + e)),
                   uncertain="mixed-anion: MP2020 correction depends on the oxidation-state guess" if _mixed_anion(comp) else "")
        rows.append(row)
    return pd.DataFrame(rows, columns=tbl.COLUMNS) if rows else pd.DataFrame(columns=tbl.COLUMNS)


def published_rows(root: Path, table: pd.DataFrame, elements=None) -> pd.DataFrame:
    """MP metastable phases with a published e_above_hull (``metastable_phases.csv``), placed."""
    meta = sources.read_metastable(root)
    meta = meta[_within(meta.formula, elements)]
    if meta.empty:
        return pd.DataFrame(columns=tbl.COLUMNS)
    h = hull_at(table, list(meta.formula))
    rows = []
    for r, hh in zip(meta.itertuples(), h, strict=True):
        comp = Composition(r.formula)
        row = tbl.empty_row()
        row.update(tbl.identity(comp), phase_id=r.material_id, material_id=r.material_id, origin="mp-published",
                   source=files.METASTABLE, run_type="GGA/GGA+U (MP)", energy_eV=(hh + r.e_above_hull_eV_per_atom) * comp.num_atoms,
                   correction_note=f"placed at the hull + {1000 * r.e_above_hull_eV_per_atom:.1f} meV/atom (MP's published value)",
                   placed_e_above_hull_eV_per_atom=float(r.e_above_hull_eV_per_atom))
        if np.isfinite(getattr(r, "band_gap_eV", np.nan)):
            row.update(band_gap_pbe_eV=float(r.band_gap_eV))
        rows.append(row)
    return pd.DataFrame(rows, columns=tbl.COLUMNS)


# --------------------------------------------------------------------------- 5. properties
def add_band_gaps(table: pd.DataFrame, root: Path, fitted: dict) -> dict:
    """PBE gaps (MP 2019) by material id, then measured / corrected PBE (``screening.data.gaps``)."""
    pbe = sources.read_band_gaps(root).drop_duplicates("task_id").set_index("task_id").band_gap
    found = table.material_id.map(pbe)
    use = table.band_gap_pbe_eV.isna() & found.notna()
    table.loc[use, "band_gap_pbe_eV"] = found[use]
    measured = gaps.read_measured()
    default = table.loc[table.groupby("formula").energy_per_atom_eV.idxmin()].set_index("formula").material_id.to_dict()
    cal = fitted.get("gap_calibration")
    cal = gaps.Calibration(**cal) if cal else gaps.calibrate(measured, table.set_index("phase_id").band_gap_pbe_eV, default)
    val = gaps.validate_gga_u(gaps.read_gga_u(), cal, table.set_index("phase_id").band_gap_pbe_eV)
    counts = gaps.apply(table, measured, cal, files.GAPS, gga_u=val)
    return {"gap_calibration": cal.__dict__, "gga_u_gap_validation": val, "band_gap_counts": counts,
            "n_measured_gaps": int((table.band_gap_origin == "measured").sum())}


def add_volumes(table: pd.DataFrame, root: Path) -> dict:
    """Molar volumes: measured density for the lowest-energy phase of a formula, else MP's DFT
    volume of the same material id; validation of DFT against measured volumes."""
    summary = sources.read_structures(root)
    dft, mismatched = structures.dft_molar_volumes(table, summary)
    table["dft_molar_volume_cm3_per_mol"] = dft
    has = dft.notna()
    table.loc[has, "molar_volume_cm3_per_mol"] = dft[has]
    table.loc[has, "density_g_cm3"] = [Composition(f).weight / v for f, v in zip(table.formula[has], dft[has], strict=True)]
    table.loc[has, "volume_origin"] = "dft"
    table.loc[has, "volume_source"] = [f"MP {m} relaxed structure ({files.STRUCTURES}; DFT)" for m in table.material_id[has]]
    choices = volumes.choose_densities(sources.read_densities(root))
    default = table.groupby("formula").energy_per_atom_eV.idxmin()
    compare = []
    for formula, ch in choices.items():
        i = default.get(formula)
        if i is None:
            continue
        v = volumes.molar_volume_cm3_per_mol(ch.formula, ch.density_g_cm3)
        table.loc[i, ["density_g_cm3", "molar_volume_cm3_per_mol"]] = [ch.density_g_cm3, v]
        table.loc[i, "volume_origin"] = "measured"
        table.loc[i, "volume_source"] = f"{files.DENSITIES} rows {','.join(map(str, ch.rows))} (measured; {ch.note})"
        if np.isfinite(dft[i]):
            compare.append((formula, table.at[i, "material_id"], v, dft[i]))
    weak = table.dimensionality.map(lambda d: structures.weak_volume(d) is not None) & (table.volume_origin == "dft")
    return {"volume_validation": volume_validation(pd.DataFrame(compare, columns=["formula", "material_id", "measured", "dft"]), table),
            "n_weak_dft_volumes": int(weak.sum()),
            "n_volume_formula_mismatches": len(mismatched), "volume_formula_mismatches": mismatched[:20]}


def volume_validation(c: pd.DataFrame, table: pd.DataFrame) -> dict:
    """DFT vs measured molar volumes of the same phases: relative difference distribution."""
    if c.empty:
        return {"n": 0}
    c = c.assign(rel=c.dft / c.measured - 1)
    dims = table.set_index("material_id").dimensionality
    c["class"] = [structures.weak_volume(dims.get(m, "")) or ("metal" if dims.get(m, "") == "metal" else "3D")
                  for m in c.material_id]
    a = c.rel.abs()

    def st(x):
        return {"n": int(len(x)), "median_abs_pct": round(float(x.abs().median() * 100), 1),
                "p90_abs_pct": round(float(x.abs().quantile(0.9) * 100), 1),
                "median_signed_pct": round(float(x.median() * 100), 1)} if len(x) else {"n": 0}

    worst = c.loc[a.sort_values(ascending=False).index[:10]]
    return {"all": st(c.rel), "by_class": {k: st(g.rel) for k, g in c.groupby("class")},
            "worst": [{"formula": r.formula, "material_id": r.material_id, "pct": round(100 * r.rel, 1), "class": r["class"]}
                      for _, r in worst.iterrows()]}


def add_dimensionality(table: pd.DataFrame, root: Path, workers: int = 2) -> dict:
    """Dimensionality of every phase with a CIF (``screening.data.structures``); DataError when a
    CIF's formula differs from its phase."""
    want = dict(zip(table.material_id, table.formula, strict=True))
    items = list(sources.iter_cifs(root, set(want)))
    if workers > 1 and len(items) > 500:
        with ProcessPoolExecutor(workers) as ex:
            got = list(ex.map(structures.classify_cif, items, chunksize=64))
    else:
        got = [structures.classify_cif(it) for it in items]
    dims, failed = {}, 0
    for mid, formula, dim in got:
        if not dim:
            failed += 1
            continue
        if formula != want[mid]:
            raise DataError(f"{files.CIFS}: cif/{mid}.cif is {formula}, but the phase table has {mid} as {want[mid]}")
        dims[mid] = dim
    table["dimensionality"] = table.material_id.map(dims).fillna("")
    return {"n_dimensionality": len(dims), "n_cif_failures": failed}


def flag_artefacts(table: pd.DataFrame) -> dict:
    """Dilute-supercell rule: a Li phase with >= 20 atoms per Li whose energy relative to Li metal
    + its Li-free hull is within 2 x the DFT tolerance per atom (|dE| < 0.04 eV/atom) yet drives Li
    uptake by 1 eV per Li or more.  Its per-Li energy is per-atom supercell noise multiplied by
    the atoms per Li (LiMg149: -0.027 eV/atom, -4.1 eV per Li, a 4.1 V 'reduction limit' of Mg),
    so a voltage it decides is likely an artefact."""
    mu_li = table[table.formula == "Li"].energy_per_atom_eV.min()
    li = table[table.chemsys.str.split("-").map(lambda e: "Li" in e and len(e) > 1)]
    flagged = 0
    for i, r in li.iterrows():
        comp = Composition(r.composition)
        n_li, n = comp["Li"], comp.num_atoms
        if n / n_li < DILUTE_ATOMS_PER_LI:
            continue
        rest = comp - Composition({"Li": n_li})
        h = hull_at(table, [rest.formula])[0]
        if not np.isfinite(h):
            continue
        d_e = r.energy_eV - n_li * mu_li - h * rest.num_atoms
        if abs(d_e / n) < DILUTE_MAX_EV_PER_ATOM and d_e / n_li <= DILUTE_MAX_DRIVE_EV_PER_LI:
            table.loc[i, "artefact"] = (f"dilute Li (1 per {n / n_li:.0f} atoms): {d_e / n_li:+.2f} eV per Li from "
                                        f"{d_e / n:+.3f} eV/atom, per-atom DFT noise times {n / n_li:.0f}; "
                                        "voltages through it are likely artefacts")
            flagged += 1
    return {"n_artefacts": flagged}


def read_no_compound_systems() -> pd.DataFrame:
    """The curated Li-metal binary systems where experiment reports no compound (chemsys,
    element, evidence, source), ``data/li_no_compound_systems.csv``."""
    df = files.read_text_csv(files.shipped(files.NO_COMPOUND_SYSTEMS), files.NO_COMPOUND_SYSTEMS, "fix the shipped table")
    df["chemsys"] = ["-".join(sorted(c.split("-"))) for c in df.chemsys]
    bad = df[(df.compounds_reported != "none") | ~df.chemsys.str.contains("Li")]
    if len(bad):
        raise DataError(f"{files.NO_COMPOUND_SYSTEMS}: {bad.chemsys.iloc[0]} is not a Li system without compounds")
    return df


def flag_no_compound(table: pd.DataFrame) -> dict:
    """Compounds of a Li-metal binary system where the assessed phase diagram knows none (LiCu3
    mp-862658 sits 35 meV/atom below Li + Cu on MP's GGA hull, but Li and Cu form no compound):
    flagged as artefacts, so that they warn where they decide a result and are left out of every
    hull by default."""
    systems = read_no_compound_systems()
    n = 0
    for r in systems.itertuples():
        rows = table.index[(table.chemsys == r.chemsys) & (table.artefact == "")]
        table.loc[rows, "artefact"] = (f"no Li-{r.element} compound is known ({r.evidence.split(';')[0]}; {r.source.split(',')[0]} "
                                       f"et al., {files.NO_COMPOUND_SYSTEMS}): a DFT artefact")
        n += len(rows)
    return {"n_no_compound_artefacts": n, "no_compound_systems": sorted(systems.chemsys)}


def mlip_rows() -> pd.DataFrame:
    """Phases MP has no ordered structure or energy for (halide electrolytes: Li3YCl6, Li2ZrCl6 ...),
    relaxed with CHGNet on substituted MP prototypes and placed on the MP2020 hull by their reaction
    energy to MP's competing phases (``python -m screening.halides`` writes the shipped table;
    ``uncertainty_eV_per_atom`` from the same procedure on MP phases): origin ``chgnet``, the
    uncertainty in ``uncertain``."""
    df = files.read_text_csv(files.shipped(files.MLIP_PHASES), files.MLIP_PHASES, "regenerate it with python -m screening.halides")
    rows = []
    for r in df.itertuples():
        comp = Composition(r.composition)
        row = tbl.empty_row()
        row.update(tbl.identity(comp), phase_id=r.phase_id, origin="chgnet", run_type="CHGNet",
                   source=f"{r.model} on MP prototype {r.prototype_id} ({r.substitution}; {files.MLIP_PHASES})",
                   energy_eV=float(r.energy_eV),
                   correction_note=f"CHGNet energy referenced to MP's {r.decomposition} (reaction energy, {r.model})",
                   uncertain=f"MLIP energy (CHGNet on a substituted prototype): +-{float(r.uncertainty_eV_per_atom):.3f} eV/atom",
                   molar_volume_cm3_per_mol=float(r.molar_volume_cm3_per_mol), density_g_cm3=float(r.density_g_cm3),
                   volume_origin="chgnet", volume_source=f"CHGNet-relaxed structure ({r.model}; {files.MLIP_PHASES})")
        rows.append(row)
    return tbl.conform(pd.DataFrame(rows))


def add_transport(table: pd.DataFrame) -> dict:
    """Li+ conductivities (measured, else calibrated BVSE estimates; ``screening.data.transport``);
    then the phases a measurement shows to conduct electrons (Li alloys in the conductivity table:
    Li3Sb, Li-Si, Li-Sn ...) get band gap 0 unless a gap was measured, so that their character
    does not rest on a DFT gap that says otherwise (Li3Sb: corrected PBE 1.65 eV)."""
    measured, bvse = transport.read_measured(), transport.read_bvse()
    cal = transport.calibrate(measured, bvse, table)
    counts = transport.apply(table, measured, bvse, cal)
    metal = (table.li_conductivity_source.str.startswith("electronic conductor") & (table.band_gap_origin != "measured")).to_numpy()
    idx = table.index[metal]
    table.loc[idx, "band_gap_eV"] = 0.0
    table.loc[idx, "band_gap_error_eV"] = 0.0
    table.loc[idx, "band_gap_origin"] = "electronic conductor"
    table.loc[idx, "band_gap_source"] = ["measured electronic conductor (" + t.split("; ", 1)[1] + ")" for t in table.li_conductivity_source[metal]]
    return {"transport": {"counts_by_origin": counts, "calibration": cal.as_info() if cal else None,
                          "n_electronic_conductor_gaps": int(metal.sum())}}


def incomplete_systems(table: pd.DataFrame, stable_binaries: list[str]) -> list[str]:
    """Binary metal-anion systems where MP's legacy data have a stable compound but the table has
    no hull compound (its id deprecated, or its energy not convertible): missing data, flagged on
    every result touching them.  Systems where MP knows only unstable compounds (Cu-N: Cu3N is
    190 meV/atom above Cu + N2) are physics, not gaps."""
    hull = set(table.chemsys[(table.e_above_hull_eV_per_atom <= 1e-6) & table.chemsys.str.contains("-")])
    return sorted(c for c in stable_binaries
                  if c not in hull and len(set(c.split("-")) & COMMON_ANIONS) == 1)


def known_gga_failures() -> list[dict]:
    """The authored list of known GGA failures by chemical system (``data/known_gga_failures.csv``)."""
    with files.shipped(files.GGA_FAILURES).open("r") as fh:
        df = pd.read_csv(fh, keep_default_na=False, dtype=str)
    return [{"chemsys": "-".join(sorted(c.split("-"))), "message": m, "remedy": r, "reference": ref}
            for c, m, r, ref in zip(df.chemsys, df.message, df.remedy, df.reference, strict=True)]


# --------------------------------------------------------------------------- the whole build
def build_table(root: Path, elements=None, fitted: dict | None = None, workers: int = 2) -> tuple[pd.DataFrame, dict]:
    """The finished phase table and its build info (counts, validation, fitted parameters).

    ``elements``: build only the phases within these elements (a sample); ``fitted``: reuse the
    fitted parameters of a full build (conversion offsets, 2018 harmonisation, gap calibration).
    """
    t0 = time.perf_counter()
    fitted = fitted or {}
    root = Path(root)
    rows, report = snapshot_rows(root, elements)
    table = finish(rows)
    report["n_off_own_hull"] = int((table.e_above_hull_eV_per_atom > 1e-3).sum())
    report["off_own_hull_fraction"] = report["n_off_own_hull"] / len(table)
    published_ids = set(sources.read_metastable(root).material_id)
    converted, meta, leg = legacy_rows(root, table, elements, fitted, skip_ids=published_ids)
    report.update(leg)
    table = finish(pd.concat([table, converted], ignore_index=True))
    report["n_converted_on_hull"] = int((table[table.origin == "mp-converted"].e_above_hull_eV_per_atom <= 1e-6).sum())
    placed = pd.concat([published_rows(root, table, elements), placed_rows(meta, table)], ignore_index=True)
    before = table.copy()
    mlip = mlip_rows()
    if elements is not None:
        mlip = mlip[[set(c.split("-")) <= set(elements) for c in mlip.chemsys]]
    table = finish(pd.concat([table, placed, mlip], ignore_index=True))
    report["n_mlip_phases"] = len(mlip)
    # placing must not move the hull: the earlier rows keep their e_above_hull (the MLIP phases'
    # systems are left out of this check: a new phase below the hull moves it by design)
    moved = np.abs(table.e_above_hull_eV_per_atom.to_numpy()[: len(before)] - before.e_above_hull_eV_per_atom.to_numpy())
    near_mlip = np.zeros(len(before), bool)
    for cs in set(mlip.chemsys):
        near_mlip |= np.array([set(cs.split("-")) <= set(c.split("-")) for c in before.chemsys])
    moved = moved[~near_mlip]
    report["max_hull_shift_by_placing_eV_per_atom"] = float(np.nanmax(moved)) if len(moved) else 0.0
    # placed phases keep the e_above_hull they were placed at, except where an MLIP phase lowered
    # their system's hull (reported apart)
    p = table.origin.isin(["mp-legacy", "mp-published"]).to_numpy().copy()
    in_mlip = np.zeros(len(table), bool)
    for cs in set(mlip.chemsys):
        in_mlip |= np.array([set(cs.split("-")) <= set(c.split("-")) for c in table.chemsys])
    report["n_placed_in_mlip_systems"] = int((p & in_mlip).sum())
    p &= ~in_mlip
    report["max_placement_error_eV_per_atom"] = float(np.nanmax(np.abs(table.e_above_hull_eV_per_atom[p] - table.placed_e_above_hull_eV_per_atom[p]))) if p.any() else 0.0
    diff = table.converted_minus_placed_eV_per_atom
    report["legacy_cross_check"] = {"n": int(diff.notna().sum()), **legacy.stats(diff),
                                    "n_above_20meV": int((diff.abs() > 0.020).sum())}
    report.update(add_band_gaps(table, root, fitted))
    report.update(add_dimensionality(table, root, workers))
    report.update(add_volumes(table, root))
    report.update(flag_artefacts(table))
    report.update(flag_no_compound(table))
    fill_without_artefacts(table)
    report.update(add_transport(table))
    incomplete = incomplete_systems(table, report.pop("legacy_stable_binary_systems"))
    table = tbl.conform(table).sort_values(["chemsys", "formula", "phase_id"], kind="stable").reset_index(drop=True)
    info = {
        **report,
        "incomplete_systems": incomplete,
        "known_gga_failures": known_gga_failures(),
        "sources": [f"{name} ({files.ATTRIBUTION[name]})" for name in (*files.RAW, files.CIFS)],
        "elements": sorted(elements) if elements else "all",
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
    return table, info
