"""Fuzzing the command line with generated bad input: every command answers exit 2 with one line
on stderr, no traceback, and writes nothing (Hypothesis; deterministic, database off)."""

import math
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screening.data.formula import parse_formula
from screening.errors import InputError

pytestmark = pytest.mark.data

FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _rejected(text: str) -> bool:
    try:
        parse_formula(text)
    except InputError:
        return True
    return False


bad_formulas = st.text(alphabet=string.ascii_letters + string.digits + "()[]-+.,:;=*/ \t·éΩ", min_size=1, max_size=30).filter(
    lambda t: t.strip() and not t.strip().startswith("-") and ":" not in t and _rejected(t))
bad_numbers = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "1e400", "-1e400", "abc", "", "1,5", "0x10", "--1"]),
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not math.isfinite(v) or v < 0 or v > 1e3).map(repr))


def _check(result, tmp_path, before):
    assert result.code == 2, (result.out, result.err)
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1, result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@FUZZ
@given(formula=bad_formulas, command=st.sampled_from(["window", "interphase", "lithiate", "phase", "screen", "react", "explain"]))
def test_bad_formulas(cli, tmp_path, formula, command):
    before = sorted(p.name for p in tmp_path.iterdir())
    args = [command, formula] + (["LiI"] if command == "react" else [])
    _check(cli(*args), tmp_path, before)


@FUZZ
@given(value=bad_numbers, option=st.sampled_from([
    ("screen", "LiI", "--tolerance"), ("screen", "LiI", "--gap"), ("screen", "LiI", "--max-red-V"),
    ("screen", "LiI", "--max-e-hull"), ("react", "LiI", "Li", "--open-li"), ("interphase", "I2", "--gap"),
    ("lithiate", "I2", "--gap"), ("screen", "LiI", "--top"), ("screen", "LiI", "--workers")]))
def test_bad_numbers(cli, tmp_path, value, option):
    before = sorted(p.name for p in tmp_path.iterdir())
    _check(cli(*option, value), tmp_path, before)


@FUZZ
@given(weights=st.one_of(
    st.text(alphabet="lietrocyansuvm=,.0123456789-eE ", min_size=1, max_size=40),
    st.sampled_from(["li=1e308,electrolyte=1e308", "li=-0.1", "volume=nan", "li=inf", "=1", "li==1", "li=1,,li=2"])))
def test_bad_weights(cli, tmp_path, weights):
    from screening.settings import Weights

    try:
        Weights.parse(weights)
        return  # a valid spelling: not bad input
    except InputError:
        pass
    before = sorted(p.name for p in tmp_path.iterdir())
    _check(cli("screen", "LiI", "--weights", weights), tmp_path, before)


@FUZZ
@given(body=st.one_of(
    st.text(alphabet=string.printable, max_size=80),
    st.builds(lambda rows: "formula,kind\n" + "\n".join(rows) + "\n",
              st.lists(st.tuples(bad_formulas, st.sampled_from(["interlayer", "precursor", ""]))
                       .map(lambda t: f"{t[0].replace(',', '').replace(chr(10), '')},{t[1]}"), min_size=1, max_size=3))))
def test_bad_candidate_csv_bodies(cli, tmp_path, body):
    p = tmp_path / "c.csv"
    p.write_text(body)
    before = sorted(q.name for q in tmp_path.iterdir())
    r = cli("screen", "--candidates", p, "--format", "json")
    assert "Traceback" not in r.err
    if r.code == 0:  # the generator can make a valid list (e.g. a formula that parses)
        return
    _check(r, tmp_path, before)


@FUZZ
@given(body=st.one_of(
    st.text(alphabet=string.printable, max_size=80),
    st.builds(lambda f, e, g, d: f"formula,energy_eV,band_gap_eV,density_g_cm3\n{f},{e},{g},{d}\n",
              st.sampled_from(["Li3I", "LiO0", "Xx2", "Li2O"]), bad_numbers.map(lambda v: v.replace(",", "")),
              st.sampled_from(["", "-1", "nan", "2"]), st.sampled_from(["", "0", "-3", "inf", "3"]))))
def test_bad_user_phase_files(cli, tmp_path, body):
    p = tmp_path / "p.csv"
    p.write_text(body)
    before = sorted(q.name for q in tmp_path.iterdir())
    r = cli("--phases", p, "window", "LiI")
    assert "Traceback" not in r.err
    if r.code == 0:
        return
    _check(r, tmp_path, before)


@FUZZ
@given(path=st.sampled_from(["{tmp}", "{tmp}/missing/out.csv", "/sys/out.csv", "{tmp}/file.txt/out.csv", "",
                             "/dev/full/x.csv", "{tmp}/\0bad.csv"]),
       command=st.sampled_from([("screen", "LiF", "--format", "csv", "--out"), ("screen", "LiF", "--format", "html", "--out"),
                                ("window", "LiI", "--plot"), ("demo", "--out"), ("lithiate", "I2", "--plot")]))
def test_bad_output_paths(cli, tmp_path, path, command):
    (tmp_path / "file.txt").write_text("keep")
    before = sorted(p.name for p in tmp_path.iterdir())
    r = cli(*command, path.format(tmp=tmp_path))
    _check(r, tmp_path, before)
    assert (tmp_path / "file.txt").read_text() == "keep"
