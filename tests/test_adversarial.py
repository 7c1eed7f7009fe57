"""The adversarial harness: classes of faults an outside pass found, each case refused with a clear
error (the right exception naming the argument or file and the fix; on the command line one line,
exit 2) or answered correctly, never a silent wrong number, a traceback or a hang.

Classes (the first part of each test id): ``api`` (Python API misuse), ``results`` (result dicts of
the wrong shape), ``cache`` (edited or flipped cache bytes), ``inputs`` (CSV and formula encodings,
structures), ``waits`` (peers that never answer, the current folder), ``limits`` (process
resource limits).  The fake Materials Project server cases live in ``tests/test_fetch.py`` and the
generated command-line input in ``tests/test_fuzz.py``.  Counts per class:

    python tests/test_adversarial.py          # runs pytest on this file, prints passed/failed per class
"""

import json
import math
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.entries.computed_entries import ComputedEntry

from screening import Settings, Weights, interphase, react, screen, window
from screening.errors import DataError, InputError

ROOT = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------- api
API = {
    "window-int": (lambda s: window(s, 5), TypeError, "phase is a int"),
    "window-bytes": (lambda s: window(s, b"LiI"), TypeError, "bytes"),
    "window-dict": (lambda s: window(s, {"formula": "LiI"}), TypeError, "dict"),
    "window-store-str": (lambda s: window("store", "LiI"), TypeError, "store must be a screening.PhaseStore"),
    "screen-int": (lambda s: screen(s, 5), TypeError, "candidates is a int"),
    "screen-bytes": (lambda s: screen(s, b"LiI"), TypeError, "candidates is a bytes"),
    "screen-dicts": (lambda s: screen(s, [{"formula": "LiI"}]), TypeError, r"candidates\[0\]"),
    "screen-settings-str": (lambda s: screen(s, ["LiI"], settings="default"), TypeError, "settings must be a screening.Settings"),
    "screen-empty": (lambda s: screen(s, []), InputError, "candidates is empty"),
    "react-voltage-str": (lambda s: react(s, "LiI", "I2", open_li_V="3"), TypeError, "open_li_V must be a number"),
    "react-voltage-nan": (lambda s: react(s, "LiI", "I2", open_li_V=math.nan), InputError, "open_li_V=nan"),
    "react-tolerance-negative": (lambda s: react(s, "LiI", "I2", tolerance_eV_per_atom=-1), InputError, "tolerance_eV_per_atom=-1"),
    "react-tolerance-nan": (lambda s: react(s, "LiI", "I2", tolerance_eV_per_atom=math.nan), InputError, "tolerance_eV_per_atom=nan"),
    "interphase-gap-inf": (lambda s: interphase(s, "I2", gap_threshold_eV=math.inf, electrolyte=None), InputError, "gap_threshold_eV=inf"),
    "interphase-gap-nan": (lambda s: interphase(s, "I2", gap_threshold_eV=math.nan, electrolyte=None), InputError, "gap_threshold_eV=nan"),
    "interphase-voltage-negative": (lambda s: interphase(s, "I2", voltage_V=-1, electrolyte=None), InputError, "voltage_V=-1"),
    "interphase-voltage-str": (lambda s: interphase(s, "I2", voltage_V="1", electrolyte=None), TypeError, "voltage_V must be a number"),
    "entry-nan": (lambda s: window(s, ComputedEntry("LiI", math.nan)), ValueError, "finite total energy"),
    "entry-inf": (lambda s: window(s, ComputedEntry("LiI", math.inf)), ValueError, "finite total energy"),
    "entry-1e300": (lambda s: window(s, ComputedEntry("LiI", 1e300)), ValueError, "finite total energy"),
    "react-entry-nan": (lambda s: react(s, ComputedEntry("LiI", math.nan), "Li"), ValueError, "finite total energy"),
    "weights-text": (lambda s: Weights(li="5"), TypeError, "weights.li must be a number"),
    "weights-negative": (lambda s: Weights(li=-1), InputError, "weights.li"),
    "settings-weights-dict": (lambda s: Settings(weights={"li": 1}), TypeError, "weights must be a screening.Weights"),
    "settings-temperature": (lambda s: Settings(temperature_K=100), InputError, "temperature"),
    "settings-thickness": (lambda s: Settings(thickness_um=-0.5), InputError, "thickness"),
}


@pytest.mark.parametrize("case", list(API), ids=[f"api-{k}" for k in API])
def test_api(li_i, case):
    call, exc, word = API[case]
    with pytest.raises(exc, match=word):
        call(li_i)


def test_api_nan_reference_and_dict_entries():
    from screening import PhaseStore

    with pytest.raises(ValueError, match="finite total energy"):
        PhaseStore.from_entries([ComputedEntry("Li", math.nan, entry_id="a"), ComputedEntry("I", 0.0, entry_id="b")])
    with pytest.raises(TypeError, match="not a pymatgen ComputedEntry"):
        PhaseStore.from_entries([{"composition": "Li", "energy": 0.0}])


# --------------------------------------------------------------------------- results
def test_results_from_dict_refuses_other_classes_and_wrong_shapes(li_i):
    from screening import Reaction, Window

    d = window(li_i, "LiI").as_dict()
    with pytest.raises(TypeError, match="got a Reaction dict: use Reaction.from_dict"):
        Window.from_dict(react(li_i, "LiI", "Li").as_dict())
    with pytest.raises(TypeError, match="'reduction_products': 'I' is a str, not a tuple"):
        Window.from_dict(dict(d, reduction_products="I"))
    with pytest.raises(TypeError, match="'reduction_limit_V': 'x' is not a number"):
        Window.from_dict(dict(d, reduction_limit_V="x"))
    with pytest.raises(ValueError, match="field 'formula' is missing"):
        Window.from_dict({k: v for k, v in d.items() if k != "formula"})
    with pytest.raises(TypeError, match="needs a dict, not str"):
        Reaction.from_dict("LiI")


# --------------------------------------------------------------------------- cache
def _relax_result():
    from screening.mlip import RelaxResult

    return RelaxResult(label="x", formula="LiI", composition="Li1 I1", n_atoms=2, energy_eV=-6.148,
                       energy_eV_per_atom=-3.074, volume_A3_per_atom=19.6, molar_volume_cm3_per_mol=23.6,
                       density_g_cm3=5.67, relaxed=True, converged=True, n_steps=12, max_force_eV_per_A=0.01,
                       max_stress_GPa=0.05, fmax_eV_per_A=0.05, model="m", structure_hash="h", seconds=1.0)


def test_cache_chgnet_file_with_an_edited_digit_is_refused(tmp_path):
    """-3.074 edited to -3.974 eV/atom: refused naming the file and the fix, never served."""
    from screening import mlip

    path = tmp_path / "r.json"
    mlip._write_cache(path, _relax_result())
    assert mlip._read_cache(path).energy_eV_per_atom == -3.074
    path.write_text(path.read_text().replace("-3.074", "-3.974"))
    with pytest.raises(DataError, match=f"CHGNet cache file {path} does not match its SHA-256.*delete it"):
        mlip._read_cache(path)


def test_cache_every_flipped_bit_of_a_dask_checkpoint_is_caught_or_harmless(li_i, tmp_path):
    """Every bit of a checkpoint chunk flipped in turn: the chunk reads back unchanged (the flip
    hit JSON whitespace or a case-insensitive spot) or is refused (None: recomputed); never changed."""
    from screening import distributed, ranking

    rows = []
    screen(li_i, ["I2", "LiI"], electrolyte="LiI", runner=lambda *a: rows.extend(ranking.evaluate_all(*a)) or rows)
    data = distributed._chunk_bytes(rows)
    path = tmp_path / "chunk.json"
    refused = same = 0
    for bit in range(0, 8 * len(data), 3):
        b = bytearray(data)
        b[bit // 8] ^= 1 << (bit % 8)
        path.write_bytes(bytes(b))
        got = distributed._read_chunk(path)
        if got is None:
            refused += 1
        else:
            assert got == rows, f"bit {bit} changed the rows"
            same += 1
    assert refused > 0.95 * (refused + same)


# --------------------------------------------------------------------------- inputs
@pytest.mark.parametrize("text", ["CuSO4.5H2O", "LiCl.H2O", "CuSO4·5H2O", "Na2CO3.10H2O", "CuSO4*5H2O"])
def test_inputs_hydrate_dots_refused(text):
    from screening.data.formula import parse_formula

    with pytest.raises(InputError, match="hydrate notation.*write the formula in full"):
        parse_formula(text)


@pytest.mark.parametrize("body,word", [
    ("formula,energy_eV,formula\nLiI,-5,LiI\n", "column 'formula' twice"),
    ("formula,formation_energy_eV_per_atom,density_g_cm3\nLiI,-1.5,1e-300\n", "density_g_cm3 1e-300 is out of range"),
    ("formula,formation_energy_eV_per_atom,band_gap_eV\nLiI,-1.5,-1\n", "band_gap_eV -1 is out of range"),
    ("formula,formation_energy_eV_per_atom\nLiI,nan\n", "formation_energy_eV_per_atom nan is out of range"),
])
def test_inputs_user_phase_csv(tmp_path, body, word):
    from screening.data.user import read_user_csv

    path = tmp_path / "p.csv"
    path.write_text(body)
    with pytest.raises(DataError, match=word):
        read_user_csv(path)


def test_inputs_utf16_csv_refused(tmp_path):
    from screening.data.user import read_user_csv

    path = tmp_path / "p.csv"
    path.write_text("formula,energy_eV\nLiI,-5\n", encoding="utf-16")
    with pytest.raises(DataError, match="not UTF-8"):
        read_user_csv(path)


def _cif(tmp_path, lattice, n=1):
    s = Structure(lattice, ["Li", "I"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    if n > 1:
        s.make_supercell([n, n, n])
    path = tmp_path / "s.cif"
    s.to(filename=str(path))
    return path


@pytest.mark.parametrize("make,word", [
    (lambda p: _cif(p, Lattice.from_parameters(4, 4, 4, 90, 90, 180)), "the cell is flat"),
    (lambda p: _cif(p, Lattice.from_parameters(4, 4, 4, 90, 90, 179.9)), "the cell is flat"),
    (lambda p: _cif(p, Lattice.cubic(4.0), n=7), "686 atoms in the cell, above the limit of 500"),
    (lambda p: _cif(p, Lattice.cubic(0.1)), "shorter than 0.5 A"),
])
def test_inputs_structures_refused_before_any_work(tmp_path, make, word):
    from screening import mlip

    s, label = mlip.read_structure(make(tmp_path))
    with pytest.raises(InputError, match=word):
        mlip._check_structure(s, label)


def test_inputs_structure_file_size_limit(tmp_path):
    from screening import mlip

    path = tmp_path / "big.cif"
    path.write_text("data_x\n" + "#" * (mlip.MAX_FILE_BYTES + 1))
    with pytest.raises(InputError, match="above the limit of 2 MB"):
        mlip.read_structure(path)


# --------------------------------------------------------------------------- waits
@pytest.mark.dask
def test_waits_silent_scheduler_has_a_deadline(monkeypatch):
    """A port that accepts TCP and never speaks: refused after the deadline, not a hang."""
    import socket
    import time

    pytest.importorskip("distributed")
    from screening import distributed

    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT_S", 2.0)
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        runner = distributed.DaskRunner(scheduler=f"tcp://127.0.0.1:{srv.getsockname()[1]}")
        t = time.monotonic()
        with pytest.raises(InputError, match="did not answer within 2 s"):
            runner._connected()
        assert time.monotonic() - t < 10


@pytest.mark.dask
@pytest.mark.data
def test_waits_workers_import_the_installed_package_from_any_folder(tmp_path):
    """Started from the parent of a clone (a ``screening/`` folder in the current folder), the
    local workers still import the installed package."""
    pytest.importorskip("distributed")
    (tmp_path / "screening" / "screening").mkdir(parents=True)
    (tmp_path / "screening" / "pyproject.toml").write_text("")
    out = subprocess.run([sys.executable, "-c", "import sys; from screening.cli import main; sys.exit(main())", "screen",
                          "LiI", "I2", "--electrolyte", "Li7La3Zr2O12", "--workers", "1", "--json"],
                         cwd=tmp_path, check=False, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert [r["candidate"] for r in json.loads(out.stdout)] == ["I2", "LiI"]


# --------------------------------------------------------------------------- limits
def _limited(limit, value, *args):
    def pre():
        resource.setrlimit(limit, (value, value))

    code = "import sys; from screening.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], check=False, capture_output=True, text=True, timeout=300,
                          preexec_fn=pre, cwd=ROOT)


@pytest.mark.parametrize("limit,value,word", [
    (resource.RLIMIT_AS, 1 << 30, r"the memory limit \(ulimit -v\) is 1024 MB"),
    (resource.RLIMIT_NOFILE, 12, r"the open-file limit \(ulimit -n\) is 12"),
], ids=["memory", "open-files"])
def test_limits_are_one_line_naming_the_limit(limit, value, word):
    out = _limited(limit, value, "window", "LiI")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert __import__("re").search(word, out.stderr), out.stderr


def test_limits_a_low_soft_open_file_limit_is_raised_not_fatal():
    """Only the soft limit low (the hard one allows more): raised for the run, which succeeds."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 256:
        pytest.skip(f"the hard open-file limit here is {hard}")

    def pre():
        resource.setrlimit(resource.RLIMIT_NOFILE, (16, hard))

    code = "import sys; from screening.cli import main; sys.exit(main())"
    out = subprocess.run([sys.executable, "-c", code, "phase", "--help"], check=False, capture_output=True, text=True, timeout=120,
                         preexec_fn=pre, cwd=ROOT)
    assert out.returncode == 0, out.stderr


# --------------------------------------------------------------------------- counts
if __name__ == "__main__":
    import collections

    class Tally:
        def __init__(self):
            self.counts = collections.defaultdict(collections.Counter)

        def pytest_runtest_logreport(self, report):
            if report.when == "call" or report.outcome != "passed":
                name = report.nodeid.split("::")[-1]
                cls = name.split("[")[-1].split("-")[0] if name.startswith("test_api[") else name.split("_")[1]
                self.counts[cls][report.outcome] += 1

    tally = Tally()
    code = pytest.main([__file__, "-q", "-p", "no:cacheprovider"], plugins=[tally])
    print(textwrap.dedent(json.dumps({k: dict(v) for k, v in sorted(tally.counts.items())}, indent=1)))
    sys.exit(code)
