"""screening: first-principles interphase stability screener for solid-state Li batteries.

Pipeline (each layer imports only the ones before it):
    data (phase store, I/O)  ->  thermo (hull LPs, windows, reactions)
    ->  interphase  ->  ranking  ->  report / cli
"""

__version__ = "0.1.0"
