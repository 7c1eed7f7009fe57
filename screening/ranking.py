"""Screening and ranking of interlayer / precursor candidates against an electrolyte and Li metal.

Per candidate: the interphase it forms with Li (``screening.interphase``), its window, the
interphase's reaction with the electrolyte, flags.  Ranking, documented in README:

* penalties (eV/atom, lower is better, values inside the DFT tolerance count as 0):
  ``li_penalty`` = -E(reaction with Li) for interlayers (a precursor's reaction with Li is the
  point: its interphase is in equilibrium with Li, penalty 0); ``electrolyte_penalty`` =
  -E(most exothermic reaction of an interphase product with the electrolyte);
* sub-scores in [0, 1]: s_li = 1 - min(li_penalty / 0.1, 1), s_el likewise,
  s_ins = min(smallest product PBE gap / 4 eV, 1) (0.5 when a gap is unknown),
  s_vol = clip(V(products)/V(precursor) - 1, 0, 0.5) / 0.5 (void filling by expansion; 0 unknown);
* ``score`` = weighted mean of the sub-scores (default weights li 1, electrolyte 1,
  insulation 1, volume 0.5); ``pareto_front`` = non-dominated sorting over the four criteria
  (1 = not dominated); ``rank`` orders by score, then front, then formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from screening import config
from screening.data.store import PhaseStore, parse_formula
from screening.errors import DataError, InputError, ScreeningError
from screening.interphase import interphase
from screening.thermo.reactions import react
from screening.thermo.windows import window

CANDIDATES_FILE = config.REPO_ROOT / "data" / "candidates.csv"
PENALTY_SCALE_EV_PER_ATOM = 0.1


@dataclass(frozen=True)
class Weights:
    """Weights of the composite score (non-negative, not all zero)."""

    li: float = 1.0
    electrolyte: float = 1.0
    insulation: float = 1.0
    volume: float = 0.5

    def __post_init__(self):
        vals = [self.li, self.electrolyte, self.insulation, self.volume]
        if any(not np.isfinite(v) or v < 0 for v in vals) or sum(vals) == 0:
            raise InputError("score weights must be non-negative numbers, not all zero (e.g. li=1,electrolyte=1,insulation=1,volume=0.5)")

    @classmethod
    def parse(cls, text: str) -> Weights:
        """From 'li=1,electrolyte=2,insulation=1,volume=0.5' (missing keys keep defaults)."""
        kw = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, _, val = part.partition("=")
            if key.strip() not in cls.__dataclass_fields__:
                raise InputError(f"unknown weight '{key.strip()}': use li, electrolyte, insulation, volume")
            try:
                kw[key.strip()] = float(val)
            except ValueError:
                raise InputError(f"weight '{part}' is not key=number") from None
        return cls(**kw)


def load_candidates(path: Path | str = CANDIDATES_FILE) -> pd.DataFrame:
    """Candidate list (formula, kind, family, note)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"candidate file {p} not found: give a CSV with columns formula,kind (family,note optional)")
    try:
        df = pd.read_csv(p, keep_default_na=False, dtype=str)
    except Exception as exc:
        raise DataError(f"cannot read candidate file {p} ({exc.__class__.__name__}): it must be a CSV") from None
    if "formula" not in df.columns:
        raise DataError(f"{p} has no 'formula' column: columns are formula,kind,family,note")
    for col, default in (("kind", "precursor"), ("family", ""), ("note", "")):
        if col not in df.columns:
            df[col] = default
    bad = sorted(set(df.kind) - {"interlayer", "precursor"})
    if bad:
        raise DataError(f"{p}: kind must be interlayer or precursor, found {', '.join(bad)}")
    return df[["formula", "kind", "family", "note"]]


def as_candidates(items) -> pd.DataFrame:
    """Formulas (list) or a candidate DataFrame -> candidate DataFrame; kind guessed for bare
    formulas: Li-bearing -> interlayer, otherwise precursor."""
    if isinstance(items, pd.DataFrame):
        return items
    rows = []
    for f in items:
        comp = parse_formula(f)
        kind = "interlayer" if "Li" in {e.symbol for e in comp.elements} else "precursor"
        rows.append({"formula": f, "kind": kind, "family": "", "note": ""})
    return pd.DataFrame(rows, columns=["formula", "kind", "family", "note"])


def evaluate(store: PhaseStore, formula: str, kind: str, electrolyte: str,
             tolerance: float = config.DFT_TOLERANCE_EV_PER_ATOM, gap: float = config.INSULATING_GAP_EV) -> dict:
    """All numbers of one candidate (a row of the screen); errors become a row with ``error``."""
    try:
        ip = interphase(store, formula, electrolyte=electrolyte, gap_threshold_eV=gap, tolerance_eV_per_atom=tolerance)
        w = window(store, formula)
    except ScreeningError as exc:
        return {"candidate": formula, "kind": kind, "error": str(exc)}
    e_li = ip.li_reaction_energy_eV_per_atom
    li_within = abs(e_li) < tolerance
    flags = []
    if kind == "interlayer" and e_li < 0 and li_within:
        flags.append("reaction with Li within DFT error")
    if ip.within_dft_error and (ip.electrolyte_reaction_energy_eV_per_atom or 0) < 0:
        flags.append("electrolyte reaction within DFT error")
    if ip.volume_ratio is None and (kind == "precursor" or ip.li_consumed_per_formula_unit > 1e-9):
        flags.append(ip.volume_note.split(":")[0])  # the remedy is given once, in the report
    if ip.electronic_character == "unknown":
        flags.append(ip.band_gap_note)
    if ip.precursor_e_above_hull_eV_per_atom > 1e-6:
        flags.append(f"candidate is {1000 * ip.precursor_e_above_hull_eV_per_atom:.1f} meV/atom above the hull")
    flags += [msg.replace("; fetch this system from MP", "") for msg in ip.warnings]
    own_warning = store.lookup(formula).warning  # e.g. a CHGNet phase below the MP hull
    if isinstance(own_warning, str) and own_warning:
        flags.append(own_warning)
    return {
        "candidate": ip.precursor if kind == "precursor" else formula,
        "kind": kind,
        "interphase": " + ".join(ip.products),
        "li_consumed_per_formula_unit": ip.li_consumed_per_formula_unit,
        "li_reaction_energy_eV_per_atom": e_li,
        "li_reaction_energy_eV_per_li": ip.li_reaction_energy_eV_per_li,
        "electronic_character": ip.electronic_character,
        "min_product_band_gap_eV": ip.min_product_band_gap_eV,
        "conducting_products": " + ".join(ip.conducting_products),
        "volume_ratio": ip.volume_ratio,
        "volume_ratio_with_li": ip.volume_ratio_with_li,
        "electrolyte_reaction_energy_eV_per_atom": ip.electrolyte_reaction_energy_eV_per_atom,
        "electrolyte_reaction_products": " + ".join(ip.electrolyte_reaction_products),
        "electrolyte_reaction": ip.electrolyte_reaction,
        "reduction_limit_V": w.reduction_limit_V,
        "oxidation_limit_V": w.oxidation_limit_V,
        "e_above_hull_eV_per_atom": ip.precursor_e_above_hull_eV_per_atom,
        "li_within_dft_error": bool(li_within),
        "electrolyte_within_dft_error": bool(ip.within_dft_error),
        "flags": "; ".join(flags),
        "error": "",
    }


def _pareto_fronts(obj: np.ndarray) -> np.ndarray:
    """Front number (1 = non-dominated) of each row; all objectives minimised."""
    n = len(obj)
    # dom[i, j]: row i dominates row j (no worse everywhere, better somewhere)
    dom = np.all(obj[:, None, :] <= obj[None, :, :], axis=2) & np.any(obj[:, None, :] < obj[None, :, :], axis=2)
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
    return front


def rank(df: pd.DataFrame, weights: Weights = Weights(), tolerance: float = config.DFT_TOLERANCE_EV_PER_ATOM) -> pd.DataFrame:
    """Add penalties, sub-scores, ``score``, ``pareto_front`` and ``rank`` (rows with errors last)."""
    d = df.copy()
    ok = d["error"].fillna("") == ""
    e_li = d["li_reaction_energy_eV_per_atom"].astype(float)
    e_el = d["electrolyte_reaction_energy_eV_per_atom"].astype(float).fillna(0.0)
    li_pen = np.where((d["kind"] == "interlayer") & (e_li.abs() >= tolerance), np.maximum(-e_li, 0), 0.0)
    el_pen = np.where(e_el.abs() >= tolerance, np.maximum(-e_el, 0), 0.0)
    d["li_penalty_eV_per_atom"] = li_pen
    d["electrolyte_penalty_eV_per_atom"] = el_pen
    gapv = d["min_product_band_gap_eV"].astype(float)
    s_ins = np.where(d["electronic_character"] == "unknown", 0.5, np.clip(gapv.fillna(0) / 4.0, 0, 1))
    s_ins = np.where(d["electronic_character"] == "mixed", 0.0, s_ins)
    vol = d["volume_ratio"].astype(float)
    s_vol = np.where(vol.notna(), np.clip(vol.fillna(1) - 1, 0, 0.5) / 0.5, 0.0)
    s_li = 1 - np.minimum(li_pen / PENALTY_SCALE_EV_PER_ATOM, 1)
    s_el = 1 - np.minimum(el_pen / PENALTY_SCALE_EV_PER_ATOM, 1)
    d["s_li"], d["s_electrolyte"], d["s_insulation"], d["s_volume"] = s_li, s_el, s_ins, s_vol
    wsum = weights.li + weights.electrolyte + weights.insulation + weights.volume
    d["score"] = (weights.li * s_li + weights.electrolyte * s_el + weights.insulation * s_ins + weights.volume * s_vol) / wsum
    d.loc[~ok, "score"] = np.nan
    obj = np.column_stack([li_pen, el_pen, -s_ins, -s_vol])[ok.to_numpy()]
    fronts = np.full(len(d), np.nan)
    if len(obj):
        fronts[ok.to_numpy()] = _pareto_fronts(obj)
    d["pareto_front"] = fronts
    d = d.sort_values(["score", "pareto_front", "candidate"], ascending=[False, True, True], na_position="last")
    ranks = pd.array(np.arange(1, len(d) + 1), dtype="Int64")
    ranks[~ok.loc[d.index].to_numpy()] = pd.NA
    d["rank"] = ranks
    d["pareto_front"] = d["pareto_front"].astype("Int64")
    first = ["rank", "candidate", "kind", "score", "pareto_front"]
    return d[first + [c for c in d.columns if c not in first]].reset_index(drop=True)


def evaluate_all(store: PhaseStore, cand: pd.DataFrame, electrolyte: str,
                 tolerance: float = config.DFT_TOLERANCE_EV_PER_ATOM, gap: float = config.INSULATING_GAP_EV,
                 progress=None) -> list[dict]:
    """Unranked rows of ``evaluate`` for a candidate DataFrame, in its order (serial)."""
    rows = []
    for k, r in enumerate(cand.itertuples()):
        row = evaluate(store, r.formula, r.kind, electrolyte, tolerance, gap)
        row.update(family=r.family, note=r.note, input_formula=r.formula)
        rows.append(row)
        if progress:
            progress(k + 1, len(cand), r.formula)
    return rows


def all_li_candidates(store: PhaseStore) -> pd.DataFrame:
    """Every Li-bearing phase of the store (Li metal excluded) as an interlayer candidate."""
    t = store.table
    has_li = t.chemsys.str.split("-").map(lambda els: "Li" in els) & (t.formula != "Li")
    formulas = sorted(set(t.formula[has_li]))
    chemsys = t[has_li].drop_duplicates("formula").set_index("formula").chemsys
    return pd.DataFrame({"formula": formulas, "kind": "interlayer",
                         "family": [chemsys[f] for f in formulas], "note": "all Li-bearing phases"})


def screen(store: PhaseStore, candidates=None, electrolyte: str = "Li7La3Zr2O12", anode: str = "Li",
           weights: Weights = Weights(), tolerance: float = config.DFT_TOLERANCE_EV_PER_ATOM,
           gap: float = config.INSULATING_GAP_EV, progress=None, runner=None) -> pd.DataFrame:
    """Screen candidates (list of formulas, a candidate DataFrame, or None for data/candidates.csv)
    against ``electrolyte`` and Li metal; returns the ranked DataFrame (one row per candidate).

    ``progress``: optional callable(done, total, formula) for progress reporting.
    ``runner``: optional callable with the signature of ``evaluate_all`` that evaluates the rows
    elsewhere (``screening.distributed.DaskRunner``); the ranking is always done here.
    """
    if anode != "Li":
        raise InputError(f"--anode {anode}: only Li metal anodes are modelled")
    store.lookup(electrolyte)
    cand = load_candidates() if candidates is None else as_candidates(candidates)
    cand = cand.reset_index(drop=True)
    rows = (runner or evaluate_all)(store, cand, electrolyte, tolerance, gap, progress)
    df = pd.DataFrame(rows)
    df["electrolyte"] = electrolyte
    return rank(df, weights, tolerance)


def filter_ranking(df: pd.DataFrame, max_red_V: float | None = None, insulating_only: bool = False,
                   li_stable: bool = False, electrolyte_stable: bool = False) -> pd.DataFrame:
    """Rows of a ranked screen passing the filters (order kept).

    ``max_red_V``: reduction limit vs Li/Li+ at most this (0 = thermodynamically stable vs Li);
    ``li_stable`` / ``electrolyte_stable``: zero penalty (no reaction beyond the DFT tolerance);
    ``insulating_only``: every interphase product has a PBE gap above the threshold.
    """
    keep = df["error"].fillna("") == ""
    if max_red_V is not None:
        keep &= df["reduction_limit_V"].astype(float) <= max_red_V + 1e-9
    if insulating_only:
        keep &= df["electronic_character"] == "insulating"
    if li_stable:
        keep &= df["li_penalty_eV_per_atom"] == 0
    if electrolyte_stable:
        keep &= df["electrolyte_penalty_eV_per_atom"] == 0
    return df[keep].reset_index(drop=True)


def seed_case(store: PhaseStore, electrolyte: str = "Li7La3Zr2O12") -> dict:
    """The LLZO / LiI story: electrolyte window, electrolyte|Li, LiI|Li, I2 -> LiI interphase."""
    return {
        "electrolyte_window": window(store, electrolyte),
        "lii_window": window(store, "LiI"),
        "electrolyte_li": react(store, electrolyte, "Li"),
        "lii_li": react(store, "LiI", "Li"),
        "i2_interphase": interphase(store, "I2", electrolyte=electrolyte),
    }
