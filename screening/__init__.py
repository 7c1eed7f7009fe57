"""screening: first-principles interphase stability screener for solid-state Li batteries.

The everyday API, store first::

    from screening import open_store, window, react, interphase, lithiate, screen
    store = open_store()                      # the Materials Project phases shipped with the package
    window(store, "Li7La3Zr2O12")             # stability window vs Li/Li+
    react(store, "Li7La3Zr2O12", "Li")        # interface reaction
    interphase(store, "I2", electrolyte="Li7La3Zr2O12")
    screen(store, ["I2", "LiF", "ZnO"])       # ranked pandas DataFrame

Pipeline (each layer imports only the ones before it; see the README's architecture section):
    data (tables, files, formulas; the Phase record)  ->  phases (PhaseSet, PhaseSource; the
    store)  ->  thermodynamics (windows, reactions)  ->  interphases  ->  ranking  ->  api  ->
    report / cli.  The LP hull kernel (``screening.hull``) is math on arrays under all of them.
"""

__version__ = "0.3.0"

_EXPORTS = {
    "PhaseStore": "screening.store",
    "open_store": "screening.store",
    "add_phases": "screening.store",
    "Phase": "screening.data.table",
    "PhaseSet": "screening.phases",
    "PhaseSource": "screening.phases",
    "window": "screening.api",
    "staircase": "screening.api",
    "react": "screening.api",
    "reaction_curve": "screening.api",
    "interphase": "screening.api",
    "lithiate": "screening.api",
    "screen": "screening.api",
    "seed_case": "screening.api",
    "Settings": "screening.settings",
    "Weights": "screening.settings",
    "Window": "screening.thermo.windows",
    "Stage": "screening.thermo.windows",
    "Reaction": "screening.thermo.reactions",
    "Interphase": "screening.interphases",
    "LithiationPath": "screening.interphases",
    "LithiationStage": "screening.interphases",
    "Properties": "screening.interphases",
    "ScreenRow": "screening.ranking.rows",
    "SeedCase": "screening.ranking.figures",
    "Caveat": "screening.results",
    "CaveatKind": "screening.results",
    "Character": "screening.results",
    "CandidateKind": "screening.results",
    "InputError": "screening.errors",
    "DataError": "screening.errors",
    "ScreeningError": "screening.errors",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name):  # lazy: `import screening` stays cheap for the command line
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'screening' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
