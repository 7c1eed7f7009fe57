"""Thermodynamics on the phase store: electrochemical windows and interface reactions.

Everything is linear programming over the store's phases (``screening.lp``); pymatgen's
PhaseDiagram / InterfacialReactivity give the same numbers (the tests check) but cost a convex
hull per chemical system.
"""
