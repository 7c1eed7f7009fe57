"""The one schema of a ranked screen row: every column's name, header, kind and meaning.

The evaluated columns are the fields of :class:`~screening.ranking.rows.ScreenRow`; the ranking
adds ``SCORE_COLUMNS`` and the electrolyte.  The terminal table, JSON records, CSV, parquet
types, the Markdown table and the HTML report all read this module.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

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
}
#: columns the ranking adds (``screening.ranking.scoring.rank``), with their kinds
SCORE_COLUMNS = {
    "rank": "integer", "rank_label": "text", "score": "number", "pareto_front": "integer", "tie_break": "text",
    "li_penalty_eV_per_atom": "number", "electrolyte_penalty_eV_per_atom": "number", "s_li": "number",
    "s_electrolyte": "number", "s_insulation": "number", "s_volume": "number", "score_basis": "text",
    "electrolyte": "text",
}


def _columns() -> dict[str, Column]:
    kinds = {f.name: _KIND[f.type] for f in dataclasses.fields(ScreenRow)} | SCORE_COLUMNS
    out = {}
    for name, kind in kinds.items():
        header, best, about = _ABOUT.get(name, ("", "", ""))
        out[name] = Column(name, kind, header, best, about)
    return out


#: every column of a ranked screen
COLUMNS = _columns()
#: the columns of the Markdown and HTML ranking tables, in order
TABLE_COLUMNS = ["rank_label", "candidate", "kind", "score", "pareto_front", "tie_break", "interphase",
                 "electronic_character", "min_product_band_gap_eV", "li_reaction_energy_eV_per_atom", "volume_ratio",
                 "electrolyte_reaction_energy_eV_per_atom", "reduction_limit_V", "oxidation_limit_V", "warnings", "error"]


def header(name: str) -> str:
    """A column's header for tables (its name with spaces for columns without one)."""
    col = COLUMNS.get(name)
    return col.label if col else name.replace("_", " ")
