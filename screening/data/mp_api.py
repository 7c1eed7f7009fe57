"""Fetch a chemical system from the Materials Project API into the user cache folder.

``fetch_chemsys`` pulls GGA/GGA+U entries (MP2020-corrected by MP, with structures) and MP band
gaps through ``mp_api.client.MPRester`` and writes them as phase-table rows to
``<cache>/mp_api/<chemsys>.parquet``.  ``read_fetched`` returns every such file's rows; the store
merges them, and fetched phases replace the offline phases of their system (one consistent MP
data set per system).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pandas as pd
from pymatgen.core import Element

from screening.data import cache as cache_io
from screening.data import table as tbl
from screening.errors import DataError, InputError

SOURCE = "mp-api"
FOLDER = "mp_api"


def normalize_chemsys(chemsys: str) -> list[str]:
    """Element symbols of 'Li-La-Zr-O' (any order); InputError on junk."""
    parts = [p.strip() for p in str(chemsys).replace(",", "-").split("-") if p.strip()]
    if not parts:
        raise InputError("empty --chemsys: give elements joined by '-', e.g. Li-La-Zr-O")
    for p in parts:
        if not Element.is_valid_symbol(p) or p in ("D", "T"):
            raise InputError(f"unknown element '{p}' in --chemsys '{chemsys}': use symbols like Li-La-Zr-O")
    if len(set(parts)) > 8:
        raise InputError(f"--chemsys {chemsys} has {len(set(parts))} elements: fetch at most 8 at a time")
    return sorted(set(parts), key=lambda s: Element(s).Z)


def _subsystems(els: list[str]) -> list[str]:
    return ["-".join(sorted(c)) for n in range(1, len(els) + 1) for c in itertools.combinations(els, n)]


def entries_to_rows(entries, gaps: dict[str, float]) -> pd.DataFrame:
    """Phase rows of MP ComputedStructureEntry objects (energies already MP2020 by MP)."""
    rows = tbl.rows_from_entries(entries, origin=SOURCE, source=SOURCE)
    mids = [str(e.data.get("material_id") or e.entry_id).replace("-GGA+U", "").replace("-GGA", "") for e in entries]
    rows["phase_id"] = rows["material_id"] = mids
    rows["correction_note"] = "MP2020 (applied by MP)"
    rows["volume_source"] = rows.volume_source.where(rows.volume_source == "", "mp-api structure (DFT-relaxed)")
    gap = pd.Series(mids).map(lambda m: gaps.get(m))
    has = gap.notna().to_numpy()
    rows.loc[has, "band_gap_eV"] = rows.loc[has, "band_gap_pbe_eV"] = gap[has].astype(float).to_numpy()
    rows.loc[has, "band_gap_origin"] = "pbe"
    rows.loc[has, "band_gap_source"] = "mp-api summary (PBE)"
    return rows.drop_duplicates("phase_id", keep="first").reset_index(drop=True)


def fetch_chemsys(chemsys: str, cache: Path, api_key: str | None = None, endpoint: str | None = None) -> Path:
    """Download every GGA/GGA+U phase of ``chemsys`` (and subsystems) into the cache.

    Needs an API key (argument or ``MP_API_KEY``) and network; on any failure the cache is left
    untouched and DataError explains what to do.
    """
    els = normalize_chemsys(chemsys)
    key = api_key or os.environ.get("MP_API_KEY")
    if not key:
        raise DataError("no Materials Project API key: set MP_API_KEY (get one at materialsproject.org/api)")
    folder = Path(cache) / FOLDER
    if not cache_io.writable(folder):
        raise DataError(f"cannot write {folder}: set SCREENING_CACHE to a writable folder")
    try:
        from mp_api.client import MPRester

        kwargs = {"api_key": key, "mute_progress_bars": True}
        if endpoint:
            kwargs["endpoint"] = endpoint
        with MPRester(**kwargs) as mpr:
            entries = mpr.get_entries_in_chemsys(els, additional_criteria={"thermo_types": ["GGA_GGA+U"]}, property_data=None)
            docs = mpr.materials.summary.search(chemsys=_subsystems(els), fields=["material_id", "band_gap"])
    except InputError:
        raise
    except Exception as exc:  # network, auth, server: all leave the cache untouched
        msg = str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__
        raise DataError(f"Materials Project fetch of {'-'.join(els)} failed ({msg}): check MP_API_KEY and network") from None
    if not entries:
        raise DataError(f"Materials Project returned no GGA/GGA+U entries for {'-'.join(els)}: check the elements")
    rows = entries_to_rows(entries, {str(d.material_id): d.band_gap for d in docs})
    path = folder / f"{'-'.join(els)}.parquet"
    folder.mkdir(parents=True, exist_ok=True)
    cache_io.write_table(rows, {"chemsys": "-".join(els), "n_entries": len(rows)}, path)
    return path


def read_fetched(cache: Path) -> tuple[pd.DataFrame, list[str]]:
    """Rows of every fetched system under ``cache/mp_api`` (largest systems first win duplicate
    ids) and the systems they replace."""
    folder = Path(cache) / FOLDER
    paths = sorted(folder.glob("*.parquet"), key=lambda p: (-len(p.stem.split("-")), p.stem)) if folder.is_dir() else []
    tables, systems = [], []
    for p in paths:
        got = cache_io.read_table(p)
        if got is None:
            raise DataError(f"fetched file {p} is damaged (checksum mismatch or unreadable): delete it and fetch again")
        tables.append(got[0].frame())
        systems.append(p.stem)
    if not tables:
        return pd.DataFrame(columns=tbl.COLUMNS), []
    rows = pd.concat(tables, ignore_index=True).drop_duplicates("phase_id", keep="first")
    return tbl.conform(rows), systems
