"""The phase store: entries in, lookups, immutability, incremental updates equal full rebuilds."""

import json

import numpy as np
import pandas as pd
import pytest
from pymatgen.entries.computed_entries import ComputedEntry

from conftest import entry
from screening.errors import InputError
from screening.phases import finish
from screening.store import PhaseStore, add_phases


def test_from_entries_derives_formation_and_hull(li_i):
    t = li_i.table.set_index("phase_id")
    assert t.loc["t-lii", "formation_energy_eV_per_atom"] == pytest.approx(-1.4)
    assert t.loc["t-lii3", "e_above_hull_eV_per_atom"] == pytest.approx(0.2)
    assert t.loc["t-lii", "band_gap_eV"] == 6.0 and t.loc["t-lii", "band_gap_origin"] == "pbe"
    assert len(li_i) == 4 and li_i.lookup("LiI").phase_id == "t-lii"


def test_from_entries_needs_elemental_references():
    with pytest.raises(InputError, match="no elemental entry for I"):
        PhaseStore.from_entries([entry("Li", 0.0, "a"), entry("LiI", -1.0, "b")])


def test_compatibility_scheme_is_applied_when_given():
    from pymatgen.entries.compatibility import MaterialsProject2020Compatibility

    raw = [ComputedEntry("Li", -1.9, entry_id="li", parameters={"run_type": "GGA"}),
           ComputedEntry("O2", -9.86, entry_id="o2", parameters={"run_type": "GGA"}),
           ComputedEntry("Li2O", -14.3, entry_id="li2o", parameters={"run_type": "GGA"}, data={"oxide_type": "oxide"})]
    s = PhaseStore.from_entries(raw, compatibility=MaterialsProject2020Compatibility(check_potcar=False))
    li2o = s.lookup("Li2O")
    assert li2o.correction_eV == pytest.approx(-0.687, abs=1e-3)  # MP2020 oxide correction per O
    e = s.entries(["Li", "O"])
    got = next(x for x in e if x.entry_id == "li2o")
    assert got.uncorrected_energy == pytest.approx(-14.3) and got.energy == pytest.approx(li2o.energy_eV)
    assert "oxide" in got.energy_adjustments[0].name


def test_lookup_by_formula_id_composition_entry(li_i):
    from pymatgen.core import Composition

    assert li_i.lookup("LiI:t-lii").phase_id == "t-lii"
    assert li_i.lookup("t-lii3").formula == "LiI3"
    assert li_i.lookup(Composition("Li2I2")).phase_id == "t-lii"
    assert li_i.lookup("Li0.5I0.5").phase_id == "t-lii"  # fractional formulas reduce
    with pytest.raises(InputError, match="is LiI, not LiI3"):
        li_i.lookup("LiI3:t-lii")
    with pytest.raises(InputError, match="not in the phase store"):
        li_i.lookup("Li3I")
    with pytest.raises(TypeError, match="Structure has no energy"):
        from pymatgen.core import Lattice, Structure

        li_i.lookup(Structure(Lattice.cubic(3), ["Li"], [[0, 0, 0]]))


def test_a_new_entry_is_used_as_given(li_i):
    from screening import window

    # a Li3I phase below the LiI + 2 Li tie line (-0.7 eV/atom) becomes a hull phase of a copy of the store
    new = entry("Li3I", -0.9, "my-dft")
    w = window(li_i, new)
    assert w.material_id == "my-dft" and w.e_above_hull_eV_per_atom == 0.0
    assert w.oxidation_products == ("LiI",)
    assert "my-dft" not in set(li_i.table.phase_id)  # the original store is unchanged


def test_with_phases_incremental_equals_full_rebuild(li_i):
    rows = add_phases(li_i, [{"formula": "Li3I", "formation_energy_eV_per_atom": -0.8, "name": "x"}]).table
    full = finish(rows)
    cols = ["energy_eV", "formation_energy_eV_per_atom", "e_above_hull_eV_per_atom"]
    pd.testing.assert_frame_equal(rows[cols].reset_index(drop=True), full[cols].reset_index(drop=True), atol=1e-12, rtol=0)
    assert rows.set_index("phase_id").loc["user:x", "e_above_hull_eV_per_atom"] == pytest.approx(0.0, abs=1e-12)
    assert rows.set_index("phase_id").loc["t-lii3", "e_above_hull_eV_per_atom"] == pytest.approx(0.2)


@pytest.mark.data
def test_incremental_update_equals_rebuild_on_mp_data(store):
    sub = PhaseStore(store.select(["Li", "La", "Zr", "O", "I"]))
    new = add_phases(sub, [{"formula": "Li3IO", "e_above_hull_eV_per_atom": -0.05, "name": "h"},
                           {"formula": "LaIO2", "e_above_hull_eV_per_atom": 0.01, "name": "g"}])
    full = finish(new.table)
    np.testing.assert_allclose(new.table.e_above_hull_eV_per_atom, full.e_above_hull_eV_per_atom, atol=1e-9)
    np.testing.assert_allclose(new.table.formation_energy_eV_per_atom, full.formation_energy_eV_per_atom, atol=1e-12)


def test_duplicate_ids_refused(li_i):
    with pytest.raises(InputError, match="already in the store"):
        li_i.with_entries([entry("LiI", -1.0, "t-lii")])


def test_store_pickles_as_data(li_i):
    import pickle

    copy = pickle.loads(pickle.dumps(li_i))
    pd.testing.assert_frame_equal(copy.table, li_i.table)
    assert copy.lookup("LiI").phase_id == "t-lii"


def test_user_phase_validation(li_i):
    from screening.errors import DataError

    for record, word in [({"formula": "Li3I", "energy_eV": "inf"}, "out of range"),
                         ({"formula": "Li3I", "energy_eV": "nan"}, "out of range"),
                         ({"formula": "Li3I", "energy_eV": -1e6}, "out of range"),
                         ({"formula": "Li3I", "energy_eV": -3, "band_gap_eV": -1}, "band_gap_eV"),
                         ({"formula": "Li3I", "energy_eV": -3, "density_g_cm3": 0}, "density_g_cm3"),
                         ({"formula": "Li3I", "energy_eV": "abc"}, "not a number"),
                         ({"formula": "LiO0", "energy_eV": -3}, "zero"),
                         ({"formula": "Li3I"}, "exactly one")]:
        with pytest.raises(DataError, match=word):
            add_phases(li_i, [record])


@pytest.mark.data
def test_mp_entries_show_their_adjustments(store):
    e = next(x for x in store.entries(["Li", "O"]) if x.composition.reduced_formula == "Li2O" and x.entry_id == store.lookup("Li2O").phase_id)
    assert e.energy == pytest.approx(store.lookup("Li2O").energy_eV)
    assert e.uncorrected_energy != e.energy and any("oxide" in a.name for a in e.energy_adjustments)
    json.dumps(e.as_dict())
