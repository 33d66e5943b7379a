"""No import cycle between the subpackages of mcmsim (module-level imports only).

Every module is parsed with ``ast``; an import at module level (including under
``if``/``try``, but not inside a function or class body) of ``mcmsim.Y...`` from a
module of ``mcmsim.X`` adds the edge X -> Y. Top-level modules (``mcmsim.api``,
``mcmsim.cli``...) and the package itself (``import mcmsim``) are nodes of their own. Imports inside functions are lazy and allowed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "mcmsim"


def _unit(module: str) -> str:
    """``mcmsim.X`` of a dotted module name (the subpackage or top-level module)."""
    return ".".join(module.split(".")[:2])


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_level_imports(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split(".")
                    base = base if is_package else base[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    found.add(".".join([*base, node.module] if node.module else base))
                elif node.module:
                    found.add(node.module)
            elif isinstance(node, ast.If | ast.Try | ast.With):
                for block in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, block, []):
                        visit(child.body if isinstance(child, ast.ExceptHandler) else [child])

    visit(tree.body)
    return {name for name in found if name == "mcmsim" or name.startswith("mcmsim.")}


def dependency_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        source = _unit(module)
        graph.add_node(source)
        for target in _module_level_imports(tree, module, path.name == "__init__.py"):
            if _unit(target) != source:
                graph.add_edge(source, _unit(target), via=module)
    return graph


def test_graph_sees_the_known_dependencies() -> None:
    # Guards the parser itself: these imports exist at module level today.
    graph = dependency_graph()
    assert graph.has_edge("mcmsim.sim", "mcmsim.metrics")
    assert graph.has_edge("mcmsim.api", "mcmsim.sim")


def test_subpackages_import_each_other_without_cycles() -> None:
    graph = dependency_graph()
    if not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        shown = ", ".join(f"{a} -> {b} (in {graph.edges[a, b]['via']})" for a, b in cycle)
        raise AssertionError(f"import cycle between subpackages: {shown}")
