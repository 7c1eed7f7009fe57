"""MP2020 energy corrections for the raw MP energies of the offline snapshot.

The snapshot carries raw VASP energies without the run parameters MP2020 needs, so they are
rebuilt from MP's own rules: GGA+U (with MP's U values) when the most electronegative element is
O or F and a U element (Co Cr Fe Mn Mo Ni V W) is present, GGA otherwise; the oxide type
(oxide/peroxide/superoxide/ozonide) from composition, since no structures are available.
"""

from __future__ import annotations

import os
import warnings

from pymatgen.core import Composition, Element
from pymatgen.entries.compatibility import MaterialsProject2020Compatibility
from pymatgen.entries.computed_entries import ComputedEntry

_O = Element("O")


def compatibility() -> MaterialsProject2020Compatibility:
    """The MP2020 scheme; POTCAR checks off (the snapshot has no POTCAR records)."""
    return MaterialsProject2020Compatibility(check_potcar=False)


def oxide_type(comp: Composition) -> str:
    """Classify an O-bearing composition as oxide, peroxide, superoxide or ozonide.

    Uses the oxygen charge left when every other element takes its highest known oxidation
    state: x = (sum of cation charges) / n_O.  x >= 1.05: O2- can be balanced (oxide);
    ~1: O2^2- (peroxide, e.g. Li2O2, BaO2, K3NbO8); ~1/2: O2^- (superoxide, KO2); ~1/3: O3^-
    (ozonide); below that O2 molecules with superoxide ions (MP classes LiO8 as superoxide).
    """
    if _O not in comp or len(comp) == 1:
        return "oxide"
    if any(el.X > _O.X for el in comp.elements if el != _O):  # O is not the anion (OF2)
        return "oxide"
    pos = sum(max([o for o in el.oxidation_states if o > 0], default=0) * n for el, n in comp.items() if el != _O)
    x = pos / comp[_O]
    if x >= 1.05:
        return "oxide"
    if x >= 0.75:
        return "peroxide"
    if 0.30 <= x < 0.40:
        return "ozonide"
    return "superoxide"


def run_parameters(comp: Composition, compat: MaterialsProject2020Compatibility) -> dict:
    """MP's run type and Hubbard U values for a composition (MP2020 / MPRelaxSet rules)."""
    anion = max((el for el in comp.elements if comp[el] > 0), key=lambda el: el.X).symbol
    u_table = compat.u_settings.get(anion, {})
    hubbards = {el.symbol: float(u_table[el.symbol]) for el in comp.elements if float(u_table.get(el.symbol, 0))}
    return {"run_type": "GGA+U" if hubbards else "GGA", "hubbards": hubbards, "is_hubbard": bool(hubbards)}


def make_entry(entry_id: str, composition: str, raw_energy_eV: float, compat) -> ComputedEntry:
    """A ComputedEntry with the run parameters and oxide type MP2020 needs."""
    comp = Composition(composition)
    return ComputedEntry(
        comp,
        raw_energy_eV,
        entry_id=entry_id,
        parameters=run_parameters(comp, compat),
        data={"oxide_type": oxide_type(comp)},
    )


def correct(entries: list[ComputedEntry], n_workers: int | None = None) -> dict[str, ComputedEntry]:
    """Apply MP2020 to ``entries``; returns corrected entries by entry_id (incompatible ones absent).

    Oxidation states are guessed by pymatgen from composition (MP used structures): mixed-anion
    phases can differ from MP by 0.1-0.2 eV/atom and are marked uncertain by the store.
    """
    compat = compatibility()
    n = n_workers or max(1, min(os.cpu_count() or 1, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if n == 1:
            done = compat.process_entries(entries, clean=True, inplace=False, on_error="ignore")
        else:
            done = compat.process_entries(entries, clean=True, inplace=False, n_workers=n, on_error="ignore")
    return {e.entry_id: e for e in done}
