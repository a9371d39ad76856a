"""Optimisers (SPEC section 6) on the flat parameter vector.

State vectors are allocated up front with the parameters' dtype and shape (the same layout as
``theta`` and ``grad``; given the network's ``Layout`` they are read and saved by array name,
the same keys as ``params`` and ``grads``), and the learning rate is passed in at every step, so
a schedule is a pure function of the epoch. Long vectors are updated in cache-sized chunks: the
temporaries of one chunk stay in cache instead of streaming the whole vector through memory a
dozen times.

A vector of ``PARALLEL_MIN`` elements or more is updated by two threads, each taking half of the
chunks with its own temporaries (NumPy's ufuncs release the GIL). Every element goes through the
same arithmetic whichever thread updates it, so the result is bit-for-bit the single-threaded one.
It pays only when the BLAS library's idle workers sleep between matrix products instead of
spinning on the other core: ``dlcli`` sets ``OPENBLAS_THREAD_TIMEOUT`` for that before numpy
loads (``dlcli.cli.app``).
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from dlcli.nn.layout import Layout
from dlcli.registry import Registry

CHUNK = 1 << 15  # elements per pass; 128 KiB of float32, so a chunk's arrays fit in L2
# From this many parameters on, the update is split over two threads. Handing a half over costs
# ~30-60 us; a 784-256-128-10 network's Adam (235k parameters) takes ~0.4 ms on one core.
PARALLEL_MIN = 1 << 17


def update_threads(size: int) -> int:
    """Threads for updating ``size`` parameters: 2 for long vectors on a machine with two or more
    cores, 1 when the process was asked for single-threaded numerics (``OPENBLAS_NUM_THREADS=1``
    or ``OMP_NUM_THREADS=1``, as ``dlcli tune``'s worker processes are)."""
    if size < PARALLEL_MIN:
        return 1
    if "1" in (os.environ.get("OPENBLAS_NUM_THREADS"), os.environ.get("OMP_NUM_THREADS")):
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return min(2, cores)


class Optimizer:
    """Base class: ``step(theta, grad, lr)`` updates ``theta`` in place.

    Each subclass names its state vectors (``slots``) and the scalars of its step
    (``coefficients``, computed by ``_coefficients`` from the learning rate and ``t``)."""

    name = "base"
    slots: tuple[str, ...] = ()
    coefficients: tuple[str, ...] = ("lr",)

    def __init__(self, layout: Layout | int, dtype: np.dtype | str, *, threads: int | None = None,
                 **hyper: float) -> None:
        """``layout``: the parameters' ``Layout`` (state then reads and saves by array name,
        ``state_views["v"]["W1"]``), or just the length of a plain vector. ``threads``: how
        many threads share the update (default ``update_threads(size)``)."""
        self.layout = layout if isinstance(layout, Layout) else None
        size = layout.size if isinstance(layout, Layout) else int(layout)
        self.size = size
        self.dtype = np.dtype(dtype)
        self.hyper = {k: float(v) for k, v in hyper.items()}
        self.t = 0  # number of updates so far
        # One flat vector per slot, in theta's layout; named views of them when there are names.
        self.state = {slot: np.zeros(size, dtype=self.dtype) for slot in self.slots}
        self._requested_threads = threads
        self._build()

    def _build(self) -> None:
        """Everything derived from the state and the sizes: named views of the state, the
        temporaries, the thread split and the step's scalars. Rebuilt after a copy or unpickling
        (``__setstate__``): a view copied on its own would no longer alias what it views."""
        size, threads = self.size, self._requested_threads
        self.state_views = ({slot: self.layout.views(vector) for slot, vector in self.state.items()}
                            if self.layout is not None else {})
        self._tmp = np.empty(min(size, CHUNK), dtype=self.dtype)
        self._tmp2 = np.empty(min(size, CHUNK), dtype=self.dtype)
        self._chunks = [slice(i, min(i + CHUNK, size)) for i in range(0, size, CHUNK)]
        # Several threads: contiguous runs of chunks, one per thread, each with its temporaries.
        self.threads = max(1, min(update_threads(size) if threads is None else int(threads),
                                  len(self._chunks)))
        per = -(-len(self._chunks) // self.threads)
        self._groups = [self._chunks[i:i + per] for i in range(0, len(self._chunks), per)]
        self._temporaries = [(self._tmp, self._tmp2)] + [
            (np.empty(CHUNK, dtype=self.dtype), np.empty(CHUNK, dtype=self.dtype))
            for _ in self._groups[1:]]
        self._pool: ThreadPoolExecutor | None = None
        self._views: tuple[np.ndarray, np.ndarray, list[list[tuple[np.ndarray, ...]]]] | None = None
        # The step's scalars as 0-d arrays of the parameters' dtype, refilled each step: a ufunc
        # converts a Python float operand on every call, which costs as much as the arithmetic
        # on a small network. The values are the Python floats cast to the dtype, exactly what
        # the ufunc would have used (NEP 50), so the results are bit-for-bit the same.
        n_coef = len(self.coefficients)
        self._coef = np.zeros(n_coef, dtype=self.dtype)
        self._coef_views = tuple(self._coef[i:i + 1].reshape(()) for i in range(n_coef))

    # Copies and pickles (copy.deepcopy, multiprocessing) carry the hyperparameters, ``t`` and
    # the state vectors; views, temporaries and the thread pool are rebuilt for the copy, so it
    # continues exactly as the original would and shares no memory with it.
    _DERIVED = ("state_views", "_tmp", "_tmp2", "_chunks", "threads", "_groups",
                "_temporaries", "_pool", "_views", "_coef", "_coef_views")

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key not in self._DERIVED}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._build()

    def step(self, theta: np.ndarray, grad: np.ndarray, lr: float) -> None:
        self.t += 1
        self._coef[:] = self._coefficients(float(lr))   # as many as ``coefficients`` names
        coef = self._coef_views
        tmp, tmp2 = self._tmp, self._tmp2
        state = [self.state[slot] for slot in self.slots]
        if len(self._chunks) == 1:
            self._update(theta, grad, *state, tmp, tmp2, coef)
            return
        first, *others = self._chunk_views(theta, grad, state)
        if not others:
            self._update_chunks(first, coef)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(len(others), thread_name_prefix="dlcli-optimizer")
        futures = [self._pool.submit(self._update_chunks, group, coef) for group in others]
        self._update_chunks(first, coef)
        for future in futures:
            future.result()

    def _chunk_views(self, theta: np.ndarray, grad: np.ndarray, state: list[np.ndarray]
                     ) -> list[list[tuple[np.ndarray, ...]]]:
        """Per thread, the arrays ``_update`` takes for each of its chunks: views of theta, grad
        and the state, and the thread's temporaries cut to the chunk's length. Made once for the
        vectors it is given (a training loop passes the same theta and grad at every step), so
        a step does not slice every vector anew for every chunk."""
        views = self._views
        if views is None or views[0] is not theta or views[1] is not grad:
            groups = [[(theta[part], grad[part], *(s[part] for s in state),
                        tmp[:part.stop - part.start], tmp2[:part.stop - part.start])
                       for part in group]
                      for group, (tmp, tmp2) in zip(self._groups, self._temporaries)]
            views = self._views = (theta, grad, groups)
        return views[2]

    def _update_chunks(self, chunks: Sequence[tuple[np.ndarray, ...]],
                       coef: tuple[np.ndarray, ...]) -> None:
        for arrays in chunks:
            self._update(*arrays, coef)

    def _coefficients(self, lr: float) -> tuple[float, ...]:
        """The scalars named by ``coefficients`` for update number ``self.t`` (from 1)."""
        return (lr,)

    def _update(self, *arrays: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """``t`` and copies of the state; each slot by array name when there is a layout."""
        if self.layout is None:
            return {"t": self.t, **{slot: arr.copy() for slot, arr in self.state.items()}}
        return {"t": self.t, **{slot: self.layout.copies(arr) for slot, arr in self.state.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Undo ``state_dict``. A slot may also be one flat vector in theta's layout (how
        checkpoints of format 1 stored it). A ValueError names an array that does not fit."""
        for slot, arr in self.state.items():
            value = state[slot]
            if isinstance(value, Mapping):
                if self.layout is None:
                    raise ValueError(f"optimizer state {slot} is stored by name, but this "
                                     "optimizer has no layout")
                self.layout.check(value)
            elif np.shape(value) != arr.shape:
                raise ValueError(f"optimizer state {slot} has shape {np.shape(value)}, the "
                                 f"parameters need {arr.shape}")
        for slot, arr in self.state.items():
            value = state[slot]
            if isinstance(value, Mapping):
                self.layout.assign(arr, value)
            else:
                arr[...] = value
        self.t = int(state["t"])


class GradientDescent(Optimizer):
    """W -= lr * dW"""

    name = "gd"

    def _update(self, theta, grad, tmp, tmp2, coef):  # type: ignore[override]
        np.multiply(grad, coef[0], out=tmp)
        np.subtract(theta, tmp, out=theta)


class Momentum(Optimizer):
    """v = beta v + (1 - beta) dW;  W -= lr v"""

    name = "momentum"
    slots = ("v",)
    coefficients = ("lr", "beta", "1 - beta")

    def _coefficients(self, lr):  # type: ignore[override]
        beta = self.hyper["beta"]
        return lr, beta, 1.0 - beta

    def _update(self, theta, grad, v, tmp, tmp2, coef):  # type: ignore[override]
        lr, beta, one_minus = coef
        np.multiply(v, beta, out=v)
        np.multiply(grad, one_minus, out=tmp)
        np.add(v, tmp, out=v)
        np.multiply(v, lr, out=tmp)
        np.subtract(theta, tmp, out=theta)


class RMSprop(Optimizer):
    """s = beta2 s + (1 - beta2) dW^2;  W -= lr dW / (sqrt(s) + eps)"""

    name = "rmsprop"
    slots = ("s",)
    coefficients = ("lr", "beta2", "1 - beta2", "epsilon")

    def _coefficients(self, lr):  # type: ignore[override]
        beta2 = self.hyper["beta2"]
        return lr, beta2, 1.0 - beta2, self.hyper["epsilon"]

    def _update(self, theta, grad, s, tmp, tmp2, coef):  # type: ignore[override]
        lr, beta2, one_minus, eps = coef
        np.multiply(s, beta2, out=s)
        np.square(grad, out=tmp)
        np.multiply(tmp, one_minus, out=tmp)
        np.add(s, tmp, out=s)
        np.sqrt(s, out=tmp)
        np.add(tmp, eps, out=tmp)
        np.divide(grad, tmp, out=tmp)
        np.multiply(tmp, lr, out=tmp)
        np.subtract(theta, tmp, out=theta)


class Adam(Optimizer):
    """v = b1 v + (1-b1) dW;  s = b2 s + (1-b2) dW^2;
    W -= lr (v / (1-b1^t)) / (sqrt(s / (1-b2^t)) + eps).

    The stored v and s stay uncorrected. The step is computed as
    ``lr sqrt(1-b2^t)/(1-b1^t) * v / (sqrt(s) + eps sqrt(1-b2^t))``, which is the same expression
    with the corrections moved onto scalars (two passes fewer over the vector)."""

    name = "adam"
    slots = ("v", "s")
    coefficients = ("beta1", "1 - beta1", "beta2", "1 - beta2", "step", "epsilon_hat")

    def _coefficients(self, lr):  # type: ignore[override]
        b1, b2, eps = self.hyper["beta1"], self.hyper["beta2"], self.hyper["epsilon"]
        t = self.t
        c1 = 1.0 - b1 ** t
        c2 = math.sqrt(1.0 - b2 ** t)
        return b1, 1.0 - b1, b2, 1.0 - b2, lr * c2 / c1, eps * c2

    def _update(self, theta, grad, v, s, tmp, tmp2, coef):  # type: ignore[override]
        b1, one_minus_b1, b2, one_minus_b2, step, eps_hat = coef
        np.multiply(v, b1, out=v)
        np.multiply(grad, one_minus_b1, out=tmp)
        np.add(v, tmp, out=v)
        np.multiply(s, b2, out=s)
        np.square(grad, out=tmp)
        np.multiply(tmp, one_minus_b2, out=tmp)
        np.add(s, tmp, out=s)
        np.sqrt(s, out=tmp)
        np.add(tmp, eps_hat, out=tmp)
        np.divide(v, tmp, out=tmp)
        np.multiply(tmp, step, out=tmp)
        np.subtract(theta, tmp, out=theta)


OPTIMIZERS: Registry[type[Optimizer]] = Registry("optimizer.name", {
    "gd": GradientDescent, "momentum": Momentum, "rmsprop": RMSprop, "adam": Adam,
})


def make_optimizer(name: str, layout: Layout | int, dtype: np.dtype | str, *, beta: float = 0.9,
                   beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8) -> Optimizer:
    """An optimiser by name, with its state built up front for the parameters of ``layout``
    (a network's ``Layout``, or the length of a plain vector)."""
    cls = OPTIMIZERS.get(name)
    return cls(layout, dtype, beta=beta, beta1=beta1, beta2=beta2, epsilon=epsilon)
