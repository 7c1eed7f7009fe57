"""Derive the shipped table ``janaf_gdelta.csv`` from the NIST-JANAF Thermochemical Tables.

Source: the NIST-JANAF tables (M. W. Chase Jr., NIST-JANAF Thermochemical Tables, 4th ed., J. Phys.
Chem. Ref. Data Monograph 9, 1998; NIST Standard Reference Database 13), as shipped verbatim, one
tab-separated file per table, by the PyPI package ``janaf`` (py-janaf by T. Nakamura, 0BSD licence;
its ``janaf/data/*.txt`` carry the NIST tables with a few typography fixes).  Only the text files are
read here (the package's own parser needs polars): pass the wheel, or the installed package folder::

    pip download janaf==1.4.0 --no-deps -d /tmp/janaf
    python -m screening.data.janaf --source /tmp/janaf/janaf-1.4.0-py3-none-any.whl \\
        --out screening/_data/janaf_gdelta.csv

What is derived, per compound (keyed by its reduced formula as pymatgen writes it) and temperature:

* the state of that composition with the lowest Gibbs energy of formation per atom at 1 bar among
  the JANAF tables of that formula and its multiples (crystal, liquid, crystal+liquid, ideal gas;
  e.g. LiCl, Li2Cl2(g) and Li3Cl3(g) all describe the composition LiCl),
* ``gdelta_eV_per_atom`` = G(T) - H(298.15 K) per atom, where H(298.15 K) is that of the state stable
  at 298.15 K: -T [-(G - H(298.15))/T] of the state plus the difference of the 298.15 K enthalpies
  of formation when the stable state has changed (melting is inside one crystal+liquid table; a
  change to another table, e.g. boiling, adds its enthalpy of transformation),
* ``dfG_eV_per_atom``: JANAF's own Gibbs energy of formation of that state per atom (for checks),
* ``phase``: cr, l or g, the state at that temperature.

Temperatures: 298.15 K, 300 K, every 100 K to 2000 K, and every transition inside that range (the
tables' own melting and polymorph transitions, and the temperatures where another table becomes the
lowest, found by linear interpolation between the tables' rows), so that linear interpolation in T
keeps the kinks at the right place.

Compounds kept: every neutral JANAF compound containing Li that has a condensed table; every
neutral compound with a condensed table made only of H, C, N, O, F, P, S, Cl, Br, I, Al, Si, Zr,
La, Ti, Nb, Ta, B, Zn, Mg, Ca, Na, K and Li (oxides, halides, nitrides, ...); and the common
molecular gases of :data:`COMMON_GASES` (gas tables only).  Elements are not kept: their G(T) comes
from pymatgen's element table (see :mod:`screening.data.gibbs`).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import sys
import zipfile
from pathlib import Path

#: eV per (kJ/mol)
KJ_PER_MOL_EV = 1.0 / 96.48533212331002
PACKAGE = "janaf"
TREF = 298.15
T_MAX = 2000.0
GRID = (TREF, *[float(t) for t in range(300, 2001, 100)])
PHASES = ("cr", "l", "cr,l", "g")
ELEMENTS = ("H", "C", "N", "O", "F", "P", "S", "Cl", "Br", "I", "Al", "Si", "Zr", "La", "Ti", "Nb", "Ta",
            "B", "Zn", "Mg", "Ca", "Na", "K", "Li")
#: molecular gases kept from gas-only tables (any spelling: compared as reduced formulas): pymatgen's
#: NIST gas list (``nist_gas_gf.json``) plus a few more
COMMON_GASES = ("H2O", "CO2", "CO", "NH3", "NO", "NO2", "N2O", "SO2", "SO3", "H2S", "HF", "HCl", "HBr",
                "HI", "CH4", "PH3", "SiH4", "SiF4", "SiCl4", "BF3", "BCl3", "CS2", "HCN", "PF5", "NF3",
                "SF6", "SF4", "CCl4", "COS", "H2O2", "C2H2", "CH3F", "CCl2F2", "WF6")
COLUMNS = ("formula", "phase", "T_K", "gdelta_eV_per_atom", "dfG_eV_per_atom", "janaf_table", "source")


# ---- reading the package
class Source:
    """The janaf package's files: a wheel (.whl), or the package folder (holding janaf.json)."""

    def __init__(self, path: str | Path | None = None):
        if path is None:
            import importlib.util

            spec = importlib.util.find_spec(PACKAGE)
            if spec is None or not spec.submodule_search_locations:
                raise SystemExit("the janaf package is not installed: pass --source (a janaf wheel or its folder)")
            path = Path(list(spec.submodule_search_locations)[0])
        self.path = Path(path)
        if self.path.suffix == ".whl":
            self._zip = zipfile.ZipFile(self.path)
            m = re.match(r"janaf-([^-]+)-", self.path.name)
            self.version = m.group(1) if m else "?"
        else:
            self._zip = None
            if not (self.path / "janaf.json").is_file() and (self.path / "janaf" / "janaf.json").is_file():
                self.path = self.path / "janaf"
            self.version = self._folder_version()

    def _folder_version(self) -> str:
        for meta in self.path.parent.glob("janaf-*.dist-info/METADATA"):
            for line in meta.read_text().splitlines():
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
        try:
            from importlib.metadata import version

            return version(PACKAGE)
        except Exception:  # noqa: BLE001
            return "?"

    def read(self, name: str) -> str:
        if self._zip is not None:
            return self._zip.read(f"janaf/{name}").decode("utf-8")
        return (self.path / name).read_text("utf-8")

    def index(self) -> list[tuple[str, str, str, str]]:
        """(table id, formula as JANAF writes it, name, phase) of every table."""
        db = json.loads(self.read("janaf.json"))
        out = []
        for display, tid in zip(db["display"], db["index"]):
            m = re.match(r"^(?P<formula>[^,]+), (?P<name>.+) \((?P<phase>[^)]+)\)$", display)
            if m:
                out.append((tid, m["formula"], m["name"], m["phase"]))
        return out


def parse_table(text: str) -> list[dict]:
    """Rows of one JANAF table: T, gef = -[G-H(Tr)]/T (J/K/mol), dfH, dfG (kJ/mol, None if blank),
    note (transition text in the dfH column, else "")."""
    rows = []
    for line in text.splitlines()[2:]:
        f = line.split("\t")
        if len(f) < 4 or not f[0].strip():
            continue

        def num(k):
            try:
                v = float(f[k])
                return v if math.isfinite(v) else None
            except (IndexError, ValueError):
                return None

        note = f[5].strip() if len(f) > 5 and num(5) is None else ""
        rows.append({"T": float(f[0]), "gef": num(3), "dfH": num(5), "dfG": num(6), "note": note})
    return rows


def atoms(formula: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for el, n in re.findall(r"([A-Z][a-z]?)(\d*)", formula):
        out[el] = out.get(el, 0) + (int(n) if n else 1)
    return out


# ---- one state (table) as functions of T
class State:
    def __init__(self, tid: str, formula: str, phase: str, rows: list[dict]):
        self.tid, self.formula, self.table_phase = tid, formula, phase
        self.n = sum(atoms(formula).values())
        rows = [r for r in rows if r["gef"] is not None and r["T"] >= TREF - 1e-9]
        self.rows = rows
        self.T = [r["T"] for r in rows]
        ref = [r for r in rows if abs(r["T"] - TREF) < 1e-6 and r["dfH"] is not None]
        self.dfH298 = ref[0]["dfH"] if ref else None
        # melting inside a crystal+liquid table: the first transition row whose note names LIQUID
        self.t_melt = next((r["T"] for r in rows if "LIQUID" in r["note"]), None)
        self.transitions = sorted({r["T"] for r in rows if "<-->" in r["note"] and TREF < r["T"] <= T_MAX})

    def covers(self, T: float) -> bool:
        return bool(self.T) and self.T[0] - 1e-9 <= T <= self.T[-1] + 1e-9

    def _interp(self, key: str, T: float) -> float | None:
        """Linear interpolation of column ``key`` over the rows that have it (a transition row
        carries a note instead of the enthalpy and Gibbs energy of formation)."""
        pts = [(r["T"], r[key]) for r in self.rows if r[key] is not None]
        for (ta, va), (tb, vb) in zip(pts, pts[1:]):
            if ta - 1e-9 <= T <= tb + 1e-9:
                return va if tb - ta < 1e-9 else va + (vb - va) * (T - ta) / (tb - ta)
        if len(pts) == 1 and abs(pts[0][0] - T) < 1e-9:
            return pts[0][1]
        return None

    def g_minus_h298(self, T: float) -> float | None:
        """G(T) - H(298.15) of this state, kJ/mol of its formula (G - H interpolated as -T*gef)."""
        if abs(T - TREF) < 1e-9:
            return -TREF * self.rows[0]["gef"] / 1000.0
        for a, b in zip(self.rows, self.rows[1:]):
            if a["T"] - 1e-9 <= T <= b["T"] + 1e-9:
                ga, gb = -a["T"] * a["gef"] / 1000.0, -b["T"] * b["gef"] / 1000.0
                if abs(b["T"] - a["T"]) < 1e-9:
                    return ga
                return ga + (gb - ga) * (T - a["T"]) / (b["T"] - a["T"])
        return None

    def dfg_per_atom(self, T: float) -> float | None:
        v = self._interp("dfG", T)
        return None if v is None else v / self.n

    def phase_at(self, T: float) -> str:
        if self.table_phase == "cr,l":
            return "l" if self.t_melt is not None and T >= self.t_melt - 1e-9 else "cr"
        return self.table_phase


# ---- a composition: its states, the stable one at each T
def reduced_formula(formula: str) -> str:
    from pymatgen.core import Composition

    return Composition(formula).reduced_formula


def derive_group(states: list[State]) -> list[dict]:
    """Rows (T, phase, gdelta, dfG, table) of one composition on the output grid."""
    states = [s for s in states if s.rows and s.covers(TREF)]
    if not states:
        return []

    def best(T):
        vals = [(s.dfg_per_atom(T), k) for k, s in enumerate(states) if s.covers(T)]
        vals = [(v, k) for v, k in vals if v is not None]
        return min(vals) if vals else (None, None)

    ref_val, ref_k = best(TREF)
    if ref_k is None:
        return []
    ref = states[ref_k]
    if ref.dfH298 is None:
        return []
    # every temperature any table has, to find where the stable table changes
    fine = sorted({t for s in states for t in s.T if TREF <= t <= T_MAX} | set(GRID))
    extra = set()
    prev_T, prev_k = TREF, ref_k
    for T in fine[1:]:
        _, k = best(T)
        if k is None:
            continue
        if k != prev_k:
            a, b = states[prev_k], states[k]
            # the crossing of the two per-atom dfG curves between prev_T and T
            da = [(a.dfg_per_atom(t) or 0.0) - (b.dfg_per_atom(t) or 0.0) if a.covers(t) and b.covers(t) else None
                  for t in (prev_T, T)]
            if None not in da and da[0] != da[1]:
                extra.add(round(prev_T + (T - prev_T) * da[0] / (da[0] - da[1]), 2))
            else:
                extra.add(T)
        prev_T, prev_k = T, k
    for k, s in enumerate(states):  # a table's own transitions, where that table is the stable one
        extra.update(t for t in s.transitions if best(t)[1] == k)
    out = []
    for T in sorted(set(GRID) | {t for t in extra if TREF < t <= T_MAX}):
        v, k = best(T)
        if k is None:
            continue
        s = states[k]
        g = s.g_minus_h298(T)
        if g is None or s.dfH298 is None:
            continue
        gdelta = (g + s.dfH298) / s.n - ref.dfH298 / ref.n
        out.append({"T_K": T, "phase": s.phase_at(T), "gdelta_eV_per_atom": gdelta * KJ_PER_MOL_EV,
                    "dfG_eV_per_atom": v * KJ_PER_MOL_EV, "janaf_table": s.tid})
    return out


def derive(source: Source) -> list[dict]:
    """All kept rows, sorted by formula and temperature."""
    groups: dict[str, list[tuple[str, str, str]]] = {}
    for tid, formula, _name, phase in source.index():
        if phase not in PHASES or "+" in formula or "-" in formula or "(" in formula:
            continue
        els = atoms(formula)
        if len(els) < 2 or "D" in els or "e" in els:
            continue  # elements (and their molecules) come from pymatgen's element table
        groups.setdefault(reduced_formula(formula), []).append((tid, formula, phase))
    rows = []
    label = f"NIST-JANAF/janaf-{source.version}"
    gases = {reduced_formula(f) for f in COMMON_GASES}
    for red, tables in sorted(groups.items()):
        els = set(atoms(red))
        condensed = any(p != "g" for _, _, p in tables)
        crystal = any(p in ("cr", "cr,l") for _, _, p in tables)
        integral = all(re.fullmatch(r"([A-Z][a-z]?\d*)+", f) for _, f, _ in tables)
        keep = integral and (("Li" in els and condensed) or (crystal and els <= set(ELEMENTS)) or red in gases)
        if not keep:
            continue
        # on a tie (a crystal table and the crystal+liquid table) the crystal+liquid table wins
        tables = sorted(tables, key=lambda t: PHASES.index(t[2]) if t[2] != "cr,l" else -1)
        states = [State(tid, f, p, parse_table(source.read(f"data/{tid}.txt"))) for tid, f, p in tables]
        for r in derive_group(states):
            rows.append({"formula": red, **r, "source": label})
    return rows


def write(rows: list[dict], out) -> None:
    w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "T_K": f"{r['T_K']:g}", "gdelta_eV_per_atom": f"{r['gdelta_eV_per_atom']:.6f}",
                    "dfG_eV_per_atom": f"{r['dfG_eV_per_atom']:.6f}"})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m screening.data.janaf", description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", help="the janaf wheel (.whl) or the installed janaf package folder "
                                     "(default: the installed janaf package)")
    ap.add_argument("--out", required=True, help="CSV to write ('-' for standard output)")
    args = ap.parse_args(argv)
    src = Source(args.source)
    rows = derive(src)
    if args.out == "-":
        write(rows, sys.stdout)
    else:
        buf = io.StringIO()
        write(rows, buf)
        Path(args.out).write_text(buf.getvalue(), encoding="utf-8")
        n = len({r["formula"] for r in rows})
        print(f"wrote {args.out}: {n} compounds, {len(rows)} rows from janaf {src.version}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
