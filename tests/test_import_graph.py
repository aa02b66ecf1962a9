"""The package's imports form no cycle: every dependency points one way (docs/architecture.md).

Every `import` is counted, including those inside functions: a lazy import that closes a loop
is still a loop, only a hidden one.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "bench"


def module_names(package: Path) -> dict[str, Path]:
    names = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def owning_module(name: str, modules: dict[str, Path]) -> str | None:
    """The module that defines `name`: itself, or the nearest package or module above it."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imported_modules(path: Path, modules: dict[str, Path]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(owning_module(alias.name, modules) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                is_module = submodule in modules
                found.add(submodule if is_module else owning_module(node.module, modules))
    return {name for name in found if name}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = module_names(package)
    return {name: imported_modules(path, modules) - {name} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = lowlink[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = lowlink[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    lowlink[node] = min(lowlink[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    lowlink[parent] = min(lowlink[parent], lowlink[node])
                if lowlink[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_a_lazy_import_that_closes_a_loop_is_a_cycle(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "low.py").write_text("def f():\n    from pkg.high import g\n")
    (package / "high.py").write_text("from pkg.sub import low\n")
    graph = import_graph(package)
    assert graph["pkg.high"] == {"pkg.sub.low"}
    assert cycles(graph) == [["pkg.high", "pkg.sub.low"]]


def test_the_graph_covers_the_whole_package():
    graph = import_graph()
    assert len(graph) > 100
    assert "bench.sequential.runner" in graph["bench.cli"]  # imported inside a function


def test_the_package_has_no_import_cycle():
    assert cycles(import_graph()) == []


def test_every_executor_runs_its_jobs_through_the_one_job_entry_point():
    graph = import_graph()
    executors = {
        "bench.run.executors.local",
        "bench.run.executors.packed",
        "bench.run.executors.ray_tasks",
    }
    for executor in executors:
        assert "bench.run.job.entry" in graph[executor]
        assert not graph[executor] & executors, f"{executor} imports another executor"
    assert "bench.run.job.entry" in graph["bench.tune.objective"]


LAYERS = (  # bottom to top, as docs/architecture.md lists them
    ("bench.errors", "bench.atomic", "bench.plugins", "bench.metric_registry", "bench.stats",
     "bench.machine", "bench.provenance"),
    ("bench.config",),
    ("bench.data", "bench.models", "bench.tricks"),
    ("bench.train",),
    ("bench.metrics",),  # scoring and design: four modules deep
    ("bench.components", "bench.extend"),
    ("bench.expand",),
    ("bench.design",),
    ("bench.run.store",),  # running: the results store and claims, one job, the executors
    ("bench.run.job",),
    ("bench.run.executors",),
    ("bench.run",),  # the run as a whole: preflight, the suite, rerun, validate
    ("bench.report", "bench.regress", "bench.tune", "bench.sequential"),
    ("bench.cli", "bench"),
)  # fmt: skip


def layer(module: str) -> int:
    """The layer of `module`: that of the longest prefix `LAYERS` names."""
    prefixes = [
        (len(prefix), level)
        for level, members in enumerate(LAYERS)
        for prefix in members
        if module == prefix or module.startswith(prefix + ".")
    ]
    return max(prefixes)[1]


def test_every_module_imports_only_from_its_own_layer_or_below():
    upward = [
        f"{module} -> {dependency}"
        for module, dependencies in import_graph().items()
        for dependency in dependencies
        if layer(dependency) > layer(module)
    ]
    assert not upward, "imports that point up a layer: " + ", ".join(sorted(upward))


def test_every_module_but_the_package_itself_has_a_layer_below_the_interface():
    interface = len(LAYERS) - 1
    unplaced = [m for m in import_graph() if layer(m) == interface and m not in LAYERS[-1]]
    assert not unplaced, f"modules with no layer in LAYERS: {unplaced}"
