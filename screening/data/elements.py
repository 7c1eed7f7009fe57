"""Element flags for practicality (``data/element_flags.csv``, one documented list per flag, the
source in its own column): radioactive (no stable isotope), toxic (the US EPA RCRA
toxicity-characteristic metals, 40 CFR 261.24), scarce (the EU Critical Raw Materials list,
Regulation (EU) 2024/1252 Annex II), precious (Au, Ag and the platinum-group metals).  Li, on the
EU list, is not flagged here: every candidate of a Li battery holds it."""

from __future__ import annotations

from screening.data import files
from screening.errors import DataError

FLAGS = ("radioactive", "toxic", "scarce", "precious")
#: elements never flagged as scarce in a Li-battery screen
IGNORED_SCARCE = ("Li",)


def read_flags() -> dict[str, tuple[str, ...]]:
    """Element symbol -> the flags it carries."""
    df = files.read_text_csv(files.shipped(files.ELEMENT_FLAGS), files.ELEMENT_FLAGS, "fix the shipped table", DataError)
    missing = [c for c in ("element", *FLAGS) if c not in df.columns]
    if missing:
        raise DataError(f"{files.ELEMENT_FLAGS} lacks columns {', '.join(missing)}")
    out = {}
    for r in df.to_dict("records"):
        bad = [f for f in FLAGS if r[f].strip().lower() not in ("true", "false")]
        if bad:
            raise DataError(f"{files.ELEMENT_FLAGS}: {r['element']}: {bad[0]} must be true or false")
        out[r["element"]] = tuple(f for f in FLAGS if r[f].strip().lower() == "true"
                                  and not (f == "scarce" and r["element"] in IGNORED_SCARCE))
    return out


def flag_text(elements, flags: dict[str, tuple[str, ...]]) -> str:
    """'radioactive (U); toxic (Pb, Cd)' for the flagged elements of a phase, '' for none."""
    by_flag: dict[str, list[str]] = {}
    for el in elements:
        for f in flags.get(el, ()):
            by_flag.setdefault(f, []).append(el)
    return "; ".join(f"{f} ({', '.join(els)})" for f, els in by_flag.items())


def expand(names, flags: dict[str, tuple[str, ...]]) -> set[str]:
    """Element symbols from symbols and flag names ('Pb,toxic' -> Pb and every toxic element)."""
    out = set()
    for n in names:
        if n in FLAGS:
            out |= {el for el, fl in flags.items() if n in fl}
        else:
            out.add(n)
    return out
