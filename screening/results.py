"""Result records shared by every layer: frozen dataclasses that serialize losslessly.

Every result class derives from :class:`Result`, an ``MSONable`` whose ``as_dict``/``from_dict``
round-trip exactly (``Result.from_dict(r.as_dict()) == r``): tuples come back as tuples, enums as
enums, nested results as results.  Nothing is rounded here; rounding happens only where text is
printed.  ``record()`` gives the flat JSON form the command line prints (enums as lowercase
strings, caveats as strings with their structure in ``warning_details``).

Caveats (:class:`Caveat`) are structured warnings: a kind, the chemical system or phase they are
about, the message and the remedy.  Reports and the command line format them; nobody parses text.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing

from monty.json import MSONable


class Character(str, enum.Enum):
    """Electronic character of an interphase (from its products' band gaps)."""

    INSULATING = "insulating"
    MIXED = "mixed"  # some product conducts electrons (a metal, an alloy, a small-gap phase)
    UNKNOWN = "unknown"  # some product has no band gap in the data

    def __str__(self) -> str:
        return self.value


class CandidateKind(str, enum.Enum):
    """Interlayer: a phase put between Li and the electrolyte as it is.
    Precursor: a coating meant to react with Li into an interphase.
    Coating: a phase put between a cathode and the electrolyte."""

    INTERLAYER = "interlayer"
    PRECURSOR = "precursor"
    COATING = "coating"  # between a cathode and the electrolyte (the cathode side)

    def __str__(self) -> str:
        return self.value


class CaveatKind(str, enum.Enum):
    """What a caveat is about (stable names: scripts may filter on them)."""

    INCOMPLETE_DATA = "incomplete_data"  # the offline data lacks compounds MP knows
    METASTABLE = "metastable"  # a phase above the convex hull
    WITHIN_DFT_ERROR = "within_dft_error"  # |E| below the tolerance
    NO_VOLUME = "no_volume"
    WEAK_VOLUME = "weak_volume"  # a DFT volume of a class GGA gets wrong (molecular, layered)
    MIXED_VOLUME_SOURCES = "mixed_volume_sources"
    NO_BAND_GAP = "no_band_gap"
    PBE_GAP = "pbe_gap"  # character decided by a (corrected) PBE gap near the threshold
    DILUTE_SUPERCELL = "dilute_supercell"  # formation energy per Li unphysical (e.g. LiMg149)
    GGA_FAILURE = "gga_failure"  # a known failure of GGA (LiC6 missing, van der Waals phases)
    OUTSIDE_WINDOW = "outside_window"  # a reactant is not stable at the voltage asked
    UNCERTAIN_ENERGY = "uncertain_energy"  # mixed-anion correction, converted legacy energy, ML energy
    LEGACY_DISAGREEMENT = "legacy_disagreement"  # placed and converted legacy energies differ
    MODEL = "model"  # an assumption of the model the user should know about

    def __str__(self) -> str:
        return self.value


# --------------------------------------------------------------------------- serialization
def _encode(v):
    if isinstance(v, Result):
        return v.as_dict()
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, (tuple, list)):
        return [_encode(x) for x in v]
    if isinstance(v, dict):
        return {k: _encode(x) for k, x in v.items()}
    return v


def _decode(hint, v):
    if v is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        for a in options:  # the first option that accepts the value
            try:
                return _decode(a, v)
            except (TypeError, ValueError, KeyError):
                continue
        raise TypeError(f"{v!r} is none of {', '.join(getattr(a, '__name__', str(a)) for a in options)}")
    if origin in (tuple, list, dict) and not isinstance(v, dict if origin is dict else (list, tuple)):
        raise TypeError(f"{v!r} is a {type(v).__name__}, not a {origin.__name__}")
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], x) for x in v)
        return tuple(_decode(a, x) for a, x in zip(args, v, strict=True))
    if origin is list:
        return [_decode(args[0], x) for x in v]
    if origin is dict:
        return {k: _decode(args[1], x) for k, x in v.items()}
    if origin is typing.Literal:
        if v not in args:
            raise ValueError(f"{v!r} is not one of {args}")
        return v
    if isinstance(hint, type):
        if issubclass(hint, Result):
            return hint.from_dict(v)
        if issubclass(hint, enum.Enum):
            return hint(v)
        if hint is float:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"{v!r} is not a number")
            return float(v)
        if hint in (int, str, bool) and not isinstance(v, hint):
            raise TypeError(f"{v!r} is not {hint.__name__}")
    return v


def _plain(v):
    """JSON-ready value: enums as their strings, caveats as text, results as records."""
    if isinstance(v, Caveat):
        return str(v)
    if isinstance(v, Result):
        return v.record()
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class Result(MSONable):
    """Base of the frozen result dataclasses: lossless ``as_dict``/``from_dict``, flat ``record``."""

    def as_dict(self) -> dict:
        d = {"@module": type(self).__module__, "@class": type(self).__name__}
        for f in dataclasses.fields(self):
            d[f.name] = _encode(getattr(self, f.name))
        return d

    @classmethod
    def from_dict(cls, d: dict):
        """The result of ``as_dict``; TypeError/ValueError naming the field for a dict of another
        result class, a missing field or a value of the wrong type."""
        if not isinstance(d, dict):
            raise TypeError(f"{cls.__name__}.from_dict needs a dict, not {type(d).__name__}")
        if d.get("@class", cls.__name__) != cls.__name__:
            raise TypeError(f"{cls.__name__}.from_dict got a {d['@class']} dict: use {d['@class']}.from_dict")
        hints = typing.get_type_hints(cls)
        kw = {}
        for f in dataclasses.fields(cls):
            if f.name not in d:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise ValueError(f"{cls.__name__}.from_dict: the field {f.name!r} is missing")
                continue
            try:
                kw[f.name] = _decode(hints[f.name], d[f.name])
            except (TypeError, ValueError, KeyError) as exc:
                raise TypeError(f"{cls.__name__}.from_dict: field {f.name!r}: {exc}") from None
        return cls(**kw)

    def record(self) -> dict:
        """Flat JSON-ready dict (the ``--json`` form); caveats as strings plus ``warning_details``."""
        out = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
        caveats = getattr(self, "warnings", None)
        if caveats:
            out["warning_details"] = [c.details() for c in caveats if isinstance(c, Caveat)]
        return out


@dataclasses.dataclass(frozen=True)
class Caveat(Result):
    """A structured warning: ``str()`` gives 'message: remedy' for people."""

    kind: CaveatKind
    message: str
    remedy: str = ""
    subject: str = ""  # the chemical system or phase it is about

    def __str__(self) -> str:
        return f"{self.message}: {self.remedy}" if self.remedy else self.message

    def details(self) -> dict:
        return {"kind": self.kind.value, "subject": self.subject, "message": self.message, "remedy": self.remedy}


def unique_caveats(*groups) -> tuple[Caveat, ...]:
    """Caveats of several results, each once, in a stable order (kind, subject, message)."""
    seen = {c for g in groups for c in g}
    return tuple(sorted(seen, key=lambda c: (c.kind.value, c.subject, c.message)))
