"""Runs one system on one workload in this process and prints one JSON object on stdout.

``run.py`` starts a fresh interpreter for every measurement, so one system's thread pools and
memory never affect another's, and the peak RSS is that run's alone.
"""
from __future__ import annotations

import importlib
import json
import os
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.workloads import WORKLOADS  # noqa: E402

# ``worker.py SYSTEM WORKLOAD DLCLI_ROOT``: dlcli imported from another checkout (run.py --base),
# measured by this checkout's benchmark code.
if len(sys.argv) > 3:
    sys.path.insert(0, str(Path(sys.argv[3]).resolve()))

MODULES = {"dlcli": "dlcli_bench", "torch": "torch_bench", "sklearn": "sklearn_bench",
           "gemm": "gemm", "dlcli_eval": "dlcli_bench"}


def blas_info() -> list[dict]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
    return [{k: d.get(k) for k in keep} for d in threadpool_info()]


def main(system: str, workload: str) -> None:
    module = importlib.import_module(f"benchmarks.systems.{MODULES[system.split('@')[0]]}")
    w = WORKLOADS[workload]
    result = module.eval_overhead(w) if system == "dlcli_eval" else module.train(w)
    if "samples" in result and "samples_per_second" not in result:
        result["samples_per_second"] = result["samples"] / result["seconds"]
    if system.startswith("dlcli"):
        import dlcli
        result["dlcli_root"] = str(Path(dlcli.__file__).resolve().parents[1])
    result.update(system=system, workload=workload,
                  peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  blas=blas_info(),
                  env={k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                                      "OMP_NUM_THREADS",
                                                      "OPENBLAS_NUM_THREADS",
                                                      "OPENBLAS_THREAD_TIMEOUT")})
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) < 4 else sys.argv[1] + "@base", sys.argv[2])
