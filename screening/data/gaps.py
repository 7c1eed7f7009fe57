"""Band gaps you can decide electronic character with: measured first, corrected PBE otherwise.

PBE underestimates band gaps by 30-50 % (Li3N: PBE 0.98 eV, measured 1.81 eV), so a 1 eV
threshold on raw PBE gaps calls Li3N, ZnO, SnO2 and In2O3 conductors.  The hierarchy, per phase:

1. a measured gap from the curated table ``data/measured_band_gaps.csv`` (one cited source per
   value; a row tagged ``[mp-ID]`` applies to that MP material, an untagged row to the
   lowest-energy polymorph of its formula; the first row of a formula wins); error 0.1 eV, the
   typical scatter between measurements of one compound (MoO3 3.54-3.75 eV, WO3 2.7-2.9 eV);
2. elements that are metals get 0 whatever their PBE gap (Hg mp-1184554 has a spurious 0.27 eV,
   Cs mp-1184151 0.14 eV); semimetal elements without a PBE gap get 0 too (As, Sb, Bi, and
   carbon within 0.05 eV/atom of its ground state: the sp2 graphite polytypes, e.g. the hull
   phase mp-2516584, while sp3 diamond lies 0.135 eV/atom higher in PBE); error 0;
3. compounds with a mixed-valence transition metal (``mixed_valence``: Li0.5CoO2, LiMn2O4, Fe3O4)
   get 0: their carriers hop between Co3+/Co4+ (Mn3+/Mn4+, Fe2+/Fe3+) sites, so they conduct
   electrons (metallic LixCoO2, Fe3O4 ~1e2 S/cm) or are small-polaron semiconductors
   (LiMn2O4 ~1e-5 S/cm) whatever DFT's gap says; no error is given (a rule, not a fit);
4. GGA+U rows (MP's rule: O or F the most electronegative element and one of Co Cr Fe Mn Mo Ni V
   W present) keep MP's PBE+U gap as is: the plain-GGA fit below overestimates them (median
   +1.4 eV on ``data/gga_u_band_gaps.csv``), the raw gap is unbiased (median -0.2 eV), and a
   separate fit does not clearly help in leave-one-out (``validate_gga_u``); error = the
   validation RMSE (~1.1 eV);
5. otherwise MP's PBE gap corrected by a linear fit of measured vs PBE gaps over the table's rows
   that have their own MP PBE gap (rows marked WEAK or EXCLUDE_FROM_FIT left out):
   E = a PBE + b for PBE > 0 (about 1.45 PBE + 0.63 eV, leave-one-out RMSE ~0.9 eV, the error);
   a PBE gap of 0 stays 0 (PBE finds a metal).  With the 1 eV threshold this is a PBE cut of
   ~0.25 eV, inside the 0.22-0.31 eV range where the table's insulator/conductor calls have the
   fewest errors;
6. user and CHGNet phases keep the gap given to them.

Every phase says which gap it uses (``band_gap_origin``: measured, element (metal/semimetal),
mixed-valence, pbe+u, pbe-corrected, user, pbe), where it comes from (``band_gap_source``) and its
1-sigma error (``band_gap_error_eV``, eV); the raw PBE gap stays in ``band_gap_pbe_eV``.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from itertools import product

import numpy as np
import pandas as pd
from pymatgen.core import Element

from screening.data import files
from screening.data.formula import parse_formula, reduced_formula
from screening.data.legacy import U_METALS
from screening.errors import DataError

_MP_TAG = re.compile(r"\[(mp-\d+)\]")
_AMOUNT = re.compile(r"([A-Z][a-z]?)(\d+(?:\.\d*)?|\.\d+)?")
MIN_PAIRS = 20
MIN_GGA_U_PAIRS = 10
MEASURED_ERROR_EV = 0.1  # scatter between measurements of one compound (MoO3 3.54-3.75, WO3 2.7-2.9 eV)
VALENCE_TOLERANCE = 0.05  # an average oxidation state this close to an integer is integer
GRAPHITE_WINDOW_EV = 0.05  # eV/atom above the C ground state: sp2 graphite polytypes (diamond: +0.135)
SEMIMETALS = ("As", "Sb", "Bi", "C")

#: lowest and highest usual oxidation state of the transition metals checked for mixed valence
TM_RANGE = {"Ti": (2, 4), "V": (2, 5), "Cr": (2, 6), "Mn": (2, 7), "Fe": (2, 6), "Co": (2, 4), "Ni": (2, 4), "Cu": (1, 3),
            "Nb": (2, 5), "Mo": (3, 6), "Tc": (4, 7), "Ru": (2, 8), "Rh": (3, 4), "Pd": (2, 4), "Ta": (3, 5), "W": (4, 6),
            "Re": (3, 7), "Os": (4, 8), "Ir": (3, 5), "Pt": (2, 4)}
#: the anion state of the most electronegative element (the only anions the rule knows)
ANIONS = {"O": -2, "F": -1, "Cl": -1, "Br": -1, "I": -1, "S": -2, "Se": -2, "Te": -2, "N": -3}
#: the other elements' usual states, most usual first (chalcogens, N and halogens that are not the
#: anion: sulfate S+6, nitrate N+5, oxychloride Cl-1 ...)
OTHER_STATES = {
    "H": (1, -1), **dict.fromkeys(("Li", "Na", "K", "Rb", "Cs", "Ag"), (1,)),
    **dict.fromkeys(("Be", "Mg", "Ca", "Sr", "Ba", "Zn", "Cd"), (2,)), "Hg": (2, 1),
    **dict.fromkeys(("B", "Al", "Ga", "Sc", "Y", "La", "Nd", "Pm", "Gd", "Dy", "Ho", "Er", "Tm", "Lu", "Ac"), (3,)),
    "In": (3, 1), "Tl": (1, 3), "Ce": (3, 4), "Pr": (3, 4), "Tb": (3, 4), "Sm": (3, 2), "Eu": (3, 2), "Yb": (3, 2),
    **dict.fromkeys(("Si", "Zr", "Hf", "Th"), (4,)), "Ge": (4, 2), "Sn": (4, 2), "Pb": (2, 4), "C": (4, 2),
    "P": (5, 3), "As": (5, 3), "Sb": (3, 5), "Bi": (3, 5), "Au": (1, 3), "U": (6, 4, 5, 3),
    "O": (-2,), "S": (6, -2, 4), "Se": (-2, 4, 6), "Te": (-2, 4, 6), "N": (5, -3, 3),
    "Cl": (-1, 5, 7), "Br": (-1, 5), "I": (-1, 5, 7)}


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


def _element_table():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ({el.symbol: float(el.X) if np.isfinite(el.X) else 0.0 for el in Element},
                {el.symbol: bool(el.is_metal) for el in Element})


#: Pauling electronegativity (0 where pymatgen has none: noble gases) and metal flag per element
ELECTRONEGATIVITY, IS_METAL = _element_table()


def _x(symbol: str) -> float:
    return ELECTRONEGATIVITY[symbol]


def amounts(composition: str) -> tuple[tuple[str, float], ...]:
    """(element, amount) pairs of a table composition ('Li1 Co2 O4') or formula ('Li(CoO2)2')."""
    if "(" in composition or "[" in composition:
        return tuple(parse_formula(composition).items())
    out: dict[str, float] = {}
    for el, n in _AMOUNT.findall(composition.replace(" ", "")):
        out[el] = out.get(el, 0.0) + (float(n) if n else 1.0)
    return tuple(out.items())


def is_gga_u(composition: str, run_type: str = "") -> bool:
    """Whether MP ran the phase with GGA+U: its run type when it says GGA or GGA+U, else MP's rule
    (``legacy.is_gga_u``): O or F the most electronegative element and a U metal present."""
    if run_type in ("GGA", "GGA+U"):
        return run_type == "GGA+U"
    if run_type and not run_type.startswith("GGA/GGA+U"):
        return False
    els = [el for el, _ in amounts(composition)]
    return len(els) > 1 and max(els, key=_x) in ("O", "F") and any(el in U_METALS for el in els)


def mixed_valence(composition: str) -> str:
    """The mixed-valence transition metal of a composition, as text ('Co +3.5'), or ''.

    Charge balance from composition alone: the most electronegative element must be an anion of
    ``ANIONS`` (O-2, F-1, Cl/Br/I-1, S/Se/Te-2, N-3); every other element takes its usual states
    (``OTHER_STATES``: Li+1, Mg+2, Al+3, P+5, sulfate S+6 ...), tried most usual first; the
    transition metals of ``TM_RANGE`` carry the rest.  Mixed valence: no choice of the other
    elements' states lets each metal take one integer state (from its lowest to its highest usual
    state) within 0.05 per metal atom, yet the metals' average lies in that range (LiCo2O4:
    Co +3.5; LiMn2O4: Mn +3.5; Fe3O4: Fe +2.67).  Compositions the rule cannot balance (peroxides,
    Fe4N, polysulfides beyond the states) or with an element it does not know give ''.  Known
    misses, called conducting though insulating: site-ordered spinels (Mn3O4, Co3O4: M2+ on
    tetrahedral, M3+ on octahedral sites) and metal-cluster compounds (Nb6Cl14-, Re6Se8-type).
    """
    amt = dict(amounts(composition))
    tms = [el for el in amt if el in TM_RANGE]
    anion = max(amt, key=_x)
    if not tms or anion not in ANIONS:
        return ""
    others = [el for el in amt if el not in tms]
    if any(el != anion and el not in OTHER_STATES for el in others):
        return ""
    choices = [(ANIONS[el],) if el == anion else OTHER_STATES[el] for el in others]
    n_tm = sum(amt[el] for el in tms)
    sums = {0.0}  # the charges the metals can carry with one integer state each
    for el in tms:
        sums = {s + amt[el] * q for s in sums for q in range(TM_RANGE[el][0], TM_RANGE[el][1] + 1)}
    uniform = np.array(sorted(sums))
    lo, hi = uniform[0], uniform[-1]
    tol = VALENCE_TOLERANCE * n_tm
    first = None
    for qs in product(*choices):
        rest = -sum(amt[el] * q for el, q in zip(others, qs, strict=True))  # charge the metals carry
        if np.abs(uniform - rest).min() <= tol:
            return ""
        if first is None and lo - tol <= rest <= hi + tol:
            first = rest
    if first is None:
        return ""
    avg = first / n_tm
    return f"{tms[0]} {avg:+.3g}" if len(tms) == 1 else f"{'/'.join(tms)} average {avg:+.3g}"


def read_gga_u() -> pd.DataFrame:
    """The GGA+U validation set ``data/gga_u_band_gaps.csv``: formula, material_id,
    measured_gap_eV, mp_gap_eV (MP's 2019 PBE+U gap of that id, NaN if none), notes, row."""
    df = files.read_text_csv(files.shipped(files.GGA_U_GAPS), files.GGA_U_GAPS, "fix the shipped table")
    need = {"formula", "material_id", "measured_gap_eV", "mp_gap_eV", "notes"}
    if not need <= set(df.columns):
        raise DataError(f"{files.GGA_U_GAPS} lacks columns {', '.join(sorted(need - set(df.columns)))}")
    out = df[sorted(need)].copy()
    try:
        out["measured_gap_eV"] = out.measured_gap_eV.astype(float)
        out["mp_gap_eV"] = [float(g) if g.strip() else np.nan for g in out.mp_gap_eV]
    except ValueError as exc:
        raise DataError(f"{files.GGA_U_GAPS}: {exc}") from None
    out["row"] = np.arange(2, len(out) + 2)
    return out


def _errors(e: np.ndarray) -> dict:
    """MAE, RMSE and median signed error (treated - measured, eV)."""
    return {"mae_eV": round(float(np.mean(np.abs(e))), 3), "rmse_eV": round(float(np.sqrt(np.mean(e**2))), 3),
            "median_signed_eV": round(float(np.median(e)), 3)}


def validate_gga_u(validation: pd.DataFrame, cal: Calibration, pbe_by_id: pd.Series | None = None) -> dict:
    """Measured vs MP PBE+U gaps of GGA+U compounds: the raw gap, the plain-GGA fit applied to it,
    and a separate linear fit in leave-one-out.  Pairs: a PBE+U gap > 0 (a 0 pairs a metal with 0
    and says nothing about the gap error) and no POLYMORPH MISMATCH or 'suspicious' note.  Errors
    are treated - measured (eV); ``error_eV`` (the raw gap's RMSE) is the error of 'pbe+u' gaps.
    ``pbe_by_id``: the table's PBE gaps, checked against the file's where both exist."""
    v = validation
    if pbe_by_id is not None:
        tbl_gap = v.material_id.map(pbe_by_id).astype(float)
        bad = v[np.isfinite(tbl_gap) & np.isfinite(v.mp_gap_eV) & ((tbl_gap - v.mp_gap_eV).abs() > 2e-3)]
        if len(bad):
            r = bad.iloc[0]
            raise DataError(f"{files.GGA_U_GAPS} row {r.row}: {r.material_id} mp_gap_eV {r.mp_gap_eV} is not the table's PBE gap")
    doubtful = v.notes.str.contains("POLYMORPH MISMATCH|suspicious", case=False)
    use = v[(v.mp_gap_eV > 0) & ~doubtful]
    if len(use) < MIN_GGA_U_PAIRS:
        raise DataError(f"only {len(use)} usable rows in {files.GGA_U_GAPS}: the validation needs {MIN_GGA_U_PAIRS}")
    x, y = use.mp_gap_eV.to_numpy(), use.measured_gap_eV.to_numpy()
    loo = []
    for k in range(len(x)):
        m = np.arange(len(x)) != k
        ak, bk = np.polyfit(x[m], y[m], 1)
        loo.append(ak * x[k] + bk - y[k])
    a, b = np.polyfit(x, y, 1)
    strict = ~use.notes.str.contains("WEAK").to_numpy()
    raw = _errors(x - y)
    return {"n_listed": len(v), "n": len(use),
            "left_out": {"no PBE+U gap": int(v.mp_gap_eV.isna().sum()), "PBE+U gap 0": int((v.mp_gap_eV == 0).sum()),
                         "polymorph mismatch or suspicious": sorted(v[doubtful & (v.mp_gap_eV > 0)].formula)},
            "raw_pbe_u": raw, "plain_gga_fit": _errors(cal.correct(x) - y),
            "gga_u_fit_loo": {"a": round(float(a), 3), "b": round(float(b), 3), **_errors(np.array(loo))},
            "raw_pbe_u_without_weak": {"n": int(strict.sum()), **_errors(x[strict] - y[strict])},
            "treatment": "raw PBE+U gap", "error_eV": raw["rmse_eV"]}


def apply(table: pd.DataFrame, measured: pd.DataFrame, cal: Calibration, gaps_file: str, *,
          gga_u: dict | None = None) -> dict:
    """Fill ``band_gap_eV``/origin/source/error of MP rows in place, in the module's order: measured,
    element (metal/semimetal), mixed-valence, pbe+u, pbe-corrected.  ``gga_u``: the
    ``validate_gga_u`` result (its ``error_eV`` is the error of pbe+u gaps; NaN without it).
    Rows with a user or CHGNet gap are left alone.  Returns the number of MP rows per origin."""
    if "band_gap_error_eV" not in table:
        table["band_gap_error_eV"] = np.nan
    mp = table.origin.str.startswith("mp-").to_numpy()
    pbe = table.band_gap_pbe_eV.to_numpy(dtype=float)
    comp = table.composition.to_numpy()
    run_type = table.run_type.fillna("").to_numpy() if "run_type" in table else np.full(len(table), "")
    gga_u_err = float(gga_u["error_eV"]) if gga_u else np.nan
    idx = table.index
    # 5 and 4: PBE gaps, corrected (GGA) or as they are (GGA+U)
    has = mp & np.isfinite(pbe)
    plus_u = has & np.array([is_gga_u(c, r) for c, r in zip(comp, run_type, strict=True)])
    plain = has & ~plus_u
    table.loc[idx[plain], "band_gap_eV"] = cal.correct(pbe[plain])
    table.loc[idx[plain], "band_gap_origin"] = "pbe-corrected"
    table.loc[idx[plain], "band_gap_error_eV"] = cal.loo_rmse_eV
    table.loc[idx[plain], "band_gap_source"] = [f"MP PBE {g:.3g} eV ({gaps_file}), corrected {cal.text()}" if g > 0 else
                                                f"MP PBE 0 eV ({gaps_file}): no gap" for g in pbe[plain]]
    table.loc[idx[plus_u], "band_gap_eV"] = pbe[plus_u]
    table.loc[idx[plus_u], "band_gap_origin"] = "pbe+u"
    table.loc[idx[plus_u], "band_gap_error_eV"] = gga_u_err
    table.loc[idx[plus_u], "band_gap_source"] = [
        f"MP PBE+U {g:.3g} eV ({gaps_file}), used as is (GGA+U: the plain-GGA fit does not apply; "
        f"validation RMSE {gga_u_err:.2f} eV, {files.GGA_U_GAPS})" if g > 0 else f"MP PBE+U 0 eV ({gaps_file}): no gap"
        for g in pbe[plus_u]]
    # 3: mixed-valence transition metals conduct whatever the DFT gap
    valence: dict[str, str] = {}  # per composition, for this call
    for m, c in zip(mp, comp, strict=True):
        if m and c not in valence:
            valence[c] = mixed_valence(c)
    mixed = np.array([bool(m) and bool(valence[c]) for m, c in zip(mp, comp, strict=True)])
    table.loc[idx[mixed], "band_gap_eV"] = 0.0
    table.loc[idx[mixed], "band_gap_origin"] = "mixed-valence"
    table.loc[idx[mixed], "band_gap_error_eV"] = np.nan
    table.loc[idx[mixed], "band_gap_source"] = [
        f"mixed-valence transition metal ({valence[c]}): electronically conducting assumed" for c in comp[mixed]]
    # 2: elemental metals, and semimetals without a PBE gap
    el = np.array([len(amounts(c)) == 1 and m for c, m in zip(comp, mp, strict=True)])
    sym = np.array([amounts(c)[0][0] if e else "" for c, e in zip(comp, el, strict=True)])
    ehull = table.e_above_hull_eV_per_atom.to_numpy(dtype=float)
    metal = el & np.array([bool(s) and IS_METAL[s] for s in sym]) & ~(pbe == 0)
    semi = (el & np.isin(sym, SEMIMETALS) & ~np.isfinite(pbe) & ((sym != "C") | (ehull <= GRAPHITE_WINDOW_EV)))
    for rows, why in ((metal, "a metal"), (semi & ~metal, "a semimetal")):
        table.loc[idx[rows], "band_gap_eV"] = 0.0
        table.loc[idx[rows], "band_gap_origin"] = "element (metal/semimetal)"
        table.loc[idx[rows], "band_gap_error_eV"] = 0.0
        table.loc[idx[rows], "band_gap_source"] = [
            f"{s} is {why}" + ("" if not np.isfinite(g) else f" (MP PBE {g:.3g} eV not used)")
            + (" (graphite-like: sp2 carbon within 0.05 eV/atom of the ground state)" if s == "C" else "")
            for s, g in zip(sym[rows], pbe[rows], strict=True)]
    # 1: measured gaps win
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
        table.loc[i, "band_gap_error_eV"] = MEASURED_ERROR_EV
        kind = "" if r.gap_type in ("", "unspecified") else f", {r.gap_type}"
        table.loc[i, "band_gap_source"] = f"measured{kind}: {r.source} ({files.MEASURED_GAPS} row {r.row})"
    return {k: int(v) for k, v in table.band_gap_origin[mp].value_counts().items() if k}
