"""Windows: hand-derived on toy stores; the seed case and pymatgen's element profile on MP data."""

import pytest

from screening.errors import InputError
from screening.thermo.reference import pymatgen_window
from screening import staircase, window


# --------------------------------------------------------------------------- toy systems
def test_lii_window_is_its_formation_energy(li_i):
    w = window(li_i, "LiI")
    assert w.reduction_limit_V == 0.0 and w.stable_against_li
    assert w.oxidation_limit_V == pytest.approx(2.8, abs=1e-5)  # -dG_f(LiI) / e
    assert w.oxidation_products == ("I",) and w.material_id == "t-lii"


def test_metastable_phase_is_stabilized_and_its_e_above_hull_reported(li_i):
    w = window(li_i, "LiI3")
    assert w.e_above_hull_eV_per_atom == pytest.approx(0.2)
    # stabilized onto the LiI-I tie line, LiI3 is stable only at the tie line's potential (2.8 V)
    assert w.reduction_limit_V == pytest.approx(2.8, abs=1e-4) and w.oxidation_limit_V == pytest.approx(2.8, abs=1e-4)
    assert w.reduction_products == ("LiI",)


def test_zro2_window_and_staircase(li_zr_o):
    # ZrO2 + 4/3 Li -> 2/3 Li2ZrO3 + 1/3 Zr: dE = -0.4 eV per 4/3 Li -> 0.3 V
    w = window(li_zr_o, "ZrO2")
    assert w.reduction_limit_V == pytest.approx(0.3, abs=1e-5) and w.reduction_products == ("Li2ZrO3", "Zr")
    assert w.oxidation_limit_V is None
    w2 = window(li_zr_o, "Li2ZrO3")  # + 4 Li -> 3 Li2O + Zr at 0.075 V; -> ZrO2 + O2 at 3.15 V
    assert w2.reduction_limit_V == pytest.approx(0.075, abs=1e-5)
    assert w2.oxidation_limit_V == pytest.approx(3.15, abs=1e-5) and w2.oxidation_products == ("O2", "ZrO2")
    steps = staircase(li_zr_o, "Li2ZrO3")
    assert [round(s.low_V, 5) for s in steps] == [0.0, 0.075, 3.15]
    assert [s.li_uptake_per_formula_unit for s in steps] == pytest.approx([4.0, 0.0, -2.0])
    assert steps[1].phases == ("Li2ZrO3",) and steps[-1].high_V is None


def test_li_metal_has_no_window(li_i):
    with pytest.raises(InputError, match="reference electrode"):
        window(li_i, "Li")


# --------------------------------------------------------------------------- MP data


@pytest.mark.data
def test_llzo_window_seed_case(store):
    w = window(store, "Li7La3Zr2O12")
    assert w.reduction_limit_V == pytest.approx(0.0465, abs=0.005)  # Zhu et al. 2015: 0.05 V
    assert w.oxidation_limit_V == pytest.approx(2.885, abs=0.01)  # Zhu et al. 2015: 2.91 V
    assert set(w.reduction_products) == {"La2O3", "Li2O", "Zr3O"}  # Zr4+ reduced to a suboxide
    assert set(w.oxidation_products) == {"La2O3", "Li2O2", "Li6Zr2O7"}
    assert w.e_above_hull_eV_per_atom == pytest.approx(0.0068, abs=1e-4)


@pytest.mark.data
def test_lii_window(store):
    w = window(store, "LiI")
    assert w.stable_against_li and w.reduction_limit_V == 0.0
    assert w.oxidation_limit_V == pytest.approx(2.845, abs=0.01)
    assert window(store, "I2").oxidation_limit_V is None  # nothing to delithiate


@pytest.mark.data
@pytest.mark.parametrize("formula", ["Li7La3Zr2O12", "LiI", "LiF", "Li3N", "Li2O", "Li3PO4", "LiNbO3", "Li2ZrO3",
                                     "LiAlO2", "I2", "Li3PS4"])
def test_window_equals_pymatgen_element_profile(store, formula):
    w = window(store, formula)
    low, high = pymatgen_window(store, formula)
    assert w.reduction_limit_V == pytest.approx(low, abs=1e-4)
    assert (w.oxidation_limit_V is None) == (high is None)
    if high is not None:
        assert w.oxidation_limit_V == pytest.approx(high, abs=1e-4)


@pytest.mark.data
def test_staircase_equals_pymatgen_profile(store):
    from pymatgen.core import Composition, Element

    from screening.thermo.reference import _stabilized

    st = staircase(store, "Li7La3Zr2O12")
    own = [s for s in st if s.phases == ("Li7La3Zr2O12",)]
    assert len(own) == 1 and own[0].low_V == pytest.approx(0.0465, abs=0.005)
    assert st[0].low_V == 0.0 and st[-1].high_V is None
    assert st[0].li_uptake_per_formula_unit == pytest.approx(7.0)  # Li7La3Zr2O12 + 7 Li at 0 V
    # every voltage where the equilibrium changes is one of pymatgen's critical potentials
    from pymatgen.analysis.phase_diagram import PhaseDiagram

    row = store.lookup("Li7La3Zr2O12")
    entries = store.entries(["Li", "La", "Zr", "O"])
    target = next(e for e in entries if e.entry_id == row.phase_id)
    pd_, e = _stabilized(PhaseDiagram(entries), entries, target)
    mu0 = pd_.el_refs[Element("Li")].energy_per_atom
    prof = pd_.get_element_profile(Element("Li"), Composition(row.composition).reduced_composition)
    theirs = sorted({round(max(0.0, mu0 - p["chempot"]), 4) for p in prof})
    ours = sorted({round(s.low_V, 4) for s in st})
    assert ours == pytest.approx(theirs, abs=2e-4)
