"""The choices a screen is made with, in one record passed from the command line through the
screen, the report and the checkpoint key, and the one place where option values are checked.

Checks speak Python: a wrong type is a TypeError, a bad value an ``InputError`` (a ValueError)
naming the argument (``tolerance_eV_per_atom=-1: give ...``); the command line maps argument
names to its flags.  Units in the names.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields, replace
from typing import Literal

from screening.errors import InputError
from screening.results import Result

#: Reaction energies with |E| below this are inside DFT error (eV/atom).
DFT_TOLERANCE_EV_PER_ATOM = 0.020
#: A product counts as electronically insulating above this band gap (eV; see data/band_gaps).
INSULATING_GAP_EV = 1.0
DEFAULT_ELECTROLYTE = "Li7La3Zr2O12"
DEFAULT_CATHODE = "LiCoO2"
#: Upper bound of option values that make physical sense (a sanity limit, not physics).
MAX_TOLERANCE_EV_PER_ATOM = 1.0
MAX_GAP_EV = 20.0
MAX_E_HULL_EV_PER_ATOM = 5.0
MAX_VOLTAGE_V = 10.0
MAX_WEIGHT = 1e6
#: the precursor film of the seed case (Li et al. 2023: 0.5 um I2, their optimum)
DEFAULT_THICKNESS_UM = 0.5
MAX_THICKNESS_UM = 1000.0
#: temperatures the Gibbs energy model covers (K; Bartel et al.'s descriptor and the element
#: table); 0 K means the 0 K DFT energies unchanged
TEMPERATURE_RANGE_K = (300.0, 2000.0)


def check_number(name: str, value, lo: float = 0.0, hi: float = math.inf, example: str = "1") -> float:
    """``value`` as a float in [lo, hi]: TypeError when it is not a real number (text, None, a
    bool), InputError naming ``name`` when it is NaN, infinite or out of range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, not {type(value).__name__} ({value!r}): give e.g. {name}={example}")
    v = float(value)
    if not (math.isfinite(v) and lo <= v <= hi):
        bounds = f">= {lo:g}" if hi == math.inf else f"between {lo:g} and {hi:g}"
        raise InputError(f"{name}={value!r}: give a finite number {bounds}, e.g. {example}", argument=name)
    return v


def check_voltage(name: str, value, optional: bool = True) -> float | None:
    """A voltage vs Li/Li+ in [0, 10] V (None allowed when ``optional``)."""
    if value is None and optional:
        return None
    return check_number(name, value, 0.0, MAX_VOLTAGE_V, "3.9")


def check_temperature(name: str, value) -> float:
    """0 (the 0 K DFT energies) or a temperature inside ``TEMPERATURE_RANGE_K``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, not {type(value).__name__} ({value!r}): give e.g. {name}=573")
    t = float(value)
    lo, hi = TEMPERATURE_RANGE_K
    if t != 0.0 and not (math.isfinite(t) and lo <= t <= hi):
        raise InputError(f"{name}={value!r} K is outside the Gibbs energy model's range: give 0 (the 0 K DFT energies) "
                         f"or {lo:g}-{hi:g} K (Bartel et al.'s descriptor and the element table cover only that range)",
                         argument=name)
    return t


def check_text(name: str, value, example: str) -> str:
    """A non-empty string (TypeError for other types)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {type(value).__name__}: give e.g. {name}={example!r}")
    if not value.strip():
        raise InputError(f"{name} is empty: give e.g. {example}", argument=name)
    return value


@dataclass(frozen=True)
class Weights(Result):
    """Weights of the composite score: non-negative, finite numbers, not all zero."""

    li: float = 1.0
    electrolyte: float = 1.0
    insulation: float = 1.0
    volume: float = 0.5
    transport: float = 1.0

    def __post_init__(self):
        for f in fields(self):
            object.__setattr__(self, f.name, check_number(f"weights.{f.name}", getattr(self, f.name), 0, MAX_WEIGHT, "1"))
        if self.total == 0:
            raise InputError("weights are all zero: give at least one positive weight, e.g. li=1", argument="weights")

    @property
    def total(self) -> float:
        return sum(getattr(self, f.name) for f in fields(self))

    @classmethod
    def parse(cls, text: str) -> Weights:
        """From 'li=1,electrolyte=2,insulation=1,volume=0.5' (missing keys keep their defaults)."""
        kw: dict[str, float] = {}
        names = [f.name for f in fields(cls)]
        for part in filter(None, (p.strip() for p in str(text).split(","))):
            key, eq, val = (s.strip() for s in part.partition("="))
            if not eq:
                raise InputError(f"weights: '{part}' is not key=number: write e.g. li=1,volume=0.5", argument="weights")
            if key not in names:
                raise InputError(f"weights: unknown weight '{key}': use {', '.join(names)}", argument="weights")
            if key in kw:
                raise InputError(f"weights: '{key}' given twice: give each weight once", argument="weights")
            try:
                kw[key] = float(val)
            except ValueError:
                raise InputError(f"weights: {key}={val!r} is not a number: write e.g. {key}=1", argument="weights") from None
        return cls(**kw)

    def text(self) -> str:
        return ",".join(f"{f.name}={getattr(self, f.name):g}" for f in fields(self))


@dataclass(frozen=True)
class CoatingWeights(Result):
    """Weights of the cathode-side (coating) score: non-negative, finite numbers, not all zero."""

    window: float = 1.0
    cathode: float = 1.0
    electrolyte: float = 1.0
    open: float = 1.0
    insulation: float = 1.0
    transport: float = 0.5

    __post_init__ = Weights.__post_init__
    total = Weights.total
    text = Weights.text
    parse = classmethod(Weights.parse.__func__)


@dataclass(frozen=True)
class Settings(Result):
    """Everything a screen's numbers depend on besides the phase data.

    ``electrolyte``: the solid electrolyte (formula, formula:id or phase id);
    ``tolerance_eV_per_atom``: |E| below it is inside DFT error (not ranked on);
    ``gap_threshold_eV``: a product insulates above this gap (the gap used: measured where known,
    else the corrected PBE gap; see ``screening.data.gaps``);
    ``stage``: rank on the fully lithiated interphase (``full``) or on the lithiation stage in
    equilibrium at the electrolyte's reduction limit (``first``);
    ``max_e_hull_eV_per_atom``: phases further above the hull are left out of ``--all-li`` and of
    the stability filters (None: hull phases only for ``--all-li``, the tolerance for filters);
    ``exclude_artefacts``: leave phases flagged as DFT artefacts (dilute supercells like LiMg149,
    compounds in Li-metal systems where experiment knows none, like LiCu3) out of every hull;
    ``thickness_um``: the precursor (or interlayer) film thickness for the layer's thickness, Li
    consumption and area-specific resistance;
    ``temperature_K``: 0 for the 0 K DFT energies; otherwise Gibbs energies at that temperature
    (300-2000 K) and the temperature of the layer's resistance (Arrhenius from 25 C);
    ``side``: screen interlayers/precursors against Li metal (``anode``) or coatings between a
    cathode and the electrolyte (``cathode``: ``cathode``, at ``cathode_voltage_V``; None: the
    cathode's own delithiation voltage, the oxidation limit of its window), ranked with
    ``coating_weights``.
    """

    electrolyte: str = DEFAULT_ELECTROLYTE
    tolerance_eV_per_atom: float = DFT_TOLERANCE_EV_PER_ATOM
    gap_threshold_eV: float = INSULATING_GAP_EV
    weights: Weights = field(default_factory=Weights)
    stage: Literal["full", "first"] = "full"
    max_e_hull_eV_per_atom: float | None = None
    exclude_artefacts: bool = True
    thickness_um: float = DEFAULT_THICKNESS_UM
    temperature_K: float = 0.0
    side: Literal["anode", "cathode"] = "anode"
    cathode: str = DEFAULT_CATHODE
    cathode_voltage_V: float | None = None
    coating_weights: CoatingWeights = field(default_factory=CoatingWeights)

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        check_text("electrolyte", self.electrolyte, DEFAULT_ELECTROLYTE)
        set_("tolerance_eV_per_atom", check_number("tolerance_eV_per_atom", self.tolerance_eV_per_atom, 0,
                                                   MAX_TOLERANCE_EV_PER_ATOM, "0.02"))
        set_("gap_threshold_eV", check_number("gap_threshold_eV", self.gap_threshold_eV, 0, MAX_GAP_EV, "1.0"))
        if self.max_e_hull_eV_per_atom is not None:
            set_("max_e_hull_eV_per_atom", check_number("max_e_hull_eV_per_atom", self.max_e_hull_eV_per_atom, 0,
                                                        MAX_E_HULL_EV_PER_ATOM, "0.05"))
        if self.stage not in ("full", "first"):
            raise InputError(f"stage={self.stage!r}: choose 'full' or 'first'", argument="stage")
        if not isinstance(self.weights, Weights):
            raise TypeError(f"weights must be a screening.Weights, not {type(self.weights).__name__}: "
                            "give e.g. weights=Weights(volume=2)")
        if not isinstance(self.exclude_artefacts, bool):
            raise TypeError(f"exclude_artefacts must be True or False, not {self.exclude_artefacts!r}")
        set_("thickness_um", check_number("thickness_um", self.thickness_um, 0.0, MAX_THICKNESS_UM, "0.5"))
        if self.thickness_um <= 0:
            raise InputError(f"thickness_um={self.thickness_um!r}: give a positive film thickness in um, e.g. 0.5",
                             argument="thickness_um")
        set_("temperature_K", check_temperature("temperature_K", self.temperature_K))
        if self.side not in ("anode", "cathode"):
            raise InputError(f"side={self.side!r}: choose 'anode' or 'cathode'", argument="side")
        check_text("cathode", self.cathode, DEFAULT_CATHODE)
        if self.cathode_voltage_V is not None:
            set_("cathode_voltage_V", check_voltage("cathode_voltage_V", self.cathode_voltage_V))
        if not isinstance(self.coating_weights, CoatingWeights):
            raise TypeError(f"coating_weights must be a screening.settings.CoatingWeights, not "
                            f"{type(self.coating_weights).__name__}")

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)

    def key(self) -> dict:
        """The parameters as plain values (for provenance and checkpoint keys)."""
        d = self.record()
        d["weights"] = self.weights.text()
        d["coating_weights"] = self.coating_weights.text()
        return d


def as_settings(settings) -> Settings:
    """``settings`` itself, a new default Settings for None; TypeError for anything else."""
    if settings is None:
        return Settings()
    if not isinstance(settings, Settings):
        raise TypeError(f"settings must be a screening.Settings, not {type(settings).__name__}: "
                        "give e.g. Settings(electrolyte='Li6PS5Cl')")
    return settings
