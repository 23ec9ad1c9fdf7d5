"""The layer contract of the package, checked on the import graph of the source (every import, module level and
inside functions alike).

Layers, lowest first; a module may import its own layer's modules and those of lower layers, never a higher one.
Modules listed together on one line as ``a | b`` are independent siblings: neither imports the other.

``stats`` knows nothing of the store; ``qmdrender`` knows nothing of either. No import cycle anywhere.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("analysis", "stats", "qmdrender")

#: lowest first; each entry is one layer, a tuple of independent siblings (module-name prefixes)
LAYERS = [
    ("analysis.settings", "analysis.paths", "analysis.codes"),
    ("analysis.data",),
    ("analysis.modeling",),
    ("analysis.segments",),
    ("analysis.decisions",),
    ("analysis.summary",),
    ("analysis.results",),
    ("analysis.pipeline",),
    ("analysis.runner",),
    ("analysis.scoring", "analysis.report"),
    ("analysis.cli",),
    ("analysis.bench",),
    ("analysis.__main__", "analysis"),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "__pycache__" not in path.parts:
                found[_module_name(path)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (``from a.b import c`` counts as ``a.b.c`` when that is a module,
    else as ``a.b``)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    targets.add(alias.name)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                for alias in node.names:
                    targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _layer_of(module: str) -> tuple[int, str]:
    best = None
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > len(best[1]):
                    best = (i, prefix)
    if best is None:
        raise AssertionError(f"{module} is in no layer of the contract")
    return best


def test_every_analysis_module_has_a_layer():
    for module in import_graph():
        if module.startswith("analysis"):
            _layer_of(module)


def test_no_import_from_a_higher_layer_or_a_sibling():
    bad = []
    for module, targets in import_graph().items():
        if not module.startswith("analysis"):
            continue
        mine, my_prefix = _layer_of(module)
        for target in targets:
            if not target.startswith("analysis"):
                continue
            theirs, their_prefix = _layer_of(target)
            if theirs > mine or (theirs == mine and their_prefix != my_prefix and my_prefix != "analysis"):
                bad.append(f"{module} (layer {mine}) imports {target} (layer {theirs})")
    assert not bad, "\n".join(sorted(bad))


def test_stats_knows_nothing_of_the_store_and_qmdrender_nothing_of_either():
    bad = []
    for module, targets in import_graph().items():
        root = module.split(".")[0]
        allowed = {"stats": {"stats"}, "qmdrender": {"qmdrender"}}.get(root)
        if allowed is None:
            continue
        bad += [f"{module} imports {t}" for t in targets if t.split(".")[0] not in allowed]
    assert not bad, "\n".join(sorted(bad))


def test_no_import_cycle():
    graph = import_graph()
    # Tarjan's strongly connected components; a component of more than one module is a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_no_module_imports_another_modules_private_name():
    """Public functions for what other modules use: ``from a.b import _c`` across modules is refused (a test
    may reach a private helper; the source may not)."""
    modules = _modules()
    bad = []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
                bad += [f"{name}: from {node.module} import {a.name}" for a in node.names
                        if a.name.startswith("_") and a.name != "__version__"]
    assert not bad, "\n".join(sorted(bad))


@pytest.mark.parametrize("planted", ["analysis.data.load imports analysis.report", "cycle"])
def test_the_contract_fails_on_a_planted_violation(planted, monkeypatch):
    """The checks above can fail: a planted upward import and a planted cycle are caught."""
    real = import_graph()
    graph = {k: set(v) for k, v in real.items()}
    if planted == "cycle":
        graph["analysis.data.load"].add("analysis.data.validate")
        graph["analysis.data.validate"].add("analysis.data.load")
        monkeypatch.setitem(globals(), "import_graph", lambda: graph)
        with pytest.raises(AssertionError):
            test_no_import_cycle()
    else:
        graph["analysis.data.load"].add("analysis.report.text")
        monkeypatch.setitem(globals(), "import_graph", lambda: graph)
        with pytest.raises(AssertionError, match="analysis.data.load"):
            test_no_import_from_a_higher_layer_or_a_sibling()


def test_the_report_reads_only_results():
    """The presentation imports the results contract, the labels' sources and nothing that computes: no stage."""
    allowed = ("analysis.report", "analysis.results", "analysis.settings", "analysis.paths", "analysis.codes",
               "analysis.data.dictionary")
    bad = [f"{module} imports {target}" for module, targets in import_graph().items()
           if module.startswith("analysis.report") for target in targets
           if target.startswith("analysis") and not target.startswith(allowed)]
    assert not bad, "\n".join(sorted(bad))
