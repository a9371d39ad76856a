"""dlcli: a command-line experiment runner for the practical side of deep learning."""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_run"]


def __getattr__(name: str) -> Any:
    # ``from dlcli import load_run`` without importing numpy and the network on every start of
    # the command line (which imports this package first).
    if name == "load_run":
        from dlcli.apply import load_run
        return load_run
    raise AttributeError(f"module 'dlcli' has no attribute {name!r}")
