"""The cathode side: coatings between a cathode and the electrolyte (hand-made rows for the
scores; the shipped data against Xiao et al. 2019 and pymatgen for the physics)."""

import json

import numpy as np
import pandas as pd
import pytest

from screening import screen
from screening.ranking import coatings
from screening.settings import CoatingWeights, Settings


def row(candidate, v=4.0, red=0.5, ox=4.5, e_k=0.0, e_e=0.0, e_o=0.0, gap=6.0, character="insulating", asr=100.0,
        transport="ionic"):
    return {"candidate": candidate, "formula": candidate, "material_id": f"t-{candidate}", "kind": "coating",
            "cathode_voltage_V": v, "reduction_limit_V": red, "oxidation_limit_V": ox,
            "voltage_margin_V": v - red if ox is None else min(v - red, ox - v),
            "cathode_reaction_energy_eV_per_atom": e_k, "electrolyte_reaction_energy_eV_per_atom": e_e,
            "open_reaction_energy_eV_per_atom": e_o, "band_gap_eV": gap, "electronic_character": character,
            "asr_ohm_cm2": asr, "transport": transport, "warnings": [], "error": ""}


def test_coating_sub_scores_hand_derived():
    s = Settings(side="cathode")
    d = pd.DataFrame([row("A"), row("B", ox=3.6, e_e=-0.05), row("C", e_k=-0.3, e_o=-0.01, gap=0.5, character="mixed"),
                      row("D", ox=None)])
    sub = coatings.sub_scores(d, s).set_index(d.candidate)
    assert sub.loc["A", "s_window"] == 1 and sub.loc["B", "s_window"] == pytest.approx(1 - 0.4)  # 0.4 V short of 4.0 V
    assert sub.loc["D", "s_window"] == 1  # no Li to remove: no oxidation limit
    assert sub.loc["B", "s_electrolyte"] == pytest.approx(0.5) and sub.loc["C", "s_cathode"] == 0
    assert sub.loc["C", "s_open"] == 1  # -0.01 eV/atom is inside the DFT tolerance
    assert sub.loc["A", "s_insulation"] == 1 and sub.loc["C", "s_insulation"] == 0
    ranked = coatings.rank(d, s).set_index("candidate")
    assert ranked.loc["D", "rank"] == 1 and ranked.loc["A", "rank"] == 2  # equal scores: D's wider voltage margin
    assert ranked.loc["A", "tie_break"] == "voltage margin 0.5 V" and ranked.loc["C", "rank"] == 4
    total = sum(CoatingWeights().__dict__.values())
    assert ranked.loc["B", "score"] == pytest.approx((0.6 + 1 + 0.5 + 1 + 1 + 0.5 * 2 / 3) / total)


@pytest.mark.data
def test_cathode_screen_matches_xiao_and_pymatgen(store):
    """LiNbO3 | Li6PS5Cl: -0.109 eV/atom here, -0.123 in Xiao et al.'s Table S2 (earlier MP data,
    no MP2020 sulfide correction); LiNbO3 | LiCoO2 open to Li at the voltage equals pymatgen's
    GrandPotentialInterfacialReactivity."""
    from screening.thermo.reference import pymatgen_reactivity

    df = screen(store, ["LiNbO3", "Li3PO4", "LiF", "Li2ZrO3"], side="cathode", electrolyte="Li6PS5Cl").set_index("candidate")
    nb = df.loc["LiNbO3"]
    assert nb.electrolyte_reaction_energy_eV_per_atom == pytest.approx(-0.123, abs=0.05)
    assert nb.electrolyte_reaction_energy_eV_per_atom == pytest.approx(-0.1088, abs=1e-3)
    v = nb.cathode_voltage_V
    assert v == pytest.approx(3.42, abs=0.01)  # LiCoO2's own delithiation onset on MP's GGA+U hull
    ir = pymatgen_reactivity(store, "LiNbO3", "LiCoO2", open_li_V=v)
    assert nb.open_reaction_energy_eV_per_atom == pytest.approx(min(0.0, float(ir.minimum[1])), abs=1e-6)
    assert bool(nb.covers_voltage) and nb.oxidation_limit_V == pytest.approx(3.86, abs=0.02)  # Xiao 2019 (Zhu 2015): 3.88 V
    assert df.loc["LiF", "rank"] <= df.loc["LiNbO3", "rank"]  # LiF does not react with the sulfide
    assert (df.kind == "coating").all() and df.rank_low.notna().all()


@pytest.mark.data
def test_cathode_screen_cli_json_and_voltage(cli):
    r = cli("screen", "--side", "cathode", "--cathode", "LiCoO2", "--electrolyte", "Li6PS5Cl", "--voltage", "4.2", "--json")
    rows = json.loads(r.out)
    assert r.code == 0 and len(rows) >= 20 and {x["cathode_voltage_V"] for x in rows if not x["error"]} == {4.2}
    nb = next(x for x in rows if x["candidate"] == "LiNbO3")
    assert nb["covers_voltage"] is False and nb["voltage_margin_V"] == pytest.approx(3.8625 - 4.2, abs=0.02)
    bad = cli("screen", "--voltage", "4.2")
    assert bad.code == 2 and "--side cathode" in bad.err
    assert cli("screen", "--side", "cathode", "--cathode", "I2").err.startswith("error: --cathode I holds no Li")


def test_coating_rows_keep_failures():
    d = pd.DataFrame([row("A"), {**row("X"), "error": "X is not in the phase store"}])
    ranked = coatings.rank(d, Settings(side="cathode")).set_index("candidate")
    assert pd.isna(ranked.loc["X", "rank"]) and np.isnan(ranked.loc["X", "score"])
