"""Screening and ranking of interlayer / precursor candidates against an electrolyte and Li metal.

``screen`` evaluates every candidate (``rows``), scores and ranks them (``scoring``; the method is
in that module's docstring and the README), and returns one row per candidate: nothing is
dropped, failed candidates keep their place with an ``error``.  ``filter_ranking`` applies the
result filters and says how many rows they removed.
"""

from __future__ import annotations

import pandas as pd

from screening.errors import InputError
from screening.interphases import interphase
from screening.ranking.candidates import all_li_candidates, as_candidates, load_candidates
from screening.ranking.rows import ROW_COLUMNS, evaluate, evaluate_all
from screening.ranking.scoring import explain, pareto_fronts, rank
from screening.settings import Settings, Weights
from screening.thermo.reactions import react
from screening.thermo.windows import window

__all__ = ["screen", "rank", "explain", "filter_ranking", "load_candidates", "as_candidates", "all_li_candidates",
           "evaluate", "evaluate_all", "pareto_fronts", "seed_case", "ROW_COLUMNS", "Settings", "Weights"]


def _settings(settings: Settings | None, **overrides) -> Settings:
    s = settings or Settings()
    changes = {k: v for k, v in overrides.items() if v is not None}
    return s.with_(**changes) if changes else s


def check_electrolyte(store, electrolyte) -> str:
    """The electrolyte's formula, or InputError (not in the store, or Li metal)."""
    row = store.lookup(electrolyte)
    if row.formula == "Li":
        raise InputError("the electrolyte cannot be Li metal (it is the anode): give e.g. Li7La3Zr2O12")
    if "Li" not in row.chemsys.split("-"):
        raise InputError(f"electrolyte {row.formula} holds no Li: give a Li-ion conductor such as Li7La3Zr2O12 or Li3PS4")
    return row.formula


def screen(store, candidates=None, settings: Settings | None = None, *, electrolyte: str | None = None,
           weights: Weights | None = None, tolerance: float | None = None, gap: float | None = None,
           stage: str | None = None, anode: str = "Li", progress=None, runner=None) -> pd.DataFrame:
    """Screen candidates against an electrolyte and Li metal; the ranked DataFrame, one row per
    candidate in.

    ``candidates``: formulas (list), a candidate DataFrame, or None for the shipped default list.
    ``settings`` (or the keyword shortcuts): electrolyte, tolerance, gap threshold, weights, stage.
    ``progress``: callable(done, total, formula).  ``runner``: evaluates the rows elsewhere
    (``screening.distributed.DaskRunner``), with the signature of ``evaluate_all``.
    """
    settings = _settings(settings, electrolyte=electrolyte, weights=weights, tolerance_eV_per_atom=tolerance,
                         gap_threshold_eV=gap, stage=stage)
    if anode != "Li":
        raise InputError(f"--anode {anode}: only Li metal anodes are modelled: leave --anode out")
    check_electrolyte(store, settings.electrolyte)
    cand = load_candidates() if candidates is None else as_candidates(candidates)
    cand = cand.reset_index(drop=True)
    v_red = window(store, settings.electrolyte).reduction_limit_V
    rows = (runner or evaluate_all)(store, cand, settings, progress, v_red)
    df = pd.DataFrame(rows)
    df["electrolyte"] = settings.electrolyte
    return rank(df, settings)


def filter_ranking(df: pd.DataFrame, settings: Settings | None = None, max_red_V: float | None = None,
                   insulating_only: bool = False, li_stable: bool = False,
                   electrolyte_stable: bool = False) -> tuple[pd.DataFrame, int]:
    """(rows passing the filters, order kept; number of rows removed).  No filter: nothing removed.

    ``max_red_V``: reduction limit vs Li/Li+ at most this (0 = stable vs Li); ``li_stable`` /
    ``electrolyte_stable``: zero penalty (no reaction beyond the DFT tolerance);
    ``insulating_only``: every interphase product insulates.  Any filter also removes failed
    rows and candidates further above the hull than ``settings.max_e_hull_eV_per_atom`` (default:
    the DFT tolerance); a ``max_e_hull_eV_per_atom`` given explicitly is a filter by itself.
    """
    settings = settings or Settings()
    if max_red_V is None and not (insulating_only or li_stable or electrolyte_stable) and settings.max_e_hull_eV_per_atom is None:
        return df, 0
    keep = (df["error"].fillna("") == "").to_numpy().copy()
    limit = settings.max_e_hull_eV_per_atom
    limit = settings.tolerance_eV_per_atom if limit is None else limit
    keep &= (pd.to_numeric(df["e_above_hull_eV_per_atom"], errors="coerce") <= limit + 1e-9).to_numpy()
    if max_red_V is not None:
        keep &= (pd.to_numeric(df["reduction_limit_V"], errors="coerce") <= max_red_V + 1e-9).to_numpy()
    if insulating_only:
        col = "stage_electronic_character" if settings.stage == "first" else "electronic_character"
        keep &= (df[col] == "insulating").to_numpy()
    if li_stable:
        keep &= (df["li_penalty_eV_per_atom"] == 0).to_numpy()
    if electrolyte_stable:
        keep &= (df["electrolyte_penalty_eV_per_atom"] == 0).to_numpy()
    return df[keep].reset_index(drop=True), int((~keep).sum())


def seed_case(store, electrolyte: str = "Li7La3Zr2O12") -> dict:
    """The LLZO / LiI story: electrolyte window, electrolyte|Li, LiI|Li, I2 -> LiI interphase."""
    return {
        "electrolyte_window": window(store, electrolyte),
        "lii_window": window(store, "LiI"),
        "electrolyte_li": react(store, electrolyte, "Li"),
        "lii_li": react(store, "LiI", "Li"),
        "i2_interphase": interphase(store, "I2", electrolyte=electrolyte),
        "i2_li": react(store, "I2", "Li"),
    }

