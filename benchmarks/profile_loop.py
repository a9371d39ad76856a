"""Where a training run's time goes, measured inside the real loop (``Trainer.fit``).

    OPENBLAS_THREAD_TIMEOUT=4 python benchmarks/profile_loop.py [large] [--out FILE.json]
                                          [--dlcli-root /tmp/speed-main]

``profile_step.py`` times each call on its own with warm caches; this one wraps the calls of the
loop as it runs (matrix products, activations forward and backward, the loss, the optimiser, the
per-epoch evaluation) and charges the rest of each epoch to the loop itself (the shuffle, the
batch gather, bookkeeping). Every part gets its wall time and its CPU time (the whole process:
BLAS's and the optimiser's second thread included). On a machine shared with other people's work
the wall times swing; the CPU times and their shares much less, so read those.

Run it with ``OPENBLAS_THREAD_TIMEOUT=4``, as the ``dlcli`` command sets it for itself.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
if "--dlcli-root" in sys.argv:   # profile another checkout's dlcli (e.g. a worktree of main)
    sys.path.insert(0, str(Path(sys.argv[sys.argv.index("--dlcli-root") + 1]).resolve()))

import dlcli.nn.network as network_module  # noqa: E402
from benchmarks.systems.dlcli_bench import make_trainer  # noqa: E402
from benchmarks.workloads import WORKLOADS  # noqa: E402
from dlcli.nn.activations import Activation  # noqa: E402


class Clock:
    """Wall and process CPU seconds, and calls, per part."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.main: dict[str, float] = defaultdict(float)   # this thread's CPU alone
        self.calls: dict[str, int] = defaultdict(int)
        self.prefix = ""   # "evaluation: " while the evaluation runs


    def wrap(self, key: str, function):  # type: ignore[no-untyped-def]
        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            wall, cpu, main = time.perf_counter(), time.process_time(), time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                part = self.prefix + key
                self.wall[part] += time.perf_counter() - wall
                self.cpu[part] += time.process_time() - cpu
                self.main[part] += time.thread_time() - main
                self.calls[part] += 1
        return timed


class TimedNumpy:
    """numpy, with ``matmul`` timed: stands in for ``np`` inside dlcli.nn.network."""

    def __init__(self, clock: Clock) -> None:
        self._matmul = clock.wrap("matrix products", np.matmul)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return self._matmul if name == "matmul" else getattr(np, name)


def profile(name: str) -> dict:
    w = WORKLOADS[name]
    trainer = make_trainer(w)
    net, opt = trainer.network, trainer.optimizer
    clock = Clock()
    for layer in net.layers:
        if layer.activation is not None:
            a = layer.activation
            layer.activation = Activation(a.name, clock.wrap("activation forward", a.forward),
                                          clock.wrap("activation backward", a.backward),
                                          a.needs_output)
    output = net.output
    net.output = type(output.__name__, (output,), {"forward_backward": staticmethod(
        clock.wrap("loss and dZ[L]", output.forward_backward))})
    net.train_step = clock.wrap("train_step", net.train_step)
    opt.step = clock.wrap("optimizer", opt.step)
    trainer.run_epoch = clock.wrap("epoch", trainer.run_epoch)
    evaluate = trainer.evaluate

    def evaluate_apart():  # type: ignore[no-untyped-def]
        clock.prefix = "evaluation: "   # inference's products and activations are not the step's
        try:
            return evaluate()
        finally:
            clock.prefix = ""

    trainer.evaluate = clock.wrap("evaluation", evaluate_apart)
    network_module.np = TimedNumpy(clock)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        trainer.fit()
    finally:
        network_module.np = np
    total_wall, total_cpu = time.perf_counter() - wall, time.process_time() - cpu
    steps = trainer.progress.step
    inference_calls = clock.calls["evaluation"]
    ev_wall, ev_cpu = clock.wall["evaluation"], clock.cpu["evaluation"]
    measures = {"wall": clock.wall, "cpu": clock.cpu, "main": clock.main}

    def part(*keys: str, minus: tuple[str, ...] = ()) -> dict[str, float]:
        return {m: sum(d[k] for k in keys) - sum(d[k] for k in minus)
                for m, d in measures.items()}

    inner = ("matrix products", "activation forward", "activation backward", "loss and dZ[L]")
    parts = {"matrix products (GEMM)": part("matrix products"),
             "activation forward": part("activation forward"),
             "activation backward": part("activation backward"),
             "loss and dZ[L]": part("loss and dZ[L]"),
             "rest of train_step": part("train_step", minus=inner),
             "optimizer (Adam)": part("optimizer"),
             "loop: shuffle, gather, bookkeeping": part("epoch",
                                                        minus=("train_step", "optimizer"))}
    products_wall = clock.wall["matrix products"]
    step = part("epoch")
    flops = 6.0 * w.parameters * trainer.progress.samples
    result = {
        "workload": name, "steps": steps, "load_average": os.getloadavg(),
        "openblas_thread_timeout": os.environ.get("OPENBLAS_THREAD_TIMEOUT"),
        "per_step_ms": {k: {**{m: 1e3 * v[m] / steps for m in measures},
                            "wall_share": v["wall"] / step["wall"],
                            "cpu_share": v["cpu"] / step["cpu"],
                            "main_share": v["main"] / step["main"]}
                        for k, v in parts.items()},
        "step_ms": {m: 1e3 * step[m] / steps for m in measures},
        "samples_per_second": trainer.progress.samples / trainer.progress.train_seconds,
        "products_gflops_wall": flops / products_wall / 1e9,
        "evaluation": {"calls": inference_calls, "wall_s_per_call": ev_wall / inference_calls,
                       "cpu_s_per_call": ev_cpu / inference_calls,
                       "in_step_equivalents": ev_wall / inference_calls / (step["wall"] / steps)},
        "fit": {"wall_s": total_wall, "cpu_s": total_cpu,
                "train_seconds": trainer.progress.train_seconds},
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", nargs="?", default="large", choices=list(WORKLOADS))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--dlcli-root", type=Path, default=None,
                        help="the checkout whose dlcli is profiled (default: this one)")
    args = parser.parse_args()
    r = profile(args.workload)
    r["dlcli_root"] = str(Path(network_module.__file__).resolve().parents[2])
    print(f"{args.workload}: {r['steps']} steps, load {r['load_average'][0]:.1f}, "
          f"{r['samples_per_second']:,.0f} samples/s; products at "
          f"{r['products_gflops_wall']:.0f} GFLOP/s (wall)")
    print(f"{'per step':34} {'wall ms':>8} {'CPU ms':>8} {'main ms':>8} "
          f"{'CPU share':>9} {'main share':>10}")
    for key, v in r["per_step_ms"].items():
        print(f"{key:34} {v['wall']:8.3f} {v['cpu']:8.3f} {v['main']:8.3f} "
              f"{v['cpu_share']:9.1%} {v['main_share']:10.1%}")
    s = r["step_ms"]
    print(f"{'whole step':34} {s['wall']:8.3f} {s['cpu']:8.3f} {s['main']:8.3f}")
    print("(CPU: every thread of the process; main: the training thread alone, exact for the "
          "single-threaded parts)")
    e = r["evaluation"]
    print(f"evaluation: {e['calls']} passes, {e['wall_s_per_call'] * 1e3:.1f} ms wall / "
          f"{e['cpu_s_per_call'] * 1e3:.1f} ms CPU each ({e['in_step_equivalents']:.1f} steps)")
    if args.out:
        args.out.write_text(json.dumps(r, indent=1) + "\n")


if __name__ == "__main__":
    main()
