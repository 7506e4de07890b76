"""The LLM wrapper modules import each other in one direction only (no circle, not even a lazy
one inside a function): ``_fields`` below ``_content``, ``_streams`` and ``_raw``, those below
``_llm``. Imports under ``if TYPE_CHECKING:`` are for annotations and do not count."""

from __future__ import annotations

import ast
from pathlib import Path

WRAPPERS = Path(__file__).resolve().parents[2] / "src" / "agentspans" / "wrappers"
CORE = ("_fields", "_content", "_streams", "_raw", "_llm", "_lifecycle", "_tokens")


def _imports(module: str) -> set[str]:
    tree = ast.parse((WRAPPERS / f"{module}.py").read_text())
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "agentspans.wrappers":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("agentspans.wrappers."):
                found.add(node.module.rsplit(".", 1)[1])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found & set(CORE)


def test_no_import_circle_among_the_llm_wrapper_modules() -> None:
    graph = {module: _imports(module) for module in CORE}
    assert graph["_fields"] == set()
    visiting: list[str] = []
    done: set[str] = set()

    def walk(module: str) -> None:
        assert module not in visiting, f"import circle: {' -> '.join([*visiting, module])}"
        if module in done:
            return
        visiting.append(module)
        for target in graph[module]:
            walk(target)
        visiting.pop()
        done.add(module)

    for module in CORE:
        walk(module)
