"""One BLAS thread or two for applying a trained run to many rows (``dlcli predict``/``evaluate``).

Trains three runs on 2,000-row CSV files (the network of ``predict_memory.py``, 32-32-16-1, a
wider 32-256-128-1, and the large network of the speed benchmarks on 784 features,
784-1024-1024-1), then, in this one process, applies each to 1,000,000 rows (50,000 for the
large one) a chunk at a time as ``dlcli predict`` does (``inputs.chunk_rows_for``: normalise, then the
network in inference mode), under ``blas_limit(1)`` and ``blas_limit(2)`` in turn, alternating
the two for ``--repeats`` rounds so both see the same load. Reports the median seconds of each
and their ratio, with the policy's choice (``dlcli.blas.threads_for``) for the same shapes.

    python benchmarks/predict_threads.py [--rows 1000000] [--repeats 5] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dlcli.cli  # noqa: F401  sets OPENBLAS_THREAD_TIMEOUT before numpy loads, as dlcli does

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

from dlcli import load_run  # noqa: E402
from dlcli.apply.inputs import chunk_rows_for  # noqa: E402
from dlcli.blas import blas_limit, threads_for  # noqa: E402
from dlcli.config import load_config  # noqa: E402
from dlcli.experiment import run  # noqa: E402

# name: (features, hidden layers, share of --rows applied)
NETWORKS = {"32-32-16-1": (32, [32, 16], 1), "32-256-128-1": (32, [256, 128], 1),
            "784-1024-1024-1": (784, [1024, 1024], 0.05)}


def train(folder: Path, features: int, hidden: list[int]) -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (2000, features)) * 10 + 50
    y = (X[:, 0] + X[:, 1] > 100).astype(int)
    path = folder / "train.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", fmt=["%.6f"] * features + ["%d"],
               header=",".join([f"f{j}" for j in range(features)] + ["label"]), comments="")
    config = load_config(raw={"name": "threads", "data": {"train": str(path)},
                              "model": {"hidden": hidden}, "training": {"epochs": 2}})
    return run(config, folder / "runs").path


def apply_all(model, X: np.ndarray, rows: int) -> float:
    started = time.perf_counter()
    for start in range(0, X.shape[0], rows):
        model.apply(model.prepare(X[start:start + rows]))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"
                                         / f"predict-threads-{stamp}.json"))
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (features, hidden, share) in NETWORKS.items():
            folder = Path(tmp) / name
            folder.mkdir()
            model = load_run(train(folder, features, hidden))
            X = (np.random.default_rng(1).normal(0, 1, (int(args.rows * share), features)) * 10
                 + 50).astype(np.float32)
            rows = chunk_rows_for(model.n_features)
            seconds: dict[int, list[float]] = {1: [], 2: []}
            apply_all(model, X[:rows * 2], rows)   # warm the buffers
            for _ in range(args.repeats):
                for threads in (1, 2):
                    with blas_limit(threads):
                        seconds[threads].append(apply_all(model, X, rows))
            one, two = statistics.median(seconds[1]), statistics.median(seconds[2])
            chunk = model.network._eval_chunk(rows)
            results[name] = {
                "rows": X.shape[0], "chunk_rows": rows, "network_chunk": chunk,
                "seconds_1_thread": [round(s, 3) for s in seconds[1]],
                "seconds_2_threads": [round(s, 3) for s in seconds[2]],
                "median_1": round(one, 3), "median_2": round(two, 3),
                "two_over_one": round(two / one, 3),
                "threads_for_the_pass": threads_for(model.network.sizes, chunk),
                "threads_for_training_batch": model.blas_threads(rows)}
            print(f"{name}: 1 thread {one:.2f} s, 2 threads {two:.2f} s (x{two / one:.2f}); "
                  f"threads_for the pass: {results[name]['threads_for_the_pass']}, for the "
                  f"training batch: {results[name]['threads_for_training_batch']}")
    record = {"date": stamp, "load_average": os.getloadavg(), "machine": platform.platform(),
              "python": platform.python_version(), "numpy": np.__version__,
              "cpus": os.cpu_count(), "rows": args.rows, "repeats": args.repeats,
              "results": results}
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
