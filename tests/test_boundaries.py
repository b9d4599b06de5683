"""pipeline/ and model/ never import each other; schemas/ imports only pyarrow and the standard library; no import
cycles among the project's modules, function-level imports included."""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def loaded_top_level_modules(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def package_modules(package: str) -> list[str]:
    return sorted(f"{package}." + p.relative_to(ROOT / package).with_suffix("").as_posix().replace("/", ".")
                  for p in (ROOT / package).rglob("*.py") if p.name != "__init__.py") or [package]


def test_schemas_imports_only_pyarrow_and_the_standard_library():
    baseline = loaded_top_level_modules("import pyarrow")
    added = loaded_top_level_modules("import schemas, schemas.graph") - baseline
    foreign = {m for m in added if m not in sys.stdlib_module_names and m != "schemas"}
    assert not foreign, f"schemas/ pulled in {sorted(foreign)}"


@pytest.mark.parametrize("package, forbidden", [("pipeline", "model"), ("model", "pipeline")])
def test_pipeline_and_model_never_import_each_other(package, forbidden):
    modules = package_modules(package)
    statement = "; ".join(f"import {m}" for m in modules)
    loaded = loaded_top_level_modules(statement)
    assert forbidden not in loaded, f"importing {package} loaded {forbidden}"
    pattern = re.compile(rf"^\s*(from|import)\s+{forbidden}\b", re.MULTILINE)
    for path in (ROOT / package).rglob("*.py"):
        assert not pattern.search(path.read_text()), f"{path} imports {forbidden}"


PACKAGES = ("schemas", "pipeline", "model", "jobs", "bench")


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules a file imports anywhere in it, function-level (lazy) imports included: `from a.b import
    c` counts as a.b.c when that is a module, else a.b; relative imports are resolved against the file's package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` of a name inside a module: the module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    files = {module_name(p, root): p for package in PACKAGES for p in (root / package).rglob("*.py")}
    return {name: imported_modules(path, name, set(files)) for name, path in files.items()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

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
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_cycle_search_finds_a_lazy_cycle(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "__init__.py").write_text("")
    (tmp_path / "model" / "a.py").write_text("from model.b import f\n")
    (tmp_path / "model" / "b.py").write_text("def f():\n    from model import a\n")
    (tmp_path / "model" / "c.py").write_text("from . import a\n")
    graph = import_graph(tmp_path)
    assert graph["model.a"] == {"model.b"} and graph["model.b"] == {"model.a"} and graph["model.c"] == {"model.a"}
    assert import_cycles(graph) == [["model.a", "model.b"]]


def test_no_import_cycles_lazy_ones_included():
    graph = import_graph(ROOT)
    assert "model.trainer" in graph["model.eval.compositional"]  # the graph sees the project's imports
    assert not import_cycles(graph), f"import cycles: {import_cycles(graph)}"
