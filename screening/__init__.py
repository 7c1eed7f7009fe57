"""screening: first-principles interphase stability screener for solid-state Li batteries.

The everyday API, store first::

    from screening import open_store, window, react, interphase, lithiate, screen
    store = open_store()                      # the Materials Project phases shipped with the package
    window(store, "Li7La3Zr2O12")             # stability window vs Li/Li+
    react(store, "Li7La3Zr2O12", "Li")        # interface reaction
    interphase(store, "I2", electrolyte="Li7La3Zr2O12")
    screen(store, ["I2", "LiF", "ZnO"])       # ranked pandas DataFrame

Pipeline (each layer imports only the ones before it):
    data (tables, files, formulas)  ->  thermo.hull (the kernel)  ->  phases (rows + kernel)
    ->  build (the shipped table), store (lookups, assembly)
    ->  thermo (windows, reactions)  ->  interphase  ->  ranking  ->  report / cli
"""

__version__ = "0.2.0"

_EXPORTS = {
    "PhaseStore": "screening.store",
    "open_store": "screening.store",
    "add_phases": "screening.store",
    "window": "screening.thermo.windows",
    "staircase": "screening.thermo.windows",
    "react": "screening.thermo.reactions",
    "interphase": "screening.interphases",
    "lithiate": "screening.interphases",
    "screen": "screening.ranking",
    "Settings": "screening.settings",
    "Weights": "screening.settings",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name):  # lazy: `import screening` stays cheap for the command line
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'screening' has no attribute {name!r}")
