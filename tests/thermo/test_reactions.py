"""Interface reactions: hand-derived on toy stores; pymatgen's InterfacialReactivity on MP data."""

import pytest

from screening.errors import InputError
from screening import react, reaction_curve
from screening.thermo.reference import pymatgen_reactivity


def test_li2o_zro2_forms_li2zro3(li_zr_o):
    r = react(li_zr_o, "Li2O", "ZrO2")
    # Li2O + ZrO2 -> Li2ZrO3 releases 0.05 eV/atom at x(Li2O) = 3/6 atoms
    assert r.reaction_energy_eV_per_atom == pytest.approx(-0.05)
    assert r.mixing_ratio == pytest.approx(0.5) and r.products == ("Li2ZrO3",)
    assert r.reaction == "Li2O + ZrO2 -> Li2ZrO3"
    assert r.within_dft_error is False and r.material_ids == ("t-li2o", "t-zro2")


def test_metastable_reactant_is_hull_referenced(li_i):
    r = react(li_i, "LiI3", "Li")
    # hull-referenced LiI3 (= LiI + I2 at -0.7 eV/atom) + 2 Li -> 3 LiI: curve minimum at x = 4/6
    assert r.e_above_hull_eV_per_atom[0] == pytest.approx(0.2)
    assert r.reaction_energy_eV_per_atom == pytest.approx((3 * -2.8 - 4 * -0.7) / 6)
    assert r.raw_reaction_energy_eV_per_atom == pytest.approx((3 * -2.8 - 4 * -0.5) / 6)  # incl. its 0.2 eV/atom


def test_open_to_li_reports_own_decomposition(li_zr_o):
    # at 3.5 V Li2ZrO3 lies outside its window (0.075-3.15 V): it decomposes to ZrO2 + O2 on its own
    r = react(li_zr_o, "Li2ZrO3", "ZrO2", open_li_V=3.5)
    # per non-Li atom: Phi(Li2ZrO3) = (E - 2 mu) / 4 with mu = -3.5; decomposed: (E(ZrO2) + 0.5 E(O2)) / 4
    own = (-17.7 + 2 * 3.5) / 4
    decomposed = (-11.4 + 0.0) / 4
    assert r.decomposition_energy_eV_per_atom == pytest.approx(decomposed - own)  # x = 1 at the minimum
    assert r.reaction_energy_with_decomposition_eV_per_atom == pytest.approx(decomposed - own)
    assert r.reaction_energy_eV_per_atom == pytest.approx(0.0)
    kinds = [c.kind.value for c in r.warnings]
    assert kinds.count("outside_window") == 1 and "Li2ZrO3" in str(r.warnings[0])


def test_reaction_curve_kinks(li_zr_o):
    kinks = reaction_curve(li_zr_o, "Li2O", "ZrO2")
    assert [round(k.x, 6) for k in kinks] == [0.0, 0.5, 1.0]
    assert kinks[1].energy_eV_per_atom == pytest.approx(-0.05) and kinks[1].products == "Li2ZrO3"


@pytest.mark.parametrize("args,word", [(("LiI", "LiI"), "both"), (("Xx2O", "Li"), "unknown element"),
                                       (("LiI", "Li", -0.5), "between 0 and 10"), (("LiI", "Li", float("nan")), "between"),
                                       (("LiBr", "Li"), "element")])
def test_bad_input(li_i, args, word):
    with pytest.raises(InputError, match=word):
        react(li_i, *args)


# --------------------------------------------------------------------------- MP data
@pytest.mark.data
def test_llzo_li_seed_case(store):
    r = react(store, "Li7La3Zr2O12", "Li")
    assert r.reaction_energy_eV_per_atom == pytest.approx(-0.0104, abs=5e-4)
    assert set(r.products) == {"La2O3", "Li2O", "Zr4O"}
    # LLZO's own 6.8 meV/atom metastability is reported apart, not as reactivity
    assert r.raw_reaction_energy_eV_per_atom == pytest.approx(-0.0157, abs=5e-4)
    assert r.e_above_hull_eV_per_atom[0] == pytest.approx(0.0068, abs=1e-4)
    assert r.within_dft_error  # |E| < 20 meV/atom


@pytest.mark.data
def test_i2_li(store):
    r = react(store, "I2", "Li")
    assert r.reaction_energy_eV_per_atom == pytest.approx(-1.4223, abs=2e-4)
    assert r.products == ("LiI",) and r.mixing_ratio == pytest.approx(0.5)
    assert react(store, "LiI", "Li").mixing_ratio is None


PAIRS = [("Li7La3Zr2O12", "Li"), ("LiI", "Li7La3Zr2O12"), ("Li3PS4", "Li"), ("Li7La3Zr2O12", "LiCoO2"),
         ("Al2O3", "Li7La3Zr2O12"), ("Li3N", "Li7La3Zr2O12"), ("ZnO", "Li")]


@pytest.mark.data
@pytest.mark.parametrize("a,b", PAIRS)
def test_closed_reaction_equals_pymatgen(store, a, b):
    r = react(store, a, b)
    ir = pymatgen_reactivity(store, a, b, use_hull_energy=True)
    x_min, e_min = ir.minimum
    assert r.reaction_energy_eV_per_atom == pytest.approx(e_min, abs=1e-6)
    if r.mixing_ratio is not None:
        assert r.mixing_ratio == pytest.approx(x_min, abs=1e-6)
    raw = pymatgen_reactivity(store, a, b, use_hull_energy=False).minimum[1]
    assert r.raw_reaction_energy_eV_per_atom == pytest.approx(raw, abs=1e-6)
    kinks = sorted((float(x), float(e)) for _, x, e, _, _ in ir.get_kinks())
    ours = [(k.x, k.energy_eV_per_atom) for k in reaction_curve(store, a, b)]
    assert [x for x, _ in ours] == pytest.approx([x for x, _ in kinks], abs=1e-6)
    assert [e for _, e in ours] == pytest.approx([e for _, e in kinks], abs=1e-6)


@pytest.mark.data
@pytest.mark.parametrize("a,b,volts", [("Li7La3Zr2O12", "LiCoO2", 3.9), ("Li7La3Zr2O12", "ZnO", 0.0),
                                       ("LiI", "Li7La3Zr2O12", 1.0), ("Li3PO4", "LiCoO2", 4.2)])
def test_open_reaction_equals_pymatgen(store, a, b, volts):
    r = react(store, a, b, open_li_V=volts)
    x_min, e_min = pymatgen_reactivity(store, a, b, open_li_V=volts).minimum
    assert r.reaction_energy_eV_per_atom == pytest.approx(e_min, abs=1e-6)
    if r.mixing_ratio is not None and e_min < -1e-3:
        assert r.mixing_ratio == pytest.approx(x_min, abs=1e-6)
    with_dec = pymatgen_reactivity(store, a, b, open_li_V=volts, include_no_mixing_energy=True).minimum[1]
    assert r.reaction_energy_with_decomposition_eV_per_atom == pytest.approx(with_dec, abs=1e-6)


@pytest.mark.data
def test_llzo_licoo2_at_the_cathode_voltage(store):
    """Richards et al. (Chem. Mater. 2016, Fig. 4): LLZO | LiCoO2 at the cathode voltage, about -0.23 eV
    per non-Li atom without mixing and -0.24 with; nearly all of it is LLZO's own oxidation."""
    r = react(store, "Li7La3Zr2O12", "LiCoO2", open_li_V=3.9)
    assert r.reaction_energy_eV_per_atom == 0.0  # the mixture adds nothing beyond the decomposition
    assert r.decomposition_energy_eV_per_atom == pytest.approx(-0.2858, abs=1e-3)
    assert r.reaction_energy_with_decomposition_eV_per_atom == pytest.approx(-0.2858, abs=1e-3)
    assert {c.subject for c in r.warnings if c.kind.value == "outside_window"} == {"Li7La3Zr2O12", "LiCoO2"}
