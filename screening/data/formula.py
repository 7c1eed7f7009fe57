"""Chemical formulas and phase identifiers from user text, and element bit masks.

``parse_formula`` is strict where pymatgen is lenient: it rejects zero, negative, exponent or
overflowing amounts (pymatgen reads 'LiO0' as Li and drops amounts below 1e-8), isotope symbols
(pymatgen maps D2O to H2O), charges, hydrate dots and junk, each with one line naming the fix.
Fractional formulas reduce to their integer formula (Li0.5I0.5 is LiI).

A phase is named by a formula (its lowest-energy polymorph), by a phase id (``mp-22899``,
``user:NAME``, ``chgnet:NAME``), or by both: ``LiI:mp-22899``.
"""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
from pymatgen.core import Composition, Element

from screening.errors import InputError

MAX_FORMULA_LENGTH = 200
MAX_AMOUNT = 1e6
MIN_AMOUNT = 1e-3  # smaller amounts vanish in pymatgen (below 1e-8) or make no formula
MAX_Z = 103  # Lr: heavier elements have no data
ISOTOPES = {"D": "H", "T": "H"}
_EXAMPLE = "write it like LiI, Li2O or Li7La3Zr2O12"
_TOKEN = re.compile(r"([A-Z][a-z]?)|(\d+(?:\.\d+)?|\.\d+)|([()\[\]])|(\s+)")
_MP_ID = re.compile(r"^(mp|mvc)-\d+$")
#: 'CuSO4.5H2O', 'LiCl.H2O', 'CuSO4·5H2O', 'CuSO4*5H2O': water of crystallisation after a separator
_HYDRATE = re.compile(r"[.·•*∙]\s*\d*\s*\(?H2O")


def _shown(text: str) -> str:
    """Text for a message: control characters escaped (a terminal shows them as they are)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _tokens(text: str):
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            hint = " (exponents are not allowed: write the amount out)" if ch in "eE" and pos and text[pos - 1].isdigit() else ""
            raise InputError(f"malformed formula '{_shown(text)}': unexpected '{_shown(ch)}'{hint}; {_EXAMPLE}")
        pos = m.end()
        if m.group(4):
            continue
        yield m.lastindex, m.group(m.lastindex)


def _amounts(text: str) -> dict[str, float]:
    """Element -> amount, with parentheses; InputError on anything not a plain formula."""
    stack: list[dict[str, float]] = [{}]
    last: dict[str, float] | str | None = None  # what a following number multiplies
    for kind, tok in _tokens(text):
        if kind == 1:  # element symbol
            if tok in ISOTOPES:
                raise InputError(f"isotope '{tok}' in '{_shown(text)}': write {ISOTOPES[tok]} (the data have no isotopes)")
            if not Element.is_valid_symbol(tok):
                raise InputError(f"unknown element '{tok}' in '{_shown(text)}': use element symbols such as Li, O, Zr")
            if Element(tok).Z > MAX_Z:
                raise InputError(f"element '{tok}' in '{_shown(text)}' has no data: use elements up to Lr (Z <= {MAX_Z})")
            stack[-1][tok] = stack[-1].get(tok, 0.0) + 1.0
            last = tok
        elif kind == 2:  # amount
            n = float(tok)
            if last is None:
                raise InputError(f"malformed formula '{_shown(text)}': the number {tok} follows nothing; {_EXAMPLE}")
            if not (MIN_AMOUNT <= n <= MAX_AMOUNT):
                what = "zero" if n == 0 else ("too small" if n < MIN_AMOUNT else "too large")
                raise InputError(f"amount {tok} in '{_shown(text)}' is {what}: give amounts between {MIN_AMOUNT:g} and {MAX_AMOUNT:g} "
                                 "(leave out absent elements)")
            if isinstance(last, str):
                stack[-1][last] += n - 1.0
            else:
                for el in last:
                    stack[-1][el] = stack[-1].get(el, 0.0) + last[el] * (n - 1.0)
            last = None
        elif tok in "([":
            stack.append({})
            last = None
        else:
            if len(stack) == 1 or not stack[-1]:
                raise InputError(f"malformed formula '{_shown(text)}': unbalanced or empty brackets; {_EXAMPLE}")
            group = stack.pop()
            for el, n in group.items():
                stack[-1][el] = stack[-1].get(el, 0.0) + n
            last = group
    if len(stack) != 1:
        raise InputError(f"malformed formula '{_shown(text)}': unbalanced brackets; {_EXAMPLE}")
    return stack[0]


def parse_formula(formula) -> Composition:
    """A Composition from user text (or a Composition), or InputError naming the problem."""
    if isinstance(formula, Composition):
        comp = formula
        if comp.num_atoms <= 0 or any(not (0 < v <= MAX_AMOUNT) for v in comp.values()):
            raise InputError(f"composition {comp} has non-positive or huge amounts: give positive amounts")
        return comp
    text = str(formula).strip()
    if not text:
        raise InputError(f"empty formula: {_EXAMPLE}")
    if len(text) > MAX_FORMULA_LENGTH:
        raise InputError(f"formula of {len(text)} characters: give a formula shorter than {MAX_FORMULA_LENGTH}")
    if not re.match(r"^[A-Z(\[]", text):
        raise InputError(f"malformed formula '{_shown(text)}': {_EXAMPLE}")
    if _HYDRATE.search(text):
        raise InputError(f"hydrate notation in '{_shown(text)}' (a dot before water reads as a decimal amount): "
                         "write the formula in full, e.g. CuH10SO9 for CuSO4.5H2O")
    amounts = _amounts(text)
    if not amounts:
        raise InputError(f"malformed formula '{_shown(text)}': {_EXAMPLE}")
    return Composition(amounts)


def reduced_formula(comp: Composition) -> str:
    """Integer reduced formula; fractional amounts are turned into their integer ratio
    (Li0.5I0.5 -> LiI); InputError when no ratio with denominators up to 1000 fits to 1e-6."""
    amounts = comp.get_el_amt_dict()
    if all(float(v).is_integer() for v in amounts.values()):
        return comp.reduced_formula
    fracs = {el: Fraction(v).limit_denominator(1000) for el, v in amounts.items()}
    if any(f == 0 or abs(float(f) - v) > 1e-6 * max(1.0, v) for f, v in zip(fracs.values(), amounts.values(), strict=True)):
        raise InputError(f"non-stoichiometric amounts in {comp.formula}: give integer or simple fractional amounts")
    lcm = np.lcm.reduce([f.denominator for f in fracs.values()])
    ints = {el: int(f * lcm) for el, f in fracs.items()}
    return Composition(ints).reduced_formula


def split_identifier(text: str) -> tuple[str | None, str | None]:
    """(formula, phase id) of 'LiI', 'mp-22899', 'LiI:mp-22899' (either may be None).

    Ids with a prefix of their own ('user:NAME', 'chgnet:NAME') are returned whole as ids.
    """
    text = str(text).strip()
    if _MP_ID.match(text) or text.startswith(("user:", "chgnet:")):
        return None, text
    head, sep, tail = text.partition(":")
    if sep:
        if not tail.strip():
            raise InputError(f"'{_shown(text)}': give a phase id after the colon, e.g. LiI:mp-22899")
        return head.strip(), tail.strip()
    return text, None


# --------------------------------------------------------------------------- element masks
def element_mask(elements) -> tuple[int, int]:
    """Two 64-bit words with bit Z-1 set for each element (Z <= 128)."""
    lo = hi = 0
    for el in elements:
        z = Element(str(el)).Z - 1
        if z < 64:
            lo |= 1 << z
        else:
            hi |= 1 << (z - 64)
    return lo, hi


def chemsys_masks(chemsys) -> tuple[np.ndarray, np.ndarray]:
    """Mask words of each 'A-B-C' chemical system string."""
    memo: dict[str, tuple[int, int]] = {}
    lo = np.empty(len(chemsys), dtype=np.uint64)
    hi = np.empty(len(chemsys), dtype=np.uint64)
    for i, c in enumerate(chemsys):
        if c not in memo:
            memo[c] = element_mask(c.split("-"))
        lo[i], hi[i] = memo[c]
    return lo, hi


def within(lo: np.ndarray, hi: np.ndarray, elements) -> np.ndarray:
    """Rows whose element masks lie inside ``elements``."""
    mlo, mhi = element_mask(elements)
    return ((lo & np.uint64(~mlo & (2**64 - 1))) == 0) & ((hi & np.uint64(~mhi & (2**64 - 1))) == 0)


def containing(lo: np.ndarray, hi: np.ndarray, elements) -> np.ndarray:
    """Rows whose element masks contain every element of ``elements``."""
    mlo, mhi = (np.uint64(v) for v in element_mask(elements))
    return ((lo & mlo) == mlo) & ((hi & mhi) == mhi)
