"""Execute the notebooks in notebooks/ top to bottom; any cell error (including their asserts) fails.

The kernel is the ipykernel "python3" kernel, which jupyter_client launches with the interpreter
running pytest (sys.executable); the last, appended cell checks that.  The kernel inherits this
process's environment.
"""

import os
import sys
from pathlib import Path

import ipykernel  # noqa: F401  (the kernel; a missing test extra must fail, not skip)
import nbclient
import nbformat
import pytest

pytestmark = pytest.mark.data
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["01_llzo_lii_case_study.ipynb", "02_screening_a_list.ipynb", "03_hypothetical_candidate.ipynb"]
CELL_TIMEOUT_S = 300


def test_notebook_list_is_complete():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name):
    path = NOTEBOOKS / name
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.kernelspec.name == "python3"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code"), (
        f"{name} is committed with outputs: clear them (jupyter nbconvert --clear-output --inplace)"
    )
    nb.cells.append(nbformat.v4.new_code_cell(
        "import sys, os\n"
        f"assert os.path.realpath(sys.executable) == {os.path.realpath(sys.executable)!r}, sys.executable\n"
        f"assert sys.prefix == {sys.prefix!r}, sys.prefix"
    ))
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", allow_errors=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute(env=dict(os.environ))
