"""The interphase as a film: thickness, Li consumed and area-specific resistance, on hand-made
records with hand-derived numbers (the seed case: 0.5 um I2 -> 0.64 um LiI)."""

import math
from dataclasses import dataclass

import pytest

from screening.data.table import Phase
from screening.data.transport import arrhenius
from screening.layer import bruggeman, film

# I2 4.933 g/cm3 -> 25.73 cm3 per mol of I; LiI 4.076 g/cm3 -> 32.84 cm3/mol; Li 0.534 g/cm3 -> 13.0 cm3/mol
V_I, V_LII, V_LI = 126.904 / 4.933, 133.845 / 4.076, 6.94 / 0.534


def phase(formula, vm, origin="measured", sigma=None, ea=None):
    return Phase(phase_id=f"t-{formula}", formula=formula, composition=formula, molar_volume_cm3_per_mol=vm,
                 li_conductivity_origin=origin, li_conductivity_S_per_cm=sigma, li_activation_energy_eV=ea,
                 li_conductivity_source=f"toy {formula}")


@dataclass
class Product:
    phase: Phase
    amount: float


LI = phase("Li", V_LI, "electronic")


def test_seed_film_thickness_li_consumed_and_resistance():
    """0.5 um of I2 takes 1 Li per I: 0.5e-4 cm / 25.73 cm3/mol = 1.943e-6 mol Li/cm2 = 0.0521 mAh/cm2
    = 0.253 um of Li; LiI is 1.276x the I2 volume: 0.638 um; at 6.8e-8 S/cm its ASR is
    0.638e-4 cm / 6.8e-8 S/cm = 938 ohm cm2."""
    i2 = phase("I2", V_I, "no Li", 0.0)
    f = film(i2, [Product(phase("LiI", V_LII, sigma=6.8e-8, ea=0.43), 1.0)], 1.0, LI, 0.5)
    assert f.interphase_thickness_um == pytest.approx(0.5 * V_LII / V_I)
    assert f.interphase_thickness_um == pytest.approx(0.638, abs=1e-3)
    assert f.li_consumed_mol_per_cm2 == pytest.approx(0.5e-4 / V_I)
    assert f.li_consumed_mAh_per_cm2 == pytest.approx(0.5e-4 / V_I * 96485.33212 / 3.6)
    assert f.li_consumed_mAh_per_cm2 == pytest.approx(0.0521, abs=1e-4)
    assert f.li_consumed_um == pytest.approx(0.5e-4 / V_I * V_LI * 1e4) and f.li_consumed_um == pytest.approx(0.253, abs=1e-3)
    assert f.transport == "ionic" and f.asr_ohm_cm2 == pytest.approx(f.interphase_thickness_um * 1e-4 / 6.8e-8)
    assert f.asr_ohm_cm2 == pytest.approx(938, abs=2)
    assert f.asr_low_ohm_cm2 == f.asr_high_ohm_cm2 == pytest.approx(f.asr_ohm_cm2)  # one phase: bounds meet
    assert "LiI: measured" in f.conductivity_origin and "toy LiI" in f.transport_note


def test_resistance_at_temperature_follows_arrhenius():
    lii = phase("LiI", V_LII, sigma=6.8e-8, ea=0.43)
    f = film(phase("I2", V_I, "no Li", 0.0), [Product(lii, 1.0)], 1.0, LI, 0.5, temperature_K=573.0)
    s573 = 6.8e-8 * 298.15 / 573 * math.exp(-0.43 / 8.617333262e-5 * (1 / 573 - 1 / 298.15))
    assert arrhenius(6.8e-8, 0.43, 298.15, 573.0) == pytest.approx(s573)
    assert f.asr_at_temperature_ohm_cm2 == pytest.approx(f.interphase_thickness_um * 1e-4 / s573)
    no_ea = film(phase("I2", V_I, "no Li", 0.0), [Product(phase("LiI", V_LII, sigma=6.8e-8), 1.0)], 1.0, LI, 0.5,
                 temperature_K=573.0)
    assert no_ea.asr_at_temperature_ohm_cm2 is None and "no activation energy for LiI" in no_ea.transport_note


def test_two_phase_layer_bounds_and_effective_medium():
    """Equal volumes of a conductor (1e-6 S/cm) and a blocking phase: parallel 5e-7 S/cm, series
    blocked, Bruggeman (3 phi - 1)/2 x 1e-6 = 2.5e-7 S/cm."""
    p = phase("P", 10.0, "no Li", 0.0)
    a, b = phase("A", 10.0, sigma=1e-6), phase("B", 10.0, "no Li", 0.0)
    f = film(p, [Product(a, 0.5), Product(b, 0.5)], 0.0, LI, 1.0)
    t = f.interphase_thickness_um * 1e-4
    assert f.li_conductivity_S_per_cm == pytest.approx(2.5e-7, rel=1e-6)
    assert f.asr_ohm_cm2 == pytest.approx(t / 2.5e-7, rel=1e-6)
    assert f.asr_low_ohm_cm2 == pytest.approx(t / 5e-7) and f.asr_high_ohm_cm2 is None  # series: blocked
    blocked = film(p, [Product(a, 0.2), Product(b, 0.8)], 0.0, LI, 1.0)
    assert blocked.transport == "blocking" and blocked.asr_ohm_cm2 is None
    metal = film(p, [Product(a, 0.5), Product(phase("LiM", 10.0, "electronic"), 0.5)], 0.0, LI, 1.0)
    assert metal.transport == "metallic" and metal.asr_ohm_cm2 == 0.0


def test_bruggeman_limits():
    assert bruggeman([1.0], [3e-5]) == 3e-5
    assert bruggeman([0.4, 0.6], [1e-6, 1e-6]) == pytest.approx(1e-6)
    assert bruggeman([0.2, 0.8], [math.inf, 1e-6]) == pytest.approx(1e-6 / (1 - 3 * 0.2))
    assert bruggeman([0.3, 0.7], [1e-6, 0.0]) == 0.0  # below the 1/3 percolation threshold


def test_unknown_conductivity_or_volume_is_said():
    p = phase("P", 10.0, "no Li", 0.0)
    f = film(p, [Product(phase("X", 10.0, "unknown"), 1.0)], 1.0, LI, 0.5)
    assert f.transport == "unknown" and f.asr_ohm_cm2 is None and "Li+ conductivity unknown for X" in f.transport_note
    g = film(phase("Q", None, "no Li", 0.0), [Product(phase("Y", 10.0, sigma=1e-4), 1.0)], 1.0, LI, 0.5)
    assert g.interphase_thickness_um is None and g.li_consumed_mol_per_cm2 is None and g.asr_ohm_cm2 is None
