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


def tree_cpu(proc: subprocess.Popen) -> tuple[float, float]:
    """CPU seconds (user + system) of ``proc`` and every process under it (the forkserver and
    its workers are not waited for by dlcli, so rusage misses them): each process's latest
    figure, polled every 50 ms until ``proc`` exits. Unlike wall time, this hardly depends on
    what else the machine runs. Returns (the whole tree's, the command's own process's)."""
    import psutil

    seen: dict[int, float] = {}
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            for p in [root, *root.children(recursive=True)]:
                try:
                    t = p.cpu_times()
                    seen[p.pid] = t.user + t.system
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        time.sleep(0.05)
    return sum(seen.values()), seen.get(proc.pid, 0.0)


def measure(kind: str, config: Path, runs: int, workers: int, scratch: Path) -> dict:
    runs_dir = Path(tempfile.mkdtemp(dir=scratch))
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(command(kind, config, runs, workers, runs_dir),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    cpu, own_cpu = tree_cpu(proc)
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    if done.returncode != 0:
        raise SystemExit(f"dlcli {kind} -w {workers} failed:\n{done.stderr}")
    study = Path(done.stdout.strip().splitlines()[-1])
    run_seconds = []
    for run in study.iterdir():
        metrics = run / "metrics.json"
        if metrics.is_file():
            run_seconds.append(json.loads(metrics.read_text())["train_seconds"])
    return {"command": kind, "workers": workers, "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu, 3), "main_process_cpu_seconds": round(own_cpu, 3),
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
                      f"{pair[2]['seconds']:.2f}s, speed-up {ratio:.2f}x; cpu "
                      f"{pair[1]['cpu_seconds']:.1f}s/{pair[2]['cpu_seconds']:.1f}s (main "
                      f"{pair[2]['main_process_cpu_seconds']:.1f}s) "
                      f"(load {pair[1]['load_before']:.1f}/{pair[2]['load_before']:.1f}; a run "
                      f"trains {pair[1]['mean_train_seconds']:.2f}s)", flush=True)
    summary = {}
    for kind in kinds:
        ratios, cpu_ratios, idle = [], [], []
        for rep in range(1, args.repeat + 1):
            mine = [r for r in results if r["command"] == kind and r["repeat"] == rep]
            t = {r["workers"]: r["seconds"] for r in mine}
            c = {r["workers"]: r["cpu_seconds"] for r in mine}
            ratios.append(round(t[1] / t[2], 3))
            cpu_ratios.append(round(c[2] / c[1], 3))
            # What an idle 2-core machine would give: the 1-worker study is all CPU on one core;
            # with 2 workers, the main process's own CPU is serial and the rest is split in two.
            main = next(r["main_process_cpu_seconds"] for r in mine if r["workers"] == 2)
            idle.append(round(c[1] / (main + (c[2] - main) / 2), 3))
        summary[kind] = {"speedups": ratios, "median": statistics.median(ratios),
                         "min": min(ratios), "max": max(ratios),
                         "cpu_2_over_1": cpu_ratios,
                         "cpu_2_over_1_median": statistics.median(cpu_ratios),
                         "idle_machine_estimate": idle,
                         "idle_machine_estimate_median": statistics.median(idle)}
        print(f"{kind}: speed-up median {summary[kind]['median']:.2f}x "
              f"(range {min(ratios):.2f}-{max(ratios):.2f}) over {args.repeat} repeats; "
              f"2 workers use {statistics.median(cpu_ratios):.2f}x the CPU time of 1; estimate "
              f"for an idle machine {statistics.median(idle):.2f}x")
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
