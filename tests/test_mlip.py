"""CHGNet phases (screening.mlip) against experiment and MP, and through the screen end to end.

chgnet is imported directly on purpose: CI installs the ``mlip`` extra, and a missing install
must fail here loudly rather than skip.
"""

import os
import sys
import time

import numpy as np
import pandas as pd
import pytest
from ase.build import bulk
from pymatgen.core import Composition, Lattice, Structure

from screening import api
from screening import mlip
from screening.data.user import read_user_csv
from screening.errors import DataError, InputError
from screening import interphase
from screening.store import PhaseStore, add_phases

pytestmark = [pytest.mark.mlip, pytest.mark.data]

if os.environ.get("CI"):  # CI installs every extra: a missing CHGNet must fail loudly there
    import chgnet  # noqa: F401
else:
    pytest.importorskip("chgnet", reason="the mlip extra is not installed (pip install -e '.[mlip]')")

VOLUME_TOLERANCE = 0.08  # relaxed molar volume vs experiment
ENERGY_TOLERANCE_EV_PER_ATOM = 0.080  # CHGNet vs MP's (MP2020-corrected) ground state


def rocksalt(a, cation, anion):
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]])


def antifluorite_li2o(a=4.61):
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["O", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]])


def antiperovskite_li3ocl(a=3.91):
    # Li3OCl, cubic Pm-3m, a = 3.91 A (Zhao & Daemen, J. Am. Chem. Soc. 134, 15042 (2012)):
    # O at the body centre, Cl at the corners, Li at the face centres
    return Structure.from_spacegroup("Pm-3m", Lattice.cubic(a), ["O", "Cl", "Li"], [[0.5] * 3, [0, 0, 0], [0.5, 0.5, 0]])


# starting lattices near experiment (LiI 6.00 A, LiF 4.03 A, LiCl 5.13 A, Li2O 4.61 A)
KNOWN = {"LiI": rocksalt(6.00, "Li", "I"), "LiF": rocksalt(4.03, "Li", "F"), "LiCl": rocksalt(5.13, "Li", "Cl"),
         "Li2O": antifluorite_li2o(4.61)}


def hull_energy_at(store, formula) -> float:
    comp = Composition(formula)
    ps = store.system([el.symbol for el in comp.elements])
    return ps.hull_energy_per_atom(ps.vector(comp))


@pytest.fixture(scope="module")
def relaxer():
    return mlip.Relaxer()


@pytest.fixture(scope="module")
def relaxed(relaxer):
    """One uncached relaxation per known salt, with its wall time (s)."""
    out = {}
    for f, s in KNOWN.items():
        t0 = time.perf_counter()
        r = mlip.relax_structure(s, cache_dir=None, relaxer=relaxer)
        out[f] = (r, time.perf_counter() - t0)
    return out


@pytest.fixture(scope="module")
def mlcache(tmp_path_factory):
    return tmp_path_factory.mktemp("mlcache")


@pytest.fixture(scope="module")
def with_li3ocl(store, mlcache, relaxer):
    return mlip.add_structures(store, antiperovskite_li3ocl(), names="Li3OCl-antiperovskite", cache_dir=mlcache,
                               relaxer=relaxer)


@pytest.mark.parametrize("formula", list(KNOWN))
def test_relaxed_volume_within_8_percent_of_experiment(store, relaxed, formula):
    r, _ = relaxed[formula]
    row = store.lookup(formula)
    assert row.volume_origin == "measured"  # measured densities, not a DFT volume
    assert r.molar_volume_cm3_per_mol == pytest.approx(row.molar_volume_cm3_per_mol, rel=VOLUME_TOLERANCE)


@pytest.mark.parametrize("formula", list(KNOWN))
def test_energy_within_80_meV_of_mp_ground_state(store, relaxed, formula):
    r, _ = relaxed[formula]
    e_hull = hull_energy_at(store, formula)
    assert store.lookup(formula).energy_per_atom_eV == pytest.approx(e_hull, abs=1e-9)  # MP's ground state
    assert abs(r.energy_eV_per_atom - e_hull) < ENERGY_TOLERANCE_EV_PER_ATOM


def test_relax_result_is_complete(relaxed):
    for f, (r, _) in relaxed.items():
        assert r.formula == f and r.relaxed and r.converged is True
        assert 0 <= r.n_steps < mlip.DEFAULT_STEPS and r.max_force_eV_per_A < mlip.DEFAULT_FMAX_EV_PER_A
        assert r.max_stress_GPa < 0.5
        assert r.model.startswith("CHGNet 0.4") and "weights 0.3.0" in r.model
        assert len(r.structure_hash) == 20 and not r.cached
        # molar volume per mol of reduced formula units, as the store keeps it
        per_fu = r.volume_A3_per_atom * Composition(f).num_atoms
        assert r.molar_volume_cm3_per_mol == pytest.approx(per_fu * mlip.AVOGADRO * 1e-24)
        assert r.structure is not None and r.structure.composition.reduced_formula == f


def test_li3ocl_is_mp_metastable_phase(store):
    row = store.lookup("Li3OCl")
    assert row.phase_id == "mp-985585" and row.origin == "mp-legacy"
    assert row.e_above_hull_eV_per_atom == pytest.approx(0.022, abs=0.002)  # its legacy e_above_hull


def test_chgnet_phase_added_with_provenance_and_hull_distance(store, with_li3ocl):
    new, df = with_li3ocl
    assert len(df) == 1 and len(new) == len(store) + 1
    res = df.iloc[0]
    e_hull = hull_energy_at(store, "Li3OCl")
    assert res.mp_hull_energy_eV_per_atom == pytest.approx(e_hull, abs=1e-12)
    assert res.e_above_hull_eV_per_atom == pytest.approx(res.energy_eV_per_atom - e_hull, abs=1e-12)
    # metastable vs Li2O + LiCl (DFT, MP: a few tens of meV/atom); CHGNet within its error of that
    assert 0.0 < res.e_above_hull_eV_per_atom < 0.08
    row = new.lookup("chgnet:Li3OCl-antiperovskite")
    assert row.origin == "chgnet"
    assert row.source == res.model and row.source.startswith("CHGNet ")
    assert row.run_type == "CHGNet" and "CHGNet" in row.volume_source
    assert row.e_above_hull_eV_per_atom == pytest.approx(res.e_above_hull_eV_per_atom, abs=1e-9)
    assert row.energy_per_atom_eV == pytest.approx(res.energy_eV_per_atom)
    assert row.band_gap_eV is None and row.band_gap_source == "unknown (CHGNet gives no band gap)"
    assert res.band_gap_source == mlip.NO_GAP_NOTE
    # relaxed volume near the measured cubic cell (a = 3.91 A, 1 formula unit)
    v_exp = 3.91**3 * mlip.AVOGADRO * 1e-24
    assert row.molar_volume_cm3_per_mol == pytest.approx(v_exp, rel=VOLUME_TOLERANCE)
    assert res.molar_volume_cm3_per_mol == pytest.approx(row.molar_volume_cm3_per_mol)
    # the original store is untouched
    assert not (store.table.phase_id == row.phase_id).any()


def test_chgnet_phase_runs_through_interphase_and_screen(with_li3ocl):
    new, _ = with_li3ocl
    ip = interphase(new, "chgnet:Li3OCl-antiperovskite")
    # metastable (above Li2O + LiCl), but stable against Li once on the hull: its own decomposition
    # is reported apart, never counted as a reaction with Li or an expansion
    assert ip.products == ("Li3ClO",) and ip.li_consumed_per_formula_unit == 0 and ip.volume_ratio == 1
    assert 0 < ip.precursor_e_above_hull_eV_per_atom < 0.08
    for v in (ip.li_reaction_energy_eV_per_atom, ip.volume_ratio, ip.electrolyte_reaction_energy_eV_per_atom,
              ip.precursor_e_above_hull_eV_per_atom):
        assert v is not None and np.isfinite(v)
    # CHGNet predicts no band gap: the character is unknown, never a silent default
    assert ip.min_product_band_gap_eV is None and ip.electronic_character.value == "unknown"
    df = api.screen(new, ["chgnet:Li3OCl-antiperovskite", "LiI"])
    row = df[df.candidate == "chgnet:Li3OCl-antiperovskite"].iloc[0]
    assert row["error"] == ""
    for col in ("score", "li_reaction_energy_eV_per_atom", "volume_ratio", "e_above_hull_eV_per_atom",
                "electrolyte_reaction_energy_eV_per_atom", "reduction_limit_V", "oxidation_limit_V"):
        assert np.isfinite(float(row[col])), col
    assert any("above the hull" in w for w in row["warnings"])


def test_results_cached_on_disk_and_reused(store, with_li3ocl, mlcache):
    _, first = with_li3ocl
    files = list((mlcache / mlip.CACHE_SUBDIR).iterdir())
    assert [p.suffix for p in files] == [".json"]  # one small JSON, no temp files left

    class NoModel:  # a cached result needs no model
        @property
        def calculator(self):
            raise AssertionError("relaxed again instead of reading the cache")

    _, again = mlip.add_structures(store, antiperovskite_li3ocl(), cache_dir=mlcache, relaxer=NoModel())
    assert bool(again.cached.iloc[0]) and not bool(first.cached.iloc[0])
    for col in ("energy_eV_per_atom", "molar_volume_cm3_per_mol", "e_above_hull_eV_per_atom", "structure_hash"):
        assert again[col].iloc[0] == first[col].iloc[0]
    # other relaxation settings are another cache entry; a corrupt entry is recomputed
    r = mlip.relax_structure(antiperovskite_li3ocl(), relax=False, cache_dir=mlcache / "x")
    assert not r.cached and r.n_steps == 0 and r.converged is None
    (path,) = (mlcache / "x").iterdir()
    path.write_text("{not json")
    assert not mlip.relax_structure(antiperovskite_li3ocl(), relax=False, cache_dir=mlcache / "x").cached
    assert mlip.relax_structure(antiperovskite_li3ocl(), relax=False, cache_dir=mlcache / "x").cached
    # one edited digit of the cached energy is refused (file and fix named), never served back
    text = path.read_text()
    energy = repr(mlip.relax_structure(antiperovskite_li3ocl(), relax=False, cache_dir=mlcache / "x").energy_eV_per_atom)
    assert energy in text
    digit = energy[-1]
    path.write_text(text.replace(energy, energy[:-1] + ("1" if digit != "1" else "2"), 1))
    with pytest.raises(DataError, match=r"does not match its SHA-256 checksum.*delete it"):
        mlip.relax_structure(antiperovskite_li3ocl(), relax=False, cache_dir=mlcache / "x")


def test_file_and_ase_inputs_agree(tmp_path, relaxer):
    s = KNOWN["LiF"]
    cif, poscar = tmp_path / "LiF.cif", tmp_path / "POSCAR"
    s.to(filename=str(cif))
    s.to(filename=str(poscar), fmt="poscar")
    ref = mlip.relax_structure(s, relax=False, relaxer=relaxer)
    atoms = bulk("LiF", "rocksalt", a=4.03, cubic=True)
    for item in (cif, str(poscar), atoms):
        r = mlip.relax_structure(item, relax=False, relaxer=relaxer)
        assert r.energy_eV_per_atom == pytest.approx(ref.energy_eV_per_atom, abs=1e-5)
        assert r.volume_A3_per_atom == pytest.approx(4.03**3 / 8, rel=1e-6)  # unrelaxed: input cell kept
    assert mlip.relax_structure(cif, relax=False, relaxer=relaxer).structure_hash == ref.structure_hash


def test_chgnet_phase_below_mp_hull_is_flagged(store, mlcache, relaxer):
    # a store whose Li-F system lacks LiF: the CHGNet LiF is far below that hull
    t = store.select(["Li", "F"])
    no_lif = PhaseStore(t[t.formula != "LiF"], dict(store.info_))
    new, df = mlip.add_structures(no_lif, KNOWN["LiF"], cache_dir=mlcache, relaxer=relaxer)
    assert df.e_above_hull_eV_per_atom.iloc[0] < -1.0
    assert "below the MP hull" in df.warning.iloc[0]
    row = new.lookup("LiF")
    assert row.e_above_hull_eV_per_atom == pytest.approx(0.0, abs=1e-9) and "below the MP hull" in row.warning


def test_user_csv_export_round_trips(store, with_li3ocl, tmp_path):
    _, df = with_li3ocl
    path = mlip.to_user_csv(df, tmp_path / "chgnet_phases.csv")
    s2 = add_phases(store, read_user_csv(path))
    row = s2.lookup("user:Li3OCl-antiperovskite")
    assert row.energy_per_atom_eV == pytest.approx(df.energy_eV_per_atom.iloc[0], abs=1e-9)
    assert row.molar_volume_cm3_per_mol == pytest.approx(df.molar_volume_cm3_per_mol.iloc[0], rel=1e-9)


def _one_line(exc_info, *words):
    msg = str(exc_info.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, msg


def test_friendly_errors(store, tmp_path):
    with pytest.raises(DataError) as e:
        mlip.add_structures(store, tmp_path / "nope.cif")
    _one_line(e, "nope.cif", "not found")
    junk = tmp_path / "junk.cif"
    junk.write_text("this is not a crystal\n")
    with pytest.raises(DataError) as e:
        mlip.add_structures(store, junk)
    _one_line(e, "junk.cif", "cannot read")
    # elements outside the store
    t = store.select(["Li", "O", "Cl"])
    small = PhaseStore(t, dict(store.info_))
    with pytest.raises(DataError) as e:
        mlip.add_structures(small, KNOWN["LiI"])
    _one_line(e, "element(s) I not in the phase store")
    disordered = Structure(Lattice.cubic(4.03), [{"Li": 0.5, "Na": 0.5}, "F"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(InputError) as e:
        mlip.add_structures(store, disordered)
    _one_line(e, "partial occupancies")
    with pytest.raises(InputError) as e:
        mlip.relax_structure(KNOWN["LiF"], fmax=-1)
    _one_line(e, "fmax")
    with pytest.raises(InputError) as e:
        mlip.add_structures(store, [KNOWN["LiF"], KNOWN["LiI"]], names="one")
    _one_line(e, "one name for 2 structures")
    with pytest.raises(InputError) as e:
        mlip.add_structures(store, KNOWN["LiF"], band_gap_eV=-3)
    _one_line(e, "band gap")
    with pytest.raises(InputError):
        mlip.relax_structure(42)
    # a CIF whose atoms do not make the formula it declares (two atoms on one site): refused, not
    # read with an atom silently lost
    cif = tmp_path / "overlap.cif"
    antiperovskite_li3ocl().to(filename=str(cif))
    text = cif.read_text().splitlines()
    li = next(line for line in text if line.split()[:1] == ["Li"])
    o = next(k for k, line in enumerate(text) if line.split()[:1] == ["O"])
    text[o] = "  O  O1  1  " + "  ".join(li.split()[3:6]) + "  1"
    cif.write_text("\n".join(text) + "\n")
    with pytest.raises(DataError) as e:
        mlip.read_structure(cif)
    _one_line(e, "overlap.cif", "declares Li3ClO", "overlapping or missing sites")


def test_missing_chgnet_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "chgnet", None)  # import chgnet -> ImportError
    with pytest.raises(DataError) as e:
        mlip.relax_structure(KNOWN["LiF"])
    assert str(e.value) == "CHGNet is not installed: pip install 'screening[mlip]'"


def test_band_gap_given_by_user_is_kept(store, mlcache, relaxer):
    new, df = mlip.add_structures(store, antiperovskite_li3ocl(), band_gap_eV=6.4, names="Li3OCl-gap", cache_dir=mlcache,
                                  relaxer=relaxer)
    row = new.lookup("chgnet:Li3OCl-gap")
    assert row.band_gap_eV == 6.4 and "user" in row.band_gap_source
    assert df.band_gap_eV.iloc[0] == 6.4
    assert isinstance(df, pd.DataFrame)


def test_cli_add_structure_end_to_end(cli, tmp_path):
    """A CIF file through the console command: relaxed, placed on the MP hull, screened vs LLZO."""
    cif = tmp_path / "Li3OCl.cif"
    antiperovskite_li3ocl().to(filename=str(cif))
    csv = tmp_path / "phases.csv"
    r = cli("add-structure", cif, "--name", "Li3OCl-cli", "--electrolyte", "Li7La3Zr2O12", "--out", csv, "--json")
    assert r.code == 0, r.err
    import json

    res = json.loads(r.out)
    (phase,) = res["phases"]
    assert phase["phase_id"] == "chgnet:Li3OCl-cli" and 0.0 < phase["e_above_hull_eV_per_atom"] < 0.08
    (row,) = res["screen"]
    assert row["candidate"] == "chgnet:Li3OCl-cli" and row["formula"] == "Li3ClO" and row["rank"] == 1
    assert row["error"] == "" and row["interphase"] == "Li3ClO" and row["e_above_hull_eV_per_atom"] > 0
    # the exported CSV feeds any other command
    r = cli("--phases", csv, "phase", "user:Li3OCl-cli", "--json")
    assert json.loads(r.out)[0]["e_above_hull_eV_per_atom"] == pytest.approx(phase["e_above_hull_eV_per_atom"], abs=1e-4)


@pytest.mark.parametrize("args,word", [
    (("missing.cif",), "not found"),
    (("x.cif", "--fmax", "-1"), "--fmax"),
])
def test_cli_add_structure_bad_input(cli, args, word):
    r = cli("add-structure", *args)
    assert r.code == 2 and word in r.err and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_folder_of_structures(store, tmp_path, mlcache):
    folder = tmp_path / "structures"
    folder.mkdir()
    KNOWN["LiF"].to(filename=str(folder / "LiF.cif"))
    KNOWN["LiCl"].to(filename=str(folder / "POSCAR_LiCl"), fmt="poscar")
    (folder / "notes.txt").write_text("not a structure")
    seen = []
    new, df = mlip.add_structures(store, folder, relax=False, cache_dir=mlcache,
                                  progress=lambda done, total, label: seen.append((done, total)))
    assert sorted(df.formula) == ["LiCl", "LiF"] and seen == [(1, 2), (2, 2)]
    assert len(new) == len(store) + 2
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="holds no structure files"):
        mlip.add_structures(store, empty)
