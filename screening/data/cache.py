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

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pymatgen.core

from screening import __version__
from screening.data import files
from screening.data.formula import chemsys_masks
from screening.errors import DataError
from screening.outputs import atomic_write, clean_stale, writable_dir

#: bump when the build's logic changes numbers
BUILD_VERSION = "2"
META_KEY = b"screening"
#: rows per parquet row group: a question about one chemical system reads a few groups only
ROW_GROUP_SIZE = 2048
#: columns a store needs for every row at open (lookups, selection); the rest is read on demand
INDEX_COLUMNS = ["phase_id", "formula", "chemsys", "energy_per_atom_eV", "e_above_hull_eV_per_atom", "mask_lo", "mask_hi"]


class FrameRows:
    """Rows held in memory (a pandas DataFrame)."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame.reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def index(self) -> pd.DataFrame:
        return self.frame

    def take(self, rows) -> pd.DataFrame:
        return self.frame.iloc[np.asarray(rows, dtype=int)]

    def all(self) -> pd.DataFrame:
        return self.frame


class ParquetRows:
    """Rows of a parquet phase table read on demand: the index columns at once, whole rows by row
    group when asked for (a window on Li-I reads three groups of the shipped table, not all)."""

    def __init__(self, source):
        self._file = pq.ParquetFile(source)
        meta = self._file.metadata
        sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
        self._starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self._groups: dict[int, pd.DataFrame] = {}
        self._all: pd.DataFrame | None = None
        names = set(self._file.schema_arrow.names)
        self.columns = [c for c in self._file.schema_arrow.names if c not in ("mask_lo", "mask_hi")]
        cols = [c for c in INDEX_COLUMNS if c in names]
        self._index = self._file.read(columns=cols).to_pandas()
        if "mask_lo" not in names:
            self._index["mask_lo"], self._index["mask_hi"] = chemsys_masks(self._index.chemsys)

    def __len__(self) -> int:
        return int(self._starts[-1])

    def index(self) -> pd.DataFrame:
        return self._index

    def _group(self, g: int) -> pd.DataFrame:
        if g not in self._groups:
            self._groups[g] = self._file.read_row_group(g, columns=self.columns).to_pandas()
        return self._groups[g]

    def take(self, rows) -> pd.DataFrame:
        """Whole rows at global positions ``rows`` (in that order, indexed by position)."""
        rows = np.asarray(rows, dtype=int)
        if self._all is not None:
            return self._all.iloc[rows]
        if not len(rows):
            return self._group(0).iloc[:0]
        groups = np.searchsorted(self._starts, rows, side="right") - 1
        positions, parts = [], []
        for g in np.unique(groups):
            at = np.nonzero(groups == g)[0]
            positions.append(at)
            parts.append(self._group(g).iloc[rows[at] - self._starts[g]])
        frame = pd.concat(parts) if len(parts) > 1 else parts[0]
        frame = frame.iloc[np.argsort(np.concatenate(positions), kind="stable")]
        frame.index = rows
        return frame

    def all(self) -> pd.DataFrame:
        if self._all is None:
            self._all = self._file.read(columns=self.columns).to_pandas()
            self._groups.clear()
        return self._all


def write_table(table: pd.DataFrame, info: dict, path: Path | str) -> str:
    """Write a phase table (parquet, ``info`` in its metadata) atomically with a SHA-256 sidecar;
    returns the digest.  Deterministic: the same table and info give the same bytes."""
    path = Path(path)
    frame = table.reset_index(drop=True)
    if "chemsys" in frame and "mask_lo" not in frame:
        frame = frame.assign(**dict(zip(("mask_lo", "mask_hi"), chemsys_masks(frame.chemsys), strict=True)))
    tab = pa.Table.from_pandas(frame, preserve_index=False)
    tab = tab.replace_schema_metadata({META_KEY: json.dumps(info, sort_keys=True).encode()})
    with atomic_write(path) as tmp:
        pq.write_table(tab, tmp, compression="zstd", compression_level=9, row_group_size=ROW_GROUP_SIZE)
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    with atomic_write(path.with_name(path.name + ".sha256")) as tmp:
        tmp.write_text(digest + "\n")
    return digest


def _read(source) -> tuple[pd.DataFrame, dict]:
    tab = pq.read_table(source)
    info = json.loads((tab.schema.metadata or {}).get(META_KEY, b"{}"))
    return tab.to_pandas(), info


def _verified(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
        want = path.with_name(path.name + ".sha256").read_text().strip()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == want else None


def read_table(path: Path | str, verify: bool = True) -> tuple[pd.DataFrame, dict] | None:
    """A table written by ``write_table`` (whole, in memory); None if missing, truncated or
    corrupt (bytes not matching the sidecar digest)."""
    path = Path(path)
    try:
        data = _verified(path) if verify else path.read_bytes()
        if data is None:
            return None
        table, info = _read(pa.BufferReader(data))
        return table.drop(columns=["mask_lo", "mask_hi"], errors="ignore"), info
    except (OSError, ValueError, pa.ArrowException):
        return None


def open_rows(path: Path | str) -> tuple[ParquetRows, dict] | None:
    """A verified table written by ``write_table`` as rows read on demand; None if damaged."""
    data = _verified(Path(path))
    if data is None:
        return None
    try:
        return ParquetRows(pa.BufferReader(data)), _info(pa.BufferReader(data))
    except (OSError, ValueError, pa.ArrowException):
        return None


def _info(source) -> dict:
    return json.loads((pq.ParquetFile(source).schema_arrow.metadata or {}).get(META_KEY, b"{}"))


def read_shipped() -> tuple[ParquetRows, dict]:
    """The finished phase table shipped with the package (rows read on demand) and its build info."""
    item = files.shipped(files.PHASES)
    try:
        source = Path(str(item)) if Path(str(item)).is_file() else pa.BufferReader(item.read_bytes())
        return ParquetRows(source), _info(source)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise DataError(f"the package's phase table is unreadable ({exc.__class__.__name__}): reinstall screening") from None


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
        got = open_rows(path)
        if got is not None:
            return got
    if not writable(folder):
        raise DataError(f"cannot write the cache folder {folder}: set SCREENING_CACHE to a writable folder")
    table, info = build(root)
    folder.mkdir(parents=True, exist_ok=True)
    write_table(table, info, path)
    prune(folder, keep={path.name, path.name + ".sha256"})
    return FrameRows(table), info


def prune(folder: Path, keep: set[str]) -> None:
    """Remove cached builds other than ``keep`` and stale temporary files."""
    clean_stale(folder)
    for p in folder.glob("phases-*.parquet*"):
        if p.name not in keep:
            p.unlink(missing_ok=True)
