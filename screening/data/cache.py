"""Phase tables on disk: the table shipped in the package, and stores rebuilt from raw shared data
in the user cache folder.

Cached builds are keyed by a hash of every input that changes their numbers (the raw shared files,
the authored tables, the package and pymatgen versions, the build version); each file has a
SHA-256 sidecar, and a file whose bytes do not match it (truncated, corrupt) is rebuilt, never
trusted.  Builds of other keys are pruned when a new one is written.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from screening.data import files
from screening.errors import DataError
from screening.outputs import atomic_write, clean_stale

#: bump when the build's logic changes numbers
BUILD_VERSION = "2"
META_KEY = b"screening"


def write_table(table: pd.DataFrame, info: dict, path: Path | str) -> str:
    """Write a phase table (parquet, ``info`` in its metadata) atomically with a SHA-256 sidecar;
    returns the digest.  Deterministic: the same table and info give the same bytes."""
    path = Path(path)
    tab = pa.Table.from_pandas(table, preserve_index=False)
    tab = tab.replace_schema_metadata({META_KEY: json.dumps(info, sort_keys=True).encode()})
    with atomic_write(path) as tmp:
        pq.write_table(tab, tmp, compression="zstd", compression_level=9)
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    with atomic_write(path.with_name(path.name + ".sha256")) as tmp:
        tmp.write_text(digest + "\n")
    return digest


def _read(source) -> tuple[pd.DataFrame, dict]:
    tab = pq.read_table(source)
    info = json.loads((tab.schema.metadata or {}).get(META_KEY, b"{}"))
    return tab.to_pandas(), info


def read_table(path: Path | str, verify: bool = True) -> tuple[pd.DataFrame, dict] | None:
    """A table written by ``write_table``; None if missing, truncated or corrupt (bytes not
    matching the sidecar digest)."""
    path = Path(path)
    try:
        data = path.read_bytes()
        if verify:
            want = path.with_name(path.name + ".sha256").read_text().strip()
            if hashlib.sha256(data).hexdigest() != want:
                return None
        return _read(pa.BufferReader(data))
    except (OSError, ValueError, pa.ArrowException):
        return None


def read_shipped() -> tuple[pd.DataFrame, dict]:
    """The finished phase table shipped with the package, and its build info."""
    item = files.shipped(files.PHASES)
    try:
        with item.open("rb") as fh:
            return _read(fh)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise DataError(f"the package's phase table is unreadable ({exc.__class__.__name__}): reinstall screening") from None


def build_key(root: Path) -> str:
    """Hash of every input of a build from ``root`` (raw files, authored tables, versions)."""
    import pymatgen.core

    from screening import __version__

    h = hashlib.sha256()
    for name in (*files.RAW, files.CIFS):
        p = files.raw(name, root)
        h.update(name.encode())
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    for name in files.AUTHORED:
        h.update(name.encode())
        h.update(files.shipped(name).read_bytes())
    h.update(f"{__version__}|{pymatgen.core.__version__}|{BUILD_VERSION}".encode())
    return h.hexdigest()


def writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def cached_build(root: Path, cache: Path, build, rebuild: bool = False) -> tuple[pd.DataFrame, dict]:
    """The table built by ``build(root)``, from the cache when a valid copy exists."""
    folder = Path(cache) / "stores"
    key = build_key(root)
    path = folder / f"phases-{key[:16]}.parquet"
    if not rebuild:
        got = read_table(path)
        if got is not None:
            return got
    if not writable(folder):
        raise DataError(f"cannot write the cache folder {folder}: set SCREENING_CACHE to a writable folder")
    table, info = build(root)
    write_table(table, info, path)
    prune(folder, keep={path.name, path.name + ".sha256"})
    return table, info


def prune(folder: Path, keep: set[str]) -> None:
    """Remove cached builds other than ``keep`` and stale temporary files."""
    clean_stale(folder)
    for p in folder.glob("phases-*.parquet*"):
        if p.name not in keep:
            p.unlink(missing_ok=True)
