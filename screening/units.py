"""Physical constants and unit conversions, defined once (CODATA 2018 exact values)."""

from __future__ import annotations

#: Avogadro constant (1/mol)
AVOGADRO = 6.02214076e23
#: Faraday constant (C/mol)
FARADAY_C_PER_MOL = 96485.33212
#: 1 A^3 in cm^3
A3_IN_CM3 = 1e-24
#: 1 um in cm
UM_IN_CM = 1e-4
#: 1 mAh in C
MAH_IN_C = 3.6
#: Boltzmann constant (eV/K)
BOLTZMANN_EV_PER_K = 8.617333262e-5
#: 25 C in K
ROOM_TEMPERATURE_K = 298.15


def molar_volume_cm3_per_mol(volume_A3: float, formula_units: float) -> float:
    """cm3 per mol of formula units, from the volume (A^3) of a cell holding ``formula_units``."""
    return volume_A3 / formula_units * AVOGADRO * A3_IN_CM3
