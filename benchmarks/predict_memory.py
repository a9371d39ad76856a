"""Peak memory of ``dlcli predict`` on large CSV and NPZ files: bounded, whatever the file's size.

Trains a small run on a 2,000-row CSV, writes CSV files of 100,000 and 1,000,000 rows with the
same columns (and a label column, which predict ignores), and runs
``dlcli predict RUN_DIR FILE --proba --output OUT`` on each in a fresh process, measuring its
peak resident memory (``ru_maxrss`` of the child) and its time. Also measured: a process that
only imports dlcli and numpy (the floor), and reading the whole 1,000,000-row file with
``numpy.loadtxt`` (what predict would hold without streaming).

NPZ: the same rows as ``X`` (float32) in an uncompressed (``numpy.savez``) and a compressed
(``numpy.savez_compressed``) file, predicted the same way. ``--baseline REV`` also runs every
predict with the dlcli of git revision REV (extracted with ``git archive``), in the same run, so
before and after are measured under the same load.

    python benchmarks/predict_memory.py [--rows 1000000] [--features 32] [--baseline REV]
                                        [--out FILE.json]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def write_csv(path: Path, m: int, seed: int, features: int) -> None:
    rng = np.random.default_rng(seed)
    header = ",".join([f"f{j}" for j in range(features)] + ["label"])
    with open(path, "w") as handle:
        handle.write(header + "\n")
        for start in range(0, m, 100_000):
            k = min(100_000, m - start)
            X = rng.normal(0, 1, (k, features)) * 10 + 50
            y = (X[:, 0] + X[:, 1] > 100).astype(int)
            block = np.column_stack([X, y])
            np.savetxt(handle, block, delimiter=",", fmt=["%.6f"] * features + ["%d"])


def write_npz(path: Path, m: int, seed: int, features: int, compressed: bool) -> None:
    """The rows of ``write_csv(path, m, seed, features)`` as ``X`` (float32) in an NPZ file."""
    rng = np.random.default_rng(seed)
    X = np.empty((m, features), dtype=np.float32)
    for start in range(0, m, 100_000):
        k = min(100_000, m - start)
        X[start:start + k] = rng.normal(0, 1, (k, features)) * 10 + 50
    (np.savez_compressed if compressed else np.savez)(path, X=X)


def peak_of(args: list[str], src: Path = ROOT) -> tuple[float, float, float]:
    """(peak RSS in MiB, wall seconds, CPU seconds) of a fresh process running ``args`` with the
    dlcli in ``src``. On a shared machine the wall time depends on the load; the CPU time much
    less."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
            "s = time.perf_counter() - t; "
            "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
            "print(u.ru_maxrss, s, r.returncode, u.ru_utime + u.ru_stime)")
    # Not from this checkout: ``python -m`` puts the working directory first on sys.path, and
    # would run its dlcli whatever ``src`` says.
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         env=env, check=True, cwd=tempfile.gettempdir()).stdout.split()
    if out[2] != "0":
        raise SystemExit(f"{args} failed")
    return int(out[0]) / 1024, float(out[1]), float(out[3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--baseline", help="also measure the dlcli of this git revision")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"
                                         / f"predict-{stamp}.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_csv(folder / "train.csv", 2000, 0, args.features)
        config = folder / "config.yaml"
        config.write_text(f"name: wide\ndata: {{train: {folder / 'train.csv'}}}\n"
                          "model: {hidden: [32, 16]}\ntraining: {epochs: 5}\n")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        run_dir = subprocess.run([sys.executable, "-m", "dlcli", "train", str(config), "-q",
                                  "--runs-dir", str(folder / "runs")], capture_output=True,
                                 text=True, env=env, check=True).stdout.strip().splitlines()[-1]
        results: dict[str, dict[str, float]] = {}
        floor = peak_of([sys.executable, "-c", "import numpy, dlcli.apply"])
        results["import dlcli.apply"] = {"peak_mib": round(floor[0], 1)}
        for m in sorted({args.rows // 10, args.rows}):
            path = folder / f"rows-{m}.csv"
            write_csv(path, m, 1, args.features)
            mib, seconds, cpu = peak_of([sys.executable, "-m", "dlcli", "predict", run_dir,
                                    str(path), "--proba", "--output", str(folder / "out.csv")])
            lines = sum(1 for _ in open(folder / "out.csv")) - 1
            assert lines == m, (lines, m)
            results[f"predict {m:,} rows"] = {
                "peak_mib": round(mib, 1), "seconds": round(seconds, 2),
                "cpu_seconds": round(cpu, 2), "file_mib": round(path.stat().st_size / 2**20, 1),
                "rows_per_cpu_second": round(m / cpu)}
            print(f"predict {m:>9,} rows ({path.stat().st_size / 2**20:.0f} MiB CSV): peak "
                  f"{mib:.0f} MiB, {seconds:.1f} s ({cpu:.1f} s of CPU)")
        sources = {"": ROOT}
        if args.baseline:
            base = folder / "baseline"
            base.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline, "dlcli"],
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
            sources = {f" (at {args.baseline})": base, "": ROOT}
        for compressed in (False, True):
            kind = "compressed NPZ" if compressed else "NPZ"
            path = folder / f"rows-{args.rows}{'-z' if compressed else ''}.npz"
            write_npz(path, args.rows, 1, args.features, compressed)
            for label, src in sources.items():
                mib, seconds, cpu = peak_of([sys.executable, "-m", "dlcli", "predict", run_dir,
                                             str(path), "--proba", "--output",
                                             str(folder / "out.csv")], src)
                lines = sum(1 for _ in open(folder / "out.csv")) - 1
                assert lines == args.rows, (lines, args.rows)
                results[f"predict {args.rows:,} rows, {kind}{label}"] = {
                    "peak_mib": round(mib, 1), "seconds": round(seconds, 2),
                    "cpu_seconds": round(cpu, 2),
                    "file_mib": round(path.stat().st_size / 2**20, 1)}
                print(f"predict {args.rows:>9,} rows ({path.stat().st_size / 2**20:.0f} MiB "
                      f"{kind}){label}: peak {mib:.0f} MiB, {seconds:.1f} s ({cpu:.1f} s of "
                      "CPU)")
            path.unlink()
        path = folder / f"rows-{args.rows}.csv"
        whole = peak_of([sys.executable, "-c",
                         f"import numpy; numpy.loadtxt({str(path)!r}, delimiter=',', "
                         "skiprows=1)"])
        results[f"numpy.loadtxt of all {args.rows:,} rows"] = {"peak_mib": round(whole[0], 1)}
        print(f"for scale: numpy.loadtxt of the whole file peaks at {whole[0]:.0f} MiB; "
              f"importing dlcli.apply at {floor[0]:.0f} MiB")
    record = {"date": stamp, "load_average": os.getloadavg(), "machine": platform.platform(), "python": platform.python_version(),
              "numpy": np.__version__, "cpus": os.cpu_count(), "features": args.features,
              "results": results}
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
