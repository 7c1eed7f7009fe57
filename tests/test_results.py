"""Results serialize losslessly and print as flat records."""

import json

import pytest
from monty.json import MontyDecoder, MontyEncoder

from screening import interphase, lithiate
from screening.results import Caveat, CaveatKind, Character
from screening.settings import Settings, Weights
from screening import react
from screening import window


def _roundtrip(obj):
    again = type(obj).from_dict(obj.as_dict())
    assert again == obj
    via_json = json.loads(json.dumps(obj, cls=MontyEncoder), cls=MontyDecoder)
    assert via_json == obj
    return again


def test_results_roundtrip(li_i, li_zr_o):
    _roundtrip(window(li_i, "LiI3"))
    _roundtrip(react(li_zr_o, "Li2ZrO3", "ZrO2", open_li_V=3.5))
    ip = _roundtrip(interphase(li_zr_o, "ZrO2", electrolyte="Li2ZrO3"))
    assert isinstance(ip.electronic_character, Character) and isinstance(ip.products, tuple)
    _roundtrip(lithiate(li_zr_o, "ZrO2"))
    _roundtrip(Settings(weights=Weights(volume=2), stage="first", max_e_hull_eV_per_atom=0.05))


def test_record_is_flat_json(li_zr_o):
    r = react(li_zr_o, "Li2ZrO3", "ZrO2", open_li_V=3.5).record()
    assert isinstance(r["warnings"][0], str) and r["warning_details"][0]["kind"] == "outside_window"
    assert r["energy_basis"] == "eV per non-Li atom of mixture"
    ip = interphase(li_zr_o, "ZrO2", electrolyte=None).record()
    assert ip["electronic_character"] == "mixed" and ip["products"] == ["Li2O", "Zr"]  # Zr metal conducts
    json.dumps(ip)


def test_caveat_text():
    c = Caveat(CaveatKind.INCOMPLETE_DATA, "incomplete offline data", "fetch it", "Mg-O")
    assert str(c) == "incomplete offline data: fetch it" and c.details()["kind"] == "incomplete_data"


@pytest.mark.parametrize("kw,word", [({"tolerance_eV_per_atom": -1}, "tolerance_eV_per_atom=-1"),
                                     ({"tolerance_eV_per_atom": float("inf")}, "tolerance_eV_per_atom=inf"),
                                     ({"tolerance_eV_per_atom": float("nan")}, "tolerance_eV_per_atom=nan"),
                                     ({"gap_threshold_eV": -0.5}, "gap_threshold_eV=-0.5"),
                                     ({"stage": "half"}, "stage='half'"),
                                     ({"max_e_hull_eV_per_atom": 100}, "max_e_hull_eV_per_atom=100")])
def test_settings_validate(kw, word):
    """Bad values are ValueErrors naming the Python argument (the command line maps it to its flag)."""
    from screening.errors import InputError

    with pytest.raises(InputError, match=word) as err:
        Settings(**kw)
    assert isinstance(err.value, ValueError) and err.value.argument == next(iter(kw))


@pytest.mark.parametrize("kw", [{"gap_threshold_eV": "x"}, {"tolerance_eV_per_atom": None}, {"electrolyte": 5},
                                {"weights": "li=1"}, {"exclude_artefacts": "yes"}, {"gap_threshold_eV": True}])
def test_settings_wrong_types_are_type_errors(kw):
    with pytest.raises(TypeError, match=next(iter(kw))):
        Settings(**kw)


def test_weights_parse_and_validate():
    from screening.errors import InputError

    assert Weights.parse("li=2, volume=0") == Weights(li=2, volume=0)
    for bad, word in [("li=-1", "weights.li"), ("foo=1", "unknown weight"), ("li=x", "not a number"),
                      ("li=0,electrolyte=0,insulation=0,volume=0,transport=0", "all zero"), ("li=1,li=2", "twice"),
                      ("li=1e308,electrolyte=1e308", "weights"), ("li", "key=number"), ("li=nan", "weights.li")]:
        with pytest.raises(InputError, match=word):
            Weights.parse(bad)
    with pytest.raises(TypeError, match="weights.li"):
        Weights(li="2")
