"""Molar volumes from experimental densities: V = M / rho (cm3 per mol of reduced formula units).

Row choice, per formula (documented, reproducible): drop rows without a number and rows their
curator marked suspect / do-not-use (unless nothing else is left); keep rows whose phase matches
``data/density_rules.csv`` when that file names a preferred polymorph; take the median.
Ranges like "0.76-0.77" count as their midpoint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition

from screening.data import files
from screening.errors import DataError

_SUSPECT = re.compile(r"suspect|do not use", re.I)


@dataclass(frozen=True)
class DensityChoice:
    """The density used for one formula and the rows it came from."""

    formula: str
    density_g_cm3: float
    rows: tuple[int, ...]
    note: str


def _number(text: str) -> float:
    text = str(text).strip()
    if not text:
        return float("nan")
    m = re.fullmatch(r"([0-9.]+)\s*-\s*([0-9.]+)", text)
    if m:
        return (float(m.group(1)) + float(m.group(2))) / 2
    try:
        return float(text)
    except ValueError:
        return float("nan")


def load_rules(path: Path | None = None) -> dict[str, str]:
    """Preferred polymorph (substring of the ``phase`` column) per reduced formula, from the
    authored ``data/density_rules.csv`` (shipped); DataError if it is missing or malformed."""
    source = path if path is not None else files.shipped(files.DENSITY_RULES)
    try:
        with source.open("r") as fh:
            df = pd.read_csv(fh, keep_default_na=False, dtype=str)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the density rules {source} ({exc.__class__.__name__}): reinstall screening") from None
    if not {"formula", "prefer_phase"} <= set(df.columns):
        raise DataError(f"{source} lacks the columns formula,prefer_phase")
    return {Composition(f).reduced_formula: p.lower() for f, p in zip(df.formula, df.prefer_phase, strict=True)}


def choose_densities(densities: pd.DataFrame, rules: dict[str, str] | None = None) -> dict[str, DensityChoice]:
    """One density per reduced formula, following the module's rule."""
    rules = load_rules() if rules is None else rules
    d = densities.copy()
    d["value"] = d["density_g_cm3"].map(_number)
    d["row"] = d.index
    notes = d["notes"] if "notes" in d else pd.Series("", index=d.index)
    d["suspect"] = notes.fillna("").str.contains(_SUSPECT)
    d["reduced"] = [Composition(f).reduced_formula for f in d["formula"]]
    out: dict[str, DensityChoice] = {}
    for formula, g in d[d["value"].notna()].groupby("reduced"):
        note = []
        if (~g.suspect).any():
            if g.suspect.any():
                note.append(f"dropped suspect row(s) {','.join(map(str, g[g.suspect].row))}")
            g = g[~g.suspect]
        else:
            note.append("only suspect rows available")
        pref = rules.get(formula)
        if pref:
            sel = g[g.phase.str.lower().str.contains(pref, regex=False)]
            if len(sel):
                g = sel
                note.append(f"phase '{pref}'")
        value = float(np.median(g.value))
        note.append(f"median of {len(g)} row(s)")
        out[formula] = DensityChoice(formula, value, tuple(int(r) for r in g.row), "; ".join(note))
    return out


def molar_volume_cm3_per_mol(formula: str, density_g_cm3: float) -> float:
    """Volume of one mole of reduced formula units (cm3/mol)."""
    return Composition(formula).reduced_composition.weight / density_g_cm3
