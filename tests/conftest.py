"""Shared fixtures.

Toy stores built from a handful of pymatgen entries with hand-derived answers (the unit tier,
``pytest -m "not data"``), and the real Materials Project store shipped with the package (tests
marked ``data``).  Tests that read the raw ``../shared`` files are marked ``shared`` and skip with
their reason where that folder is absent.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

#: the suite writes nowhere outside temporary folders: HOME and every cache folder point into
#: one made for this session (set before anything reads them)
REAL_HOME = os.environ.get("HOME", "")
SESSION_HOME = Path(tempfile.mkdtemp(prefix="screening-tests-home-"))
for _var, _sub in (("HOME", ""), ("XDG_CACHE_HOME", ".cache"), ("XDG_CONFIG_HOME", ".config"),
                   ("MPLCONFIGDIR", ".config/matplotlib"), ("SCREENING_CACHE", ".cache/screening")):
    os.environ[_var] = str(SESSION_HOME / _sub) if _sub else str(SESSION_HOME)
os.environ.setdefault("MPLBACKEND", "Agg")

from pymatgen.core import Composition  # noqa: E402
from pymatgen.entries.computed_entries import ComputedEntry  # noqa: E402

from screening.data import files  # noqa: E402


def _home_state() -> dict[str, float]:
    """Modification times of the real HOME's folders this package or its libraries could write."""
    out = {}
    for sub in ("", ".cache", ".cache/screening", ".config", ".config/matplotlib", ".cache/matplotlib"):
        p = Path(REAL_HOME, sub)
        if REAL_HOME and p.exists():
            out[sub] = p.stat().st_mtime_ns
    return out


HOME_BEFORE = _home_state()


def pytest_sessionfinish(session, exitstatus):
    """The run fails if it changed anything in the real HOME (the tests' HOME is a temporary folder)."""
    if _home_state() != HOME_BEFORE:
        session.config.pluginmanager.get_plugin("terminalreporter").write_line(
            f"the test session changed {REAL_HOME}: {HOME_BEFORE} -> {_home_state()}", red=True)
        session.exitstatus = 1


def pytest_unconfigure(config):
    shutil.rmtree(SESSION_HOME, ignore_errors=True)


def entry(formula: str, energy_per_atom: float, eid: str, **data) -> ComputedEntry:
    comp = Composition(formula)
    return ComputedEntry(comp, energy_per_atom * comp.num_atoms, entry_id=eid, data=data)


#: Li-I: LiI at -1.4 eV/atom; LiI3 0.2 eV/atom above the LiI-I tie line (-0.7 at x_I = 0.75)
LI_I = [
    ("Li", 0.0, "t-li"), ("I2", 0.0, "t-i2"), ("LiI", -1.4, "t-lii"), ("LiI3", -0.5, "t-lii3"),
]
#: Li-Zr-O: Li2O -2.0, ZrO2 -3.8, Li2ZrO3 -2.95 eV/atom (0.05 below Li2O + ZrO2 at -2.9)
LI_ZR_O = [
    ("Li", 0.0, "t-li"), ("Zr", 0.0, "t-zr"), ("O2", 0.0, "t-o2"), ("Li2O", -2.0, "t-li2o"),
    ("ZrO2", -3.8, "t-zro2"), ("Li2ZrO3", -2.95, "t-li2zro3"),
]


@pytest.fixture(scope="session")
def li_i():
    from screening.store import PhaseStore

    gaps = {"t-lii": 6.0, "t-lii3": 2.0, "t-i2": 1.3}
    return PhaseStore.from_entries([entry(f, e, i, band_gap=gaps.get(i, 0.0)) for f, e, i in LI_I])


@pytest.fixture(scope="session")
def li_zr_o():
    from screening.store import PhaseStore

    gaps = {"t-li2o": 5.0, "t-zro2": 4.0, "t-li2zro3": 4.5, "t-o2": 6.0}
    return PhaseStore.from_entries([entry(f, e, i, band_gap=gaps.get(i, 0.0)) for f, e, i in LI_ZR_O])


@pytest.fixture(scope="session")
def store():
    """The Materials Project store shipped with the package."""
    from screening.store import open_store

    return open_store(fetched=False)


@pytest.fixture(scope="session")
def shared_root():
    root = files.shared_root()
    if root is None:
        pytest.skip("raw shared data folder absent: set SCREENING_SHARED (CI has ../shared)")
    return root


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(scope="session")
def shipped():
    """The shipped table, read once per session (the command line reads it per call otherwise)."""
    from screening.data import cache

    return cache.read_shipped()


@pytest.fixture
def cli(monkeypatch, tmp_path_factory, shipped):
    """Run the console entry point in-process (stdout/stderr captured); the user cache is a
    temporary folder so nothing outside the test is read or written."""
    from screening import cli as cli_mod
    from screening.data import cache

    monkeypatch.setenv("SCREENING_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(cache, "read_shipped", lambda: shipped)

    def run(*args) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = cli_mod.main([str(a) for a in args])
        return Result(code, out.getvalue(), err.getvalue())

    return run


def pytest_collection_modifyitems(config, items):
    if files.shared_root() is None:
        skip = pytest.mark.skip(reason="raw shared data folder absent: set SCREENING_SHARED (CI has ../shared)")
        for item in items:
            if "shared" in item.keywords:
                item.add_marker(skip)

