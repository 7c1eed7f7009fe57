"""Candidate lists: the authored default list, user CSVs, formula lists, every Li phase.

Validated at the boundary: a formula that does not parse or a kind that is not interlayer or
precursor is bad input (InputError naming the row); an empty list is bad input.  A formula that
parses but is not in the store becomes an error row of the screen, not an error here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from screening.data import files
from screening.data.formula import parse_formula, split_identifier
from screening.errors import InputError
from screening.results import CandidateKind

COLUMNS = ["formula", "kind", "family", "note"]
KINDS = {k.value for k in CandidateKind}


def _check_formula(text: str, where: str) -> None:
    formula, pid = split_identifier(text)
    if formula is None and pid is None:
        raise InputError(f"{where}: empty formula: give a formula such as LiI")
    if formula is not None:
        try:
            parse_formula(formula)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None


def guess_kind(text: str) -> str:
    """Li-bearing -> interlayer, otherwise precursor (phase ids: interlayer if 'Li' in them)."""
    formula, _ = split_identifier(text)
    if formula is None:
        return CandidateKind.INTERLAYER.value
    return CandidateKind.INTERLAYER.value if "Li" in {e.symbol for e in parse_formula(formula).elements} else CandidateKind.PRECURSOR.value


def kind_of(phase) -> str:
    """Li-bearing -> interlayer, otherwise precursor."""
    return CandidateKind.INTERLAYER.value if phase.has_li else CandidateKind.PRECURSOR.value


HOW = "write a UTF-8 CSV with a header formula,kind (family,note optional) and one candidate per row"


def _read(source, name: str) -> pd.DataFrame:
    return files.read_text_csv(source, f"candidate file {name}", HOW, InputError)


def load_candidates(path: Path | str | None = None, side: str = "anode") -> pd.DataFrame:
    """A candidate list (formula, kind, family, note); default: the shipped ``data/candidates.csv``
    (``side="cathode"``: the shipped coatings, ``data/cathode_coatings.csv``).  ``kind`` may be
    left empty (guessed: Li-bearing -> interlayer, else precursor; coatings on the cathode side)."""
    if path is None:
        name = files.COATINGS if side == "cathode" else files.CANDIDATES
        df = _read(files.shipped(name), name)
    else:
        p = Path(path)
        if "\0" in str(p) or not str(path).strip():
            raise InputError(f"candidate file {str(path)!r}: give a path without NUL characters")
        if p.is_dir():
            raise InputError(f"candidate file {p} is a folder: give a CSV file")
        df, name = _read(p, str(p)), str(p)
    df.columns = [str(c).strip() for c in df.columns]
    if "formula" not in df.columns:
        raise InputError(f"{name} has no 'formula' column: give a header row such as formula,kind,family,note")
    if df.empty:
        raise InputError(f"{name} has no candidates: add rows below the header")
    for col in ("kind", "family", "note"):
        if col not in df.columns:
            df[col] = ""
    for i, r in enumerate(df.itertuples()):
        where = f"{name} row {i + 2}"
        _check_formula(str(r.formula).strip(), where)
        kind = str(r.kind).strip()
        if kind and kind not in KINDS:
            raise InputError(f"{where}: kind '{kind}' is unknown: write interlayer, precursor or coating, or leave it empty to guess")
    df["formula"] = df.formula.str.strip()
    df["kind"] = [k.strip() or ("coating" if side == "cathode" else guess_kind(f)) for f, k in zip(df.formula, df.kind, strict=True)]
    return df[COLUMNS].reset_index(drop=True)


def as_candidates(items) -> pd.DataFrame:
    """Formulas (a list) or a candidate DataFrame -> candidate DataFrame (validated)."""
    if isinstance(items, pd.DataFrame):
        df = items.copy()
        if "formula" not in df.columns:
            raise InputError("candidate DataFrame has no 'formula' column")
        for col in ("kind", "family", "note"):
            if col not in df.columns:
                df[col] = ""
        df["kind"] = [str(k).strip() or guess_kind(f) for f, k in zip(df.formula, df.kind.fillna(""), strict=True)]
        bad = sorted(set(df.kind) - KINDS)
        if bad:
            raise InputError(f"kind must be interlayer or precursor, found {', '.join(bad)}")
        for i, f in enumerate(df.formula):
            _check_formula(str(f), f"candidate {i + 1}")
        return df[COLUMNS].reset_index(drop=True)
    items = [items] if isinstance(items, str) else list(items)
    if not items:
        raise InputError("no candidates given: give formulas, --candidates FILE or --all-li")
    rows = []
    for i, f in enumerate(items):
        text = str(f).strip()
        _check_formula(text, f"candidate {i + 1} ('{text}')")
        rows.append({"formula": text, "kind": guess_kind(text), "family": "", "note": ""})
    return pd.DataFrame(rows, columns=COLUMNS)


def all_li_candidates(store, max_e_hull_eV_per_atom: float | None = None) -> pd.DataFrame:
    """Every Li-bearing phase of the store (Li metal excluded) as an interlayer candidate.

    Default: the hull phases (one per formula).  With ``max_e_hull_eV_per_atom``: every Li phase
    within that distance of the hull, polymorphs included (named 'formula:id')."""
    t = store.frame(["formula", "phase_id", "chemsys", "e_above_hull_eV_per_atom", "energy_per_atom_eV"])
    has_li = t.chemsys.str.split("-").map(lambda els: "Li" in els) & (t.formula != "Li")
    if max_e_hull_eV_per_atom is None:
        sel = t[has_li & (t.e_above_hull_eV_per_atom <= 1e-6)]
        sel = sel.sort_values(["formula", "energy_per_atom_eV"]).drop_duplicates("formula")
        names = list(sel.formula)
    else:
        sel = t[has_li & (t.e_above_hull_eV_per_atom <= max_e_hull_eV_per_atom + 1e-9)].sort_values(["formula", "phase_id"])
        names = [f"{f}:{p}" for f, p in zip(sel.formula, sel.phase_id, strict=True)]
    return pd.DataFrame({"formula": names, "kind": CandidateKind.INTERLAYER.value, "family": list(sel.chemsys),
                         "note": "all Li-bearing phases"}).sort_values("formula").reset_index(drop=True)


#: families by the most electronegative element of a compound (documented, composition only)
ANION_FAMILIES = {"F": "halide", "Cl": "halide", "Br": "halide", "I": "halide", "O": "oxide", "S": "chalcogenide",
                  "Se": "chalcogenide", "Te": "chalcogenide", "N": "pnictide", "P": "pnictide", "As": "pnictide",
                  "Sb": "pnictide", "H": "hydride", "C": "carbide", "B": "boride", "Si": "tetrelide", "Ge": "tetrelide"}
ELEMENT_FAMILIES = {"F": "halogen", "Cl": "halogen", "Br": "halogen", "I": "halogen", "O": "chalcogen", "S": "chalcogen",
                    "Se": "chalcogen", "Te": "chalcogen", "N": "pnictogen", "P": "pnictogen", "As": "pnictogen",
                    "H": "hydrogen", "B": "metalloid", "C": "carbon", "Si": "metalloid", "Ge": "metalloid",
                    "He": "noble gas", "Ne": "noble gas", "Ar": "noble gas", "Kr": "noble gas", "Xe": "noble gas",
                    "Rn": "noble gas"}


def family_of(elements: tuple[str, ...]) -> str:
    """A candidate's family from its elements: an element's group (halogen, chalcogen, pnictogen,
    carbon, metalloid, noble gas, else metal), a compound's anion class by its most electronegative
    element (halide, oxide, chalcogenide, pnictide, hydride, carbide, boride, tetrelide), else
    intermetallic (every element a metal; these and the metals are the alloy formers)."""
    from pymatgen.core import Element

    if len(elements) == 1:
        return ELEMENT_FAMILIES.get(elements[0], "metal")
    anion = max(elements, key=lambda e: Element(e).X if Element(e).X == Element(e).X else 0.0)
    return ANION_FAMILIES.get(anion, "intermetallic")


def all_candidates(store, max_e_hull_eV_per_atom: float | None = None) -> pd.DataFrame:
    """Every phase of the store (Li metal excluded) as a candidate: precursors without Li,
    interlayers with Li; ``family`` by composition (``family_of``).  Default: the hull phases
    (one per formula); with ``max_e_hull_eV_per_atom``: every phase within that distance of the
    hull, polymorphs included (named 'formula:id')."""
    t = store.frame(["formula", "phase_id", "chemsys", "e_above_hull_eV_per_atom", "energy_per_atom_eV"])
    t = t[t.formula != "Li"]
    if max_e_hull_eV_per_atom is None:
        sel = t[t.e_above_hull_eV_per_atom <= 1e-6].sort_values(["formula", "energy_per_atom_eV"]).drop_duplicates("formula")
        names = list(sel.formula)
    else:
        sel = t[t.e_above_hull_eV_per_atom <= max_e_hull_eV_per_atom + 1e-9].sort_values(["formula", "phase_id"])
        names = [f"{f}:{p}" for f, p in zip(sel.formula, sel.phase_id, strict=True)]
    memo: dict[str, tuple[str, str]] = {}
    kinds, families = [], []
    for cs in sel.chemsys:
        if cs not in memo:
            els = tuple(cs.split("-"))
            memo[cs] = ("interlayer" if "Li" in els else "precursor", family_of(els))
        kinds.append(memo[cs][0])
        families.append(memo[cs][1])
    return pd.DataFrame({"formula": names, "kind": kinds, "family": families, "note": "every phase of the store"}
                        ).sort_values("formula").reset_index(drop=True)
