"""Convex-hull energies by linear programming: the numerical kernel shared by every layer.

The lower convex hull of formation energies at a composition ``c`` is

    E_hull(c) = min_w  sum_j w_j e_j   s.t.  sum_j w_j f_j = c,  w >= 0

with ``e_j`` the energy per atom of phase j and ``f_j`` its atomic fractions (rows sum to 1, so
the weights are the atom fractions of the decomposition products).  One LP per query replaces a
convex hull in up to 9 dimensions; HiGHS solves these in about a millisecond.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

#: Weights below this are numerical noise, not products.
WEIGHT_TOL = 1e-7


@dataclass(frozen=True)
class LPResult:
    """Optimal value and the weights (one per candidate phase) that attain it."""

    value: float
    weights: np.ndarray


def solve(c: np.ndarray, a_eq: np.ndarray, b_eq: np.ndarray, bounds=(0, None)) -> LPResult | None:
    """min c.x subject to a_eq x = b_eq and bounds; None when infeasible or unbounded."""
    res = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if res.status != 0:
        return None
    x = np.where(np.abs(res.x) < WEIGHT_TOL, 0.0, res.x)
    return LPResult(float(res.fun), x)


def hull_energy(fractions: np.ndarray, energies: np.ndarray, target: np.ndarray) -> LPResult:
    """Hull energy (same units as ``energies``, per atom) at atomic fractions ``target``.

    ``fractions`` is (n_phases, n_elements); ``target`` must lie in their span (elements
    absent from every phase make the LP infeasible and raise ValueError).
    """
    res = solve(energies, fractions.T, target)
    if res is None:
        raise ValueError("composition is outside the span of the candidate phases")
    return res
