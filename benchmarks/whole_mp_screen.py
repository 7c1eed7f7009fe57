"""Whole-database screen: every phase of the store (``--all``) or every Li-bearing one (default)
against LLZO and Li metal.

Default: the Li-bearing hull phases (``screening screen --all-li``).  ``--all``: every hull phase
as a candidate, precursors and interlayers (``screening screen --all``).  ``--metastable``: every
phase within ``--max-e-hull`` (0.05 eV/atom) of the hull, polymorphs included.

Prints one JSON line (``--json``) or a short table:

* ``wall_s``: store load + the full ranked screen (``screening screen --all-li``), this code;
* ``baseline_wall_s``: the straightforward pymatgen loop (``screening.thermo.reference``:
  a PhaseDiagram per candidate system + get_element_profile + InterfacialReactivity), timed on a
  random sample of ``--sample`` candidates (fixed seed) and scaled to all candidates;
* ``speedup`` = baseline_wall_s / wall_s, both measured in this run on this machine;
* max differences between the two on the sample (reaction energies with Li and with the
  electrolyte, window limits) and the number of differing product sets;
* ``peak_rss_mb``: peak resident memory of this process and all its children (workers),
  summed, sampled every 0.1 s.

* ``store_open_s``: opening the store in this (warm) process, before the screen.

Usage: python benchmarks/whole_mp_screen.py --json [--all] [--workers 2] [--sample 200] [--seed 0] [--metastable]
(``--workers 0`` runs the fast screen serially in this process.)
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time


class PeakRSS:
    """Peak summed RSS (MB) of this process tree, sampled in a background thread."""

    def __init__(self, every_s: float = 0.1):
        import psutil

        self.proc = psutil.Process()
        self.every_s = every_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> float:
        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except Exception:  # a child that just exited
                pass
        return total / 2**20

    def _run(self):
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self._sample())
            self._stop.wait(self.every_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._sample())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    ap.add_argument("--workers", type=int, default=2, help="local Dask worker processes (0: serial)")
    ap.add_argument("--sample", type=int, default=200, help="baseline sample size")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--electrolyte", default="Li7La3Zr2O12")
    ap.add_argument("--all", action="store_true", help="every phase of the store, not only the Li-bearing ones")
    ap.add_argument("--metastable", action="store_true", help="every phase within --max-e-hull of the hull")
    ap.add_argument("--max-e-hull", type=float, default=0.05, help="eV/atom, with --metastable")
    args = ap.parse_args()

    with PeakRSS() as rss:
        t0 = time.perf_counter()
        runner = None
        if args.workers > 0:  # as `screening screen --workers N`: workers start while the store loads
            from screening.distributed import DaskRunner

            runner = DaskRunner(workers=args.workers).start()
        from screening import api, ranking
        from screening.store import open_store

        t_open = time.perf_counter()
        store = open_store(fetched=False)
        store_open = time.perf_counter() - t_open
        pick = ranking.all_candidates if args.all else ranking.all_li_candidates
        cand = pick(store, args.max_e_hull if args.metastable else None)
        df = api.screen(store, cand, electrolyte=args.electrolyte, runner=runner)
        wall = time.perf_counter() - t0
    fast_rss = rss.peak_mb

    from screening.thermo.reference import reference_row

    sample = random.Random(args.seed).sample(list(cand.formula), min(args.sample, len(cand)))
    rows = df.set_index("candidate")
    t1 = time.perf_counter()
    refs = [reference_row(store, f, args.electrolyte) for f in sample]
    base_sample = time.perf_counter() - t1
    baseline = base_sample / len(sample) * len(cand)

    d_e = d_v = 0.0
    mismatched = []
    for f, ref in zip(sample, refs, strict=True):
        r = rows.loc[f]
        d_e = max(d_e, abs(r.li_reaction_energy_eV_per_atom - ref.li_reaction_energy_eV_per_atom),
                  abs(r.electrolyte_reaction_energy_eV_per_atom - ref.electrolyte_reaction_energy_eV_per_atom))
        d_v = max(d_v, abs(r.reduction_limit_V - ref.reduction_limit_V))
        if ref.oxidation_limit_V is not None:
            d_v = max(d_v, abs(r.oxidation_limit_V - ref.oxidation_limit_V))
        ours_el = tuple(sorted(r.electrolyte_reaction_products.split(" + "))) if r.electrolyte_reaction_energy_eV_per_atom < -1e-6 else ()
        if tuple(sorted(r.interphase.split(" + "))) != ref.interphase or ours_el != ref.electrolyte_reaction_products:
            mismatched.append(f)

    out = {
        "n_candidates": len(cand),
        "all": bool(args.all),
        "metastable": bool(args.metastable),
        "store_open_s": round(store_open, 2),
        "n_errors": int((df["error"].fillna("") != "").sum()),
        "workers": args.workers,
        "wall_s": round(wall, 2),
        "baseline_wall_s": round(baseline, 1),
        "baseline_sample": len(sample),
        "baseline_sample_wall_s": round(base_sample, 2),
        "speedup": round(baseline / wall, 1),
        "max_abs_energy_diff_eV_per_atom": float(f"{d_e:.3g}"),
        "max_abs_voltage_diff_V": float(f"{d_v:.3g}"),
        "n_product_set_mismatches": len(mismatched),
        "peak_rss_mb": round(fast_rss),
    }
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:34s} {v}")
        if mismatched:
            print("product sets differ for:", ", ".join(mismatched))


if __name__ == "__main__":
    main()
