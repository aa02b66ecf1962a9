"""The runner's modules import each other in one direction: no import cycle reaches them."""

from __future__ import annotations

import ast
from pathlib import Path

import bench

PACKAGE = Path(bench.__file__).parent


def import_graph() -> dict[str, set[str]]:
    """Module -> the bench modules it imports, at the top or inside functions."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("bench", *path.relative_to(PACKAGE).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while not component or node not in component:
                component.add(stack.pop())
            if len(component) > 1:
                found.append(component)

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_and_nothing_else() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [{"a", "b", "c"}]


def test_no_import_cycle_reaches_the_runner_or_provenance() -> None:
    graph = import_graph()
    assert {"bench.run.worker", "bench.run.local", "bench.provenance"} <= set(graph)
    ours = [c for c in cycles(graph) if any(m.startswith(("bench.run", "bench.tune")) for m in c)]
    ours += [c for c in cycles(graph) if "bench.provenance" in c]
    assert not ours, f"import cycles: {ours}"


def test_every_executor_takes_the_worker_entry_point_from_one_module() -> None:
    graph = import_graph()
    for executor in ("local", "packed", "ray_executor"):
        assert "bench.run.worker" in graph[f"bench.run.{executor}"]
    assert "bench.run.worker" in graph["bench.tune.objective"]
    executors = {"bench.run.local", "bench.run.packed", "bench.run.ray_executor"}
    for executor in executors:
        assert not graph[executor] & executors, f"{executor} imports another executor"
