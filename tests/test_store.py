"""Phase store against numbers MP publishes and the shared README's checked facts."""

import os

import numpy as np
import pandas as pd
import pytest

from screening.data import corrections, volumes
from screening.data.store import PhaseStore, open_store, parse_formula, write_table, read_table
from screening.data.user import add_phases
from screening.errors import DataError, InputError


def test_lii_formation_energy_matches_mp(store):
    assert store.lookup("LiI").formation_energy_eV_per_atom == pytest.approx(-1.4223, abs=2e-4)


def test_llzo_is_metastable_by_mp_value(store):
    row = store.lookup("Li7La3Zr2O12")
    assert row.material_id == "mp-942733"
    assert row.e_above_hull_eV_per_atom == pytest.approx(0.0068, abs=1e-4)


@pytest.mark.parametrize("formula", ["Li2O", "La2O3", "ZrO2", "Li2ZrO3", "La2Zr2O7", "Li2O2", "LiO8"])
def test_phases_on_hull(store, formula):
    assert store.lookup(formula).e_above_hull_eV_per_atom < 1e-6


def test_oxide_types_and_u_corrections(store):
    # peroxide / superoxide corrections (MP2020 values per O: -0.465 and -0.2865 eV ...)
    assert "peroxide" in store.lookup("Li2O2").correction_note
    assert "superoxide" in store.lookup("LiO8").correction_note
    mno = store.lookup("MnO")
    # GGA+U run with the Mn U correction of MP2020: -1.668 eV per Mn, -0.687 eV per O
    assert "U (Mn) -0.834" in mno.correction_note and "oxide) -0.344" in mno.correction_note
    # formation energy near experiment (NIST-JANAF: -385.2 kJ/mol = -1.996 eV/atom), MP2020's fit target
    assert mno.formation_energy_eV_per_atom == pytest.approx(-1.996, abs=0.03)
    assert mno.run_type == "GGA+U"
    assert store.lookup("MnI2").run_type == "GGA"  # iodide: no U in MP


def test_oxide_type_rule():
    from pymatgen.core import Composition

    kinds = {f: corrections.oxide_type(Composition(f)) for f in ["Li2O", "Li2O2", "KO2", "LiO8", "KO3", "OF2", "BaO2", "LiCoO2"]}
    assert kinds == {"Li2O": "oxide", "Li2O2": "peroxide", "KO2": "superoxide", "LiO8": "superoxide",
                     "KO3": "ozonide", "OF2": "oxide", "BaO2": "peroxide", "LiCoO2": "oxide"}


def test_build_report(store):
    rep = store.report
    assert rep["n_dropped_non_mp"] == 5
    assert rep["dropped_non_mp"] == ["Gd", "Ge", "Li", "Mg", "Na"]
    # ~1% of phases fall off their own system's hull after correction (shared README)
    assert 0.005 < rep["off_own_hull_fraction"] < 0.015
    assert store.lookup("Li").material_id == "mp-1018134"
    assert "NaN" in set(store.table.formula)  # sodium nitride survives CSV parsing


def test_incomplete_systems_flagged(store):
    inc = set(store.report["incomplete_systems"])
    assert {"Mg-O", "Fe-O", "Ge-O", "Mg-N"} <= inc
    assert store.warnings_for(["Mg", "O", "Li"]) and not store.warnings_for(["Li", "La", "Zr", "O"])


def test_band_gaps_and_volumes(store):
    lii = store.lookup("LiI")
    assert lii.band_gap_eV == pytest.approx(4.3818, abs=1e-4)
    # LiI: median of the three LiI rows (4.076, 4.06, 4.08) -> 4.076 g/cm3
    assert lii.density_g_cm3 == pytest.approx(4.076)
    assert lii.molar_volume_cm3_per_mol == pytest.approx(133.845 / 4.076, rel=1e-4)
    assert "rows 0,1,2" in lii.volume_source
    info = store.info()
    assert info["n_phases"] > 31000 and info["n_band_gaps"] > 28000 and info["n_volumes"] >= 90


def test_density_rules_pick_polymorph_and_drop_suspect():
    d = pd.DataFrame({
        "formula": ["TiO2", "TiO2", "LiNbO3", "LiNbO3", "LiH"],
        "phase": ["rutile", "anatase", "trigonal", "trigonal", "cubic"],
        "density_g_cm3": ["4.23", "3.78", "4.64", "4.30", "0.76-0.77"],
        "source_url": ["u"] * 5,
        "notes": ["", "", "", "treat as suspect", ""],
    })
    ch = volumes.choose_densities(d, {"TiO2": "rutile"})
    assert ch["TiO2"].density_g_cm3 == 4.23
    assert ch["LiNbO3"].density_g_cm3 == 4.64
    assert ch["LiH"].density_g_cm3 == pytest.approx(0.765)


def test_selection_is_a_chemical_system(store):
    sub = store.select(["Li", "La", "Zr", "O"])
    assert set("-".join(sub.chemsys).split("-")) <= {"Li", "La", "Zr", "O"}
    assert {"Li7La3Zr2O12", "Li2O", "La2O3", "ZrO2", "Li6Zr2O7"} <= set(sub.formula)


def test_parse_formula_errors():
    for bad, word in [("Xx2O", "unknown element"), ("li2o", "malformed"), ("", "empty"), ("Li2O-", "malformed")]:
        with pytest.raises(InputError, match=word):
            parse_formula(bad)


def test_missing_shared_data_names_the_file(tmp_path):
    with pytest.raises(DataError, match="mp_hull_phases.csv.*SCREENING_SHARED"):
        open_store(shared=tmp_path, cache=tmp_path)


def test_cache_roundtrip_is_atomic(tmp_path, store):
    path = tmp_path / "t.parquet"
    write_table(store.table.head(50), {"a": 1}, path)
    t, rep = read_table(path)
    assert rep == {"a": 1} and len(t) == 50
    assert list(tmp_path.iterdir()) == [path]


def test_user_phase_merges_and_places_on_hull(store, tmp_path):
    # a hypothetical LiI polymorph 30 meV/atom above the hull
    new = add_phases(store, [{"formula": "LiI", "name": "LiI-wz", "e_above_hull_eV_per_atom": 0.030, "band_gap_eV": 4.0}])
    row = new.table[new.table.phase_id == "user:LiI-wz"].iloc[0]
    assert row.e_above_hull_eV_per_atom == pytest.approx(0.030, abs=1e-9)
    assert len(new.table) == len(store.table) + 1
    csv = tmp_path / "u.csv"
    csv.write_text("formula,formation_energy_eV_per_atom\nLi3I,-1.0\n")
    from screening.data.user import merge_user_phases

    s2 = merge_user_phases(store, csv)
    r = s2.lookup("Li3I")
    assert r.formation_energy_eV_per_atom == pytest.approx(-1.0)
    # the LiI + 2 Li tie line is at -1.4223*2/4 = -0.711 eV/atom: -1.0 lies below it, on the hull
    assert r.e_above_hull_eV_per_atom == pytest.approx(0.0, abs=1e-9)
    bad = tmp_path / "bad.csv"
    bad.write_text("formula,energy_eV,formation_energy_eV_per_atom\nLiI,-3,-1\n")
    with pytest.raises(DataError, match="exactly one"):
        merge_user_phases(store, bad)


def test_store_is_pure_data(store):
    assert isinstance(store, PhaseStore)
    assert np.isfinite(store.table.energy_eV).all()


def test_atomic_write_replaces_whole_files_only(tmp_path):
    from screening.files import atomic_write

    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_write(target) as tmp:
        tmp.write_text("new")
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == (0o666 & ~umask)
