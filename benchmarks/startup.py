"""How long ``dlcli`` takes to start, and what a short run spends outside training.

    python benchmarks/startup.py                  # 7 repeats, this checkout
    python benchmarks/startup.py --repeat 11 --out benchmarks/results/startup-mine.json
    python benchmarks/startup.py --base /tmp/speed-main   # and a checkout of main, in turns

Every measurement is a fresh ``python -m dlcli ...`` process with ``PYTHONPATH`` set to this
checkout (the ``dlcli`` script runs the same code: ``dlcli.cli.app:main``). Reported per command:
the best and the median wall time of the repeats, and the CPU time (user + system) of the same
processes, which a busy machine inflates less than the wall time.

- ``--help`` and ``--version``: the whole process.
- ``train configs/quickstart.yaml``: the whole process, the run's own ``train_seconds`` (from its
  metrics.json) and the difference, the run's overhead: start-up, data, files and cost.png.
- ``-X importtime`` of ``--version``: the modules that cost the most (cumulative), the best run.

Writes a JSON file (default ``benchmarks/results/startup-<date-time>.json``) and prints a summary.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str, str]:
    """(wall seconds, CPU seconds, stdout, stderr) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout, proc.stderr


def load() -> float:
    return os.getloadavg()[0]


def summary(values: list[float]) -> dict[str, float]:
    return {"best": min(values), "median": statistics.median(values), "all": values}


def import_profile(env: dict[str, str], cwd: Path, repeat: int) -> list[dict]:
    """Top modules by cumulative import time in the fastest of ``repeat`` ``--version`` runs."""
    best: list[dict] | None = None
    best_total = float("inf")
    for _ in range(repeat):
        _, _, _, err = timed([sys.executable, "-X", "importtime", "-m", "dlcli", "--version"],
                             env, cwd)
        rows = []
        for line in err.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, cumulative, name = line[len("import time:"):].split("|")
            depth = (len(name) - len(name.lstrip())) // 2
            rows.append({"module": name.strip(), "depth": depth, "self_ms": int(self_us) / 1000,
                         "cumulative_ms": int(cumulative) / 1000})
        total = sum(r["self_ms"] for r in rows)
        if total < best_total:
            best_total, best = total, rows
    assert best is not None
    top = [r for r in best if r["depth"] == 0]
    return sorted(top, key=lambda r: -r["cumulative_ms"])


def measure(roots: dict[str, Path], config: Path, repeat: int, cwd: Path) -> dict[str, dict]:
    """Every command of every checkout in ``roots``, ``repeat`` times, taking turns (the order
    of the checkouts alternates between repeats), so that load hits them all alike."""
    envs = {}
    for label, root in roots.items():
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
        envs[label] = env
    commands = {"--help": ["--help"], "--version": ["--version"],
                "train": ["train", str(config), "--runs-dir", str(cwd / "runs"), "--quiet"]}
    raw = {label: {k: {"wall": [], "cpu": [], "train": []} for k in commands} for label in roots}
    order = list(roots)
    for r in range(repeat):
        for label in (order if r % 2 == 0 else order[::-1]):
            for name, argv in commands.items():
                wall, cpu, out, _ = timed([sys.executable, "-m", "dlcli", *argv], envs[label],
                                          cwd)
                raw[label][name]["wall"].append(wall)
                raw[label][name]["cpu"].append(cpu)
                if name == "train":
                    run_dir = Path(out.strip().splitlines()[-1])
                    metrics = json.loads((run_dir / "metrics.json").read_text())
                    raw[label][name]["train"].append(metrics["train_seconds"])
                    for png in ("cost.png", "boundary.png"):
                        if not (run_dir / png).is_file():
                            raise SystemExit(f"{run_dir} has no {png}")
    results = {}
    for label in roots:
        results[label] = {}
        for name, values in raw[label].items():
            entry = {"wall": summary(values["wall"]), "cpu": summary(values["cpu"])}
            if values["train"]:
                overhead = [w - t for w, t in zip(values["wall"], values["train"])]
                entry["train_seconds"] = summary(values["train"])
                entry["overhead"] = summary(overhead)
            results[label][name] = entry
    return results


def describe(commands: dict) -> list[str]:
    lines = []
    for name, entry in commands.items():
        line = (f"dlcli {name:10s} wall {entry['wall']['best']:.3f} / "
                f"{entry['wall']['median']:.3f} s   cpu {entry['cpu']['best']:.3f} / "
                f"{entry['cpu']['median']:.3f} s")
        if "overhead" in entry:
            line += (f"   training {entry['train_seconds']['best']:.3f} / "
                     f"{entry['train_seconds']['median']:.3f} s, wall - training "
                     f"{entry['overhead']['best']:.3f} / {entry['overhead']['median']:.3f} s")
        lines.append(line)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "quickstart.yaml")
    parser.add_argument("--base", type=Path, default=None,
                        help="another checkout (e.g. a worktree of main) measured in the same "
                             "run, taking turns with this one")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    roots = {"this": ROOT, **({"base": args.base.resolve()} if args.base else {})}
    results: dict = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "python": platform.python_version(), "cpus": os.cpu_count(),
                     "repeat": args.repeat, "load_before": load(),
                     "roots": {k: str(v) for k, v in roots.items()}}
    with tempfile.TemporaryDirectory(prefix="dlcli-startup-") as tmp:
        cwd = Path(tmp)
        measured = measure(roots, args.config, args.repeat, cwd)
        results["commands"] = measured["this"]
        if "base" in measured:
            results["base_commands"] = measured["base"]
            results["ratios_this_over_base"] = {
                name: {key: {stat: results["commands"][name][key][stat]
                             / measured["base"][name][key][stat]
                             for stat in ("best", "median")}
                       for key in ("wall", "cpu", "overhead") if key in results["commands"][name]}
                for name in results["commands"]}
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        results["imports_of_version"] = import_profile(env, cwd, args.repeat)
    results["load_after"] = load()

    out = args.out or ROOT / "benchmarks" / "results" / time.strftime("startup-%Y%m%d-%H%M%S.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")

    print(f"load {results['load_before']:.1f} -> {results['load_after']:.1f}, "
          f"{args.repeat} repeats (best / median)")
    print("\n".join(describe(results["commands"])))
    if "base_commands" in results:
        print(f"base ({args.base}):")
        print("\n".join(describe(results["base_commands"])))
        for name, ratios in results["ratios_this_over_base"].items():
            print(f"this / base, {name:10s} " + ", ".join(
                f"{key} {r['best']:.2f} (best) {r['median']:.2f} (median)"
                for key, r in ratios.items()))
    print("imports of --version (cumulative ms, top level):",
          ", ".join(f"{r['module']} {r['cumulative_ms']:.0f}"
                    for r in results["imports_of_version"][:8]))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
