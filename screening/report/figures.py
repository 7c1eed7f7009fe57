"""Every figure of the package, specified once and rendered twice: a :class:`Figure` (bars, lines,
markers, bands, reference lines, labels, one palette) built from results, drawn by
:func:`to_matplotlib` (PNG/SVG/PDF for papers and slides) and by :func:`to_plotly` (the
interactive report, with hover text).  Builders take results (windows, reaction kinks, lithiation
paths, a ranked screen) and compute nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: the one palette: electronic character, window bars, bands and reference lines
PALETTE = {
    "insulating": "#2e8b57", "mixed": "#c44e52", "unknown": "#8c8c8c",
    "stable": "#4c72b0", "reduced": "#dd8452", "line": "#4c72b0",
    "band": "#e3e3e3", "reference": "#808080", "cathode": "#dc143c",
}
#: px above the plot area of the interactive figures: the title (two lines) and plotly's toolbar
TOP_MARGIN = 90


@dataclass
class Bar:
    """A horizontal bar from ``start`` to ``start + length`` on category ``label``."""

    label: str
    start: float
    length: float
    color: str
    hover: str = ""
    end_text: str = ""  # written just right of the bar
    hatch: bool = False
    group: str = ""  # legend entry


@dataclass
class Series:
    """Points joined by lines (``mode`` 'lines+markers', 'lines' or 'markers')."""

    xs: list[float]
    ys: list[float]
    color: str
    mode: str = "lines+markers"
    name: str = ""
    hover: list[str] = field(default_factory=list)
    step: bool = False  # drawn as a staircase


@dataclass
class Figure:
    """A figure spec: title (and a smaller subtitle), axes, the marks and annotations."""

    title: str
    x_label: str
    y_label: str = ""
    subtitle: str = ""
    bars: list[Bar] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    hbands: list[tuple[float, float, str]] = field(default_factory=list)  # (y0, y1, label)
    vlines: list[tuple[float, str, str]] = field(default_factory=list)  # (x, label, palette key)
    hlines: list[float] = field(default_factory=list)
    labels: list[tuple[float, float, str, str]] = field(default_factory=list)  # (x, y, text, color)
    x_range: tuple[float, float] | None = None
    y_range: tuple[float, float] | None = None
    x_reversed: bool = False
    categories: list[str] = field(default_factory=list)  # bar labels, top to bottom
    legend_title: str = ""
    width_in: float = 7.0
    height_in: float = 4.0


def _num(v, f=".3g") -> str:
    try:
        return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(float(v), f)
    except (TypeError, ValueError):
        return str(v)


# --------------------------------------------------------------------------- builders
def windows_figure(windows, max_V: float = 6.0, cathode_V: float = 4.0) -> Figure:
    """Stability windows vs Li/Li+: a bar from the reduction to the oxidation limit per phase;
    hatched where the phase holds no Li (no oxidation limit)."""
    bars = []
    for w in windows:
        no_li = w.oxidation_limit_V is None
        hi = max_V if no_li else min(w.oxidation_limit_V, max_V)
        top = "no Li" if no_li else (f">{max_V:g}" if w.oxidation_limit_V > max_V else f"{w.oxidation_limit_V:.2f}")
        reach = ("no Li to remove: no oxidation limit" if no_li else
                 f"{w.oxidation_limit_V:.2f} V" + (f" (drawn to {max_V:g} V)" if w.oxidation_limit_V > max_V else ""))
        hover = (f"<b>{w.formula}</b> ({w.material_id})<br>from {w.reduction_limit_V:.2f} V to {reach}<br>"
                 f"reduced to: {' + '.join(w.reduction_products) or 'stable vs Li'}<br>"
                 f"oxidised to: {' + '.join(w.oxidation_products) or '-'}")
        bars.append(Bar(w.formula, w.reduction_limit_V, hi - w.reduction_limit_V,
                        PALETTE["stable" if w.stable_against_li else "reduced"], hover,
                        f"{w.reduction_limit_V:.2f}-{top}", hatch=no_li))
    return Figure("Stability windows vs Li/Li+", "V vs Li/Li+",
                  subtitle="blue: stable against Li metal; orange: reduced by Li; hatched: no Li to remove",
                  bars=bars, vlines=[(0.0, "Li/Li+", "reference"), (cathode_V, f"cathode {cathode_V:g} V", "cathode")],
                  x_range=(-0.2, max_V + 1.2), categories=[w.formula for w in windows],
                  height_in=0.45 * len(windows) + 1.6)


def reaction_figure(kinks, a: str, b: str, title: str, tolerance_eV_per_atom: float) -> Figure:
    """Reaction energy vs mixing ratio x of A (``kinks``: the reaction line's kinks, with x,
    energy_eV_per_atom and products), with the band |E| < tolerance shaded (inside DFT error);
    product labels closer than 0.08 in x to the previous one are left out so that they never
    overlap."""
    pts = [(k.x, k.energy_eV_per_atom, k.products) for k in kinks]
    xs, es = [k[0] for k in pts], [k[1] for k in pts]
    labels, last_x = [], -1.0
    for x, e, p in sorted(pts):
        if p and e < -1e-6 and x - last_x >= 0.08:
            labels.append((x, e, p, PALETTE["reference"]))
            last_x = x
    if min(es + [0.0]) > -1e-6:
        labels.append((0.5, 0.0, "no reaction", PALETTE["reference"]))
    lo = min(es + [0.0])
    return Figure(title, f"mixing ratio x (atomic fraction of {a}); the ends are each reactant's own hull decomposition",
                  "reaction energy (eV/atom)",
                  series=[Series(xs, es, PALETTE["line"], hover=[f"x({a}) = {x:.3f}<br>E = {e:.4f} eV/atom<br>{p}"
                                                                 for x, e, p in pts])],
                  hbands=[(-tolerance_eV_per_atom, tolerance_eV_per_atom,
                           f"within DFT error (|E| < {1000 * tolerance_eV_per_atom:g} meV/atom)")],
                  hlines=[0.0], labels=labels, x_range=(-0.02, 1.02),
                  y_range=(min(1.3 * lo, -3 * tolerance_eV_per_atom), 2 * tolerance_eV_per_atom), height_in=3.8)


def lithiation_figure(paths) -> Figure:
    """Li uptake per formula unit vs voltage (falling): the lithiation staircase of each path."""
    series, labels = [], []
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]
    for k, path in enumerate(paths):
        color = colors[k % len(colors)]
        xs, ys, li = [], [], 0.0
        v_prev = max([s.voltage_V for s in path.stages] + [0.5]) + 0.5
        for s in path.stages:
            xs += [v_prev, s.voltage_V]
            ys += [li, li]
            li, v_prev = s.li_per_formula_unit, s.voltage_V
            labels.append((s.voltage_V, s.li_per_formula_unit, " + ".join(s.products), color))
        xs += [v_prev, 0.0]
        ys += [li, li]
        series.append(Series(xs, ys, color, mode="lines", name=path.precursor))
    return Figure("Lithiation path: stages reached as the voltage falls", "Voltage vs Li/Li+ (V)",
                  "Li taken up per formula unit", series=series, labels=labels, x_reversed=True, height_in=3.8)


def staircase_figure(stages, formula: str) -> Figure:
    """Phase equilibria of ``formula`` vs voltage (Li taken up per formula unit on the y axis):
    one horizontal segment per stage, labelled with its phases."""
    top = max([s.low_V for s in stages] + [1.0]) + 1.0
    series, labels = [], []
    for s in stages:
        hi = top if s.high_V is None else s.high_V
        series.append(Series([s.low_V, hi], [s.li_uptake_per_formula_unit] * 2, PALETTE["line"], mode="lines",
                             hover=[" + ".join(s.phases)] * 2))
        labels.append(((s.low_V + hi) / 2, s.li_uptake_per_formula_unit, " + ".join(s.phases), PALETTE["reference"]))
    return Figure(f"Equilibria of {formula} vs voltage", "Voltage vs Li/Li+ (V)", "Li taken up per f.u.", series=series,
                  labels=labels, hlines=[0.0], x_range=(0.0, top), height_in=3.6)


def ranking_figure(df, top: int = 20, top_label=None) -> Figure:
    """Composite score of the best ``top`` evaluated candidates, coloured by electronic character."""
    ok = df[df["error"].fillna("") == ""].sort_values("rank", kind="stable")
    d = ok.head(top)
    bars = []
    subs = [c for c in d.columns if c.startswith("s_")]
    for r in d.itertuples():
        what = f"interphase: {r.interphase}" if hasattr(r, "interphase") else f"coating ({r.formula})"
        hover = (f"<b>{r.candidate}</b> (rank {r.rank_label}, {r.rank_low}-{r.rank_high} as the weights vary)<br>{what}<br>"
                 f"score {r.score:.3f}: " + ", ".join(f"{c} {_num(getattr(r, c), '.2f')}" for c in subs)
                 + f"<br>E vs electrolyte {_num(r.electrolyte_reaction_energy_eV_per_atom)} eV/atom")
        bars.append(Bar(f"{r.rank_label}. {r.candidate}", 0.0, float(r.score), PALETTE.get(r.electronic_character, PALETTE["unknown"]),
                        hover, group=r.electronic_character))
    return Figure("Composite score (higher is better)", "score",
                  subtitle=(top_label(ok, d) if top_label else f"top {len(d)}") + "; green: insulating interphase, red: mixed conductor",
                  bars=bars, categories=[b.label for b in bars], legend_title="interphase", height_in=0.32 * len(d) + 1.4)


def tradeoff_figure(df, side: str = "anode") -> Figure:
    """Anode side: volume ratio vs reaction energy with the electrolyte; cathode side: reaction
    energy with the cathode vs with the electrolyte; one marker per candidate."""
    d = df[df["error"].fillna("") == ""]
    series = []
    x_col = "cathode_reaction_energy_eV_per_atom" if side == "cathode" else "volume_ratio"
    for character, g in d.groupby("electronic_character", sort=True):
        if side == "cathode":
            hover = [f"<b>{r.candidate}</b> (rank {r.rank_label})<br>vs cathode {_num(r.cathode_reaction_energy_eV_per_atom)} eV/atom: "
                     f"{r.cathode_reaction}<br>vs electrolyte {_num(r.electrolyte_reaction_energy_eV_per_atom)} eV/atom: "
                     f"{r.electrolyte_reaction}" for r in g.itertuples()]
        else:
            hover = [f"<b>{r.candidate}</b> (rank {r.rank_label})<br>interphase: {r.interphase}<br>V ratio {_num(r.volume_ratio)}"
                     f"<br>E vs electrolyte {_num(r.electrolyte_reaction_energy_eV_per_atom)} eV/atom<br>{r.electrolyte_reaction}"
                     for r in g.itertuples()]
        series.append(Series(list(g[x_col]), list(g.electrolyte_reaction_energy_eV_per_atom),
                             PALETTE.get(character, PALETTE["unknown"]), mode="markers", name=character, hover=hover))
    if side == "cathode":
        return Figure("Reactivity with the cathode vs with the electrolyte", "reaction energy with the cathode (eV/atom)",
                      "reaction energy with the electrolyte (eV/atom)", series=series, legend_title="coating", height_in=4.4)
    return Figure("Expansion vs reactivity with the electrolyte", "V(products) / V(precursor)",
                  "reaction energy with the electrolyte (eV/atom)", series=series, legend_title="interphase", height_in=4.4)


# --------------------------------------------------------------------------- renderers
def to_matplotlib(fig: Figure):
    """The figure as a matplotlib Figure (Agg backend)."""
    import matplotlib

    if matplotlib.get_backend().lower() in ("", "agg"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out, ax = plt.subplots(figsize=(fig.width_in, fig.height_in))
    for y0, y1, label in fig.hbands:
        ax.axhspan(y0, y1, color=PALETTE["band"], zorder=0, label=label)
    if fig.bars:
        order = fig.categories or [b.label for b in fig.bars]
        pos = {c: k for k, c in enumerate(order)}
        for b in fig.bars:
            ax.barh(pos[b.label], b.length, left=b.start, color=b.color, hatch="//" if b.hatch else None,
                    edgecolor="black" if b.hatch or b.end_text else None, linewidth=0.5)
            if b.end_text:
                ax.text(b.start + b.length + 0.05, pos[b.label], b.end_text, va="center", fontsize=8)
        ax.set_yticks(range(len(order)), order)
        ax.invert_yaxis()
    for s in fig.series:
        style = {"lines+markers": "o-", "lines": "-", "markers": "o"}[s.mode]
        ax.plot(s.xs, s.ys, style, color=s.color, lw=2 if s.mode == "lines" else 1.5, label=s.name or None,
                markersize=5)
    for x, label, key in fig.vlines:
        ax.axvline(x, color=PALETTE[key], ls="--", lw=1)
        ax.text(x + 0.02, 1.0, label, fontsize=8, color=PALETTE[key], transform=ax.get_xaxis_transform(), va="bottom")
    for y in fig.hlines:
        ax.axhline(y, color=PALETTE["reference"], lw=0.8)
    for x, y, text, color in fig.labels:
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(0, -12), fontsize=7, color=color,
                    ha="left" if x < 0.2 else ("right" if x > 0.8 else "center"))
    if fig.x_range:
        ax.set_xlim(*fig.x_range)
    if fig.y_range:
        ax.set_ylim(*fig.y_range)
    if fig.x_reversed:
        ax.invert_xaxis()
    ax.set_xlabel(fig.x_label)
    if fig.y_label:
        ax.set_ylabel(fig.y_label)
    ax.set_title(fig.title + (f"\n{fig.subtitle}" if fig.subtitle else ""), fontsize=10, loc="left")
    if any(s.name for s in fig.series) or fig.hbands:
        ax.legend(loc="best", fontsize=7, frameon=False, title=fig.legend_title or None)
    out.tight_layout()
    return out


def to_plotly(fig: Figure):
    """The figure as a plotly Figure with hover text."""
    import plotly.graph_objects as go

    out = go.Figure()
    for y0, y1, label in fig.hbands:
        out.add_hrect(y0=y0, y1=y1, fillcolor=PALETTE["band"], line_width=0, layer="below", annotation_text=label,
                      annotation_position="top left")
    groups: dict[str, list[Bar]] = {}
    for b in fig.bars:
        groups.setdefault(b.group, []).append(b)
    for group, bars in sorted(groups.items()):
        out.add_bar(x=[b.length for b in bars], base=[b.start for b in bars], y=[b.label for b in bars], orientation="h",
                    marker={"color": [b.color for b in bars], "pattern": {"shape": ["/" if b.hatch else "" for b in bars]}},
                    hovertext=[b.hover for b in bars], hoverinfo="text", name=group or None, showlegend=bool(group),
                    text=[b.end_text for b in bars], textposition="outside" if any(b.end_text for b in bars) else "none")
    for s in fig.series:
        shape = "hv" if s.step else "linear"
        out.add_scatter(x=s.xs, y=s.ys, mode=s.mode, name=s.name or None, showlegend=bool(s.name), line_shape=shape,
                        line_color=s.color, marker={"color": s.color, "size": 8 if s.mode == "markers" else 6},
                        hovertext=s.hover or None, hoverinfo="text" if s.hover else "x+y")
    for x, label, key in fig.vlines:
        out.add_vline(x=x, line_dash="dash", line_color=PALETTE[key], annotation_text=label, annotation_position="top")
    for y in fig.hlines:
        out.add_hline(y=y, line_color=PALETTE["reference"], line_width=0.8)
    for x, y, text, color in fig.labels:
        out.add_annotation(x=x, y=y, text=text, showarrow=False, yshift=-12, font={"size": 9, "color": color})
    title = {"text": f"{fig.title}<br><sub>{fig.subtitle}</sub>" if fig.subtitle else fig.title, "x": 0.01,
             "xanchor": "left", "y": 0.98, "yanchor": "top", "font": {"size": 14}}
    layout = {"title": title, "xaxis_title": fig.x_label, "yaxis_title": fig.y_label or None,
              "margin": {"l": 140 if fig.bars else 60, "r": 20, "t": TOP_MARGIN, "b": 50},
              "height": int(max(fig.height_in * 90, 300)), "legend_title": fig.legend_title or None, "barmode": "overlay"}
    if fig.x_range:
        layout["xaxis_range"] = list(fig.x_range)[::-1] if fig.x_reversed else list(fig.x_range)
    elif fig.x_reversed:
        layout["xaxis_autorange"] = "reversed"
    if fig.y_range:
        layout["yaxis_range"] = list(fig.y_range)
    if fig.categories:
        layout["yaxis"] = {"categoryorder": "array", "categoryarray": fig.categories[::-1]}
    out.update_layout(**layout)
    return out


def to_div(fig: Figure, div_id: str) -> str:
    """The figure as an HTML fragment (plotly.js is included once by the page)."""
    return to_plotly(fig).to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                                  config={"responsive": True, "displaylogo": False})


def plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()
