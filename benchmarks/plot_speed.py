"""How long dlcli's pictures take to draw: cost.png (with and without a layout engine),
boundary.png and study.png, on real run histories made here first.

    python benchmarks/plot_speed.py [--repeat 5] [--out benchmarks/results/plots-<stamp>.json]

Prints a table and writes every measurement (best of ``--repeat``, with the load average before
each) to a JSON file. The runs are trained once into a temporary directory; only drawing is timed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("MPLBACKEND", "Agg")


def best_of(repeat: int, work: Callable[[], Any]) -> dict[str, Any]:
    times = []
    loads = []
    for _ in range(repeat):
        loads.append(os.getloadavg()[0])
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return {"best_seconds": round(min(times), 4), "seconds": [round(t, 4) for t in times],
            "load_average": loads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from matplotlib.figure import Figure

    from dlcli.config import load_config
    from dlcli.experiment import run
    from dlcli.reports import boundary
    from dlcli.reports.plots import cost_figure, plot_cost, save_atomically
    from dlcli.reports.study_plot import plot_study
    from dlcli.runs.reader import read_run

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        raw = {"seed": 1, "data": {"dataset": "moons", "options": {"n_samples": 300},
                                   "dev_fraction": 0.2},
               "model": {"hidden": [8, 4]}, "optimizer": {"learning_rate": 0.01},
               "schedule": {"name": "exponential", "base": 0.5, "interval": 50},
               "training": {"epochs": 300}}
        groups: dict[str, list[Path]] = {}
        for name in ("gd", "adam"):
            groups[f"optimizer.name={name}"] = [
                run(load_config(raw=dict(raw), overrides=[f"optimizer.name={name}",
                                                          f"seed={seed}"]), root).path
                for seed in (1, 2, 3)]
        record = read_run(groups["optimizer.name=adam"][0])
        out = root / "out.png"

        def fixed() -> None:
            plot_cost(record.history, out, record.run, record.metrics)

        def constrained() -> None:
            original = Figure.__init__

            def with_layout(self: Figure, *a: Any, **k: Any) -> None:
                k["layout"] = "constrained"
                original(self, *a, **k)
                self.subplots_adjust = lambda **_: None   # the layout engine places the axes

            Figure.__init__ = with_layout   # type: ignore[method-assign]
            try:
                save_atomically(cost_figure(record.history, record.run, record.metrics), out)
            finally:
                Figure.__init__ = original  # type: ignore[method-assign]

        # The two layouts alternate, so a change in the machine's load hits both alike.
        both = [best_of(1, work) for _ in range(args.repeat) for work in (fixed, constrained)]
        for name, runs in (("cost.png (fixed margins, as drawn)", both[0::2]),
                           ("cost.png (constrained layout)", both[1::2])):
            results[name] = {"best_seconds": min(r["best_seconds"] for r in runs),
                             "seconds": [r["seconds"][0] for r in runs],
                             "load_average": [r["load_average"][0] for r in runs]}
        inputs = boundary.from_run(record.path)
        assert inputs is not None
        results["boundary.png"] = best_of(args.repeat,
                                          lambda: boundary.plot_boundary(inputs, out))
        results["study.png (2 points x 3 seeds, boundaries)"] = best_of(
            max(1, args.repeat // 2), lambda: plot_study(groups, out))

    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value['best_seconds']:.3f} s")
    fixed = results["cost.png (fixed margins, as drawn)"]["best_seconds"]
    layout = results["cost.png (constrained layout)"]["best_seconds"]
    print(f"fixed margins / constrained layout: {fixed / layout:.2f}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = args.out or Path(__file__).parent / "results" / f"plots-{stamp}.json"
    path.write_text(json.dumps({
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "repeat": args.repeat, "results": results,
        "ratio_fixed_over_constrained": round(fixed / layout, 3)}, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
