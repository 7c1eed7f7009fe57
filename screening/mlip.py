"""Hypothetical phases from crystal structures, relaxed and scored with CHGNet.

CHGNet (Deng et al., Nat. Mach. Intell. 2023) is a universal machine-learning interatomic potential
trained on the Materials Project relaxation trajectories (MPtrj: GGA/GGA+U with the MP2020
corrections applied), so its energies sit on the same scale as the store's ``energy_eV`` column
(MP2020-corrected GGA/GGA+U).  A phase MP lacks can then be placed against MP's hull:
``e_above_hull = E_CHGNet - E_hull,MP`` at its composition.

``relax_structure`` relaxes one structure (cell + ions: ASE FIRE on a FrechetCellFilter, CPU only,
``SCREENING_TORCH_THREADS`` threads, default 2) with a :class:`Relaxer` (the loaded model; make one
and pass it to reuse the model across calls); ``add_structures`` puts relaxed phases into a
store, through the same rows the user-phase CSV path builds (``screening.store.user_rows``), with
provenance "CHGNet <version>", the relaxed molar volume and no band gap (CHGNet predicts none)
unless one is given.  Results are cached as small JSON files under ``<cache>/chgnet/`` keyed by
the input structure's hash, the model and the relaxation settings.

Accuracy (measured in tests/test_mlip.py, CHGNet 0.4.2 / weights 0.3.0): relaxed molar volumes
of LiI, Li2O, LiCl within -0.7..+1.8 % of experiment, LiF +4.7 %; energies 26 (LiF), 34 (LiCl),
57 (Li2O) and 65 (LiI) meV/atom above MP's ground states.  That error is the size of many
reaction energies the screen ranks, and it does not cancel against MP competitors: treat a CHGNet
phase's e_above_hull as +-0.05-0.1 eV/atom.  0 K energies only: no temperature, entropy,
kinetics or interface energies; no band gap.

Needs the optional extra: ``pip install 'screening[mlip]'`` (torch + chgnet; weights ship in the
chgnet wheel, nothing is downloaded at run time).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Structure

from screening.data import files
from screening.errors import DataError, InputError
from screening.outputs import atomic_write, check_file
from screening.store import user_rows
from screening.units import A3_IN_CM3, AVOGADRO
from screening.settings import check_number

INSTALL_HINT = "CHGNet is not installed: pip install 'screening[mlip]'"
#: CHGNet weights shipped in the chgnet wheel (0.3.0 is the default of chgnet 0.3-0.4).
MODEL_WEIGHTS = "0.3.0"
DEFAULT_FMAX_EV_PER_A = 0.05
DEFAULT_STEPS = 500
DEFAULT_STRESS_GPA = 0.1
GPA_IN_EV_PER_A3 = 1 / 160.21766208
CACHE_SUBDIR = "chgnet"
CACHE_VERSION = "2"  # 2: each file carries the SHA-256 of its result
NO_GAP_NOTE = "unknown (CHGNet gives no band gap)"


# --------------------------------------------------------------------------- model
def chgnet_version() -> str:
    """Installed chgnet package version, or DataError with the install command."""
    try:
        import chgnet
    except ImportError:
        raise DataError(INSTALL_HINT) from None
    return str(getattr(chgnet, "__version__", "unknown"))


def model_id() -> str:
    """'CHGNet <package> (weights <model>)': the provenance written on every CHGNet phase."""
    return f"CHGNet {chgnet_version()} (weights {MODEL_WEIGHTS})"


def _threads() -> int:
    text = os.environ.get("SCREENING_TORCH_THREADS", "2")
    try:
        n = int(text)
    except ValueError:
        raise InputError(f"SCREENING_TORCH_THREADS={text!r}: give a whole number of CPU threads, e.g. 2") from None
    if n < 1:
        raise InputError(f"SCREENING_TORCH_THREADS={text!r}: give a whole number of CPU threads >= 1")
    return n


class Relaxer:
    """The CHGNet model and its ASE calculator on the CPU (loaded once per instance)."""

    def __init__(self):
        chgnet_version()
        try:
            import torch
            from chgnet.model import CHGNet
            from chgnet.model.dynamics import CHGNetCalculator
        except ImportError:
            raise DataError(INSTALL_HINT) from None
        except OSError as exc:  # a broken torch install (missing shared library)
            msg = f"CHGNet cannot load torch ({exc.__class__.__name__}): reinstall with pip install 'screening[mlip]'"
            raise DataError(msg) from None
        torch.set_num_threads(_threads())
        with _quiet():
            self.model = CHGNet.load(model_name=MODEL_WEIGHTS, use_device="cpu", verbose=False)
            self.model.eval()
            self.calculator = CHGNetCalculator(model=self.model, use_device="cpu")


@contextlib.contextmanager
def _quiet():
    """CHGNet and torch print and warn freely; keep the command line clean."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


# --------------------------------------------------------------------------- structures
def read_structure(item) -> tuple[Structure, str]:
    """(pymatgen Structure, label) from a file path, a pymatgen Structure or an ase Atoms."""
    if isinstance(item, (str, os.PathLike)):
        path = Path(item)
        if not path.is_file():
            raise DataError(f"structure file {path} not found: give a CIF or POSCAR file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"structure file {path} is {path.stat().st_size / 1e6:.1f} MB, above the limit of "
                             f"{MAX_FILE_BYTES / 1e6:.0f} MB: give a primitive cell (at most {MAX_ATOMS} atoms)")
        s = None
        with _quiet():
            try:
                s = Structure.from_file(path)
            except Exception:
                try:
                    from ase.io import read
                    from pymatgen.io.ase import AseAtomsAdaptor

                    s = AseAtomsAdaptor.get_structure(read(path))
                except Exception:
                    s = None
        if s is None or len(s) == 0:
            raise DataError(f"cannot read structure file {path}: give a CIF or POSCAR (VASP) file")
        declared = _declared_formula(path)
        if declared is not None and s.is_ordered and declared.reduced_composition != s.composition.reduced_composition:
            raise DataError(f"structure file {path}: its atoms make {s.composition.reduced_formula} but it declares "
                            f"{declared.reduced_formula} (_chemical_formula_sum): check for overlapping or missing sites")
        return Structure.from_sites(s), str(path)
    if isinstance(item, Structure):
        return item.copy(), "structure"
    try:
        from ase import Atoms
    except ImportError:  # pragma: no cover - ase is a core dependency
        Atoms = ()
    if isinstance(item, Atoms):
        from pymatgen.io.ase import AseAtomsAdaptor

        if not any(item.pbc):
            raise InputError("ase Atoms without periodic cell: give a crystal (pbc=True and a cell)")
        return AseAtomsAdaptor.get_structure(item), "atoms"
    raise InputError(f"cannot use a {type(item).__name__} as a structure: give a file path, a pymatgen Structure or ase Atoms")


def _declared_formula(path: Path):
    """The composition a CIF file declares (``_chemical_formula_sum``), None if none or not a CIF."""
    if path.suffix.lower() != ".cif":
        return None
    from pymatgen.io.cif import CifFile

    try:
        with _quiet():
            blocks = list(CifFile.from_file(path).data.values())
        text = blocks[0].data.get("_chemical_formula_sum") if len(blocks) == 1 else None
        return Composition(str(text).replace(" ", "")) if text else None
    except Exception:  # an unreadable or unusual formula field: nothing to compare against
        return None


def structure_hash(s: Structure) -> str:
    """Short sha256 of lattice, species and wrapped fractional coordinates (rounded to 1e-4)."""
    lat = np.round(s.lattice.matrix, 4) + 0.0
    frac = (np.round(np.mod(s.frac_coords, 1.0), 4) % 1.0) + 0.0
    sites = sorted((site.species_string, *map(float, f)) for site, f in zip(s, frac, strict=True))
    payload = json.dumps({"lattice": lat.tolist(), "sites": sites}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


#: largest cell accepted (atoms), checked before any work: CHGNet's graph and the distance checks
#: grow as N^2 (a 10,000-atom cell needs >10 GB); enumerate a smaller supercell instead
MAX_ATOMS = 500
#: largest structure file read (bytes): a 500-atom CIF is ~50 kB
MAX_FILE_BYTES = 2_000_000
#: smallest V / (a b c) of a cell (1 for orthogonal axes; 0 for a flat cell, gamma = 180 deg)
MIN_CELL_SHAPE = 0.02


def _check_structure(s: Structure, label: str) -> None:
    """Refuse, before any work, cells CHGNet and the neighbour searches cannot handle: too many
    atoms (``MAX_ATOMS``), flat or collapsed cells, disordered sites, overlapping atoms."""
    if len(s) > MAX_ATOMS:
        raise InputError(f"{label}: {len(s)} atoms in the cell, above the limit of {MAX_ATOMS}: "
                         "give a primitive cell or a smaller supercell")
    a, b, c = s.lattice.abc
    if not np.isfinite(s.lattice.matrix).all() or min(a, b, c) < 0.5:
        raise InputError(f"{label}: a lattice vector is shorter than 0.5 A or not finite: check the lattice")
    shape = abs(s.lattice.volume) / (a * b * c)
    if not shape >= MIN_CELL_SHAPE:
        raise InputError(f"{label}: the cell is flat (angles {', '.join(f'{x:.1f}' for x in s.lattice.angles)} deg, "
                         f"V/abc = {shape:.2g}): check the lattice angles")
    if not s.is_ordered:
        raise InputError(f"{label}: partial occupancies (disordered sites): give an ordered cell, e.g. an enumerated supercell")
    if s.volume <= 0 or not np.isfinite(s.volume):
        raise InputError(f"{label}: the cell has no volume: check the lattice")
    if len(s) > 1 and min(s.distance_matrix[np.triu_indices(len(s), 1)]) < 0.5:
        raise InputError(f"{label}: atoms closer than 0.5 A: check the coordinates (fractional vs Cartesian?)")


# --------------------------------------------------------------------------- relaxation
@dataclass(frozen=True)
class RelaxResult:
    """One CHGNet relaxation (units in the names; volumes per atom and per mol of reduced formula)."""

    formula: str
    composition: str
    n_atoms: int
    energy_eV: float
    energy_eV_per_atom: float
    volume_A3_per_atom: float
    molar_volume_cm3_per_mol: float
    density_g_cm3: float
    relaxed: bool
    converged: bool | None
    n_steps: int
    max_force_eV_per_A: float
    max_stress_GPa: float
    fmax_eV_per_A: float
    model: str
    structure_hash: str
    label: str
    seconds: float
    cached: bool = False
    structure: Structure | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "structure"}
        d["structure"] = self.structure.as_dict() if self.structure is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RelaxResult:
        d = dict(d)
        s = d.pop("structure", None)
        return cls(**d, structure=Structure.from_dict(s) if s else None)


def _cache_key(h: str, relax: bool, fmax: float, steps: int, stress: float) -> str:
    text = f"{h}|{model_id()}|relax={relax}|fmax={fmax!r}|steps={steps}|stress={stress!r}|v{CACHE_VERSION}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _read_cache(path: Path) -> RelaxResult | None:
    """A cached result; None when there is none.  Each file holds the SHA-256 of its result text: a
    file that does not match it (edited, flipped bit) is refused with the file and the fix, never
    served; an unreadable or truncated file is a miss (recomputed and rewritten)."""
    try:
        doc = json.loads(path.read_text())
        body = doc["result"]
        want = doc["sha256"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if hashlib.sha256(body.encode()).hexdigest() != want:
        raise DataError(f"CHGNet cache file {path} does not match its SHA-256 checksum (edited or damaged): "
                        f"delete it (or the folder {path.parent}) and rerun")
    try:
        return RelaxResult.from_dict(json.loads(body))
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"CHGNet cache file {path} holds an unreadable result ({exc.__class__.__name__}): "
                        f"delete it (or the folder {path.parent}) and rerun") from None


def _write_cache(path: Path, result: RelaxResult) -> None:
    """Atomic: temp file in the same folder, then rename.  A read-only cache is not an error."""
    try:
        body = json.dumps(result.to_dict(), default=_json_default, sort_keys=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as tmp:
            tmp.write_text(json.dumps({"sha256": hashlib.sha256(body.encode()).hexdigest(), "result": body}))
    except (OSError, TypeError, ValueError):
        pass


def _json_default(o):
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(type(o).__name__)


def check_relax_options(fmax: float, steps: int, stress_GPa: float = DEFAULT_STRESS_GPA) -> None:
    """The relaxation options, checked (``screening.settings.check_number``)."""
    check_number("fmax", fmax, 1e-4, 10.0, "0.05")
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise TypeError(f"steps must be a whole number, not {type(steps).__name__}: give e.g. steps=500")
    if not 1 <= steps <= 100_000:
        raise InputError(f"steps={steps}: give a positive whole number of optimizer steps up to 100000, e.g. 500",
                         argument="steps")
    check_number("stress_GPa", stress_GPa, 1e-6, 100.0, "0.1")


def relax_structure(structure, relax: bool = True, fmax: float = DEFAULT_FMAX_EV_PER_A, steps: int = DEFAULT_STEPS,
                    stress_GPa: float = DEFAULT_STRESS_GPA, cache_dir: Path | str | None = None,
                    relaxer: Relaxer | None = None) -> RelaxResult:
    """Relax (cell + ions) or just evaluate one structure with CHGNet.

    ``structure``: pymatgen Structure, ase Atoms, or a CIF/POSCAR path.  Converged when every
    atomic force is below ``fmax`` (eV/A) and the stress below about ``stress_GPa`` (the cell part
    of the FrechetCellFilter is scaled so that ``fmax`` on it means that stress; cells under
    ~80 A^3 at the defaults converge to fmax / V instead, e.g. 0.13 GPa for 60 A^3).
    ``cache_dir``: folder of JSON results to reuse (None: no cache).  ``relaxer``: a loaded
    :class:`Relaxer` to reuse (default: one is loaded when a relaxation is needed).
    """
    s, label = read_structure(structure)
    _check_structure(s, label)
    check_relax_options(fmax, steps, stress_GPa)
    h = structure_hash(s)
    path = Path(cache_dir) / f"{_cache_key(h, relax, fmax, int(steps), stress_GPa)}.json" if cache_dir else None
    if path is not None and path.is_file():
        hit = _read_cache(path)
        if hit is not None and hit.structure_hash == h:
            return replace(hit, label=label, cached=True)

    calc = (relaxer or Relaxer()).calculator
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE
    from pymatgen.io.ase import AseAtomsAdaptor

    t0 = time.perf_counter()
    atoms = AseAtomsAdaptor.get_atoms(Structure.from_sites(s))  # drops site properties
    atoms.calc = calc
    converged, n_steps = None, 0
    try:
        with _quiet():
            if relax:
                # cell "forces" are virial / exp_cell_factor: this factor turns fmax into ~stress_GPa
                ecf = max(atoms.get_volume() * stress_GPa * GPA_IN_EV_PER_A3 / fmax, 1.0)
                opt = FIRE(FrechetCellFilter(atoms, exp_cell_factor=ecf), logfile=None)
                converged = bool(opt.run(fmax=fmax, steps=int(steps)))
                n_steps = int(opt.nsteps)
            energy = float(atoms.get_potential_energy())
            forces = atoms.get_forces()
            stress = atoms.get_stress()
    except Exception as exc:  # isolated atoms, exploding cells, ...
        msg = str(exc).splitlines()[0][:160] if str(exc) else exc.__class__.__name__
        raise DataError(f"CHGNet failed on {label} ({msg}): check the structure") from None
    got = AseAtomsAdaptor.get_structure(atoms)
    final = Structure(got.lattice, got.species, got.frac_coords)  # no float32 site properties (magmoms)
    if not np.isfinite(energy) or final.volume <= 0:
        raise DataError(f"CHGNet gave no finite energy for {label}: check the structure")
    comp = final.composition
    fu = comp.num_atoms / comp.reduced_composition.num_atoms
    vm = final.volume / fu * AVOGADRO * A3_IN_CM3
    result = RelaxResult(
        formula=comp.reduced_formula,
        composition=comp.formula,
        n_atoms=len(final),
        energy_eV=energy,
        energy_eV_per_atom=energy / len(final),
        volume_A3_per_atom=final.volume / len(final),
        molar_volume_cm3_per_mol=vm,
        density_g_cm3=comp.reduced_composition.weight / vm,
        relaxed=bool(relax),
        converged=converged,
        n_steps=n_steps,
        max_force_eV_per_A=float(np.linalg.norm(forces, axis=1).max()) if len(forces) else 0.0,
        max_stress_GPa=float(np.abs(stress).max() / GPA_IN_EV_PER_A3),
        fmax_eV_per_A=float(fmax),
        model=model_id(),
        structure_hash=h,
        label=label,
        seconds=round(time.perf_counter() - t0, 3),
        structure=final,
    )
    if path is not None:
        _write_cache(path, result)
    return result


# --------------------------------------------------------------------------- the store
def _per_item(value, n: int, what: str) -> list:
    """One value per structure: None for all, a scalar for a single structure, or a list of n."""
    if value is None:
        return [None] * n
    if isinstance(value, (str, int, float)):
        if n > 1:
            raise InputError(f"one {what} for {n} structures: give one per structure (or none)")
        return [value]
    vals = list(value)
    if len(vals) != n:
        raise InputError(f"got {len(vals)} {what}(s) for {n} structures: give one per structure")
    return vals


STRUCTURE_PATTERNS = ("*.cif", "*.vasp", "POSCAR*", "CONTCAR*", "*.poscar")


def expand_folder(item) -> list:
    """A folder -> its structure files (CIF, POSCAR/CONTCAR, *.vasp), sorted; anything else as is."""
    if isinstance(item, (str, os.PathLike)) and Path(item).is_dir():
        files = sorted({p for pat in STRUCTURE_PATTERNS for p in Path(item).glob(pat) if p.is_file()})
        if not files:
            raise DataError(f"folder {item} holds no structure files: expected *.cif, POSCAR*, CONTCAR* or *.vasp")
        return files
    return [item]


def _default_name(label: str, formula: str) -> str:
    """File stem, or formula-folder for generic VASP names (POSCAR, CONTCAR), or the formula."""
    if label in ("structure", "atoms"):
        return formula
    p = Path(label)
    if p.stem.upper() in ("POSCAR", "CONTCAR") and p.suffix == "":
        return f"{formula}-{p.resolve().parent.name}"
    return p.stem


def add_structures(store, items, relax: bool = True, band_gap_eV=None, names=None, progress=None,
                   cache_dir: Path | str | None = None, use_cache: bool = True,
                   fmax: float = DEFAULT_FMAX_EV_PER_A, steps: int = DEFAULT_STEPS,
                   stress_GPa: float = DEFAULT_STRESS_GPA, relaxer: Relaxer | None = None):
    """Relax structures with CHGNet and add them to ``store`` as phases.

    ``items``: one or a list of file paths / pymatgen Structures / ase Atoms.
    ``band_gap_eV``, ``names``: one value (or None) or one per structure.
    ``progress``: optional callable(done, total, label).
    Returns (new store, DataFrame with one row per structure): ``e_above_hull_eV_per_atom`` is
    the CHGNet energy minus the hull energy of ``store`` (MP) at that composition; negative means
    below MP's hull (a new stable phase, or CHGNet error: see ``warning``).
    """
    single = isinstance(items, (str, os.PathLike, Structure)) or hasattr(items, "get_positions")  # ase Atoms
    items = [items] if single or not hasattr(items, "__iter__") else list(items)
    items = [f for it in items for f in expand_folder(it)]
    if not items:
        raise InputError("no structures given: pass CIF/POSCAR files, pymatgen Structures or ase Atoms")
    n = len(items)
    gaps = _per_item(band_gap_eV, n, "band gap")
    given_names = _per_item(names, n, "name")
    for name in given_names:
        if name is not None and (not str(name).strip() or any(ch in str(name) for ch in ",\n\r\t") or len(str(name)) > 100):
            raise InputError(f"name {name!r}: give a short name without commas or line breaks")
    if len({nm for nm in given_names if nm is not None}) < len([nm for nm in given_names if nm is not None]):
        raise InputError("the same --name twice: give each structure its own name")
    for g in gaps:
        try:
            ok = g is None or (np.isfinite(float(g)) and float(g) >= 0)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InputError(f"band gap {g}: give a non-negative number in eV, e.g. 4.5")
    cdir = (Path(cache_dir) if cache_dir else files.cache_dir()) / CACHE_SUBDIR if use_cache else None

    # read and check everything before the first (slow) relaxation
    refs = store.elements
    structs = []
    for it in items:
        s, label = read_structure(it)
        _check_structure(s, label)
        missing = sorted({el.symbol for el in s.composition.elements} - refs)
        if missing:
            raise DataError(f"{label}: element(s) {', '.join(missing)} not in the phase store: add them with `screening fetch`")
        structs.append((s, label))
    check_relax_options(fmax, steps, stress_GPa)

    taken = set(store.column("phase_id"))  # to name new phases uniquely
    results, records, extra = [], [], []
    for k, ((s, label), gap, name) in enumerate(zip(structs, gaps, given_names, strict=True)):
        relaxer = relaxer or _LazyRelaxer()
        r = relax_structure(s, relax=relax, fmax=fmax, steps=steps, stress_GPa=stress_GPa, cache_dir=cdir,
                            relaxer=relaxer)
        r = replace(r, label=label)
        comp = Composition(r.composition)
        ps = store.phase_set([el.symbol for el in comp.elements])
        e_hull = ps.hull_energy_per_atom(ps.vector(comp))
        e_above = r.energy_eV_per_atom - e_hull
        base = name or _default_name(label, r.formula)
        pid, j = f"chgnet:{base}", 2
        while pid in taken:
            pid, j = f"chgnet:{base}-{j}", j + 1
        taken.add(pid)
        warn = []
        if r.converged is False:
            warn.append(f"CHGNet relaxation not converged in {r.n_steps} steps (max force {r.max_force_eV_per_A:.3f} eV/A)")
        if not r.relaxed:
            warn.append("unrelaxed CHGNet single point")
        if e_above < -1e-9:
            warn.append(f"{-1000 * e_above:.0f} meV/atom below the MP hull: "
                        "a new stable phase or CHGNet error (typ. 30 meV/atom)")
        records.append({"formula": r.composition, "name": pid, "energy_eV": r.energy_eV,
                        "band_gap_eV": gap, "density_g_cm3": r.density_g_cm3})
        extra.append((pid, gap, "; ".join(warn)))
        results.append({
            "phase_id": pid, "label": label, "formula": r.formula, "composition": r.composition,
            "energy_eV_per_atom": r.energy_eV_per_atom, "mp_hull_energy_eV_per_atom": e_hull,
            "e_above_hull_eV_per_atom": e_above, "volume_A3_per_atom": r.volume_A3_per_atom,
            "molar_volume_cm3_per_mol": r.molar_volume_cm3_per_mol, "density_g_cm3": r.density_g_cm3,
            "band_gap_eV": np.nan if gap is None else float(gap),
            "band_gap_source": NO_GAP_NOTE if gap is None else "user",
            "relaxed": r.relaxed, "converged": r.converged, "n_steps": r.n_steps,
            "max_force_eV_per_A": r.max_force_eV_per_A, "max_stress_GPa": r.max_stress_GPa,
            "model": r.model, "structure_hash": r.structure_hash, "cached": r.cached, "seconds": r.seconds,
            "warning": "; ".join(warn), "structure": r.structure,
        })
        if progress:
            progress(k + 1, n, label)

    rows = user_rows(store, records, "chgnet")
    mid = model_id()
    for i, (pid, gap, warn) in enumerate(extra):
        rows.at[i, "phase_id"] = pid
        rows.at[i, "origin"] = "chgnet"
        rows.at[i, "source"] = mid
        rows.at[i, "run_type"] = "CHGNet"
        rows.at[i, "correction_note"] = "CHGNet energy (trained on MP2020-corrected GGA/GGA+U)"
        rows.at[i, "volume_source"] = f"{mid} relaxed structure" if relax else f"{mid} input structure (unrelaxed)"
        rows.at[i, "volume_origin"] = "chgnet"
        rows.at[i, "band_gap_source"] = NO_GAP_NOTE if gap is None else f"user (with {mid} phase)"
        rows.at[i, "uncertain"] = "ML potential energy: typical error ~30 meV/atom vs MP GGA"
        rows.at[i, "warning"] = warn
    return store.with_phases(rows), pd.DataFrame(results)


class _LazyRelaxer:
    """Loads the model on first use only (cached results need none)."""

    def __init__(self):
        self._relaxer = None

    @property
    def calculator(self):
        if self._relaxer is None:
            self._relaxer = Relaxer()
        return self._relaxer.calculator


def to_user_csv(results: pd.DataFrame, path) -> Path:
    """Write add_structures results as a user-phase CSV (``screening --phases FILE``)."""
    comp = [Composition(c) for c in results.composition]
    df = pd.DataFrame({
        "formula": [c.formula.replace(" ", "") for c in comp],
        "name": [p.removeprefix("chgnet:") for p in results.phase_id],
        "energy_eV": [e * c.num_atoms for e, c in zip(results.energy_eV_per_atom, comp, strict=True)],
        "band_gap_eV": results.band_gap_eV,
        "density_g_cm3": results.density_g_cm3,
    })
    target = path if hasattr(path, "stream") else check_file(path)
    with atomic_write(target) as tmp:
        df.to_csv(tmp, index=False)
    return target.path
