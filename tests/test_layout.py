"""The tree's shape, read from the code itself: imports flow one way and no module needs scrolling.

Stages: train knows models and data, export turns a checkpoint into artifacts, bench runs artifacts;
the demos sit on top. These tests parse every project module's imports (ast, nothing is imported)
and fail on a circle, on an arrow the flow forbids, or on a module past MAX_LINES.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("train", "export", "bench", "web_demo", "android_demo")
MAX_LINES = 300
# stage -> stages it must never import. train knows models and data, export turns checkpoints into
# artifacts, the demos show artifacts, bench runs artifacts (the browser backend drives the web demo's
# page, so bench may import web_demo; nothing imports bench).
FORBIDDEN = {
    "train": {"export", "bench", "web_demo", "android_demo"},
    "export": {"bench", "web_demo", "android_demo"},
    "web_demo": {"bench", "android_demo"},
    "android_demo": {"bench", "web_demo"},
    "bench": {"android_demo"},
}


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "node_modules" in path.parts or "build" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Project modules that `name` imports at any level (function bodies included: a lazy import is an arrow too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import mod` names a submodule; `from mod import name` the module itself
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    known = project_modules()
    graph = {name: imports_of(name, path, known) for name, path in known.items()}
    # a package's __init__ importing its own submodules is how packages expose them, not a circle
    return {name: {t for t in targets if not t.startswith(name + ".")} for name, targets in graph.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

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
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_checker_sees_a_circle_and_the_real_imports():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = import_graph()
    assert "export.contract" in graph["bench.jobs"]  # bench reads the contract (a lazy import)
    assert "train.errors" in graph["export.cli"]


def test_no_import_circle():
    assert cycles(import_graph()) == []


def test_imports_flow_one_way():
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in import_graph().items()
        for target in targets
        if target.split(".")[0] in FORBIDDEN[name.split(".")[0]]
    )
    assert wrong == []


def test_no_module_a_reader_must_scroll():
    sources = [p for p in project_modules().values()]
    sources += [p for p in (ROOT / "web_demo").rglob("*.js") if "node_modules" not in p.parts]
    sources += list((ROOT / "android_demo").rglob("*.java"))
    long = sorted(
        f"{p.relative_to(ROOT)}: {n} lines"
        for p in sources
        if "test" not in p.relative_to(ROOT).parts[1:-1] and (n := len(p.read_text().splitlines())) > MAX_LINES
    )
    assert long == []
