"""Command line: ``screening COMMAND``; ``--json`` gives machine-readable output.

Bad input never shows a traceback: one line on stderr naming the problem and the fix, exit 2.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from screening.errors import InputError, ScreeningError

try:  # typer >= 0.20 vendors click (its Abort / Exit live in typer.exceptions)
    from typer._click import exceptions as click_exc
    from typer.exceptions import Abort, Exit
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exc
    from click.exceptions import Abort, Exit

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="First-principles interphase stability screener for solid-state Li batteries.")
data_app = typer.Typer(no_args_is_help=True, help="Inspect the phase store.")
app.add_typer(data_app, name="data")
out = Console(width=None if sys.stdout.isatty() else 160)
_OPTS: dict = {}

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


@app.callback()
def _root(
    shared: Annotated[Path | None, typer.Option(help="Shared data folder (default $SCREENING_SHARED or ../shared).")] = None,
    phases: Annotated[Path | None, typer.Option(help="CSV of user phases merged into this run's store.")] = None,
):
    _OPTS.update(shared=shared, phases=phases)


def _store():
    from screening.data.store import open_store

    if _OPTS.get("shared") is not None and not Path(_OPTS["shared"]).is_dir():
        raise InputError(f"--shared {_OPTS['shared']} is not a folder: point it at the folder holding mp/ and densities/")
    return open_store(shared=_OPTS.get("shared"), user_phases=_OPTS.get("phases"))


def _clean(v):
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def _emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def _cell(v) -> str:
    """Table cell text: '-' for missing values, 4 significant digits, no rich markup."""
    import pandas as pd
    from rich.markup import escape

    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else escape(str(v))


def _table(title: str, columns: list[str], rows: list[list]) -> None:
    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[_cell(v) for v in r])
    out.print(t)


# ----------------------------------------------------------------------------- data
@data_app.command("info")
def data_info(as_json: JsonOpt = False):
    """Counts and sources of the phase store."""
    info = _store().info()
    if as_json:
        _emit_json(info)
        return
    _table("phase store", ["field", "value"], [[k, json.dumps(v) if isinstance(v, list) else v] for k, v in info.items()])


@app.command()
def phase(formulas: Annotated[list[str], typer.Argument(help="Formulas, e.g. LiI Li7La3Zr2O12")], as_json: JsonOpt = False):
    """MP data of phases: formation energy, e_above_hull, band gap, molar volume, source."""
    store = _store()
    recs = []
    for f in formulas:
        r = store.lookup(f)
        recs.append({
            "formula": r.formula,
            "material_id": r.material_id or None,
            "formation_energy_eV_per_atom": _clean(round(float(r.formation_energy_eV_per_atom), 5)),
            "e_above_hull_eV_per_atom": _clean(round(max(0.0, float(r.e_above_hull_eV_per_atom)), 5)),
            "band_gap_eV": _clean(float(r.band_gap_eV)),
            "molar_volume_cm3_per_mol": _clean(round(float(r.molar_volume_cm3_per_mol), 4)),
            "source": r.source,
            "correction": r.correction_note,
            "volume_source": r.volume_source or None,
            "warnings": store.warnings_for(r.chemsys.split("-")),
        })
    if as_json:
        _emit_json(recs)
        return
    cols = ["formula", "material_id", "formation_energy_eV_per_atom", "e_above_hull_eV_per_atom", "band_gap_eV",
            "molar_volume_cm3_per_mol", "source"]
    _table("phases", cols, [[r[c] for c in cols] for r in recs])


@app.command()
def fetch(chemsys: Annotated[str, typer.Option(help="Chemical system, e.g. Li-La-Zr-O-I")],
          api_key: Annotated[str | None, typer.Option(help="MP API key (default $MP_API_KEY).")] = None):
    """Download a chemical system from the Materials Project API into the local cache."""
    from screening import config
    from screening.data.mp_api import fetch_chemsys

    path = fetch_chemsys(chemsys, config.cache_dir(), api_key=api_key)
    out.print(f"fetched {chemsys} -> {path}")


@app.command("add-structure")
def add_structure(
    files: Annotated[list[Path], typer.Argument(help="CIF or POSCAR files (or folders of them) of hypothetical phases.")],
    relax: Annotated[bool, typer.Option("--relax/--no-relax", help="Relax cell and ions with CHGNet (else score the structure as given).")] = True,
    name: Annotated[list[str] | None, typer.Option("--name", help="Phase name, once per file (default: the file name).")] = None,
    fmax: Annotated[float, typer.Option(help="Force tolerance of the relaxation (eV/A).")] = 0.05,
    steps: Annotated[int, typer.Option(help="Maximum optimizer steps.")] = 500,
    band_gap: Annotated[list[float] | None, typer.Option("--band-gap", help="Band gap (eV), once per file, if known (CHGNet gives none).")] = None,
    electrolyte: Annotated[str | None, typer.Option(help="Then screen the new phases against this electrolyte.")] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="Also write the phases as a user CSV (use with --phases FILE).")] = None,
    as_json: JsonOpt = False,
):
    """Relax crystal structures with CHGNet and place them on the MP hull (needs pip install -e '.[mlip]')."""
    from screening import mlip, ranking

    if not (fmax > 0 and math.isfinite(fmax)):
        raise InputError(f"--fmax {fmax}: give a positive force tolerance in eV/A, e.g. 0.05")
    if steps < 1:
        raise InputError(f"--steps {steps}: give a positive number of optimizer steps, e.g. 500")
    if out_path is not None and not out_path.parent.is_dir():
        raise InputError(f"--out {out_path}: folder {out_path.parent} does not exist")
    store = _store()
    if electrolyte:
        store.lookup(electrolyte)
    kw = dict(relax=relax, names=name or None, band_gap_eV=band_gap or None, fmax=fmax, steps=steps)
    if as_json or not sys.stderr.isatty():
        new, df = mlip.add_structures(store, files, **kw)
    else:
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("CHGNet", total=None)
            new, df = mlip.add_structures(
                store, files, **kw,
                progress=lambda done, total, label: bar.update(task, completed=done, total=total,
                                                               description=f"CHGNet {Path(label).name}"))
    if out_path is not None:
        mlip.to_user_csv(df, out_path)
    recs = [{k: _clean(v) for k, v in r.items() if k != "structure"} for r in df.to_dict("records")]
    if electrolyte:
        screened = _run_screen(new, ranking.as_candidates(list(df.formula)), electrolyte, "Li", ranking.Weights(), 0.02,
                               quiet=as_json)
    if as_json:
        _emit_json({"phases": recs, "screen": None if not electrolyte else
                    [{k: _clean(v) for k, v in r.items()} for r in screened.to_dict("records")]})
        return
    _table(f"CHGNet phases ({df.model.iloc[0]}) vs the MP hull", [
        "phase_id", "formula", "E eV/atom", "MP hull eV/atom", "E above hull meV/atom", "V_m cm3/mol", "steps",
        "converged", "cached", "warning"],
        [[r.phase_id, r.formula, r.energy_eV_per_atom, r.mp_hull_energy_eV_per_atom, 1000 * r.e_above_hull_eV_per_atom,
          r.molar_volume_cm3_per_mol, r.n_steps, r.converged, r.cached, r.warning or "-"] for r in df.itertuples()])
    out.print("band gap: unknown (CHGNet gives no band gap) unless --band-gap is given")
    if out_path is not None:
        out.print(f"{len(df)} phases written to {out_path}: add them to any command with `screening --phases {out_path} ...`")
    if electrolyte:
        _emit_screen(new, screened, "table", None, electrolyte, 25)


# ----------------------------------------------------------------------------- thermodynamics
@app.command()
def window(formulas: Annotated[list[str], typer.Argument(help="Phases, e.g. Li7La3Zr2O12 LiI")],
           as_json: JsonOpt = False,
           plot: Annotated[Path | None, typer.Option(help="Save a windows chart (PNG/SVG).")] = None):
    """Electrochemical stability windows vs Li/Li+ (Li grand-potential phase diagram)."""
    from screening.thermo.windows import window as compute

    store = _store()
    ws = [compute(store, f) for f in formulas]
    if plot:
        _save(plot, "windows_chart", ws)
    if as_json:
        _emit_json([w.to_dict() for w in ws])
        return
    _table("stability windows vs Li/Li+", ["formula", "reduction_V", "oxidation_V", "reduction products",
                                             "oxidation products", "e_above_hull"],
           [[w.formula, w.reduction_limit_V, w.oxidation_limit_V, " + ".join(w.reduction_products) or "stable vs Li",
             " + ".join(w.oxidation_products) or "-", w.e_above_hull_eV_per_atom] for w in ws])


def _tolerance(value: float) -> float:
    if not (value >= 0 and math.isfinite(value)):
        raise InputError(f"--tolerance {value}: give a non-negative energy in eV/atom, e.g. 0.02")
    return value


@app.command()
def react(a: Annotated[str, typer.Argument(help="Reactant A, e.g. Li7La3Zr2O12")],
          b: Annotated[str, typer.Argument(help="Reactant B, e.g. Li")],
          open_li: Annotated[float | None, typer.Option("--open-li", help="Open to Li at this voltage vs Li/Li+ (V).")] = None,
          tolerance: Annotated[float, typer.Option(help="DFT-error tolerance (eV/atom).")] = 0.02,
          as_json: JsonOpt = False,
          plot: Annotated[Path | None, typer.Option(help="Save the reaction-energy curve (PNG/SVG).")] = None):
    """Most exothermic interface reaction between A and B (closed, or open to Li)."""
    from screening.thermo.reactions import react as compute
    from screening.thermo.reactions import reaction_kinks

    store = _store()
    r = compute(store, a, b, open_li_V=open_li, tolerance_eV_per_atom=_tolerance(tolerance))
    if plot:
        _save(plot, "reaction_curve", reaction_kinks(store, a, b, open_li), r.reactants[0], r.reactants[1])
    if as_json:
        _emit_json(r.to_dict())
        return
    flag = " (within DFT error)" if r.within_dft_error else ""
    out.print(f"{r.reactants[0]} | {r.reactants[1]}" + (f" open to Li at {open_li} V" if open_li is not None else ""))
    out.print(f"  reaction energy: {r.reaction_energy_eV_per_atom:.4f} eV/atom{flag}")
    if r.raw_reaction_energy_eV_per_atom is not None:
        out.print(f"  incl. reactants' metastability: {r.raw_reaction_energy_eV_per_atom:.4f} eV/atom")
    out.print(f"  mixing ratio x(A): {r.mixing_ratio if r.mixing_ratio is None else round(r.mixing_ratio, 4)}")
    out.print(f"  reaction: {r.reaction}")
    for w in r.warnings:
        out.print(f"  warning: {w}")


@app.command()
def interphase(precursors: Annotated[list[str], typer.Argument(help="Precursor coatings, e.g. I2 ZnO")],
               electrolyte: Annotated[str, typer.Option(help="Electrolyte formula.")] = "Li7La3Zr2O12",
               gap: Annotated[float, typer.Option(help="Insulating above this PBE gap (eV).")] = 1.0,
               as_json: JsonOpt = False):
    """The interphase each precursor forms with Li metal, and its stability with the electrolyte."""
    from screening.interphase import interphase as compute

    if not (gap >= 0 and math.isfinite(gap)):
        raise InputError(f"--gap {gap}: give a non-negative band gap in eV, e.g. 1.0")
    store = _store()
    store.lookup(electrolyte)
    res = [compute(store, p, electrolyte=electrolyte, gap_threshold_eV=gap) for p in precursors]
    if as_json:
        _emit_json([r.to_dict() for r in res])
        return
    _table(f"interphases with Li metal (electrolyte {electrolyte})",
           ["precursor", "products", "Li/f.u.", "E_Li eV/atom", "V ratio", "V ratio +Li", "electronic",
            "min gap eV", "E_electrolyte eV/atom"],
           [[r.precursor, " + ".join(r.products), r.li_consumed_per_formula_unit, r.li_reaction_energy_eV_per_atom,
             r.volume_ratio, r.volume_ratio_with_li, r.electronic_character, r.min_product_band_gap_eV,
             r.electrolyte_reaction_energy_eV_per_atom] for r in res])


@app.command()
def screen(formulas: Annotated[list[str] | None, typer.Argument(help="Candidate formulas (default: data/candidates.csv).")] = None,
           candidates: Annotated[Path | None, typer.Option(help="Candidate CSV (formula,kind,family,note).")] = None,
           all_li: Annotated[bool, typer.Option("--all-li", help="Every Li-bearing phase of the store as a candidate.")] = False,
           electrolyte: Annotated[str, typer.Option(help="Electrolyte formula.")] = "Li7La3Zr2O12",
           anode: Annotated[str, typer.Option(help="Anode (Li metal).")] = "Li",
           fmt: Annotated[str, typer.Option("--format", help="table|csv|json|md|html|parquet")] = "table",
           out_path: Annotated[Path | None, typer.Option("--out", help="Output file (html: a report folder).")] = None,
           weights: Annotated[str, typer.Option(help="Score weights, e.g. li=1,electrolyte=1,insulation=1,volume=0.5")] = "",
           tolerance: Annotated[float, typer.Option(help="DFT-error tolerance (eV/atom).")] = 0.02,
           top: Annotated[int, typer.Option(help="Rows shown in the table format.")] = 25,
           gap: Annotated[float, typer.Option(help="Insulating above this PBE gap (eV); PBE underestimates gaps.")] = 1.0,
           max_red_v: Annotated[float | None, typer.Option("--max-red-V", help="Keep rows with reduction limit <= this (V vs Li/Li+; 0 = stable vs Li).")] = None,
           insulating_only: Annotated[bool, typer.Option("--insulating-only", help="Keep electronically insulating interphases.")] = False,
           li_stable: Annotated[bool, typer.Option("--li-stable", help="Keep rows with no reaction with Li beyond the DFT tolerance.")] = False,
           electrolyte_stable: Annotated[bool, typer.Option("--electrolyte-stable", help="Keep rows with no reaction with the electrolyte beyond the DFT tolerance.")] = False,
           workers: Annotated[int | None, typer.Option(help="Run on a local Dask cluster of N worker processes.")] = None,
           scheduler: Annotated[str | None, typer.Option(help="Run on a Dask cluster, e.g. tcp://host:8786.")] = None,
           checkpoint: Annotated[Path | None, typer.Option(help="Folder for finished chunks (Dask runs resume from it; default: the cache folder).")] = None):
    """Screen and rank interlayer / precursor candidates against an electrolyte and Li metal."""
    from screening import config, ranking, report

    if fmt not in report.FORMATS:
        raise InputError(f"--format {fmt}: choose one of {', '.join(report.FORMATS)}")
    if sum(bool(x) for x in (formulas, candidates, all_li)) > 1:
        raise InputError("give candidate formulas, --candidates FILE or --all-li, only one of them")
    if fmt in ("parquet", "html") and out_path is None:
        raise InputError(f"--format {fmt} needs --out PATH")
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers}: give at least 1 worker process")
    if max_red_v is not None and (not math.isfinite(max_red_v) or max_red_v < 0):
        raise InputError(f"--max-red-V {max_red_v}: give a voltage >= 0 V vs Li/Li+")
    if not (gap >= 0 and math.isfinite(gap)):
        raise InputError(f"--gap {gap}: give a non-negative band gap in eV, e.g. 1.0")
    w = ranking.Weights.parse(weights) if weights else ranking.Weights()
    runner = None
    if workers or scheduler:
        from screening.distributed import DaskRunner

        # the workers start (and import) while this process loads the store
        runner = DaskRunner(scheduler=scheduler, workers=workers,
                            checkpoint=checkpoint or config.cache_dir() / "runs").start()
    try:
        store = _store()
        if all_li:
            cand = ranking.all_li_candidates(store)
        elif candidates:
            cand = ranking.load_candidates(candidates)
        else:
            cand = ranking.as_candidates(formulas) if formulas else None
        df = _run_screen(store, cand, electrolyte, anode, w, _tolerance(tolerance), quiet=fmt == "json",
                         runner=runner, gap=gap)
    finally:
        if runner is not None:
            runner.close()  # only if the run never used it
    df = ranking.filter_ranking(df, max_red_V=max_red_v, insulating_only=insulating_only, li_stable=li_stable,
                                electrolyte_stable=electrolyte_stable)
    _emit_screen(store, df, fmt, out_path, electrolyte, top)


def _run_screen(store, cand, electrolyte, anode, weights, tolerance, quiet=False, runner=None, gap=1.0):
    from screening import ranking

    if quiet or not sys.stderr.isatty():
        return ranking.screen(store, cand, electrolyte=electrolyte, anode=anode, weights=weights, tolerance=tolerance,
                              runner=runner, gap=gap)
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("screening", total=None)

        def tick(done, total, formula):
            bar.update(task, completed=done, total=total, description=f"screening {formula}")

        return ranking.screen(store, cand, electrolyte=electrolyte, anode=anode, weights=weights,
                              tolerance=tolerance, progress=tick, runner=runner, gap=gap)


def _emit_screen(store, df, fmt, out_path, electrolyte, top):
    from screening import report

    if fmt == "html":
        folder = report.write_report(store, df, out_path, electrolyte)
        out.print(f"report written to {folder}/report.html")
        return
    if out_path is not None:
        report.write_file(df, out_path, "md" if fmt == "table" else fmt)
        out.print(f"{len(df)} rows written to {out_path}")
        return
    if fmt == "json":
        _emit_json(report.to_json_records(df))
    elif fmt == "csv":
        df.to_csv(sys.stdout, index=False)
    elif fmt == "md":
        sys.stdout.write(report.markdown_table(df) + "\n")
    else:
        cols = ["rank", "candidate", "kind", "score", "pareto_front", "interphase", "electronic_character",
                "volume_ratio", "electrolyte_reaction_energy_eV_per_atom", "flags"]
        _table(f"screen vs {electrolyte} (top {top} of {len(df)})", cols,
               [list(r) for r in df[cols].head(top).itertuples(index=False)])


@app.command()
def demo(out_dir: Annotated[Path, typer.Option("--out", help="Report folder.")] = Path("screening-report"),
         electrolyte: Annotated[str, typer.Option(help="Electrolyte formula.")] = "Li7La3Zr2O12"):
    """The main job: the LLZO/LiI seed case, then a ranked screen of data/candidates.csv with a report."""
    import time

    from screening import ranking, report

    t0 = time.perf_counter()
    store = _store()
    seed_text = report.seed_case_text(store, ranking.seed_case(store, electrolyte), electrolyte)
    out.print("[bold]Seed case: Li | LLZO and the I2 -> LiI interphase[/bold]")
    out.print(seed_text, highlight=False, markup=False)
    df = _run_screen(store, None, electrolyte, "Li", ranking.Weights(), 0.02)
    folder = report.write_report(store, df, out_dir, electrolyte, seed=seed_text)
    cols = ["rank", "candidate", "kind", "score", "interphase", "electronic_character", "volume_ratio",
            "electrolyte_reaction_energy_eV_per_atom"]
    _table(f"top 10 of {len(df)} candidates vs {electrolyte}", cols,
           [list(r) for r in df[cols].head(10).itertuples(index=False)])
    out.print(f"report: {folder}/report.html  ({time.perf_counter() - t0:.1f} s)")


def _save(path: Path, kind: str, *args) -> None:
    from screening import plots

    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise InputError(f"--plot {path}: use a .png, .svg or .pdf file name")
    if not path.parent.exists():
        raise InputError(f"--plot {path}: folder {path.parent} does not exist")
    fig = getattr(plots, kind)(*args)
    fig.savefig(path, dpi=130)


# ----------------------------------------------------------------------------- entry point
def main(argv: list[str] | None = None) -> int:
    """Console entry point: one-line errors, exit 2 on bad input."""
    import warnings

    warnings.filterwarnings("ignore")
    try:
        # outside standalone mode typer turns Ctrl-C into Exit(130) and returns that code
        code = app(args=argv, standalone_mode=False, prog_name="screening")
        if code == 130:
            print("error: interrupted; nothing was written", file=sys.stderr)
        if isinstance(code, int) and code:
            return code
    except ScreeningError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except click_exc.NoArgsIsHelpError as exc:
        if exc.ctx is not None:
            print(exc.ctx.get_help())
        return 2
    except click_exc.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx else "screening"
        print(f"error: {exc.format_message()} (see `{cmd} --help`)", file=sys.stderr)
        return 2
    except Abort:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
