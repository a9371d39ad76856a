"""Benchmark dlcli's training step against PyTorch, scikit-learn and the GEMM limit (issue 6).

    python benchmarks/run.py [--workloads tiny,small] [--systems dlcli,torch] [--repeat N]
                             [--out benchmarks/results/<date>.json] [--blas-env inherit|unset]
                             [--base /tmp/speed-main]

Every measurement runs in a fresh interpreter (``worker.py``); the systems take turns within
each repeat, so load from other processes hits them alike. Reported: the best and the median
samples/s of the repeats, dlcli's ratio to each system (best to best), and dlcli's share of the
GEMM-bound rate. A JSON file keeps every raw measurement.
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.workloads import WORKLOADS  # noqa: E402

_GIVEN_ENV = dict(os.environ)   # before dlcli.cli sets its defaults in this process
from dlcli.cli import PROCESS_ENV  # noqa: E402  (loads no numpy)

SYSTEMS = ["dlcli", "torch", "sklearn", "gemm"]
BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# Systems that run numpy get the environment the ``dlcli`` command sets for itself before numpy
# loads (OPENBLAS_THREAD_TIMEOUT), so they are measured as a user's ``dlcli train`` runs.
NUMPY_SYSTEMS = ("dlcli", "dlcli_eval", "gemm")


def measure(system: str, workload: str, env: dict[str, str], base: Path | None = None) -> dict:
    """One measurement in a fresh interpreter; ``dlcli@base`` is dlcli imported from the
    checkout ``base``, measured by this checkout's benchmark code."""
    extra = [system.split("@")[0], workload] + ([str(base)] if system == "dlcli@base" else [])
    proc = subprocess.run([sys.executable, str(HERE / "worker.py"), *extra],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        return {"system": system, "workload": workload, "error": proc.stderr.strip()[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "load_average_at_start": load}


def summarize(runs: list[dict], workloads: list[str]) -> dict:
    out: dict = {}
    for name in workloads:
        row: dict = {}
        for system in SYSTEMS + ["dlcli_eval", "dlcli@base"]:
            ok = [r for r in runs if r["workload"] == name and r["system"] == system
                  and "error" not in r]
            if not ok:
                continue
            rates = [r["samples_per_second"] for r in ok]
            entry = {"best": max(rates), "median": statistics.median(rates), "n": len(rates),
                     "peak_rss_mb": max(r["peak_rss_mb"] for r in ok)}
            if system == "gemm":
                entry["gflops_best"] = max(r["gflops"] for r in ok)
                entry["bound_best"] = max(r["bound_samples_per_second"] for r in ok)
            if all("step_cpu_seconds" in r for r in ok):   # CPU microseconds per sample
                cpu = [1e6 * r["step_cpu_seconds"] / r["samples"] for r in ok]
                entry["step_cpu_us_per_sample"] = {"best": min(cpu),
                                                   "median": statistics.median(cpu)}
            if system == "dlcli_eval":
                entry["overhead_fraction_median"] = statistics.median(
                    r["overhead_fraction"] for r in ok)
            row[system] = entry
        d = row.get("dlcli")
        if d:
            for other in ("torch", "sklearn"):
                if other in row:
                    row[f"dlcli/{other}"] = d["best"] / row[other]["best"]
                    row[f"dlcli/{other}_median"] = d["median"] / row[other]["median"]
            if "gemm" in row:
                row["dlcli/gemm_bound"] = d["best"] / row["gemm"]["bound_best"]
            b = row.get("dlcli@base")
            if b:
                row["dlcli/base"] = d["best"] / b["best"]
                row["dlcli/base_median"] = d["median"] / b["median"]
                if "step_cpu_us_per_sample" in d and "step_cpu_us_per_sample" in b:
                    row["dlcli/base_cpu_median"] = (b["step_cpu_us_per_sample"]["median"]
                                                    / d["step_cpu_us_per_sample"]["median"])
                digests = {r.get("final_params_sha256") for r in runs
                           if r["workload"] == name and r["system"] in ("dlcli", "dlcli@base")
                           and "error" not in r}
                row["same_params_as_base"] = len(digests) == 1 and None not in digests
        out[name] = row
    return out


def table(summary: dict) -> str:
    head = ("| workload | dlcli | PyTorch | scikit-learn | dlcli / PyTorch | dlcli / sklearn "
            "| GEMM GFLOP/s | GEMM-bound | dlcli / GEMM-bound | peak RSS dlcli / PyTorch |")
    lines = [head, "|" + "---|" * 10]

    def num(row: dict, key: str) -> str:
        return f"{row[key]['best']:,.0f}" if key in row else "-"

    def ratio(row: dict, key: str) -> str:
        return f"{row[key]:.2f}x" if key in row else "-"

    for name, row in summary.items():
        gemm = row.get("gemm", {})
        rss = "/".join(f"{row[s]['peak_rss_mb']:.0f}" if s in row else "-"
                       for s in ("dlcli", "torch")) + " MB"
        frac = f"{row['dlcli/gemm_bound']:.0%}" if "dlcli/gemm_bound" in row else "-"
        lines.append(f"| {name} | {num(row, 'dlcli')} | {num(row, 'torch')} | "
                     f"{num(row, 'sklearn')} | {ratio(row, 'dlcli/torch')} | "
                     f"{ratio(row, 'dlcli/sklearn')} | "
                     f"{gemm.get('gflops_best', float('nan')):.0f} | "
                     f"{gemm.get('bound_best', float('nan')):,.0f} | {frac} | {rss} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--systems", default=",".join(SYSTEMS + ["dlcli_eval"]),
                        help="dlcli, torch, sklearn, gemm, dlcli_eval (the per-epoch "
                             "evaluation + history cost, tiny only)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=None, help="JSON file (default "
                        "benchmarks/results/<date>.json)")
    parser.add_argument("--blas-env", choices=["inherit", "unset"], default="inherit",
                        help="unset: run the workers without OPENBLAS_CORETYPE and "
                             "OPENBLAS_L2_SIZE (both together)")
    parser.add_argument("--base", type=Path, default=None,
                        help="another checkout (e.g. a worktree of main): its dlcli is measured "
                             "too, as system dlcli@base, taking turns with this one")
    parser.add_argument("--no-dlcli-env", action="store_true",
                        help="run dlcli, dlcli_eval and gemm without the environment the dlcli "
                             f"command sets ({', '.join(PROCESS_ENV)})")
    args = parser.parse_args(argv)
    workloads = [w for w in args.workloads.split(",") if w]
    systems = [s for s in args.systems.split(",") if s]
    if args.base is not None and "dlcli@base" not in systems:
        systems.append("dlcli@base")
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose from {list(WORKLOADS)}")
    env = dict(_GIVEN_ENV)
    if args.blas_env == "unset":
        for key in BLAS_ENV:
            env.pop(key, None)
    started = dt.datetime.now()
    runs: list[dict] = []
    for r in range(args.repeat):
        for name in workloads:
            turn = systems[r % len(systems):] + systems[:r % len(systems)]
            for system in turn:
                if system == "dlcli_eval" and name != "tiny":
                    continue
                load = os.getloadavg()[0]   # other processes' load: the machine is shared
                result = measure(system, name, env if args.no_dlcli_env or system not in
                                 NUMPY_SYSTEMS + ("dlcli@base",) else {**PROCESS_ENV, **env},
                                 args.base)
                result["repeat"], result["load_before"] = r, load
                runs.append(result)
                rate = result.get("samples_per_second")
                print(f"[{r + 1}/{args.repeat}] load {load:4.2f} {name:6} {system:10} "
                      + (f"{rate:>12,.0f} samples/s" if rate else result.get("error", "")
                         .splitlines()[-1:].__str__()), file=sys.stderr, flush=True)
    summary = summarize(runs, workloads)
    report = {"started": started.isoformat(timespec="seconds"), "machine": machine(),
              "blas_env": args.blas_env, "repeat": args.repeat,
              "dlcli_env": None if args.no_dlcli_env else PROCESS_ENV,
              "workloads": {n: WORKLOADS[n].describe() for n in workloads},
              "summary": summary, "runs": runs}
    out = Path(args.out or HERE / "results" / f"{started:%Y%m%d-%H%M%S}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(table(summary))
    for name, row in summary.items():
        if "dlcli/base" in row:
            print(f"{name}: this checkout / {args.base}: {row['dlcli/base']:.3f}x best, "
                  f"{row['dlcli/base_median']:.3f}x median samples/s"
                  + (f", {row['dlcli/base_cpu_median']:.3f}x median CPU per sample"
                     if "dlcli/base_cpu_median" in row else "")
                  + ("; same trained parameters, bit for bit" if row["same_params_as_base"]
                     else "; TRAINED PARAMETERS DIFFER"))
    if any("dlcli_eval" in row for row in summary.values()):
        e = summary["tiny"]["dlcli_eval"]
        print(f"\ntiny, evaluation every epoch + history.csv: "
              f"{e['overhead_fraction_median']:.1%} of the run's wall time")
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
