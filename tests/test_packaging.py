"""The package as users get it: a wheel installed into a fresh virtual environment, run from a bare
folder with an empty HOME and no SCREENING_* variables: it carries its data, writes nothing into
site-packages, and its report names the version and the CC BY attribution."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import screening

pytestmark = [pytest.mark.wheel, pytest.mark.data]  # the demo runs on the shipped MP table
ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc


def _tree(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)])
    (whl,) = out.glob("screening-*.whl")
    return whl


def test_wheel_carries_its_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in ("phases.parquet", "phases.parquet.sha256", "candidates.csv", "density_rules.csv", "measured_band_gaps.csv",
              "known_gga_failures.csv"):
        assert f"screening/_data/{f}" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    with zipfile.ZipFile(wheel) as z:
        assert z.read("screening/_data/candidates.csv") == (ROOT / "data" / "candidates.csv").read_bytes()
        meta = z.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License-Expression: MIT" in meta and "Classifier: Topic :: Scientific/Engineering :: Chemistry" in meta


def test_installed_wheel_runs_the_demo_from_a_bare_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    py = venv / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "-q", str(wheel)], timeout=900)
    site = Path(_run([str(py), "-c", "import screening, pathlib; print(pathlib.Path(screening.__file__).parent.parent)"]).stdout.strip())
    before = _tree(site)
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCREENING_")}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), MPLCONFIGDIR=str(home / ".mpl"))
    exe = str(venv / "bin" / "screening")
    assert _run([exe, "--version"], cwd=work, env=env).stdout.strip() == f"screening {screening.__version__}"
    demo = _run([exe, "demo"], cwd=work, env=env, timeout=600)
    assert "I2" in demo.stdout and "LiI" in demo.stdout
    page = (work / "screening-report" / "report.html").read_text()
    assert f"screening {screening.__version__}" in page and "MP data: CC BY 4.0" in page
    assert _tree(site) == before  # nothing written into site-packages
    assert not (work / "data").exists() and _tree(work) >= {"screening-report/report.html"}
    info = _run([exe, "data", "info", "--json"], cwd=work, env=env).stdout
    assert '"n_phases"' in info
