"""The kernel on toy systems with hand-derived answers (no MP data)."""

import numpy as np
import pytest

from screening.hull import HullSystem, hull_energies_per_atom

# Li-I: Li 0, I2 0, LiI -1.4 eV/atom, LiI3 -0.5 eV/atom (columns Li, I)
AMOUNTS = np.array([[1, 0], [0, 2], [1, 1], [1, 3]], float)
ENERGIES = np.array([0.0, 0.0, -2.8, -2.0])


@pytest.fixture
def hs():
    return HullSystem(("Li", "I"), AMOUNTS, ENERGIES)


def test_hull_energy_and_decomposition(hs):
    # x_I = 0.75 lies on the LiI - I tie line: -1.4 * 0.5 = -0.7 eV/atom
    d = hs.decomposition([1, 3])
    assert d.energy == pytest.approx(-0.7)
    # per atom of LiI3: 0.5 LiI f.u. (1 atom of the 4... 2 atoms of 4) and 1/4 I2 f.u.
    assert d.amounts[2] == pytest.approx(0.25) and d.amounts[1] == pytest.approx(0.25)
    assert hs.e_above_hull(3) == pytest.approx(0.2)  # -0.5 - (-0.7)
    assert hs.e_above_hull(2) == pytest.approx(0.0, abs=1e-12)


def test_stabilized_energy_is_just_below_the_other_phases(hs):
    st = hs.stabilized_energy(3)
    assert st.e_above_hull_eV_per_atom == pytest.approx(0.2)
    assert st.energy_eV / 4 == pytest.approx(-0.7 - 1e-6)
    lii = hs.stabilized_energy(2)  # on the hull: keeps its energy (minus the margin)
    assert lii.e_above_hull_eV_per_atom == 0.0 and lii.energy_eV == pytest.approx(-2.8 - 2e-6)


def test_li_exchange_is_the_formation_energy_per_li(hs):
    # LiI -> Li + 1/2 I2 costs 2.8 eV per Li: oxidation limit 2.8 V vs Li (mu_Li(metal) = 0)
    ox = hs.li_exchange(2, -2.8, -1.0)
    assert ox.energy_eV_per_li == pytest.approx(2.8)
    assert ox.units[1] == pytest.approx(0.5)  # half an I2 per LiI
    # nothing holds more Li than LiI: the cheapest sink for a Li is Li metal itself (mu_Li = 0 here)
    red = hs.li_exchange(2, -2.8, +1.0)
    assert red.energy_eV_per_li == pytest.approx(0.0) and not red.units.any()


def test_grand_potential_open_to_li(hs):
    # open to Li at mu: Phi(LiI) = (-2.8 - mu) / 1 per non-Li atom; at mu = -3 the reservoir wins over LiI
    assert hs.hull_energy_per_atom([1, 1], mu_li=-1.0) == pytest.approx(-1.8)
    assert hs.hull_energy_per_atom([1, 1], mu_li=-3.0) == pytest.approx(0.0)


def test_mixing_minimum_i2_li(hs):
    # I2 | Li: E(x) = E_hull - x e_I2 - (1-x) e_Li, min -1.4 eV/atom at x(I) = 0.5 (LiI)
    m = hs.mixing_minimum([0, 1], 0.0, [1, 0], 0.0)
    assert m.energy == pytest.approx(-1.4) and m.x == pytest.approx(0.5) and m.units[2] == pytest.approx(0.5)
    kinks = hs.mixing_vertices([0, 1], [1, 0])
    assert [round(k.x, 6) for k in kinks] == [0.0, 0.5, 1.0]


def test_lithiation_profile_vertices(hs):
    # I2 (2 I) takes 2 Li at mu > -2.8 eV: one stage, LiI, reached at 2.8 V
    stages = hs.lithiation_profile([0, 2], mu_max=0.0)
    assert [s.li for s in stages] == pytest.approx([0.0, 2.0])
    assert stages[1].mu_low == pytest.approx(-2.8) and stages[1].mu_high is None
    assert stages[1].amounts[2] == pytest.approx(2.0)


def test_whole_table_hull_energies():
    frac = AMOUNTS / AMOUNTS.sum(axis=1)[:, None]
    epa = ENERGIES / AMOUNTS.sum(axis=1)
    lo = np.array([4, 1 << 52, 4 | 1 << 52, 4 | 1 << 52], dtype=np.uint64)  # Li: bit 2, I: bit 52
    hi = np.zeros(4, dtype=np.uint64)
    got = hull_energies_per_atom(frac, epa, lo, hi)
    assert got == pytest.approx([0.0, 0.0, -1.4, -0.7])


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="amounts must be"):
        HullSystem(("Li",), np.ones((2, 2)), np.zeros(2))
