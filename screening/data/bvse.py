"""Bond-valence site-energy (BVSE) Li+ migration barriers from MP crystal structures: an ESTIMATE of
Li+ transport for phases that have no measured conductivity, to be calibrated against measured ones.

* ``li_migration_barriers``: the 1D, 2D and 3D Li+ percolation barriers (eV) of one structure, from
  ``bvlain`` (Dembitskiy, MIT licence; softBV parameters of Chen & Adams as tabulated by He et al.,
  Sci. Data 7, 151 (2020)).  A barrier is the lowest energy above the BVSE minimum at which the
  Li+ accessible region percolates through the crystal in 1, 2 or 3 dimensions; None when it does
  not below ``ENCUT``.  It is a migration energy of a tracer in a rigid framework, not an
  activation energy of conductivity (no defect formation, no Li-Li correlation), so only its ranking
  is meaningful until calibrated.
* ``compute_table``: the barriers of many (material id, CIF text) items, one row each, a failure
  recorded in ``error`` and never fatal.
* ``python -m screening.data.bvse --ids FILE --out CSV``: the table for the MP ids of FILE (one per
  line, or a CSV with a ``phase_id`` or ``material_id`` column) from ``mp2025/cifs.tar.xz``.

Limits, checked: bvlain has Li+ parameters only for F, Cl, Br, I, O, S, Se, Te and N anions, so
intermetallics, hydrides, borides, carbides and pnictides (P, As, Sb, Bi) get an error, not a barrier.
Oxidation states come from pymatgen's BVAnalyzer (bvlain's default); where it fails or assigns states
bvlain has no parameters for (it gives S- and P4+ in Li10GeP2S12), from the most probable
charge-balanced guess of the composition.  A 0.2 A grid (bvlain's default) moves barriers by up to
0.05 eV against a 0.1 A grid, and barriers are resolved to 0.01 eV.  bvlain is optional: it is
imported inside the functions, so the package works without it (``pip install bvlain``).
"""

from __future__ import annotations

import io
import signal
import time
import warnings
from contextlib import contextmanager, redirect_stdout

import pandas as pd

MOBILE_ION = "Li1+"
RESOLUTION = 0.2  # A between grid points (bvlain's default)
R_CUT = 10.0  # A, Li+ - framework interaction cutoff (bvlain's default)
ENCUT = 5.0  # eV: no percolation below this -> None (bvlain's documented value)
MAX_GRID_POINTS = 600_000  # ~6 GB of neighbour arrays: larger cells are reported, not computed
TIMEOUT_S = 60.0
#: anions bvlain 0.25.1 has Li+ parameters for (its data/cation.pkl), the others are named in errors
LI_ANIONS = {"F", "Cl", "Br", "I", "O", "S", "Se", "Te", "N"}
COLUMNS = ["phase_id", "formula", "ea_1d_eV", "ea_2d_eV", "ea_3d_eV", "seconds", "error", "package", "package_version"]


def _decorations(structure):
    """Oxidation-state decorated copies to try, in order: BVAnalyzer's, then the composition's most
    probable integer guess (the same states on every site of an element; pymatgen's common states,
    else all its states)."""
    from pymatgen.analysis.bond_valence import BVAnalyzer

    out = []
    try:
        out.append(BVAnalyzer(forbidden_species=["O-", "P3-"]).get_oxi_state_decorated_structure(structure))
    except ValueError:  # "Valences cannot be assigned!"
        pass
    for all_states in (False, True):  # common oxidation states first, then any (Mn5+ in Li7MnN4, O- in Li2O2)
        guesses = structure.composition.oxi_state_guesses(all_oxi_states=all_states, max_sites=-1)
        guesses = [g for g in guesses if all(float(v).is_integer() for v in g.values())]
        if guesses:
            s = structure.copy()
            s.add_oxidation_state_by_element({el: int(v) for el, v in guesses[0].items()})
            return [*out, s]
    return out


def li_migration_barriers(structure) -> dict:
    """BVSE Li+ percolation barriers of a pymatgen Structure: {"ea_1d_eV", "ea_2d_eV", "ea_3d_eV"}
    (eV, None where no path percolates below ``ENCUT``) plus "package" and "package_version".
    ValueError when no oxidation states fit, bvlain has no Li+ parameters for the anions, the
    structure has no Li, or its grid is too large (``MAX_GRID_POINTS``)."""
    import bvlain
    from bvlain import Lain

    if "Li" not in {el.symbol for el in structure.composition.elements}:
        raise ValueError("no Li in the structure")
    structure = structure.get_reduced_structure()  # Niggli cell: fewer grid points, same barriers
    a, b, c = structure.lattice.abc
    points = int(a // RESOLUTION) * int(b // RESOLUTION) * int(c // RESOLUTION)
    if points > MAX_GRID_POINTS:
        raise ValueError(f"cell too large for a {RESOLUTION} A grid ({points} points > {MAX_GRID_POINTS})")
    decorated = _decorations(structure)
    if not decorated:
        raise ValueError("no charge-balanced integer oxidation states (metallic?)")
    for k, s in enumerate(decorated):
        calc = Lain(verbose=False)
        calc.read_structure(s, oxi_check=False)
        try:
            with redirect_stdout(io.StringIO()):  # bvlain prints "Oops. No BVSE data ..." before its KeyError
                calc.bvse_distribution(mobile_ion=MOBILE_ION, r_cut=R_CUT, resolution=RESOLUTION)
            break
        except KeyError:  # no parameters for these oxidation states: try the next decoration
            if k == len(decorated) - 1:
                anions = sorted({str(x.specie) for x in s if x.specie.oxi_state < 0})
                missing = [x for x in anions if x.rstrip("0123456789+-") not in LI_ANIONS] or anions
                raise ValueError(f"bvlain has no {MOBILE_ION} BVSE parameters for {', '.join(missing) or 'these species'}") from None
    energies = calc.percolation_barriers(encut=ENCUT)
    barrier = {f"ea_{d}d_eV": (None if energies[f"E_{d}D"] == float("inf") else round(float(energies[f"E_{d}D"]), 4)) for d in (1, 2, 3)}
    return {**barrier, "package": "bvlain", "package_version": bvlain.__version__}


@contextmanager
def _time_limit(seconds: float | None):
    """TimeoutError after ``seconds`` of wall time (SIGALRM: main thread on POSIX; else no limit)."""
    try:
        previous = signal.signal(signal.SIGALRM, _raise_timeout)
    except (ValueError, AttributeError):  # not the main thread, or no SIGALRM
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds or 0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _raise_timeout(signum, frame):
    raise TimeoutError


def compute_table(cif_items, timeout: float | None = TIMEOUT_S, progress=None) -> pd.DataFrame:
    """BVSE barriers of (material id, CIF text or None) items, one row each with ``COLUMNS``; an
    unreadable or missing CIF, a failure or a run over ``timeout`` seconds fills ``error`` instead
    of the barriers.  ``progress(row)`` is called after each row."""
    from pymatgen.core import Structure

    try:
        import bvlain

        version = bvlain.__version__
    except ImportError:
        version = ""
    rows = []
    for mid, text in cif_items:
        row = dict.fromkeys(COLUMNS, None) | {"phase_id": mid, "error": "", "package": "bvlain", "package_version": version}
        start = time.perf_counter()
        try:
            if text is None:
                raise ValueError("no CIF in the archive")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = Structure.from_str(text, fmt="cif")
                row["formula"] = s.composition.reduced_formula
                with _time_limit(timeout):
                    row |= li_migration_barriers(s)
        except TimeoutError:
            row["error"] = f"timeout after {timeout:g} s"
        except Exception as exc:  # noqa: BLE001  one failed structure is reported in its row, not fatal
            row["error"] = f"{exc.__class__.__name__}: {exc}".strip()
        row["seconds"] = round(time.perf_counter() - start, 2)
        rows.append(row)
        if progress:
            progress(row)
    return pd.DataFrame(rows, columns=COLUMNS)


# --------------------------------------------------------------------------- script
def _read_ids(path) -> list[str]:
    """MP ids of a file: a CSV with a phase_id or material_id column, else one id per line."""
    from pathlib import Path

    lines = [x.strip() for x in Path(path).read_text(encoding="utf-8").splitlines() if x.strip() and not x.startswith("#")]
    header = [h.strip() for h in lines[0].split(",")] if lines else []
    col = next((header.index(c) for c in ("phase_id", "material_id") if c in header), None)
    ids = [x.split(",")[col].strip() for x in lines[1:]] if col is not None else [x.split(",")[0] for x in lines]
    return list(dict.fromkeys(i for i in ids if i))  # unique, in order


def main(argv=None) -> int:
    import argparse
    import csv
    import sys
    from pathlib import Path

    from screening.data import files, sources

    p = argparse.ArgumentParser(prog="python -m screening.data.bvse", description=__doc__.split("\n\n")[0])
    p.add_argument("--ids", required=True, help="MP ids: one per line, or a CSV with a phase_id/material_id column")
    p.add_argument("--out", required=True, help="CSV to write, one row at a time as each structure is done")
    p.add_argument("--append", action="store_true", help="keep the rows of --out and add the ids it lacks (resumes a stopped run)")
    p.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per structure (default %(default)s)")
    p.add_argument("--shared", default=None, help="shared data folder (default $SCREENING_SHARED or ../shared)")
    args = p.parse_args(argv)

    ids = _read_ids(args.ids)
    out = Path(args.out)
    if args.append and out.is_file():
        done = set(pd.read_csv(out, usecols=["phase_id"], dtype=str).phase_id)
        ids = [i for i in ids if i not in done]
    else:
        out.write_text(",".join(COLUMNS) + "\n", encoding="utf-8")
    root = Path(args.shared) if args.shared else files.shared_root(required=True)
    cifs = dict(sources.iter_cifs(root, set(ids)))
    print(f"{len(ids)} ids to do, {len(cifs)} of their CIFs in {files.CIFS}", file=sys.stderr)

    def progress(row):
        with out.open("a", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerow(["" if row[c] is None else row[c] for c in COLUMNS])
        print(f"{row['phase_id']:>12} {row['formula'] or '':<16} 1D {row['ea_1d_eV']} 2D {row['ea_2d_eV']} 3D {row['ea_3d_eV']} "
              f"{row['seconds']:.1f}s {row['error']}", file=sys.stderr, flush=True)

    table = compute_table(((i, cifs.get(i)) for i in ids), timeout=args.timeout, progress=progress)
    ok = table.error.eq("")
    print(f"{out}: {int(ok.sum())} rows with barriers, {int((~ok).sum())} with an error added", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
