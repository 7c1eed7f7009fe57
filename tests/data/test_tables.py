"""Phase tables on disk and in memory: checksummed files, the columnar PhaseTable, the shipped
table's schema and its checksum."""

import json

import numpy as np
import pandas as pd
import pytest

from screening.data import cache, files
from screening.data import table as tbl


def _toy_table(n=5000):
    rows = []
    for i in range(n):
        r = tbl.empty_row()
        r.update(phase_id=f"t-{i}", formula="Li" if i % 2 else "Li2O", composition="Li1" if i % 2 else "Li2 O1",
                 chemsys="Li" if i % 2 else "Li-O", energy_eV=-1.0 - i,
                 n_atoms=1.0, energy_per_atom_eV=-1.0 - i, e_above_hull_eV_per_atom=0.0)
        rows.append(r)
    return tbl.conform(pd.DataFrame(rows))


def test_write_read_checksum_and_corruption(tmp_path):
    t = _toy_table(50)
    path = tmp_path / "t.parquet"
    cache.write_table(t, {"a": 1}, path)
    got, info = cache.read_table(path)
    assert info == {"a": 1} and len(got) == 50
    pd.testing.assert_frame_equal(got.frame(), t)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet", "t.parquet.sha256"]
    data = path.read_bytes()
    path.write_bytes(data[:-10] + b"0123456789")  # corrupt bytes that still look like parquet
    assert cache.read_table(path) is None
    path.write_bytes(data[:200])  # truncated
    assert cache.read_table(path) is None


def test_phase_table_columns_compositions_and_rows(tmp_path):
    """Columns are converted from Arrow one at a time; compositions come back as (Z, amount)
    pairs; take/concat keep every column; the written table equals the one read back."""
    t = _toy_table(5000)
    path = tmp_path / "t.parquet"
    cache.write_table(t, {}, path)
    pt, _ = cache.read_table(path)
    assert len(pt) == 5000 and pt._cols == {}
    np.testing.assert_array_equal(pt.col("energy_eV")[:3], [-1.0, -2.0, -3.0])
    assert set(pt._cols) == {"energy_eV"}
    np.testing.assert_array_equal(pt.masks[0][:2], [4 | 1 << 7, 4])  # Li is Z=3, O is Z=8
    np.testing.assert_array_equal(pt.amounts([0, 1], ["Li", "O"]), [[2, 1], [1, 0]])
    np.testing.assert_array_equal(pt.formula_units[:2], [1, 1])
    picked = pt.take([4999, 3, 10])
    assert list(picked.col("phase_id")) == ["t-4999", "t-3", "t-10"]
    np.testing.assert_array_equal(picked.amounts([0, 2], ["Li", "O"]), [[1, 0], [2, 1]])
    both = picked.concat(pt.take([0]))
    assert list(both.col("phase_id")) == ["t-4999", "t-3", "t-10", "t-0"]
    np.testing.assert_array_equal(both.amounts([3], ["Li", "O"]), [[2, 1]])
    with pytest.raises(ValueError, match="outside the system"):
        pt.amounts([0], ["Li"])
    pd.testing.assert_frame_equal(pt.frame(), t)


@pytest.mark.data
def test_formula_units_equal_pymatgen_on_the_shipped_table(shipped):
    """Reduced formula units per stored formula unit, vectorised (gcd, pymatgen's special formulas
    such as O2 and Li2O2), equal pymatgen's reduction on every one of 4,000 shipped rows."""
    from pymatgen.core import Composition

    pt, _ = shipped
    comp = pt.col("composition")
    rng = np.random.default_rng(0)
    special = np.nonzero(np.isin(pt.col("formula"), ["O2", "H2", "N2", "Li2O2", "Na2O2"]))[0]
    rows = np.concatenate([rng.choice(len(pt), 3000, replace=False), np.nonzero([len(c.split()) <= 2 for c in comp])[0][:1000],
                           special])
    want = [Composition(comp[i]).num_atoms / Composition(comp[i]).reduced_composition.num_atoms for i in rows]
    np.testing.assert_allclose(pt.formula_units[rows], want, rtol=0, atol=1e-12)
    assert len(special) >= 5


def test_prune_keeps_the_current_build(tmp_path):
    (tmp_path / "phases-aaaa.parquet").write_text("old")
    (tmp_path / "phases-aaaa.parquet.sha256").write_text("old")
    (tmp_path / "phases-bbbb.parquet").write_text("new")
    cache.prune(tmp_path, keep={"phases-bbbb.parquet"})
    assert [p.name for p in tmp_path.iterdir()] == ["phases-bbbb.parquet"]


def test_cache_folder_default_and_override(monkeypatch, tmp_path):
    monkeypatch.setenv("SCREENING_CACHE", str(tmp_path / "c"))
    assert files.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("SCREENING_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert files.cache_dir() == tmp_path / "xdg" / "screening"
    assert cache.writable(tmp_path / "not" / "yet") and not (tmp_path / "not").exists()


@pytest.mark.data
def test_shipped_table_schema_and_checksum():
    import hashlib

    item = files.shipped(files.PHASES)
    digest = files.shipped(files.PHASES + ".sha256").read_text().strip()
    assert hashlib.sha256(item.read_bytes()).hexdigest() == digest
    rows, info = cache.read_shipped()
    assert set(tbl.COLUMNS) <= set(rows.columns) and len(rows) > 75_000
    for key in ("conversion_validation", "gap_calibration", "volume_validation", "legacy_cross_check", "incomplete_systems"):
        assert key in info
    json.dumps(info)


@pytest.mark.data
def test_an_edited_shipped_table_is_refused(tmp_path, monkeypatch):
    """One flipped bit anywhere in the shipped table makes opening it an error naming the fix,
    never a silent number (the SHA-256 beside it is checked on every open)."""
    from pathlib import Path

    from screening.errors import DataError

    data = files.shipped(files.PHASES).read_bytes()
    (tmp_path / files.PHASES).write_bytes(data)
    (tmp_path / (files.PHASES + ".sha256")).write_text(files.shipped(files.PHASES + ".sha256").read_text())
    monkeypatch.setattr(files, "shipped", lambda name: Path(tmp_path / name))
    table, _ = cache.read_shipped()  # an intact copy opens
    assert len(table) > 75_000
    rng = np.random.default_rng(1)
    for pos in rng.integers(0, len(data), 5):
        flipped = bytearray(data)
        flipped[pos] ^= 1 << int(rng.integers(0, 8))
        (tmp_path / files.PHASES).write_bytes(bytes(flipped))
        with pytest.raises(DataError, match="does not match its SHA-256 checksum.*reinstall"):
            cache.read_shipped()
