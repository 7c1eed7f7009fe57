"""Phase tables on disk: checksummed cache files, lazy row groups, the shipped table's schema."""

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
        r.update(phase_id=f"t-{i}", formula="Li", composition="Li1", chemsys="Li" if i % 2 else "Li-O", energy_eV=-1.0 - i,
                 n_atoms=1.0, energy_per_atom_eV=-1.0 - i, e_above_hull_eV_per_atom=0.0)
        rows.append(r)
    return tbl.conform(pd.DataFrame(rows))


def test_write_read_checksum_and_corruption(tmp_path):
    t = _toy_table(50)
    path = tmp_path / "t.parquet"
    cache.write_table(t, {"a": 1}, path)
    got, info = cache.read_table(path)
    assert info == {"a": 1} and len(got) == 50 and list(got.columns) == list(t.columns)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet", "t.parquet.sha256"]
    data = path.read_bytes()
    path.write_bytes(data[:-10] + b"0123456789")  # corrupt bytes that still look like parquet
    assert cache.read_table(path) is None and cache.open_rows(path) is None
    path.write_bytes(data[:200])  # truncated
    assert cache.read_table(path) is None


def test_lazy_rows_read_only_the_groups_asked_for(tmp_path):
    t = _toy_table(5000)
    path = tmp_path / "t.parquet"
    cache.write_table(t, {}, path)
    rows, _ = cache.open_rows(path)
    assert len(rows) == 5000 and rows._file.metadata.num_row_groups == 3
    picked = rows.take([4999, 3, 2048, 10])
    assert list(picked.phase_id) == ["t-4999", "t-3", "t-2048", "t-10"] and list(picked.index) == [4999, 3, 2048, 10]
    assert sorted(rows._groups) == [0, 1, 2]
    np.testing.assert_array_equal(rows.index().mask_lo.to_numpy()[:2], [4 | 1 << 7, 4])
    pd.testing.assert_frame_equal(rows.all().reset_index(drop=True), t)


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
