"""Studies on 1 and 2 workers: ``dlcli tune`` and ``dlcli sweep`` wall time, back to back.

Each repeat runs, for each command, one worker then two workers (the order alternates between
repeats, so a load that changes during a repeat does not always favour the same side), every one
a fresh ``python -m dlcli`` process, and times it from start to exit. The speed-up of a repeat is
(1-worker time) / (2-worker time) of that repeat; the summary gives the median and the range over
the repeats, and the load average before each measurement (the machine is shared).

    python benchmarks/study_speed.py                    # 12 runs per study, 3 repeats
    python benchmarks/study_speed.py --runs 16 --repeat 5 --epochs 150

Writes ``benchmarks/results/study-speed-<date-time>.json`` (or ``--out``).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# One run: 2-16-8-1 on 1000 moons, batch 32, about a second on an idle core of this machine.
CONFIG = {"name": "bench", "seed": 1,
          "data": {"dataset": "moons", "options": {"n_samples": 1000, "noise": 0.2},
                   "dev_fraction": 0.2},
          "model": {"hidden": [16, 8]},
          "optimizer": {"name": "adam", "learning_rate": 0.003},
          "training": {"epochs": 100, "batch_size": 32, "eval_every": 5}}


def command(kind: str, config: Path, runs: int, workers: int, runs_dir: Path) -> list[str]:
    base = [sys.executable, "-m", "dlcli", kind, str(config), "-q", "-w", str(workers),
            "--runs-dir", str(runs_dir)]
    if kind == "tune":
        return [*base, "--trials", str(runs)]
    # sweep: runs / 2 learning rates x 2 seeds
    rates = ",".join(repr(0.001 * (k + 1)) for k in range(runs // 2))
    return [*base, "--grid", f"optimizer.learning_rate={rates}", "--seeds", "2"]


def measure(kind: str, config: Path, runs: int, workers: int, scratch: Path) -> dict:
    runs_dir = Path(tempfile.mkdtemp(dir=scratch))
    load = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(command(kind, config, runs, workers, runs_dir), capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"dlcli {kind} -w {workers} failed:\n{done.stderr}")
    study = Path(done.stdout.strip().splitlines()[-1])
    run_seconds = []
    for run in study.iterdir():
        metrics = run / "metrics.json"
        if metrics.is_file():
            run_seconds.append(json.loads(metrics.read_text())["train_seconds"])
    return {"command": kind, "workers": workers, "seconds": round(seconds, 3),
            "load_before": load, "runs": len(run_seconds),
            "mean_train_seconds": round(statistics.fmean(run_seconds), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12, help="runs per study (even)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=CONFIG["training"]["epochs"])
    parser.add_argument("--commands", default="tune,sweep")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    kinds = args.commands.split(",")
    config_data = {**CONFIG, "training": {**CONFIG["training"], "epochs": args.epochs},
                   "search": {"optimizer.learning_rate": {"log_uniform": [0.001, 0.01]}}}
    results = []
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        config = scratch / "bench.yaml"
        config.write_text(yaml.safe_dump(config_data))
        for rep in range(args.repeat):
            for kind in kinds:
                order = (1, 2) if rep % 2 == 0 else (2, 1)
                pair = {w: measure(kind, config, args.runs, w, scratch) for w in order}
                for w in order:
                    results.append({**pair[w], "repeat": rep + 1})
                ratio = pair[1]["seconds"] / pair[2]["seconds"]
                print(f"repeat {rep + 1} {kind}: 1 worker {pair[1]['seconds']:.2f}s, 2 workers "
                      f"{pair[2]['seconds']:.2f}s, speed-up {ratio:.2f}x "
                      f"(load {pair[1]['load_before']:.1f}/{pair[2]['load_before']:.1f}; a run "
                      f"trains {pair[1]['mean_train_seconds']:.2f}s)", flush=True)
    summary = {}
    for kind in kinds:
        ratios = []
        for rep in range(1, args.repeat + 1):
            t = {r["workers"]: r["seconds"] for r in results
                 if r["command"] == kind and r["repeat"] == rep}
            ratios.append(round(t[1] / t[2], 3))
        summary[kind] = {"speedups": ratios, "median": statistics.median(ratios),
                         "min": min(ratios), "max": max(ratios)}
        print(f"{kind}: speed-up median {summary[kind]['median']:.2f}x "
              f"(range {min(ratios):.2f}-{max(ratios):.2f}) over {args.repeat} repeats")
    out = args.out or ROOT / "benchmarks" / "results" / \
        f"study-speed-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "settings": {"runs": args.runs, "repeat": args.repeat, "config": config_data},
        "measurements": results, "summary": summary}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
