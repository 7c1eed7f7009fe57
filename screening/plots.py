"""Matplotlib figures beside the data (return the Figure; callers save or show it)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() in ("", "agg") else None
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from screening.ranking.scoring import top_label  # noqa: E402


def windows_chart(windows, cathode_V: float = 4.0, max_V: float = 6.0):
    """Horizontal bars: stability window of each phase vs Li/Li+, Li (0 V) and cathode marked."""
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(windows) + 1.4))
    for k, w in enumerate(windows):
        no_li = w.oxidation_limit_V is None
        hi = max_V if no_li else min(w.oxidation_limit_V, max_V)
        ax.barh(k, hi - w.reduction_limit_V, left=w.reduction_limit_V, hatch="//" if no_li else None,
                color="#4c72b0" if w.stable_against_li else "#dd8452", edgecolor="black", linewidth=0.5)
        top = "no Li" if no_li else (f">{max_V:g}" if w.oxidation_limit_V > max_V else f"{w.oxidation_limit_V:.2f}")
        ax.text(hi + 0.05, k, f"{w.reduction_limit_V:.2f}-{top}", va="center", fontsize=8)
    ax.axvline(0.0, color="grey", ls="--", lw=1)
    ax.axvline(cathode_V, color="crimson", ls="--", lw=1)
    ax.text(0.02, -0.9, "Li/Li+", fontsize=8, color="grey")
    ax.text(cathode_V + 0.02, -0.9, f"cathode {cathode_V:g} V", fontsize=8, color="crimson")
    ax.set_yticks(range(len(windows)), [w.formula for w in windows])
    ax.set_xlim(-0.2, max_V + 1.2)
    ax.set_ylim(-1.2, len(windows) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel("Voltage vs Li/Li+ (V)")
    ax.set_title("Stability windows vs Li/Li+ (blue: stable against Li metal, orange: reduced by Li;\n"
                 "hatched: no Li to remove, so no oxidation limit)", fontsize=9)
    fig.tight_layout()
    return fig


def reaction_curve(kinks, a: str, b: str, title: str | None = None, tolerance_eV_per_atom: float = 0.02):
    """Reaction energy (eV/atom) vs mixing ratio x of A; ``kinks`` = [(x, E, label)].

    The band |E| < ``tolerance_eV_per_atom`` (DFT error) is shaded; labels closer than 0.08 in x
    to the previous label are left out so they never overlap.
    """
    fig, ax = plt.subplots(figsize=(6, 3.6))
    xs = [k[0] for k in kinks]
    es = [k[1] for k in kinks]
    ax.axhspan(-tolerance_eV_per_atom, tolerance_eV_per_atom, color="#e8e8e8", zorder=0,
               label=f"within DFT error (|E| < {1000 * tolerance_eV_per_atom:g} meV/atom)")
    ax.plot(xs, es, "o-", color="#4c72b0")
    last_x = -1.0
    for x, e, label in sorted(kinks):
        if label and e < -1e-6 and x - last_x >= 0.08:
            ha = "left" if x < 0.2 else ("right" if x > 0.8 else "center")
            ax.annotate(label, (x, e), textcoords="offset points", xytext=(0, -12), ha=ha, fontsize=7)
            last_x = x
    if min(es + [0.0]) > -1e-6:
        ax.text(0.5, 0.01, "no reaction", ha="center", fontsize=9, color="grey")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel(f"mixing ratio x (atomic fraction of {a})")
    ax.set_ylabel("reaction energy (eV/atom)")
    ax.set_title(title or f"{a} | {b}", fontsize=10)
    ax.set_xlim(-0.02, 1.02)
    lo = min(es + [0.0])
    ax.set_ylim(min(lo * 1.3, -0.05), max(0.01 - lo * 0.05, 0.03))
    ax.legend(loc="lower right", fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def staircase_chart(stages, formula: str):
    """Phase equilibria of ``formula`` vs voltage (Li uptake per formula unit on the y axis)."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    top = max([s.low_V for s in stages] + [1.0]) + 1.0
    for s in stages:
        hi = top if s.high_V is None else s.high_V
        ax.hlines(s.li_uptake_per_formula_unit, s.low_V, hi, lw=2.5, color="#4c72b0")
        ax.text((s.low_V + hi) / 2, s.li_uptake_per_formula_unit, " + ".join(s.phases), fontsize=7,
                ha="center", va="bottom")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xlabel("Voltage vs Li/Li+ (V)")
    ax.set_ylabel("Li taken up per f.u.")
    ax.set_title(f"Equilibria of {formula} vs voltage")
    ax.set_xlim(0, top)
    fig.tight_layout()
    return fig


def lithiation_chart(paths):
    """Li uptake per formula unit vs voltage (falling): the lithiation staircase of each path."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for path in paths:
        xs, ys = [], []
        li = 0.0
        top = max([s.voltage_V for s in path.stages] + [0.5]) + 0.5
        v_prev = top
        for s in path.stages:
            xs += [v_prev, s.voltage_V]
            ys += [li, li]
            li = s.li_per_formula_unit
            v_prev = s.voltage_V
        xs += [v_prev, 0.0]
        ys += [li, li]
        (line,) = ax.plot(xs, ys, lw=2, label=path.precursor)
        for s in path.stages:
            ax.annotate(" + ".join(s.products), (s.voltage_V, s.li_per_formula_unit), textcoords="offset points",
                        xytext=(3, 3), fontsize=6, color=line.get_color())
    ax.set_xlabel("Voltage vs Li/Li+ (V)")
    ax.set_ylabel("Li taken up per formula unit")
    ax.invert_xaxis()
    ax.set_title("Lithiation path: stages reached as the voltage falls", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def ranking_chart(df, top: int = 20):
    """Composite score of the best ``top`` candidates, coloured by electronic character."""
    d = df.sort_values("rank").head(top)
    colors = {"insulating": "#55a868", "mixed": "#c44e52", "unknown": "#8c8c8c"}
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(d) + 1.2))
    ax.barh(np.arange(len(d)), d.score, color=[colors.get(c, "#8c8c8c") for c in d.electronic_character])
    ax.set_yticks(np.arange(len(d)), [f"{r}. {f}" for r, f in zip(d["rank_label"], d.candidate, strict=True)])
    ax.invert_yaxis()
    ax.set_xlabel("composite score (higher is better)")
    ax.set_title(f"Composite score, {top_label(df, d)}\ngreen: insulating interphase, red: mixed conductor", fontsize=10)
    fig.tight_layout()
    return fig
