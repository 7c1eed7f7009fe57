"""Scores, Pareto fronts, honest ranks and rank intervals on hand-made rows (hand-derived numbers,
no MP data)."""

import math

import numpy as np
import pandas as pd
import pytest

from screening.ranking import filter_ranking, pareto_fronts, rank
from screening.ranking.scoring import explain, rank_intervals, transport_score, volume_score
from screening.settings import Settings, Weights


def row(candidate, kind="interlayer", e_li=0.0, e_el=0.0, character="insulating", gap=8.0, volume=1.0, width=3.0,
        error="", ehull=0.0, red=0.0, asr=100.0, transport="ionic"):
    return {"candidate": candidate, "formula": candidate, "material_id": f"t-{candidate}", "kind": kind,
            "interphase": candidate, "li_reaction_energy_eV_per_atom": e_li, "electrolyte_reaction_energy_eV_per_atom": e_el,
            "electronic_character": character, "min_product_band_gap_eV": gap, "volume_ratio": volume,
            "window_width_V": width, "band_gap_note": "toy gaps", "volume_note": "toy volumes", "stage_voltage_V": 0.0,
            "stage_interphase": candidate, "stage_electronic_character": character, "stage_min_product_band_gap_eV": gap,
            "stage_volume_ratio": volume, "stage_electrolyte_reaction_energy_eV_per_atom": e_el,
            "e_above_hull_eV_per_atom": ehull, "reduction_limit_V": red, "warnings": [], "error": error,
            "asr_ohm_cm2": asr, "transport": transport, "stage_asr_ohm_cm2": asr, "stage_transport": transport,
            "interphase_thickness_um": 0.5, "conductivity_origin": "toy", "gap_borderline": False}


@pytest.fixture
def ranked():
    rows = [row("A", gap=8.0), row("B", gap=6.0, asr=1000.0), row("C", gap=6.0, asr=1000.0),
            row("D", kind="precursor", e_li=-1.0, e_el=-0.05, gap=1.5, volume=1.3, asr=10.0),
            row("E", e_li=-0.015, character="mixed", gap=0.0, volume=np.nan, transport="unknown", asr=np.nan),
            row("F", error="Xx is not in the phase store")]
    return rank(pd.DataFrame(rows)).set_index("candidate")


def test_volume_window_and_transport_scale():
    """Hand-derived: no credit at or below 1, full from 1.2 to 2, none from 3; the resistance on a
    log scale from 10 (1) to 1e4 ohm cm2 (0)."""
    assert volume_score([0.8, 1.0, 1.1, 1.28, 2.0, 2.5, 3.0, 4.0]).tolist() == pytest.approx(
        [0, 0, 0.5, 1, 1, 0.5, 0, 0])
    assert np.isnan(volume_score([np.nan])[0])
    s = transport_score([1.0, 10.0, 100.0, 1e4, 1e9, np.nan, np.nan, np.nan],
                        ["ionic", "ionic", "ionic", "ionic", "ionic", "blocking", "metallic", "unknown"])
    assert s[:7].tolist() == pytest.approx([1, 1, 2 / 3, 0, 0, 0, 1]) and np.isnan(s[7])


def test_scores_are_the_weighted_means(ranked):
    total = 1 + 1 + 1 + 0.5 + 1
    # A: li 1, electrolyte 1, insulation min(8/3, 1) = 1, volume 0 (ratio 1), transport 2/3 (100 ohm cm2)
    assert ranked.loc["A", "score"] == pytest.approx((3 + 0.5 * 0 + 2 / 3) / total)
    # D: precursor (its Li reaction is the point), electrolyte 1 - 0.05/0.1, gap 1.5/3, volume 1, transport 1
    assert ranked.loc["D", "score"] == pytest.approx((1 + 0.5 + 0.5 + 0.5 * 1 + 1) / total)
    assert ranked.loc["D", "li_penalty_eV_per_atom"] == 0
    assert ranked.loc["D", "electrolyte_penalty_eV_per_atom"] == pytest.approx(0.05)
    # E: Li reaction inside the tolerance costs nothing; mixed conductor; unknown volume and transport count 0.5
    assert ranked.loc["E", "s_li"] == 1 and ranked.loc["E", "s_insulation"] == 0 and np.isnan(ranked.loc["E", "s_volume"])
    assert ranked.loc["E", "score"] == pytest.approx((1 + 1 + 0 + 0.5 * 0.5 + 0.5) / total)
    assert ranked.loc["E", "score_basis"] == "volume, transport unknown (counted 0.5)"


def test_insulation_stops_mattering_above_3_eV():
    df = rank(pd.DataFrame([row("LiF-like", gap=13.6), row("LiI-like", gap=5.9)])).set_index("candidate")
    assert df.loc["LiF-like", "s_insulation"] == df.loc["LiI-like", "s_insulation"] == 1.0
    assert df.loc["LiF-like", "score"] == df.loc["LiI-like", "score"]  # the gap then only breaks the tie


def test_ties_broken_by_keys_that_differ_else_true_ties(ranked):
    """B and C tie on score and on every key: a true tie sharing rank 3 (A 0.815 and D 0.778 above)."""
    assert ranked.loc["A", "rank"] == 1 and ranked.loc["D", "rank"] == 2
    assert ranked.loc["B", "rank"] == ranked.loc["C", "rank"] == 3
    assert ranked.loc["B", "rank_label"] == ranked.loc["C", "rank_label"] == "=3"
    assert ranked.loc["B", "tie_break"] == "true tie"
    assert pd.isna(ranked.loc["F", "rank"]) and np.isnan(ranked.loc["F", "score"])  # kept, unranked, last
    assert list(ranked.index)[-1] == "F"
    # the same score separated by the first key that differs (resistance), then by the gap
    df = rank(pd.DataFrame([row("X", gap=5.0, asr=50.0), row("Y", gap=4.0, asr=50.0), row("Z", gap=9.0, asr=50.0),
                            row("W", gap=9.0, asr=50.0)])).set_index("candidate")
    assert df.score.nunique() == 1
    assert df.loc[["Z", "W", "X", "Y"], "rank"].tolist() == [1, 1, 3, 4]
    assert df.loc["Z", "tie_break"] == "gap 9 eV; true tie" and df.loc["X", "tie_break"] == "gap 5 eV"


def test_pareto_fronts(ranked):
    assert ranked.loc[["A", "D"], "pareto_front"].tolist() == [1, 1]
    assert ranked.loc["B", "pareto_front"] == 2  # A: as good everywhere and better transport
    obj = np.array([[0, 0], [1, 1], [0, np.nan], [2, 0]], float)
    assert pareto_fronts(obj).tolist() == [1, 2, 1, 2]  # unknowns are not compared


def _pareto_all_pairs(obj):
    """The previous whole-matrix algorithm (n x n x criteria), for comparison."""
    n = len(obj)
    a, b = obj[:, None, :], obj[None, :, :]
    known = ~(np.isnan(a) | np.isnan(b))
    dom = np.where(known, a <= b, True).all(axis=2) & np.where(known, a < b, False).any(axis=2)
    np.fill_diagonal(dom, False)
    n_dom = dom.sum(axis=0)
    front = np.zeros(n, int)
    current, k = np.nonzero(n_dom == 0)[0], 0
    while len(current):
        k += 1
        front[current] = k
        n_dom = n_dom - dom[current].sum(axis=0)
        n_dom[front > 0] = -1
        current = np.nonzero(n_dom == 0)[0]
    front[front == 0] = k + 1
    return front


def test_blocked_pareto_equals_the_whole_matrix_algorithm():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = int(rng.integers(1, 200))
        obj = rng.choice([0.0, 0.25, 0.5, 1.0, np.nan], size=(n, 5), p=[0.3, 0.2, 0.2, 0.2, 0.1])
        obj += (rng.random((n, 5)) < 0.3) * rng.random((n, 5))
        assert pareto_fronts(obj, block=7).tolist() == _pareto_all_pairs(obj).tolist()


def test_rank_intervals_cover_the_rank_and_widen_with_close_scores():
    """Hand-made sub-scores: a clear winner keeps rank 1 under any weights in [1/2, 2]x; two
    candidates trading insulation for transport swap places depending on the weights."""
    sub = np.array([[1, 1, 1, 1, 1], [1, 1, 1.0, 0.0, 0.2], [1, 1, 0.2, 0.0, 1.0], [0, 0, 0, 0, 0]], float)
    lo, hi = rank_intervals(sub, np.array([1, 1, 1, 0.5, 1]))
    assert (lo[0], hi[0]) == (1, 1) and (lo[3], hi[3]) == (4, 4)
    assert lo[1] == lo[2] == 2 and hi[1] == hi[2] == 3
    again = rank_intervals(sub, np.array([1, 1, 1, 0.5, 1]))  # seeded: the same every time
    assert (again[0] == lo).all() and (again[1] == hi).all()


def test_weights_and_stage_change_the_scores():
    df = pd.DataFrame([row("A", gap=8.0, asr=1e4), row("D", kind="precursor", gap=1.5, volume=1.5, asr=1e4)])
    base = rank(df).set_index("candidate")
    vol = rank(df, Settings(weights=Weights(volume=5))).set_index("candidate")
    assert base.loc["A", "rank"] == 1 and vol.loc["D", "rank"] == 1
    staged = df.copy()
    staged.loc[1, "stage_electronic_character"] = "mixed"
    first = rank(staged, Settings(stage="first")).set_index("candidate")
    assert first.loc["D", "s_insulation"] == 0 and rank(staged).set_index("candidate").loc["D", "s_insulation"] == 0.5


def test_expansion_beyond_what_a_film_survives_is_not_rewarded():
    """With volume weighted 2, a 4x expander (Si-like) no longer beats a 1.3x one."""
    df = pd.DataFrame([row("Si-like", kind="precursor", character="mixed", gap=0.0, volume=4.0, transport="metallic"),
                       row("I2-like", kind="precursor", gap=5.9, volume=1.28, asr=2300.0)])
    got = rank(df, Settings(weights=Weights(volume=2))).set_index("candidate")
    assert got.loc["Si-like", "s_volume"] == 0 and got.loc["I2-like", "rank"] == 1


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
    assert "rank 2 of 5" in text and "s_volume      = window(V ratio" in text and "= 1.000" in text
    assert "s_transport   = (4 - log10 ASR) / 3, clipped = 1.000" in text
    assert "counts for interlayers only" in text
    assert "true tie" in explain(ranked.reset_index(), "B")
    assert math.isfinite(ranked.loc["D", "rank_low"]) and ranked.loc["D", "rank_low"] <= 2 <= ranked.loc["D", "rank_high"]
