"""Module borders: each stage imports only from stages to its left (STYLE.md)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dlcli"
# Stage order; a module may import from its own stage and stages before it.
STAGES = ["errors", "npzfile", "registry", "run_schema", "config", "data", "nn", "optim", "train",
          "runs", "gradcheck", "apply", "reports", "resources", "experiment", "tune", "console",
          "cli"]
NUMERICAL_CORE = {"nn", "optim", "train"}
CORE_ALLOWED = {"numpy", "dlcli", "math", "time", "dataclasses", "typing", "collections",
                "types", "__future__"}


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "dlcli" else parts[0]


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        yield name, path


def imports_of(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("name,path", list(modules()), ids=lambda v: str(v))
def test_imports_respect_stage_order(name, path):
    own = stage_of(name)
    if own in ("dlcli", "__main__", "__init__"):
        return
    own_rank = STAGES.index(own) if own in STAGES else None
    assert own_rank is not None, f"{name}: stage {own!r} is not in the stage list"
    for imported in imports_of(path):
        if not imported.startswith("dlcli"):
            if own in NUMERICAL_CORE:
                assert imported.split(".")[0] in CORE_ALLOWED, f"{name} imports {imported}"
            continue
        target = stage_of(imported)
        if target in ("dlcli", "__init__"):
            continue
        assert STAGES.index(target) <= own_rank, f"{name} imports {imported}"
