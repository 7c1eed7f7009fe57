"""CHGNet phases for halide solid electrolytes that the shipped Materials Project data lacks.

MP has no ordered structure or energy for Li3YCl6, Li3HoCl6, Li2ZrCl6 and several other published
halide Li-ion conductors, so ``window`` cannot place them.  This module builds them reproducibly:

1. Structure: an isostructural MP prototype (CIF from ``mp2025/cifs.tar.xz``, read in place),
   with the element(s) substituted in pymatgen (``PROTOTYPES`` below: prototype id, substitution,
   and the literature reference of the real compound's structure type).  Where an M4+ cation
   replaces M3+ (Li2ZrCl6 on a Li3MCl6 prototype), one third of the Li sites is left empty: all
   vacancy arrangements of the cell are ranked by Ewald energy (formal charges) and the
   ``N_VACANCY_ORDERINGS`` lowest distinct ones are relaxed; the lowest CHGNet energy of all
   candidates of a target is kept (the others are reported in ``df.attrs["candidates"]``).
   When the anion changes (Li2ZrF6-type Li2ZrCl6) the cell is first scaled to the summed molar
   volume of the competing phases.
2. Relaxation: cell + ions with CHGNet through :func:`screening.mlip.relax_structure` (forces
   < 0.05 eV/A; a second round of steps if the first did not converge), cached in the user cache
   folder like ``screening add-structure``.
3. Energy on the MP2020 scale, by error cancellation against the competing phases of the
   target's composition on MP's hull (e.g. 3 LiCl + YCl3), each relaxed by CHGNet from its own
   MP structure::

       E(target) = E_MP,hull(decomposition) + [E_CHGNet(target) - E_CHGNet(decomposition)]

   i.e. the target gets CHGNet's reaction energy from its MP competitors.  The plain CHGNet
   energy (no correction) is kept beside it (``energy_plain_chgnet_eV``).
4. Uncertainty: the same procedure applied to MP halides whose energy MP knows (``CHECKS``: the
   prototypes themselves and other Li-M-X halides); ``uncertainty_eV_per_atom`` =
   max(0.03, largest |predicted - MP| of the checks), per atom.  The checks are returned in
   ``df.attrs["checks"]``.

Skipped (no sensible MP prototype or unreliable reference data): Li3YbCl6 (the offline data has
no Yb halides on the hull: YbCl3 sits 0.11 eV/atom above it), Li3GdCl6 (not among the Li3MCl6,
M = Tb-Lu, Y, Sc series of Bohnsack et al.; Gd is run with f electrons in MP), LiNbCl6 and
LiTaCl6 (no Li-Nb/Ta chloride prototype in MP; only LiSbF6-type fluorides).  Li3ErCl6,
Li3ScCl6, Li3InCl6, Li3InBr6, Li3ErBr6 and Li3YBr6 are already MP phases (used as checks where
their competing phases are complete).

``python -m screening.halides --out screening/_data/mlip_phases.csv`` writes the shipped table
(needs ``../shared`` or ``$SCREENING_SHARED`` for the CIFs, and the ``mlip`` extra; about 2 min
on one core without cache, seconds with it).  Columns: see ``build_halide_phases``.  Limits: 0 K
energies, no band gap, ordered approximants of site-disordered real structures; the error
cancellation did not beat plain CHGNet on the checks (mean |error| 13 vs 14 meV/atom), so read
``e_above_hull_eV_per_atom`` as +- ``uncertainty_eV_per_atom``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tarfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element, Structure

from screening import mlip
from screening.data import files
from screening.errors import DataError, InputError
from screening.outputs import atomic_write, check_file

AVOGADRO = 6.02214076e23
MIN_UNCERTAINTY_EV_PER_ATOM = 0.03
RELAX_ROUNDS = 2  # rounds of mlip.DEFAULT_STEPS optimizer steps at most
N_VACANCY_ORDERINGS = 3  # lowest-Ewald distinct Li-vacancy orderings relaxed per prototype
MAX_VACANCY_COMBINATIONS = 5000
HALIDES = ("F", "Cl", "Br", "I")

# ---------------------------------------------------------------------------- references
#: Bohnsack, Stenzel, Zajonc, Balzer, Wickleder, Meyer, Z. Anorg. Allg. Chem. 623, 1067 (1997):
#: Li3MCl6 M = Tb-Tm, Y trigonal P-3m1 (Li3ErCl6-type, hcp Cl; Li3ErCl6 a = 11.177, c = 6.036 A,
#: Z = 3); M = Yb, Lu orthorhombic Pnma (Li3YbCl6-type, hcp Cl); Sc monoclinic C2/m (ccp Cl).
BOHNSACK_CHLORIDES = "10.1002/zaac.19976230710"
#: Kwak et al., Adv. Energy Mater. 11, 2003190 (2021): ball-milled hcp (trigonal) Li2ZrCl6, and
#: ccp monoclinic Li2ZrCl6 after heat treatment.
KWAK_LI2ZRCL6 = "10.1002/aenm.202003190"
#: Wang et al., Nat. Commun. 12, 4410 (2021): Li2ZrCl6, cost-effective humidity-tolerant chloride.
WANG_LI2ZRCL6 = "10.1038/s41467-021-24697-2"


@dataclass(frozen=True)
class Candidate:
    """One starting structure: an MP prototype, the element substitution, and the fraction of
    its Li sites left empty (Ewald-ranked orderings) when the substituted cation is more charged."""

    prototype_id: str
    substitution: dict
    structure_type: str
    li_vacancy_fraction: float = 0.0

    def label(self) -> str:
        sub = ",".join(f"{a}->{b}" for a, b in self.substitution.items())
        vac = f"; {self.li_vacancy_fraction:.3g} of Li removed (Ewald-ranked)" if self.li_vacancy_fraction else ""
        return f"{sub}{vac}"


@dataclass(frozen=True)
class HalideTarget:
    formula: str
    candidates: tuple[Candidate, ...]
    reference_structure_doi: str
    note: str = ""


def _li3mcl6(m: str, note: str = "") -> HalideTarget:
    return HalideTarget(f"Li3{m}Cl6", (Candidate("mp-676361", {"Er": m}, "Li3ErCl6-type, trigonal (hcp Cl); MP ordered P321 cell"),),
                        BOHNSACK_CHLORIDES, note)


def _li2mcl6(m: str, doi: str, note: str) -> HalideTarget:
    sub = {} if m == "Zr" else {"Zr": m}
    return HalideTarget(f"Li2{m}Cl6", (
        Candidate("mp-4002", {"F": "Cl", **sub}, "Li2ZrF6-type, trigonal P-31m (hcp anions)"),
        Candidate("mp-676361", {"Er": m}, "Li3ErCl6-type with 1/3 Li vacant, trigonal (hcp Cl)", 1 / 3),
        Candidate("mp-686004", {"Sc": m}, "Li3ScCl6-type with 1/3 Li vacant, monoclinic (ccp Cl)", 1 / 3),
    ), doi, note)


#: target -> candidate prototypes (MP id, substitution), reference of the real structure
PROTOTYPES: tuple[HalideTarget, ...] = (
    _li3mcl6("Y"),
    _li3mcl6("Ho"),
    _li3mcl6("Tb"),
    _li3mcl6("Dy"),
    _li3mcl6("Tm"),
    _li3mcl6("Lu", "real Li3LuCl6 is orthorhombic Pnma (Li3YbCl6-type, also hcp Cl); MP has no such prototype, "
                   "so this is the trigonal Li3ErCl6-type approximant"),
    _li2mcl6("Zr", KWAK_LI2ZRCL6, f"hcp (ball-milled) and ccp (annealed) polymorphs, Kwak et al.; also doi:{WANG_LI2ZRCL6}; "
                                  "ordered approximants of site-disordered structures"),
    _li2mcl6("Hf", "", "built as the Zr analogue; no structure report of the Li2HfCl6 end member was verified"),
)

#: MP halides whose MP energy is known, run through the same procedure to measure its error
CHECKS: tuple[tuple[str, str], ...] = (
    ("Li3ErCl6", "mp-676361"),  # the Li3MCl6 prototype itself
    ("Li3ScCl6", "mp-686004"),  # the ccp Li2MCl6 prototype
    ("Li3InCl6", "mp-676109"),
    ("Li3YBr6", "mp-1147619"),
    ("Li2ZnCl4", "mp-23416"),
    ("LiAlCl4", "mp-22983"),
)


# ---------------------------------------------------------------------------- inputs
def read_cifs(ids, archive: Path | str | None = None) -> dict[str, Structure]:
    """MP structures by id from ``mp2025/cifs.tar.xz`` (one pass over the archive, in memory).
    DataError naming the ids the archive lacks."""
    path = Path(archive) if archive else files.raw(files.CIFS)
    want = {f"cif/{i}.cif": i for i in ids}
    out = {}
    with tarfile.open(path, "r:xz") as tf:
        for member in tf:
            if member.name in want:
                text = tf.extractfile(member).read().decode()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out[want[member.name]] = Structure.from_str(text, fmt="cif")
                if len(out) == len(want):
                    break
    missing = sorted(set(want.values()) - set(out))
    if missing:
        raise DataError(f"{path} has no CIF for {', '.join(missing)}: rebuild ../shared/mp2025 or choose another prototype")
    return out


def _phase_set(store, elements):
    """The store's phase set of a chemical system (``phase_set``; ``system`` in earlier versions)."""
    get = getattr(store, "phase_set", None) or store.system
    return get(list(elements))


def _stored(store, phase_id: str) -> tuple[float, float, float | None]:
    """(energy_eV, n_atoms, molar_volume_cm3_per_mol or None) of a stored phase id
    (``store.phase`` records; ``store.lookup`` rows in earlier versions)."""
    rec = store.phase(phase_id) if hasattr(store, "phase") else store.lookup(phase_id)
    vm = getattr(rec, "molar_volume_cm3_per_mol", None)
    vm = float(vm) if vm is not None and np.isfinite(float(vm)) and float(vm) > 0 else None
    return float(rec.energy_eV), float(rec.n_atoms), vm


def competing_phases(store, comp: Composition) -> tuple[float, list[tuple[str, Composition, float]]]:
    """(MP hull energy per atom at ``comp`` without any phase of that formula, and the MP phases
    of that hull decomposition as (phase id, stored composition, formula units per atom))."""
    ps = _phase_set(store, [el.symbol for el in comp.elements])
    formula = comp.reduced_formula
    exclude = [i for i, (pid, f) in enumerate(zip(ps.ids, ps.formulas, strict=True))
               if f == formula or not str(pid).startswith("mp-")]
    dec = ps.decomposition(ps.vector(comp), exclude=exclude)
    parts = []
    for i in dec.rows():
        stored = Composition({el: n for el, n in zip(ps.elements, ps.amounts[i], strict=True) if n > 0})
        parts.append((str(ps.ids[i]), stored, float(dec.amounts[i])))
    return float(dec.energy), parts


# ---------------------------------------------------------------------------- structures
def _oxidation_states(s: Structure) -> dict[str, int]:
    guess = Composition(s.composition.reduced_formula).oxi_state_guesses(max_sites=-1)
    if not guess:
        raise DataError(f"{s.composition.reduced_formula}: no charge-balanced oxidation states")
    return {el: int(round(v)) for el, v in guess[0].items()}


def vacancy_orderings(s: Structure, fraction: float, n: int = N_VACANCY_ORDERINGS) -> list[tuple[float, Structure]]:
    """The ``n`` lowest-Ewald distinct ways of emptying ``fraction`` of the Li sites of ``s``
    (every combination is scored; symmetry-equivalent arrangements, found with pymatgen's
    StructureMatcher, count once)."""
    from math import comb

    from pymatgen.analysis.ewald import EwaldSummation
    from pymatgen.analysis.structure_matcher import StructureMatcher

    li = [i for i, site in enumerate(s) if site.specie.symbol == "Li"]
    k = round(fraction * len(li))
    if comb(len(li), k) > MAX_VACANCY_COMBINATIONS:
        raise InputError(f"{comb(len(li), k)} Li-vacancy arrangements: use a smaller prototype cell")
    probe = s.copy()
    probe.remove_sites(li[:k])
    ox = _oxidation_states(probe)
    charged = s.copy()
    charged.add_oxidation_state_by_element(ox)
    # Ewald energy of a subset = sum of the pair matrix over the kept sites (same neutral charge)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matrix = EwaldSummation(charged).total_energy_matrix
    scored = []
    all_idx = np.arange(len(s))
    for removed in itertools.combinations(li, k):
        keep = np.setdiff1d(all_idx, removed)
        scored.append((float(matrix[np.ix_(keep, keep)].sum()), removed))
    scored.sort()
    matcher = StructureMatcher(primitive_cell=False, scale=False, attempt_supercell=False)
    out = []
    for e, removed in scored:
        t = s.copy()
        t.remove_sites(list(removed))
        if any(abs(e - e2) < 1e-3 and matcher.fit(t, t2) for e2, t2 in out):
            continue
        out.append((e, t))
        if len(out) == n:
            break
    return out


def _molar_volume(s: Structure) -> float:
    comp = s.composition
    return s.volume / (comp.num_atoms / comp.reduced_composition.num_atoms) * AVOGADRO * 1e-24


def candidate_structures(cand: Candidate, proto: Structure, target_volume_cm3: float | None) -> list[Structure]:
    """Starting structures of one candidate (one, or the Ewald-ranked vacancy orderings)."""
    s = proto.copy()
    s.replace_species({Element(a): Element(b) for a, b in cand.substitution.items()})
    if target_volume_cm3 and set(cand.substitution) & set(HALIDES):
        s.scale_lattice(s.volume * target_volume_cm3 / _molar_volume(s))
    if cand.li_vacancy_fraction:
        return [t for _, t in vacancy_orderings(s, cand.li_vacancy_fraction)]
    return [s]


def _space_group(s: Structure) -> str:
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        return SpacegroupAnalyzer(s, symprec=0.1).get_space_group_symbol()
    except Exception:  # spglib failures on odd cells: not worth stopping a build
        return "?"


def relax(s: Structure, relaxer, cache_dir) -> dict:
    """CHGNet relaxation, continued for up to ``RELAX_ROUNDS`` rounds until converged."""
    steps, seconds, r = 0, 0.0, None
    for _ in range(RELAX_ROUNDS):
        r = mlip.relax_structure(r.structure if r is not None else s, relaxer=relaxer, cache_dir=cache_dir)
        steps += r.n_steps
        seconds += r.seconds
        if r.converged:
            break
    return {"result": r, "n_steps": steps, "seconds": seconds}


# ---------------------------------------------------------------------------- the build
@dataclass
class _Energies:
    """CHGNet energy per atom of MP phases relaxed from their MP structures (by phase id)."""

    relaxer: object
    cache_dir: Path | None
    structures: dict
    per_atom: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def __call__(self, pid: str) -> float:
        if pid not in self.per_atom:
            out = relax(self.structures[pid], self.relaxer, self.cache_dir)
            self.per_atom[pid] = out["result"].energy_eV_per_atom
            self.info[pid] = out
        return self.per_atom[pid]


def _reaction_referenced(e_chg_per_atom: float, e_hull: float, parts, energies: _Energies) -> float:
    """E_MP,hull + [E_CHGNet(phase) - E_CHGNet(competing phases)], eV per atom."""
    e_chg_parts = sum(x * comp.num_atoms * energies(pid) for pid, comp, x in parts)
    return e_hull + (e_chg_per_atom - e_chg_parts)


def _decomposition_text(parts, target: Composition) -> str:
    """'3 LiCl (mp-1185319) + 1 YCl3 (mp-27455)': formula units per reduced target formula unit."""
    n = target.reduced_composition.num_atoms
    return " + ".join(f"{x * c.num_atoms / c.reduced_composition.num_atoms * n:.4g} {c.reduced_formula} ({pid})"
                      for pid, c, x in parts)


def build_halide_phases(store, targets=None, relaxer=None, *, shared: Path | str | None = None,
                        cache_dir: Path | str | None = None, progress=None) -> pd.DataFrame:
    """Relax the halide targets with CHGNet and place them on the MP2020 hull of ``store``.

    ``targets``: formulas from ``PROTOTYPES`` (default all); ``relaxer``: a loaded
    :class:`screening.mlip.Relaxer`; ``shared``: the shared data folder (default
    ``files.shared_root``); ``cache_dir``: CHGNet result cache (default the user cache folder's
    ``chgnet/``); ``progress``: callable(message).

    One row per target, energies for ``composition`` (one reduced formula unit):
    ``energy_eV`` reaction-referenced (MP2020 scale), ``energy_plain_chgnet_eV`` raw CHGNet,
    ``e_above_hull_eV_per_atom`` (reaction-referenced, vs MP's hull) and its plain-CHGNet twin,
    ``uncertainty_eV_per_atom``, relaxed ``molar_volume_cm3_per_mol`` / ``density_g_cm3``,
    provenance (``prototype_id``, ``substitution``, ``structure_type``, ``reference_structure_doi``,
    ``model``, ``relax_fmax``, ``n_steps``, ``converged``, ``decomposition``).
    ``df.attrs``: ``checks`` (the uncertainty estimate) and ``candidates`` (every relaxed start).
    """
    say = progress or (lambda msg: None)
    chosen = list(PROTOTYPES)
    if targets is not None:
        wanted = {Composition(t).reduced_formula for t in targets}
        known = {t.formula for t in PROTOTYPES}
        unknown = sorted(wanted - known)
        if unknown:
            raise InputError(f"no prototype for {', '.join(unknown)}: choose from {', '.join(sorted(known))}")
        chosen = [t for t in PROTOTYPES if t.formula in wanted]
    cdir = Path(cache_dir) if cache_dir else files.cache_dir() / mlip.CACHE_SUBDIR
    relaxer = relaxer or mlip.Relaxer()

    # decompositions on MP's hull, then every structure needed, read in one pass
    dec = {t.formula: competing_phases(store, Composition(t.formula)) for t in chosen}
    dec.update({f: competing_phases(store, Composition(f)) for f, _ in CHECKS})
    ids = {c.prototype_id for t in chosen for c in t.candidates} | {pid for _, pid in CHECKS}
    ids |= {pid for _, parts in dec.values() for pid, _, _ in parts}
    archive = files.raw(files.CIFS, shared) if shared else None
    structures = read_cifs(sorted(ids), archive)
    energies = _Energies(relaxer, cdir, structures)

    # uncertainty: the same procedure on MP-known halides
    checks = []
    for formula, pid in CHECKS:
        e_mp_total, n_mp, _ = _stored(store, pid)
        e_hull, parts = dec[formula]
        t0 = time.perf_counter()
        out = relax(structures[pid], relaxer, cdir)
        r = out["result"]
        pred = _reaction_referenced(r.energy_eV_per_atom, e_hull, parts, energies)
        e_mp = e_mp_total / n_mp
        checks.append({"formula": formula, "phase_id": pid, "mp_energy_eV_per_atom": e_mp,
                       "mp_e_vs_competitors_eV_per_atom": e_mp - e_hull,
                       "chgnet_e_vs_competitors_eV_per_atom": pred - e_hull,
                       "error_reaction_referenced_eV_per_atom": pred - e_mp,
                       "error_plain_chgnet_eV_per_atom": r.energy_eV_per_atom - e_mp,
                       "chgnet_molar_volume_cm3_per_mol": r.molar_volume_cm3_per_mol,
                       "mp_molar_volume_cm3_per_mol": _molar_volume(structures[pid]),
                       "n_steps": out["n_steps"], "converged": r.converged, "seconds": out["seconds"],
                       "decomposition": _decomposition_text(parts, Composition(formula))})
        say(f"check {formula} ({pid}): error {1000 * (pred - e_mp):+.1f} meV/atom ({time.perf_counter() - t0:.0f} s)")
    checks = pd.DataFrame(checks)
    worst = float(checks.error_reaction_referenced_eV_per_atom.abs().max())
    uncertainty = max(MIN_UNCERTAINTY_EV_PER_ATOM, worst)
    basis = (f"max(0.03, max |error| {worst:.3f} eV/atom of the reaction-referenced CHGNet energy of "
             f"{len(checks)} MP halides: {', '.join(checks.formula)})")

    rows, cands = [], []
    mid = mlip.model_id()
    for t in chosen:
        comp = Composition(t.formula)
        e_hull, parts = dec[t.formula]
        # summed molar volume of the competing phases (cm3 per mol of target formula units):
        # x formula units of the stored composition c per target atom, c = n reduced units
        vms = [_stored(store, pid)[2] for pid, _, _ in parts]
        target_vm = None if None in vms else comp.num_atoms * sum(
            x * c.num_atoms / c.reduced_composition.num_atoms * vm for (pid, c, x), vm in zip(parts, vms, strict=True))
        best = None
        for cand in t.candidates:
            for k, s in enumerate(candidate_structures(cand, structures[cand.prototype_id], target_vm)):
                out = relax(s, relaxer, cdir)
                r = out["result"]
                e_ref = _reaction_referenced(r.energy_eV_per_atom, e_hull, parts, energies)
                rec = {"formula": t.formula, "prototype_id": cand.prototype_id,
                       "substitution": cand.label() + (f" (ordering {k + 1})" if cand.li_vacancy_fraction else ""),
                       "structure_type": cand.structure_type, "space_group_relaxed": _space_group(r.structure),
                       "e_above_hull_eV_per_atom": e_ref - e_hull,
                       "e_above_hull_plain_chgnet_eV_per_atom": r.energy_eV_per_atom - e_hull,
                       "molar_volume_cm3_per_mol": r.molar_volume_cm3_per_mol, "n_atoms_cell": r.n_atoms,
                       "n_steps": out["n_steps"], "converged": r.converged, "seconds": out["seconds"],
                       "_e_ref": e_ref, "_r": r}
                cands.append(rec)
                say(f"{t.formula} from {cand.prototype_id} [{rec['substitution']}]: "
                    f"E-E_hull {1000 * rec['e_above_hull_eV_per_atom']:+.1f} meV/atom ({out['seconds']:.0f} s)")
                if best is None or e_ref < best["_e_ref"]:
                    best = rec
        r = best["_r"]
        n = comp.num_atoms
        rows.append({
            "phase_id": f"chgnet:{t.formula}",
            "formula": t.formula,
            "composition": comp.formula,
            "energy_eV": best["_e_ref"] * n,
            "energy_plain_chgnet_eV": r.energy_eV_per_atom * n,
            "e_above_hull_eV_per_atom": best["e_above_hull_eV_per_atom"],
            "e_above_hull_plain_chgnet_eV_per_atom": best["e_above_hull_plain_chgnet_eV_per_atom"],
            "uncertainty_eV_per_atom": uncertainty,
            "mp_hull_energy_eV_per_atom": e_hull,
            "molar_volume_cm3_per_mol": r.molar_volume_cm3_per_mol,
            "density_g_cm3": comp.weight / r.molar_volume_cm3_per_mol,
            "prototype_id": best["prototype_id"],
            "substitution": best["substitution"],
            "structure_type": best["structure_type"],
            "space_group_relaxed": best["space_group_relaxed"],
            "reference_structure_doi": t.reference_structure_doi,
            "model": mid,
            "relax_fmax": mlip.DEFAULT_FMAX_EV_PER_A,
            "n_steps": best["n_steps"],
            "converged": bool(r.converged),
            "decomposition": _decomposition_text(parts, comp),
            "uncertainty_basis": basis,
            "note": t.note,
        })
    df = pd.DataFrame(rows)
    df.attrs["checks"] = checks
    df.attrs["candidates"] = pd.DataFrame([{k: v for k, v in c.items() if not k.startswith("_")} for c in cands])
    df.attrs["competitors"] = pd.DataFrame([{"phase_id": pid, "chgnet_energy_eV_per_atom": e,
                                             "n_steps": energies.info[pid]["n_steps"],
                                             "converged": energies.info[pid]["result"].converged,
                                             "seconds": energies.info[pid]["seconds"]}
                                            for pid, e in energies.per_atom.items()])
    return df


def store_with_halides(store, df: pd.DataFrame):
    """``store`` plus the built phases as user rows named ``user:<formula>`` (reaction-referenced
    energies, relaxed densities), e.g. for ``window(store, "user:Li3YCl6")``."""
    from screening.store import add_phases

    return add_phases(store, [{"formula": r.composition.replace(" ", ""), "energy_eV": float(r.energy_eV),
                               "name": r.formula, "density_g_cm3": float(r.density_g_cm3)} for r in df.itertuples()])


# ---------------------------------------------------------------------------- command line
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m screening.halides", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="CSV to write (the shipped table: screening/_data/mlip_phases.csv)")
    p.add_argument("--targets", nargs="*", help="formulas to build (default: all in PROTOTYPES)")
    p.add_argument("--checks-out", help="also write the uncertainty checks to this CSV")
    p.add_argument("--candidates-out", help="also write every relaxed candidate structure's result to this CSV")
    p.add_argument("--shared", help="shared data folder (default $SCREENING_SHARED or ../shared)")
    args = p.parse_args(argv)
    target = check_file(args.out)
    from screening.store import open_store

    store = open_store(fetched=False)
    t0 = time.perf_counter()
    df = build_halide_phases(store, args.targets, shared=args.shared, progress=lambda m: print(m, file=sys.stderr, flush=True))
    with atomic_write(target) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6f")
    for extra, key in ((args.checks_out, "checks"), (args.candidates_out, "candidates")):
        if extra:
            with atomic_write(check_file(extra)) as tmp:
                df.attrs[key].to_csv(tmp, index=False, float_format="%.6f")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df.attrs["checks"][["formula", "phase_id", "mp_e_vs_competitors_eV_per_atom", "chgnet_e_vs_competitors_eV_per_atom",
                                  "error_reaction_referenced_eV_per_atom", "error_plain_chgnet_eV_per_atom"]].round(4).to_string(index=False))
        print(df[["phase_id", "prototype_id", "e_above_hull_eV_per_atom", "e_above_hull_plain_chgnet_eV_per_atom",
                  "uncertainty_eV_per_atom", "molar_volume_cm3_per_mol", "converged"]].round(4).to_string(index=False))
    print(f"wrote {target.path} ({len(df)} phases) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
