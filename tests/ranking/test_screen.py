"""The ranked screen on MP data: the seed case ranks high, rows equal the standalone functions,
every row comes out, ties share ranks, Li3N insulates, the lithiation stage at the electrolyte's
reduction limit."""

import math

import pandas as pd
import pytest

from screening import api
from screening import ranking
from screening import interphase
from screening.settings import Settings
from screening import react
from screening import window

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def default_screen(store):
    return api.screen(store)


def test_candidate_list(store):
    cand = ranking.load_candidates()
    assert len(cand) >= 40 and cand.formula.is_unique and set(cand.kind) == {"interlayer", "precursor"}
    assert {"I2", "ZnO", "Al2O3", "SnO2", "AlF3", "LiI", "LiF", "Li3N", "Si", "Mg", "Ag"} <= set(cand.formula)
    for f in cand.formula:
        store.lookup(f)  # every formula is in the store (raises otherwise)


def test_default_screen_science(default_screen):
    df = default_screen
    assert len(df) == len(ranking.load_candidates()) and (df.error == "").all()  # nothing dropped
    by = df.set_index("candidate")
    i2 = by.loc["I2"]
    assert i2["rank"] <= 3 and i2.interphase == "LiI" and i2.electronic_character == "insulating"
    assert by.loc["ZnO", "electronic_character"] == "mixed" and by.loc["Al2O3", "electronic_character"] == "mixed"
    assert by.loc["ZnO", "rank"] > i2["rank"] and by.loc["Al2O3", "rank"] > i2["rank"]
    assert df.score.is_monotonic_decreasing and df["rank"].is_monotonic_increasing
    # every precursor's volume ratio is known now (MP DFT volumes where no density was measured)
    assert by.loc[["ZnO", "Al2O3", "SnO2", "Si", "Ag", "Bi"], "volume_ratio"].gt(1).all()


def test_li3n_insulates_by_its_measured_gap(default_screen, store):
    li3n = default_screen.set_index("candidate").loc["Li3N"]
    assert li3n.electronic_character == "insulating" and li3n.min_product_band_gap_eV == pytest.approx(1.81)
    row = store.lookup("Li3N")
    assert row.band_gap_pbe_eV == pytest.approx(0.984, abs=1e-3) and row.band_gap_origin == "measured"


def test_ties_share_ranks(default_screen):
    df = default_screen
    for _, group in df.groupby(df.score.round(6)):
        if len(group) > 1:
            separated = group.tie_break != ""
            # rows not separated by a key share one rank; separated ones name the key
            assert group[~separated]["rank"].nunique() <= 1 or group[separated]["rank"].nunique() > 1
    by = df.set_index("candidate")
    assert by.loc["LiCl", "score"] == pytest.approx(by.loc["LiBr", "score"])  # saturated sub-scores tie ...
    assert by.loc["LiCl", "rank"] < by.loc["LiBr", "rank"] and by.loc["LiBr", "tie_break"].startswith("gap 7.8")  # ... the gap orders
    # a true tie shares its rank: the alloy formers whose interphases all conduct electrons
    assert by.loc["Ag", "rank"] == by.loc["Au", "rank"] and by.loc["Au", "rank_label"].startswith("=")


def test_rows_equal_the_standalone_functions(store, default_screen):
    for r in default_screen.itertuples():
        ip = interphase(store, r.candidate)
        w = window(store, r.candidate)
        assert r.interphase == " + ".join(ip.products)
        assert r.li_reaction_energy_eV_per_atom == ip.li_reaction_energy_eV_per_atom
        assert r.electrolyte_reaction_energy_eV_per_atom == ip.electrolyte_reaction_energy_eV_per_atom
        assert r.electronic_character == ip.electronic_character.value
        assert r.reduction_limit_V == w.reduction_limit_V
        assert (r.volume_ratio if not math.isnan(r.volume_ratio) else None) == ip.volume_ratio
    lif = default_screen.set_index("candidate").loc["LiF"]
    assert lif.li_reaction_energy_eV_per_atom == react(store, "LiF", "Li").reaction_energy_eV_per_atom == 0.0


def test_stage_at_the_electrolyte_reduction_limit(store):
    """Against Li3PO4 (reduced below 0.69 V) Al2O3 is not yet an alloy former: the stage at that
    voltage is LiAlO2 + Al (from 0.81 V), the fully lithiated one Li2O + Li-Al; against Li3PS4
    (1.72 V) it is still pristine."""
    df = api.screen(store, ["Al2O3", "I2", "LiF"], electrolyte="Li3PO4").set_index("candidate")
    al = df.loc["Al2O3"]
    assert al.stage_voltage_V == pytest.approx(window(store, "Li3PO4").reduction_limit_V)
    assert al.stage_interphase == "Al + LiAlO2" and "Li2O" in al.interphase and "Al" not in al.interphase.split(" + ")
    assert df.loc["LiF", "stage_interphase"] == "LiF" and df.loc["I2", "stage_interphase"] == "LiI"
    assert api.screen(store, ["Al2O3"], electrolyte="Li3PS4").stage_interphase.iloc[0] == "Al2O3"
    assert al.stage_volume_ratio == pytest.approx(1.674, abs=0.005) and al.volume_ratio == pytest.approx(4.05, abs=0.01)


def test_non_llzo_electrolyte(store):
    df = api.screen(store, ["LiI", "Li2S", "LiF", "I2", "Li3N", "ZnO"], electrolyte="Li3PS4").set_index("candidate")
    assert (df.electrolyte == "Li3PS4").all() and (df.error == "").all()
    assert df.loc["LiI", "electrolyte_reaction_energy_eV_per_atom"] == react(store, "LiI", "Li3PS4").reaction_energy_eV_per_atom
    assert df.loc["Li2S", "electrolyte_reaction_energy_eV_per_atom"] == pytest.approx(0.0)


def test_errors_become_rows_not_gaps(store):
    df = api.screen(store, ["LiI", "Li", "Li5O3"])
    assert len(df) == 3
    bad = df[df.candidate == "Li"].iloc[0]
    assert "anode itself" in bad.error and pd.isna(bad["rank"]) and math.isnan(bad.score)


def test_polymorphs_by_id(store):
    df = api.screen(store, ["LiI", "LiI:mp-22899"]).set_index("candidate")
    assert df.loc["LiI", "material_id"] == "mp-570935" and df.loc["LiI:mp-22899", "material_id"] == "mp-22899"
    assert df.loc["LiI:mp-22899", "e_above_hull_eV_per_atom"] > 0.02


def test_settings_reach_the_rows(store):
    s = Settings(tolerance_eV_per_atom=0.001)
    df = api.screen(store, ["I2"], s).set_index("candidate")
    assert df.loc["I2", "electrolyte_penalty_eV_per_atom"] > 0  # LiI | LLZO, -7 meV/atom, counts at a 1 meV tolerance
