"""Reports of a screen: CSV / JSON / Markdown / self-contained HTML (PNG plots inlined).

Writers build everything in a temporary location and rename at the end, so an interrupted run
leaves no partial files.
"""

from __future__ import annotations

import base64
import html
import io
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from screening.errors import InputError
from screening.files import atomic_write

TABLE_COLUMNS = ["rank", "candidate", "kind", "score", "pareto_front", "interphase", "electronic_character",
                 "min_product_band_gap_eV", "li_reaction_energy_eV_per_atom", "volume_ratio",
                 "electrolyte_reaction_energy_eV_per_atom", "reduction_limit_V", "oxidation_limit_V", "flags"]
FORMATS = ("table", "csv", "json", "md", "html", "parquet")
#: readable headers of the HTML table (CSV/JSON/Markdown keep the column names)
HEADERS = {
    "pareto_front": "Pareto front", "electronic_character": "electronic character",
    "min_product_band_gap_eV": "min gap (eV)", "li_reaction_energy_eV_per_atom": "E vs Li (eV/atom)",
    "volume_ratio": "V ratio", "electrolyte_reaction_energy_eV_per_atom": "E vs electrolyte (eV/atom)",
    "reduction_limit_V": "reduction limit (V)", "oxidation_limit_V": "oxidation limit (V)",
}
METHOD = ("Ranking: score = weighted mean of sub-scores for stability against Li, stability against the "
          "electrolyte, electronic insulation (PBE gap / 4 eV, 0 for mixed conductors) and volume expansion "
          "(V ratio - 1, capped at 0.5); pareto front 1 = not dominated on those four criteria. "
          "Missing volumes: add a density (user CSV, --phases) or fetch structures (screening fetch).")


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.1e}"
    return str(v)


def to_json_records(df: pd.DataFrame) -> list[dict]:
    return json.loads(df.to_json(orient="records", double_precision=6))


def _cell_text(column: str, v) -> str:
    """Table text; a missing oxidation limit means there is no Li to take out, not missing data."""
    if column == "oxidation_limit_V" and (v is None or (isinstance(v, float) and not np.isfinite(v))):
        return "no Li"
    return _fmt(v)


def markdown_table(df: pd.DataFrame, columns=TABLE_COLUMNS) -> str:
    cols = [c for c in columns if c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df[cols].iterrows():
        lines.append("| " + " | ".join(_cell_text(c, r[c]).replace("|", "/") for c in cols) + " |")
    return "\n".join(lines)


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def figures(store, df: pd.DataFrame, electrolyte: str, n_curves: int = 3) -> dict[str, bytes]:
    """PNG bytes of the ranking chart, the windows chart and the top candidates' reaction curves."""
    from screening import plots
    from screening.thermo.reactions import reaction_kinks
    from screening.thermo.windows import window

    ok = df[df["error"].fillna("") == ""].sort_values("rank")
    out = {"ranking.png": _png(plots.ranking_chart(ok))}
    # interlayers as they are; precursors by the (first) phase of the interphase they form with Li
    names = [electrolyte]
    for r in ok.head(20).itertuples():
        f = r.input_formula if r.kind == "interlayer" else r.interphase.split(" + ")[0]
        if f not in names and len(names) < 15:
            names.append(f)
    out["windows.png"] = _png(plots.windows_chart([window(store, f) for f in names]))
    for k, r in enumerate(ok.head(n_curves).itertuples(), 1):
        product = r.interphase.split(" + ")[0]
        if store.lookup(product).formula == store.lookup(electrolyte).formula:
            continue
        kinks = reaction_kinks(store, product, electrolyte)
        title = f"#{k} {r.candidate}: interphase {product} | {electrolyte}"
        out[f"reaction_{k}_{product}.png"] = _png(plots.reaction_curve(kinks, product, electrolyte, title))
    return out


def _caption(name: str) -> str:
    if name == "ranking.png":
        return "Composite score of the top 20"
    if name == "windows.png":
        return "Stability windows of the electrolyte and the top candidates"
    parts = name.removesuffix(".png").split("_")
    return f"Reaction of interphase product {parts[-1]} with the electrolyte (candidate #{parts[1]})"


def markdown_report(df: pd.DataFrame, electrolyte: str, figs: dict[str, bytes], seed: str = "") -> str:
    ok = df[df["error"].fillna("") == ""]
    parts = [f"# Interphase screen against {electrolyte} and Li metal", ""]
    if seed:
        parts += ["## Seed case", "", "```text", seed, "```", ""]
    errors = f"{len(df) - len(ok)} with errors (listed at the end)" if len(df) > len(ok) else "no errors"
    parts += [f"{len(df)} candidates, {len(ok)} evaluated, {errors}.",
              "Energies in eV/atom (MP2020 GGA/GGA+U); |E| < 20 meV/atom is inside DFT error and is not ranked on.",
              "", "## Ranking", "", markdown_table(df), ""]
    for name in figs:
        parts += [f"![{name}]({name})", ""]
    bad = df[df["error"].fillna("") != ""]
    if len(bad):
        parts += ["## Not evaluated", ""] + [f"- {r.candidate}: {r.error}" for r in bad.itertuples()]
    parts += ["", METHOD]
    return "\n".join(parts) + "\n"


def html_report(df: pd.DataFrame, electrolyte: str, figs: dict[str, bytes], seed: str = "") -> str:
    cols = [c for c in TABLE_COLUMNS if c in df.columns]
    head = "".join(f"<th>{html.escape(HEADERS.get(c, c.replace('_', ' ')))}</th>" for c in cols)
    body = []
    for _, r in df.iterrows():
        cls = {"insulating": "ins", "mixed": "mix"}.get(r.get("electronic_character"), "unk")
        cells = "".join(f"<td>{html.escape(_cell_text(c, r[c]))}</td>" for c in cols)
        body.append(f'<tr class="{cls}">{cells}</tr>')
    imgs = "".join(
        f'<figure><img alt="{html.escape(n)}" src="data:image/png;base64,{base64.b64encode(b).decode()}">'
        f"<figcaption>{html.escape(_caption(n))}</figcaption></figure>" for n, b in figs.items()
    )
    seed_html = f"<h2>Seed case</h2><pre>{html.escape(seed)}</pre>" if seed else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Interphase screen vs {html.escape(electrolyte)}</title>
<style>
body{{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1500px}}
h1{{font-size:1.5em}} table{{border-collapse:collapse;font-size:12px;width:100%}}
th,td{{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}}
th{{background:#f0f3f7;position:sticky;top:0}} tr.ins td:nth-child(7){{color:#1b7a3a;font-weight:600}}
tr.mix td:nth-child(7){{color:#b22222;font-weight:600}} td:last-child{{font-size:11px;color:#555;max-width:360px}}
figure{{display:inline-block;margin:4px;vertical-align:top}} img{{max-width:640px;border:1px solid #eee}}
.wrap{{overflow-x:auto}} @media print{{figure{{break-inside:avoid}} h2{{break-after:avoid}}}}
pre{{background:#f7f7f7;padding:8px;font-size:12px;white-space:pre-wrap}}
.note{{color:#555;font-size:13px}}
</style></head><body>
<h1>Interphase screen against {html.escape(electrolyte)} and Li metal</h1>
<p class="note">{len(df)} candidates. Energies in eV/atom (Materials Project GGA/GGA+U, MP2020 corrections).
|E| &lt; 20 meV/atom is within DFT error and is not ranked on. Electronic character from PBE band gaps
of the interphase products (insulating above 1 eV). Volume ratio = V(products)/V(precursor) from experimental densities.</p>
{seed_html}
<h2>Figures</h2>{imgs}
<h2>Ranking</h2><p class="note">{html.escape(METHOD)}</p>
<div class="wrap"><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>
</body></html>
"""


def seed_case_text(store, seed: dict, electrolyte: str) -> str:
    """Plain-text lines of the seed case (``ranking.seed_case``), for the terminal and reports."""
    lines = []
    for f in (electrolyte, "LiI"):
        r = store.lookup(f)
        lines.append(f"{r.formula:14s} {r.material_id:11s} E_f {r.formation_energy_eV_per_atom:8.4f} eV/atom  "
                     f"E_hull {max(0, r.e_above_hull_eV_per_atom):.4f} eV/atom  gap {r.band_gap_eV:.2f} eV  "
                     f"V_m {r.molar_volume_cm3_per_mol:.2f} cm3/mol")
    for key in ("electrolyte_window", "lii_window"):
        w = seed[key]
        ox = "inf" if w.oxidation_limit_V is None else f"{w.oxidation_limit_V:.3f}"
        lines.append(f"window {w.formula:14s} {w.reduction_limit_V:.3f} - {ox} V  "
                     f"(reduction: {' + '.join(w.reduction_products) or 'stable vs Li'}; oxidation: {' + '.join(w.oxidation_products)})")
    for key in ("electrolyte_li", "lii_li"):
        rx = seed[key]
        flag = "  [within DFT error]" if rx.within_dft_error and rx.reaction_energy_eV_per_atom < 0 else ""
        lines.append(f"{rx.reactants[0]} | {rx.reactants[1]}: {rx.reaction_energy_eV_per_atom:.4f} eV/atom{flag}: {rx.reaction}")
    ip = seed["i2_interphase"]
    lines.append(f"I2 + Li -> {' + '.join(ip.products)}: {ip.li_reaction_energy_eV_per_atom:.3f} eV/atom, "
                 f"{ip.li_consumed_per_formula_unit:g} Li per I2, V(2 LiI)/V(I2) = {ip.volume_ratio:.3f}, "
                 f"{ip.electronic_character} (gap {ip.min_product_band_gap_eV:.2f} eV), "
                 f"vs {ip.electrolyte}: {ip.electrolyte_reaction_energy_eV_per_atom:.4f} eV/atom")
    return "\n".join(lines)


def write_file(df: pd.DataFrame, path: Path, fmt: str) -> None:
    """Write one table file atomically in csv/json/md/parquet."""
    path = Path(path)
    if not path.parent.exists():
        raise InputError(f"--out {path}: folder {path.parent} does not exist")
    with atomic_write(path) as tmp:
        if fmt == "csv":
            df.to_csv(tmp, index=False)
        elif fmt == "json":
            tmp.write_text(json.dumps(to_json_records(df), indent=1))
        elif fmt == "md":
            tmp.write_text(markdown_table(df) + "\n")
        elif fmt == "parquet":
            df.to_parquet(tmp, index=False)
        else:
            raise InputError(f"cannot write format {fmt} to a single file")


def write_report(store, df: pd.DataFrame, folder: Path, electrolyte: str, seed: str = "") -> Path:
    """Folder with report.md, report.html (self-contained), ranking.csv/json and PNG figures.

    Built in a sibling temp folder and swapped in at the end (no partial report on interrupt).
    """
    folder = Path(folder)
    parent = folder.resolve().parent
    if not parent.exists():
        raise InputError(f"report folder {folder}: parent {parent} does not exist")
    if folder.exists() and (not folder.is_dir() or (any(folder.iterdir()) and not (folder / "report.html").is_file())):
        raise InputError(f"report folder {folder} exists and is not a screening report: choose a new --out folder")
    figs = figures(store, df, electrolyte)
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{folder.name}-"))
    try:
        for name, data in figs.items():
            (tmp / name).write_bytes(data)
        (tmp / "report.md").write_text(markdown_report(df, electrolyte, figs, seed))
        (tmp / "report.html").write_text(html_report(df, electrolyte, figs, seed))
        df.to_csv(tmp / "ranking.csv", index=False)
        (tmp / "ranking.json").write_text(json.dumps(to_json_records(df), indent=1))
        if folder.exists():
            old = parent / f".{folder.name}-old"
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder
