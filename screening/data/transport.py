"""Li+ conductivity of every phase at 25 C: measured first, else estimated from a calibrated
bond-valence site-energy (BVSE) barrier, else said to be unknown.  Never a silent default.

The hierarchy, per phase (the build fills ``li_conductivity_S_per_cm`` at 25 C,
``li_activation_energy_eV``, ``li_conductivity_origin``, ``li_conductivity_source`` and
``li_conductivity_error_log10``):

1. ``measured``: the curated table ``data/li_ion_conductivities.csv`` (one cited source per
   value; a row with a ``material_id`` applies to that MP material, a row without to the
   lowest-energy polymorph of its formula; the first row of a formula wins).  A value measured
   away from 25 C is brought to 25 C with its activation energy (Arrhenius in the sigma*T form);
   without one it is used only within 10 C of 25 C.  Rows whose carrier is ``electronic`` (Li
   alloys) give origin ``electronic``: a metallic layer moves Li as atoms (chemical diffusion, the
   measured coefficient in the source text) and adds no ionic resistance;
2. ``estimated``: log10 sigma_25 = a + b E_BVSE, fitted on the measured crystalline ionic phases
   that have a barrier (``screening/_data/li_bvse_barriers.csv``, derived from the MP structures
   by ``python -m screening.data.bvse``; the 3D percolation barrier if there is one, else 2D, else
   1D; thin films and glasses are left out of the fit); the fit's leave-one-out RMSE (decades) is
   the stated error and the barrier stands in for the activation energy.  Estimates are used only
   if the fit has skill (leave-one-out RMSE below ``SKILL_FRACTION`` of the measured values'
   spread); otherwise such phases stay ``unknown`` and their source names the barrier and why it
   was not used;
3. ``electronic`` for other Li phases with no gap (metals and alloys), ``no Li`` for phases
   without Li (they block Li+: conductivity 0), ``unknown`` for the rest.

Units: S/cm, eV, K; errors in decades (log10 units).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from screening.data import files
from screening.data.formula import parse_formula, reduced_formula
from screening.errors import DataError
from screening.units import BOLTZMANN_EV_PER_K, ROOM_TEMPERATURE_K

#: a measured value without an activation energy is used only this close to 25 C
MAX_UNCORRECTED_OFFSET_C = 10.0
#: fewer measured phases with a barrier than this: no estimates
MIN_PAIRS = 10
#: estimates are used only when the fit's leave-one-out error is below this fraction of the
#: spread of the measured values (else the barrier says nothing the mean does not)
SKILL_FRACTION = 0.75
#: Li phases with a band gap at most this (eV) are metals: Li moves as atoms, not as Li+
METALLIC_GAP_EV = 0.1
ORIGINS = ("measured", "estimated", "electronic", "no Li", "unknown")


def arrhenius(sigma_S_per_cm: float, activation_eV: float, from_K: float, to_K: float) -> float:
    """Conductivity at ``to_K`` from its value at ``from_K``: sigma T = A exp(-Ea / kT)."""
    return sigma_S_per_cm * from_K / to_K * math.exp(-activation_eV / BOLTZMANN_EV_PER_K * (1 / to_K - 1 / from_K))


def _number(text) -> float:
    try:
        v = float(str(text).strip())
    except ValueError:
        return math.nan
    return v


def read_measured() -> pd.DataFrame:
    """The curated table, one row per measurement: formula (reduced), material_id, sigma_25_S_per_cm
    (NaN when not usable at 25 C), activation_energy_eV, carrier, li_diffusion_cm2_per_s, source
    (text for people, with the file row), row."""
    df = files.read_text_csv(files.shipped(files.CONDUCTIVITIES), files.CONDUCTIVITIES,
                             "fix the shipped table", DataError)
    need = {"formula", "phase", "material_id", "sigma_S_per_cm", "temperature_C", "activation_energy_eV", "sample_form",
            "carrier", "li_diffusion_cm2_per_s", "source"}
    if not need <= set(df.columns):
        raise DataError(f"{files.CONDUCTIVITIES} lacks columns {', '.join(sorted(need - set(df.columns)))}")
    rows = []
    for i, r in enumerate(df.itertuples(), start=2):
        formula = reduced_formula(parse_formula(r.formula))
        sigma, t_c, ea = _number(r.sigma_S_per_cm), _number(r.temperature_C), _number(r.activation_energy_eV)
        carrier = r.carrier.strip()
        if carrier not in ("ionic", "electronic"):
            raise DataError(f"{files.CONDUCTIVITIES} row {i}: carrier {carrier!r} is not ionic or electronic")
        if (np.isfinite(sigma) and sigma <= 0) or (np.isfinite(ea) and not 0 < ea < 3):
            raise DataError(f"{files.CONDUCTIVITIES} row {i}: sigma must be > 0 S/cm and Ea in 0-3 eV")
        where = f"{files.CONDUCTIVITIES} row {i}"
        note = ""
        s25 = math.nan
        if carrier == "ionic" and np.isfinite(sigma) and np.isfinite(t_c):
            if abs(t_c - 25.0) <= 0.5:
                s25 = sigma
            elif np.isfinite(ea):
                s25 = arrhenius(sigma, ea, t_c + 273.15, ROOM_TEMPERATURE_K)
                note = f"; {sigma:.3g} S/cm at {t_c:g} C brought to 25 C with Ea {ea:g} eV"
            elif abs(t_c - 25.0) <= MAX_UNCORRECTED_OFFSET_C:
                s25 = sigma
                note = f"; measured at {t_c:g} C, used as the 25 C value (no activation energy)"
            else:
                note = f"; {sigma:.3g} S/cm at {t_c:g} C, no activation energy: not usable at 25 C"
        form = r.sample_form.strip() or "unspecified"
        rows.append({"formula": formula, "material_id": r.material_id.strip(), "sigma_25_S_per_cm": s25, "form": form,
                     "activation_energy_eV": ea, "carrier": carrier, "li_diffusion_cm2_per_s": _number(r.li_diffusion_cm2_per_s),
                     "source": f"measured ({form}, {r.phase.strip() or 'phase unspecified'}): {r.source.strip()} ({where}){note}",
                     "row": i})
    return pd.DataFrame(rows)


def read_bvse() -> pd.DataFrame:
    """The shipped BVSE barriers: phase_id, formula, barrier_eV (3D, else 2D, else 1D; NaN when
    none), dimension."""
    with files.shipped(files.BVSE_BARRIERS).open("r") as fh:
        df = pd.read_csv(fh, keep_default_na=False, dtype=str)
    ea = {d: pd.to_numeric(df[f"ea_{d}_eV"], errors="coerce") for d in ("3d", "2d", "1d")}
    barrier = ea["3d"].fillna(ea["2d"]).fillna(ea["1d"])
    dim = np.where(ea["3d"].notna(), "3D", np.where(ea["2d"].notna(), "2D", np.where(ea["1d"].notna(), "1D", "")))
    out = pd.DataFrame({"phase_id": df.phase_id, "formula": df.formula, "barrier_eV": barrier, "dimension": dim,
                        "version": df.package + " " + df.package_version})
    return out.drop_duplicates("phase_id", keep="last").reset_index(drop=True)


@dataclass(frozen=True)
class Calibration:
    """log10 sigma_25 (S/cm) = a + b E_BVSE (eV), on ``n`` measured phases; ``loo_rmse_log10``: its
    leave-one-out error in decades; ``r``: the correlation; ``spread_log10``: the standard
    deviation of the measured log10 sigma (the error of guessing their mean)."""

    a: float
    b: float
    n: int
    loo_rmse_log10: float
    r: float
    spread_log10: float

    @property
    def skilful(self) -> bool:
        return self.loo_rmse_log10 < SKILL_FRACTION * self.spread_log10

    def sigma(self, barrier_eV):
        return np.power(10.0, self.a + self.b * np.asarray(barrier_eV, float))

    def text(self) -> str:
        return (f"log10 sigma = {self.a:.2f} {self.b:+.2f} E_BVSE (n {self.n}, r {self.r:.2f}, LOO RMSE "
                f"{self.loo_rmse_log10:.2f} decades vs a spread of {self.spread_log10:.2f})")

    def as_info(self) -> dict:
        return {"a": self.a, "b": self.b, "n": self.n, "loo_rmse_log10": self.loo_rmse_log10, "r": self.r,
                "spread_log10": self.spread_log10, "used": self.skilful}


def _chosen(measured: pd.DataFrame, table: pd.DataFrame) -> dict[int, pd.Series]:
    """Table row -> the measured row that applies to it (tagged id, else the formula's
    lowest-energy polymorph; the first row of a formula wins)."""
    default = table.groupby("formula").energy_per_atom_eV.idxmin()
    ids = dict(zip(table.phase_id, table.index, strict=True))
    out: dict[int, pd.Series] = {}
    for _, r in measured.iterrows():
        i = ids.get(r.material_id) if r.material_id else default.get(r.formula)
        if i is None or i in out or table.at[i, "formula"] != r.formula:
            continue
        out[i] = r
    return out


def calibrate(measured: pd.DataFrame, bvse: pd.DataFrame, table: pd.DataFrame) -> Calibration | None:
    """Fit log10 sigma_25 vs the BVSE barrier on the table rows that have both (None when fewer
    than ``MIN_PAIRS``)."""
    barrier = dict(zip(bvse.phase_id, bvse.barrier_eV, strict=True))
    pairs = []
    for i, r in _chosen(measured, table).items():
        e = barrier.get(table.at[i, "phase_id"], math.nan)
        if r.carrier == "ionic" and np.isfinite(r.sigma_25_S_per_cm) and np.isfinite(e) and r.form not in ("thin film", "glass"):
            pairs.append((e, math.log10(r.sigma_25_S_per_cm)))
    if len(pairs) < MIN_PAIRS:
        return None
    x, y = np.array(pairs).T
    b, a = np.polyfit(x, y, 1)
    loo = []
    for k in range(len(x)):
        m = np.arange(len(x)) != k
        bk, ak = np.polyfit(x[m], y[m], 1)
        loo.append(ak + bk * x[k] - y[k])
    return Calibration(float(a), float(b), len(x), float(np.sqrt(np.mean(np.square(loo)))), float(np.corrcoef(x, y)[0, 1]),
                       float(np.std(y)))


def apply(table: pd.DataFrame, measured: pd.DataFrame, bvse: pd.DataFrame, cal: Calibration | None) -> dict:
    """Fill the conductivity columns of ``table`` in place (see the module docstring); the counts
    by origin are returned for the build info."""
    n = len(table)
    sigma, ea, err = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    origin = np.full(n, "unknown", dtype=object)
    source = np.full(n, "no measured value and no BVSE barrier", dtype=object)
    has_li = np.array(["Li" in c.split("-") for c in table.chemsys])
    gap = table.band_gap_eV.to_numpy(float)
    origin[~has_li] = "no Li"
    sigma[~has_li] = 0.0
    source[~has_li] = "no Li: the phase blocks Li+"
    metallic = has_li & (gap <= METALLIC_GAP_EV)
    origin[metallic] = "electronic"
    source[metallic] = [f"no band gap ({g:g} eV): a metal, Li moves as atoms" for g in gap[metallic]]
    if cal is not None:
        barrier = dict(zip(bvse.phase_id, zip(bvse.barrier_eV, bvse.dimension, bvse.version, strict=True), strict=True))
        for i, pid in enumerate(table.phase_id):
            got = barrier.get(pid)
            if got is None or not np.isfinite(got[0]) or not has_li[i] or metallic[i]:
                continue
            if not cal.skilful:
                source[i] = (f"no measured value; its {got[1]} BVSE Li+ barrier ({got[0]:.2f} eV, {got[2]}) is not used: "
                             f"barriers do not predict measured conductivities ({cal.text()})")
                continue
            sigma[i] = float(cal.sigma(got[0]))
            ea[i], err[i], origin[i] = got[0], cal.loo_rmse_log10, "estimated"
            source[i] = (f"estimated from the {got[1]} BVSE Li+ barrier {got[0]:.2f} eV ({got[2]}, MP structure {pid}): "
                         f"{cal.text()}")
    pos = {idx: k for k, idx in enumerate(table.index)}
    for i, r in _chosen(measured, table).items():
        k = pos[i]
        if r.carrier == "electronic":
            sigma[k], ea[k], err[k], origin[k] = math.nan, math.nan, math.nan, "electronic"
            d = f"; Li diffusion coefficient {r.li_diffusion_cm2_per_s:.2g} cm2/s" if np.isfinite(r.li_diffusion_cm2_per_s) else ""
            source[k] = f"electronic conductor: Li moves as atoms{d}; {r.source}"
        elif np.isfinite(r.sigma_25_S_per_cm):
            sigma[k], ea[k], err[k], origin[k], source[k] = r.sigma_25_S_per_cm, r.activation_energy_eV, math.nan, "measured", r.source
    table["li_conductivity_S_per_cm"] = sigma
    table["li_activation_energy_eV"] = ea
    table["li_conductivity_error_log10"] = err
    table["li_conductivity_origin"] = origin
    table["li_conductivity_source"] = source
    return {k: int((origin == k).sum()) for k in ORIGINS}
