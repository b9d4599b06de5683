"""pipeline/ and model/ never import each other; schemas/ imports only pyarrow and the standard library."""

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
