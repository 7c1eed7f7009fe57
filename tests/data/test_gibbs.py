"""Gibbs energies of formation at finite temperature (screening.data.gibbs).

(a) Our numbers equal pymatgen's GibbsComputedStructureEntry for real MP structures (the descriptor
path; the JANAF path replaces it for compounds in the JANAF table); (b) the JANAF path reproduces
JANAF's own Gibbs energy of formation change of Li2O; (c) the temperature range is enforced.
"""

from __future__ import annotations

import math
import tarfile

import numpy as np
import pytest
from pymatgen.core import Composition

from screening.data import files, gibbs
from screening.errors import InputError

KJ_PER_MOL_EV = 1 / 96.48533212331002

#: MP ids and their MP2020 formation energies (eV/atom, the shipped table's values, rounded: any
#: value would do, the comparison is exact for every one)
MP = {"mp-1960": -2.0616, "mp-22899": -1.3859, "mp-1138": -3.1659, "mp-942733": -3.1236,
      "mp-2251": -0.4568, "mp-22905": -2.1368}


@pytest.fixture(scope="module")
def structures(shared_root):
    from pymatgen.core import Structure

    out = {}
    with tarfile.open(files.raw(files.CIFS, shared_root), "r:xz") as tar:
        for member in tar:
            mid = member.name.rsplit("/", 1)[-1].removesuffix(".cif")
            if mid in MP:
                out[mid] = Structure.from_str(tar.extractfile(member).read().decode(), fmt="cif")
                if len(out) == len(MP):
                    break
    assert set(out) == set(MP)
    return out


@pytest.mark.shared
@pytest.mark.parametrize("T", [300, 523, 600, 1000])
def test_descriptor_equals_pymatgen_gibbs_entry(structures, T):
    from pymatgen.entries.computed_entries import GibbsComputedStructureEntry

    for mid, s in structures.items():
        n = s.composition.num_atoms
        theirs = GibbsComputedStructureEntry(s, formation_enthalpy_per_atom=MP[mid], temp=T).energy / n
        ours, labels = gibbs.gibbs_formation_energies([s.composition], [MP[mid]], [s.volume / len(s)], T, janaf=False)
        assert ours[0] == pytest.approx(theirs, abs=1e-9), mid
        assert labels == [gibbs.DESCRIPTOR]
        # with JANAF on, only LLZO (no JANAF table) keeps the descriptor
        _, labels = gibbs.gibbs_formation_energies([s.composition], [MP[mid]], [s.volume / len(s)], T)
        assert labels[0] == gibbs.DESCRIPTOR if mid == "mp-942733" else labels[0].startswith("JANAF ")


def test_li2o_janaf_change_equals_janaf_formation_gibbs_change():
    # NIST-JANAF table Li-016, Li2O (cr,l): delta-f G = -561.875 kJ/mol at 300 K, -466.401 at 1000 K
    janaf = (-466.401 - -561.875) / 3 * KJ_PER_MOL_EV  # 0.32984 eV/atom
    g, labels = gibbs.gibbs_formation_energies(["Li2O", "Li2O"], [-2.06, -2.06], [np.nan, np.nan], 300)
    g1000, labels1000 = gibbs.gibbs_formation_energies(["Li2O"], [-2.06], [np.nan], 1000)
    assert labels == ["JANAF cr", "JANAF cr"] and labels1000 == ["JANAF cr"]
    assert g1000[0] - g[0] == pytest.approx(janaf, abs=0.01)
    assert g1000[0] - g[0] == pytest.approx(0.32980, abs=2e-4)  # pymatgen's elements are JANAF's to < 1 meV


def test_janaf_states_and_interpolation():
    # LiCl melts at 883 K (JANAF), LiI at 742 K; H2O is a gas above its boiling point
    _, labels = gibbs.gdelta_compounds(["LiCl", "LiCl", "LiI", "H2O", "H2O"], [np.nan] * 5,
                                       1000, formulas=None)
    assert labels == ["JANAF l", "JANAF l", "JANAF l", "JANAF g", "JANAF g"]
    _, labels = gibbs.gdelta_compounds(["LiCl", "H2O"], [np.nan] * 2, 300)
    assert labels == ["JANAF cr", "JANAF l"]
    # between rows: linear in T (Li2O rows at 500 K and 600 K of the shipped table)
    a, b, m = (gibbs.gdelta_compounds(["Li2O"], [np.nan], t)[0][0] for t in (500, 600, 550))
    assert m == pytest.approx((a + b) / 2, abs=1e-12)
    # Li3N's table ends at 1300 K: beyond it the descriptor, said so
    _, labels = gibbs.gdelta_compounds(["Li3N", "Li3N"], [12.0, np.nan], 1400)
    assert labels == ["Bartel SISSO descriptor (beyond JANAF range)", "no volume (unknown)"]


def test_elements_zero_missing_volume_nan_and_zero_kelvin_unchanged():
    comps = [Composition("Li"), {"O": 2}, "Li7La3Zr2O12", "Li2O"]
    dh = [0.0, 0.0, -3.1236, -2.0616]
    g, labels = gibbs.gibbs_formation_energies(comps, dh, [20.0, 15.0, np.nan, np.nan], 600)
    assert g[0] == 0.0 and g[1] == 0.0 and labels[:2] == ["element", "element"]
    assert math.isnan(g[2]) and labels[2] == "no volume (unknown)"
    assert np.isfinite(g[3])
    g0, labels0 = gibbs.gibbs_formation_energies(comps, dh, [20.0, 15.0, np.nan, np.nan], 0)
    assert g0.tolist() == dh and labels0 == ["0 K DFT"] * 4
    # molar volume of reduced formula units -> A^3 per atom: 14.844 cm3/mol Li2O = 8.217 A^3/atom
    assert gibbs.volume_per_atom_A3(14.844, "Li4O2") == pytest.approx(14.844e24 / 6.02214076e23 / 3)


#: NIST-JANAF reference-state tables: -[G - H(298.15)]/T, J/(K mol) of Li (Li-001: crystal, liquid
#: above 453.69 K), I2 (I-023: crystal, liquid above 386.75 K, gas above 457.67 K), Br2 (Br-038:
#: liquid, gas above 332.5 K) and O2 (O-029, gas)
JANAF_GEF = {("Li", 1): {300: 29.085, 600: 36.013, 1000: 46.946}, ("I", 2): {300: 116.143, 600: 163.948, 1000: 217.259},
             ("Br", 2): {300: 152.208, 600: 201.058, 1000: 233.233}, ("O", 2): {300: 205.148, 600: 211.044, 1000: 220.875}}


def test_element_table_is_janaf_reference_states():
    """pymatgen's element table describes the JANAF reference states (liquid Li, gaseous I2 and Br2
    at 600 K; the latent heats are inside G - H(298.15)): equal within 1 meV/atom."""
    for (el, n), rows in JANAF_GEF.items():
        for T, gef in rows.items():
            janaf = -T * gef / 1000 / n * KJ_PER_MOL_EV
            assert gibbs.gdelta_elements(T)[el] == pytest.approx(janaf, abs=1e-3), (el, T)


@pytest.mark.parametrize("T", [0, 0.0, 300, 2000, 1234.5])
def test_check_temperature_accepts(T):
    assert gibbs.check_temperature(T) == float(T)


@pytest.mark.parametrize("T", [1, 298.15, 299.99, 2000.01, -5, math.nan, math.inf])
def test_check_temperature_refuses_with_the_range(T):
    with pytest.raises(InputError) as err:
        gibbs.check_temperature(T)
    assert isinstance(err.value, ValueError)
    assert "300-2000 K" in str(err.value) and "give 0" in str(err.value)


@pytest.mark.parametrize("T", ["hot", None, "573"])
def test_check_temperature_refuses_other_types(T):
    with pytest.raises(TypeError, match="temperature_K must be a number"):
        gibbs.check_temperature(T)


def test_gdelta_refuses_zero_kelvin():
    with pytest.raises(InputError, match="0 K DFT energies unchanged"):
        gibbs.gdelta_elements(0)
    with pytest.raises(InputError, match="300-2000 K"):
        gibbs.gdelta_compounds(["Li2O"], [np.nan], 100)
