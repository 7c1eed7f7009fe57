"""Physics invariants on random phases of the store (Hypothesis, deterministic): window ordering,
reaction symmetry, spelling invariance, mass balance of every printed reaction, interphase
products stable against Li, positive volume ratios."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymatgen.core import Composition

from screening import interphase
from screening import react
from screening import window

pytestmark = pytest.mark.data

PROPS = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SYSTEMS = ["Li-O", "Li-I", "Li-P-S", "Li-La-Zr-O", "Li-N", "Li-Al-O", "Li-Nb-O", "Li-Zn-O", "Li-Sn-O", "Li-F-Al",
           "Li-Si-O", "Li-B-O", "Li-Ti-O", "Li-Cl-O", "Li-Mg-O", "Li-Ge-P-S"]


@pytest.fixture(scope="module")
def phases(store):
    """Phase ids of hull and metastable phases in a few battery-relevant systems."""
    ids = []
    for cs in SYSTEMS:
        sub = store.select(cs.split("-"))
        sub = sub[sub.chemsys.str.contains("-") & (sub.e_above_hull_eV_per_atom < 0.1)]
        ids += sorted(sub.phase_id)[:40]
    assert len(ids) > 200
    return ids


def _balance(text: str) -> tuple[Composition, Composition]:
    left, right = text.split(" -> ")

    def side(s):
        total = Composition()
        for term in s.split(" + "):
            m = re.fullmatch(r"(?:([\d.e+-]+) )?(\S+)", term.strip())
            total += Composition(m.group(2)) * (float(m.group(1)) if m.group(1) else 1.0)
        return total

    return side(left), side(right)


@PROPS
@given(data=st.data())
def test_window_limits_are_ordered(store, phases, data):
    pid = data.draw(st.sampled_from(phases))
    w = window(store, pid)
    assert w.reduction_limit_V >= 0
    if w.oxidation_limit_V is not None:
        assert w.oxidation_limit_V >= w.reduction_limit_V - 1e-6
    assert w.stable_against_li == (w.reduction_limit_V <= 1e-9)


@PROPS
@given(data=st.data())
def test_reactions_are_symmetric_and_balanced(store, phases, data):
    a, b = data.draw(st.sampled_from(phases)), data.draw(st.sampled_from(phases))
    if store.lookup(a).formula == store.lookup(b).formula:
        return
    ab, ba = react(store, a, b), react(store, b, a)
    assert ab.reaction_energy_eV_per_atom == pytest.approx(ba.reaction_energy_eV_per_atom, abs=1e-9)
    assert ab.reaction_energy_eV_per_atom <= 1e-12
    if ab.mixing_ratio is not None:
        assert ab.mixing_ratio == pytest.approx(1 - ba.mixing_ratio, abs=1e-6)
        left, right = _balance(ab.reaction)
        assert left.almost_equals(right, rtol=1e-3, atol=1e-3), ab.reaction
    volts = data.draw(st.sampled_from([0.0, 1.0, 3.0]))
    open_ = react(store, a, b, open_li_V=volts) if not {"Li"} >= {e.symbol for e in Composition(store.lookup(a).composition).elements} else None
    if open_ is not None and open_.mixing_ratio is not None:
        left, right = _balance(open_.reaction)
        assert left.almost_equals(right, rtol=1e-3, atol=1e-3), open_.reaction  # Li from the reservoir included
        assert open_.reaction_energy_with_decomposition_eV_per_atom <= open_.reaction_energy_eV_per_atom + 1e-9


@PROPS
@given(data=st.data())
def test_spelling_does_not_matter(store, phases, data):
    pid = data.draw(st.sampled_from(phases))
    row = store.lookup(pid)
    if row.phase_id != store.lookup(row.formula).phase_id:
        return  # not the default polymorph of its formula
    k = data.draw(st.sampled_from([2, 3]))
    scaled = (Composition(row.formula) * k).formula.replace(" ", "")
    assert window(store, scaled) == window(store, row.formula) == window(store, f"{row.formula}:{row.phase_id}")


@PROPS
@given(data=st.data())
def test_interphase_products_are_stable_against_li(store, phases, data):
    pid = data.draw(st.sampled_from(phases))
    ip = interphase(store, pid, electrolyte=None)
    for product in ip.products:
        if product != "Li":
            assert window(store, product).reduction_limit_V == pytest.approx(0.0, abs=1e-5), product
    if ip.volume_ratio is not None:
        assert ip.volume_ratio > 0
    assert ip.li_reaction_energy_eV_per_atom <= 1e-12
