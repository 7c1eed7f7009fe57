"""Band-gap treatment (``screening.data.gaps``): GGA+U gaps as they are, mixed-valence transition
metals conducting, elemental metals and graphite at 0, measured gaps first, and the 1-sigma error
of every gap.  Toy tables with hand-derived answers, then the shipped table."""

import numpy as np
import pandas as pd
import pytest

from screening.data import cache, gaps
from screening.errors import DataError

CAL = gaps.Calibration(a=1.0, b=1.0, n=20, loo_rmse_eV=0.9, pbe_at_threshold_eV=0.0)  # E = PBE + 1 eV


def validation() -> pd.DataFrame:
    """Ten usable GGA+U pairs on measured = 0.5 PBE + 1 (PBE 1..10 eV), and three left out."""
    x = np.arange(1.0, 11.0)
    rows = [{"formula": f"X{k}O", "material_id": f"mp-{k}", "measured_gap_eV": 0.5 * g + 1, "mp_gap_eV": g, "notes": ""}
            for k, g in enumerate(x, 1)]
    rows += [{"formula": "NoGap", "material_id": "mp-90", "measured_gap_eV": 2.0, "mp_gap_eV": np.nan, "notes": ""},
             {"formula": "Metal", "material_id": "mp-91", "measured_gap_eV": 0.0, "mp_gap_eV": 0.0, "notes": ""},
             {"formula": "Wrong", "material_id": "mp-92", "measured_gap_eV": 9.0, "mp_gap_eV": 1.0, "notes": "POLYMORPH MISMATCH"}]
    out = pd.DataFrame(rows)
    out["row"] = np.arange(2, len(out) + 2)
    return out


def test_gga_u_validation_numbers():
    v = gaps.validate_gga_u(validation(), CAL)
    assert v["n_listed"] == 13 and v["n"] == 10
    assert v["left_out"] == {"no PBE+U gap": 1, "PBE+U gap 0": 1, "polymorph mismatch or suspicious": ["Wrong"]}
    # raw PBE+U - measured = 0.5 PBE - 1: -0.5, 0, ..., 4 eV
    assert v["raw_pbe_u"] == {"mae_eV": 1.85, "rmse_eV": pytest.approx(np.sqrt(5.125), abs=1e-3), "median_signed_eV": 1.75}
    # plain-GGA fit (PBE + 1) - measured = 0.5 PBE: 0.5 ... 5 eV
    assert v["plain_gga_fit"] == {"mae_eV": 2.75, "rmse_eV": pytest.approx(0.5 * np.sqrt(38.5), abs=1e-3), "median_signed_eV": 2.75}
    # the points lie on a line: the separate fit finds it and predicts every left-out point exactly
    assert v["gga_u_fit_loo"] == {"a": 0.5, "b": 1.0, "mae_eV": 0.0, "rmse_eV": 0.0, "median_signed_eV": 0.0}
    assert v["treatment"] == "raw PBE+U gap" and v["error_eV"] == pytest.approx(2.264, abs=1e-3)


def test_gga_u_validation_checks_the_table_gaps():
    with pytest.raises(DataError, match="mp-3 mp_gap_eV 3.0 is not the table's PBE gap"):
        gaps.validate_gga_u(validation(), CAL, pd.Series({"mp-3": 3.5}))


@pytest.mark.parametrize("comp, expected", [
    ("Li1 Co2 O4", "Co +3.5"),  # Li0.5CoO2
    ("Li1 Mn2 O4", "Mn +3.5"),  # spinel LiMn2O4: Mn3+/Mn4+ small polarons
    ("Fe3 O4", "Fe +2.67"),
    ("Li1 Ti2 S4", "Ti +3.5"),
    ("Li1 Fe2 Si2 O7", "Fe +2.5"),
    ("Fe3 S4 O16", "Fe +2.67"),  # sulfate: S+6
    ("Li1 Co1 O2", ""), ("Co1 O2", ""), ("Li1 Fe1 P1 O4", ""), ("Fe2 O3", ""), ("Li2 Mn1 O3", ""), ("Ni1 O1", ""),
    ("Li1 Nb1 O3", ""), ("Li4 Ti5 O12", ""),
    ("Li2 Ni1 Mn3 O8", ""),  # LiNi0.5Mn1.5O4: Ni2+ and Mn4+, each one state
    ("Fe1 Ti1 O3", ""), ("Fe1 S1 O3", ""),  # sulfite: S+4, Fe2+
    ("Fe4 N1", ""),  # Fe+0.75: no charge balance, no call
    ("Li2 O2", ""), ("Li1 Co1", ""),
])
def test_mixed_valence_from_composition(comp, expected):
    assert gaps.mixed_valence(comp) == expected


def test_gga_u_rows_by_run_type_or_mp_rule():
    assert gaps.is_gga_u("Fe2 O3", "GGA+U") and not gaps.is_gga_u("Fe2 O3", "GGA")
    assert gaps.is_gga_u("Li1 Fe1 P1 O4", "GGA/GGA+U (MP legacy)")  # O the anion, Fe a U metal
    assert not gaps.is_gga_u("Fe1 S2", "GGA/GGA+U (MP legacy)")  # sulfide: plain GGA
    assert not gaps.is_gga_u("Li1 Nb1 O3", "GGA/GGA+U (MP legacy)")  # Nb has no U
    assert not gaps.is_gga_u("Fe1 Cl3", "GGA/GGA+U (MP legacy)")  # chloride: plain GGA
    assert gaps.is_gga_u("Fe1 Cl1 O1", "GGA/GGA+U (MP legacy)")  # FeOCl: O is the most electronegative
    assert gaps.is_gga_u("Fe1 O1 F1", "")


def toy_table() -> pd.DataFrame:
    rows = [  # phase_id, composition, formula, origin, run_type, PBE gap, e_above_hull
        ("mp-1", "Fe4 O6", "Fe2O3", "mp-hull", "GGA+U", 2.0, 0.0),
        ("mp-2", "Li4 Fe4 P4 O16", "LiFePO4", "mp-legacy", "GGA/GGA+U (MP legacy)", 3.9, 0.0),
        ("mp-3", "Li2 O1", "Li2O", "mp-legacy", "GGA/GGA+U (MP legacy)", 5.0, 0.0),
        ("mp-4", "Li1 Co2 O4", "Li(CoO2)2", "mp-hull", "GGA+U", 0.63, 0.0),
        ("mp-5", "Fe6 O8", "Fe3O4", "mp-converted", "GGA/GGA+U (MP legacy)", 0.0, 0.0),
        ("mp-6", "C4", "C", "mp-hull", "GGA", np.nan, 0.0),
        ("mp-7", "C2", "C", "mp-legacy", "GGA/GGA+U (MP legacy)", np.nan, 0.135),
        ("mp-8", "Hg1", "Hg", "mp-hull", "GGA", 0.27, 0.0),
        ("mp-9", "Li1 Co1 O2", "LiCoO2", "mp-hull", "GGA+U", 2.15, 0.0),
        ("mp-10", "Mn3 O4", "Mn3O4", "mp-hull", "GGA+U", 0.69, 0.0),
        ("mp-11", "Li2 O2", "Li2O2", "mp-hull", "GGA", 0.0, 0.0),
        ("user:x", "Li1 Co2 O4", "Li(CoO2)2", "user:x", "", np.nan, 0.0),
    ]
    t = pd.DataFrame(rows, columns=["phase_id", "composition", "formula", "origin", "run_type", "band_gap_pbe_eV",
                                    "e_above_hull_eV_per_atom"])
    t["energy_per_atom_eV"] = -5.0 + t.e_above_hull_eV_per_atom
    t["band_gap_eV"] = np.where(t.origin == "user:x", 1.5, np.nan)
    t["band_gap_origin"] = np.where(t.origin == "user:x", "user", "")
    t["band_gap_source"] = ""
    return t


def toy_measured() -> pd.DataFrame:
    return pd.DataFrame([
        {"formula": "LiCoO2", "material_id": "mp-9", "gap_eV": 2.1, "gap_type": "optical", "source": "paper A",
         "source_url": "", "weak": False, "excluded": False, "row": 2},
        {"formula": "Mn3O4", "material_id": "", "gap_eV": 1.91, "gap_type": "unspecified", "source": "paper B",
         "source_url": "", "weak": False, "excluded": False, "row": 3}])


def test_apply_on_a_toy_table():
    t = toy_table()
    counts = gaps.apply(t, toy_measured(), CAL, "gaps.csv", gga_u={"error_eV": 1.06})
    t = t.set_index("phase_id")

    def gap(pid):
        r = t.loc[pid]
        return r.band_gap_eV, r.band_gap_origin, r.band_gap_error_eV

    assert gap("mp-1") == (2.0, "pbe+u", 1.06)  # GGA+U: the raw PBE+U gap, not 2.0 + 1
    assert gap("mp-2") == (3.9, "pbe+u", 1.06)  # legacy row, GGA+U by MP's rule
    assert gap("mp-3") == (6.0, "pbe-corrected", 0.9)  # plain GGA: PBE + 1 eV, LOO RMSE
    g, origin, err = gap("mp-4")
    assert (g, origin, np.isnan(err)) == (0.0, "mixed-valence", True)
    assert t.loc["mp-4", "band_gap_source"] == "mixed-valence transition metal (Co +3.5): electronically conducting assumed"
    assert gap("mp-5")[:2] == (0.0, "mixed-valence") and "Fe +2.67" in t.loc["mp-5", "band_gap_source"]
    assert gap("mp-6") == (0.0, "element (metal/semimetal)", 0.0)  # graphite-like C without a PBE gap
    g, origin, err = gap("mp-7")  # diamond-like C (0.135 eV/atom up) without a PBE gap: no gap known
    assert np.isnan(g) and origin == "" and np.isnan(err)
    assert gap("mp-8") == (0.0, "element (metal/semimetal)", 0.0)  # Hg's 0.27 eV PBE gap is not used
    assert "MP PBE 0.27 eV not used" in t.loc["mp-8", "band_gap_source"]
    assert gap("mp-9") == (2.1, "measured", 0.1)  # measured beats PBE+U
    assert gap("mp-10") == (1.91, "measured", 0.1)  # measured beats mixed valence (untagged: lowest energy)
    assert gap("mp-11") == (0.0, "pbe-corrected", 0.9)  # PBE 0 stays 0
    assert t.loc["user:x", "band_gap_eV"] == 1.5 and t.loc["user:x", "band_gap_origin"] == "user"
    assert np.isnan(t.loc["user:x", "band_gap_error_eV"])
    assert counts == {"pbe+u": 2, "pbe-corrected": 2, "mixed-valence": 2, "element (metal/semimetal)": 2, "measured": 2}


def test_apply_without_validation_gives_pbe_u_no_error():
    t = toy_table()
    gaps.apply(t, toy_measured().iloc[:0], CAL, "gaps.csv")
    r = t.set_index("phase_id").loc["mp-1"]
    assert r.band_gap_eV == 2.0 and r.band_gap_origin == "pbe+u" and np.isnan(r.band_gap_error_eV)


@pytest.fixture(scope="module")
def treated():
    table, info = cache.read_shipped()
    df = table.frame()
    cal = gaps.Calibration(**info["gap_calibration"])
    val = gaps.validate_gga_u(gaps.read_gga_u(), cal, df.set_index("phase_id").band_gap_pbe_eV)
    gaps.apply(df, gaps.read_measured(), cal, "mp/mp_bandgaps_2019.csv", gga_u=val)
    return df.set_index("phase_id"), val


@pytest.mark.data
def test_shipped_gga_u_validation(treated):
    _, val = treated
    assert val["n_listed"] == 31 and val["n"] == 17
    assert val["raw_pbe_u"] == {"mae_eV": 0.767, "rmse_eV": 1.06, "median_signed_eV": -0.205}
    assert val["plain_gga_fit"] == {"mae_eV": 1.34, "rmse_eV": 1.559, "median_signed_eV": 1.362}
    assert val["gga_u_fit_loo"]["rmse_eV"] == 0.988  # a separate fit: within 7 % of the raw gap
    assert val["error_eV"] == 1.06


@pytest.mark.data
def test_shipped_gga_u_and_mixed_valence_rows(treated):
    df, _ = treated
    fe2o3 = df.loc["mp-715572"]  # the lowest-energy Fe2O3, PBE+U 2.019 eV (measured hematite: 2.2)
    assert fe2o3.band_gap_origin == "pbe+u" and fe2o3.band_gap_eV == pytest.approx(2.019) and fe2o3.band_gap_eV < 3
    assert fe2o3.band_gap_error_eV == 1.06
    lfp = df.loc["mp-19017"]
    assert lfp.band_gap_origin == "pbe+u" and lfp.band_gap_eV == pytest.approx(3.9224)  # measured 3.8
    half = df[df.formula == "Li(CoO2)2"]  # Li0.5CoO2
    assert len(half) == 3 and (half.band_gap_origin == "mixed-valence").all() and (half.band_gap_eV == 0).all()
    assert "Co +3.5" in half.loc["mp-774082", "band_gap_source"]  # PBE+U 0.63 eV, once corrected to 1.55
    for pid, formula in (("mp-19306", "Fe3O4"), ("mp-1272804", "LiMn2O4")):
        assert df.loc[pid, "formula"] == formula and df.loc[pid, "band_gap_origin"] == "mixed-valence"
    assert df.loc["mp-3731", "band_gap_origin"] == "measured"  # LiNbO3
    assert df.loc["mp-2516584", "band_gap_eV"] == 0 and df.loc["mp-2516584", "band_gap_origin"] == "element (metal/semimetal)"
    assert (df.band_gap_origin == "mixed-valence").sum() == 4293
