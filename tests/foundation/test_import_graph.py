"""The package's import graph, read from the source with ``ast``: no circle, and the analysis
stays free of OpenTelemetry.

Every ``import`` / ``from ... import`` counts, at module level and inside functions alike (a
function-level import still ties the two modules together; it only moves the moment), except
those under ``if TYPE_CHECKING:``, which never run. ``from agentspans.a import b`` is an edge to
``agentspans.a.b`` when that is a module, else to ``agentspans.a``. The implicit import of a
parent package's ``__init__`` is not an edge (every module would then sit in a circle with
``agentspans/__init__``); an explicit ``from agentspans import name`` is one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "agentspans"

# Edges of circles that their owners are taking apart today; the lead drops each at merge once
# its branch is in. (importer, imported)
KNOWN_CIRCLE_EDGES: frozenset[tuple[str, str]] = frozenset(
    {
        # llm-paths (#12) is taking this circle apart (the generic field accessors go to a module
        # of their own below the three): _content -> _llm -> _content, _streams -> _llm -> _streams.
        ("agentspans.wrappers._llm", "agentspans.wrappers._content"),
        ("agentspans.wrappers._llm", "agentspans.wrappers._streams"),
    }
)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _imports_in(child)
            continue
        yield from _imports_in(node)


def _imports_in(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    else:
        yield from _imports(node)


def _targets(
    module: str, path: Path, node: ast.Import | ast.ImportFrom, known: set[str]
) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, base] if base else package)
    targets = set()
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        targets.add(submodule if submodule in known else base)
    return targets


def import_graph() -> dict[str, set[str]]:
    """Each module of the package -> the package modules it imports."""
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: set[str] = set()
        for node in _imports(tree):
            edges |= {t for t in _targets(module, path, node, known) if t in known}
        edges.discard(module)
        graph[module] = edges
    return graph


def all_imports() -> dict[str, set[str]]:
    """Each module -> every top-level name it imports, in or outside the package."""
    result: dict[str, set[str]] = {}
    for module, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names: set[str] = set()
        for node in _imports(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif node.module and not node.level:
                names.add(node.module)
        result[module] = names
    return result


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert "agentspans._instrument" in graph
    assert "agentspans._config" in graph["agentspans._instrument"]
    # A function-level import counts: _instrument imports the analysis annotator lazily.
    assert "agentspans.processors.analysis" in graph["agentspans._instrument"]


def test_no_import_circle() -> None:
    graph = import_graph()
    pruned = {
        module: {t for t in targets if (module, t) not in KNOWN_CIRCLE_EDGES}
        for module, targets in graph.items()
    }
    assert _circles(pruned) == []
    for importer, imported in KNOWN_CIRCLE_EDGES:
        assert imported in graph.get(importer, set()), (
            f"KNOWN_CIRCLE_EDGES: {importer} no longer imports {imported}; drop the entry"
        )


def test_a_circle_would_be_found() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_analysis_does_not_import_opentelemetry() -> None:
    """Neither directly nor through a module of ours it imports."""
    graph = import_graph()
    imports = all_imports()
    for module in graph:
        if module != "agentspans.analysis" and not module.startswith("agentspans.analysis."):
            continue
        reached, todo = {module}, [module]
        while todo:
            for target in graph[todo.pop()] - reached:
                reached.add(target)
                todo.append(target)
        for reached_module in sorted(reached):
            otel = sorted(n for n in imports[reached_module] if n.split(".")[0] == "opentelemetry")
            assert not otel, f"{module} reaches {reached_module}, which imports {otel}"
