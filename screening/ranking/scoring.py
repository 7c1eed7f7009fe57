"""Scores, Pareto fronts and honest ranks of evaluated screen rows.

* penalties (eV/atom, lower is better; |E| below the DFT tolerance counts as 0):
  ``li_penalty`` = -E(reaction with Li) for interlayers (a precursor's reaction with Li is the
  point: its interphase is in equilibrium with Li, penalty 0); ``electrolyte_penalty`` =
  -E(most exothermic reaction of an interphase product with the electrolyte);
* sub-scores in [0, 1]: s_li = 1 - min(li_penalty / 0.1, 1), s_electrolyte likewise,
  s_insulation = min(smallest product gap / 4 eV, 1) (0 for mixed conductors, 0.5 when a gap is
  unknown), s_volume = clip(V(products)/V(precursor) - 1, 0, 0.5) / 0.5 (void filling by
  expansion; unknown when a volume is missing, not 0);
* ``score`` = weighted mean of the sub-scores; an unknown sub-score (``s_volume`` NaN) enters at
  0.5, the middle of its range, as an unknown gap does in s_insulation: unknown neither wins nor
  loses (``score_basis`` says so); ``pareto_front`` = non-dominated sorting over the four criteria (unknown
  criteria are not compared); ``rank``: scores equal to 1e-6 share a rank ("=2" in
  ``rank_label``) unless a secondary key separates them: the first of the product band gap
  (larger first), the electrolyte reaction energy (less exothermic first) and the window width
  (wider first) that differs inside the tied group, named with its value in ``tie_break``.

With ``stage="first"`` the interphase criteria (insulation, volume, electrolyte) are those of the
lithiation stage at the electrolyte's reduction limit instead of the fully lithiated one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from screening.settings import Settings

PENALTY_SCALE_EV_PER_ATOM = 0.1
GAP_SCALE_EV = 4.0
VOLUME_SCALE = 0.5
SCORE_TIE = 1e-6
UNKNOWN_SUB_SCORE = 0.5
#: secondary keys for tied scores: (column, larger is better, label, unit)
TIE_KEYS = [
    ("min_product_band_gap_eV", True, "gap", "eV"),
    ("electrolyte_reaction_energy_eV_per_atom", True, "electrolyte reaction", "eV/atom"),
    ("window_width_V", True, "window width", "V"),
]
CRITERIA = ["li", "electrolyte", "insulation", "volume"]


def _criteria_columns(stage: str) -> dict[str, str]:
    if stage == "first":
        return {"character": "stage_electronic_character", "gap": "stage_min_product_band_gap_eV",
                "volume": "stage_volume_ratio", "electrolyte": "stage_electrolyte_reaction_energy_eV_per_atom"}
    return {"character": "electronic_character", "gap": "min_product_band_gap_eV", "volume": "volume_ratio",
            "electrolyte": "electrolyte_reaction_energy_eV_per_atom"}


def sub_scores(d: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Penalties (eV/atom) and sub-scores in [0, 1] (NaN where unknown) of evaluated rows."""
    cols = _criteria_columns(settings.stage)
    tol = settings.tolerance_eV_per_atom
    e_li = pd.to_numeric(d["li_reaction_energy_eV_per_atom"], errors="coerce")
    e_el = pd.to_numeric(d[cols["electrolyte"]], errors="coerce").fillna(0.0)
    interlayer = (d["kind"] == "interlayer").to_numpy()
    li_pen = np.where(interlayer & (e_li.abs() >= tol), np.maximum(-e_li.fillna(0), 0), 0.0)
    el_pen = np.where(e_el.abs() >= tol, np.maximum(-e_el, 0), 0.0)
    character = d[cols["character"]].astype(str)
    gap = pd.to_numeric(d[cols["gap"]], errors="coerce")
    s_ins = np.clip(gap.fillna(0).to_numpy() / GAP_SCALE_EV, 0, 1)
    s_ins = np.where(character == "unknown", 0.5, s_ins)
    s_ins = np.where(character == "mixed", 0.0, s_ins)
    vol = pd.to_numeric(d[cols["volume"]], errors="coerce")
    s_vol = np.clip(vol.to_numpy() - 1, 0, VOLUME_SCALE) / VOLUME_SCALE  # NaN stays NaN: unknown
    out = pd.DataFrame(index=d.index)
    out["li_penalty_eV_per_atom"] = li_pen
    out["electrolyte_penalty_eV_per_atom"] = el_pen
    out["s_li"] = 1 - np.minimum(li_pen / PENALTY_SCALE_EV_PER_ATOM, 1)
    out["s_electrolyte"] = 1 - np.minimum(el_pen / PENALTY_SCALE_EV_PER_ATOM, 1)
    out["s_insulation"] = s_ins
    out["s_volume"] = s_vol
    return out


def pareto_fronts(obj: np.ndarray) -> np.ndarray:
    """Front number (1 = non-dominated) of each row; objectives minimised; NaN = unknown, not
    compared (row i dominates j when no worse on every criterion both know, better on one)."""
    n = len(obj)
    a, b = obj[:, None, :], obj[None, :, :]
    known = ~(np.isnan(a) | np.isnan(b))
    le = np.where(known, a <= b, True).all(axis=2)
    lt = np.where(known, a < b, False).any(axis=2)
    dom = le & lt
    np.fill_diagonal(dom, False)
    n_dominators = dom.sum(axis=0)
    front = np.zeros(n, int)
    current = np.nonzero(n_dominators == 0)[0]
    k = 0
    while len(current):
        k += 1
        front[current] = k
        n_dominators = n_dominators - dom[current].sum(axis=0)
        n_dominators[front > 0] = -1
        current = np.nonzero(n_dominators == 0)[0]
    front[front == 0] = k + 1  # cycles possible only through unknowns: last front
    return front


def _ranks(d: pd.DataFrame) -> tuple[np.ndarray, list[str], list[str]]:
    """Ranks (shared within ties), labels ('=2') and tie-break notes of rows sorted by score."""
    n = len(d)
    ranks = np.zeros(n, int)
    labels, notes = [""] * n, [""] * n
    scores = d["score"].to_numpy()
    start = 0
    while start < n:
        end = start + 1
        while end < n and abs(scores[end] - scores[start]) <= SCORE_TIE:
            end += 1
        group = list(range(start, end))
        key = None
        if len(group) > 1:
            for col, _, label, unit in TIE_KEYS:
                vals = pd.to_numeric(d[col].iloc[group], errors="coerce").to_numpy()
                if np.isfinite(vals).any() and np.nanmax(vals) - np.nanmin(vals) > 1e-6:
                    key = (col, label, unit)
                    break
        # rows of the group share a rank where the tie key (if any) does not separate them
        pos = start
        k = 0
        while k < len(group):
            same = [group[k]]
            if key is not None:
                v = pd.to_numeric(d[key[0]].iloc[group[k]], errors="coerce")
                while k + len(same) < len(group):
                    w = pd.to_numeric(d[key[0]].iloc[group[k + len(same)]], errors="coerce")
                    if (np.isnan(v) and np.isnan(w)) or abs(v - w) <= 1e-6:
                        same.append(group[k + len(same)])
                    else:
                        break
            else:
                same = group[k:]
            for i in same:
                ranks[i] = pos + 1
                labels[i] = f"={pos + 1}" if len(same) > 1 else str(pos + 1)
                if key is not None:
                    v = d[key[0]].iloc[i]
                    notes[i] = f"{key[1]} {v:.4g} {key[2]}" if pd.notna(v) else f"{key[1]} unknown"
            pos += len(same)
            k += len(same)
        start = end
    return ranks, labels, notes


def rank(df: pd.DataFrame, settings: Settings | None = None) -> pd.DataFrame:
    """Penalties, sub-scores, ``score``, ``pareto_front``, ``rank`` (shared in ties),
    ``rank_label`` and ``tie_break`` added; rows with errors last, unranked, never dropped."""
    settings = settings or Settings()
    d = df.copy()
    ok = (d["error"].fillna("") == "").to_numpy()
    s = sub_scores(d, settings)
    for c in s.columns:
        d[c] = np.where(ok, s[c], np.nan)  # a failed row has no scores
    w = settings.weights
    weights = np.array([w.li, w.electrolyte, w.insulation, w.volume])
    sub = s[["s_li", "s_electrolyte", "s_insulation", "s_volume"]].to_numpy()
    known = ~np.isnan(sub)
    score = (np.where(known, sub, UNKNOWN_SUB_SCORE) * weights).sum(axis=1) / w.total
    d["score"] = np.where(ok, score, np.nan)
    d["score_basis"] = [
        "" if not good else ("all criteria known" if kn.all() else
                             ", ".join(c for c, k in zip(CRITERIA, kn, strict=True) if not k) + f" unknown (counted {UNKNOWN_SUB_SCORE})")
        for good, kn in zip(ok, known, strict=True)]
    obj = np.column_stack([s.li_penalty_eV_per_atom, s.electrolyte_penalty_eV_per_atom, -s.s_insulation, -s.s_volume])
    fronts = np.full(len(d), np.nan)
    if ok.any():
        fronts[ok] = pareto_fronts(obj[ok])
    d["pareto_front"] = fronts
    sort_cols = ["score"] + [c for c, _, _, _ in TIE_KEYS] + ["candidate"]
    ascending = [False] + [not big for _, big, _, _ in TIE_KEYS] + [True]
    d = d.sort_values(sort_cols, ascending=ascending, na_position="last", kind="stable").reset_index(drop=True)
    good = (d["error"].fillna("") == "").to_numpy()
    ranks = pd.array([pd.NA] * len(d), dtype="Int64")
    labels, notes = [""] * len(d), [""] * len(d)
    if good.any():
        r, lab, note = _ranks(d[good])
        idx = np.nonzero(good)[0]
        ranks[idx] = r
        for j, i in enumerate(idx):
            labels[i], notes[i] = lab[j], note[j]
    d["rank"] = ranks
    d["rank_label"] = labels
    d["tie_break"] = notes
    d["pareto_front"] = d["pareto_front"].astype("Int64")
    first = ["rank", "rank_label", "candidate", "kind", "score", "pareto_front", "tie_break"]
    return d[first + [c for c in d.columns if c not in first]]


def explain(df: pd.DataFrame, candidate: str, settings: Settings | None = None) -> str:
    """How a candidate's score was made: inputs, penalties, sub-scores, weights, rank."""
    settings = settings or Settings()
    hits = df[(df.candidate == candidate) | (df.formula == candidate)]
    if hits.empty:
        raise ValueError(f"{candidate} is not in this screen")
    r = hits.iloc[0]
    if r.error:
        return f"{r.candidate}: not evaluated ({r.error})"
    cols = _criteria_columns(settings.stage)
    w = settings.weights
    tol = settings.tolerance_eV_per_atom
    fmt = lambda v, f=".4g": "unknown" if pd.isna(v) else format(v, f)  # noqa: E731
    lines = [
        f"{r.candidate} ({r.kind}, {r.formula} {r.material_id}) vs {settings.electrolyte}: rank {r.rank_label} of "
        f"{int(df['rank'].notna().sum())}, score {r.score:.4f} ({r.score_basis}), Pareto front {r.pareto_front}",
        f"interphase with Li: {r.interphase} ({'fully lithiated, 0 V' if settings.stage == 'full' else f'stage at {r.stage_voltage_V:.3f} V: {r.stage_interphase}'})",
        f"  s_li          = 1 - min(li_penalty / {PENALTY_SCALE_EV_PER_ATOM} eV/atom, 1) = {r.s_li:.3f}"
        f"   (li_penalty {r.li_penalty_eV_per_atom:.4f}: E vs Li {fmt(r.li_reaction_energy_eV_per_atom)} eV/atom; "
        f"{'counts for interlayers only' if r.kind == 'precursor' else f'|E| < {tol} eV/atom counts as 0'})",
        f"  s_electrolyte = 1 - min(electrolyte_penalty / {PENALTY_SCALE_EV_PER_ATOM} eV/atom, 1) = {r.s_electrolyte:.3f}"
        f"   (E vs electrolyte {fmt(r[cols['electrolyte']])} eV/atom; |E| < {tol} counts as 0)",
        f"  s_insulation  = min(gap / {GAP_SCALE_EV} eV, 1) = {r.s_insulation:.3f}   ({r[cols['character']]}, smallest product gap "
        f"{fmt(r[cols['gap']])} eV; {r.band_gap_note}; 0 when mixed, 0.5 when unknown)",
        f"  s_volume      = clip(V ratio - 1, 0, {VOLUME_SCALE}) / {VOLUME_SCALE} = {fmt(r.s_volume, '.3f')}   "
        f"(V ratio {fmt(r[cols['volume']])}; {r.volume_note})",
        f"score = (li {w.li:g} x {r.s_li:.3f} + electrolyte {w.electrolyte:g} x {r.s_electrolyte:.3f} + insulation "
        f"{w.insulation:g} x {r.s_insulation:.3f} + volume {w.volume:g} x {fmt(r.s_volume, '.3f')}) / (sum of the "
        f"weights; unknown counts {UNKNOWN_SUB_SCORE}) = {r.score:.4f}",
    ]
    if r.tie_break:
        lines.append(f"tied score ordered by {r.tie_break}")
    if str(r.rank_label).startswith("="):
        lines.append("equal score shares its rank" + (" (equal tie-break value too)" if r.tie_break else " (no secondary key separates it)"))
    for wtxt in r.warnings:
        lines.append(f"warning: {wtxt}")
    return "\n".join(lines)


def top_label(df, shown) -> str:
    """'top N of M' for a chart of the best rows (``shown``, in rank order), saying when a tie
    continues past the last one shown."""
    text = f"top {len(shown)} of {len(df)}"
    if 0 < len(shown) < len(df):
        last = shown["rank_label"].iloc[-1]
        if (df["rank_label"] == last).sum() > (shown["rank_label"] == last).sum():
            text += f" (the tie at rank {last} continues in the table)"
    return text
