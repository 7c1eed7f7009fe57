"""Gibbs energies at finite temperature on the shipped data: the seed case's hot Li step, Li2O's
formation free energy against NIST-JANAF, polymorph changes, the range and the 0 K numbers."""

import json

import pytest

from screening import Settings, interphase, react, window

pytestmark = pytest.mark.data


def test_llzo_li_reduction_is_not_bulk_equilibrium_when_li_is_molten(store):
    """LLZO + Li: -0.0104 eV/atom at 0 K (inside DFT error), no reaction at 523 and 573 K, where Li
    is liquid and loses its entropy when oxidised; the result says so."""
    cold = react(store, "Li7La3Zr2O12", "Li")
    assert cold.reaction_energy_eV_per_atom == pytest.approx(-0.0104, abs=5e-4)
    for t in (523.0, 573.0):
        hot = react(store, "Li7La3Zr2O12", "Li", settings=Settings(temperature_K=t))
        assert hot.reaction_energy_eV_per_atom > -0.05  # not exothermic beyond the model's error band
        assert hot.within_dft_error and hot.tolerance_eV_per_atom == 0.05
        notes = " ".join(map(str, hot.warnings))
        assert f"at 0 K: {cold.reaction_energy_eV_per_atom:.4f} eV/atom" in notes and f"at {t:g} K" in notes
        assert "Li melts at 453.7 K" in notes and "inconclusive" in notes


def test_li2o_formation_free_energy_follows_janaf(store):
    """Li2O's G_f(1000 K) - G_f(300 K) = +0.330 eV/atom from its JANAF Gdelta and the element
    table (JANAF's own DfG(1000) - DfG(300): (-466.401 + 561.875) kJ/mol / 3 = 0.3298 eV/atom)."""
    g300 = store.at_temperature(300).resolve("Li2O")
    g1000 = store.at_temperature(1000).resolve("Li2O")
    d = g1000.formation_energy_eV_per_atom - g300.formation_energy_eV_per_atom
    assert 0.2 <= d <= 0.45 and d == pytest.approx(0.3298, abs=0.005)
    assert "JANAF" in g1000.correction_note and g1000.energy_eV == pytest.approx(3 * g1000.formation_energy_eV_per_atom)


def test_zero_kelvin_is_unchanged_and_the_range_is_enforced(store):
    assert window(store, "LiI", settings=Settings(temperature_K=0)) == window(store, "LiI")
    with pytest.raises(ValueError, match="300-2000 K"):
        Settings(temperature_K=250)
    with pytest.raises(ValueError, match="300-2000 K"):
        store.at_temperature(2500)


def test_interphase_and_window_at_temperature_say_the_model(store):
    s = Settings(temperature_K=573)
    ip = interphase(store, "I2", settings=s)
    assert ip.products == ("LiI",) and any("Gibbs energies at 573 K" in str(w) for w in ip.warnings)
    w = window(store, "Li7La3Zr2O12", settings=s)
    assert any("Gibbs energies at 573 K" in str(c) for c in w.warnings)


def test_cli_phase_and_react_at_temperature(cli):
    hot = json.loads(cli("phase", "Li2O", "--temperature", "1000", "--json").out)[0]
    warm = json.loads(cli("phase", "Li2O", "--temperature", "300", "--json").out)[0]
    assert hot["temperature_K"] == 1000 and 0.2 <= hot["formation_energy_eV_per_atom"] - warm["formation_energy_eV_per_atom"] <= 0.45
    r = cli("react", "Li7La3Zr2O12", "Li", "--temperature", "573", "--json")
    doc = json.loads(r.out)
    assert r.code == 0 and doc["temperature_K"] == 573 and doc["reaction_energy_eV_per_atom"] > -0.05
    bad = cli("window", "LiI", "--temperature", "100")
    assert bad.code == 2 and bad.err.startswith("error: --temperature 100") and "300-2000 K" in bad.err
