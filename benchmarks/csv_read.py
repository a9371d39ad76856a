"""Reading a CSV the size of MNIST (60,000 rows x 785 columns: a label and 784 pixels) with each
reader, in a fresh interpreter each, taking turns within each repeat.

    python benchmarks/csv_read.py [--repeat 3] [--kind float|int] [--out benchmarks/results/csv-<date>.json]

Readers: dlcli's (NumPy's C parser, then dlcli's checks), and as anchors
``pyarrow.csv.read_csv``, ``pandas.read_csv`` and ``numpy.loadtxt`` (each timed to a float64
array of the features, as dlcli returns). dlcli's time is the whole load and check: parse, the
finite check, the label encoding. Memory is the peak RSS of the process minus its RSS after the
imports, against the float32 array of the features (188 MB). ``float`` pixels are written as
``0.123456`` (about 19% non-zero), ``int`` pixels as 0-255.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROWS, PIXELS = 60_000, 784
READERS = ["dlcli", "pyarrow", "pandas", "numpy.loadtxt"]

WORKER = r"""
import resource, sys, time, json
reader, path = sys.argv[1], sys.argv[2]
import numpy as np
if reader == "dlcli":
    from dlcli.data import files
elif reader == "pyarrow":
    import pyarrow.csv as pcsv
elif reader == "pandas":
    import pandas as pd
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
base = rss()
t = time.perf_counter()
if reader == "dlcli":
    X = files.read_table(path, 0).X
elif reader == "pyarrow":
    table = pcsv.read_csv(path)
    X = np.empty((table.num_rows, table.num_columns - 1), order="F")
    for j in range(1, table.num_columns):
        X[:, j - 1] = table.column(j).to_numpy()
elif reader == "pandas":
    X = pd.read_csv(path).iloc[:, 1:].to_numpy(dtype=np.float64)
else:
    X = np.loadtxt(path, delimiter=",", skiprows=1)[:, 1:]
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"reader": reader, "seconds": seconds, "shape": list(X.shape),
                  "peak_bytes_over_imports": peak - base}))
"""


def write_file(path: Path, kind: str) -> None:
    import numpy as np
    rng = np.random.default_rng(0)
    with open(path, "w") as handle:
        handle.write("label," + ",".join(f"pixel{i}" for i in range(PIXELS)) + "\n")
        for start in range(0, ROWS, 1000):
            X = np.zeros((1000, PIXELS))
            on = rng.random(X.shape) < 0.19
            X[on] = rng.random(on.sum()) if kind == "float" else rng.integers(1, 256, on.sum())
            y = rng.integers(0, 10, 1000)
            fmt = (lambda v: "0" if v == 0 else f"{v:.6f}") if kind == "float" else \
                (lambda v: str(int(v)))
            handle.writelines(f"{y[i]}," + ",".join(map(fmt, X[i])) + "\n" for i in range(1000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kind", choices=["float", "int"], default="float")
    parser.add_argument("--readers", default=",".join(READERS))
    parser.add_argument("--file", type=Path, default=None, help="reuse this CSV")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    path = args.file or Path(f"/tmp/dlcli-bench-mnist-{args.kind}.csv")
    if not path.exists():
        print(f"writing {path} ...", file=sys.stderr)
        write_file(path, args.kind)
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    runs = []
    for repeat in range(args.repeat):
        for reader in args.readers.split(","):
            proc = subprocess.run([sys.executable, "-c", WORKER, reader, str(path)],
                                  capture_output=True, text=True, env=env)
            if proc.returncode:
                runs.append({"reader": reader, "error": proc.stderr.strip()[-500:]})
                continue
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"{repeat} {reader:14s} {runs[-1]['seconds']:6.2f} s  "
                  f"{runs[-1]['peak_bytes_over_imports'] / 1e6:6.0f} MB", file=sys.stderr)
    float32_bytes = ROWS * PIXELS * 4
    summary = {}
    for reader in args.readers.split(","):
        ok = [r for r in runs if r["reader"] == reader and "seconds" in r]
        if ok:
            summary[reader] = {
                "best_seconds": min(r["seconds"] for r in ok),
                "median_seconds": statistics.median(r["seconds"] for r in ok),
                "peak_over_float32": max(r["peak_bytes_over_imports"] for r in ok) / float32_bytes}
    result = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "file": str(path), "bytes": path.stat().st_size, "kind": args.kind,
              "load_average": os.getloadavg(), "cores": os.cpu_count(),
              "summary": summary, "runs": runs}
    out = args.out or HERE / "results" / f"csv-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    for reader, row in summary.items():
        print(f"{reader:14s} best {row['best_seconds']:6.2f} s  median "
              f"{row['median_seconds']:6.2f} s  peak {row['peak_over_float32']:.2f}x float32")
    print(f"written {out}")


if __name__ == "__main__":
    main()
