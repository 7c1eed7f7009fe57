"""Formulas and identifiers from user text: strict where pymatgen is lenient."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymatgen.core import Composition

from screening.data.formula import element_mask, parse_formula, reduced_formula, split_identifier
from screening.errors import InputError


@pytest.mark.parametrize("text,reduced", [("LiI", "LiI"), ("Li0.5I0.5", "LiI"), ("Li.5I.5", "LiI"), ("I2", "I"),
                                          ("Li7La3Zr2O12", "Li7La3Zr2O12"), ("(Li2O)0.5", "Li2O"), ("Li2 O", "Li2O"),
                                          ("Ca(OH)2", "Ca(HO)2"), ("LiI3.000001", "LiI3")])
def test_good_formulas(text, reduced):
    assert reduced_formula(parse_formula(text)) == reduced


@pytest.mark.parametrize("text,word", [
    ("", "empty"), ("Xx2O", "unknown element"), ("li2o", "malformed"), ("Li2O-", "unexpected '-'"),
    ("LiO0", "is zero"), ("D2O", "isotope 'D'"), ("T2O", "isotope 'T'"), ("Li1e400O", "exponents"),
    ("H2O1e-30", "exponents"), ("Li+", "unexpected '\\+'"), ("LiOH·H2O", "hydrate notation"), ("Og2", "has no data"),
    ("()", "brackets"), ("Li(", "unbalanced"), ("Li" * 150, "characters"), ("Li2000000O", "too large"),
])
def test_bad_formulas(text, word):
    with pytest.raises(InputError, match=word):
        parse_formula(text)


def test_identifiers():
    assert split_identifier("LiI:mp-22899") == ("LiI", "mp-22899")
    assert split_identifier("mp-22899") == (None, "mp-22899")
    assert split_identifier("user:my:phase") == (None, "user:my:phase")
    with pytest.raises(InputError, match="after the colon"):
        split_identifier("LiI:")


def test_element_masks_distinguish_heavy_elements():
    assert element_mask(["Li"]) == (1 << 2, 0)
    assert element_mask(["U"])[1] == 1 << (92 - 1 - 64)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.dictionaries(st.sampled_from(["Li", "O", "La", "Zr", "I", "S", "P", "N", "F", "Al"]), st.integers(1, 40),
                       min_size=1, max_size=5))
def test_written_formulas_parse_to_their_composition(amounts):
    text = "".join(f"{el}{n}" for el, n in amounts.items())
    assert parse_formula(text).almost_equals(Composition(amounts))
    assert reduced_formula(parse_formula(text)) == Composition(amounts).reduced_formula
