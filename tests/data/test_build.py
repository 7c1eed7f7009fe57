"""The shipped phase table against the raw MP files it is built from, and the checked facts of
the build: conversion of legacy energies, metastable phases, gap systems, volumes."""

import io
import tarfile

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition, Lattice, Structure

from screening import build
from screening.data import cache, files, structures
from screening.errors import DataError

SAMPLE = {"Li", "I", "Mg", "O", "La", "Zr", "N"}


@pytest.fixture(scope="module")
def shipped_table():
    rows, info = cache.read_shipped()
    return rows.frame(), info


@pytest.mark.shared
@pytest.mark.data
def test_a_rebuilt_sample_equals_what_ships(shared_root, shipped_table):
    table, info = shipped_table
    fitted = {k: info[k] for k in ("harmonize_2018_offsets", "conversion_offsets", "gap_calibration")}
    sample, _ = build.build_table(shared_root, elements=SAMPLE, fitted=fitted, workers=1)
    mine = table[[set(c.split("-")) <= SAMPLE for c in table.chemsys]].set_index("phase_id").sort_index()
    sample = sample.set_index("phase_id").sort_index()
    assert list(sample.index) == list(mine.index) and len(sample) > 300
    for col in ("energy_eV", "formation_energy_eV_per_atom", "e_above_hull_eV_per_atom", "band_gap_eV",
                "molar_volume_cm3_per_mol", "placed_e_above_hull_eV_per_atom", "e_above_hull_without_artefacts_eV_per_atom"):
        np.testing.assert_allclose(sample[col].to_numpy(float), mine[col].to_numpy(float), rtol=0, atol=1e-9, err_msg=col)
    for col in ("origin", "band_gap_origin", "volume_origin", "dimensionality", "artefact", "uncertain", "source"):
        pd.testing.assert_series_equal(sample[col], mine[col], check_names=False)


@pytest.mark.data
def test_conversion_validated_on_the_overlap(shipped_table):
    v = shipped_table[1]["conversion_validation"]
    assert v["before_meV"]["n"] > 25_000
    assert 10 < v["before_meV"]["median_abs_meV"] < 20 and v["before_meV"]["p90_abs_meV"] > 100
    assert v["after_meV"]["median_abs_meV"] < 5 and v["after_meV"]["p90_abs_meV"] < 15
    assert v["after_offsets_cross_validated_meV"]["median_abs_meV"] < 2 and v["after_offsets_cross_validated_meV"]["p90_abs_meV"] < 8


@pytest.mark.data
@pytest.mark.parametrize("formula,mid,e_meV", [("Li7La3Zr2O12", "mp-942733", 6.8), ("Li10Ge(PS6)2", "mp-696138", 19.2),
                                               ("Li7P3S11", "mp-641703", 20.4), ("Li3ClO", "mp-985585", 22.0)])
def test_metastable_phases_placed_by_their_legacy_e_above_hull(store, formula, mid, e_meV):
    """The README of mp_legacy: 7-22 meV/atom against the union of both files (LLZO keeps MP's 6.8)."""
    row = store.lookup(mid)
    assert row.formula == formula and row.e_above_hull_eV_per_atom * 1000 == pytest.approx(e_meV, abs=0.6)


@pytest.mark.data
@pytest.mark.parametrize("formula,exp_eV_per_atom", [("MgO", -3.118), ("Mg3N2", -0.956), ("GeO2", -2.004)])
def test_systems_the_snapshot_lacks_are_filled(store, formula, exp_eV_per_atom):
    row = store.lookup(formula)
    assert row.origin == "mp-converted" and row.e_above_hull_eV_per_atom == pytest.approx(0, abs=1e-9)
    assert row.formation_energy_eV_per_atom == pytest.approx(exp_eV_per_atom, abs=0.08)  # vs NIST-JANAF
    assert not store.caveats_for(Composition(formula).chemical_system.split("-"))


@pytest.mark.data
def test_placing_never_moved_the_hull(shipped_table):
    info = shipped_table[1]
    assert info["max_hull_shift_by_placing_eV_per_atom"] < 1e-9 and info["max_placement_error_eV_per_atom"] < 1e-9
    assert info["n_deprecated_left_out"] > 10_000


@pytest.mark.data
def test_dft_volumes_validated_against_measured(shipped_table):
    v = shipped_table[1]["volume_validation"]
    assert v["all"]["n"] >= 90 and v["all"]["median_abs_pct"] < 5 and v["all"]["p90_abs_pct"] > 10
    low = [v["by_class"][k]["median_abs_pct"] for k in ("molecular", "layered")]
    assert min(low) > v["by_class"]["3D"]["median_abs_pct"]  # molecular and layered crystals fail worst
    table = shipped_table[0]
    assert table.molar_volume_cm3_per_mol.notna().mean() > 0.95


@pytest.mark.data
def test_seed_volume_ratio_from_measured_densities(store):
    v = 2 * store.lookup("LiI").molar_volume_cm3_per_mol / (2 * store.lookup("I2").molar_volume_cm3_per_mol)
    assert 1.26 <= v <= 1.28
    assert store.lookup("LiI").volume_origin == store.lookup("I2").volume_origin == "measured"


def test_summary_formula_mismatch_is_named():
    table = pd.DataFrame({"material_id": ["mp-1", "mp-2"], "formula": ["LiI", "Li2O"]})
    summary = pd.DataFrame({"material_id": ["mp-1", "mp-2"], "formula_sum": ["Li1 I1", "Na2 O1"], "volume_per_atom_A3": [30.0, 10.0]})
    vols, mismatched = structures.dft_molar_volumes(table, summary)
    assert np.isnan(vols[1]) and vols[0] == pytest.approx(30 * 2 * 6.02214076e23 * 1e-24)
    assert mismatched == [f"mp-2: Na2 O1 in {files.STRUCTURES}, Li2O in the phase table"]
    with pytest.raises(DataError, match="structures_summary.csv.gz: 1 material ids have another formula"):
        structures.dft_molar_volumes(table, summary, max_mismatches=0)


def test_cif_formula_mismatch_is_named(tmp_path):
    (tmp_path / "mp2025").mkdir()
    cif = Structure(Lattice.cubic(4.2), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(fmt="cif").encode()
    with tarfile.open(tmp_path / files.CIFS, "w:xz") as tar:
        info = tarfile.TarInfo("cif/mp-1.cif")
        info.size = len(cif)
        tar.addfile(info, io.BytesIO(cif))
    table = pd.DataFrame({"material_id": ["mp-1"], "formula": ["LiI"], "volume_origin": ["dft"]})
    with pytest.raises(DataError, match=r"cifs.tar.xz: cif/mp-1.cif is NaCl, but the phase table has mp-1 as LiI"):
        build.add_dimensionality(table, tmp_path, workers=1)


def test_missing_raw_file_is_named(tmp_path):
    with pytest.raises(DataError, match=r"missing data file .*mp_hull_phases.csv: set SCREENING_SHARED"):
        build.snapshot_rows(tmp_path)


# --------------------------------------------------------------------------- artefacts
def test_dilute_supercell_rule_on_a_toy_table():
    """Li and Mg at 0 eV/atom.  LiMg49 at -0.027 eV/atom: 50 atoms per Li, -1.35 eV per Li from a
    per-atom energy inside DFT noise -> flagged.  LiMg29 at -0.02: -0.6 eV per Li, too weak a drive
    for a spurious voltage.  LiMg9 at -0.027: 10 atoms per Li, not dilute.  LiMg59 at -0.08 eV/atom:
    a formation energy beyond DFT noise (-4.8 eV per Li, but a real compound by this rule)."""
    from pymatgen.entries.computed_entries import ComputedEntry

    from screening.store import PhaseStore

    phases = {"Li": 0.0, "Mg": 0.0, "LiMg49": -0.027, "LiMg29": -0.02, "LiMg9": -0.027, "LiMg59": -0.08}
    entries = [ComputedEntry(f, e * Composition(f).num_atoms, entry_id=f"t-{f}") for f, e in phases.items()]
    table = PhaseStore.from_entries(entries).table.copy()
    assert build.flag_artefacts(table) == {"n_artefacts": 1}
    flagged = table.set_index("formula").artefact
    assert flagged["LiMg49"].startswith("dilute Li (1 per 50 atoms): -1.35 eV per Li from -0.027 eV/atom")
    assert flagged[["LiMg29", "LiMg9", "LiMg59", "Li", "Mg"]].tolist() == [""] * 5


@pytest.mark.data
def test_artefacts_flagged_where_they_decide_a_result(store):
    """`window Mg` with artefacts included: MP's LiMg149 (mp-866755, 150 atoms) sets a 4.10 V
    'reduction limit' and says so; without artefacts (the default) Mg takes up Li only at 0.22 V (LiMg5)."""
    from screening.results import CaveatKind
    from screening import Settings, window

    w = window(store, "Mg", settings=Settings(exclude_artefacts=False))
    assert w.reduction_limit_V == pytest.approx(4.104, abs=0.005) and w.reduction_products == ("LiMg149",)
    assert [c.kind for c in w.warnings] == [CaveatKind.DILUTE_SUPERCELL] and "mp-866755" in str(w.warnings[0])
    clean = window(store.without_artefacts(), "Mg")
    assert clean.reduction_limit_V == pytest.approx(0.216, abs=0.005) and clean.reduction_products == ("LiMg5",)
    assert not clean.warnings
    assert store.info_["n_artefacts"] == 14


@pytest.mark.data
def test_known_gga_failure_warns(store):
    """Graphite lithiates only to LiC12 on MP's GGA hull (LiC6 missing without van der Waals)."""
    from screening import interphase
    from screening.results import CaveatKind

    ip = interphase(store, "C")
    assert ip.products == ("LiC12",)
    assert any(c.kind is CaveatKind.GGA_FAILURE and "LiC6" in c.message for c in ip.warnings)
