"""One workload's training with the optimiser's update timed inside the loop, on one thread or two.

    OPENBLAS_THREAD_TIMEOUT=4 python benchmarks/adam_threads.py large 2
    python benchmarks/adam_threads.py large 1        # OpenBLAS's default idle spin, one thread

OpenBLAS reads OPENBLAS_THREAD_TIMEOUT when numpy loads, so it is given in the environment (as
``dlcli`` sets it for itself). ``THREADS`` 1 raises ``PARALLEL_MIN`` above the network's size.
Prints one JSON line: samples/s of the training steps, ms per step and ms of it in the optimiser.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dlcli.optim.optimizers as optimizers  # noqa: E402
from benchmarks.systems.dlcli_bench import make_trainer  # noqa: E402
from benchmarks.workloads import WORKLOADS  # noqa: E402


def main(workload: str, threads: str) -> None:
    if threads == "1":
        optimizers.PARALLEL_MIN = 1 << 62
    trainer = make_trainer(WORKLOADS[workload])
    optimizer, spent = trainer.optimizer, [0.0]
    step = optimizer.step

    def timed_step(*args, **kwargs):
        start = time.perf_counter()
        step(*args, **kwargs)
        spent[0] += time.perf_counter() - start

    optimizer.step = timed_step
    trainer.fit()
    p = trainer.progress
    print(json.dumps({"w": workload, "threads": optimizer.threads,
                      "timeout": os.environ.get("OPENBLAS_THREAD_TIMEOUT"),
                      "sps": round(p.samples / p.train_seconds),
                      "step_ms": round(1000 * p.train_seconds / p.step, 2),
                      "adam_ms": round(1000 * spent[0] / p.step, 3),
                      "load": os.getloadavg()[0]}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
