"""The package's dependencies run one way: no two subpackages import each other, and the
dependency-free layers stay free of torch. Checked statically (every import statement,
including those inside functions and under TYPE_CHECKING), so a cycle hidden in a function
body cannot come back."""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path

import mmsy_dataset

PACKAGE = Path(mmsy_dataset.__file__).parent


def _unit(module: str) -> str | None:
    """The subpackage (or root module) that `module` belongs to; None outside the package."""
    parts = module.split(".")
    if parts[0] != "mmsy_dataset" or len(parts) < 2:
        return None
    return parts[1]


def _is_module(name: str) -> bool:
    return (PACKAGE / f"{name}.py").is_file() or (PACKAGE / name / "__init__.py").is_file()


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache
def import_graph() -> dict[str, frozenset[str]]:  # parsed once per process
    """Edges between the package's units: `a -> b` when a module of `a` imports one of `b`."""
    edges: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        source = _unit(name)
        if source is None:
            continue
        edges.setdefault(source, set())
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from mmsy_dataset import adapters` names a unit in the alias (but not in
                # `from mmsy_dataset import __version__`).
                targets = (
                    [f"{base}.{a.name}" for a in node.names if _is_module(a.name)] if base == "mmsy_dataset" else [base]
                )
            for target in targets:
                unit = _unit(target)
                if unit is not None and unit != source:
                    edges[source].add(unit)
    return {unit: frozenset(targets) for unit, targets in edges.items()}


def cycles(graph: Mapping[str, AbstractSet[str]]) -> list[list[str]]:
    """Strongly connected components with more than one unit (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_subpackages() -> None:
    found = cycles(import_graph())
    assert found == [], f"subpackages import each other: {found}"


def test_layers_run_one_way() -> None:
    graph = import_graph()
    assert graph["api"] <= {"errors"}, f"api imports {sorted(graph['api'])}"
    assert graph["adapters"] <= {"api", "errors"}, f"adapters import {sorted(graph['adapters'])}"
    assert not any("cli" in targets for targets in graph.values()), "the command line is the top layer"
    assert {"api", "adapters"} <= graph["engine"]
    above_engine = {"mitigation", "reference", "analysis", "cli", "demo"}
    assert not graph["engine"] & above_engine, f"engine imports {sorted(graph['engine'] & above_engine)}"


def test_http_adapter_and_api_load_without_torch() -> None:
    code = (
        "import sys, mmsy_dataset.api, mmsy_dataset.adapters.http; "
        "bad = sorted(m for m in ('torch', 'transformers') if m in sys.modules); "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing the HTTP adapter loaded {out.stdout.strip()}"
