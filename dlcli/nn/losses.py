"""Output layers with their cross-entropy costs (SPEC sections 2 and 3).

Both are computed from the logits Z[L], never from log(A): no log(0), no overflow. Backward of
either is ``dZ[L] = (A[L] - Y) / m``, written into a reused buffer.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from dlcli.registry import Registry


class SigmoidCrossEntropy:
    """One sigmoid unit for binary labels 0/1."""

    name = "sigmoid"

    @staticmethod
    def units(n_classes: int) -> int:
        return 1

    @staticmethod
    def targets(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """The per-example target the step gathers: the label as a float."""
        return y.astype(dtype)

    @staticmethod
    def work(m: int, dtype: np.dtype) -> SimpleNamespace:
        """Reusable arrays for a batch of ``m``, and the step's constants as 0-d arrays of the
        dtype (a ufunc converts a Python float operand on every call: slow on small batches)."""
        return SimpleNamespace(dZ=np.empty((1, m), dtype), softplus=np.empty(m, dtype),
                               zero=np.zeros((), dtype), half=np.full((), 0.5, dtype),
                               inv_m=np.full((), 1.0 / m, dtype))

    @staticmethod
    def forward_backward(Z: np.ndarray, t: np.ndarray, work: SimpleNamespace
                         ) -> tuple[float, np.ndarray]:
        """(J0, dZ) for logits Z (1, m) and float labels t (m,)."""
        m = Z.shape[1]
        z = Z[0]
        # J0 = mean(softplus(z) - y z), with softplus(z) = logaddexp(0, z) (stable form).
        sp, half = work.softplus, work.half
        np.logaddexp(work.zero, z, out=sp)
        loss = (float(np.add.reduce(sp)) - float(np.dot(z, t))) / m
        dZ = work.dZ
        d = dZ[0]
        # A = (1 + tanh(z/2)) / 2, the stable sigmoid; dZ = (A - y) / m = tanh(z/2)/2m + (1/2 - y)/m
        np.multiply(z, half, out=d)
        np.tanh(d, out=d)
        np.multiply(d, half, out=d)
        np.subtract(d, t, out=d)
        np.add(d, half, out=d)
        np.multiply(d, work.inv_m, out=d)
        return loss, dZ

    @staticmethod
    def eval_targets(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """The labels as ``evaluate`` takes them: the sign 1 - 2y."""
        return (1 - 2 * np.asarray(y)).astype(dtype)

    @staticmethod
    def eval_work(m: int, dtype: np.dtype) -> SimpleNamespace:
        return SimpleNamespace(w=np.empty(m, dtype), flag=np.empty(m, np.bool_),
                               zero=np.zeros((), dtype))

    @staticmethod
    def evaluate(Z: np.ndarray, sign: np.ndarray, work: SimpleNamespace) -> tuple[float, int]:
        """(sum of per-example losses, number correct) for logits Z (1, m) and ``eval_targets``.

        Each example's loss softplus(z) - y z is softplus(w) with w = (1 - 2y) z, so the sum
        adds positive terms (no cancellation); numpy adds a contiguous vector pairwise, so its
        relative error stays near the dtype's epsilon times log2(m). The prediction is 1 where
        z > 0: it is wrong where w > 0, and where z = 0 for an example of class 1."""
        m = Z.shape[1]
        w, flag, zero = work.w, work.flag, work.zero
        np.multiply(Z[0], sign, out=w)
        wrong = np.count_nonzero(np.greater(w, zero, out=flag))
        if np.count_nonzero(np.equal(w, zero, out=flag)):
            wrong += np.count_nonzero(sign[flag] < 0)
        np.logaddexp(zero, w, out=w)
        return float(np.add.reduce(w)), m - int(wrong)

    @staticmethod
    def probabilities(Z: np.ndarray) -> np.ndarray:
        """(m, 2) class probabilities."""
        p = 0.5 * (1.0 + np.tanh(0.5 * Z[0].astype(np.float64)))
        return np.stack([1.0 - p, p], axis=1)


class SoftmaxCrossEntropy:
    """K softmax units for integer labels 0..K-1 (one-hot internally)."""

    name = "softmax"

    @staticmethod
    def units(n_classes: int) -> int:
        return n_classes

    @staticmethod
    def targets(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return y.astype(np.intp)

    @staticmethod
    def work(m: int, dtype: np.dtype) -> SimpleNamespace:
        return SimpleNamespace(max=np.empty(m, dtype), total=np.empty(m, dtype),
                               at=np.empty(m, np.intp), arange=np.arange(m, dtype=np.intp),
                               m=np.full((), m, np.intp), inv_m=np.full((), 1.0 / m, dtype))

    @staticmethod
    def forward_backward(Z: np.ndarray, t: np.ndarray, work: SimpleNamespace
                         ) -> tuple[float, np.ndarray]:
        """(J0, dZ) for logits Z (K, m) and integer labels t (m,). dZ overwrites Z, which the
        backward pass no longer needs."""
        K, m = Z.shape
        mx, total, at = work.max, work.total, work.at
        # Flat positions of each example's true class in the (K, m) arrays.
        np.multiply(t, work.m, out=at)
        np.add(at, work.arange, out=at)
        picked = Z.ravel().take(at)
        # log-sum-exp: subtract the column max before exp so nothing overflows.
        np.maximum.reduce(Z, axis=0, out=mx)
        np.subtract(Z, mx, out=Z)
        np.exp(Z, out=Z)
        np.add.reduce(Z, axis=0, out=total)
        np.divide(Z, total, out=Z)                 # Z now holds A = softmax
        # -log softmax(z)_y = log(sum exp(z - max)) + max - z_y
        np.log(total, out=total)
        np.add(total, mx, out=total)
        np.subtract(total, picked, out=total)
        loss = float(np.add.reduce(total)) / m
        flat = Z.ravel()
        flat[at] = flat.take(at) - 1.0            # A - Y without building the one-hot Y
        np.multiply(Z, work.inv_m, out=Z)
        return loss, Z

    @staticmethod
    def eval_targets(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return np.asarray(y).astype(np.intp)

    @staticmethod
    def eval_work(m: int, dtype: np.dtype) -> SimpleNamespace:
        return SimpleNamespace(max=np.empty(m, dtype), total=np.empty(m, dtype),
                               picked=np.empty(m, dtype), predicted=np.empty(m, np.intp),
                               at=np.empty(m, np.intp), arange=np.arange(m, dtype=np.intp),
                               m=np.full((), m, np.intp), right=np.empty(m, np.bool_))

    @staticmethod
    def evaluate(Z: np.ndarray, y: np.ndarray, work: SimpleNamespace) -> tuple[float, int]:
        """(sum of per-example losses, number correct) for logits Z (K, m), which it
        overwrites, and integer labels y.

        Each loss is log(sum exp(z - max)) + (max - z_y): two sums of non-negative terms (each
        added pairwise), so nothing cancels."""
        mx, total, picked, at = work.max, work.total, work.picked, work.at
        np.argmax(Z, axis=0, out=work.predicted)
        right = np.count_nonzero(np.equal(work.predicted, y, out=work.right))
        np.multiply(y, work.m, out=at)
        np.add(at, work.arange, out=at)
        np.maximum.reduce(Z, axis=0, out=mx)
        np.subtract(Z, mx, out=Z)
        Z.ravel().take(at, out=picked)               # z_y - max <= 0
        np.exp(Z, out=Z)
        np.add.reduce(Z, axis=0, out=total)
        np.log(total, out=total)
        loss = float(np.add.reduce(total)) - float(np.add.reduce(picked))
        return loss, int(right)

    @staticmethod
    def probabilities(Z: np.ndarray) -> np.ndarray:
        Z = Z.astype(np.float64)
        E = np.exp(Z - Z.max(axis=0))
        return (E / E.sum(axis=0)).T


OutputLayer = type[SigmoidCrossEntropy] | type[SoftmaxCrossEntropy]

# ``model.output`` may also say ``auto``, which is not a layer but a choice by class count.
OUTPUTS: Registry[OutputLayer] = Registry("model.output", {
    "sigmoid": SigmoidCrossEntropy, "softmax": SoftmaxCrossEntropy,
})


def output_for(name: str, n_classes: int) -> OutputLayer:
    """The output layer for ``model.output`` (``auto``: sigmoid for 2 classes, softmax above)."""
    if name == "auto":
        name = "sigmoid" if n_classes == 2 else "softmax"
    return OUTPUTS.get(name)
