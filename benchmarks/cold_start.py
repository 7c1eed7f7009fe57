"""Cold start of the command line: ``screening window LiI --json`` in a new process, against
``python -c "import pymatgen.core"`` measured side by side (alternating, same machine, same run).

Prints the median wall times of ``--repeat`` runs of each and their ratio (target: <= 6).
The first run of each is a warm-up (file-system cache) and is not counted.

Usage: python benchmarks/cold_start.py [--json] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def wall(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    exe = shutil.which("screening") or os.path.join(os.path.dirname(sys.executable), "screening")
    cache = tempfile.mkdtemp(prefix="screening-cold-")
    env = {**os.environ, "SCREENING_CACHE": cache}
    baseline = [sys.executable, "-c", "import pymatgen.core"]
    command = [exe, "window", "LiI", "--json"]
    wall(baseline, env), wall(command, env)  # warm the file-system cache
    base, ours = [], []
    for _ in range(args.repeat):
        base.append(wall(baseline, env))
        ours.append(wall(command, env))
    shutil.rmtree(cache, ignore_errors=True)
    out = {"repeat": args.repeat, "import_pymatgen_core_s": round(statistics.median(base), 3),
           "screening_window_LiI_json_s": round(statistics.median(ours), 3),
           "ratio": round(statistics.median(ours) / statistics.median(base), 2), "target_ratio": 6.0}
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:30s} {v}")


if __name__ == "__main__":
    main()
