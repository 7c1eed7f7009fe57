"""The choices a screen is made with, in one record passed from the command line through the
screen, the report, the plots and the checkpoint key.  Units in the names."""

from __future__ import annotations

import math
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


def _number(name: str, value, lo: float = 0.0, hi: float = math.inf, example: str = "") -> float:
    """A finite number in [lo, hi], else InputError naming the option and an example."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} {value!r} is not a number: give e.g. {example}") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        bounds = f">= {lo:g}" if hi == math.inf else f"between {lo:g} and {hi:g}"
        raise InputError(f"{name} {value}: give a finite number {bounds}, e.g. {example}")
    return v


@dataclass(frozen=True)
class Weights(Result):
    """Weights of the composite score: non-negative, finite, not all zero."""

    li: float = 1.0
    electrolyte: float = 1.0
    insulation: float = 1.0
    volume: float = 0.5

    def __post_init__(self):
        for f in fields(self):
            object.__setattr__(self, f.name, _number(f"weight {f.name}", getattr(self, f.name), 0, 1e6, "1"))
        if self.total == 0:
            raise InputError("score weights are all zero: give at least one positive weight, e.g. li=1")

    @property
    def total(self) -> float:
        return self.li + self.electrolyte + self.insulation + self.volume

    @classmethod
    def parse(cls, text: str) -> Weights:
        """From 'li=1,electrolyte=2,insulation=1,volume=0.5' (missing keys keep their defaults)."""
        kw: dict[str, str] = {}
        names = [f.name for f in fields(cls)]
        for part in filter(None, (p.strip() for p in str(text).split(","))):
            key, eq, val = (s.strip() for s in part.partition("="))
            if not eq:
                raise InputError(f"weight '{part}' is not key=number: write e.g. li=1,volume=0.5")
            if key not in names:
                raise InputError(f"unknown weight '{key}': use {', '.join(names)}")
            if key in kw:
                raise InputError(f"weight '{key}' given twice: give each weight once")
            kw[key] = val
        return cls(**kw)

    def text(self) -> str:
        return ",".join(f"{f.name}={getattr(self, f.name):g}" for f in fields(self))


@dataclass(frozen=True)
class Settings(Result):
    """Everything a screen's numbers depend on besides the phase data.

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
        set_("tolerance_eV_per_atom", _number("--tolerance", self.tolerance_eV_per_atom, 0, MAX_TOLERANCE_EV_PER_ATOM, "0.02"))
        set_("gap_threshold_eV", _number("--gap", self.gap_threshold_eV, 0, MAX_GAP_EV, "1.0"))
        if self.max_e_hull_eV_per_atom is not None:
            set_("max_e_hull_eV_per_atom", _number("--max-e-hull", self.max_e_hull_eV_per_atom, 0, MAX_E_HULL_EV_PER_ATOM, "0.05"))
        if self.stage not in ("full", "first"):
            raise InputError(f"--stage {self.stage}: choose full or first")
        if not isinstance(self.weights, Weights):
            raise InputError("weights must be a screening.Weights")
        if not str(self.electrolyte).strip():
            raise InputError("empty electrolyte: give a formula such as Li7La3Zr2O12")

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)

    def key(self) -> dict:
        """The parameters as plain values (for provenance and checkpoint keys)."""
        d = self.record()
        d["weights"] = self.weights.text()
        return d
