"""Interactive (plotly) figures of a screen for the HTML report: hovering shows the candidate, its
interphase, products and energies.  Figures get fixed element ids so reports are reproducible."""

from __future__ import annotations

import math

import pandas as pd

from screening.ranking.scoring import top_label

COLORS = {"insulating": "#2e8b57", "mixed": "#c44e52", "unknown": "#8c8c8c"}
#: px above the plot area: the title (two lines at most) and, right of it, plotly's toolbar
TOP_MARGIN = 90


def _go():
    import plotly.graph_objects as go

    return go


def _title(text: str, sub: str = "") -> dict:
    """A title at the top left, with an optional smaller second line, clear of plotly's toolbar
    (drawn over the top right of the plot)."""
    return {"text": f"{text}<br><sub>{sub}</sub>" if sub else text, "x": 0.01, "xanchor": "left", "y": 0.98,
            "yanchor": "top", "font": {"size": 14}}


def _num(v, f=".3g") -> str:
    try:
        return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) or v is pd.NA else format(float(v), f)
    except (TypeError, ValueError):
        return str(v)


def ranking_figure(df: pd.DataFrame, top: int = 25):
    """Score of the best ``top`` candidates, coloured by electronic character."""
    go = _go()
    ok = df[df["error"].fillna("") == ""]
    label = top_label(ok, ok.head(top))
    d = ok.head(top).iloc[::-1]
    fig = go.Figure()
    for character, g in d.groupby("electronic_character", sort=True):
        text = [f"<b>{r.candidate}</b> (rank {r.rank_label})<br>interphase: {r.interphase}<br>score {r.score:.3f}: "
                f"s_li {r.s_li:.2f}, s_electrolyte {r.s_electrolyte:.2f}, s_insulation {r.s_insulation:.2f}, "
                f"s_volume {_num(r.s_volume, '.2f')}<br>E vs electrolyte {_num(r.electrolyte_reaction_energy_eV_per_atom)} eV/atom"
                f"<br>V ratio {_num(r.volume_ratio)}" for r in g.itertuples()]
        fig.add_bar(x=g.score, y=[f"{r.rank_label}. {r.candidate}" for r in g.itertuples()], orientation="h",
                    name=character, marker_color=COLORS.get(character, "#8c8c8c"), hovertext=text, hoverinfo="text")
    order = [f"{r.rank_label}. {r.candidate}" for r in d.itertuples()]
    fig.update_layout(title=_title("Composite score (higher is better)", label), xaxis_title="score", barmode="overlay",
                      yaxis={"categoryorder": "array", "categoryarray": order}, height=22 * len(d) + 180,
                      margin={"l": 140, "r": 20, "t": TOP_MARGIN, "b": 40}, legend_title="interphase")
    return fig


def windows_figure(windows, max_V: float = 6.0, cathode_V: float = 4.0):
    """Stability windows vs Li/Li+ (bars from the reduction to the oxidation limit)."""
    go = _go()
    fig = go.Figure()
    names = [w.formula for w in windows]
    for w in windows:
        no_li = w.oxidation_limit_V is None
        hi = max_V if no_li else min(w.oxidation_limit_V, max_V)
        top = ("no Li to remove: no oxidation limit" if no_li else
               f"{w.oxidation_limit_V:.2f} V" + (f" (drawn to {max_V:g} V)" if w.oxidation_limit_V > max_V else ""))
        text = (f"<b>{w.formula}</b> ({w.material_id})<br>from {w.reduction_limit_V:.2f} V to {top}<br>"
                f"reduced to: {' + '.join(w.reduction_products) or 'stable vs Li'}<br>"
                f"oxidised to: {' + '.join(w.oxidation_products) or '-'}")
        color = "#4c72b0" if w.stable_against_li else "#dd8452"
        fig.add_bar(x=[hi - w.reduction_limit_V], base=[w.reduction_limit_V], y=[w.formula], orientation="h",
                    marker={"color": color, "pattern": {"shape": "/" if no_li else ""}}, hovertext=[text], hoverinfo="text",
                    text=["no Li" if no_li else (f">{max_V:g} V" if w.oxidation_limit_V > max_V else f"{w.oxidation_limit_V:.2f}")],
                    textposition="outside", showlegend=False)
    fig.add_vline(x=0, line_dash="dash", line_color="grey", annotation_text="Li/Li+", annotation_position="top")
    fig.add_vline(x=cathode_V, line_dash="dash", line_color="crimson", annotation_text=f"cathode {cathode_V:g} V",
                  annotation_position="top")
    fig.update_layout(title=_title("Stability windows vs Li/Li+",
                                   "blue: stable against Li metal; orange: reduced by Li; hatched: no Li to remove"),
                      xaxis_title="V vs Li/Li+", xaxis_range=[-0.2, max_V + 0.8],
                      yaxis={"categoryorder": "array", "categoryarray": names[::-1]},
                      height=26 * len(windows) + 180, margin={"l": 120, "r": 20, "t": TOP_MARGIN, "b": 40})
    return fig


def reaction_figure(kinks, a: str, b: str, title: str, tolerance_eV_per_atom: float):
    """Reaction energy vs mixing ratio x of A, with the DFT-error band."""
    go = _go()
    xs = [k[0] for k in kinks]
    es = [k[1] for k in kinks]
    text = [f"x({a}) = {x:.3f}<br>E = {e:.4f} eV/atom<br>{p}" for x, e, p in kinks]
    fig = go.Figure()
    fig.add_hrect(y0=-tolerance_eV_per_atom, y1=tolerance_eV_per_atom, fillcolor="#dddddd", line_width=0, layer="below",
                  annotation_text="within DFT error", annotation_position="top left")
    fig.add_scatter(x=xs, y=es, mode="lines+markers", hovertext=text, hoverinfo="text", showlegend=False,
                    line_color="#4c72b0")
    lo = min(es + [0.0])  # the DFT-error band is a band, not the whole plot
    fig.update_layout(title=_title(title), xaxis_title=f"mixing ratio x (atomic fraction of {a}); the ends are "
                                                       "each reactant's own hull decomposition",
                      yaxis_title="reaction energy (eV/atom)", yaxis_range=[min(1.3 * lo, -3 * tolerance_eV_per_atom),
                                                                            2 * tolerance_eV_per_atom],
                      height=380, margin={"l": 60, "r": 20, "t": TOP_MARGIN, "b": 50})
    return fig


def tradeoff_figure(df: pd.DataFrame):
    """Volume ratio vs reaction energy with the electrolyte, one point per candidate."""
    go = _go()
    d = df[(df["error"].fillna("") == "")]
    fig = go.Figure()
    for character, g in d.groupby("electronic_character", sort=True):
        text = [f"<b>{r.candidate}</b> (rank {r.rank_label})<br>interphase: {r.interphase}<br>V ratio {_num(r.volume_ratio)}"
                f"<br>E vs electrolyte {_num(r.electrolyte_reaction_energy_eV_per_atom)} eV/atom<br>{r.electrolyte_reaction}"
                for r in g.itertuples()]
        fig.add_scatter(x=g.volume_ratio, y=g.electrolyte_reaction_energy_eV_per_atom, mode="markers", name=character,
                        marker={"color": COLORS.get(character, "#8c8c8c"), "size": 9}, hovertext=text, hoverinfo="text")
    fig.update_layout(title=_title("Expansion vs reactivity with the electrolyte"), xaxis_title="V(products) / V(precursor)",
                      yaxis_title="reaction energy with the electrolyte (eV/atom)", height=440,
                      margin={"l": 60, "r": 20, "t": TOP_MARGIN, "b": 50}, legend_title="interphase")
    return fig


def to_div(fig, div_id: str) -> str:
    """The figure as an HTML fragment (plotly.js is included once by the page)."""
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"responsive": True, "displaylogo": False})


def plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()
