"""Fetch a chemical system from the Materials Project API into the user cache folder.

``fetch_chemsys`` pulls GGA/GGA+U entries (MP2020-corrected by MP, with structures) and MP band
gaps through ``mp_api.client.MPRester`` and writes them as phase-table rows to
``<cache>/mp_api/<chemsys>.parquet``.  ``read_fetched`` returns every such file's rows; the store
merges them, and fetched phases replace the offline phases of their system (one consistent MP
data set per system).

Fail safe: nothing reaches the cache unless the whole download finished and every document passed
the checks below; any failure raises a one-line ``DataError`` (or ``InputError`` for bad input)
and leaves the cache as it was.

* **Deadline.**  The whole fetch (every request, retries and waits included) ends within
  ``timeout`` seconds: the argument, else ``$SCREENING_FETCH_TIMEOUT``, else
  ``DEFAULT_TIMEOUT_S`` (60 s); at most ``MAX_TIMEOUT_S``.  Every HTTP request of the fetch goes
  through a ``requests`` session of ours (given to ``MPRester``) whose adapter sets connect /
  read timeouts of ``CONNECT_TIMEOUT_S`` / ``READ_TIMEOUT_S`` (10 s / 30 s, never beyond the
  deadline) and does the retries.  mp-api sends its two ``heartbeat`` requests with bare
  ``requests.get`` (no session, no timeout), so the fetch first checks the heartbeat through our
  session, and the download runs in a daemon worker thread that the caller leaves at the deadline:
  a server that trickles bytes, or hangs only on mp-api's heartbeat, cannot hold the command.
* **Retries.**  GET requests are retried ``RETRIES`` (3) times on connection errors, timeouts and
  HTTP 429/502/503/504, after ``Retry-After`` when the server sends one, else after 1, 2, 4 s.  A
  ``Retry-After`` above ``RETRY_AFTER_CAP_S`` (20 s), or beyond the deadline, fails at once with
  the time to retry.
* **Validation** (``validate``): material ids, GGA/GGA+U run types, compositions within the asked
  system, finite energies with ``|E| <= 20 eV/atom`` and formation energies within
  -10..+5 eV/atom of the fetched elemental references (one for every element), cell volumes of
  1..1000 A^3/atom, band gaps finite in 0..25 eV.
* **Band gaps** as shipped phases (``screening.data.gaps``): a measured gap first, else MP's PBE
  gap corrected with the shipped table's calibration; the PBE gap stays in ``band_gap_pbe_eV``.
* **Secrets.**  An API key with whitespace, line breaks, control or non-ASCII characters is
  refused before any request; the key is scrubbed from every message.
* ``mp-api`` is an optional extra (``pip install 'screening[fetch]'``), imported only here.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import threading
import time
from dataclasses import fields as dc_fields
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Element

from screening.data import cache as cache_io
from screening.data import table as tbl
from screening.errors import DataError, InputError

SOURCE = "mp-api"
FOLDER = "mp_api"
#: format of the fetched files; files without it were written unchecked and are refused
FORMAT = 2
INSTALL_HINT = "pip install 'screening[fetch]'"
DEFAULT_ENDPOINT = "https://api.materialsproject.org/"

# ----------------------------------------------------------------------------- time limits
TIMEOUT_ENV = "SCREENING_FETCH_TIMEOUT"
DEFAULT_TIMEOUT_S = 60.0
MAX_TIMEOUT_S = 3600.0
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 30.0
RETRIES = 3
BACKOFF_S = (1.0, 2.0, 4.0)
RETRY_STATUS = frozenset({429, 502, 503, 504})
RETRY_AFTER_CAP_S = 20.0

# ----------------------------------------------------------------------------- plausibility
MAX_ABS_ENERGY_EV_PER_ATOM = 20.0
FORMATION_RANGE_EV_PER_ATOM = (-10.0, 5.0)
VOLUME_RANGE_A3_PER_ATOM = (1.0, 1000.0)
MAX_BAND_GAP_EV = 25.0
GGA_RUN_TYPES = frozenset({"GGA", "GGA+U"})
_MATERIAL_ID = re.compile(r"[a-z]{1,8}-[A-Za-z0-9]{1,20}")
_KEY = re.compile(r"[!-~]+")  # printable ASCII, no spaces


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


def fetch_timeout(timeout: float | None = None) -> float:
    """The fetch deadline in seconds: ``timeout``, else ``$SCREENING_FETCH_TIMEOUT``, else 60."""
    if timeout is None:
        raw = os.environ.get(TIMEOUT_ENV, "").strip()
        if not raw:
            return DEFAULT_TIMEOUT_S
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT_S):
            raise InputError(f"{TIMEOUT_ENV}={raw[:20]!r}: give seconds, more than 0 and at most {MAX_TIMEOUT_S:g}")
        return value
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT_S):
        raise InputError(f"timeout={timeout!r}: give seconds, more than 0 and at most {MAX_TIMEOUT_S:g}", argument="timeout")
    return value


def check_api_key(key: str) -> str:
    """``key`` if it can go into an HTTP header; InputError (never showing the key) otherwise."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        what = ("a line break" if any(c in str(key) for c in "\r\n") else
                "non-ASCII characters" if not str(key).isascii() else "spaces or control characters")
        raise InputError(f"the Materials Project API key (--api-key or MP_API_KEY) contains {what}: "
                         "copy it again from materialsproject.org/api (the key is not shown)")
    return key


def _scrub(text: str, key: str | None, limit: int = 300) -> str:
    """``text`` on one line, without ``key``, at most ``limit`` characters."""
    line = " ".join(str(text).split())
    if key:
        from urllib.parse import quote

        for form in {key, quote(key, safe="")}:
            line = line.replace(form, "***")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _retry_after(value: str | None) -> float | None:
    """Seconds of a Retry-After header (delta-seconds or an HTTP date); None if absent/unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


# ----------------------------------------------------------------------------- bounded HTTP
class _Stop(Exception):
    """Raised inside the download's HTTP calls: the deadline passed, the caller gave up, or the
    server asked to wait longer than this command waits (the reason is on the budget)."""


class _Budget:
    """The fetch's deadline, shared by the caller and the worker thread."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.cancelled = threading.Event()
        self.expired = False
        self.retry_later: tuple[int, float] | None = None  # (HTTP status, seconds)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def check(self) -> float:
        """Seconds left; _Stop when none are, or the caller gave up."""
        if self.cancelled.is_set():
            raise _Stop("cancelled")
        left = self.remaining()
        if left <= 0:
            self.expired = True
            raise _Stop("deadline")
        return left


def _session(key: str, budget: _Budget):
    """A requests session whose every request has connect/read timeouts within the deadline and
    bounded retries that honour Retry-After up to the cap."""
    import requests
    from requests.adapters import HTTPAdapter

    from screening import __version__

    class BoundedAdapter(HTTPAdapter):
        def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
            retries = RETRIES if request.method in ("GET", "HEAD") else 0
            for attempt in range(retries + 1):
                left = budget.check()
                limits = (min(CONNECT_TIMEOUT_S, left), min(READ_TIMEOUT_S, left))
                after = None
                try:
                    resp = super().send(request, stream=stream, timeout=limits, verify=verify, cert=cert, proxies=proxies)
                except (requests.ConnectionError, requests.Timeout):
                    budget.check()
                    wait = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                    if attempt == retries or wait >= budget.remaining():
                        raise
                else:
                    if resp.status_code not in RETRY_STATUS or attempt == retries:
                        return resp
                    after = _retry_after(resp.headers.get("Retry-After"))
                    if after is not None and (after > RETRY_AFTER_CAP_S or after >= budget.remaining()):
                        resp.close()
                        budget.retry_later = (resp.status_code, after)
                        raise _Stop("retry later")
                    wait = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)] if after is None else after
                    if wait >= budget.remaining():
                        return resp
                    resp.close()
                if budget.cancelled.wait(wait):
                    raise _Stop("cancelled")
            raise AssertionError("unreachable")  # pragma: no cover

    session = requests.Session()
    adapter = BoundedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["x-api-key"] = key  # MPRester sets it only on sessions it makes itself
    session.headers["user-agent"] = f"screening/{__version__} (mp-api)"
    return session


def _download(mprester, els: list[str], key: str, endpoint: str, budget: _Budget):
    """(entries, [(material_id, band gap)]) of ``els`` and its subsystems (runs in the worker)."""
    session = _session(key, budget)
    try:
        # mp-api's own heartbeat requests have no timeout: see that the server answers first
        session.get(endpoint + "heartbeat", headers={"x-api-key": None}).close()
        with mprester(api_key=key, endpoint=endpoint, session=session, mute_progress_bars=True) as mpr:
            entries = mpr.get_entries_in_chemsys(els, additional_criteria={"thermo_types": ["GGA_GGA+U"]}, property_data=None)
            docs = mpr.materials.summary.search(chemsys=_subsystems(els), fields=["material_id", "band_gap"])
        return list(entries), [(str(d.material_id), d.band_gap) for d in docs]
    finally:
        session.close()


def _within_deadline(work, budget: _Budget):
    """``work()`` in a daemon thread; its result, or its exception re-raised; _Stop when the
    deadline passes first (the thread is told to stop and left behind)."""
    box: dict = {}

    def run():
        try:
            box["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    worker = threading.Thread(target=run, name="screening-mp-fetch", daemon=True)
    worker.start()
    try:
        worker.join(max(0.0, budget.remaining()))
    finally:  # the deadline passed, or Ctrl-C: the worker stops at its next request
        if worker.is_alive():
            budget.cancelled.set()
    if worker.is_alive():
        budget.expired = True
        raise _Stop("deadline")
    if "error" in box:
        raise box["error"]
    return box["value"]


# ----------------------------------------------------------------------------- validation
def _material_id(entry) -> str:
    return str((entry.data or {}).get("material_id") or entry.entry_id).replace("-GGA+U", "").replace("-GGA", "")


def validate(entries, gaps: list[tuple[str, object]], els: list[str]) -> dict[str, float]:
    """Check every fetched document; the band gaps by material id.  DataError naming the first
    problem (and how many more) when any document is wrong."""
    system = "-".join(els)
    if not entries:
        raise DataError(f"Materials Project returned no GGA/GGA+U entries for {system}: check the elements")
    problems: list[str] = []
    allowed = set(els)
    good = []
    for e in entries:
        try:
            mid = _material_id(e)
            comp = e.composition
            syms = {el.symbol for el in comp.elements}
            amounts = [float(v) for v in comp.values()]
            n = float(comp.num_atoms)
            label = f"{mid} ({comp.reduced_formula})" if syms else mid
        except Exception as exc:  # noqa: BLE001 - anything unreadable is a bad document
            problems.append(f"an entry could not be read ({exc.__class__.__name__})")
            continue
        if not _MATERIAL_ID.fullmatch(mid):
            problems.append(f"material id {_scrub(repr(mid), None, 40)} is not an MP id")
            continue
        if not syms or not all(math.isfinite(a) and a > 0 for a in amounts) or not n > 0:
            problems.append(f"{label} has no valid composition")
            continue
        if not syms <= allowed:
            problems.append(f"{label} is outside {system}")
            continue
        run_type = str((e.parameters or {}).get("run_type") or (e.data or {}).get("run_type") or "")
        if run_type and run_type not in GGA_RUN_TYPES:
            problems.append(f"{label} has run type {run_type[:20]}, not GGA/GGA+U")
            continue
        energy = (float(e.energy), float(e.uncorrected_energy), float(e.correction))
        if not all(math.isfinite(x) for x in energy):
            problems.append(f"{label} has a non-finite energy")
            continue
        if abs(energy[0] / n) > MAX_ABS_ENERGY_EV_PER_ATOM:
            problems.append(f"{label} has {energy[0] / n:.4g} eV/atom (|E| > {MAX_ABS_ENERGY_EV_PER_ATOM:g})")
            continue
        structure = getattr(e, "structure", None)
        if structure is not None:
            v = float(structure.volume) / n
            lo, hi = VOLUME_RANGE_A3_PER_ATOM
            if not (math.isfinite(v) and lo <= v <= hi):
                problems.append(f"{label} has a cell volume of {v:.4g} A^3/atom (outside {lo:g}..{hi:g})")
                continue
        good.append((label, comp, energy[0] / n))
    refs: dict[str, float] = {}
    for _, comp, epa in good:
        if len(comp.elements) == 1:
            el = comp.elements[0].symbol
            refs[el] = min(epa, refs.get(el, math.inf))
    if missing := [el for el in els if el not in refs]:
        problems.append(f"no elemental reference for {', '.join(missing)}")
    else:
        lo, hi = FORMATION_RANGE_EV_PER_ATOM
        for label, comp, epa in good:
            form = epa - sum(comp.get_atomic_fraction(el) * refs[el.symbol] for el in comp.elements)
            if not lo <= form <= hi:
                problems.append(f"{label} has a formation energy of {form:.4g} eV/atom (outside {lo:g}..{hi:g})")
    out: dict[str, float] = {}
    for mid, gap in gaps:
        if gap is None:
            continue
        try:
            g = float(gap)
        except (TypeError, ValueError):
            g = math.nan
        if not (math.isfinite(g) and 0 <= g <= MAX_BAND_GAP_EV):
            problems.append(f"{_scrub(mid, None, 40)} has band gap {_scrub(str(gap), None, 20)} eV (not 0..{MAX_BAND_GAP_EV:g})")
            continue
        out.setdefault(mid, g)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise DataError(f"Materials Project response for {system} rejected, nothing was cached: {problems[0]}{more}")
    return out


# ----------------------------------------------------------------------------- rows
def _gap_calibration():
    """The shipped table's plain-GGA gap calibration and its GGA+U validation (the same treatment
    as shipped phases)."""
    from screening.data import gaps as gp

    _, info = cache_io.read_shipped()
    cal = info.get("gap_calibration")
    names = {f.name for f in dc_fields(gp.Calibration)}
    if not isinstance(cal, dict) or not names <= set(cal):
        raise DataError("the package's phase table has no band-gap calibration: reinstall screening "
                        "(pip install --force-reinstall screening)")
    return gp.Calibration(**{k: cal[k] for k in names}), info.get("gga_u_gap_validation")


def entries_to_rows(entries, gaps: dict[str, float]) -> pd.DataFrame:
    """Phase rows of MP ComputedStructureEntry objects (energies already MP2020 by MP), band gaps
    as for shipped phases: measured first, else ``gaps`` (MP PBE, by material id) corrected."""
    from screening.data import gaps as gp

    rows = tbl.rows_from_entries(entries, origin=SOURCE, source=SOURCE)
    mids = [_material_id(e) for e in entries]
    rows["phase_id"] = rows["material_id"] = mids
    rows["correction_note"] = "MP2020 (applied by MP)"
    rows["volume_source"] = rows.volume_source.where(rows.volume_source == "", "mp-api structure (DFT-relaxed)")
    rows = rows.drop_duplicates("phase_id", keep="first").reset_index(drop=True)
    # gaps only from the summary documents (validated), never from entry data
    pbe = rows.phase_id.map(lambda m: gaps.get(m)).astype(float)
    rows["band_gap_pbe_eV"] = pbe.to_numpy()
    rows["band_gap_eV"] = np.nan
    rows["band_gap_origin"] = rows["band_gap_source"] = ""
    rows["energy_per_atom_eV"] = rows.energy_eV / rows.n_atoms
    cal, gga_u = _gap_calibration()
    gp.apply(rows, gp.read_measured(), cal, "mp-api summary", gga_u=gga_u)
    return rows


# ----------------------------------------------------------------------------- fetch
def fetch_chemsys(chemsys: str, cache: Path, api_key: str | None = None, endpoint: str | None = None,
                  *, timeout: float | None = None) -> Path:
    """Download every GGA/GGA+U phase of ``chemsys`` (and subsystems) into the cache.

    Needs the ``fetch`` extra (mp-api), an API key (argument or ``MP_API_KEY``) and network; ends
    within ``timeout`` seconds (default ``$SCREENING_FETCH_TIMEOUT`` or 60).  On any failure the
    cache is left untouched and a one-line DataError explains what to do.
    """
    els = normalize_chemsys(chemsys)
    system = "-".join(els)
    seconds = fetch_timeout(timeout)
    try:
        from mp_api.client import MPRester
    except ImportError:
        raise InputError(f"fetching from the Materials Project needs the mp-api package: {INSTALL_HINT}") from None
    key = api_key or os.environ.get("MP_API_KEY")
    if not key:
        raise DataError("no Materials Project API key: set MP_API_KEY (get one at materialsproject.org/api)")
    check_api_key(key)
    folder = Path(cache) / FOLDER
    if not cache_io.writable(folder):
        raise DataError(f"cannot write {folder}: set SCREENING_CACHE to a writable folder")
    url = endpoint or os.environ.get("MP_API_ENDPOINT") or DEFAULT_ENDPOINT
    url = url if url.endswith("/") else url + "/"

    budget = _Budget(seconds)
    try:
        entries, gaps = _within_deadline(lambda: _download(MPRester, els, key, url, budget), budget)
    except Exception as exc:  # network, auth, server, unreadable documents: the cache is untouched
        raise _failure(exc, budget, system, key) from None
    rows = entries_to_rows(entries, validate(entries, gaps, els))
    path = folder / f"{system}.parquet"
    folder.mkdir(parents=True, exist_ok=True)
    cache_io.write_table(rows, {"chemsys": system, "n_entries": len(rows), "format": FORMAT}, path)
    return path


def _failure(exc: Exception, budget: _Budget, system: str, key: str) -> DataError:
    """The one-line error of a failed download (the key scrubbed)."""
    if budget.retry_later is not None:
        status, after = budget.retry_later
        when = (datetime.now(timezone.utc) + timedelta(seconds=after)).strftime("%Y-%m-%d %H:%M UTC")
        return DataError(f"Materials Project is busy (HTTP {status}) and asks to retry after {after:.0f} s, longer than "
                         f"this fetch waits (at most {RETRY_AFTER_CAP_S:g} s, within {budget.seconds:g} s): run it again after {when}; nothing was cached")
    if budget.expired or isinstance(exc, _Stop):
        return DataError(f"Materials Project did not answer {system} within {budget.seconds:g} s: check the network or "
                         f"try later (set {TIMEOUT_ENV} to wait longer); nothing was cached")
    msg = _scrub(str(exc), key) or exc.__class__.__name__
    try:
        import requests
        from mp_api.client.core.exceptions import MPRestError

        network = isinstance(exc, (requests.RequestException, MPRestError))
    except ImportError:  # pragma: no cover
        network = True
    if network:
        return DataError(f"Materials Project fetch of {system} failed ({msg}): check MP_API_KEY and network")
    return DataError(f"Materials Project response for {system} could not be read ({exc.__class__.__name__}: {msg}); "
                     "nothing was cached")


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
        if got[1].get("format") != FORMAT:
            raise DataError(f"fetched file {p} was written by an older screening without checks: "
                            f"fetch it again (screening fetch --chemsys {p.stem}) or delete it")
        table = got[0]
        tables.append(table.frame() if isinstance(table, tbl.PhaseTable) else table)
        systems.append(p.stem)
    if not tables:
        return pd.DataFrame(columns=tbl.COLUMNS), []
    rows = pd.concat(tables, ignore_index=True).drop_duplicates("phase_id", keep="first")
    return tbl.conform(rows), systems
