"""Interphases and lithiation paths: hand-derived on a toy Li-Zr-O store; the seed case on MP data."""

import pytest

from screening import interphase, lithiate
from screening.results import Character


def test_zro2_lithiation_stages(li_zr_o):
    # ZrO2 -> 2/3 Li2ZrO3 + 1/3 Zr below 0.3 V -> 2 Li2O + Zr below 0.075 V (hand-derived grand potentials)
    path = lithiate(li_zr_o, "ZrO2")
    assert [s.voltage_V for s in path.stages] == pytest.approx([0.3, 0.075], abs=1e-5)  # 1e-6 eV/atom stabilization margin
    assert [s.li_per_formula_unit for s in path.stages] == pytest.approx([4 / 3, 4.0])
    assert path.stages[0].products == ("Li2ZrO3", "Zr") and path.stages[0].product_amounts_per_formula_unit == pytest.approx((2 / 3, 1 / 3))
    assert path.stages[1].products == ("Li2O", "Zr")
    assert path.stages[1].electronic_character is Character.MIXED  # Zr metal (gap 0)
    assert path.stage_at(0.2) == path.stages[0] and path.stage_at(0.5) is None and path.stage_at(0.0) == path.stages[1]


def test_interphase_at_li_metal_and_at_a_voltage(li_zr_o):
    ip = interphase(li_zr_o, "ZrO2", electrolyte="Li2ZrO3")
    # ZrO2 + 4 Li -> 2 Li2O + Zr: dE = 2(-6) - (-11.4) = -0.6 eV over 7 atoms
    assert ip.products == ("Li2O", "Zr") and ip.li_consumed_per_formula_unit == pytest.approx(4.0)
    assert ip.li_reaction_energy_eV_per_atom == pytest.approx(-0.6 / 7)
    assert ip.li_reaction_energy_eV_per_li == pytest.approx(-0.15)
    first = interphase(li_zr_o, "ZrO2", electrolyte="Li2ZrO3", voltage_V=0.2)
    assert first.products == ("Li2ZrO3", "Zr") and first.voltage_V == 0.2
    # Li2O | Li2ZrO3: stable pair; Zr | Li2ZrO3: no reaction either (Zr + Li2ZrO3 has no lower combination)
    assert ip.electrolyte_reaction_energy_eV_per_atom == pytest.approx(0.0, abs=1e-9)


def test_stable_interlayer_stays_itself(li_i):
    ip = interphase(li_i, "LiI", electrolyte=None)
    assert ip.products == ("LiI",) and ip.li_consumed_per_formula_unit == 0
    assert ip.volume_ratio == 1.0 and ip.electronic_character is Character.INSULATING  # nothing forms
    assert lithiate(li_i, "LiI").stages == ()


def test_amounts_per_formula_unit_as_written(li_i):
    ip = interphase(li_i, "I2", electrolyte=None)
    assert ip.product_amounts_per_formula_unit == pytest.approx((2.0,)) and ip.li_consumed_per_formula_unit == pytest.approx(2.0)
    assert ip.li_reaction_energy_eV_per_atom == pytest.approx(-1.4)  # 2 LiI from I2 + 2 Li: -5.6 eV / 4 atoms


# --------------------------------------------------------------------------- MP data
@pytest.mark.data
def test_i2_forms_lii(store):
    ip = interphase(store, "I2")
    assert ip.products == ("LiI",) and ip.product_amounts_per_formula_unit == pytest.approx((2.0,))
    assert ip.li_reaction_energy_eV_per_atom == pytest.approx(-1.4223, abs=2e-4)
    assert 1.26 <= ip.volume_ratio <= 1.28  # V(2 LiI)/V(I2) from measured densities; 1.26 reported
    assert ip.volume_note == "measured densities"
    assert ip.electronic_character is Character.INSULATING
    assert -0.02 < ip.electrolyte_reaction_energy_eV_per_atom < 0 and ip.within_dft_error


@pytest.mark.data
def test_al2o3_lithiates_through_li_al_o_stages(store):
    """Han et al. (Nat. Mater. 2017) find a lithiated Li-Al-O interphase from ALD Al2O3 on garnet."""
    path = lithiate(store, "Al2O3")
    first = path.stages[0]
    assert first.products == ("Al", "LiAl5O8") and first.voltage_V == pytest.approx(1.22, abs=0.01)
    assert [s for s in path.stages if s.products == ("Al", "LiAlO2")][0].voltage_V == pytest.approx(0.81, abs=0.01)
    assert any("Li5AlO4" in s.products for s in path.stages)
    assert "Li2O" in path.stages[-1].products and "Li2O" not in first.products
    # the last stage is the interphase with Li metal
    assert path.stages[-1].products == interphase(store, "Al2O3").products


@pytest.mark.data
@pytest.mark.parametrize("precursor", ["Al2O3", "SnO2", "I2", "ZnO", "Si", "TiO2", "Nb2O5"])
def test_lithiation_path_equals_pymatgen_element_profile(store, precursor):
    """Every stage of ``lithiate`` is a step of pymatgen's element profile: the same voltages, Li
    uptakes and products (pymatgen labels a step by the lower end of its voltage range, lithiate by
    the voltage at which the stage is reached, so the lists are compared as sets)."""
    from pymatgen.analysis.phase_diagram import PhaseDiagram
    from pymatgen.core import Composition, Element

    from screening.thermo.reference import _stabilized

    row = store.lookup(precursor)
    entries = store.entries([e.symbol for e in Composition(row.composition).elements] + ["Li"])
    target = next(e for e in entries if e.entry_id == row.phase_id)
    pd_, _ = _stabilized(PhaseDiagram(entries), entries, target)
    mu0 = pd_.el_refs[Element("Li")].energy_per_atom
    prof = pd_.get_element_profile(Element("Li"), Composition(precursor))
    steps = [p for p in prof if p["evolution"] > 1e-6]  # Li taken up per formula unit
    path = lithiate(store, precursor)
    assert len(path.stages) == len(steps) > 0
    ours_v = sorted(s.voltage_V for s in path.stages)
    theirs_v = sorted(mu0 - p["chempot"] for p in prof if mu0 - p["chempot"] > 1e-6)
    assert ours_v == pytest.approx(theirs_v, abs=1e-4)
    by_li = {round(p["evolution"], 4): p for p in steps}
    for s in path.stages:
        reaction = by_li[round(s.li_per_formula_unit, 4)]["reaction"]
        assert set(s.products) == {c.reduced_formula for c in reaction.products}
