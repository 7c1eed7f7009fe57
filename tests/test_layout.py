"""The package's layers (the README's architecture section): imports flow one way,
data -> phases -> thermodynamics -> interphases -> ranking -> api -> report / command line, with
the LP hull kernel as math on arrays beside the data layer; no import cycles; no module state
hidden in globals of the computing layers; the report renders results and computes no physics."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "screening"
#: layer of each module prefix (a module may import its own layer and the layers below)
LAYERS = [
    ("screening.errors", 0), ("screening.results", 0), ("screening.settings", 0), ("screening.outputs", 0),
    ("screening.provenance", 0), ("screening.units", 0), ("screening._data", 0),
    ("screening.__init__", 9), ("screening.__main__", 9),
    ("screening.data", 1), ("screening.hull", 1),
    ("screening.phases", 2), ("screening.store", 2), ("screening.build", 2),
    ("screening.thermo", 3),
    ("screening.layer", 4), ("screening.interphases", 4), ("screening.mlip", 4), ("screening.halides", 4),
    ("screening.ranking", 5),
    ("screening.api", 6), ("screening.distributed", 6), ("screening._dask_worker", 6),
    ("screening.report", 7), ("screening.plots", 7),
    ("screening.cli", 8),
]


def _layer(module: str) -> int:
    best = None
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, layer)
    assert best is not None, module
    return best[1]


def _modules():
    for f in sorted(PACKAGE.rglob("*.py")):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, ast.parse(f.read_text()), f.name == "__init__.py"


def _imports(name: str, tree, is_pkg: bool, top_level_only: bool):
    """(imported screening module, line) pairs."""
    out = []
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.startswith("screening")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("screening"):
            for a in node.names:  # "from screening.data import files" imports screening.data.files
                sub = f"{node.module}.{a.name}"
                out.append((sub if (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists()
                            or (PACKAGE.parent / sub.replace(".", "/")).is_dir() else node.module, node.lineno))
    return [(m, line) for m, line in out if m != "screening" or name == "screening"]


@pytest.mark.parametrize("name,tree,is_pkg", list(_modules()), ids=lambda x: x if isinstance(x, str) else "")
def test_imports_flow_one_way(name, tree, is_pkg):
    if name in ("screening", "screening.__main__"):
        return  # the lazy public API and the entry point sit on top
    own = _layer(name)
    for module, line in _imports(name, tree, is_pkg, top_level_only=False):
        if module in ("screening", "screening.__init__"):
            continue  # __version__ only
        assert _layer(module) <= own, f"{name} (layer {own}) imports {module} (layer {_layer(module)}) at line {line}"


def test_data_layer_imports_nothing_above_it():
    for name, tree, is_pkg in _modules():
        if name.startswith("screening.data"):
            for module, line in _imports(name, tree, is_pkg, top_level_only=False):
                assert module.startswith(("screening.data", "screening.errors", "screening.outputs", "screening.results",
                                          "screening.units", "screening.settings")) \
                    or module == "screening", f"{name}:{line} imports {module}"


def test_no_import_cycles():
    """No cycle, counting the imports inside functions too (the store opens the build lazily,
    and the build stands on ``screening.phases``, never on the store)."""
    graph = {name: {m for m, _ in _imports(name, tree, is_pkg, top_level_only=False)} for name, tree, is_pkg in _modules()
             if name != "screening"}
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                raise AssertionError(" -> ".join([*path, nxt]))
            if state.get(nxt) is None:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_no_mutable_module_state_in_computing_layers():
    """No module-level caches (dicts, lists, WeakKeyDictionary, lru_cache) in data, thermo, store,
    interphases, ranking: every cache lives on a store or a result."""
    for name, tree, _ in _modules():
        if not name.startswith(("screening.data", "screening.thermo", "screening.store", "screening.interphases",
                                "screening.ranking", "screening.phases", "screening.hull", "screening.api")):
            continue
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(getattr(node, "value", None), (ast.Dict, ast.List, ast.Set, ast.Call)):
                value = node.value
                if isinstance(value, ast.Call):
                    fn = ast.unparse(value.func)
                    assert not any(k in fn for k in ("WeakKeyDictionary", "dict", "defaultdict", "lru_cache")), f"{name}: {ast.unparse(node)}"
                if isinstance(value, (ast.Dict, ast.List, ast.Set)):
                    target = ast.unparse(node.targets[0] if isinstance(node, ast.Assign) else node.target)
                    assert (target.isupper() or target.startswith("__")) and not any(
                        k in target for k in ("CACHE", "MEMO", "SEEN")), f"{name}: mutable module global {target}"
            if isinstance(node, ast.FunctionDef):
                for dec in node.decorator_list:
                    assert "cache" not in ast.unparse(dec), f"{name}.{node.name} is cached at module level"


def test_report_renders_and_computes_no_physics():
    """The report and the plots import nothing that computes (thermodynamics, interphases, the
    store or the API): they render results handed to them."""
    for name, tree, is_pkg in _modules():
        if name.startswith(("screening.report", "screening.plots")):
            for module, line in _imports(name, tree, is_pkg, top_level_only=False):
                assert not module.startswith(("screening.thermo", "screening.interphases", "screening.store",
                                              "screening.api", "screening.hull", "screening.phases")), \
                    f"{name}:{line} imports {module}"


def test_physics_never_sees_a_store():
    """Windows, reactions, interphases and screen rows are functions of phases and settings: they
    never import the store or the API (they get a PhaseSource)."""
    for name, tree, is_pkg in _modules():
        if name.startswith(("screening.thermo", "screening.interphases", "screening.layer", "screening.ranking")) \
                and name != "screening.thermo.reference":
            for module, line in _imports(name, tree, is_pkg, top_level_only=False):
                assert not module.startswith(("screening.store", "screening.api")), f"{name}:{line} imports {module}"
