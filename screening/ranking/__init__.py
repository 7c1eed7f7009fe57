"""Screening and ranking of interlayer / precursor candidates against an electrolyte and Li metal.

``rows`` evaluates every candidate (one :class:`ScreenRow` each), ``scoring`` scores and ranks
them (the method is in that module's docstring and the README); nothing is dropped, failed
candidates keep their place with an ``error`` (``screening.api.screen`` puts it together).  ``filter_ranking`` applies the
result filters and says how many rows they removed.
"""

from __future__ import annotations

import pandas as pd

from screening.ranking.candidates import all_candidates, all_li_candidates, as_candidates, family_of, load_candidates
from screening.ranking import rows as anode_rows
from screening.ranking.rows import ROW_COLUMNS, Candidate, Context, ScreenRow, evaluate
from screening.ranking import coatings, scoring
from screening.ranking.scoring import explain, pareto_fronts
from screening.settings import Settings, check_voltage

__all__ = ["rank", "explain", "filter_ranking", "load_candidates", "as_candidates", "all_li_candidates", "all_candidates",
           "family_of", "Candidate",
           "Context", "ScreenRow", "evaluate", "evaluate_all", "rows_frame", "pareto_fronts", "ROW_COLUMNS"]


def evaluate_all(phases, candidates: list[Candidate], settings: Settings, context: Context, progress=None) -> list:
    """Unranked rows of the candidates (serial): anode rows, or coating rows on the cathode side."""
    side = coatings if settings.side == "cathode" else anode_rows
    return side.evaluate_all(phases, candidates, settings, context, progress)


def rows_frame(rows: list, settings: Settings) -> pd.DataFrame:
    """Evaluated rows as a DataFrame in their schema's column order."""
    return (coatings if settings.side == "cathode" else anode_rows).rows_frame(rows)


def rank(df: pd.DataFrame, settings: Settings | None = None) -> pd.DataFrame:
    """Scores and ranks of evaluated rows: anode rows (``scoring.rank``) or, with
    ``settings.side == "cathode"``, coating rows (``coatings.rank``)."""
    settings = settings or Settings()
    return coatings.rank(df, settings) if settings.side == "cathode" else scoring.rank(df, settings)


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
    check_voltage("max_red_V", max_red_V)
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
