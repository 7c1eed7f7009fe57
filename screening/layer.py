"""An interphase as a film: its thickness, the Li it consumes and its area-specific resistance.

A precursor film of thickness t on the electrolyte, laterally confined, grows in thickness only:
the interphase is t x V(products)/V(precursor) thick (an interlayer that does not react keeps its
own thickness).  Per cm2 the film holds t / V_m(precursor) mol of precursor formula units, each
taking up n Li: the Li consumed in mol/cm2, in mAh/cm2 (x F / 3.6 C) and as a thickness of Li
metal (x V_m(Li)).  Seed case: 0.5 um I2 -> 0.64 um LiI, 1.9e-6 mol Li/cm2 = 0.052 mAh/cm2 =
0.25 um of Li.

The layer's area-specific resistance for Li+ across it is ASR = thickness / sigma_eff.  A
one-phase layer has its phase's conductivity.  A layer of several phases (volume fractions from
the product volumes) is bounded by the parallel (Wiener upper: sigma = sum phi_i sigma_i) and the
series arrangement (1/sigma = sum phi_i / sigma_i), and estimated by Bruggeman's symmetric
effective-medium approximation for a random 3D mixture, sum phi_i (sigma_i - s)/(sigma_i + 2 s) = 0
(Bruggeman, Ann. Phys. 416, 636 (1935); Landauer, J. Appl. Phys. 23, 779 (1952)): a phase that
blocks Li+ (no Li) percolates the layer shut above 2/3 of its volume.  Metallic phases (Li alloys)
move Li as atoms and add no resistance (conductivity taken as infinite); a phase whose
conductivity is unknown makes the ASR unknown.  Conductivities at 25 C come from the phase table
(measured, else estimated; ``screening.data.transport``); at another temperature each phase's
follows Arrhenius (sigma T form) with its activation energy.

Units: um, mol/cm2, mAh/cm2, S/cm, ohm cm2, K.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from screening.data.table import Phase
from screening.data.transport import arrhenius
from screening.results import Result
from screening.units import FARADAY_C_PER_MOL, MAH_IN_C, ROOM_TEMPERATURE_K, UM_IN_CM

#: conductivities beyond these are treated as a blocking (0) or a metallic (infinite) phase
BLOCKING_S_PER_CM = 1e-30
METALLIC_S_PER_CM = 1e30


@dataclass(frozen=True)
class Film(Result):
    """A precursor film of ``precursor_thickness_um`` after reacting with Li (units in names;
    None where a volume or a conductivity is unknown; ``transport_note`` says what was used)."""

    precursor_thickness_um: float
    interphase_thickness_um: float | None
    li_consumed_mol_per_cm2: float | None
    li_consumed_mAh_per_cm2: float | None
    li_consumed_um: float | None
    transport: str  # ionic | metallic (Li moves as atoms: no resistance) | blocking | unknown
    li_conductivity_S_per_cm: float | None  # effective, 25 C (None: metallic or unknown)
    asr_ohm_cm2: float | None  # 25 C, effective-medium estimate (None: blocking or unknown)
    asr_low_ohm_cm2: float | None  # parallel bound
    asr_high_ohm_cm2: float | None  # series bound (None: a blocking phase, no upper bound)
    temperature_K: float | None
    asr_at_temperature_ohm_cm2: float | None
    conductivity_origin: str  # measured / estimated / electronic / no Li / unknown, per product
    transport_note: str


def bruggeman(fractions, sigmas) -> float:
    """Effective conductivity of a random 3D mixture (Bruggeman's symmetric effective medium):
    the root of sum phi_i (sigma_i - s) / (sigma_i + 2 s) in [min, max] of the sigma_i, by bisection
    on log s; 0 or infinity where a blocking or a metallic phase decides it."""
    phi = np.asarray(fractions, float)
    raw = np.asarray(sigmas, float)
    phi = phi / phi.sum()
    # the symmetric EMA's percolation thresholds: a metal conducts once it holds over 1/3 of the
    # volume, blocking phases shut the layer above 2/3
    if phi[raw >= METALLIC_S_PER_CM].sum() > 1 / 3:
        return math.inf
    if phi[raw <= BLOCKING_S_PER_CM].sum() > 2 / 3:
        return 0.0
    sig = np.clip(raw, BLOCKING_S_PER_CM, METALLIC_S_PER_CM)

    def f(log_s: float) -> float:
        s = 10.0 ** log_s
        return float(np.sum(phi * (sig - s) / (sig + 2 * s)))

    lo, hi = math.log10(sig.min()), math.log10(sig.max())
    if hi - lo < 1e-12:
        return float(sig[0])
    for _ in range(200):  # f falls with s: f(lo) >= 0 >= f(hi)
        mid = 0.5 * (lo + hi)
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-10:
            break
    s = 10.0 ** (0.5 * (lo + hi))
    return 0.0 if s < 1e3 * BLOCKING_S_PER_CM else (math.inf if s > METALLIC_S_PER_CM / 1e3 else s)


def _sigma(p: Phase, temperature_K: float) -> float | None:
    """Li+ conductivity of a phase at ``temperature_K`` (0 for a phase without Li, inf for a
    metal; None when unknown or when no activation energy takes it to that temperature)."""
    origin = p.li_conductivity_origin
    if origin == "no Li":
        return 0.0
    if origin == "electronic":
        return math.inf
    if p.li_conductivity_S_per_cm is None:
        return None
    if abs(temperature_K - ROOM_TEMPERATURE_K) < 1e-9:
        return p.li_conductivity_S_per_cm
    if p.li_activation_energy_eV is None:
        return None
    return arrhenius(p.li_conductivity_S_per_cm, p.li_activation_energy_eV, ROOM_TEMPERATURE_K, temperature_K)


def _asr(thickness_cm: float, phi, sig) -> tuple[float, float, float | None, float]:
    """(ASR estimate, lower bound, upper bound, effective conductivity) of a layer."""
    phi, sig = np.asarray(phi, float), np.asarray(sig, float)
    s_eff = bruggeman(phi, sig) if len(sig) > 1 else float(sig[0])
    parallel = float(np.sum(phi * sig))
    with np.errstate(divide="ignore"):
        series_res = float(np.sum(phi / sig)) if np.all(sig > 0) else math.inf
    asr = thickness_cm / s_eff if s_eff > 0 else math.inf
    low = thickness_cm / parallel if parallel > 0 else math.inf
    high = thickness_cm * series_res
    return asr, low, high, s_eff


def film(precursor: Phase, products: list, li_used: float, li_metal: Phase, thickness_um: float,
         temperature_K: float | None = None) -> Film:
    """The film a ``thickness_um`` layer of ``precursor`` becomes: ``products`` (records with
    ``phase`` and ``amount``, reduced formula units per reduced formula unit of the precursor)
    after taking up ``li_used`` Li per reduced formula unit."""
    t_cm = thickness_um * UM_IN_CM
    vm_p = precursor.molar_volume_cm3_per_mol
    vols = [p.amount * p.phase.molar_volume_cm3_per_mol if p.phase.molar_volume_cm3_per_mol is not None else None
            for p in products]
    if abs(li_used) < 1e-9 and len(products) == 1 and products[0].phase.formula == precursor.formula:
        ratio = 1.0  # nothing forms: the interlayer itself
    else:
        ratio = sum(vols) / vm_p if vm_p is not None and None not in vols else None
    t_int_um = None if ratio is None else thickness_um * ratio
    mol = li_mah = li_um = None
    if vm_p is not None:
        mol = t_cm / vm_p * li_used
        li_mah = mol * FARADAY_C_PER_MOL / MAH_IN_C
        li_um = None if li_metal.molar_volume_cm3_per_mol is None else mol * li_metal.molar_volume_cm3_per_mol / UM_IN_CM
    origins = "; ".join(f"{p.phase.formula}: {p.phase.li_conductivity_origin or 'unknown'}" for p in products)
    notes = [f"{p.phase.formula}: {p.phase.li_conductivity_source or 'no conductivity data'}" for p in products]
    sig25 = [_sigma(p.phase, ROOM_TEMPERATURE_K) for p in products]
    asr = low = high = s_eff = asr_t = None
    transport = "unknown"
    if t_int_um is not None and None not in vols and None not in sig25:
        total = sum(vols)
        phi = [v / total for v in vols] if total > 0 else [1.0 / len(vols)] * len(vols)
        a, lo_, hi_, s_eff = _asr(t_int_um * UM_IN_CM, phi, sig25)
        asr, low, high = a, lo_, hi_
        transport = "blocking" if s_eff == 0 else ("metallic" if math.isinf(s_eff) else "ionic")
        if transport == "blocking":
            notes.insert(0, "the phases without Li block Li+ (they fill over 2/3 of the layer): no path for Li+")
        if temperature_K:
            sig_t = [_sigma(p.phase, temperature_K) for p in products]
            if None not in sig_t:
                asr_t = _asr(t_int_um * UM_IN_CM, phi, sig_t)[0]
            else:
                notes.append(f"no activation energy for {', '.join(p.phase.formula for p, s in zip(products, sig_t, strict=True) if s is None)}: "
                             f"no ASR at {temperature_K:g} K")
    elif t_int_um is not None:
        unknown = [p.phase.formula for p, s in zip(products, sig25, strict=True) if s is None]
        notes.insert(0, f"Li+ conductivity unknown for {', '.join(unknown)}: ASR unknown" if unknown else "")
    return Film(
        precursor_thickness_um=float(thickness_um),
        interphase_thickness_um=None if t_int_um is None else float(t_int_um),
        li_consumed_mol_per_cm2=mol, li_consumed_mAh_per_cm2=li_mah, li_consumed_um=li_um,
        transport=transport,
        li_conductivity_S_per_cm=None if s_eff is None or math.isinf(s_eff) else float(s_eff),
        asr_ohm_cm2=_finite(asr), asr_low_ohm_cm2=_finite(low), asr_high_ohm_cm2=_finite(high),
        temperature_K=None if not temperature_K else float(temperature_K), asr_at_temperature_ohm_cm2=_finite(asr_t),
        conductivity_origin=origins, transport_note="; ".join(n for n in notes if n),
    )


def _finite(v):
    """None for an unknown value and for an infinite resistance (a layer that blocks Li+:
    ``transport`` says so)."""
    return None if v is None or not math.isfinite(v) else float(v)
