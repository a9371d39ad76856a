"""Training small runs to apply, shared by the tests of dlcli.apply and its commands."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from dlcli.config import load_config
from dlcli.experiment import run


def train(runs_dir: Path, raw: dict[str, Any]) -> Path:
    """Train ``raw`` (a config as plain data) and return its run directory."""
    result = run(load_config(raw=copy.deepcopy(raw)), runs_dir)
    assert result.status in ("completed", "early_stopped"), result.metrics
    return result.path


def write_csv(path: Path, X: np.ndarray, labels: Any, names: list[str] | None = None,
              target: str = "label", label_first: bool = False) -> Path:
    """A CSV with a header: feature columns ``names`` (default x0, x1, ...) and ``target``."""
    names = names or [f"x{j}" for j in range(X.shape[1])]
    header = [target, *names] if label_first else [*names, target]
    lines = [",".join(header)]
    for row, label in zip(X, labels):
        cells = [repr(float(v)) for v in row]
        lines.append(",".join([str(label), *cells] if label_first else [*cells, str(label)]))
    path.write_text("\n".join(lines) + "\n")
    return path


def blob_data(m: int = 120, n: int = 3, k: int = 3, seed: int = 0) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    """Well separated Gaussian clusters with class numbers 0..k-1, features on raw scales far
    from 0 and 1 (so a forgotten normalisation shows)."""
    rng = np.random.default_rng(seed)
    y = np.arange(m) % k
    centres = rng.normal(0, 4, (k, n))
    X = centres[y] + rng.normal(0, 1, (m, n))
    X = X * np.array([10.0, 0.5, 3.0, 1.0, 2.0][:n]) + np.array([100.0, -5.0, 0.0, 7.0, 1.0][:n])
    return X, y


def csv_config(train_csv: Path, **model: Any) -> dict[str, Any]:
    return {"name": "applied", "seed": 3, "data": {"train": str(train_csv)},
            "model": {"hidden": [8, 4], **model},
            "optimizer": {"name": "adam", "learning_rate": 0.02},
            "training": {"epochs": 30, "batch_size": 32}}
