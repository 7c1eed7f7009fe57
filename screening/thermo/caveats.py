"""Caveats about the phases that decide a result (an artefact, an uncertain energy, a phase
placed from legacy data that disagrees with its converted energy)."""

from __future__ import annotations

import numpy as np

from screening.results import Caveat, CaveatKind

#: converted and placed legacy energies further apart than this (eV/atom) are reported
LEGACY_DISAGREEMENT_EV_PER_ATOM = 0.020


FIELDS = ("formula", "phase_id", "chemsys", "artefact", "uncertain", "warning", "converted_minus_placed_eV_per_atom")


def for_row(formula, phase_id, chemsys, artefact, uncertain, warning, converted_minus_placed) -> list[Caveat]:
    """Caveats carried by one phase (the ``FIELDS`` of its row)."""
    name = f"{formula} ({phase_id})"
    out = []
    if artefact:
        out.append(Caveat(CaveatKind.DILUTE_SUPERCELL, f"{name}: {artefact}", "exclude such phases with --exclude-artefacts",
                          chemsys))
    if uncertain:
        out.append(Caveat(CaveatKind.UNCERTAIN_ENERGY, f"{name}: {uncertain}", "", chemsys))
    if np.isfinite(converted_minus_placed) and abs(converted_minus_placed) > LEGACY_DISAGREEMENT_EV_PER_ATOM:
        out.append(Caveat(CaveatKind.LEGACY_DISAGREEMENT,
                          f"{name}: placed from MP 2018/2019 data, its converted energy differs by "
                          f"{1000 * converted_minus_placed:+.0f} meV/atom", "fetch this system from MP for current energies",
                          chemsys))
    if warning:
        out.append(Caveat(CaveatKind.UNCERTAIN_ENERGY, f"{name}: {warning}", "", chemsys))
    return out


def for_rows(ps, rows) -> list[Caveat]:
    """Caveats of the rows (indices into a PhaseSet) that decide a result."""
    cols = [ps.values(f) for f in FIELDS]
    out = []
    for j in rows:
        out += for_row(*(c[int(j)] for c in cols))
    return out
