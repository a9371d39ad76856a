"""Two of the large step's parts, old way against new way, in one process, taking turns.

    OPENBLAS_THREAD_TIMEOUT=4 python benchmarks/hot_parts.py [--out FILE.json]

- relu on a 1024 x 512 float32 layer right after the matrix product that wrote it (as in the
  step): forward ``maximum`` and backward ``greater`` + ``multiply`` against a zeros array (before)
  and against a 0-d zero (now);
- Adam over the large network's 1,863,690 float32 parameters on its two threads: slicing every
  chunk's views at every step (before) and keeping them between steps (now); the two must end with
  the same bits.

Reported: the median over repeats of the training thread's CPU time (and the process's, for
Adam), which a shared machine disturbs less than wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dlcli.optim.optimizers import Adam  # noqa: E402


def relu(repeat: int) -> dict:
    rng = np.random.default_rng(0)
    W = rng.standard_normal((1024, 1025), dtype=np.float32)
    A = rng.standard_normal((1025, 512), dtype=np.float32)
    Z, out, dA = (np.empty((1024, 512), np.float32) for _ in range(3))
    mask = np.empty(Z.shape, np.bool_)
    zeros = {"zeros array (before)": np.zeros_like(Z), "0-d zero (now)": np.zeros((), np.float32)}
    times: dict[str, dict[str, list[float]]] = {k: {"forward": [], "backward": []} for k in zeros}
    for r in range(repeat):
        for name in (list(zeros) if r % 2 else list(zeros)[::-1]):
            forward = backward = 0.0
            for _ in range(20):
                np.matmul(W, A, out=Z)   # Z fresh from the product, as in the step
                t = time.thread_time()
                np.maximum(Z, zeros[name], out=out)
                forward += time.thread_time() - t
                np.matmul(W, A, out=dA)
                t = time.thread_time()
                np.greater(Z, zeros[name], out=mask)
                np.multiply(dA, mask, out=dA)
                backward += time.thread_time() - t
            times[name]["forward"].append(forward / 20 * 1e3)
            times[name]["backward"].append(backward / 20 * 1e3)
    return {name: {k: statistics.median(v) for k, v in t.items()} for name, t in times.items()}


class SlicingAdam(Adam):
    """Adam as it was: every chunk's views sliced anew at every step."""

    def step(self, theta, grad, lr):  # type: ignore[no-untyped-def]
        self.t += 1
        self._coef[:] = self._coefficients(float(lr))
        coef, state = self._coef_views, [self.state[slot] for slot in self.slots]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(len(self._groups) - 1)
        others = [self._pool.submit(self._sliced, group, theta, grad, state, temps, coef)
                  for group, temps in zip(self._groups[1:], self._temporaries[1:])]
        self._sliced(self._groups[0], theta, grad, state, self._temporaries[0], coef)
        for future in others:
            future.result()

    def _sliced(self, chunks, theta, grad, state, temporaries, coef):  # type: ignore[no-untyped-def]
        tmp, tmp2 = temporaries
        for part in chunks:
            n = part.stop - part.start
            self._update(theta[part], grad[part], *(s[part] for s in state), tmp[:n],
                         tmp2[:n], coef)


def adam(repeat: int) -> dict:
    n = 1_863_690
    rng = np.random.default_rng(0)
    grad = rng.standard_normal(n, dtype=np.float32)
    hyper = {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    theta = rng.standard_normal(n, dtype=np.float32)
    runs = {"slicing every step (before)": (SlicingAdam(n, "float32", **hyper), theta.copy()),
            "views kept (now)": (Adam(n, "float32", **hyper), theta.copy())}
    times: dict[str, dict[str, list[float]]] = {k: {"process_cpu": [], "thread_cpu": []}
                                                for k in runs}
    for r in range(repeat):
        for name in (list(runs) if r % 2 else list(runs)[::-1]):
            optimizer, vector = runs[name]
            cpu, main = time.process_time(), time.thread_time()
            for _ in range(10):
                optimizer.step(vector, grad, 1e-3)
            times[name]["process_cpu"].append((time.process_time() - cpu) / 10 * 1e3)
            times[name]["thread_cpu"].append((time.thread_time() - main) / 10 * 1e3)
    (_, a), (_, b) = runs.values()
    result = {name: {k: statistics.median(v) for k, v in t.items()} for name, t in times.items()}
    result["same_bits"] = a.tobytes() == b.tobytes()
    result["threads"] = runs["views kept (now)"][0].threads
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=16)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    load = os.getloadavg()
    result = {"load_before": load, "relu_ms": relu(args.repeat), "adam_ms": adam(args.repeat),
              "load_after": os.getloadavg(),
              "openblas_thread_timeout": os.environ.get("OPENBLAS_THREAD_TIMEOUT")}
    print(json.dumps(result, indent=1))
    out = args.out or Path(__file__).resolve().parent / "results" / time.strftime(
        "hot-parts-%Y%m%d-%H%M%S.json")
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
