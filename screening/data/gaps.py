"""Band gaps you can decide electronic character with: measured first, corrected PBE otherwise.

PBE underestimates band gaps by 30-50 % (Li3N: PBE 0.98 eV, measured 1.81 eV), so a 1 eV
threshold on raw PBE gaps calls Li3N, ZnO, SnO2 and In2O3 conductors.  The hierarchy, per phase:

1. a measured gap from the curated table ``data/measured_band_gaps.csv`` (one cited source per
   value; a row tagged ``[mp-ID]`` applies to that MP material, an untagged row to the
   lowest-energy polymorph of its formula; the first row of a formula wins);
2. otherwise MP's PBE gap corrected by a linear fit of measured vs PBE gaps over the table's rows
   that have their own MP PBE gap (rows marked WEAK or EXCLUDE_FROM_FIT left out):
   E = a PBE + b for PBE > 0 (about 1.45 PBE + 0.63 eV, leave-one-out RMSE ~0.9 eV); a PBE gap of
   0 stays 0 (PBE finds a metal).  With the 1 eV threshold this is a PBE cut of ~0.25 eV, inside
   the 0.22-0.31 eV range where the table's insulator/conductor calls have the fewest errors;
3. user and CHGNet phases keep the gap given to them.

Every phase says which gap it uses (``band_gap_origin``: measured, pbe-corrected, user, pbe) and
where it comes from (``band_gap_source``); the raw PBE gap stays in ``band_gap_pbe_eV``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from screening.data import files
from screening.data.formula import parse_formula, reduced_formula
from screening.errors import DataError

_MP_TAG = re.compile(r"\[(mp-\d+)\]")
MIN_PAIRS = 20


def read_measured() -> pd.DataFrame:
    """The curated measured gaps: formula (reduced), material_id ('' if untagged), gap_eV,
    gap_type, source, source_url, weak, excluded."""
    with files.shipped(files.MEASURED_GAPS).open("r") as fh:
        df = pd.read_csv(fh, keep_default_na=False, dtype=str)
    need = {"formula", "phase", "gap_eV", "gap_type", "source", "source_url", "notes"}
    if not need <= set(df.columns):
        raise DataError(f"{files.MEASURED_GAPS} lacks columns {', '.join(sorted(need - set(df.columns)))}")
    rows = []
    for i, r in enumerate(df.itertuples(), start=2):
        try:
            gap = float(r.gap_eV)
            formula = reduced_formula(parse_formula(r.formula))
        except (ValueError, TypeError) as exc:
            raise DataError(f"{files.MEASURED_GAPS} row {i}: {exc}") from None
        if not (np.isfinite(gap) and gap >= 0):
            raise DataError(f"{files.MEASURED_GAPS} row {i}: gap {r.gap_eV} must be a number >= 0")
        tag = _MP_TAG.search(r.phase)
        rows.append({"formula": formula, "material_id": tag.group(1) if tag else "", "gap_eV": gap,
                     "gap_type": r.gap_type, "source": r.source, "source_url": r.source_url,
                     "weak": "WEAK" in r.notes, "excluded": "EXCLUDE_FROM_FIT" in r.notes, "row": i})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Calibration:
    """E_measured ~ a E_PBE + b (eV), fitted on ``n`` phases; ``loo_rmse_eV``: leave-one-out."""

    a: float
    b: float
    n: int
    loo_rmse_eV: float
    pbe_at_threshold_eV: float  # the PBE gap that corrects to 1 eV

    def correct(self, pbe: np.ndarray) -> np.ndarray:
        """Corrected gaps (never below the PBE gap; 0 stays 0)."""
        pbe = np.asarray(pbe, dtype=float)
        return np.where(pbe > 0, np.maximum(self.a * pbe + self.b, pbe), pbe)

    def text(self) -> str:
        return f"{self.a:.3f} x PBE + {self.b:.3f} eV"


def calibrate(measured: pd.DataFrame, pbe_by_id: pd.Series, default_id: dict[str, str]) -> Calibration:
    """Fit measured vs PBE gaps: each usable row paired with the PBE gap of its tagged MP id, or of
    its formula's lowest-energy polymorph (``default_id``); WEAK and EXCLUDE_FROM_FIT rows left out."""
    pairs = []
    for r in measured.itertuples():
        if r.weak or r.excluded:
            continue
        mid = r.material_id or default_id.get(r.formula, "")
        pbe = pbe_by_id.get(mid)
        if pbe is not None and np.isfinite(pbe):
            pairs.append((float(pbe), r.gap_eV))
    if len(pairs) < MIN_PAIRS:
        raise DataError(f"only {len(pairs)} measured gaps pair with MP PBE gaps: the calibration needs {MIN_PAIRS}; "
                        "build with the full data or pass the fitted calibration")
    x, y = np.array(pairs).T
    a, b = np.polyfit(x, y, 1)
    loo = []
    for k in range(len(x)):
        m = np.arange(len(x)) != k
        ak, bk = np.polyfit(x[m], y[m], 1)
        loo.append(ak * x[k] + bk - y[k])
    return Calibration(float(a), float(b), len(x), float(np.sqrt(np.mean(np.square(loo)))), float((1.0 - b) / a))


def apply(table: pd.DataFrame, measured: pd.DataFrame, cal: Calibration, gaps_file: str) -> None:
    """Fill ``band_gap_eV``/origin/source of MP rows in place: measured where the curated table has
    the phase, else the corrected PBE gap.  Rows with a user or CHGNet gap are left alone."""
    mp = table.origin.str.startswith("mp-").to_numpy()
    pbe = table.band_gap_pbe_eV.to_numpy()
    has = mp & np.isfinite(pbe)
    table.loc[has, "band_gap_eV"] = cal.correct(pbe[has])
    table.loc[has, "band_gap_origin"] = "pbe-corrected"
    table.loc[has, "band_gap_source"] = [f"MP PBE {g:.3g} eV ({gaps_file}), corrected {cal.text()}" if g > 0 else
                                         f"MP PBE 0 eV ({gaps_file}): no gap" for g in pbe[has]]
    default = table[mp].groupby("formula").energy_per_atom_eV.idxmin()
    ids = dict(zip(table.phase_id, table.index, strict=True))
    done = set()
    for r in measured.itertuples():
        i = ids.get(r.material_id) if r.material_id else default.get(r.formula)
        if i is None or i in done or table.at[i, "formula"] != r.formula:
            continue
        done.add(i)
        table.loc[i, "band_gap_eV"] = r.gap_eV
        table.loc[i, "band_gap_origin"] = "measured"
        kind = "" if r.gap_type in ("", "unspecified") else f", {r.gap_type}"
        table.loc[i, "band_gap_source"] = f"measured{kind}: {r.source} ({files.MEASURED_GAPS} row {r.row})"
