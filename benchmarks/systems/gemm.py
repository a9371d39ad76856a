"""The machine's practical limit: numpy float32 matrix-multiply GFLOP/s on the shapes of one
training step (forward Z = [W|b][A;1], backward [dW|db] = dZ [A;1]^T and dA = W^T dZ for every
layer but the first), contiguous operands, ``out=`` given, best of 15 short timings per shape.

The GEMM-bound rate of a workload is this rate / (6 x parameters) samples per second.
"""
from __future__ import annotations

import time

import numpy as np

from benchmarks.workloads import Workload


def step_shapes(w: Workload, m: int | None = None) -> list[tuple[int, int, int]]:
    """(rows, inner, cols) of every matrix product in one step on a batch of ``m``."""
    m = m or w.batch_size
    s = w.sizes
    shapes = []
    for i in range(1, len(s)):
        shapes.append((s[i], s[i - 1] + 1, m))          # forward
        shapes.append((s[i], m, s[i - 1] + 1))          # [dW | db]
        if i > 1:
            shapes.append((s[i - 1], s[i], m))          # dA[l-1]
    return shapes


def time_matmul(rows: int, inner: int, cols: int, *, repeat: int = 15,
                min_seconds: float = 0.02) -> float:
    """Best seconds per product over ``repeat`` short timings: on a shared machine many short
    timings find the quiet moments that a few long ones miss."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((rows, inner), dtype=np.float32)
    b = rng.standard_normal((inner, cols), dtype=np.float32)
    c = np.empty((rows, cols), np.float32)
    np.matmul(a, b, out=c)
    n = 1
    while True:  # calibrate: enough calls for min_seconds
        started = time.perf_counter()
        for _ in range(n):
            np.matmul(a, b, out=c)
        if time.perf_counter() - started >= min_seconds:
            break
        n *= 2
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(n):
            np.matmul(a, b, out=c)
        best = min(best, (time.perf_counter() - started) / n)
    return best


def train(w: Workload) -> dict:
    """Not a training run: the GEMM rate on the workload's shapes and the samples/s it bounds."""
    flops = seconds = 0.0
    per_shape = []
    for shape in step_shapes(w):
        t = time_matmul(*shape)
        f = 2.0 * shape[0] * shape[1] * shape[2]
        flops += f
        seconds += t
        per_shape.append({"shape": list(shape), "gflops": f / t / 1e9})
    rate = flops / seconds
    return {"gflops": rate / 1e9, "seconds": seconds, "samples": w.batch_size,
            "bound_samples_per_second": rate / (6.0 * w.parameters), "shapes": per_shape}
