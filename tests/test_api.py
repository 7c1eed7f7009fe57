"""The Python API keeps the README's promises: entries anywhere a phase is named, result classes
importable from ``screening``, arguments checked at the boundary (TypeError for wrong types,
ValueError naming the argument), every Settings field honoured."""


import pandas as pd
import pytest
from pymatgen.core import Composition
from pymatgen.entries.computed_entries import ComputedEntry

import screening
from screening import Settings, interphase, lithiate, react, screen, window
from screening.errors import InputError


def _copy(store, formula, eid):
    p = store.resolve(formula)
    return ComputedEntry(p.composition, p.energy_eV, entry_id=eid)


def test_result_classes_importable_and_round_trip(li_i):
    from screening import Interphase, LithiationPath, Phase, Reaction, Window

    w = window(li_i, "LiI")
    assert Window.from_dict(w.as_dict()) == w
    assert Reaction.from_dict(react(li_i, "LiI", "Li").as_dict()) == react(li_i, "LiI", "Li")
    ip = interphase(li_i, "I2", electrolyte=None)
    assert Interphase.from_dict(ip.as_dict()) == ip
    assert LithiationPath.from_dict(lithiate(li_i, "I2").as_dict()) == lithiate(li_i, "I2")
    p = li_i.resolve("LiI")
    assert isinstance(p, Phase) and Phase.from_dict(p.as_dict()) == p
    assert set(screening.__all__) >= {"Window", "Reaction", "Interphase", "LithiationPath", "Phase", "ScreenRow"}


def test_an_entry_in_no_table_is_placed_not_copied(li_i):
    """A new Li3I entry below the LiI + Li tie line (-0.7 eV/atom): a hull phase of its own; the
    store is not copied and not changed."""
    new = ComputedEntry("Li3I", -0.9 * 4, entry_id="my-dft")
    p = li_i.resolve(new)
    assert p.phase_id == "my-dft" and p.e_above_hull_eV_per_atom == 0.0
    assert p.formation_energy_eV_per_atom == pytest.approx(-0.9)  # Li, I2 at 0 eV/atom
    above = li_i.resolve(ComputedEntry("Li3I", -0.6 * 4, entry_id="my-dft-2"))
    assert above.e_above_hull_eV_per_atom == pytest.approx(0.1)
    w = window(li_i, new)
    assert w.material_id == "my-dft" and w.oxidation_products == ("LiI",)
    assert len(li_i) == 4 and "my-dft" not in set(li_i.column("phase_id"))


@pytest.mark.data
def test_entries_equal_to_stored_phases_give_the_stored_numbers(store):
    """An electrolyte, a candidate and a reactant given as entries (new ids, the stored energies)
    give the numbers of the stored phases."""
    el = _copy(store, "Li7La3Zr2O12", "my-llzo")
    by_name = screen(store, ["I2", "LiF", "ZnO"]).set_index("candidate")
    by_entry = screen(store, ["I2", "LiF", "ZnO"], electrolyte=el).set_index("candidate")
    cols = ["score", "electrolyte_reaction_energy_eV_per_atom", "li_reaction_energy_eV_per_atom", "volume_ratio"]
    pd.testing.assert_frame_equal(by_entry[cols], by_name[cols])
    lif = _copy(store, "LiF", "my-lif")
    row = screen(store, [lif, "I2"]).set_index("candidate").loc["my-lif"]
    assert row.formula == "LiF" and row.kind == "interlayer" and row.error == ""
    assert row.score == pytest.approx(by_name.loc["LiF", "score"], abs=1e-12)
    w = window(store, _copy(store, "Li3N", "my-li3n"))
    assert (w.reduction_limit_V, w.oxidation_limit_V) == pytest.approx(
        (window(store, "Li3N").reduction_limit_V, window(store, "Li3N").oxidation_limit_V), abs=1e-12)
    ip = interphase(store, _copy(store, "I2", "my-i2"), electrolyte=el)
    assert ip.products == ("LiI",) and ip.electrolyte_reaction_energy_eV_per_atom == pytest.approx(
        interphase(store, "I2").electrolyte_reaction_energy_eV_per_atom, abs=1e-12)


@pytest.mark.data
def test_settings_exclude_artefacts_is_honoured(store):
    """Mg's window is decided by the dilute-supercell artefact LiMg149 (4.10 V) when artefacts
    are included; by default they are excluded (0.22 V): through Settings, in window() and in screen()."""
    assert window(store, "Mg").reduction_limit_V == pytest.approx(0.22, abs=0.01)
    s = Settings(exclude_artefacts=False)
    assert window(store, "Mg", settings=s).reduction_limit_V == pytest.approx(4.10, abs=0.01)
    assert screen(store, ["Mg"], s).reduction_limit_V.iloc[0] == pytest.approx(4.10, abs=0.01)
    assert screen(store, ["Mg"]).reduction_limit_V.iloc[0] == pytest.approx(0.22, abs=0.01)
    with pytest.raises(InputError, match="left out as a dilute-supercell artefact"):
        window(store, "LiMg149")


def test_composition_and_phase_items(li_i):
    assert window(li_i, Composition("LiI")) == window(li_i, "LiI")
    assert window(li_i, li_i.resolve("LiI")) == window(li_i, "LiI")
