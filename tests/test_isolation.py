"""The suite runs with HOME and every cache folder in a temporary folder of its session (set in
conftest before anything reads them); conftest fails the run if the real HOME changed."""

import os
import tempfile
from pathlib import Path

from screening.data import files


def test_home_and_caches_are_temporary():
    home = Path(os.environ["HOME"])
    assert home.is_relative_to(Path(tempfile.gettempdir())) and home.name.startswith("screening-tests-home-")
    assert files.cache_dir().is_relative_to(home)
    for var in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "MPLCONFIGDIR"):
        assert Path(os.environ[var]).is_relative_to(home)
