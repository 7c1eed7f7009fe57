"""Caveats about the phases that decide a result (an artefact, an uncertain energy, a phase
placed from legacy data that disagrees with its converted energy)."""

from __future__ import annotations

import numpy as np

from screening.results import Caveat, CaveatKind

#: converted and placed legacy energies further apart than this (eV/atom) are reported
LEGACY_DISAGREEMENT_EV_PER_ATOM = 0.020


def for_row(row) -> list[Caveat]:
    """Caveats carried by one phase-table row."""
    name = f"{row.formula} ({row.phase_id})"
    out = []
    if row.artefact:
        out.append(Caveat(CaveatKind.DILUTE_SUPERCELL, f"{name}: {row.artefact}",
                          "exclude such phases with --exclude-artefacts", row.chemsys))
    if row.uncertain:
        out.append(Caveat(CaveatKind.UNCERTAIN_ENERGY, f"{name}: {row.uncertain}", "", row.chemsys))
    diff = row.converted_minus_placed_eV_per_atom
    if np.isfinite(diff) and abs(diff) > LEGACY_DISAGREEMENT_EV_PER_ATOM:
        out.append(Caveat(CaveatKind.LEGACY_DISAGREEMENT,
                          f"{name}: placed from MP 2018/2019 data, its converted energy differs by {1000 * diff:+.0f} meV/atom",
                          "fetch this system from MP for current energies", row.chemsys))
    if row.warning:
        out.append(Caveat(CaveatKind.UNCERTAIN_ENERGY, f"{name}: {row.warning}", "", row.chemsys))
    return out


def for_rows(ps, rows) -> list[Caveat]:
    """Caveats of the rows (indices into a PhaseSet) that decide a result."""
    out = []
    for j in rows:
        out += for_row(ps.rows.iloc[int(j)])
    return out
