"""Matplotlib figures for notebooks and scripts (return the Figure; callers save or show it).

Thin conveniences over the one figure specification of ``screening.report.figures``: the same
figures, colours and labels as the PNGs and interactive figures of a report.
"""

from __future__ import annotations

from screening.ranking.scoring import top_label
from screening.report import figures as _f


def windows_chart(windows, cathode_V: float = 4.0, max_V: float = 6.0):
    """Stability window of each phase vs Li/Li+ (``screening.window`` results)."""
    return _f.to_matplotlib(_f.windows_figure(windows, max_V, cathode_V))


def reaction_curve(kinks, a: str, b: str, title: str | None = None, tolerance_eV_per_atom: float = 0.02):
    """Reaction energy vs mixing ratio (``screening.reaction_curve`` kinks)."""
    return _f.to_matplotlib(_f.reaction_figure(kinks, a, b, title or f"{a} | {b}", tolerance_eV_per_atom))


def staircase_chart(stages, formula: str):
    """Phase equilibria vs voltage (``screening.staircase`` stages)."""
    return _f.to_matplotlib(_f.staircase_figure(stages, formula))


def lithiation_chart(paths):
    """Lithiation staircases (``screening.lithiate`` paths)."""
    return _f.to_matplotlib(_f.lithiation_figure(paths))


def ranking_chart(df, top: int = 20):
    """Composite score of the best candidates of a ranked screen."""
    return _f.to_matplotlib(_f.ranking_figure(df, top, top_label))
