"""Ad-hoc pymatgen entries cost what stored phases cost.

Times ``window(store, "Li3N")`` and ``window(store, entry)`` for a ComputedEntry equal to the
stored Li3N (a new entry_id, so it is placed against the store as an entry in no table), each
the median of ``--repeat`` calls in this process, and the resident memory after each of
``--calls`` entry calls.  Prints one JSON line: ``ratio`` = entry / stored (target <= 3) and
``rss_growth_mb`` over the calls (target: flat).

Usage: python benchmarks/adhoc_entries.py [--repeat 20] [--calls 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--calls", type=int, default=20)
    args = ap.parse_args()

    import psutil
    from pymatgen.entries.computed_entries import ComputedEntry

    from screening import open_store, screen, window

    store = open_store(fetched=False)
    li3n = store.resolve("Li3N")
    entry = ComputedEntry(li3n.composition, li3n.energy_eV, entry_id="my-li3n")
    window(store, "Li3N"), window(store, entry)  # warm: first phase sets, imports

    def med(f):
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            f()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    t_stored = med(lambda: window(store, "Li3N"))
    t_entry = med(lambda: window(store, entry))
    proc = psutil.Process()
    rss = []
    for k in range(args.calls):
        window(store, ComputedEntry(li3n.composition, li3n.energy_eV + 1e-3 * k, entry_id=f"my-li3n-{k}"))
        rss.append(proc.memory_info().rss / 2**20)
    llzo = store.resolve("Li7La3Zr2O12")
    el_entry = ComputedEntry(llzo.composition, llzo.energy_eV, entry_id="my-llzo")
    t = time.perf_counter()
    df = screen(store, ["I2", "LiF", "ZnO"], electrolyte=el_entry)
    t_screen = time.perf_counter() - t
    print(json.dumps({
        "window_stored_s": round(t_stored, 5), "window_entry_s": round(t_entry, 5), "ratio": round(t_entry / t_stored, 2),
        "rss_first_mb": round(rss[0], 1), "rss_last_mb": round(rss[-1], 1), "rss_growth_mb": round(rss[-1] - rss[0], 1),
        "screen_3_with_entry_electrolyte_s": round(t_screen, 3), "screen_errors": int((df.error != "").sum()),
    }))


if __name__ == "__main__":
    main()
