"""The one schema of a ranked screen row: every column's name, header, kind and meaning.

The evaluated columns are the fields of :class:`~screening.ranking.rows.ScreenRow`; the ranking
adds ``SCORE_COLUMNS`` and the electrolyte.  The terminal table, JSON records, CSV, parquet
types, the Markdown table and the HTML report all read this module.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from screening.ranking.coatings import CoatingRow
from screening.ranking.rows import ScreenRow


@dataclass(frozen=True)
class Column:
    """A column: ``kind`` is text, number, integer, bool or list (of text); ``best`` is high or
    low where a larger or smaller value is better (the report's first click sorts best first)."""

    name: str
    kind: str
    header: str = ""
    best: str = ""
    description: str = ""

    @property
    def label(self) -> str:
        return self.header or self.name.replace("_", " ")


_KIND = {"str": "text", "float | None": "number", "bool | None": "bool", "tuple[str, ...]": "list"}
#: short headers and meaning of the columns people read most
_ABOUT = {
    "rank_label": ("rank", "", "rank (=N: shared with equal scores)"),
    "pareto_front": ("Pareto front", "low", "1 = not dominated on the criteria"),
    "tie_break": ("tie broken by", "", "the secondary key that ordered a tied score, with its value"),
    "score": ("score", "high", "weighted mean of the sub-scores, 0-1"),
    "electronic_character": ("electronic character", "", "insulating / mixed / unknown, from the products' gaps"),
    "min_product_band_gap_eV": ("min gap (eV)", "high", "smallest band gap among the interphase products"),
    "li_reaction_energy_eV_per_atom": ("E vs Li (eV/atom)", "", "reaction energy with Li metal"),
    "volume_ratio": ("V ratio", "", "V(products) / V(precursor)"),
    "electrolyte_reaction_energy_eV_per_atom": ("E vs electrolyte (eV/atom)", "high",
                                                "most exothermic reaction of a product with the electrolyte"),
    "reduction_limit_V": ("reduction limit (V)", "low", "window's lower limit vs Li/Li+"),
    "oxidation_limit_V": ("oxidation limit (V)", "high", "window's upper limit vs Li/Li+ (none: no Li to remove)"),
    "rank_low": ("rank low", "low", "5th percentile of the rank when the weights vary 2x either way"),
    "rank_high": ("rank high", "low", "95th percentile of the rank when the weights vary 2x either way"),
    "asr_ohm_cm2": ("ASR (ohm cm2)", "low", "area-specific resistance of the layer for Li+ at 25 C"),
    "interphase_thickness_um": ("layer (um)", "", "interphase thickness from the precursor film"),
    "li_consumed_mAh_per_cm2": ("Li used (mAh/cm2)", "low", "Li consumed by the film"),
    "cathode_reaction_energy_eV_per_atom": ("E vs cathode (eV/atom)", "high", "closed reaction with the cathode"),
    "open_reaction_energy_eV_per_atom": ("E open (eV/non-Li atom)", "high", "reaction with the cathode open to Li at its voltage"),
    "voltage_margin_V": ("margin (V)", "high", "distance of the cathode voltage from the nearer window limit"),
    "band_gap_eV": ("gap (eV)", "high", "the coating's band gap"),
}
#: columns the ranking adds (``screening.ranking.scoring.rank``), with their kinds
SCORE_COLUMNS = {
    "rank": "integer", "rank_label": "text", "score": "number", "pareto_front": "integer", "tie_break": "text",
    "li_penalty_eV_per_atom": "number", "electrolyte_penalty_eV_per_atom": "number", "s_li": "number",
    "s_electrolyte": "number", "s_insulation": "number", "s_volume": "number", "score_basis": "text",
    "electrolyte": "text",
}


COATING_SCORE_COLUMNS = {"s_window": "number", "s_cathode": "number", "s_open": "number", "cathode_penalty_eV_per_atom": "number",
                         "open_penalty_eV_per_atom": "number", "rank_low": "integer", "rank_high": "integer"}


def _columns() -> dict[str, Column]:
    kinds = ({f.name: _KIND[f.type] for f in dataclasses.fields(CoatingRow)} | {f.name: _KIND[f.type] for f in dataclasses.fields(ScreenRow)}
             | SCORE_COLUMNS | COATING_SCORE_COLUMNS | {"s_transport": "number"})
    out = {}
    for name, kind in kinds.items():
        header, best, about = _ABOUT.get(name, ("", "", ""))
        out[name] = Column(name, kind, header, best, about)
    return out


#: every column of a ranked screen
COLUMNS = _columns()
#: the columns of the Markdown and HTML ranking tables, in order
TABLE_COLUMNS = ["rank_label", "rank_low", "rank_high", "candidate", "kind", "score", "pareto_front", "tie_break", "interphase",
                 "electronic_character", "min_product_band_gap_eV", "li_reaction_energy_eV_per_atom", "volume_ratio",
                 "asr_ohm_cm2", "electrolyte_reaction_energy_eV_per_atom", "reduction_limit_V", "oxidation_limit_V", "warnings",
                 "error"]
COATING_TABLE_COLUMNS = ["rank_label", "rank_low", "rank_high", "candidate", "score", "pareto_front", "tie_break",
                         "reduction_limit_V", "oxidation_limit_V", "voltage_margin_V", "cathode_reaction_energy_eV_per_atom",
                         "electrolyte_reaction_energy_eV_per_atom", "open_reaction_energy_eV_per_atom", "electronic_character",
                         "band_gap_eV", "asr_ohm_cm2", "warnings", "error"]


def table_columns(side: str) -> list[str]:
    """The columns of the Markdown and HTML ranking tables of a side."""
    return COATING_TABLE_COLUMNS if side == "cathode" else TABLE_COLUMNS


def terminal_columns(side: str) -> list[str]:
    """The columns of the terminal table (narrower than the report's; ``rank_range`` is rank_low-rank_high)."""
    if side == "cathode":
        return ["rank_label", "rank_range", "candidate", "score", "tie_break", "oxidation_limit_V",
                "cathode_reaction_energy_eV_per_atom", "electrolyte_reaction_energy_eV_per_atom", "open_reaction_energy_eV_per_atom",
                "band_gap_eV", "warnings"]
    return ["rank_label", "rank_range", "candidate", "kind", "score", "tie_break", "interphase",
            "electronic_character", "volume_ratio", "asr_ohm_cm2", "electrolyte_reaction_energy_eV_per_atom", "warnings"]


def header(name: str) -> str:
    """A column's header for tables (its name with spaces for columns without one)."""
    col = COLUMNS.get(name)
    return col.label if col else name.replace("_", " ")
