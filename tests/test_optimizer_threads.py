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
