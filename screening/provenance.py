"""Where every number came from: the record written into reports and output files.

Tool version, date (``SOURCE_DATE_EPOCH`` honoured, so outputs are byte-identical across runs),
the command and its parameters, the data snapshots with their dates, and the attribution the
Materials Project licence (CC BY 4.0) asks for.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from importlib import metadata

from screening import __version__
from screening.errors import InputError

ATTRIBUTION = "MP data: CC BY 4.0 (Materials Project, Jain et al., APL Mater. 1, 011002 (2013))"
#: the data snapshots the shipped phase table is built from
SNAPSHOTS = [
    {"name": "MP hull phases (raw energies, MP2020 corrections applied here)", "date": "2024-09",
     "via": "google-deepmind/materials_discovery"},
    {"name": "MP band gaps (PBE)", "date": "2019", "via": "CompRhys/roost"},
    {"name": "MP GGA elemental reference entries", "date": "2023-02-07", "via": "janosh/matbench-discovery"},
    {"name": "MP structures and volumes", "date": "2025.02", "via": "fxcoudert/topology_databases"},
    {"name": "MP formation energies (legacy corrections)", "date": "2019 and 2018.6.1",
     "via": "CompRhys/roost; jarvis-leaderboard"},
    {"name": "measured densities and band gaps", "date": "curated", "via": "sources named per value"},
]


def now() -> str:
    """UTC time of this run as ISO 8601, or ``SOURCE_DATE_EPOCH`` when set (reproducible builds:
    whole seconds since 1970; a malformed value is bad input, as the specification asks)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            seconds = int(epoch)
            if seconds < 0:
                raise ValueError
            return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat(timespec="seconds")
        except (ValueError, OverflowError, OSError):
            raise InputError(f"SOURCE_DATE_EPOCH={epoch[:40]!r} is not a date: give whole seconds since 1970 "
                             "(e.g. 1700000000) or unset it") from None
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def command_line(argv=None) -> str:
    args = sys.argv[1:] if argv is None else argv
    return " ".join(["screening", *[a if a and " " not in a else repr(a) for a in args]])


def record(settings=None, command: str | None = None, store=None) -> dict:
    """The provenance record of an output."""
    out = {
        "tool": "screening",
        "version": __version__,
        "date": now(),
        "command": command if command is not None else command_line(),
        "parameters": settings.key() if settings is not None else {},
        "data": SNAPSHOTS,
        "attribution": ATTRIBUTION,
        "software": {"python": platform.python_version(), "pymatgen": metadata.version("pymatgen")},
    }
    if store is not None:
        extra = sorted({s for s in store.info_.get("sources", []) if s.startswith(("user:", "mp-api", "CHGNet"))})
        if extra:
            out["added_phases"] = extra
    return out


def text_lines(prov: dict) -> list[str]:
    """The record as short lines for Markdown/HTML reports and CSV sidecars."""
    p = prov.get("parameters", {})
    params = ", ".join(f"{k}={'default' if v is None else v}" for k, v in p.items()) if p else "defaults"
    data = "; ".join(f"{d['name']} ({d['date']})" for d in prov["data"])
    return [
        f"screening {prov['version']}, {prov['date']}",
        f"command: {prov['command']}",
        f"parameters: {params}",
        f"data: {data}",
        prov["attribution"],
    ]
