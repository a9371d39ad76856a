"""The update of a long parameter vector split over threads: bit-for-bit the single-threaded one."""
from __future__ import annotations

import numpy as np
import pytest

from dlcli.optim.optimizers import CHUNK, OPTIMIZERS, PARALLEL_MIN, update_threads

HYPER = {"gd": {}, "momentum": {"beta": 0.9}, "rmsprop": {"beta2": 0.999, "epsilon": 1e-8},
         "adam": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(HYPER))
@pytest.mark.parametrize("threads", [2, 3])
def test_threads_give_the_same_bits(name, dtype, threads):
    size = 5 * CHUNK + 123   # a short last chunk, and groups of unequal length
    rng = np.random.default_rng(0)
    cls = OPTIMIZERS.get(name)
    one = cls(size, dtype, threads=1, **HYPER[name])
    many = cls(size, dtype, threads=threads, **HYPER[name])
    assert (one.threads, many.threads) == (1, threads)
    theta_one = rng.standard_normal(size).astype(dtype)
    theta_many = theta_one.copy()
    for step in range(4):
        grad = (rng.standard_normal(size) * 10.0 ** rng.integers(-6, 2, size)).astype(dtype)
        one.step(theta_one, grad, 0.01 / (step + 1))
        many.step(theta_many, grad, 0.01 / (step + 1))
    assert theta_one.tobytes() == theta_many.tobytes()
    for slot in one.slots:
        assert one.state[slot].tobytes() == many.state[slot].tobytes()


def test_thread_count(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert update_threads(PARALLEL_MIN - 1) == 1      # small networks: one thread
    assert update_threads(PARALLEL_MIN) == 2
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0})
    assert update_threads(PARALLEL_MIN) == 1          # one core
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")   # as in dlcli tune's worker processes
    assert update_threads(PARALLEL_MIN) == 1


def adam_by_hand(theta, grad, v, s, t, lr, b1=0.9, b2=0.999, eps=1e-8):
    """SPEC's Adam on whole vectors, one NumPy operation at a time in the optimiser's order
    (the corrections on scalars), each scalar cast to the vectors' dtype."""
    f = theta.dtype.type
    c1, c2 = 1.0 - b1 ** t, (1.0 - b2 ** t) ** 0.5
    v *= f(b1)
    v += grad * f(1.0 - b1)
    s *= f(b2)
    s += np.square(grad) * f(1.0 - b2)
    theta -= v / (np.sqrt(s) + f(eps * c2)) * f(lr * c2 / c1)


@pytest.mark.parametrize("threads", [1, 2])
def test_adam_on_the_same_vectors_every_step_matches_the_formula_bit_for_bit(threads):
    # As in training: the network's theta and grad are the same arrays at every step, their
    # contents change in place (the optimiser keeps its chunk views of them between steps).
    size = PARALLEL_MIN + 3 * CHUNK + 77
    rng = np.random.default_rng(1)
    adam = OPTIMIZERS.get("adam")(size, "float32", threads=threads, **HYPER["adam"])
    theta = rng.standard_normal(size).astype(np.float32)
    grad = np.empty(size, np.float32)
    expected, v, s = theta.copy(), np.zeros(size, np.float32), np.zeros(size, np.float32)
    for t in range(1, 6):
        grad[...] = rng.standard_normal(size) * 10.0 ** rng.integers(-6, 2, size)
        adam.step(theta, grad, 1e-3)
        adam_by_hand(expected, grad, v, s, t, 1e-3)
    assert theta.tobytes() == expected.tobytes()
    assert adam.state["v"].tobytes() == v.tobytes() and adam.state["s"].tobytes() == s.tobytes()
    other = theta.copy()   # another vector: views of it, not of the first
    adam.step(other, grad, 1e-3)
    adam_by_hand(expected, grad, v, s, 6, 1e-3)
    assert other.tobytes() == expected.tobytes()
