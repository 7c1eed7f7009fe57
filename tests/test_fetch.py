"""End-to-end tests of ``screening.data.mp_api.fetch_chemsys`` with only HTTP faked.

A real HTTP server (``http.server`` in a thread on 127.0.0.1) plays the Materials Project API and is
passed to ``fetch_chemsys`` through its ``endpoint`` argument.  Everything above the socket is real:
mp-api's ``MPRester`` (heartbeat check, query building, document models), emmet/pymatgen
entry deserialization, our table writing and merging the fetched rows into a store.

What ``fetch_chemsys`` makes mp-api (0.46.x) request, and what the fake serves:

* ``GET {endpoint}heartbeat`` (twice on construction: emmet version + db version; no auth);
* ``GET {endpoint}materials/thermo/?chemsys=Li,O,Li-O&thermo_types=GGA_GGA+U&_limit=1000
  &_fields=entries,thermo_type`` -> ThermoDocs whose ``entries`` hold MP2020-corrected
  ComputedStructureEntry dicts (with ``energy_adjustments`` and structures);
* ``GET {endpoint}materials/summary/?chemsys=Li,O,Li-O&_limit=1000&_fields=material_id,band_gap``
  -> SummaryDocs with band gaps.

Every response has MP's ``{"data": [...], "errors": [], "meta": {...}}`` shape; data routes check the
``x-api-key`` header, filter on the query, honour ``_fields``/``_skip``/``_limit`` and answer 400 to
query parameters they do not know (as MP does), so a wrong query fails loudly.

The ``store`` fixture (session scope, the real phase store from the prebuilt cache) is conftest's.
"""

from __future__ import annotations

import copy
import json
import socket
import sys
import threading
import time
import uuid
import warnings
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from monty.json import MontyEncoder
from pymatgen.core import Lattice, Structure
from pymatgen.entries.compatibility import MaterialsProject2020Compatibility
from pymatgen.entries.computed_entries import ComputedStructureEntry

from screening.data import gaps as gaps_mod
from screening.data import mp_api
from screening.data.cache import read_shipped, read_table, write_table
from screening.data.mp_api import fetch_chemsys, read_fetched
from screening.store import PhaseStore
from screening.errors import DataError, InputError

N_A = 6.02214076e23
API_KEY = "abcdefghijklmnopqrstuvwxyz012345"  # mp-api insists on 32 characters
assert len(API_KEY) == 32
DB_VERSION = "2025.09.25"
EMMET_VERSION = "0.87.3"  # >= mp-api's MIN_EMMET_VERSION, so no compatibility warning
POTCARS = {"Li": "PAW_PBE Li_sv 10Sep2004", "O": "PAW_PBE O 08Apr2002", "F": "PAW_PBE F 08Apr2002",
           "I": "PAW_PBE I 08Apr2002", "Na": "PAW_PBE Na_pv 19Sep2006", "Cl": "PAW_PBE Cl 06Sep2000"}


# --------------------------------------------------------------------------- the served data
def _li() -> Structure:  # bcc Li (mp-135), a = 3.44 A, one atom per primitive cell
    return Structure(Lattice.cubic(3.44), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]]).get_primitive_structure()


def _o2() -> Structure:  # alpha-O2 (C2/m), molecules of 1.207 A normal to the ab plane
    lat = Lattice.monoclinic(5.403, 3.429, 5.086, 132.53)
    n = np.cross(lat.matrix[0], lat.matrix[1])
    site = lat.get_fractional_coords(0.6035 * n / np.linalg.norm(n))
    return Structure.from_spacegroup("C2/m", lat, ["O"], [site]).get_primitive_structure()


def _li2o() -> Structure:  # antifluorite Li2O (mp-1960), a = 4.61 A, primitive cell Li2O1
    cubic = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.61), ["Li", "O"], [[0.25, 0.25, 0.25], [0, 0, 0]])
    return cubic.get_primitive_structure()


def _li2o2() -> Structure:  # Li2O2 (mp-841), P6_3/mmc, Li4O4, peroxide O-O ~ 1.55 A
    return Structure.from_spacegroup(
        "P6_3/mmc", Lattice.hexagonal(3.142, 7.650), ["Li", "Li", "O"], [[0, 0, 0], [1 / 3, 2 / 3, 0.25], [1 / 3, 2 / 3, 0.649]]
    )


#: material_id -> (structure, raw GGA energy of that cell in eV, PBE band gap in eV, oxidation states)
MATERIALS = {
    "mp-135": (_li(), -1.9089, 0.0, {"Li": 0.0}),
    "mp-12957": (_o2(), -9.8697, 6.9284, {"O": 0.0}),
    "mp-1960": (_li2o(), -14.2690, 4.9, {"Li": 1.0, "O": -2.0}),
    "mp-841": (_li2o2(), -38.7650, 1.9743, {"Li": 1.0, "O": -1.0}),
}
LI2O_GAP = MATERIALS["mp-1960"][2]
#: Li-I as MP has it (energies MP2020-corrected as in the shipped table, PBE gaps from MP): the
#: lowest-energy LiI polymorph is the hexagonal mp-570935, not rock salt mp-22899.
LI_I = {
    "mp-23153": (Structure.from_spacegroup("Cmce", Lattice.orthorhombic(7.18, 4.71, 9.81), ["I"], [[0, 0.1543, 0.1174]])
                 .get_primitive_structure(), -6.0961, 1.0141, {"I": 0.0}),
    "mp-22899": (Structure.from_spacegroup("Fm-3m", Lattice.cubic(6.00), ["Li", "I"], [[0, 0, 0], [0.5, 0.5, 0.5]])
                 .get_primitive_structure(), -6.2048 + 0.379, 4.2306, {"Li": 1.0, "I": -1.0}),
    "mp-570935": (Structure.from_spacegroup("P6_3mc", Lattice.hexagonal(4.48, 7.32), ["Li", "I"], [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.375]]),
                  -12.5552 + 2 * 0.379, 4.3818, {"Li": 1.0, "I": -1.0}),
}
#: A material outside Li-O: served by the fake, must never reach the Li-O table.
OTHER = {"mp-1138": (Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.03), ["Li", "F"], [[0, 0, 0], [0.5, 0.5, 0.5]]), -9.7820, 8.7),
         # F2: one molecule (1.42 A) in a 4 A cube, the F reference of Li-F fetches
         "mp-561203": (Structure(Lattice.cubic(4.0), ["F", "F"], [[0, 0, 0], [0.355, 0, 0]]), -3.8236, 2.6)}

#: MP serializes with pymatgen's historical module paths; serve exactly that.
_LEGACY_MODULES = {
    "pymatgen.core.entries": "pymatgen.entries.computed_entries",
    "pymatgen.analysis.compatibility": "pymatgen.entries.compatibility",
}


def _legacy(obj):
    if isinstance(obj, dict):
        out = {k: _legacy(v) for k, v in obj.items()}
        if out.get("@module") in _LEGACY_MODULES:
            out["@module"] = _LEGACY_MODULES[out["@module"]]
        return out
    if isinstance(obj, list):
        return [_legacy(v) for v in obj]
    return obj


def _entry_dict(mid: str, structure: Structure, energy: float, oxi: dict, run_type: str = "GGA") -> dict:
    """An MP thermo-doc entry: ComputedStructureEntry with MP2020 energy_adjustments, as JSON."""
    comp = structure.composition
    entry = ComputedStructureEntry(
        structure, energy, entry_id=f"{mid}-{run_type}",
        parameters={
            "potcar_spec": [{"titel": POTCARS[el.symbol], "hash": None} for el in sorted(comp.elements)],
            "run_type": run_type, "is_hubbard": False, "hubbards": {},
        },
        data={
            "aspherical": False, "last_updated": "2024-11-01 00:00:00",
            "task_id": mid, "material_id": mid, "oxidation_states": oxi, "license": "BY-C", "run_type": run_type,
        },
    )
    if run_type in ("GGA", "GGA+U"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (entry,) = MaterialsProject2020Compatibility(check_potcar_hash=False).process_entries([entry])
    d = json.loads(json.dumps(_legacy(entry.as_dict()), cls=MontyEncoder))
    assert d["energy"] == energy  # uncorrected; the correction lives in energy_adjustments
    return d


def _corrected(entry: dict) -> float:
    """Corrected energy of a served entry dict, recomputed from its JSON (independent of pymatgen)."""
    adj = sum(a["adj_per_atom"] * a["n_atoms"] if "adj_per_atom" in a else a["value"] for a in entry["energy_adjustments"])
    return entry["energy"] + adj


def _thermo_doc(mid, structure, entry, thermo_type):
    comp = structure.composition
    e = _corrected(entry)
    return {
        "material_id": mid, "thermo_id": f"{mid}_{thermo_type}", "thermo_type": thermo_type,
        "formula_pretty": comp.reduced_formula, "chemsys": comp.chemical_system, "nelements": len(comp),
        "elements": sorted(el.symbol for el in comp.elements), "nsites": len(structure),
        "composition": {k: float(v) for k, v in comp.as_dict().items()},
        "energy_per_atom": e / comp.num_atoms, "uncorrected_energy_per_atom": entry["energy"] / comp.num_atoms,
        "energy_type": entry["parameters"]["run_type"], "entry_types": [entry["parameters"]["run_type"]],
        "entries": {entry["parameters"]["run_type"]: entry}, "deprecated": False,
        "last_updated": "2025-09-25T00:00:00",
    }


def _summary_doc(mid, structure, gap):
    comp = structure.composition
    return {
        "material_id": mid, "formula_pretty": comp.reduced_formula, "chemsys": comp.chemical_system,
        "nsites": len(structure), "band_gap": gap, "is_metal": gap == 0.0, "deprecated": False,
        "builder_meta": {"license": "BY-C"}, "batch_id": None,
    }


def _dataset():
    """(thermo docs, summary docs, served GGA entries by material_id)."""
    thermo, summary, served = [], [], {}
    for mid, (s, energy, gap, oxi) in {**MATERIALS, **LI_I, **{k: (*v, {}) for k, v in OTHER.items()}}.items():
        entry = _entry_dict(mid, s, energy, oxi)
        served[mid] = entry
        thermo.append(_thermo_doc(mid, s, entry, "GGA_GGA+U"))
        # The mixed GGA/GGA+U/r2SCAN hull MP also serves (energies on another scale): asking for the
        # wrong thermo type would pull these in and the energy asserts would catch it.
        r2 = _entry_dict(mid, s, energy * 1.9, oxi, run_type="r2SCAN")
        thermo.append(_thermo_doc(mid, s, r2, "GGA_GGA+U_R2SCAN"))
        summary.append(_summary_doc(mid, s, gap))
    return thermo, summary, served


THERMO_DOCS, SUMMARY_DOCS, SERVED = _dataset()
_NACL = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.69), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]).get_primitive_structure()
#: rock-salt NaCl (mp-22862): never asked for; served only by a misbehaving server
NACL_DOC = _thermo_doc("mp-22862", _NACL, _entry_dict("mp-22862", _NACL, -6.95, {"Na": 1.0, "Cl": -1.0}), "GGA_GGA+U")


# --------------------------------------------------------------------------- the fake API server
class FakeMP:
    """A tiny Materials Project API on 127.0.0.1 (own thread); records every request."""

    ROUTES = {
        "materials/thermo/": ("thermo", {"chemsys", "formula", "material_ids", "thermo_types", "_fields", "_all_fields", "_limit", "_skip"}),
        "materials/summary/": ("summary", {"chemsys", "formula", "material_ids", "batch_id_not_eq", "deprecated", "_fields", "_all_fields", "_limit", "_skip"}),
    }

    def __init__(self, *, deny_status: int | None = None, heartbeat_status: int = 200, echo_key: bool = False,
                 stall: tuple[str, ...] = (), stall_heartbeats_after: int | None = None,
                 script: dict[str, list[tuple[int, dict]]] | None = None, tamper=None):
        self.deny_status = deny_status  # answer every data request with this status (bad key)
        self.heartbeat_status = heartbeat_status
        self.echo_key = echo_key  # put the key sent into the error detail (as a careless server might)
        self.stall = set(stall)  # routes that accept the request and never answer
        self.stall_heartbeats_after = stall_heartbeats_after  # answer this many heartbeats, then stall
        self.script = {k: list(v) for k, v in (script or {}).items()}  # route -> [(status, headers)] first
        self.tamper = tamper  # (route name, docs) -> docs, after the query filter
        self.release = threading.Event()  # set on stop: stalled requests end (connection closed)
        self.n_heartbeats = 0
        self.prefix = f"/mp-{uuid.uuid4().hex[:8]}/"  # unique URL: mp-api caches heartbeats per endpoint
        self.requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        self.docs = {"thermo": THERMO_DOCS, "summary": SUMMARY_DOCS}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                params = parse_qs(parts.query, keep_blank_values=True)
                fake.requests.append((parts.path, params, {k.lower(): v for k, v in self.headers.items()}))
                route = parts.path[len(fake.prefix):]
                if route.startswith("heartbeat"):
                    fake.n_heartbeats += 1
                    if fake.stall_heartbeats_after is not None and fake.n_heartbeats > fake.stall_heartbeats_after:
                        route = "heartbeat-stalled"
                if route in fake.stall or route == "heartbeat-stalled":
                    fake.release.wait()
                    self.close_connection = True
                    return
                extra = {}
                if fake.script.get(route):
                    status, extra = fake.script[route].pop(0)
                    body = {"detail": f"scripted {status}"}
                else:
                    status, body = fake.answer(parts.path, params, self.headers.get("x-api-key"))
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-mp-api", daemon=True
        )
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{self.prefix}"

    def start(self) -> FakeMP:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()  # joins request threads
        self.thread.join(timeout=5)

    def answer(self, path: str, params: dict, key: str | None) -> tuple[int, dict]:
        if not path.startswith(self.prefix):
            return 404, {"detail": "Not Found"}
        route = path[len(self.prefix):]
        if route in ("heartbeat", "heartbeat/"):
            if self.heartbeat_status != 200:
                return self.heartbeat_status, {"detail": "Forbidden"}
            return 200, {"status": "OK", "message": "Materials Project API", "version": EMMET_VERSION,
                         "db_version": DB_VERSION, "access_controlled_batch_ids": ["gnome_r2scan_statics"]}
        if route not in self.ROUTES:
            return 404, {"detail": "Not Found"}
        if self.deny_status is not None or key != API_KEY:
            status = self.deny_status or 401
            detail = "Invalid API key" if status == 401 else "Forbidden: API key not authorized"
            return status, {"detail": f"{detail} {key!r}" if self.echo_key else detail}
        name, allowed = self.ROUTES[route]
        if unknown := set(params) - allowed:
            return 400, {"detail": f"Unknown query parameter(s): {sorted(unknown)}"}
        one = {k: v[-1] for k, v in params.items()}
        docs = self.docs[name]
        if "chemsys" in one:
            wanted = set(one["chemsys"].split(","))
            docs = [d for d in docs if d["chemsys"] in wanted]
        if "thermo_types" in one:
            wanted = set(one["thermo_types"].split(","))
            docs = [d for d in docs if d["thermo_type"] in wanted]
        if "material_ids" in one:
            wanted = set(one["material_ids"].split(","))
            docs = [d for d in docs if d["material_id"] in wanted]
        if "batch_id_not_eq" in one:
            docs = [d for d in docs if d.get("batch_id") != one["batch_id_not_eq"]]
        if self.tamper is not None:
            docs = self.tamper(name, copy.deepcopy(docs))
        total = len(docs)
        skip, limit = int(one.get("_skip", 0)), int(one.get("_limit", 100))
        docs = docs[skip:skip + limit]
        if "_fields" in one and one.get("_all_fields", "false").lower() != "true":
            fields = one["_fields"].split(",")
            docs = [{f: d[f] for f in fields if f in d} for d in docs]
        meta = {"api_version": EMMET_VERSION, "time_stamp": "2025-10-01T00:00:00", "total_doc": total,
                "max_limit": 1000, "facet": {}}
        return 200, {"data": copy.deepcopy(docs), "errors": [], "meta": meta}

    def data_requests(self, route: str):
        return [(p, q) for p, q, _ in self.requests if p == self.prefix + route]


@pytest.fixture
def fake_mp():
    server = FakeMP().start()
    try:
        yield server
    finally:
        server.stop()
    assert not server.thread.is_alive()


@pytest.fixture
def no_env_key(monkeypatch):
    monkeypatch.delenv("MP_API_KEY", raising=False)
    monkeypatch.delenv("MP_API_ENDPOINT", raising=False)


@pytest.fixture
def fast_backoff(monkeypatch):
    monkeypatch.setattr(mp_api, "BACKOFF_S", (0.05, 0.05, 0.05))


def _calibration() -> gaps_mod.Calibration:
    return gaps_mod.Calibration(**read_shipped()[1]["gap_calibration"])


def _only_fetch_files(cache) -> list[str]:
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*"))


# --------------------------------------------------------------------------- happy path
def test_fetch_writes_mp_api_table(tmp_path, fake_mp, no_env_key):
    path = fetch_chemsys("O-Li", tmp_path, api_key=API_KEY, endpoint=fake_mp.url)

    assert path == tmp_path / "mp_api" / "Li-O.parquet"
    assert _only_fetch_files(tmp_path) == ["mp_api", "mp_api/Li-O.parquet", "mp_api/Li-O.parquet.sha256"]

    # what mp-api asked for, over the wire
    hb = fake_mp.data_requests("heartbeat")
    assert len(hb) >= 1 and all(not q for _, q in hb)
    (th,) = fake_mp.data_requests("materials/thermo/")
    q = th[1]
    assert set(q["chemsys"][0].split(",")) == {"Li", "O", "Li-O"}
    assert q["thermo_types"] == ["GGA_GGA+U"]
    assert set(q["_fields"][0].split(",")) == {"entries", "thermo_type"}
    (su,) = fake_mp.data_requests("materials/summary/")
    assert set(su[1]["chemsys"][0].split(",")) == {"Li", "O", "Li-O"}
    assert set(su[1]["_fields"][0].split(",")) == {"material_id", "band_gap"}
    assert all(h.get("x-api-key") == API_KEY for p, _, h in fake_mp.requests if "materials/" in p)

    table, report = read_table(path)
    table = table.frame()
    assert report == {"chemsys": "Li-O", "n_entries": 4, "format": mp_api.FORMAT}
    assert sorted(table.phase_id) == sorted(MATERIALS)
    assert (table.source == "mp-api").all() and (table.origin == "mp-api").all()
    assert "mp-1138" not in set(table.material_id)
    t = table.set_index("phase_id")

    for mid, (s, raw, gap, _) in MATERIALS.items():
        row = t.loc[mid]
        entry = SERVED[mid]
        comp = s.composition
        assert row.formula == comp.reduced_formula
        assert row.chemsys == comp.chemical_system
        assert row.n_atoms == comp.num_atoms
        assert row.raw_energy_eV == pytest.approx(raw, abs=1e-9)
        assert row.energy_eV == pytest.approx(_corrected(entry), abs=1e-9)
        assert row.correction_eV == pytest.approx(_corrected(entry) - raw, abs=1e-9)
        assert row.band_gap_pbe_eV == pytest.approx(gap, abs=1e-12)  # MP's PBE gap, kept
        fu = comp.get_reduced_composition_and_factor()[1]
        vm = s.volume / fu * 1e-24 * N_A
        assert row.molar_volume_cm3_per_mol == pytest.approx(vm, rel=1e-6)
        assert row.density_g_cm3 == pytest.approx(float(comp.reduced_composition.weight) / vm, rel=1e-6)

    li2o = t.loc["mp-1960"]
    # antifluorite, a = 4.61 A: 4 formula units per cubic cell of a^3
    assert li2o.molar_volume_cm3_per_mol == pytest.approx(4.61**3 / 4 * 1e-24 * N_A, rel=1e-6)
    assert li2o.molar_volume_cm3_per_mol == pytest.approx(14.7502, abs=1e-3)
    assert li2o.raw_energy_eV == -14.2690
    assert li2o.correction_eV == pytest.approx(-0.687, abs=1e-9)  # MP2020 oxide anion correction, 1 O
    assert li2o.energy_eV == pytest.approx(-14.9560, abs=1e-9)
    # band gaps as for shipped phases: measured first (Li2O, Li2O2), else PBE corrected (O2), 0 stays 0 (Li)
    assert li2o.band_gap_eV == 7.02 and li2o.band_gap_origin == "measured"
    assert li2o.band_gap_pbe_eV == LI2O_GAP == 4.9
    assert "measured_band_gaps.csv row 9" in li2o.band_gap_source
    assert t.loc["mp-841"].band_gap_eV == 3.0 and t.loc["mp-841"].band_gap_origin == "measured"
    cal = _calibration()
    o2 = t.loc["mp-12957"]
    assert o2.band_gap_origin == "pbe-corrected"
    assert o2.band_gap_eV == pytest.approx(cal.a * 6.9284 + cal.b, abs=1e-9) and o2.band_gap_pbe_eV == 6.9284
    assert "mp-api summary" in o2.band_gap_source and cal.text() in o2.band_gap_source
    assert t.loc["mp-135"].band_gap_eV == 0.0 and t.loc["mp-135"].band_gap_origin == "pbe-corrected"
    assert t.loc["mp-841"].correction_eV == pytest.approx(4 * -0.465, abs=1e-9)  # peroxide, 4 O
    assert t.loc["mp-135"].correction_eV == 0.0 and t.loc["mp-12957"].correction_eV == 0.0


def test_fetch_uses_env_key(tmp_path, fake_mp, monkeypatch):
    monkeypatch.setenv("MP_API_KEY", API_KEY)
    path = fetch_chemsys("Li-O", tmp_path, endpoint=fake_mp.url)
    assert path.is_file()


@pytest.mark.data
def test_merge_fetched_replaces_li_o(tmp_path, fake_mp, no_env_key, store):
    fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=fake_mp.url)
    small = PhaseStore(store.select(["Li", "O", "F"]).copy(), dict(store.info_))
    before = small.select(["Li", "O"])
    assert len(before) > 0 and (before.source != "mp-api").any()
    li_f_before = small.table[small.table.chemsys.isin(["F", "F-Li"])].set_index("phase_id")

    rows, systems = read_fetched(tmp_path)
    assert systems == ["Li-O"]
    merged = small.with_phases(rows, replace_systems=systems)

    li_o = merged.select(["Li", "O"]).set_index("phase_id")
    assert sorted(li_o.index) == sorted(MATERIALS)
    assert (li_o.source == "mp-api").all()
    assert "mp-api" in merged.info_["sources"]
    # F and Li-F phases are kept as they were (Li is replaced: it is a subsystem of Li-O)
    li_f = merged.table[merged.table.chemsys.isin(["F", "F-Li"])].set_index("phase_id")
    assert sorted(li_f.index) == sorted(li_f_before.index)
    assert (li_f.source == li_f_before.source.loc[li_f.index]).all()
    np.testing.assert_allclose(li_f.energy_eV, li_f_before.energy_eV.loc[li_f.index])
    assert len(merged.table) == len(small.table) - len(before) + len(MATERIALS)

    # derived numbers are recomputed from the served energies
    e_li = _corrected(SERVED["mp-135"]) / 1
    e_o = _corrected(SERVED["mp-12957"]) / len(MATERIALS["mp-12957"][0])
    e_li2o = _corrected(SERVED["mp-1960"])
    row = li_o.loc["mp-1960"]
    assert row.energy_eV == pytest.approx(e_li2o, abs=1e-9)
    assert row.formation_energy_eV_per_atom == pytest.approx((e_li2o - 2 * e_li - e_o) / 3, abs=1e-9)
    assert row.e_above_hull_eV_per_atom == pytest.approx(0.0, abs=1e-6)
    assert np.isnan(row.placed_e_above_hull_eV_per_atom)
    assert row.band_gap_eV == 7.02 and row.band_gap_origin == "measured" and row.band_gap_pbe_eV == LI2O_GAP
    s = MATERIALS["mp-1960"][0]
    assert row.molar_volume_cm3_per_mol == pytest.approx(s.volume * 1e-24 * N_A, rel=1e-6)
    found = merged.lookup("Li2O")
    assert found.phase_id == "mp-1960" and found.source == "mp-api"


def test_damaged_fetched_file_is_named(tmp_path, fake_mp, no_env_key):
    path = fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=fake_mp.url)
    path.write_bytes(path.read_bytes()[:100])  # truncated
    with pytest.raises(DataError, match="Li-O.parquet is damaged"):
        read_fetched(tmp_path)


# --------------------------------------------------------------------------- error paths
def test_no_api_key(tmp_path, fake_mp, no_env_key):
    with pytest.raises(DataError, match="MP_API_KEY"):
        fetch_chemsys("Li-O", tmp_path, endpoint=fake_mp.url)
    assert _only_fetch_files(tmp_path) == []
    assert fake_mp.requests == []


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_key(tmp_path, no_env_key, status):
    server = FakeMP(deny_status=status).start()
    try:
        with pytest.raises(DataError, match="MP_API_KEY") as err:
            fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=server.url)
    finally:
        server.stop()
    assert str(status) in str(err.value)
    assert _only_fetch_files(tmp_path) == []
    assert server.data_requests("materials/thermo/")  # it got as far as the data route


def test_wrong_key(tmp_path, fake_mp, no_env_key):
    bad = "z" * 32
    with pytest.raises(DataError, match="401"):
        fetch_chemsys("Li-O", tmp_path, api_key=bad, endpoint=fake_mp.url)
    assert _only_fetch_files(tmp_path) == []


def test_heartbeat_forbidden(tmp_path, no_env_key):
    server = FakeMP(deny_status=403, heartbeat_status=403).start()
    try:
        with pytest.raises(DataError, match="403"), pytest.warns(Warning, match="heartbeat"):
            fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=server.url)
    finally:
        server.stop()
    assert _only_fetch_files(tmp_path) == []


def test_server_not_listening(tmp_path, no_env_key, fast_backoff):
    # a port we hold bound but never listen on: connections are refused, and nobody else can take it
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/mp-closed-{uuid.uuid4().hex[:8]}/"
        with pytest.raises(DataError, match="MP_API_KEY and network"):
            fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=url)
    assert _only_fetch_files(tmp_path) == []


@pytest.mark.parametrize("chemsys", ["Li-Xx", "", "Li-O-Qq"])
def test_bad_chemsys(tmp_path, fake_mp, no_env_key, chemsys):
    with pytest.raises(InputError):
        fetch_chemsys(chemsys, tmp_path, api_key=API_KEY, endpoint=fake_mp.url)
    assert _only_fetch_files(tmp_path) == []
    assert fake_mp.requests == []


# --------------------------------------------------------------------------- band gaps like shipped phases
def test_li_i_band_gaps_measured_first(tmp_path, fake_mp, no_env_key):
    fetch_chemsys("Li-I", tmp_path, api_key=API_KEY, endpoint=fake_mp.url)
    rows, systems = read_fetched(tmp_path)
    assert systems == ["Li-I"]
    t = rows.set_index("phase_id")
    assert sorted(t.index) == sorted(["mp-135", *LI_I])
    cal = _calibration()
    # the lowest-energy LiI polymorph takes the curated measured gap; MP's PBE gap is kept beside it
    lii = t.loc["mp-570935"]
    assert lii.band_gap_eV == 5.9 and lii.band_gap_origin == "measured"
    assert lii.band_gap_pbe_eV == 4.3818
    assert "measured_band_gaps.csv row 5" in lii.band_gap_source
    # the other polymorph and I2: PBE corrected with the shipped calibration
    rs = t.loc["mp-22899"]
    assert rs.band_gap_origin == "pbe-corrected" and rs.band_gap_pbe_eV == 4.2306
    assert rs.band_gap_eV == pytest.approx(cal.a * 4.2306 + cal.b, abs=1e-9)
    assert t.loc["mp-23153"].band_gap_eV == pytest.approx(cal.a * 1.0141 + cal.b, abs=1e-9)
    lowest = rows.assign(epa=rows.energy_eV / rows.n_atoms).sort_values("epa").drop_duplicates("formula")
    assert lowest.set_index("formula").loc["LiI"].phase_id == "mp-570935"


def test_tagged_measured_gap_follows_its_mp_id(tmp_path, no_env_key):
    # LiF's curated row is tagged [mp-1138]: it goes to that id even when a lower-energy LiF is
    # served (mp-1009009 here: a made-up polymorph 5 meV/atom below rock salt)
    low = copy.deepcopy(next(d for d in THERMO_DOCS if d["material_id"] == "mp-1138" and d["thermo_type"] == "GGA_GGA+U"))
    entry = next(iter(low["entries"].values()))
    low["material_id"] = entry["data"]["material_id"] = entry["data"]["task_id"] = "mp-1009009"
    entry["entry_id"] = "mp-1009009-GGA"
    entry["energy"] -= 0.01
    summary = {**next(d for d in SUMMARY_DOCS if d["material_id"] == "mp-1138"), "material_id": "mp-1009009", "band_gap": 8.0}
    server = FakeMP(tamper=lambda name, docs: docs + ([low] if name == "thermo" else [summary])).start()
    try:
        fetch_chemsys("Li-F", tmp_path, api_key=API_KEY, endpoint=server.url)
    finally:
        server.stop()
    t = read_fetched(tmp_path)[0].set_index("phase_id")
    assert t.loc["mp-1138"].band_gap_eV == 13.6 and t.loc["mp-1138"].band_gap_origin == "measured"
    assert t.loc["mp-1009009"].band_gap_origin == "pbe-corrected"


# --------------------------------------------------------------------------- deadline and retries
def test_server_that_never_answers_times_out(tmp_path, no_env_key):
    server = FakeMP(stall=("heartbeat",)).start()  # accepts every connection, answers nothing
    try:
        start = time.monotonic()
        with pytest.raises(DataError, match=r"did not answer Li-O within 1.5 s") as err:
            fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=server.url, timeout=1.5)
        elapsed = time.monotonic() - start
    finally:
        server.stop()
    assert elapsed < 1.5 + 1.0
    assert "\n" not in str(err.value) and "SCREENING_FETCH_TIMEOUT" in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert _only_fetch_files(tmp_path) == []


def test_stalled_data_route_times_out_from_env(tmp_path, no_env_key, monkeypatch):
    monkeypatch.setenv("SCREENING_FETCH_TIMEOUT", "1.5")
    server = FakeMP(stall=("materials/thermo/",)).start()
    try:
        start = time.monotonic()
        with pytest.raises(DataError, match="within 1.5 s"):
            fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=server.url)
        elapsed = time.monotonic() - start
    finally:
        server.stop()
    assert server.data_requests("materials/thermo/")  # it got past the heartbeats
    assert elapsed < 1.5 + 1.0
    assert _only_fetch_files(tmp_path) == []


def test_mp_api_heartbeat_without_timeout_is_bounded(tmp_path, no_env_key):
    # our heartbeat check is answered; mp-api's own (bare requests.get, no timeout) hangs: the
    # deadline still holds, and the abandoned worker ends when the server goes away
    server = FakeMP(stall_heartbeats_after=1).start()
    try:
        start = time.monotonic()
        with pytest.raises(DataError, match="within 1.5 s"):
            fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=server.url, timeout=1.5)
        assert time.monotonic() - start < 1.5 + 1.0
        assert server.n_heartbeats == 2
    finally:
        server.stop()
    assert _only_fetch_files(tmp_path) == []
    for th in threading.enumerate():
        if th.name == "screening-mp-fetch":
            th.join(timeout=5)
            assert not th.is_alive()


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), float("nan"), 1e6, "soon"])
def test_bad_timeout_argument(tmp_path, fake_mp, no_env_key, timeout):
    with pytest.raises(InputError, match="timeout="):
        fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=fake_mp.url, timeout=timeout)
    assert fake_mp.requests == []


def test_bad_timeout_env(tmp_path, fake_mp, no_env_key, monkeypatch):
    monkeypatch.setenv("SCREENING_FETCH_TIMEOUT", "ten")
    with pytest.raises(InputError, match="SCREENING_FETCH_TIMEOUT='ten'"):
        fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=fake_mp.url)
    assert fake_mp.requests == []


@pytest.mark.parametrize("retry_after", ["3600", "date"])
def test_long_retry_after_fails_at_once(tmp_path, no_env_key, retry_after):
    if retry_after == "date":
        retry_after = format_datetime(datetime.now(timezone.utc) + timedelta(hours=1), usegmt=True)
    server = FakeMP(script={"materials/thermo/": [(429, {"Retry-After": retry_after})]}).start()
    try:
        start = time.monotonic()
        with pytest.raises(DataError, match=r"HTTP 429\) and asks to retry after 3[56]\d\d s") as err:
            fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=server.url)
        elapsed = time.monotonic() - start
    finally:
        server.stop()
    assert elapsed < 5  # not an hour
    assert "run it again after" in str(err.value) and "UTC" in str(err.value)
    assert len(server.data_requests("materials/thermo/")) == 1
    assert _only_fetch_files(tmp_path) == []


def test_short_retry_after_is_honoured(tmp_path, no_env_key):
    server = FakeMP(script={"materials/thermo/": [(503, {"Retry-After": "1"})]}).start()
    try:
        start = time.monotonic()
        path = fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=server.url)
        elapsed = time.monotonic() - start
    finally:
        server.stop()
    assert path.is_file()
    assert len(server.data_requests("materials/thermo/")) == 2
    assert elapsed >= 1.0


def test_retries_are_bounded(tmp_path, no_env_key, fast_backoff):
    server = FakeMP(script={"materials/summary/": [(502, {})] * 10}).start()
    try:
        with pytest.raises(DataError, match="502"):
            fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=server.url)
    finally:
        server.stop()
    assert len(server.data_requests("materials/summary/")) == mp_api.RETRIES + 1
    assert _only_fetch_files(tmp_path) == []


# --------------------------------------------------------------------------- every document checked
def _entry_of(doc):
    return next(iter(doc["entries"].values()))


def _edit_thermo(mid, edit):
    def tamper(name, docs):
        if name == "thermo":
            for d in docs:
                if d["material_id"] == mid and d["thermo_type"] == "GGA_GGA+U":
                    edit(d)
        return docs
    return tamper


def _edit_gap(mid, gap):
    def tamper(name, docs):
        if name == "summary":
            for d in docs:
                if d["material_id"] == mid:
                    d["band_gap"] = gap
        return docs
    return tamper


def _r2scan_doc(name, docs):
    if name == "thermo":
        r2 = copy.deepcopy(next(d for d in THERMO_DOCS if d["material_id"] == "mp-1960" and d["thermo_type"] == "GGA_GGA+U_R2SCAN"))
        docs.append({**r2, "thermo_type": "GGA_GGA+U"})
    return docs


def _scale_cell(d):
    lat = _entry_of(d)["structure"]["lattice"]
    lat["matrix"] = (np.array(lat["matrix"]) * 20).tolist()


def _set_raw(value):
    return lambda d: _entry_of(d).__setitem__("energy", value)


def _bad_species(d):
    _entry_of(d)["structure"]["sites"][0]["species"][0]["element"] = "Xx"


BAD_DOCUMENTS = {
    "outside": (lambda name, docs: docs + ([copy.deepcopy(NACL_DOC)] if name == "thermo" else []),
                r"mp-22862 \(NaCl\) is outside Li-O"),
    "run_type": (_r2scan_doc, r"mp-1960 \(Li2O\) has run type r2SCAN, not GGA/GGA\+U"),
    "energy": (_edit_thermo("mp-1960", _set_raw(-100.0)), r"mp-1960 \(Li2O\) has -33.\d+ eV/atom \(\|E\| > 20\)"),
    "formation": (_edit_thermo("mp-1960", _set_raw(-41.06)), r"mp-1960 \(Li2O\) has a formation energy of -11(\.\d+)? eV/atom \(outside -10\.\.5\)"),
    "no_reference": (lambda name, docs: [d for d in docs if d.get("chemsys") != "O"] if name == "thermo" else docs,
                     "no elemental reference for O"),
    "volume": (_edit_thermo("mp-1960", _scale_cell), r"mp-1960 \(Li2O\) has a cell volume of .* A\^3/atom"),
    "negative_gap": (_edit_gap("mp-1960", -1.0), r"mp-1960 has band gap -1.0 eV"),
    "huge_gap": (_edit_gap("mp-841", 1e6), r"mp-841 has band gap 1000000.0 eV"),
    "composition": (_edit_thermo("mp-1960", _bad_species), "could not be read"),
}


@pytest.mark.parametrize("case", sorted(BAD_DOCUMENTS))
def test_bad_document_caches_nothing(tmp_path, no_env_key, case):
    tamper, message = BAD_DOCUMENTS[case]
    server = FakeMP(tamper=tamper).start()
    try:
        with pytest.raises(DataError, match=message) as err:
            fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=server.url)
    finally:
        server.stop()
    assert "\n" not in str(err.value) and "nothing was cached" in str(err.value)
    assert _only_fetch_files(tmp_path) == []


def test_bad_response_keeps_previous_fetch(tmp_path, fake_mp, no_env_key):
    path = fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=fake_mp.url)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    fake_mp.tamper = BAD_DOCUMENTS["outside"][0]
    with pytest.raises(DataError, match="outside Li-O"):
        fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=fake_mp.url)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert "mp-22862" not in set(read_fetched(tmp_path)[0].phase_id)
    assert path.is_file()


def test_unchecked_old_fetch_is_refused(tmp_path, fake_mp, no_env_key):
    # a file written before the checks (no "format" in its info) may hold anything: refetch it
    path = fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=fake_mp.url)
    table, info = read_table(path)
    write_table(table.frame(), {k: v for k, v in info.items() if k != "format"}, path)
    with pytest.raises(DataError, match=r"older screening without checks: fetch it again \(screening fetch --chemsys Li-O\)"):
        read_fetched(tmp_path)


# --------------------------------------------------------------------------- secrets
BAD_KEYS = {
    "trailing_newline": API_KEY + "\n",
    "inner_newline": API_KEY[:16] + "\r\n" + API_KEY[16:],
    "non_ascii": API_KEY[:10] + "é" + API_KEY[11:],
    "space": API_KEY[:10] + " " + API_KEY[11:],
}


@pytest.mark.parametrize("via", ["argument", "env"])
@pytest.mark.parametrize("case", sorted(BAD_KEYS))
def test_bad_api_key_is_refused_unshown(tmp_path, fake_mp, no_env_key, monkeypatch, case, via):
    key = BAD_KEYS[case]
    if via == "env":
        monkeypatch.setenv("MP_API_KEY", key)
    with pytest.raises(InputError, match="API key .* contains") as err:
        fetch_chemsys("Li-O", tmp_path, api_key=key if via == "argument" else None, endpoint=fake_mp.url)
    msg = str(err.value)
    assert "\n" not in msg and API_KEY[:8] not in msg and key.strip() not in msg
    assert err.value.__cause__ is None and err.value.__context__ is None
    assert fake_mp.requests == []
    assert _only_fetch_files(tmp_path) == []


def test_key_scrubbed_from_client_errors(tmp_path, no_env_key):
    server = FakeMP(deny_status=401, echo_key=True).start()
    try:
        with pytest.raises(DataError, match="401") as err:
            fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=server.url)
    finally:
        server.stop()
    assert any(API_KEY in json.dumps(h) for _, _, h in server.requests)  # the key was sent...
    msg = str(err.value)
    assert API_KEY not in msg and "***" in msg and "\n" not in msg  # ...and never shown
    assert err.value.__cause__ is None and err.value.__suppress_context__


# --------------------------------------------------------------------------- optional extra
def test_missing_mp_api_names_the_extra(tmp_path, fake_mp, no_env_key, monkeypatch):
    for name in [m for m in sys.modules if m == "mp_api" or m.startswith("mp_api.")]:
        monkeypatch.setitem(sys.modules, name, None)  # import of these now raises ImportError
    with pytest.raises(InputError, match=r"needs the mp-api package: pip install 'screening\[fetch\]'") as err:
        fetch_chemsys("Li-O", tmp_path, api_key=API_KEY, endpoint=fake_mp.url)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert fake_mp.requests == []
    assert _only_fetch_files(tmp_path) == []
