"""Reports of a screen: a folder with one self-contained interactive HTML page (sortable,
filterable ranking table; plotly figures with hover), a Markdown report, the ranking as CSV and
JSON, and PNG figures for papers and slides.  Every file records its provenance (version, date,
command, parameters, data snapshots, the CC BY attribution); outputs are byte-identical across
runs apart from the date (``SOURCE_DATE_EPOCH`` fixes that too).
"""

from __future__ import annotations

import html
import io
import json

import pandas as pd

from screening import provenance as prov_mod
from screening.outputs import check_folder, write_folder
from screening.ranking.scoring import top_label
from screening.report import figures as figs
from screening.ranking.schema import COLUMNS, TABLE_COLUMNS, header, table_columns
from screening.report.tables import FORMATS, cell, flat_frame, markdown_table, records, write_file
from screening.ranking import scoring as sc
from screening.ranking.figures import FigureInputs, SeedCase
from screening.settings import Settings

__all__ = ["FORMATS", "TABLE_COLUMNS", "header", "records", "markdown_table", "write_file", "write_report",
           "report_files", "seed_case_text", "method_text"]

def method_text(settings: Settings) -> str:
    """The ranking method with the parameters and scales actually used (``screening.ranking.scoring``)."""
    if settings.side == "cathode":
        from screening.ranking import coatings as co

        cw = settings.coating_weights
        v = "its own delithiation voltage" if settings.cathode_voltage_V is None else f"{settings.cathode_voltage_V:g} V"
        return (f"Coatings between {settings.cathode} (at {v}) and {settings.electrolyte}: score = weighted mean (window "
                f"{cw.window:g}, cathode {cw.cathode:g}, electrolyte {cw.electrolyte:g}, open {cw.open:g}, insulation "
                f"{cw.insulation:g}, transport {cw.transport:g}) of sub-scores: the window covers the voltage (1 - shortfall / "
                f"{co.WINDOW_SCALE_V:g} V); no closed reaction with the cathode, none with the electrolyte, none with the cathode "
                f"open to Li at the voltage (each 1 - penalty / {sc.PENALTY_SCALE_EV_PER_ATOM:g} eV/atom; |E| < "
                f"{1000 * settings.tolerance_eV_per_atom:g} meV/atom counts as 0); the coating's own band gap (gap / "
                f"{sc.GAP_SCALE_EV:g} eV, 0 below {settings.gap_threshold_eV:g} eV); Li+ transport of a {settings.thickness_um:g} um "
                f"film (log ASR from {sc.ASR_SCALE_OHM_CM2[0]:g} to {sc.ASR_SCALE_OHM_CM2[1]:g} ohm cm2). Unknown counts "
                f"{sc.UNKNOWN_SUB_SCORE:g}; rank low-high: the 5-95 % range of the rank when every weight varies 2x either way.")
    w = settings.weights
    stage = ("the fully lithiated interphase (0 V)" if settings.stage == "full" else
             "the lithiation stage in equilibrium at the electrolyte's reduction limit")
    return (f"Ranking on {stage}: score = weighted mean (li {w.li:g}, electrolyte {w.electrolyte:g}, insulation "
            f"{w.insulation:g}, volume {w.volume:g}, transport {w.transport:g}) of sub-scores for stability against Li, "
            f"stability against the electrolyte (1 - penalty / {sc.PENALTY_SCALE_EV_PER_ATOM:g} eV/atom; reaction energies with "
            f"|E| < {1000 * settings.tolerance_eV_per_atom:g} meV/atom count as 0: inside DFT error), electronic insulation "
            f"(smallest product gap / {sc.GAP_SCALE_EV:g} eV, saturating there: above it the gap no longer matters; 0 for mixed "
            f"conductors; a product insulates above {settings.gap_threshold_eV:g} eV, the measured gap where known, else the "
            f"treated DFT gap), volume (0 at a ratio <= {sc.VOLUME_FILL[0]:g}, 1 from {sc.VOLUME_FILL[1]:g} to "
            f"{sc.VOLUME_INTACT[0]:g}: fills voids, stays adherent; 0 from {sc.VOLUME_INTACT[1]:g}: cracks) and Li+ transport "
            f"(the area-specific resistance of the layer a {settings.thickness_um:g} um film becomes, log scale from "
            f"{sc.ASR_SCALE_OHM_CM2[0]:g} to {sc.ASR_SCALE_OHM_CM2[1]:g} ohm cm2); unknown counts {sc.UNKNOWN_SUB_SCORE:g}. "
            f"Pareto front 1 = not dominated on the criteria. Equal scores are ordered by the first secondary key that differs "
            f"({', '.join(label for _, _, label, _ in sc.TIE_KEYS)}), else share a rank ('='). Rank low-high: the 5-95 % range "
            f"of the rank when every weight varies 2x either way.")


def seed_case_text(seed: SeedCase) -> str:
    """Plain-text lines of the seed case (``screening.api.seed_case``), for the terminal and reports."""
    lines = []
    for r in (seed.electrolyte, seed.lii):
        gap = "unknown" if r.band_gap_eV is None else f"{r.band_gap_eV:.2f} eV"
        vm = "unknown" if r.molar_volume_cm3_per_mol is None else f"{r.molar_volume_cm3_per_mol:.2f} cm3/mol"
        lines.append(f"{r.formula:14s} {r.material_id:11s} E_f {r.formation_energy_eV_per_atom:8.4f} eV/atom  "
                     f"E_hull {max(0, r.e_above_hull_eV_per_atom or 0):.4f} eV/atom  gap {gap}  V_m {vm}")
    for w in (seed.electrolyte_window, seed.lii_window):
        ox = "inf" if w.oxidation_limit_V is None else f"{w.oxidation_limit_V:.3f}"
        lines.append(f"window {w.formula:14s} {w.reduction_limit_V:.3f} - {ox} V  "
                     f"(reduction: {' + '.join(w.reduction_products) or 'stable vs Li'}; oxidation: {' + '.join(w.oxidation_products)})")
    for rx in (seed.electrolyte_li, seed.lii_li):
        flag = "  [within DFT error]" if rx.within_dft_error and rx.reaction_energy_eV_per_atom < 0 else ""
        lines.append(f"{rx.reactants[0]} | {rx.reactants[1]}: {rx.reaction_energy_eV_per_atom:.4f} eV/atom{flag}: {rx.reaction}")
    ip = seed.i2_interphase
    prods = " + ".join(f"{n:g} {p}" if abs(n - 1) > 1e-9 else p for p, n in zip(ip.products, ip.product_amounts_per_formula_unit, strict=True))
    vr = "unknown" if ip.volume_ratio is None else f"{ip.volume_ratio:.3f}"
    gap = "unknown" if ip.min_product_band_gap_eV is None else f"{ip.min_product_band_gap_eV:.2f} eV"
    lines.append(f"I2 + {ip.li_consumed_per_formula_unit:g} Li -> {prods}: {ip.li_reaction_energy_eV_per_atom:.3f} eV/atom, "
                 f"V(2 LiI)/V(I2) = {vr}, {ip.electronic_character.value} (gap {gap}), "
                 f"vs {ip.electrolyte}: {ip.electrolyte_reaction_energy_eV_per_atom:.4f} eV/atom")
    return "\n".join(lines)


# --------------------------------------------------------------------------- figures
def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def report_files(df: pd.DataFrame, settings: Settings, provenance: dict, figures: FigureInputs,
                 seed: str = "") -> dict[str, bytes]:
    """Every file of a report folder (name -> bytes): renders ``df`` and ``figures``, computes nothing."""
    specs = {"ranking": figs.ranking_figure(df, 20, top_label), "windows": figs.windows_figure(list(figures.windows))}
    if settings.side == "cathode":
        v = float(df["cathode_voltage_V"].dropna().iloc[0]) if df["cathode_voltage_V"].notna().any() else 4.0
        specs["windows"] = figs.windows_figure(list(figures.windows), cathode_V=v)
    divs = [figs.to_div(figs.ranking_figure(df, 25, top_label), "fig-ranking"),
            figs.to_div(figs.tradeoff_figure(df, settings.side), "fig-tradeoff"), figs.to_div(specs["windows"], "fig-windows")]
    for c in figures.curves:
        title = (f"#{c.rank} {c.candidate} | {settings.electrolyte}" if settings.side == "cathode" else
                 f"#{c.rank} {c.candidate}: interphase {c.product} | {settings.electrolyte}")
        spec = figs.reaction_figure(list(c.kinks), c.product, settings.electrolyte, title, settings.tolerance_eV_per_atom)
        specs[f"reaction_{c.rank}_{c.product}"] = spec
        divs.append(figs.to_div(spec, f"fig-reaction-{c.rank}"))
    pngs = {f"{name}.png": _png(figs.to_matplotlib(spec)) for name, spec in specs.items()}
    files = dict(pngs)
    files["report.md"] = markdown_report(df, settings, pngs, provenance, seed).encode()
    files["report.html"] = html_report(df, settings, divs, list(pngs), provenance, seed).encode()
    files["ranking.csv"] = flat_frame(df).to_csv(index=False).encode()
    files["ranking.csv" + ".provenance.json"] = (json.dumps(provenance, indent=1) + "\n").encode()
    files["ranking.json"] = (json.dumps({"provenance": provenance, "records": records(df)}, indent=1) + "\n").encode()
    return files


#: the files of every report, and the names of those that depend on the results
REPORT_NAMES = ("ranking.png", "windows.png", "report.md", "report.html", "ranking.csv", "ranking.csv.provenance.json",
                "ranking.json")
REPORT_PATTERNS = ("reaction_*.png",)


def check_report_folder(folder, option: str = "--out"):
    """A report folder checked before any work (``screening.outputs.check_folder``), including
    the report's own file names."""
    return check_folder(folder, option, names=REPORT_NAMES, patterns=REPORT_PATTERNS)


def write_report(df: pd.DataFrame, folder, settings: Settings, provenance: dict, figures: FigureInputs, seed: str = ""):
    """Write a report folder (``screening.outputs.write_folder`` rules: a folder this tool did not
    write is refused, files it did not create are kept)."""
    return write_folder(folder, report_files(df, settings, provenance, figures, seed))


# --------------------------------------------------------------------------- documents
def _summary(df: pd.DataFrame) -> str:
    ok = df[df["error"].fillna("") == ""]
    errors = f"{len(df) - len(ok)} not evaluated (listed at the end)" if len(df) > len(ok) else "all evaluated"
    return f"{len(df)} candidates, {errors}."


def markdown_report(df: pd.DataFrame, settings: Settings, pngs: dict, provenance: dict, seed: str = "") -> str:
    parts = [f"# Interphase screen against {settings.electrolyte} and Li metal", ""]
    parts += [f"- {line}" for line in prov_mod.text_lines(provenance)] + [""]
    if seed:
        parts += [f"## Seed case: Li | {settings.electrolyte} and the I2 -> LiI interphase", "", "```text", seed, "```", ""]
    parts += [_summary(df),
              f"Energies in eV/atom (MP2020 GGA/GGA+U); |E| < {1000 * settings.tolerance_eV_per_atom:g} meV/atom is inside "
              f"DFT error and is not ranked on; a product insulates above a {settings.gap_threshold_eV:g} eV gap.",
              "", "## Ranking", "", markdown_table(df, table_columns(settings.side)), ""]
    for name in pngs:
        parts += [f"![{name}]({name})", ""]
    bad = df[df["error"].fillna("") != ""]
    if len(bad):
        parts += ["## Not evaluated", ""] + [f"- {r.candidate}: {r.error}" for r in bad.itertuples()]
    parts += ["", "## Method", "", method_text(settings)]
    return "\n".join(parts) + "\n"


DESCENDING_FIRST = " data-first='descending'"

_SCRIPT = """
(function(){
  var table=document.getElementById('ranking'); if(!table) return;
  var body=table.tBodies[0], heads=table.tHead.rows[0].cells, box=document.getElementById('filter'),
      sel=document.getElementById('character'), count=document.getElementById('count');
  function key(td){var t=td.getAttribute('data-v'); var n=parseFloat(t); return (t!==''&&!isNaN(n))?n:td.textContent.toLowerCase();}
  Array.prototype.forEach.call(heads,function(th,i){
    th.addEventListener('click',function(){
      var cur=th.getAttribute('aria-sort'), asc=cur?cur!=='ascending':th.getAttribute('data-first')!=='descending';
      Array.prototype.forEach.call(heads,function(h){h.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',asc?'ascending':'descending');
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){var x=key(a.cells[i]),y=key(b.cells[i]);
        if(typeof x!==typeof y){return (typeof x==='number'?-1:1)*(asc?1:-1);} return (x<y?-1:x>y?1:0)*(asc?1:-1);});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
  function apply(){var q=box.value.toLowerCase(), c=sel.value, n=0;
    Array.prototype.forEach.call(body.rows,function(r){
      var show=(!q||r.textContent.toLowerCase().indexOf(q)>=0)&&(!c||r.getAttribute('data-character')===c);
      r.style.display=show?'':'none'; if(show) n++;});
    count.textContent=n+' of '+body.rows.length+' rows';}
  box.addEventListener('input',apply); sel.addEventListener('change',apply); apply();
})();
window.addEventListener('load',function(){  // figures drawn before the grid settled: fit them to their cells
  document.querySelectorAll('.plotly-graph-div').forEach(function(d){ if(window.Plotly){ Plotly.Plots.resize(d); } });
});
"""

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px auto;color:#222;max-width:1500px;padding:0 12px}
h1{font-size:1.45em} h2{font-size:1.2em;margin-top:1.6em} .note{color:#555;font-size:13px}
table{border-collapse:collapse;font-size:12px;width:100%} th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f3f7;position:sticky;top:0;cursor:pointer;user-select:none} th[aria-sort=ascending]:after{content:' \\25B2'}
th[aria-sort=descending]:after{content:' \\25BC'} td.warn{font-size:11px;color:#555;max-width:380px}
tr[data-character=insulating] td.char{color:#1b7a3a;font-weight:600} tr[data-character=mixed] td.char{color:#b22222;font-weight:600}
.wrap{overflow-x:auto;max-height:80vh} .controls{margin:8px 0;display:flex;gap:8px;flex-wrap:wrap;align-items:center}
.controls input{padding:4px 6px;min-width:220px} pre{background:#f7f7f7;padding:8px;font-size:12px;white-space:pre-wrap;overflow-x:auto}
.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,620px),1fr));gap:12px}
.prov{font-size:12px;color:#444;background:#fafafa;border:1px solid #eee;padding:6px 10px}
pre.seed{font-size:13px;line-height:1.5;white-space:pre}
#ranking td:nth-child(-n+2),#ranking th:nth-child(-n+2){position:sticky;z-index:1;box-sizing:border-box}
#ranking td:nth-child(1),#ranking th:nth-child(1){left:0;width:3.6em;min-width:3.6em;max-width:3.6em}
#ranking td:nth-child(2),#ranking th:nth-child(2){left:3.6em} #ranking td:nth-child(-n+2){background:#fff}
#ranking td:nth-child(2){font-weight:600} #ranking th:nth-child(-n+2){z-index:2} td.warn{min-width:260px}
@media print{.controls{display:none} .wrap{max-height:none}}
"""


def html_report(df: pd.DataFrame, settings: Settings, divs: list[str], pngs: list[str], provenance: dict,
                seed: str = "") -> str:
    """One self-contained page (plotly.js inlined, no network): provenance, seed case, figures,
    a sortable and filterable ranking table."""
    cols = [c for c in table_columns(settings.side) if c in df.columns]
    head = "".join(f"<th scope='col'{DESCENDING_FIRST if c in COLUMNS and COLUMNS[c].best == 'high' else ''} "
                   f"title='{html.escape(COLUMNS[c].description if c in COLUMNS else '')}'>{html.escape(header(c))}</th>"
                   for c in cols)
    body = []
    for _, r in df.iterrows():
        tds = []
        for c in cols:
            v = r[c]
            num = "" if not isinstance(v, (int, float)) or pd.isna(v) else repr(float(v))
            if c == "rank_label":
                num = "" if pd.isna(r["rank"]) else str(int(r["rank"]))
            klass = {"electronic_character": " class='char'", "warnings": " class='warn'"}.get(c, "")
            tds.append(f"<td{klass} data-v='{num}'>{html.escape(cell(c, v))}</td>")
        body.append(f"<tr data-character='{html.escape(str(r.get('electronic_character', '')))}'>{''.join(tds)}</tr>")
    prov = "".join(f"<div>{html.escape(line)}</div>" for line in prov_mod.text_lines(provenance))
    seed_html = ""
    if seed:
        seed_html = (f"<h2>Seed case: Li | {html.escape(settings.electrolyte)} and the I<sub>2</sub> &rarr; LiI interphase</h2>"
                     f"<pre class='seed'>{html.escape(seed)}</pre>")
    bad = df[df["error"].fillna("") != ""]
    errors = ("<h2>Not evaluated</h2><ul>" + "".join(f"<li>{html.escape(r.candidate)}: {html.escape(r.error)}</li>"
                                                   for r in bad.itertuples()) + "</ul>") if len(bad) else ""
    png_links = ", ".join(f"<a href='{html.escape(n)}'>{html.escape(n)}</a>" for n in pngs)
    characters = sorted({str(c) for c in df.get("electronic_character", pd.Series(dtype=str)) if str(c)})
    options = "".join(f"<option value='{html.escape(c)}'>{html.escape(c)}</option>" for c in characters)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Interphase screen vs {html.escape(settings.electrolyte)}</title>
<style>{_STYLE}</style>
<script>{figs.plotly_js()}</script>
</head><body>
<h1>Interphase screen against {html.escape(settings.electrolyte)} and Li metal</h1>
<div class="prov">{prov}</div>
<p class="note">{html.escape(_summary(df))} Energies in eV/atom (Materials Project GGA/GGA+U, MP2020 corrections).
|E| &lt; {1000 * settings.tolerance_eV_per_atom:g} meV/atom is within DFT error and is not ranked on. A product
insulates above a {settings.gap_threshold_eV:g} eV band gap (measured where known, else the corrected PBE gap).
Volume ratio = V(products)/V(precursor).</p>
{seed_html}
<h2>Ranking</h2>
<p class="note">{html.escape(method_text(settings))}</p>
<div class="controls"><input id="filter" type="search" placeholder="filter rows (any text)" aria-label="filter rows">
<select id="character" aria-label="electronic character"><option value="">any character</option>{options}</select>
<span id="count" class="note"></span><span class="note">Click a column header to sort.</span></div>
<div class="wrap"><table id="ranking"><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>
{errors}
<h2>Figures</h2>
<p class="note">Hover for candidates, products and energies. PNG versions beside this file: {png_links}.</p>
<div class="figs">{''.join(divs)}</div>
<script>{_SCRIPT}</script>
</body></html>
"""
