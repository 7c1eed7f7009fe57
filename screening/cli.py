"""Command line: ``screening COMMAND``.  Data go to stdout (``--json``: a flat array of records for
commands that take several inputs, one object for ``react`` and ``data info``); status lines go
to stderr.

Bad input never shows a traceback: every value and output path is checked before any work, and
a problem prints one line on stderr naming it and the fix, with exit code 2.  Commands that take
several phases compute every one they can: a phase that is not in the data gets its own error
line (and an ``{"input", "error"}`` record with ``--json``), the others are printed, and the exit
code is 2.  Ctrl-C exits 130 and SIGTERM 143; neither leaves partial files.

The command line calls the Python API (``screening.api``); option values are checked there, in
``screening.settings``, and library messages that name a Python argument are reworded with the
command line's flag (``FLAGS``).  Each run carries its root options and what it wrote in a
:class:`Run` (typer's context object), not in module state.

Each command imports the modules it uses (pandas, scipy, pymatgen, matplotlib ...) when it runs,
so that ``--help``, ``--version`` and a single window start fast.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from screening import __version__, provenance
from screening.errors import InputError, ScreeningError
from screening.outputs import InterruptedAfterCommit

try:  # typer >= 0.20 vendors click (its Abort / Exit live in typer.exceptions)
    from typer._click import exceptions as click_exc
    from typer.exceptions import Abort, Exit
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exc
    from click.exceptions import Abort, Exit

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="First-principles interphase stability screener for solid-state Li batteries "
                       "(Materials Project data, CC BY 4.0).")
data_app = typer.Typer(no_args_is_help=True, help="Inspect or rebuild the phase data.", rich_markup_mode=None,
                       context_settings={"help_option_names": ["-h", "--help"]})
app.add_typer(data_app, name="data")

#: Python argument names of library messages -> the command line's flags
FLAGS = {"tolerance_eV_per_atom": "--tolerance", "gap_threshold_eV": "--gap", "open_li_V": "--open-li",
         "max_e_hull_eV_per_atom": "--max-e-hull", "weights": "--weights", "stage": "--stage",
         "electrolyte": "--electrolyte", "anode": "--anode", "voltage_V": "--voltage", "candidates": "--candidates",
         "max_red_V": "--max-red-V", "fmax": "--fmax", "steps": "--steps", "timeout": "--timeout",
         "thickness_um": "--thickness", "temperature_K": "--temperature", "side": "--side", "cathode": "--cathode",
         "cathode_voltage_V": "--voltage"}


@dataclass
class Run:
    """One command line run: its root options and the outputs it has written in full."""

    command: str
    shared: Path | None = None
    phases: Path | None = None
    exclude_artefacts: bool = True
    written: list[str] = field(default_factory=list)

    def store(self):
        from screening.store import open_store

        return open_store(shared=self.shared, phases=self.phases)

    def settings(self, weights: str = "", **kw):
        from screening.settings import CoatingWeights, Settings, Weights

        if kw.get("side") == "cathode":
            kw["coating_weights"] = CoatingWeights.parse(weights) if weights else CoatingWeights()
        else:
            kw["weights"] = Weights.parse(weights) if weights else Weights()
        return Settings(exclude_artefacts=self.exclude_artefacts, **kw)

    def wrote(self, path) -> None:
        """Note an output written in full (an interrupt after it says so, not 'nothing was written')."""
        self.written.append(str(path))

    def stopped(self, word: str) -> str:
        """The one line for an interrupted run, true to what was written."""
        if self.written:
            return f"error: {word} after {', '.join(self.written)} was written in full; nothing else was written"
        return f"error: {word}; nothing was written"


def _run(ctx: typer.Context) -> Run:
    return ctx.find_root().obj

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
ElectrolyteOpt = Annotated[str, typer.Option(help="Electrolyte (formula, formula:mp-id or phase id).")]
GapOpt = Annotated[float, typer.Option(help="A product insulates above this band gap (eV; measured where known, else the corrected PBE gap).")]
ToleranceOpt = Annotated[float, typer.Option(help="DFT-error tolerance (eV/atom): |E| below it is not ranked on.")]
ThicknessOpt = Annotated[float, typer.Option("--thickness", metavar="UM", help="Precursor (or interlayer) film thickness in um: the layer's thickness, Li consumed and resistance.")]
TemperatureOpt = Annotated[float, typer.Option("--temperature", metavar="K", help="Temperature in K (0: the 0 K DFT energies); the layer resistance is also given there.")]


def _out():
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 160)


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


def _version(value: bool):
    if value:
        print(f"screening {__version__}")
        raise Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    shared: Annotated[Path | None, typer.Option(help="Rebuild the phase data from this raw MP data folder (cached).")] = None,
    phases: Annotated[Path | None, typer.Option(help="CSV of user phases merged into this run's store.")] = None,
    exclude_artefacts: Annotated[bool, typer.Option("--exclude-artefacts/--include-artefacts", help="Leave phases flagged as DFT artefacts (dilute supercells like LiMg149, Li-metal compounds experiment does not know, like LiCu3) out of every hull (default), or keep them.")] = True,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
):
    provenance.now()  # a malformed SOURCE_DATE_EPOCH is found before any work
    for name, path in (("--shared", shared), ("--phases", phases)):
        if path is not None and ("\0" in str(path) or not str(path).strip()):
            raise InputError(f"{name} {str(path)!r}: give a path without NUL characters")
    if shared is not None and not shared.is_dir():
        raise InputError(f"--shared {shared} is not a folder: point it at the folder holding mp/, mp2025/ and densities/")
    if phases is not None and not phases.is_file():
        what = "is a folder" if phases.is_dir() else "not found"
        raise InputError(f"--phases {phases} {what}: give a CSV of user phases")
    run = ctx.find_root().obj
    run.shared, run.phases, run.exclude_artefacts = shared, phases, exclude_artefacts


def _emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def _table(title: str, columns: list[str], rows: list[list]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from screening.report.tables import fmt

    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c, min_width=24 if c == "error" else None)
    for r in rows:
        t.add_row(*[escape(fmt(v)) for v in r])
    _out().print(t)


def _each(items, compute):
    """(results, errors): ``compute(item)`` for every item; an item that fails with a screening
    error becomes (item, message) in ``errors`` instead of stopping the others."""
    results, errors = [], []
    for item in items:
        try:
            results.append((item, compute(item)))
        except ScreeningError as exc:
            errors.append((item, _message(exc)))
    return results, errors


def _report_errors(errors) -> None:
    """One stderr line per failed input; exit code 2 when any failed."""
    for item, msg in errors:
        _err(f"error: {item}: {msg}")
    if errors:
        raise Exit(2)


def _records(results, errors, record) -> list[dict]:
    """JSON records in input order: a result's record, or {"input", "error"} for a failed input."""
    failed = dict(errors)
    done = dict(results)
    return [record(done[i]) if i in done else {"input": i, "error": failed[i]} for i in dict.fromkeys([*done, *failed])]


def _check_formulas(formulas) -> None:
    """Malformed phase names are bad input, found before any work."""
    from screening.data.formula import parse_formula, split_identifier

    for f in formulas:
        formula, _ = split_identifier(f)
        if formula is not None:
            parse_formula(formula)


def _plot_target(path: Path | None):
    if path is None:
        return None
    from screening.outputs import check_file

    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise InputError(f"--plot {path}: use a .png, .svg or .pdf file name")
    return check_file(path, "--plot")


def _save_plot(run: Run, target, fig) -> None:
    import matplotlib.pyplot as plt

    from screening.outputs import atomic_write

    with atomic_write(target) as tmp:
        fmt = target.path.suffix.lower().lstrip(".") if not target.stream else Path(target.given).suffix.lstrip(".")
        with plt.rc_context({"svg.hashsalt": "screening"}):  # fixed SVG element ids: the same figure, the same bytes
            fig.savefig(tmp, format=fmt or "png", dpi=130,
                        metadata={"Date": None} if fmt in ("svg", "pdf") else {"Software": None})
    plt.close(fig)
    run.wrote(target.given)


# ----------------------------------------------------------------------------- data
@data_app.command("info")
def data_info(ctx: typer.Context, as_json: JsonOpt = False):
    """Counts and sources of the phase data (phases, hull/metastable/converted, band gaps, volumes)."""
    info = _run(ctx).store().info()
    if as_json:
        _emit_json(info)
        return

    def flat(prefix, value):
        if isinstance(value, dict):
            return [row for k, v in value.items() for row in flat(f"{prefix}.{k}" if prefix else k, v)]
        return [[prefix, ", ".join(map(str, value)) if isinstance(value, list) else value]]

    _table("phase data", ["field", "value"], flat("", info))


@data_app.command("build")
def data_build(
    ctx: typer.Context,
    into: Annotated[Path | None, typer.Option(help="Write the phase table here (developers: screening/_data) instead of the user cache.")] = None,
):
    """Rebuild the phase table from the raw MP data ($SCREENING_SHARED or --shared)."""
    from screening import build
    from screening.data import cache as cache_io
    from screening.data import files
    from screening.outputs import check_file

    run = _run(ctx)
    root = Path(run.shared) if run.shared else files.shared_root(required=True)
    if into is not None:
        if not into.is_dir():
            raise InputError(f"--into {into} is not a folder: give an existing folder")
        target = check_file(into / files.PHASES, "--into")
        table, info = build.build_table(root)
        cache_io.write_table(table, info, target.path)
        run.wrote(target.path)
        _err(f"{len(table)} phases written to {target.path}")
        return
    table, info = cache_io.cached_build(root, files.cache_dir(), build.build_table, rebuild=True)
    _err(f"{len(table)} phases built from {root} into the cache {files.cache_dir()}")


PHASE_KEYS = ["formula", "phase_id", "material_id", "origin", "formation_energy_eV_per_atom", "e_above_hull_eV_per_atom",
              "band_gap_eV", "band_gap_origin", "band_gap_error_eV", "band_gap_source", "molar_volume_cm3_per_mol",
              "volume_origin", "volume_source", "li_conductivity_S_per_cm", "li_activation_energy_eV", "li_conductivity_origin",
              "li_conductivity_source", "dimensionality", "correction_note", "uncertain", "artefact", "source"]


@app.command()
def phase(ctx: typer.Context,
          formulas: Annotated[list[str], typer.Argument(metavar="FORMULA", help="Phases, e.g. LiI Li7La3Zr2O12 LiI:mp-22899")],
          polymorphs: Annotated[bool, typer.Option("--polymorphs", help="List every polymorph of each formula.")] = False,
          temperature: TemperatureOpt = 0.0,
          as_json: JsonOpt = False):
    """Data of phases: formation energy (free energy at --temperature), e_above_hull, band gap, molar
    volume, Li+ conductivity, and their sources."""
    _check_formulas(formulas)
    run = _run(ctx)
    from screening import api

    settings = run.settings(temperature_K=temperature)
    store = api.source(run.store(), settings)

    def records(f):
        found = store.polymorphs(f) if polymorphs else [store.resolve(f)]
        out = []
        for r in found:
            rec = {k: getattr(r, k) for k in PHASE_KEYS}
            rec["e_above_hull_eV_per_atom"] = max(0.0, rec["e_above_hull_eV_per_atom"] or 0.0)
            rec["temperature_K"] = store.temperature_K
            rec["warnings"] = [str(c) for c in store.phase_set(r.chemsys.split("-")).caveats]
            out.append(rec)
        return out

    results, errors = _each(formulas, records)
    recs = [rec for _, group in results for rec in group]
    if as_json:
        _emit_json([rec for item in _records(results, errors, lambda g: g) for rec in (item if isinstance(item, list) else [item])])
    else:
        cols = ["formula", "phase_id", "formation_energy_eV_per_atom", "e_above_hull_eV_per_atom", "band_gap_eV",
                "molar_volume_cm3_per_mol", "volume_origin", "origin"]
        if recs:
            _table("phases", cols, [[r[c] for c in cols] for r in recs])
    _report_errors(errors)


@app.command()
def fetch(chemsys: Annotated[str, typer.Option(help="Chemical system, e.g. Li-La-Zr-O-I")],
          api_key: Annotated[str | None, typer.Option(help="MP API key (default $MP_API_KEY).")] = None,
          timeout: Annotated[float | None, typer.Option(help="Give up after this many seconds, all retries included "
                                                         "(default $SCREENING_FETCH_TIMEOUT or 60).")] = None):
    """Download a chemical system from the Materials Project API into the user cache (needs pip install 'screening[fetch]')."""
    from screening.data import files
    from screening.data.mp_api import fetch_chemsys

    path = fetch_chemsys(chemsys, files.cache_dir(), api_key=api_key, timeout=timeout)
    _err(f"fetched {chemsys} -> {path}")


# ----------------------------------------------------------------------------- thermodynamics
@app.command()
def window(ctx: typer.Context,
           formulas: Annotated[list[str], typer.Argument(metavar="FORMULA", help="Phases, e.g. Li7La3Zr2O12 LiI")],
           temperature: TemperatureOpt = 0.0,
           as_json: JsonOpt = False,
           plot: Annotated[Path | None, typer.Option(help="Save a windows chart (PNG/SVG/PDF).")] = None):
    """Electrochemical stability windows vs Li/Li+ (Li grand-potential phase diagram)."""
    _check_formulas(formulas)
    run = _run(ctx)
    settings = run.settings(temperature_K=temperature)
    target = _plot_target(plot)
    from screening import api

    store = run.store()
    results, errors = _each(formulas, lambda f: api.window(store, f, settings=settings))
    ws = [w for _, w in results]
    if target is not None and ws:
        from screening.report import figures

        _save_plot(run, target, figures.to_matplotlib(figures.windows_figure(ws)))
    if as_json:
        _emit_json(_records(results, errors, lambda w: w.record()))
    elif ws:
        _table("stability windows vs Li/Li+", ["formula", "material_id", "reduction_V", "oxidation_V", "reduction products",
                                                 "oxidation products", "e_above_hull", "warnings"],
               [[w.formula, w.material_id, w.reduction_limit_V, "no Li" if w.oxidation_limit_V is None else w.oxidation_limit_V,
                 " + ".join(w.reduction_products) or "stable vs Li", " + ".join(w.oxidation_products) or "-",
                 w.e_above_hull_eV_per_atom, "; ".join(map(str, w.warnings)) or "-"] for w in ws])
    _report_errors(errors)


@app.command()
def react(ctx: typer.Context,
          a: Annotated[str, typer.Argument(help="Reactant A, e.g. Li7La3Zr2O12")],
          b: Annotated[str, typer.Argument(help="Reactant B, e.g. Li")],
          open_li: Annotated[float | None, typer.Option("--open-li", help="Open to Li at this voltage vs Li/Li+ (V).")] = None,
          tolerance: ToleranceOpt = 0.02,
          temperature: TemperatureOpt = 0.0,
          as_json: JsonOpt = False,
          plot: Annotated[Path | None, typer.Option(help="Save the reaction-energy curve (PNG/SVG/PDF).")] = None):
    """Most exothermic interface reaction between A and B (closed, or open to Li)."""
    _check_formulas([a, b])
    run = _run(ctx)
    s = run.settings(tolerance_eV_per_atom=tolerance, temperature_K=temperature)
    from screening.settings import check_voltage

    check_voltage("open_li_V", open_li)
    target = _plot_target(plot)
    from screening import api

    store = run.store()
    r = api.react(store, a, b, open_li_V=open_li, settings=s)
    if target is not None:
        from screening.report import figures

        kinks = api.reaction_curve(store, a, b, open_li, settings=s)
        _save_plot(run, target, figures.to_matplotlib(figures.reaction_figure(
            kinks, r.reactants[0], r.reactants[1], f"{r.reactants[0]} | {r.reactants[1]}", s.tolerance_eV_per_atom)))
    if as_json:
        _emit_json(r.record() | {"temperature_K": s.temperature_K})
        return
    out = _out()
    flag = " (within DFT error)" if r.within_dft_error else ""
    out.print(f"{r.reactants[0]} ({r.material_ids[0]}) | {r.reactants[1]} ({r.material_ids[1]})"
              + (f" open to Li at {open_li:g} V" if open_li is not None else ""), markup=False, highlight=False)
    out.print(f"  reaction energy: {r.reaction_energy_eV_per_atom:.4f} {r.energy_basis}{flag}", markup=False)
    if r.raw_reaction_energy_eV_per_atom is not None:
        out.print(f"  incl. reactants' metastability: {r.raw_reaction_energy_eV_per_atom:.4f} eV/atom", markup=False)
    if r.decomposition_energy_eV_per_atom is not None:
        out.print(f"  reactants' own decomposition at {open_li:g} V: {r.decomposition_energy_eV_per_atom:.4f} {r.energy_basis}",
                  markup=False)
        out.print(f"  reaction energy with that decomposition: {r.reaction_energy_with_decomposition_eV_per_atom:.4f} "
                  f"{r.energy_basis}", markup=False)
    out.print(f"  mixing ratio x(A): {'-' if r.mixing_ratio is None else round(r.mixing_ratio, 4)}", markup=False)
    out.print(f"  reaction: {r.reaction}", markup=False, highlight=False)
    for w in r.warnings:
        out.print(f"  warning: {w}", markup=False, highlight=False)


@app.command()
def interphase(ctx: typer.Context,
               precursors: Annotated[list[str], typer.Argument(metavar="FORMULA", help="Precursor coatings, e.g. I2 ZnO")],
               electrolyte: ElectrolyteOpt = "Li7La3Zr2O12",
               gap: GapOpt = 1.0,
               tolerance: ToleranceOpt = 0.02,
               thickness: ThicknessOpt = 0.5,
               temperature: TemperatureOpt = 0.0,
               as_json: JsonOpt = False):
    """The interphase each precursor forms with Li metal: products, film, Li consumed, resistance and
    stability with the electrolyte."""
    _check_formulas([*precursors, electrolyte])
    run = _run(ctx)
    s = run.settings(electrolyte=electrolyte, gap_threshold_eV=gap, tolerance_eV_per_atom=tolerance, thickness_um=thickness,
                     temperature_K=temperature)
    from screening import api

    store = run.store()
    api.check_electrolyte(store.without_artefacts() if s.exclude_artefacts else store, s.electrolyte)
    results, errors = _each(precursors, lambda p: api.interphase(store, p, settings=s))
    if as_json:
        _emit_json(_records(results, errors, lambda r: r.record()))
    elif results:
        _table(f"interphases with Li metal (electrolyte {s.electrolyte})",
               ["precursor", "products", "Li/f.u.", "E_Li eV/atom", "V ratio", "electronic", "min gap eV",
                "E_electrolyte eV/atom", f"layer um (from {s.thickness_um:g})", "Li mAh/cm2", "ASR ohm cm2", "Li+ conductivity"],
               [[r.precursor, " + ".join(r.products), r.li_consumed_per_formula_unit, r.li_reaction_energy_eV_per_atom,
                 r.volume_ratio, r.electronic_character.value, r.min_product_band_gap_eV,
                 r.electrolyte_reaction_energy_eV_per_atom, r.film.interphase_thickness_um, r.film.li_consumed_mAh_per_cm2,
                 r.film.asr_ohm_cm2 if r.film.transport == "ionic" else r.film.transport, r.film.conductivity_origin]
                for _, r in results])
    _report_errors(errors)


@app.command()
def lithiate(ctx: typer.Context,
             precursors: Annotated[list[str], typer.Argument(metavar="FORMULA", help="Precursors, e.g. Al2O3 I2")],
             gap: GapOpt = 1.0,
             thickness: ThicknessOpt = 0.5,
             temperature: TemperatureOpt = 0.0,
             as_json: JsonOpt = False,
             plot: Annotated[Path | None, typer.Option(help="Save the lithiation staircase (PNG/SVG/PDF).")] = None):
    """The stages of a precursor's Li uptake as the voltage falls to 0 V (Li metal)."""
    _check_formulas(precursors)
    run = _run(ctx)
    s = run.settings(gap_threshold_eV=gap, thickness_um=thickness, temperature_K=temperature)
    target = _plot_target(plot)
    from screening import api

    store = run.store()
    results, errors = _each(precursors, lambda p: api.lithiate(store, p, settings=s))
    paths = [p for _, p in results]
    if target is not None and paths:
        from screening.report import figures

        _save_plot(run, target, figures.to_matplotlib(figures.lithiation_figure(paths)))
    if as_json:
        _emit_json(_records(results, errors, lambda p: p.record()))
    else:
        for p in paths:
            _table(f"lithiation of {p.precursor} ({p.material_id})", ["from V", "Li/f.u.", "products", "V ratio", "electronic",
                                                                     "min gap eV"],
                   [[st.voltage_V, st.li_per_formula_unit, " + ".join(f"{n:.3g} {f}" for f, n in
                                                                    zip(st.products, st.product_amounts_per_formula_unit, strict=True)),
                     st.volume_ratio, st.electronic_character.value, st.min_product_band_gap_eV] for st in p.stages]
                   or [["-", 0, f"{p.precursor} takes up no Li", 1.0, "-", "-"]])
    _report_errors(errors)


# ----------------------------------------------------------------------------- screen
def _excluded_elements(text: str) -> set[str]:
    """Element symbols of --exclude-elements (flag names expanded); InputError on junk."""
    if not text.strip():
        return set()
    from pymatgen.core import Element

    from screening.data import elements

    names = [p.strip() for p in text.split(",") if p.strip()]
    bad = [n for n in names if n not in elements.FLAGS and not Element.is_valid_symbol(n)]
    if bad:
        raise InputError(f"--exclude-elements: {bad[0]!r} is neither an element symbol nor one of "
                         f"{', '.join(elements.FLAGS)}: write e.g. Pb,Cd,radioactive")
    return elements.expand(names, elements.read_flags())


def _without_elements(cand, excluded: set[str]):
    """(candidates holding none of ``excluded``, the number left out)."""
    from screening.data.formula import parse_formula, split_identifier

    def holds(text: str) -> bool:
        formula, _ = split_identifier(text)
        return formula is not None and bool({e.symbol for e in parse_formula(formula).elements} & excluded)

    keep = ~cand.formula.map(holds)
    return cand[keep].reset_index(drop=True), int((~keep).sum())


def _candidates(formulas, candidates, all_li, store, settings, all_=False):
    from screening import ranking

    if all_:
        return ranking.all_candidates(store.without_artefacts() if settings.exclude_artefacts else store,
                                      settings.max_e_hull_eV_per_atom)
    if all_li:
        return ranking.all_li_candidates(store.without_artefacts() if settings.exclude_artefacts else store,
                                         settings.max_e_hull_eV_per_atom)
    if candidates:
        return ranking.load_candidates(candidates, side=settings.side)
    return ranking.as_candidates(formulas) if formulas else ranking.load_candidates(side=settings.side)


def _run_screen(store, cand, settings, quiet=False, runner=None):
    from screening import api

    if quiet or not sys.stderr.isatty():
        return api.screen(store, cand, settings, runner=runner)
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("screening", total=None)

        def tick(done, total, name):
            bar.update(task, completed=done, total=total, description=f"screening {name}")

        return api.screen(store, cand, settings, progress=tick, runner=runner)


@app.command()
def screen(ctx: typer.Context,
           formulas: Annotated[list[str] | None, typer.Argument(metavar="FORMULA", help="Candidate formulas (default: the shipped candidate list).")] = None,
           candidates: Annotated[Path | None, typer.Option(help="Candidate CSV (formula,kind,family,note).")] = None,
           all_li: Annotated[bool, typer.Option("--all-li", help="Every Li-bearing hull phase (with --max-e-hull: metastable ones too).")] = False,
           all_: Annotated[bool, typer.Option("--all", help="Every phase of the store as a candidate: precursors and interlayers (hull phases; with --max-e-hull: metastable ones too).")] = False,
           exclude_elements: Annotated[str, typer.Option("--exclude-elements", metavar="ELEMENTS", help="Leave out candidates holding these elements: symbols and/or radioactive, toxic, scarce, precious (e.g. Pb,Cd,radioactive).")] = "",
           electrolyte: ElectrolyteOpt = "Li7La3Zr2O12",
           anode: Annotated[str, typer.Option(help="Anode (Li metal only).")] = "Li",
           side: Annotated[str, typer.Option(help="anode: interlayers/precursors against Li metal; cathode: coatings between --cathode and the electrolyte.")] = "anode",
           cathode: Annotated[str, typer.Option(help="The cathode of a --side cathode screen.")] = "LiCoO2",
           voltage: Annotated[float | None, typer.Option("--voltage", metavar="V", help="The cathode's operating voltage vs Li/Li+ (default: its own delithiation voltage, the oxidation limit of its window).")] = None,
           fmt: Annotated[str, typer.Option("--format", help="table|csv|json|md|html|parquet")] = "table",
           as_json: JsonOpt = False,
           out_path: Annotated[Path | None, typer.Option("--out", help="Output file (html: a report folder).")] = None,
           weights: Annotated[str, typer.Option(help="Score weights, e.g. li=1,electrolyte=1,insulation=1,volume=0.5")] = "",
           tolerance: ToleranceOpt = 0.02,
           gap: GapOpt = 1.0,
           thickness: ThicknessOpt = 0.5,
           temperature: TemperatureOpt = 0.0,
           stage: Annotated[str, typer.Option(help="Rank on the full interphase (full) or the stage at the electrolyte's reduction limit (first).")] = "full",
           top: Annotated[int, typer.Option(help="Rows shown in the table format.")] = 25,
           max_red_v: Annotated[float | None, typer.Option("--max-red-V", help="Keep rows with reduction limit <= this (V vs Li/Li+; 0 = stable vs Li).")] = None,
           insulating_only: Annotated[bool, typer.Option("--insulating-only", help="Keep electronically insulating interphases.")] = False,
           li_stable: Annotated[bool, typer.Option("--li-stable", help="Keep rows with no reaction with Li beyond the DFT tolerance.")] = False,
           electrolyte_stable: Annotated[bool, typer.Option("--electrolyte-stable", help="Keep rows with no reaction with the electrolyte beyond the DFT tolerance.")] = False,
           max_e_hull: Annotated[float | None, typer.Option("--max-e-hull", help="e_above_hull limit (eV/atom) for --all, --all-li and the filters (default: hull phases; filters: the tolerance).")] = None,
           workers: Annotated[int | None, typer.Option(help="Run on a local Dask cluster of N worker processes.")] = None,
           scheduler: Annotated[str | None, typer.Option(help="Run on a Dask cluster, e.g. tcp://host:8786.")] = None,
           checkpoint: Annotated[Path | None, typer.Option(help="Folder for finished chunks of a Dask run (default: the cache folder).")] = None):
    """Screen and rank interlayer / precursor candidates against an electrolyte and Li metal."""
    from screening.report.tables import FORMATS

    run = _run(ctx)
    if as_json:
        if fmt not in ("table", "json"):
            raise InputError(f"--json and --format {fmt} disagree: give one of them")
        fmt = "json"
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    if sum(bool(x) for x in (formulas, candidates, all_li, all_)) > 1:
        raise InputError("give candidate formulas, --candidates FILE, --all-li or --all, only one of them")
    excluded = _excluded_elements(exclude_elements)
    if fmt in ("parquet", "html") and out_path is None:
        raise InputError(f"--format {fmt} writes {'a report folder' if fmt == 'html' else 'a binary file'}: "
                         f"give --out {'FOLDER' if fmt == 'html' else 'FILE.parquet'}")
    if top < 1:
        raise InputError(f"--top {top}: give at least 1 row")
    from screening.settings import check_voltage

    check_voltage("max_red_V", max_red_v)
    if anode != "Li":
        raise InputError(f"--anode {anode}: only Li metal anodes are modelled: leave --anode out")
    _check_formulas([electrolyte, cathode])
    if side != "cathode" and (voltage is not None or cathode != "LiCoO2"):
        raise InputError("--cathode and --voltage belong to a cathode-side screen: add --side cathode")
    if side == "cathode" and (all_li or all_):
        raise InputError("--all-li and --all screen against Li metal: leave them out of a --side cathode screen")
    settings = run.settings(electrolyte=electrolyte, tolerance_eV_per_atom=tolerance, gap_threshold_eV=gap, weights=weights,
                            stage=stage, max_e_hull_eV_per_atom=max_e_hull, thickness_um=thickness, temperature_K=temperature,
                            side=side, cathode=cathode, cathode_voltage_V=voltage)
    target = _out_target(out_path, fmt)
    if workers is not None or scheduler is not None or checkpoint is not None:
        from screening.distributed import check_options

        check_options(workers, scheduler, checkpoint)
    cand = None
    if candidates or formulas:
        cand = _candidates(formulas, candidates, False, None, settings)
    runner = None
    if workers or scheduler:
        from screening.data import files
        from screening.distributed import DaskRunner

        # the workers start (and import) while this process loads the store
        runner = DaskRunner(scheduler=scheduler, workers=workers, checkpoint=checkpoint or files.cache_dir() / "runs").start()
    try:
        store = run.store()
        if cand is None:
            cand = _candidates(None, None, all_li, store, settings, all_)
        if excluded:
            cand, n_out = _without_elements(cand, excluded)
            _err(f"{n_out} of {len(cand) + n_out} candidates left out for holding {', '.join(sorted(excluded))} (--exclude-elements)")
        df = _run_screen(store, cand, settings, quiet=fmt == "json", runner=runner)
    finally:
        if runner is not None:
            runner.close()  # only if the run never used it
    from screening import ranking

    df, removed = ranking.filter_ranking(df, settings, max_red_V=max_red_v, insulating_only=insulating_only,
                                         li_stable=li_stable, electrolyte_stable=electrolyte_stable)
    if removed:
        _err(f"{removed} of {len(df) + removed} rows removed by the filters (failed rows, above the e_above_hull limit, "
             "or not passing a filter)")
    _emit_screen(run, store, df, fmt, target, settings, top)


def _out_target(out_path: Path | None, fmt: str):
    if out_path is None:
        return None
    from screening.outputs import check_file
    from screening.report.tables import SIDECAR

    if fmt == "html":
        from screening.report import check_report_folder

        return check_report_folder(out_path)
    target = check_file(out_path)
    if fmt == "csv" and not target.stream:
        check_file(str(target.path) + SIDECAR, "--out (provenance sidecar)")
    return target


def _emit_screen(run: Run, store, df, fmt, target, settings, top):
    from screening import api, report

    failed = df["error"].fillna("").astype(bool)
    if failed.any():
        _err(f"{int(failed.sum())} of {len(df)} candidates could not be evaluated: their rows carry the error "
             f"({', '.join(df.candidate[failed].head(5))}{' ...' if failed.sum() > 5 else ''})")

    if fmt == "html":
        figures = api.report_inputs(store, df, settings)
        folder = report.write_report(df, target, settings, provenance.record(settings, run.command, store), figures)
        run.wrote(folder)
        _err(f"report written to {folder}/report.html")
        return
    if target is not None:
        report.write_file(df, target, "md" if fmt == "table" else fmt, provenance.record(settings, run.command, store))
        run.wrote(target.given)
        _err(f"{len(df)} rows written to {target.given}")
        return
    if fmt == "json":
        _emit_json(report.records(df))
    elif fmt == "csv":
        report.tables.flat_frame(df).to_csv(sys.stdout, index=False)
    elif fmt == "md":
        sys.stdout.write(report.markdown_table(df) + "\n")
    else:
        from screening.ranking.schema import terminal_columns

        cols = terminal_columns(settings.side) + (["error"] if failed.head(top).any() else [])
        what = f"coatings between {settings.cathode} and {settings.electrolyte}" if settings.side == "cathode" else \
            f"screen vs {settings.electrolyte}"
        shown = df.head(top).copy()
        shown["warnings"] = [f"{len(w)} (see --json)" if len(w) else "-" for w in shown["warnings"]]
        if "rank_range" in cols:  # the robust rank interval in one narrow column
            shown["rank_range"] = ["-" if __import__("pandas").isna(a) else f"{a:.0f}-{b:.0f}" for a, b in zip(shown.rank_low, shown.rank_high, strict=True)]
        _table(f"{what} (top {min(top, len(df))} of {len(df)})", [report.header(c) if c != "rank_range" else "rank 5-95%" for c in cols],
               [list(r) for r in shown[cols].itertuples(index=False)])


@app.command()
def explain(ctx: typer.Context,
            candidate: Annotated[str, typer.Argument(help="A candidate, e.g. LiF")],
            candidates: Annotated[Path | None, typer.Option(help="Rank among this candidate CSV (default: the shipped list).")] = None,
            electrolyte: ElectrolyteOpt = "Li7La3Zr2O12",
            weights: Annotated[str, typer.Option(help="Score weights, e.g. li=1,electrolyte=1,insulation=1,volume=0.5")] = "",
            tolerance: ToleranceOpt = 0.02,
            gap: GapOpt = 1.0,
            stage: Annotated[str, typer.Option(help="full or first (see screen --help).")] = "full",
            as_json: JsonOpt = False):
    """How a candidate's score and rank were made (among the candidate list)."""
    from screening import api, ranking

    run = _run(ctx)
    _check_formulas([candidate, electrolyte])
    settings = run.settings(electrolyte=electrolyte, tolerance_eV_per_atom=tolerance, gap_threshold_eV=gap, weights=weights,
                            stage=stage)
    cand = ranking.load_candidates(candidates)
    extra = ranking.as_candidates([candidate])
    store = run.store()
    if candidate not in set(cand.formula):
        import pandas as pd

        cand = pd.concat([cand, extra], ignore_index=True)
    df = api.screen(store, cand, settings)
    text = ranking.explain(df, candidate, settings)
    if as_json:
        from screening.report.tables import records

        row = df[(df.candidate == candidate)]
        _emit_json({"explanation": text.splitlines(), "row": records(row)[0] if len(row) else None})
        return
    print(text)


@app.command()
def demo(ctx: typer.Context,
         out_dir: Annotated[Path, typer.Option("--out", help="Report folder.")] = Path("screening-report"),
         electrolyte: ElectrolyteOpt = "Li7La3Zr2O12"):
    """The main job: the LLZO/LiI seed case, then a ranked screen of the shipped candidates with a report."""
    from screening import api, report

    run = _run(ctx)
    _check_formulas([electrolyte])
    settings = run.settings(electrolyte=electrolyte)
    folder = report.check_report_folder(out_dir)
    t0 = time.perf_counter()
    store = run.store()
    seed_text = report.seed_case_text(api.seed_case(store, settings.electrolyte, settings=settings))
    out = _out()
    out.print(f"[bold]Seed case: Li | {settings.electrolyte} and the I2 -> LiI interphase[/bold]")
    out.print(seed_text, highlight=False, markup=False)
    df = _run_screen(store, None, settings)
    folder = report.write_report(df, folder, settings, provenance.record(settings, run.command, store),
                                 api.report_inputs(store, df, settings), seed=seed_text)
    run.wrote(folder)
    cols = ["rank_label", "rank_low", "rank_high", "candidate", "kind", "score", "interphase", "electronic_character",
            "volume_ratio", "asr_ohm_cm2", "electrolyte_reaction_energy_eV_per_atom"]
    _table(f"top 10 of {len(df)} candidates vs {settings.electrolyte}", [report.header(c) for c in cols],
           [list(r) for r in df[cols].head(10).itertuples(index=False)])
    _err(f"report: {folder}/report.html  ({time.perf_counter() - t0:.1f} s)")


@app.command("add-structure")
def add_structure(
    ctx: typer.Context,
    files_: Annotated[list[Path], typer.Argument(metavar="FILES", help="CIF or POSCAR files (or folders of them) of hypothetical phases.")],
    relax: Annotated[bool, typer.Option("--relax/--no-relax", help="Relax cell and ions with CHGNet (else score the structure as given).")] = True,
    name: Annotated[list[str] | None, typer.Option("--name", help="Phase name, once per file (default: the file name).")] = None,
    fmax: Annotated[float, typer.Option(help="Force tolerance of the relaxation (eV/A).")] = 0.05,
    steps: Annotated[int, typer.Option(help="Maximum optimizer steps.")] = 500,
    band_gap: Annotated[list[float] | None, typer.Option("--band-gap", help="Band gap (eV), once per file, if known (CHGNet gives none).")] = None,
    electrolyte: Annotated[str | None, typer.Option(help="Then screen the new phases against this electrolyte.")] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="Also write the phases as a user CSV (use with --phases FILE).")] = None,
    as_json: JsonOpt = False,
):
    """Relax crystal structures with CHGNet and place them on the MP hull (needs pip install 'screening[mlip]')."""
    from screening import mlip

    run = _run(ctx)
    mlip.check_relax_options(fmax, steps)
    target = None
    if out_path is not None:
        from screening.outputs import check_file

        target = check_file(out_path)
    store = run.store()
    settings = run.settings(electrolyte=electrolyte) if electrolyte else None
    if electrolyte:
        from screening import api

        api.check_electrolyte(store, electrolyte)
    kw = dict(relax=relax, names=name or None, band_gap_eV=band_gap or None, fmax=fmax, steps=steps)
    if as_json or not sys.stderr.isatty():
        new, df = mlip.add_structures(store, files_, **kw)
    else:
        from rich.console import Console
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("CHGNet", total=None)
            new, df = mlip.add_structures(
                store, files_, **kw,
                progress=lambda done, total, label: bar.update(task, completed=done, total=total,
                                                               description=f"CHGNet {Path(label).name}"))
    if target is not None:
        mlip.to_user_csv(df, target)
        run.wrote(target.given)
    from screening.report.tables import records

    recs = records(df.drop(columns=["structure"]))
    screened = None
    if settings is not None:
        from screening import ranking

        screened = _run_screen(new, ranking.as_candidates(list(df.phase_id)), settings, quiet=as_json)
    if as_json:
        _emit_json({"phases": recs, "screen": None if screened is None else records(screened)})
        return
    _table(f"CHGNet phases ({df.model.iloc[0]}) vs the MP hull", [
        "phase_id", "formula", "E eV/atom", "MP hull eV/atom", "E above hull meV/atom", "V_m cm3/mol", "steps",
        "converged", "cached", "warning"],
        [[r.phase_id, r.formula, r.energy_eV_per_atom, r.mp_hull_energy_eV_per_atom, 1000 * r.e_above_hull_eV_per_atom,
          r.molar_volume_cm3_per_mol, r.n_steps, r.converged, r.cached, r.warning or "-"] for r in df.itertuples()])
    if not band_gap:
        _err("band gap: unknown (CHGNet gives no band gap): give it with --band-gap if you know it")
    if target is not None:
        _err(f"{len(df)} phases written to {target.given}: add them to any command with `screening --phases {target.given} ...` "
             "(there they are named user:NAME)")
    if screened is not None:
        _emit_screen(run, new, screened, "table", None, settings, 25)


# ----------------------------------------------------------------------------- entry point
def _terminate(signum, frame):  # SIGTERM: unwind like Ctrl-C, so temporary files are removed
    raise SystemExit(143)


def _stdout_closed() -> bool:
    """True when the process was started with its standard output closed (``>&-``)."""
    if sys.stdout is None:
        return True
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):  # not a real file (captured in tests): fine
        return False
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def main(argv: list[str] | None = None) -> int:
    """Console entry point: one-line errors, exit 2 on bad input, 130 on Ctrl-C, 143 on SIGTERM."""
    if sys.stderr is None:  # nowhere to say anything: run with stderr discarded
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    if _stdout_closed():
        _err("error: standard output is closed: redirect it to a file (> out.txt) or to /dev/null")
        return 2
    limit = _limits_problem()
    if limit:
        _err(f"error: {limit}")
        return 2
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        previous = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


#: address space a command needs (the libraries alone map ~1.9 GB; beyond it native code aborts
#: instead of raising MemoryError), and open files (a local Dask cluster needs ~100)
MIN_ADDRESS_SPACE_MB = 3000
MIN_OPEN_FILES = 256


def _limits_problem() -> str | None:
    """The process limit that would make a command die in native code, named with its fix."""
    try:
        import resource
    except ImportError:  # not POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY and soft < MIN_ADDRESS_SPACE_MB << 20:
        return (f"the memory limit (ulimit -v) is {soft >> 20} MB, below the {MIN_ADDRESS_SPACE_MB} MB of address space "
                "screening needs: raise it (ulimit -v unlimited) and rerun")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < MIN_OPEN_FILES:
        want = MIN_OPEN_FILES if hard == resource.RLIM_INFINITY else min(MIN_OPEN_FILES, hard)
        if want <= soft:
            return (f"the open-file limit (ulimit -n) is {soft}, below the {MIN_OPEN_FILES} screening needs: "
                    f"raise it (ulimit -n {MIN_OPEN_FILES}) and rerun")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # raising the soft limit needs no privilege
    return None


def _message(exc: ScreeningError) -> str:
    """The error text, with a Python argument name replaced by the command line's flag (its
    ``name=value`` form, a leading name, and identifier-like names anywhere)."""
    text = str(exc)
    arg = getattr(exc, "argument", None)
    base, _, key = (arg or "").partition(".")
    if base in FLAGS:
        name = f"{base}.{key}" if key else base
        flag = FLAGS[base] + (f" {key}" if key else "")
        text = text.replace(f"{name}=", f"{flag}{'=' if key else ' '}")
        if text.startswith(name):
            text = flag + text[len(name):]
        if "_" in name or "." in name:
            text = text.replace(name, flag)
    return text


def _main(argv) -> int:
    run = Run(command=provenance.command_line(argv))
    try:
        # outside standalone mode typer turns Ctrl-C into Exit(130) and returns that code
        code = app(args=argv, standalone_mode=False, prog_name="screening", obj=run)
        if code == 130:
            _err(run.stopped("interrupted"))
        if isinstance(code, int) and code:
            return code
    except InterruptedAfterCommit as exc:  # the signal waited for an output to be complete
        run.wrote(exc.path)
        _err(run.stopped("terminated" if exc.signum == signal.SIGTERM else "interrupted"))
        return 143 if exc.signum == signal.SIGTERM else 130
    except ScreeningError as exc:
        _err(f"error: {_message(exc)}")
        return 2
    except click_exc.NoArgsIsHelpError as exc:
        if exc.ctx is not None:
            print(exc.ctx.get_help())
        return 2
    except click_exc.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx else "screening"
        _err(f"error: {exc.format_message()} (see `{cmd} --help`)")
        return 2
    except Abort:
        _err(run.stopped("interrupted"))
        return 130
    except Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        _err(run.stopped("interrupted"))
        return 130
    except SystemExit as exc:
        if exc.code == 143:
            _err(run.stopped("terminated"))
        return exc.code if isinstance(exc.code, int) else 1
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        _silence_stdout()
        return 0
    except OverflowError as exc:  # huge numbers given as options
        _err(f"error: a number is out of range ({exc}): give a smaller value")
        return 2
    except MemoryError:
        _err("error: out of memory: free memory or raise the limit (ulimit -v), or screen fewer candidates per run")
        return 2
    except OSError as exc:  # the system refused a read or write (stdout on a full disk, a vanished file ...)
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            _err("error: too many open files: raise the limit (ulimit -n 1024 or more) and rerun")
            return 2
        if exc.errno in (errno.ENOMEM, errno.EAGAIN) and exc.filename is None:
            _err(f"error: the system is out of memory or processes ({exc.strerror}): free memory or raise the limits (ulimit -v, ulimit -u)")
            return 2
        name = str(exc.filename or "")
        name = name if len(name) <= 80 else name[:38] + "..." + name[-38:]
        where = f" {name}" if name else " standard output" if exc.errno in (errno.ENOSPC, errno.EIO) else ""
        _err(f"error: cannot read or write{where} ({exc.strerror or exc}): check the path, the disk and the permissions")
        _silence_stdout()
        return 2
    return 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's flush at exit does not fail a second time."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (AttributeError, ValueError, OSError):
        pass


if __name__ == "__main__":
    sys.exit(main())
