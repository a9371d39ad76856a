"""The benchmark workloads: the same network, data, optimiser and hyperparameters for every system.

Every system gets the arrays made here (float32 features, int64 labels) and, where it lets us set
them, the same initial weights (dlcli's He initialisation from the workload's seed).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEED = 0
LEARNING_RATE = 1e-3
BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8


@dataclass(frozen=True)
class Workload:
    name: str
    hidden: tuple[int, ...]
    batch_size: int
    epochs: int
    data: str           # moons | digits | random
    n_samples: int
    n_features: int
    n_classes: int

    @property
    def sizes(self) -> list[int]:
        """[n_x, n1, ..., n_L]; one output unit for two classes (sigmoid), K above (softmax)."""
        return [self.n_features, *self.hidden, 1 if self.n_classes == 2 else self.n_classes]

    @property
    def output(self) -> str:
        return "sigmoid" if self.n_classes == 2 else "softmax"

    @property
    def parameters(self) -> int:
        s = self.sizes
        return sum((s[i - 1] + 1) * s[i] for i in range(1, len(s)))

    @property
    def samples(self) -> int:
        """Training samples one run processes."""
        return self.n_samples * self.epochs

    def describe(self) -> str:
        return (f"{'-'.join(map(str, self.sizes))} {self.output}, {self.n_samples} {self.data}, "
                f"batch {self.batch_size}, {self.epochs} epochs")


WORKLOADS = {w.name: w for w in [
    Workload("tiny", (5, 2), 64, 2000, "moons", 300, 2, 2),
    Workload("small", (128, 64), 64, 50, "digits", 1797, 64, 10),
    Workload("medium", (256, 128), 128, 2, "random", 60_000, 784, 10),
    Workload("large", (1024, 1024), 512, 1, "random", 60_000, 784, 10),
]}


def _moons(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    try:
        from dlcli.data.synthetic import moons
        return moons(rng, n_samples=n, noise=0.2)
    except ImportError:  # the data package not importable: the same curves in plain numpy
        n_out, n_in = n - n // 2, n // 2
        t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
        X = np.concatenate([np.column_stack([np.cos(t_out), np.sin(t_out)]),
                            np.column_stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)])])
        X += 0.2 * rng.standard_normal(X.shape)
        y = np.repeat([0, 1], [n_out, n_in])
        order = rng.permutation(n)
        return X[order], y[order]


def make_data(w: Workload) -> tuple[np.ndarray, np.ndarray]:
    """(X float32 (m, n_x) C-contiguous, standardised; y int64 (m,)) for a workload."""
    rng = np.random.default_rng(SEED)
    if w.data == "moons":
        X, y = _moons(w.n_samples, rng)
    elif w.data == "digits":
        from dlcli.data.builtin import load_builtin  # the copy dlcli ships, scikit-learn's arrays
        table, _ = load_builtin("digits", {}, rng)
        X, y = table.X, table.labels
    else:  # drawn in float32 and standardised in place: the data costs every system 188 MB
        X = rng.standard_normal((w.n_samples, w.n_features), dtype=np.float32)
        y = rng.integers(0, w.n_classes, w.n_samples)
    X = np.ascontiguousarray(X, dtype=np.float32)
    mean = X.mean(axis=0, dtype=np.float64)
    # The variance a block of rows at a time: X.std would make a float64 copy of X (376 MB on
    # medium and large), which would then be every system's peak memory.
    squares = np.zeros(X.shape[1])
    for start in range(0, X.shape[0], 4096):
        squares += np.square(X[start:start + 4096] - mean).sum(axis=0)
    std = np.sqrt(squares / X.shape[0])
    X -= mean.astype(np.float32)
    X /= np.where(std > 0, std, 1.0).astype(np.float32)
    assert X.shape == (w.n_samples, w.n_features)
    return X, np.asarray(y, dtype=np.int64)


def initial_params(w: Workload) -> dict[str, np.ndarray]:
    """He-initialised W{l} (n[l], n[l-1]) and b{l} (n[l], 1) = 0, float32, from the seed."""
    rng = np.random.default_rng(SEED + 1)
    params = {}
    s = w.sizes
    for i in range(1, len(s)):
        W = rng.standard_normal((s[i], s[i - 1])) * np.sqrt(2.0 / s[i - 1])
        params[f"W{i}"] = W.astype(np.float32)
        params[f"b{i}"] = np.zeros((s[i], 1), np.float32)
    return params
