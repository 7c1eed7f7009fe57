"""Shared fixtures: the real phase store built from ../shared (first run builds the cache, ~2.5 min)."""

import os
import subprocess
import sys

import pytest

from screening.data.store import open_store


@pytest.fixture(scope="session")
def store():
    return open_store()


@pytest.fixture(scope="session")
def run_cli(store):
    """Run the real console entry point in a subprocess; returns CompletedProcess."""

    def run(*args, check_rc=None):
        proc = subprocess.run([sys.executable, "-m", "screening", *args], capture_output=True, text=True,
                              env={**os.environ, "COLUMNS": "200"}, timeout=300)
        if check_rc is not None:
            assert proc.returncode == check_rc, proc.stderr
        return proc

    return run
