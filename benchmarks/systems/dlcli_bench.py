"""dlcli through its Python API: ``Trainer.fit`` with the training steps timed in-process.

``Trainer.progress.train_seconds`` counts the steps only (batch gathering, forward, backward,
Adam), not evaluation or callbacks; ``eval_every`` is set to the run's length so a run evaluates
only at its start and end.
"""
from __future__ import annotations

import tempfile
import time


from benchmarks.workloads import BETA1, BETA2, EPSILON, LEARNING_RATE, SEED, Workload, \
    initial_params, make_data
from dlcli.config import load_config
from dlcli.data.dataset import Dataset, Split
from dlcli.build import build_network, build_optimizer, build_schedule
from dlcli.train import Streams, Trainer


def make_trainer(w: Workload, *, eval_every: int | None = None, callbacks=None) -> Trainer:
    X, y = make_data(w)
    config = load_config(raw={
        "seed": SEED,
        "data": {"dataset": "moons"},  # replaced by the arrays below
        "model": {"hidden": list(w.hidden), "activation": "relu", "output": w.output,
                  "init": "he"},
        "optimizer": {"name": "adam", "learning_rate": LEARNING_RATE, "beta1": BETA1,
                      "beta2": BETA2, "epsilon": EPSILON},
        "training": {"epochs": w.epochs, "batch_size": w.batch_size, "shuffle": True,
                     "dtype": "float32", "eval_every": eval_every or w.epochs,
                     "checkpoint_every": w.epochs},
    })
    K = w.n_classes
    data = Dataset(Split(X, y), None, None, K, [str(k) for k in range(K)],
                   [f"x{j}" for j in range(w.n_features)])
    streams = Streams.from_seed(SEED)
    network = build_network(config, w.n_features, K, streams.init)
    network.set_params(initial_params(w))
    optimizer = build_optimizer(config, network)
    training = config.training
    return Trainer(network, optimizer, data, streams, learning_rate=build_schedule(config),
                   epochs=training.epochs, batch_size=training.batch_size,
                   shuffle=training.shuffle, eval_every=training.eval_every,
                   callbacks=callbacks)


def train(w: Workload) -> dict:
    """The run's samples/s over its training steps, and the CPU time (every thread of the
    process) of those steps and of the whole ``fit``: on a shared machine the CPU time swings
    less than the wall time."""
    trainer = make_trainer(w)
    run_epoch, step_cpu = trainer.run_epoch, [0.0]

    def timed_epoch(lr: float):  # type: ignore[no-untyped-def]
        started = time.process_time()
        try:
            return run_epoch(lr)
        finally:
            step_cpu[0] += time.process_time() - started

    trainer.run_epoch = timed_epoch
    started, cpu = time.perf_counter(), time.process_time()
    trainer.fit()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    p = trainer.progress
    assert p.samples == w.samples, (p.samples, w.samples)
    return {"seconds": p.train_seconds, "wall_seconds": wall, "samples": p.samples,
            "step_cpu_seconds": step_cpu[0], "fit_cpu_seconds": cpu,
            "final_train_loss": trainer.history[-1].get("train_loss"),
            "final_params_sha256": params_digest(trainer)}


def params_digest(trainer: Trainer) -> str:
    """SHA-256 of the trained parameters' bytes: two checkouts trained bit for bit alike give
    the same digest (run.py --base compares them)."""
    import hashlib

    digest = hashlib.sha256()
    for key, value in sorted(trainer.network.get_params().items()):
        digest.update(key.encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def eval_overhead(w: Workload) -> dict:
    """A run that evaluates every epoch and writes history.csv (SPEC section 1) through the real
    Recorder: the share of the run's time that is not training steps."""
    from pathlib import Path

    from dlcli.runs.recorder import Recorder
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(w, eval_every=1, callbacks=[Recorder(Path(tmp), checkpoint_every=w.epochs)])
        started = time.perf_counter()
        trainer.fit()
        wall = time.perf_counter() - started
        rows = len(trainer.history)
    steps = trainer.progress.train_seconds
    return {"wall_seconds": wall, "step_seconds": steps, "history_rows": rows,
            "overhead_fraction": (wall - steps) / wall,
            "samples_per_second": trainer.progress.samples / steps}


if __name__ == "__main__":  # quick look: python -m benchmarks.systems.dlcli_bench tiny
    import sys

    from benchmarks.workloads import WORKLOADS
    for name in sys.argv[1:] or ["tiny"]:
        r = train(WORKLOADS[name])
        print(name, f"{r['samples'] / r['seconds']:,.0f} samples/s", r)
