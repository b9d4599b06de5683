"""The arrows inside pipeline/: no import cycle (lazy imports included); drawing and evaluation import stages, never
the reverse."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def import_graph(package: str = "pipeline") -> dict[str, set[str]]:
    """module -> the modules of `package` it imports anywhere in its file (inside functions too)."""
    files = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (ROOT / package).rglob("*.py")}
    graph = {}
    for name, path in files.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == package:
                targets |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module
                            for a in node.names}
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.split(".")[0] == package}
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return path[path.index(target):] + [node, target] if target in path else [node, target]
            if target not in state and (cycle := visit(target, path + [node])):
                return cycle
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node, [])):
            return cycle
    return None


def test_find_cycle_finds_a_lazy_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_pipeline_has_no_import_cycle():
    assert find_cycle(import_graph()) is None


def test_stages_never_import_drawing_or_evaluation():
    for module, targets in import_graph().items():
        if not module.startswith(("pipeline.viz", "pipeline.eval")):
            wrong = {t for t in targets if t.startswith(("pipeline.viz", "pipeline.eval"))}
            assert not wrong, f"{module} imports {sorted(wrong)}"
