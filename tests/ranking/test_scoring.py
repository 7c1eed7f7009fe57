"""Scores, Pareto fronts and shared ranks on hand-made rows (hand-derived numbers, no MP data)."""

import numpy as np
import pandas as pd
import pytest

from screening.ranking import filter_ranking, pareto_fronts, rank
from screening.ranking.scoring import explain
from screening.settings import Settings, Weights


def row(candidate, kind="interlayer", e_li=0.0, e_el=0.0, character="insulating", gap=8.0, volume=1.0, width=3.0,
        error="", ehull=0.0, red=0.0):
    return {"candidate": candidate, "formula": candidate, "material_id": f"t-{candidate}", "kind": kind,
            "interphase": candidate, "li_reaction_energy_eV_per_atom": e_li, "electrolyte_reaction_energy_eV_per_atom": e_el,
            "electronic_character": character, "min_product_band_gap_eV": gap, "volume_ratio": volume,
            "window_width_V": width, "band_gap_note": "toy gaps", "volume_note": "toy volumes", "stage_voltage_V": 0.0,
            "stage_interphase": candidate, "stage_electronic_character": character, "stage_min_product_band_gap_eV": gap,
            "stage_volume_ratio": volume, "stage_electrolyte_reaction_energy_eV_per_atom": e_el,
            "e_above_hull_eV_per_atom": ehull, "reduction_limit_V": red, "warnings": [], "error": error}


@pytest.fixture
def ranked():
    rows = [row("A", gap=8.0), row("B", gap=6.0), row("C", gap=6.0),
            row("D", kind="precursor", e_li=-1.0, e_el=-0.05, gap=3.0, volume=1.3),
            row("E", e_li=-0.015, character="mixed", gap=0.0, volume=np.nan),
            row("F", error="Xx is not in the phase store")]
    return rank(pd.DataFrame(rows)).set_index("candidate")


def test_scores_are_the_weighted_means(ranked):
    assert ranked.loc["A", "score"] == pytest.approx(3 / 3.5)  # (1 + 1 + 1 + 0.5 x 0) / 3.5
    assert ranked.loc["D", "score"] == pytest.approx((1 + 0.5 + 0.75 + 0.5 * 0.6) / 3.5)
    assert ranked.loc["D", "li_penalty_eV_per_atom"] == 0  # a precursor is meant to react with Li
    assert ranked.loc["D", "electrolyte_penalty_eV_per_atom"] == pytest.approx(0.05)
    # E: Li reaction inside the tolerance costs nothing; mixed conductor; unknown volume counts 0.5
    assert ranked.loc["E", "s_li"] == 1 and ranked.loc["E", "s_insulation"] == 0 and np.isnan(ranked.loc["E", "s_volume"])
    assert ranked.loc["E", "score"] == pytest.approx((1 + 1 + 0 + 0.5 * 0.5) / 3.5)
    assert ranked.loc["E", "score_basis"] == "volume unknown (counted 0.5)"


def test_ties_share_ranks_unless_a_key_separates_them(ranked):
    assert ranked.loc["A", "rank"] == 1 and ranked.loc["A", "tie_break"] == "gap 8 eV"
    assert ranked.loc["B", "rank"] == ranked.loc["C", "rank"] == 2
    assert ranked.loc["B", "rank_label"] == ranked.loc["C", "rank_label"] == "=2"
    assert ranked.loc["D", "rank"] == 4 and ranked.loc["D", "rank_label"] == "4" and ranked.loc["D", "tie_break"] == ""
    assert pd.isna(ranked.loc["F", "rank"]) and np.isnan(ranked.loc["F", "score"])  # kept, unranked, last
    assert list(ranked.index)[-1] == "F"


def test_pareto_fronts(ranked):
    assert ranked.loc[["A", "B", "C", "D"], "pareto_front"].tolist() == [1, 1, 1, 1]
    assert ranked.loc["E", "pareto_front"] == 2  # A is as good everywhere known and better on insulation
    obj = np.array([[0, 0], [1, 1], [0, np.nan], [2, 0]], float)
    assert pareto_fronts(obj).tolist() == [1, 2, 1, 2]  # unknowns are not compared


def test_weights_and_stage_change_the_scores():
    df = pd.DataFrame([row("A", gap=8.0), row("D", kind="precursor", gap=1.5, volume=1.5)])
    base = rank(df).set_index("candidate")
    vol = rank(df, Settings(weights=Weights(volume=5))).set_index("candidate")
    assert base.loc["A", "rank"] == 1 and vol.loc["D", "rank"] == 1
    staged = df.copy()
    staged.loc[1, "stage_electronic_character"] = "mixed"
    first = rank(staged, Settings(stage="first")).set_index("candidate")
    assert first.loc["D", "s_insulation"] == 0 and rank(staged).set_index("candidate").loc["D", "s_insulation"] == 0.375


def test_filters_count_what_they_remove(ranked):
    df = ranked.reset_index()
    kept, removed = filter_ranking(df, insulating_only=True)
    assert sorted(kept.candidate) == ["A", "B", "C", "D"] and removed == 2  # E mixed, F failed
    kept, removed = filter_ranking(df)
    assert len(kept) == 6 and removed == 0  # no filter: failed rows stay
    df.loc[df.candidate == "A", "e_above_hull_eV_per_atom"] = 0.05
    kept, _ = filter_ranking(df, li_stable=True)
    assert "A" not in set(kept.candidate)  # 50 meV/atom above the hull: beyond the tolerance
    kept, _ = filter_ranking(df, Settings(max_e_hull_eV_per_atom=0.1), li_stable=True)
    assert "A" in set(kept.candidate)


def test_explain_spells_out_the_score(ranked):
    text = explain(ranked.reset_index(), "D")
    assert "rank 4 of 5" in text and "s_volume      = clip(V ratio - 1, 0, 0.5) / 0.5 = 0.600" in text
    assert "counts for interlayers only" in text
    assert "tied score ordered by gap 8 eV" in explain(ranked.reset_index(), "A")
    assert "shares its rank" in explain(ranked.reset_index(), "B")
