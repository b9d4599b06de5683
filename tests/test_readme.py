"""The README works when copied: each ```bash block runs (in a temporary folder holding a tiny shard set where the
README says out/demo/graphs, with the project's .venv), its schema reference names every schema field and predicate,
and its Layout names every package folder.

A block that needs external data or a long run says so on the line before it: `<!-- not-tested: why -->` (never
run) or `<!-- slow: why -->` (run by make test-all).
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

from pipeline.relations import PAIR_PREDICATES, UNARY_PREDICATES
from schemas import dsg, manifest, tsg
from tests.pipeline.viz.test_report import tiny_shards

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"<!--\s*(not-tested|slow)\s*:\s*(.+?)\s*-->\s*$")


def blocks() -> list[tuple[int, str, str | None, str]]:
    """(line, language, marker kind or None, code) of each fenced block, the marker from the line before it."""
    found = []
    for match in FENCE.finditer(README):
        before = README[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        line = README[:match.start()].count("\n") + 1
        found.append((line, match.group(1), marker.group(1) if marker else None, match.group(2)))
    return found


def shell_blocks():
    params = []
    for line, language, marker, code in blocks():
        if language not in ("bash", "sh") or marker == "not-tested":
            continue
        marks = [pytest.mark.slow] if marker == "slow" else []
        params.append(pytest.param(code, id=f"README.md:{line}", marks=marks))
    return params


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def test_every_code_block_is_shell_or_marked():
    for line, language, marker, _ in blocks():
        assert language in ("", "bash", "sh") or marker == "not-tested", (
            f"README.md:{line}: a ```{language} block; make it ```bash or mark it <!-- not-tested: why -->")
    assert len(shell_blocks()) >= 2


@pytest.mark.parametrize("code", shell_blocks())
def test_readme_block_runs(code, tmp_path):
    tiny_shards(tmp_path / "out" / "demo" / "graphs")
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "YOLO_OFFLINE": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, f"exit {result.returncode}\n{code}\n--- stderr\n{result.stderr[-3000:]}"


def schema_names(schema, prefix: str = "") -> list[str]:
    """Every field of an Arrow schema, struct fields inside lists as `parent[].child`."""
    names = []
    for field in schema:
        names.append(prefix + field.name)
        kind = field.type
        if hasattr(kind, "value_type") and getattr(kind.value_type, "num_fields", 0):
            names += schema_names(list(kind.value_type), f"{prefix}{field.name}[].")
    return names


def test_schema_reference_names_every_field_and_word_of_the_vocabulary():
    text = section("Schema reference")
    fields = schema_names(tsg.SCHEMA) + schema_names(dsg.SCHEMA) + schema_names(manifest.SHARD_SCHEMA)
    words = (list(manifest.HEADER) + list(tsg.NODE_KINDS) + list(tsg.EDGE_KINDS) + list(PAIR_PREDICATES)
             + list(UNARY_PREDICATES) + ["tsg_status", "tsg_error_message", "dsg_status", "dsg_error_message"])
    missing = [name for name in fields + words if f"`{name}`" not in text]
    assert not missing, f"the README's schema reference does not name {missing}"


def test_layout_names_every_package_folder():
    listing = section("Layout")
    listed = set(re.findall(r"^(\S+/)", listing, re.MULTILINE))
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    top_level = {path.split("/")[0] + "/" for path in tracked if "/" in path}
    packages = {p.parent.relative_to(ROOT).as_posix() + "/" for p in ROOT.glob("*/**/__init__.py")
                if ".venv" not in p.parts and p.parent.relative_to(ROOT).parts[0] != "tests"}
    missing = sorted((top_level | packages) - listed)
    assert not missing, f"the README's Layout does not list {missing}"
