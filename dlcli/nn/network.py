"""The network (SPEC sections 1-3, 8): forward and backward passes of a fully connected net.

Every parameter lives in one flat vector ``theta`` with each layer's arrays as views into it, and
the gradients likewise in ``grad`` with the same layout, so the optimiser is a handful of
whole-vector operations whatever the depth. ``network.layout`` says where each named array lies;
``network.params["W1"]`` and ``network.grads["W1"]`` are the named views. Without batch norm a
layer's ``W`` and ``b`` share one block ``[W | b]`` of shape (n[l], n[l-1] + 1) and each
activation buffer carries a row of ones underneath, so ``Z = [W | b] [A; 1]`` and
``[dW | db] = dZ [A; 1]^T`` are single matrix products.

Training-step buffers are allocated once per batch size and reused. Shapes follow the course:
``A (n[l], m)``, ``W (n[l], n[l-1])``, ``b (n[l], 1)``.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from dlcli.nn import batchnorm
from dlcli.nn.activations import (ACTIVATIONS, ZERO_ARRAY_MAX, Activation, relu_zeros,
                                  work_arrays)
from dlcli.nn.initializers import init_weights
from dlcli.nn.layout import Layout, check_arrays
from dlcli.nn.losses import OutputLayer
EVAL_CHUNK = 8192           # at most this many examples per inference pass
EVAL_ELEMENTS = 1 << 21     # and about this many entries in the widest layer's buffers


def frobenius_norm(array: np.ndarray) -> float:
    """``||array||_F`` as a Python float, finite whenever every entry is.

    ``numpy.linalg.norm`` sums the squares in the array's dtype, so a float32 gradient whose
    norm passes ~1.8e19 (its squares pass float32's 3.4e38) comes out as inf although every
    entry is finite; float64 does the same past ~1e154. Such an array is divided by its largest
    magnitude first and the norm scaled back in float64 (LAPACK's ``nrm2`` trick), so the
    overflow case gives the true norm while every other case keeps numpy's bits exactly."""
    with np.errstate(over="ignore"):   # the overflow is the case handled below
        value = float(np.linalg.norm(array))
    if math.isinf(value) and np.isfinite(array).all():
        largest = float(np.abs(array).max())
        value = largest * float(np.linalg.norm(np.asarray(array, dtype=np.float64) / largest))
    return value


@dataclass
class Layer:
    """One layer's parameter views (into theta) and gradient views (into grad)."""

    index: int                      # 1..L
    n_in: int
    n_out: int
    activation: Activation | None   # None for the output layer
    keep_prob: float
    batch_norm: bool
    W: np.ndarray
    dW: np.ndarray
    block: np.ndarray | None = None   # [W | b] when there is a bias
    dblock: np.ndarray | None = None
    b: np.ndarray | None = None
    db: np.ndarray | None = None
    gamma: np.ndarray | None = None
    beta: np.ndarray | None = None
    dgamma: np.ndarray | None = None
    dbeta: np.ndarray | None = None
    running_mean: np.ndarray | None = None
    running_var: np.ndarray | None = None


@dataclass(frozen=True)
class EvalRows:
    """A split cut into inference chunks of ``step`` rows, with each chunk's labels in the form
    the output layer's ``evaluate`` takes them. ``X`` (m, n_x) is an array, or a row source
    that reads rows when sliced (a memory-mapped split): chunks are cut as they are evaluated,
    so such a split is never in memory at once."""

    m: int
    X: Any
    step: int
    targets: tuple[np.ndarray, ...]

    @property
    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(rows, labels) of each chunk in turn."""
        for i, targets in enumerate(self.targets):
            yield self.X[i * self.step:(i + 1) * self.step], targets


@dataclass
class _Buffers:
    """Per-batch-size work arrays of one layer."""

    Z: np.ndarray
    A: np.ndarray            # (n + 1, m): activation with a row of ones (hidden layers)
    dA: np.ndarray
    G: np.ndarray | None     # g(Z~) before dropout, when backward needs it
    D: np.ndarray | None     # dropout mask scaled by 1/keep_prob
    Zn: np.ndarray | None    # batch norm's Z_norm
    Zt: np.ndarray | None    # batch norm's output Z~
    stats: dict
    work: SimpleNamespace    # the activation's (hidden layers) or the loss's (output) scratch


class Network:
    """A fully connected network with every technique of the course."""

    def __init__(self, sizes: list[int], activations: list[str], output: OutputLayer,
                 *, dtype: str | np.dtype = "float32", keep_probs: list[float] | None = None,
                 batch_norm: tuple[float, float] | None = None) -> None:
        """``sizes`` = [n_x, n1, ..., n_L]; ``batch_norm`` = (momentum, epsilon) or None."""
        self.sizes = list(sizes)
        self.L = len(sizes) - 1
        self.dtype = np.dtype(dtype)
        self.output = output
        self.bn_momentum, self.bn_epsilon = batch_norm if batch_norm else (0.9, 1e-5)
        self.uses_batch_norm = batch_norm is not None
        keep_probs = list(keep_probs) if keep_probs is not None else [1.0] * (self.L - 1)
        assert len(activations) == len(keep_probs) == self.L - 1

        # Where every array lives in theta: the one place that knows it (dlcli/nn/layout.py).
        self.layout = Layout.for_network(self.sizes, batch_norm=self.uses_batch_norm)
        total = self.layout.size
        self.theta = np.zeros(total, dtype=self.dtype)
        self.grad = np.zeros(total, dtype=self.dtype)
        self.params = self.layout.views(self.theta)   # params["W1"] is a view into theta
        self.grads = self.layout.views(self.grad)     # grads["W1"] one into grad
        # Which entries are weights: what L1/L2 penalise (never b, gamma or beta).
        self.weight_mask = self.layout.weight_mask(self.dtype)
        self.layers: list[Layer] = []
        for index in range(1, self.L + 1):
            n_in, n_out = sizes[index - 1], sizes[index]
            hidden = index < self.L
            act = ACTIVATIONS.get(activations[index - 1]) if hidden else None
            kp = float(keep_probs[index - 1]) if hidden else 1.0
            P, G = self.params, self.grads
            if self.uses_batch_norm and hidden:   # the output layer keeps its b
                layer = Layer(index, n_in, n_out, act, kp, True, W=P[f"W{index}"],
                              dW=G[f"W{index}"], gamma=P[f"gamma{index}"],
                              beta=P[f"beta{index}"], dgamma=G[f"gamma{index}"],
                              dbeta=G[f"beta{index}"],
                              running_mean=np.zeros((n_out, 1), dtype=self.dtype),
                              running_var=np.ones((n_out, 1), dtype=self.dtype))
                layer.gamma.fill(1.0)
            else:
                # [W | b] as one block: the span W and b share, read as rows.
                span = self.layout[f"W{index}"].span
                layer = Layer(index, n_in, n_out, act, kp, False, W=P[f"W{index}"],
                              dW=G[f"W{index}"], block=self.theta[span].reshape(n_out, -1),
                              dblock=self.grad[span].reshape(n_out, -1), b=P[f"b{index}"],
                              db=G[f"b{index}"])
            self.layers.append(layer)
        self._buffers: dict[int, list[_Buffers]] = {}
        self._infer_cache: dict[int, list[SimpleNamespace]] = {}
        self._penalty_tmp = np.empty(total, dtype=self.dtype)

    # ------------------------------------------------------------------ parameters

    def initialize(self, init: str, *, rng: np.random.Generator, init_scale: float = 0.01) -> None:
        """Weights ~ N(0, 1) * scale (SPEC section 4); b = 0, gamma = 1, beta = 0."""
        for layer in self.layers:
            layer.W[...] = init_weights(init, layer.n_out, layer.n_in, rng=rng,
                                        dtype=self.dtype, init_scale=init_scale)
            if layer.b is not None:
                layer.b.fill(0.0)
            if layer.batch_norm:
                layer.gamma.fill(1.0)
                layer.beta.fill(0.0)
                layer.running_mean.fill(0.0)
                layer.running_var.fill(1.0)

    def _arrays(self) -> dict[str, np.ndarray]:
        """Every saved array (parameters and running averages) by name, in file order."""
        arrays: dict[str, np.ndarray] = {}
        for layer in self.layers:
            for entry in self.layout.layer(layer.index):
                arrays[entry.name] = self.params[entry.name]
            if layer.batch_norm:
                arrays[f"running_mean{layer.index}"] = layer.running_mean
                arrays[f"running_var{layer.index}"] = layer.running_var
        return arrays

    def get_params(self) -> dict[str, np.ndarray]:
        """Copies of every array, named and shaped as SPEC section 1 says."""
        return {key: np.ascontiguousarray(value).copy() for key, value in self._arrays().items()}

    def set_params(self, params: dict[str, np.ndarray]) -> None:
        """Load arrays by name; raises ValueError naming a missing, extra or misshapen key."""
        arrays = self._arrays()
        check_arrays(params, {key: target.shape for key, target in arrays.items()})
        for key, target in arrays.items():
            target[...] = params[key]

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as what makes it: the architecture, theta and batch norm's running averages.
        The arrays that are views into theta are made anew on loading (pickled, they would be
        copies, cut off from theta), and the work buffers are not carried."""
        hidden = self.layers[:-1]
        return (_unpickle_network, (
            self.sizes, [layer.activation.name for layer in hidden], self.output,
            self.dtype.str, [layer.keep_prob for layer in hidden],
            (self.bn_momentum, self.bn_epsilon) if self.uses_batch_norm else None,
            self.theta, self.state_arrays()))

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Buffers that are not parameters (batch norm's running averages), for checkpoints."""
        return {k: v for k, v in self._arrays().items() if k.startswith("running_")}

    # ------------------------------------------------------------------ training step

    def with_ones(self, X: np.ndarray) -> np.ndarray:
        """(m, n_x) rows -> (m, n_x + 1) with a column of ones: the layout ``train_step`` takes."""
        out = np.empty((X.shape[0], X.shape[1] + 1), dtype=self.dtype)
        out[:, :-1] = X
        out[:, -1] = 1.0
        return out

    def _buffers_for(self, m: int) -> list[_Buffers]:
        bufs = self._buffers.get(m)
        if bufs is not None:
            return bufs
        bufs = []
        dt = self.dtype
        for layer in self.layers:
            n = layer.n_out
            hidden = layer.activation is not None
            A = np.empty((n + 1, m), dtype=dt)
            A[n] = 1.0
            dropout = hidden and layer.keep_prob < 1.0
            bufs.append(_Buffers(
                Z=np.empty((n, m), dtype=dt), A=A, dA=np.empty((n, m), dtype=dt),
                G=np.empty((n, m), dtype=dt) if dropout else None,
                D=np.empty((n, m), dtype=dt) if dropout else None,
                Zn=np.empty((n, m), dtype=dt) if layer.batch_norm else None,
                Zt=np.empty((n, m), dtype=dt) if layer.batch_norm else None,
                stats={},
                work=work_arrays((n, m), dt) if hidden else self.output.work(m, dt)))
        self._buffers[m] = bufs
        return bufs

    def train_step(self, X1: np.ndarray, targets: np.ndarray, *, l2: float = 0.0,
                   l1: float = 0.0, rng: np.random.Generator | None = None,
                   backward: bool = True, update_running: bool = True) -> float:
        """One forward (training mode) and backward pass on a batch; gradients go to ``grad``.

        ``X1`` is the batch as (m, n_x + 1) rows ending in a column of ones (see ``with_ones``);
        its transpose is A[0] without a copy. ``targets`` come from ``output.targets``. Returns
        the objective J0 + penalties on the batch."""
        m = X1.shape[0]
        bufs = self._buffers_for(m)
        A_prev = X1.T
        for layer, buf in zip(self.layers, bufs):
            if layer.batch_norm:
                np.matmul(layer.W, A_prev[:layer.n_in], out=buf.Z)
                batchnorm.forward_train(buf.Z, layer.gamma, layer.beta, self.bn_epsilon,
                                        buf.Zn, buf.Zt, buf.stats)
                if update_running:
                    batchnorm.update_running(layer.running_mean, layer.running_var, buf.stats,
                                             self.bn_momentum)
                pre = buf.Zt
            else:
                np.matmul(layer.block, A_prev, out=buf.Z)
                pre = buf.Z
            if layer.activation is None:
                break
            out = buf.A[:layer.n_out]
            if buf.D is not None:
                # Inverted dropout: D = (rand < keep_prob) / keep_prob; A = g(Z~) * D.
                layer.activation.forward(pre, buf.G, buf.work)
                rng.random(out=buf.D, dtype=self.dtype)
                np.less(buf.D, layer.keep_prob, out=buf.D)
                np.multiply(buf.D, 1.0 / layer.keep_prob, out=buf.D)
                np.multiply(buf.G, buf.D, out=out)
            else:
                layer.activation.forward(pre, out, buf.work)
            A_prev = buf.A
        loss, dZ = self.output.forward_backward(bufs[-1].Z, targets, bufs[-1].work)
        cost = loss + self._penalty(m, l2, l1, backward=False)
        if not backward:
            return cost

        for pos in range(self.L - 1, -1, -1):
            layer, buf = self.layers[pos], bufs[pos]
            A_prev = bufs[pos - 1].A if pos > 0 else X1.T
            if layer.activation is not None:
                dZ = buf.dA
                if buf.D is not None:
                    np.multiply(dZ, buf.D, out=dZ)
                    activated = buf.G
                else:
                    activated = buf.A[:layer.n_out]
                pre = buf.Zt if layer.batch_norm else buf.Z
                layer.activation.backward(dZ, pre, activated, buf.work)
                if layer.batch_norm:
                    batchnorm.backward(dZ, buf.Zn, layer.gamma, buf.stats, layer.dgamma,
                                       layer.dbeta, buf.Zt)
            if layer.batch_norm:
                np.matmul(dZ, A_prev[:layer.n_in].T, out=layer.dW)
            else:
                np.matmul(dZ, A_prev.T, out=layer.dblock)
            if pos > 0:
                np.matmul(layer.W.T, dZ, out=bufs[pos - 1].dA)
        if l2 or l1:
            self._penalty(m, l2, l1, backward=True)
        return cost

    def _penalty(self, m: int, l2: float, l1: float, *, backward: bool) -> float:
        """L2 (lambda/2m) sum ||W||^2 and L1 (lambda1/2m) sum |W|; weights only, never b,
        gamma or beta. With ``backward`` adds their gradients to ``grad`` instead."""
        if not (l2 or l1):
            return 0.0
        tmp = self._penalty_tmp
        total = 0.0
        if l2:
            np.multiply(self.theta, self.weight_mask, out=tmp)
            if backward:
                tmp *= l2 / m
                self.grad += tmp
            else:
                total += l2 / (2.0 * m) * float(np.dot(tmp, tmp))
        if l1:
            np.sign(self.theta, out=tmp)
            tmp *= self.weight_mask
            if backward:
                tmp *= l1 / (2.0 * m)
                self.grad += tmp
            else:
                total += l1 / (2.0 * m) * float(np.dot(tmp, self.theta))
        return total

    def penalty(self, m: int, l2: float, l1: float) -> float:
        """The regularisation term of the objective for ``m`` examples."""
        return self._penalty(m, l2, l1, backward=False)

    def grad_norms(self) -> dict[str, float]:
        """Frobenius norm of each weight's gradient by array name, ``{"W1": ||dW1||, ...}``
        (exploding / vanishing gradients in numbers), finite whenever the gradient is."""
        return {entry.name: frobenius_norm(self.grads[entry.name])
                for entry in self.layout.entries if entry.weight}

    # ------------------------------------------------------------------ inference

    def _eval_chunk(self, m: int) -> int:
        """Examples per inference pass: the whole split when small, else a chunk whose widest
        layer's buffers stay near EVAL_ELEMENTS (bounds memory on large splits)."""
        return max(1, min(m, EVAL_CHUNK, max(256, EVAL_ELEMENTS // (max(self.sizes[1:]) + 1))))

    def _inference_buffers(self, m: int) -> list[SimpleNamespace]:
        """Per-chunk-size inference arrays, kept between calls: per-epoch evaluation of a split
        of fixed size then allocates nothing (it runs every epoch, so on small data its fixed
        costs are a visible share of a run). The output layer's ``work`` is its loss's."""
        bufs = self._infer_cache.get(m)
        if bufs is None:
            dt = self.dtype
            widest = max(self.sizes[1:])
            # relu's zeros: one array shared by the layers, as long as any layer uses one
            zeros = np.zeros(min(widest * m, ZERO_ARRAY_MAX), dt)
            bufs = []
            for layer in self.layers:
                n = layer.n_out
                A = np.empty((n + 1, m), dtype=dt)
                A[n] = 1.0   # the ones row that the next layer's [W | b] block multiplies
                work = (SimpleNamespace(zeros=relu_zeros((n, m), dt, zeros))
                        if layer.activation else self.output.eval_work(m, dt))
                bufs.append(SimpleNamespace(Z=np.empty((n, m), dt), A=A, work=work))
            self._infer_cache[m] = bufs
        return bufs

    def _infer(self, X: np.ndarray, bufs: list[SimpleNamespace]) -> np.ndarray:
        """Z[L] (units, m) of rows ``X`` (m, n_x), in inference mode (no dropout, batch norm's
        running statistics), computed in ``bufs``. The first layer adds its b on its own, so
        a split is evaluated where it lies, without a copy that carries a column of ones."""
        A_prev = X.T
        for layer, buf in zip(self.layers, bufs):
            if layer.batch_norm:
                np.matmul(layer.W, A_prev[:layer.n_in], out=buf.Z)
                batchnorm.forward_infer(buf.Z, layer.gamma, layer.beta, layer.running_mean,
                                        layer.running_var, self.bn_epsilon, out=buf.Z)
            elif layer.index == 1:   # the input rows: no ones row under them
                np.matmul(layer.W, A_prev, out=buf.Z)
                np.add(buf.Z, layer.b, out=buf.Z)
            else:
                np.matmul(layer.block, A_prev, out=buf.Z)
            if layer.activation is None:
                return buf.Z
            layer.activation.forward(buf.Z, buf.A[:layer.n_out], buf.work)
            A_prev = buf.A
        raise AssertionError("the last layer is the output layer")

    def logits(self, X: np.ndarray) -> np.ndarray:
        """Z[L] (units, m) in inference mode: no dropout, batch norm's running statistics."""
        X = self._rows(X)
        step = self._eval_chunk(X.shape[0])
        parts = []
        for start in range(0, max(X.shape[0], 1), step):
            chunk = X[start:start + step]
            parts.append(self._infer(chunk, self._inference_buffers(chunk.shape[0])).copy())
        return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]

    def _rows(self, X: Any) -> Any:
        """``X`` as (m, n_x) rows of the network's dtype; a copy only when it must be. A row
        source that is not an array (it reads and normalises rows when sliced) is kept as it
        is, so that a split larger than memory is read a chunk at a time."""
        if not isinstance(X, np.ndarray) and hasattr(X, "take"):
            return X
        return np.asarray(X, dtype=self.dtype)

    def eval_rows(self, X: np.ndarray, y: np.ndarray) -> EvalRows:
        """A split (m, n_x) made ready for ``evaluate_rows``: cut into inference chunks, with
        the labels in the form the output layer's ``evaluate`` takes. The training loop
        evaluates its splits every epoch, so it prepares them once."""
        X = self._rows(X)
        m = X.shape[0]
        step = self._eval_chunk(m)
        targets = self.output.eval_targets(y, self.dtype)
        return EvalRows(m, X, step, tuple(targets[start:start + step]
                                          for start in range(0, m, step)))

    def evaluate_rows(self, rows: EvalRows) -> tuple[float, float]:
        """(J0, accuracy) on a split prepared by ``eval_rows``, in inference mode."""
        loss_sum, correct = 0.0, 0
        for X, targets in rows.chunks:
            bufs = self._inference_buffers(X.shape[0])
            loss, right = self.output.evaluate(self._infer(X, bufs), targets, bufs[-1].work)
            loss_sum += loss
            correct += right
        return loss_sum / rows.m, correct / rows.m

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """(J0, accuracy) on a whole split in inference mode."""
        return self.evaluate_rows(self.eval_rows(X, y))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(m, K) class probabilities."""
        return self.output.probabilities(self.logits(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(m,) predicted class labels."""
        return self.predict_proba(X).argmax(axis=1)


def _unpickle_network(sizes: list[int], activations: list[str], output: OutputLayer, dtype: str,
                      keep_probs: list[float], batch_norm: tuple[float, float] | None,
                      theta: np.ndarray, state: dict[str, np.ndarray]) -> Network:
    """``Network.__reduce__``'s other half."""
    network = Network(sizes, activations, output, dtype=dtype, keep_probs=keep_probs,
                      batch_norm=batch_norm)
    network.theta[...] = theta
    arrays = network.state_arrays()
    for key, value in state.items():
        arrays[key][...] = value
    return network
