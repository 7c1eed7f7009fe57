"""Scores, Pareto fronts, honest ranks and rank intervals of evaluated screen rows.

Five criteria, each a sub-score in [0, 1] (NaN where unknown), with the physics behind its scale:

* ``s_li`` = 1 - min(li_penalty / 0.1 eV/atom, 1): li_penalty = -E(reaction with Li) for
  interlayers (|E| below the DFT tolerance counts as 0; a precursor's reaction with Li is the
  point: its interphase is in equilibrium with Li, penalty 0);
* ``s_electrolyte`` likewise for the most exothermic reaction of an interphase product with the
  electrolyte;
* ``s_insulation`` = min(smallest product gap / 3 eV, 1) for an insulating interphase, 0 for a
  mixed conductor, 0.5 when a gap is unknown.  Above ~3 eV the gap stops mattering: the intrinsic
  electron density ~ N exp(-Eg / 2kT) is below 1e-6 cm^-3 at 300 K (N ~ 1e19 cm^-3), so electronic
  leakage is set by defects and impurities, not by the gap (LiF's 13.6 eV is not better than
  LiI's 5.9 eV);
* ``s_volume``: a Pilling-Bedworth-like window on V(products)/V(precursor).  A film that shrinks
  or keeps its volume (ratio <= 1) fills no voids: 0; expansion fills voids, full credit from 1.2
  (the seed's LiI from I2: 1.28); a ratio up to 2 keeps a protective, adherent layer (Pilling &
  Bedworth, J. Inst. Met. 29, 529 (1923): oxide/metal volume ratios of 1-2 protect); beyond 2 the
  stress cracks and delaminates the film, linearly to 0 at 3 (Si, Sn, P: 3-4x);
* ``s_transport``: the layer's area-specific resistance for Li+ (``screening.layer``), on a log
  scale from 10 ohm cm2 (1; 1 mV at 0.1 mA/cm2: negligible) to 1e4 ohm cm2 (0; 1 V at 0.1 mA/cm2:
  unusable); a layer that blocks Li+ scores 0, a metallic one 1 (Li moves as atoms), unknown NaN.

``score`` = weighted mean (``Settings.weights``; an unknown sub-score counts 0.5, the middle of its
range, so that unknown neither wins nor loses; ``score_basis`` says so).  ``pareto_front`` =
non-dominated sorting over the five criteria (unknown criteria are not compared).  ``rank``:
scores equal to 1e-6 are ordered by the secondary keys (layer resistance, smallest product gap,
electrolyte reaction energy, window width), each used only where it differs inside the tied group;
rows equal on every key share a rank ("=2") and ``tie_break`` says "true tie".  ``rank_low`` /
``rank_high``: the 5th and 95th percentile of the rank when every weight is scaled by a factor
drawn log-uniformly from [1/2, 2] (``ROBUST_DRAWS`` draws, seed ``ROBUST_SEED``): how robust a
rank is to the choice of weights.

With ``stage="first"`` the interphase criteria (insulation, volume, transport, electrolyte) are
those of the lithiation stage at the electrolyte's reduction limit instead of the fully lithiated
interphase.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from screening.settings import Settings

PENALTY_SCALE_EV_PER_ATOM = 0.1
GAP_SCALE_EV = 3.0
VOLUME_FILL = (1.0, 1.2)  # no credit at or below 1.0, full credit from 1.2
VOLUME_INTACT = (2.0, 3.0)  # full credit up to 2.0, none from 3.0
ASR_SCALE_OHM_CM2 = (10.0, 1e4)  # full credit at or below, none at or above
SCORE_TIE = 1e-6
UNKNOWN_SUB_SCORE = 0.5
ROBUST_DRAWS = 100
ROBUST_SEED = 0
ROBUST_FACTOR = 2.0  # each weight scaled by a factor in [1/2, 2]
#: secondary keys for tied scores: (column, larger is better, label, unit)
TIE_KEYS = [
    ("asr_ohm_cm2", False, "layer resistance", "ohm cm2"),
    ("min_product_band_gap_eV", True, "gap", "eV"),
    ("electrolyte_reaction_energy_eV_per_atom", True, "electrolyte reaction", "eV/atom"),
    ("window_width_V", True, "window width", "V"),
]
CRITERIA = ["li", "electrolyte", "insulation", "volume", "transport"]


def _criteria_columns(stage: str) -> dict[str, str]:
    if stage == "first":
        return {"character": "stage_electronic_character", "gap": "stage_min_product_band_gap_eV",
                "volume": "stage_volume_ratio", "electrolyte": "stage_electrolyte_reaction_energy_eV_per_atom",
                "asr": "stage_asr_ohm_cm2", "transport": "stage_transport"}
    return {"character": "electronic_character", "gap": "min_product_band_gap_eV", "volume": "volume_ratio",
            "electrolyte": "electrolyte_reaction_energy_eV_per_atom", "asr": "asr_ohm_cm2", "transport": "transport"}


def volume_score(ratio) -> np.ndarray:
    """The Pilling-Bedworth-like window on V(products)/V(precursor) (NaN stays NaN)."""
    r = np.asarray(ratio, float)
    rise = np.clip((r - VOLUME_FILL[0]) / (VOLUME_FILL[1] - VOLUME_FILL[0]), 0, 1)
    fall = np.clip((VOLUME_INTACT[1] - r) / (VOLUME_INTACT[1] - VOLUME_INTACT[0]), 0, 1)
    return np.minimum(rise, fall)


def transport_score(asr_ohm_cm2, transport) -> np.ndarray:
    """Log-linear from ``ASR_SCALE_OHM_CM2[0]`` (1) to ``[1]`` (0); blocking 0, metallic 1,
    unknown NaN."""
    asr = np.asarray(asr_ohm_cm2, float)
    kind = np.asarray(transport, dtype=object)
    lo, hi = (math.log10(v) for v in ASR_SCALE_OHM_CM2)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.clip((hi - np.log10(np.maximum(asr, 1e-300))) / (hi - lo), 0, 1)
    s = np.where(kind == "blocking", 0.0, s)
    s = np.where(kind == "metallic", 1.0, s)
    return np.where((kind == "ionic") | (kind == "blocking") | (kind == "metallic"), s, np.nan)


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
    out = pd.DataFrame(index=d.index)
    out["li_penalty_eV_per_atom"] = li_pen
    out["electrolyte_penalty_eV_per_atom"] = el_pen
    out["s_li"] = 1 - np.minimum(li_pen / PENALTY_SCALE_EV_PER_ATOM, 1)
    out["s_electrolyte"] = 1 - np.minimum(el_pen / PENALTY_SCALE_EV_PER_ATOM, 1)
    out["s_insulation"] = s_ins
    out["s_volume"] = volume_score(pd.to_numeric(d[cols["volume"]], errors="coerce"))
    out["s_transport"] = transport_score(pd.to_numeric(d[cols["asr"]], errors="coerce"), d[cols["transport"]].to_numpy())
    return out


SUB_SCORES = ["s_li", "s_electrolyte", "s_insulation", "s_volume", "s_transport"]


def _weights(settings: Settings) -> np.ndarray:
    w = settings.weights
    return np.array([w.li, w.electrolyte, w.insulation, w.volume, w.transport])


def scores(sub: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted means of sub-score rows (unknown counts ``UNKNOWN_SUB_SCORE``) for one weight
    vector (shape (5,)) or several (shape (k, 5): one column of scores each)."""
    filled = np.where(np.isnan(sub), UNKNOWN_SUB_SCORE, sub)
    w = np.atleast_2d(weights)
    out = filled @ w.T / w.sum(axis=1)
    return out[:, 0] if np.ndim(weights) == 1 else out


def _dominance(le_a, lt_a, le_b, lt_b) -> np.ndarray:
    """dom[i, j]: row a_i dominates row b_j (no worse on every criterion both know, better on one;
    objectives minimised).  Unknown (NaN) values are pre-filled so that a comparison with one is
    'no worse' and 'not better' (``_filled``); one 2D comparison per criterion."""
    le = np.ones((len(le_a), len(le_b)), bool)
    lt = np.zeros((len(le_a), len(le_b)), bool)
    for c in range(le_a.shape[1]):
        le &= le_a[:, c, None] <= le_b[None, :, c]
        lt |= lt_a[:, c, None] < lt_b[None, :, c]
    return le & lt


def _filled(u: np.ndarray):
    """(x_le for a row as the dominator, y_le as the dominated, x_lt, y_lt): NaN as -inf/+inf so
    that x <= y and not x < y whenever either is unknown."""
    nan = np.isnan(u)
    return (np.where(nan, -np.inf, u), np.where(nan, np.inf, u), np.where(nan, np.inf, u), np.where(nan, -np.inf, u))


def pareto_fronts(obj: np.ndarray, block: int = 512) -> np.ndarray:
    """Front number (1 = non-dominated) of each row; objectives minimised; NaN = unknown, not
    compared (row i dominates j when no worse on every criterion both know, better on one).

    Rows with identical objectives (NaN pattern included) are evaluated once.  Each row's number
    of dominators is counted in blocks of ``block`` rows against all rows (memory ~ block x n x
    criteria booleans, never n x n); fronts are peeled by subtracting, block by block, what the
    current front dominates.  Time ~ 2 n^2 criteria comparisons over the distinct rows."""
    n = len(obj)
    if n == 0:
        return np.zeros(0, int)
    key = np.where(np.isnan(obj), np.inf, obj)
    _, first, inverse = np.unique(np.column_stack([key, np.isnan(obj)]), axis=0, return_index=True, return_inverse=True)
    u = obj[first]
    m = len(u)
    le_x, le_y, lt_x, lt_y = _filled(u)

    def dominated_counts(rows: np.ndarray) -> np.ndarray:
        counts = np.zeros(m, int)
        for start in range(0, len(rows), block):
            chunk = rows[start:start + block]
            counts += _dominance(le_x[chunk], lt_x[chunk], le_y, lt_y).sum(axis=0)
        return counts

    n_dominators = dominated_counts(np.arange(m))  # a row never dominates itself
    front = np.zeros(m, int)
    current = np.nonzero(n_dominators == 0)[0]
    k = 0
    while len(current):
        k += 1
        front[current] = k
        n_dominators -= dominated_counts(current)
        n_dominators[front > 0] = -1
        current = np.nonzero(n_dominators == 0)[0]
    front[front == 0] = k + 1  # cycles possible only through unknowns: last front
    return front[inverse.ravel()]


def _tie_order(d: pd.DataFrame, group: list[int], tie_keys) -> tuple[list[list[int]], list[str]]:
    """Split a group of tied rows by the secondary keys, each used only where it differs inside
    the (sub)group: (the rows in order as runs of true ties, a note per run)."""
    runs = [(group, [])]
    for col, big, label, unit in tie_keys:
        nxt = []
        for rows, used in runs:
            vals = pd.to_numeric(d[col].iloc[rows], errors="coerce").to_numpy(float)
            if len(rows) < 2 or not np.isfinite(vals).any() or np.nanmax(vals) - np.nanmin(vals) <= 1e-9 * max(1, np.nanmax(np.abs(vals))):
                nxt.append((rows, used))
                continue
            keyed = sorted(zip(rows, vals, strict=True), key=lambda rv: (np.isnan(rv[1]), -rv[1] if big else rv[1]))
            k = 0
            while k < len(keyed):
                v = keyed[k][1]
                same = [rv for rv in keyed[k:] if (np.isnan(v) and np.isnan(rv[1])) or abs(rv[1] - v) <= 1e-9 * max(1, abs(v))]
                text = f"{label} unknown" if np.isnan(v) else f"{label} {v:.4g} {unit}"
                nxt.append(([r for r, _ in same], [*used, text]))
                k += len(same)
        runs = nxt
    notes = ["; ".join(used) + ("; true tie" if len(rows) > 1 else "") if used else ("true tie" if len(rows) > 1 else "")
             for rows, used in runs]
    return [rows for rows, _ in runs], notes


def _ranks(d: pd.DataFrame, tie_keys) -> tuple[np.ndarray, list[str], list[str], list[int]]:
    """Ranks (shared within true ties), labels ('=2'), tie-break notes and the row order of rows
    sorted by score."""
    n = len(d)
    ranks = np.zeros(n, int)
    labels, notes, order = [""] * n, [""] * n, []
    scores_ = d["score"].to_numpy()
    start = 0
    while start < n:
        end = start + 1
        while end < n and abs(scores_[end] - scores_[start]) <= SCORE_TIE:
            end += 1
        runs, run_notes = _tie_order(d, list(range(start, end)), tie_keys) if end - start > 1 else ([[start]], [""])
        pos = start
        for rows, note in zip(runs, run_notes, strict=True):
            for i in rows:
                ranks[i] = pos + 1
                labels[i] = f"={pos + 1}" if len(rows) > 1 else str(pos + 1)
                notes[i] = note
                order.append(i)
            pos += len(rows)
        start = end
    return ranks, labels, notes, order


def rank_intervals(sub: np.ndarray, weights: np.ndarray, tie_order=None, draws: int = ROBUST_DRAWS,
                   seed: int = ROBUST_SEED, factor: float = ROBUST_FACTOR) -> tuple[np.ndarray, np.ndarray]:
    """(5th, 95th percentile) of each row's rank when every weight is scaled by a factor drawn
    log-uniformly from [1/factor, factor].  In each draw rows are ranked by score (equal to
    ``SCORE_TIE``), then by ``tie_order`` (the nominal ranking's order of tied rows: the secondary
    keys do not depend on the weights); rows equal on both share the best rank.  Memory: one int32
    rank per row and draw (no n x n arrays)."""
    n = len(sub)
    if n == 0:
        return np.zeros(0, int), np.zeros(0, int)
    tie = np.zeros(n, np.int64) if tie_order is None else np.asarray(tie_order, np.int64)
    rng = np.random.default_rng(seed)
    w = weights[None, :] * np.exp(rng.uniform(-math.log(factor), math.log(factor), size=(draws, len(weights))))
    w[:, weights == 0] = 0.0
    ranks = np.empty((draws, n), np.int32)
    for k in range(draws):
        key = np.round(scores(sub, w[k]) / SCORE_TIE).astype(np.int64)
        order = np.lexsort((tie, -key))
        new_run = np.concatenate([[True], (np.diff(key[order]) != 0) | (np.diff(tie[order]) != 0)])
        run_start = np.maximum.accumulate(np.where(new_run, np.arange(n), 0))
        ranks[k, order] = run_start + 1
    lo, hi = np.percentile(ranks, [5, 95], axis=0, method="nearest")
    return lo.astype(int), hi.astype(int)


def rank(df: pd.DataFrame, settings: Settings | None = None) -> pd.DataFrame:
    """Penalties, sub-scores, ``score``, ``pareto_front``, ``rank`` (shared in true ties),
    ``rank_label``, ``tie_break`` and the rank interval (``rank_low``, ``rank_high``) added; rows
    with errors last, unranked, never dropped (anode rows; ``screening.ranking.coatings.rank`` ranks
    cathode coatings with the same machinery)."""
    settings = settings or Settings()
    s = sub_scores(df, settings)
    obj = np.column_stack([s.li_penalty_eV_per_atom, s.electrolyte_penalty_eV_per_atom, -s.s_insulation, -s.s_volume,
                           -s.s_transport])
    return ranked(df, s, SUB_SCORES, CRITERIA, _weights(settings), obj, TIE_KEYS)


def ranked(df: pd.DataFrame, s: pd.DataFrame, sub_columns, criteria, weights: np.ndarray, obj: np.ndarray,
            tie_keys) -> pd.DataFrame:
    """The ranking of rows ``df`` from their penalties and sub-scores ``s`` (see ``rank``)."""
    d = df.copy()
    ok = (d["error"].fillna("") == "").to_numpy()
    for c in s.columns:
        d[c] = np.where(ok, s[c], np.nan)  # a failed row has no scores
    sub = s[sub_columns].to_numpy()
    known = ~np.isnan(sub)
    d["score"] = np.where(ok, scores(sub, weights), np.nan)
    d["score_basis"] = [
        "" if not good else ("all criteria known" if kn.all() else
                             ", ".join(c for c, k in zip(criteria, kn, strict=True) if not k) + f" unknown (counted {UNKNOWN_SUB_SCORE})")
        for good, kn in zip(ok, known, strict=True)]
    fronts = np.full(len(d), np.nan)
    if ok.any():
        fronts[ok] = pareto_fronts(obj[ok])
    d["pareto_front"] = fronts
    d["_sub"] = list(np.where(ok[:, None], sub, np.nan))
    d = d.sort_values(["score", "candidate"], ascending=[False, True], na_position="last", kind="stable").reset_index(drop=True)
    good = (d["error"].fillna("") == "").to_numpy()
    ranks = pd.array([pd.NA] * len(d), dtype="Int64")
    labels, notes = [""] * len(d), [""] * len(d)
    if good.any():
        idx = np.nonzero(good)[0]
        r, lab, note, order = _ranks(d[good], tie_keys)
        d = pd.concat([d.iloc[idx[order]], d.iloc[np.nonzero(~good)[0]]]).reset_index(drop=True)
        ranks[: len(idx)] = r[order]
        labels[: len(idx)] = [lab[i] for i in order]
        notes[: len(idx)] = [note[i] for i in order]
    low, high = np.full(len(d), np.nan), np.full(len(d), np.nan)
    if good.any():
        n_ok = int(good.sum())
        low[:n_ok], high[:n_ok] = rank_intervals(np.vstack(d["_sub"].iloc[:n_ok].to_list()), weights,
                                                 np.asarray(ranks[:n_ok], dtype=np.int64))
    d = d.drop(columns="_sub")
    d["rank_low"], d["rank_high"] = low, high
    d["rank"] = ranks
    d["rank_label"] = labels
    d["tie_break"] = notes
    for c in ("pareto_front", "rank_low", "rank_high"):
        d[c] = d[c].astype("Int64")
    first = ["rank", "rank_label", "rank_low", "rank_high", "candidate", "kind", "score", "pareto_front", "tie_break"]
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
    lo, hi = (math.log10(v) for v in ASR_SCALE_OHM_CM2)
    lines = [
        f"{r.candidate} ({r.kind}, {r.formula} {r.material_id}) vs {settings.electrolyte}: rank {r.rank_label} of "
        f"{int(df['rank'].notna().sum())} (rank {r.rank_low}-{r.rank_high} when the weights vary 2x either way), "
        f"score {r.score:.4f} ({r.score_basis}), Pareto front {r.pareto_front}",
        f"interphase with Li: {r.interphase} ({'fully lithiated, 0 V' if settings.stage == 'full' else f'stage at {r.stage_voltage_V:.3f} V: {r.stage_interphase}'})",
        f"  s_li          = 1 - min(li_penalty / {PENALTY_SCALE_EV_PER_ATOM} eV/atom, 1) = {r.s_li:.3f}"
        f"   (li_penalty {r.li_penalty_eV_per_atom:.4f}: E vs Li {fmt(r.li_reaction_energy_eV_per_atom)} eV/atom; "
        f"{'counts for interlayers only' if r.kind == 'precursor' else f'|E| < {tol} eV/atom counts as 0'})",
        f"  s_electrolyte = 1 - min(electrolyte_penalty / {PENALTY_SCALE_EV_PER_ATOM} eV/atom, 1) = {r.s_electrolyte:.3f}"
        f"   (E vs electrolyte {fmt(r[cols['electrolyte']])} eV/atom; |E| < {tol} counts as 0)",
        f"  s_insulation  = min(gap / {GAP_SCALE_EV:g} eV, 1) = {r.s_insulation:.3f}   ({r[cols['character']]}, smallest product gap "
        f"{fmt(r[cols['gap']])} eV{', borderline' if r.get('gap_borderline') is True else ''}; {r.band_gap_note}; "
        f"0 when mixed, 0.5 when unknown)",
        f"  s_volume      = window(V ratio: 0 at <= {VOLUME_FILL[0]:g}, 1 from {VOLUME_FILL[1]:g} to {VOLUME_INTACT[0]:g}, 0 at >= "
        f"{VOLUME_INTACT[1]:g}) = {fmt(r.s_volume, '.3f')}   (V ratio {fmt(r[cols['volume']])}; {r.volume_note})",
        f"  s_transport   = ({hi:g} - log10 ASR) / {hi - lo:g}, clipped = {fmt(r.s_transport, '.3f')}   "
        f"(ASR {fmt(r[cols['asr']])} ohm cm2 of a {fmt(r.interphase_thickness_um, '.3g')} um layer from a "
        f"{settings.thickness_um:g} um film; {r[cols['transport']]}; {r.conductivity_origin})",
        f"score = (li {w.li:g} x {r.s_li:.3f} + electrolyte {w.electrolyte:g} x {r.s_electrolyte:.3f} + insulation "
        f"{w.insulation:g} x {r.s_insulation:.3f} + volume {w.volume:g} x {fmt(r.s_volume, '.3f')} + transport "
        f"{w.transport:g} x {fmt(r.s_transport, '.3f')}) / (sum of the weights; unknown counts {UNKNOWN_SUB_SCORE}) = {r.score:.4f}",
    ]
    if r.tie_break:
        lines.append(f"tied score ordered by {r.tie_break}")
    if str(r.rank_label).startswith("="):
        lines.append("equal score and equal secondary keys: a true tie, sharing its rank")
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
