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
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pymatgen.core

from screening import __version__
from screening.data import files
from screening.data.table import PhaseTable
from screening.errors import DataError
from screening.outputs import atomic_write, clean_stale, writable_dir

#: bump when the build's logic changes numbers
BUILD_VERSION = "2"
META_KEY = b"screening"
#: rows per parquet row group
ROW_GROUP_SIZE = 8192


def write_table(table, info: dict, path: Path | str) -> str:
    """Write a phase table (a DataFrame of schema rows or a PhaseTable; parquet with ``info`` in
    its metadata, each row's composition and element masks as extra columns) atomically with a
    SHA-256 sidecar; returns the digest.  Deterministic: the same table and info give the same
    bytes."""
    path = Path(path)
    pt = table if isinstance(table, PhaseTable) else PhaseTable.from_frame(table)
    tab = pt.arrow().replace_schema_metadata({META_KEY: json.dumps(info, sort_keys=True).encode()})
    with atomic_write(path) as tmp:
        pq.write_table(tab, tmp, compression="zstd", compression_level=9, row_group_size=ROW_GROUP_SIZE)
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    with atomic_write(path.with_name(path.name + ".sha256")) as tmp:
        tmp.write_text(digest + "\n")
    return digest


def _info(tab: pa.Table) -> dict:
    return json.loads((tab.schema.metadata or {}).get(META_KEY, b"{}"))


def _verified(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
        want = path.with_name(path.name + ".sha256").read_text().strip()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == want else None


def read_table(path: Path | str, verify: bool = True) -> tuple[PhaseTable, dict] | None:
    """A table written by ``write_table``; None if missing, truncated or corrupt (bytes not
    matching the sidecar digest)."""
    path = Path(path)
    try:
        data = _verified(path) if verify else path.read_bytes()
        if data is None:
            return None
        tab = pq.read_table(pa.BufferReader(data))
        return PhaseTable(tab), _info(tab)
    except (OSError, ValueError, pa.ArrowException):
        return None


def read_shipped() -> tuple[PhaseTable, dict]:
    """The finished phase table shipped with the package and its build info, verified against the
    SHA-256 sidecar shipped beside it: an edited or damaged file is refused, never used."""
    item = files.shipped(files.PHASES)
    try:
        data = item.read_bytes()
        want = files.shipped(files.PHASES + ".sha256").read_text().split()[0]
    except (OSError, IndexError) as exc:
        raise DataError(f"the package's phase table is unreadable ({exc.__class__.__name__}): reinstall screening "
                        "(pip install --force-reinstall screening)") from None
    if hashlib.sha256(data).hexdigest() != want:
        raise DataError(f"the package's phase table {files.PHASES} does not match its SHA-256 checksum (edited or damaged): "
                        "reinstall screening (pip install --force-reinstall screening), or rebuild it with "
                        "`screening data build --into screening/_data` in a source checkout")
    try:
        tab = pq.read_table(pa.BufferReader(data))
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise DataError(f"the package's phase table is unreadable ({exc.__class__.__name__}): reinstall screening") from None
    return PhaseTable(tab), _info(tab)


def build_key(root: Path) -> str:
    """Hash of every input of a build from ``root`` (raw files, authored tables, versions)."""
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
    """True when files can be created in ``folder`` (or, if it does not exist yet, in its nearest
    existing parent, where it would be made); nothing is created."""

    folder = Path(folder).expanduser().absolute()
    while not folder.exists():
        if folder.parent == folder:
            return False
        folder = folder.parent
    return folder.is_dir() and writable_dir(folder)


def cached_build(root: Path, cache: Path, build, rebuild: bool = False) -> tuple:
    """The table built by ``build(root)`` (rows, info), from the cache when a valid copy exists."""
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
    folder.mkdir(parents=True, exist_ok=True)
    write_table(table, info, path)
    prune(folder, keep={path.name, path.name + ".sha256"})
    return PhaseTable.from_frame(table), info


def prune(folder: Path, keep: set[str]) -> None:
    """Remove cached builds other than ``keep`` and stale temporary files."""
    clean_stale(folder)
    for p in folder.glob("phases-*.parquet*"):
        if p.name not in keep:
            p.unlink(missing_ok=True)
