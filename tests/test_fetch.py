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
import threading
import uuid
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from monty.json import MontyEncoder
from pymatgen.core import Lattice, Structure
from pymatgen.entries.compatibility import MaterialsProject2020Compatibility
from pymatgen.entries.computed_entries import ComputedStructureEntry

from screening.data.cache import read_table
from screening.data.mp_api import fetch_chemsys, read_fetched
from screening.store import PhaseStore
from screening.errors import DataError, InputError

N_A = 6.02214076e23
API_KEY = "abcdefghijklmnopqrstuvwxyz012345"  # mp-api insists on 32 characters
assert len(API_KEY) == 32
DB_VERSION = "2025.09.25"
EMMET_VERSION = "0.87.3"  # >= mp-api's MIN_EMMET_VERSION, so no compatibility warning
POTCARS = {"Li": "PAW_PBE Li_sv 10Sep2004", "O": "PAW_PBE O 08Apr2002", "F": "PAW_PBE F 08Apr2002"}


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
#: A material outside Li-O: served by the fake, must never reach the Li-O table.
OTHER = {"mp-1138": (Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.03), ["Li", "F"], [[0, 0, 0], [0.5, 0.5, 0.5]]), -9.7820, 8.7)}

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
    for mid, (s, energy, gap, oxi) in {**MATERIALS, **{k: (*v, {}) for k, v in OTHER.items()}}.items():
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


# --------------------------------------------------------------------------- the fake API server
class FakeMP:
    """A tiny Materials Project API on 127.0.0.1 (own thread); records every request."""

    ROUTES = {
        "materials/thermo/": ("thermo", {"chemsys", "formula", "material_ids", "thermo_types", "_fields", "_all_fields", "_limit", "_skip"}),
        "materials/summary/": ("summary", {"chemsys", "formula", "material_ids", "batch_id_not_eq", "deprecated", "_fields", "_all_fields", "_limit", "_skip"}),
    }

    def __init__(self, *, deny_status: int | None = None, heartbeat_status: int = 200):
        self.deny_status = deny_status  # answer every data request with this status (bad key)
        self.heartbeat_status = heartbeat_status
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
                status, body = fake.answer(parts.path, params, self.headers.get("x-api-key"))
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
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
            return status, {"detail": "Invalid API key" if status == 401 else "Forbidden: API key not authorized"}
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
    assert report == {"chemsys": "Li-O", "n_entries": 4}
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
        assert row.band_gap_eV == pytest.approx(gap, abs=1e-12)
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
    assert li2o.band_gap_eV == LI2O_GAP == 4.9
    assert li2o.band_gap_source == "mp-api summary (PBE)"
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
    assert row.band_gap_eV == LI2O_GAP
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


def test_server_not_listening(tmp_path, no_env_key):
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
