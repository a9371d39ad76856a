"""Module borders: each stage imports only from stages to its left (STYLE.md), and the numerical
core (nn, optim, train) runs on numpy and the standard library alone."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dlcli"
# Stage order; a module may import from its own stage and stages before it.
STAGES = ["errors", "npzfile", "blas", "registry", "run_schema", "numbers", "config", "data", "nn", "optim",
          "train", "build", "runs", "gradcheck", "apply", "reports", "resources", "experiment",
          "study", "console", "cli"]
NUMERICAL_CORE = {"nn", "optim", "train"}
# What the core may import besides the standard library: numpy, itself, and the dlcli modules
# that are standard library only themselves (checked below, like the core).
PURE = {"errors", "registry", "run_schema", "numbers"}
CORE_ALLOWED_DLCLI = NUMERICAL_CORE | PURE
CORE_ALLOWED_PACKAGES = {"numpy"}


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "dlcli" else parts[0]


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        yield name, path


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` blocks (never run)."""
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return hidden


def imports_of(path: Path, *, runtime_only: bool = False):
    tree = ast.parse(path.read_text())
    hidden = _type_checking_only(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
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
            continue
        target = stage_of(imported)
        if target in ("dlcli", "__init__"):
            continue
        assert STAGES.index(target) <= own_rank, f"{name} imports {imported}"


CORE_MODULES = [(n, p) for n, p in modules() if stage_of(n) in NUMERICAL_CORE | PURE]


@pytest.mark.parametrize("name,path", CORE_MODULES, ids=lambda v: str(v))
def test_the_core_imports_only_numpy_and_the_standard_library(name, path):
    own = stage_of(name)
    for imported in imports_of(path, runtime_only=True):
        top = imported.split(".")[0]
        if top == "dlcli":
            assert imported != "dlcli", f"{name} imports the dlcli package"
            target = stage_of(imported)
            allowed = CORE_ALLOWED_DLCLI if own in NUMERICAL_CORE else PURE
            assert target in allowed, f"{name} imports {imported}, outside the core"
        elif own in PURE:
            assert top in sys.stdlib_module_names, f"{name} imports {imported}"
        else:
            assert top in sys.stdlib_module_names or top in CORE_ALLOWED_PACKAGES, \
                f"{name} imports {imported}"


def test_importing_the_core_loads_no_other_package():
    """What the interpreter really loads for ``import dlcli.train.loop`` (and nn, optim):
    numpy and the standard library, no pydantic, yaml, rich, typer or matplotlib."""
    code = ("import sys, json; before = set(sys.modules); "
            "import dlcli.train.loop, dlcli.train, dlcli.nn, dlcli.optim; "
            "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                          timeout=60, check=True)
    loaded = set(json.loads(done.stdout))
    # numpy's compiled parts register cython_runtime; names starting with _ are C helpers
    foreign = {m for m in loaded - set(sys.stdlib_module_names) - {"numpy", "dlcli"}
               if not m.startswith("_") and m != "cython_runtime"}
    assert not foreign, f"importing the core loaded {sorted(foreign)}"
    assert not {"pydantic", "yaml", "rich", "typer", "matplotlib"} & loaded
