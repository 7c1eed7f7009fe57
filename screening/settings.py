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
#: Upper bound of option values that make physical sense (a sanity limit, not physics).
MAX_TOLERANCE_EV_PER_ATOM = 1.0
MAX_GAP_EV = 20.0
MAX_E_HULL_EV_PER_ATOM = 5.0
MAX_VOLTAGE_V = 10.0
MAX_WEIGHT = 1e6


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
    ``exclude_artefacts``: leave dilute-supercell artefacts (e.g. LiMg149) out of every hull.
    """

    electrolyte: str = DEFAULT_ELECTROLYTE
    tolerance_eV_per_atom: float = DFT_TOLERANCE_EV_PER_ATOM
    gap_threshold_eV: float = INSULATING_GAP_EV
    weights: Weights = field(default_factory=Weights)
    stage: Literal["full", "first"] = "full"
    max_e_hull_eV_per_atom: float | None = None
    exclude_artefacts: bool = False

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

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)

    def key(self) -> dict:
        """The parameters as plain values (for provenance and checkpoint keys)."""
        d = self.record()
        d["weights"] = self.weights.text()
        return d


def as_settings(settings) -> Settings:
    """``settings`` itself, a new default Settings for None; TypeError for anything else."""
    if settings is None:
        return Settings()
    if not isinstance(settings, Settings):
        raise TypeError(f"settings must be a screening.Settings, not {type(settings).__name__}: "
                        "give e.g. Settings(electrolyte='Li6PS5Cl')")
    return settings
