"""Training from a memory-mapped file larger than the memory the run may use.

    python benchmarks/mmap_train.py [--rows 1000000] [--limit-mb 1024] [--epochs 1]
                                    [--out benchmarks/results/mmap-<date>.json]

Writes (once) an ``.npy`` table of ``rows`` x 785 float32 (a label column and 784 features, 3.1 GB
for a million rows), then runs ``dlcli train`` on it with ``data.memory_map: true``. With
``--limit-mb`` and a writable cgroup memory controller (root on Linux), the run is confined to that
much memory, page cache included, so the file cannot be held in memory at once. Reported: wall
time, the exit code, and the process's peak resident memory split into anonymous memory (what the
run allocates) and file-backed pages of the map (cache the kernel may drop at any time), sampled
every 0.1 s from /proc.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FEATURES = 784


def write_table(path: Path, rows: int) -> None:
    table = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                      shape=(rows, FEATURES + 1))
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, FEATURES)).astype(np.float32)
    for start in range(0, rows, 50_000):
        k = min(50_000, rows - start)
        y = rng.integers(0, 10, k)
        table[start:start + k, 0] = y
        table[start:start + k, 1:] = centres[y] + rng.normal(size=(k, FEATURES)) * 2.0
    table.flush()
    del table


def cgroup(limit_mb: int) -> Path | None:
    """A fresh cgroup (v1 or v2) limited to ``limit_mb``, or None when none can be made."""
    for root, limit_file in ((Path("/sys/fs/cgroup/memory"), "memory.limit_in_bytes"),
                             (Path("/sys/fs/cgroup"), "memory.max")):
        if not (root / limit_file).exists() and not (root / "cgroup.subtree_control").exists():
            continue
        group = root / f"dlcli-bench-{os.getpid()}"
        try:
            group.mkdir()
            (group / limit_file).write_text(str(limit_mb << 20))
            return group
        except OSError:
            continue
    return None


def status(pid: int) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile", "VmRSS"):
                out[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--limit-mb", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--file", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    path = args.file or Path(f"/tmp/dlcli-bench-table-{args.rows}.npy")
    if not path.exists():
        print(f"writing {path} ...", file=sys.stderr)
        write_table(path, args.rows)
    # Drop the file's pages from the page cache, so that the run's reads are its own (pages
    # cached by the writer would be charged to the writer's cgroup, not the run's).
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    work = Path(tempfile.mkdtemp(prefix="dlcli-mmap-"))
    config = work / "big.yaml"
    config.write_text(json.dumps({
        "name": "mapped", "seed": 0,
        "data": {"train": str(path), "target": 0, "memory_map": True, "dev_fraction": 0.01},
        "model": {"hidden": [64]}, "optimizer": {"name": "adam", "learning_rate": 0.001},
        "training": {"epochs": args.epochs, "batch_size": 512}}))
    group = cgroup(args.limit_mb) if args.limit_mb else None
    command = [sys.executable, "-m", "dlcli", "train", str(config), "--runs-dir",
               str(work / "runs"), "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    if group is not None:
        (group / ("tasks" if (group / "tasks").exists() else "cgroup.procs")).write_text(
            str(proc.pid))
    peak: dict[str, int] = {}
    while proc.poll() is None:
        for key, value in status(proc.pid).items():
            peak[key] = max(peak.get(key, 0), value)
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    out, err = proc.communicate()
    run_dir = out.strip().splitlines()[-1] if out.strip() else None
    metrics = json.loads(Path(run_dir, "metrics.json").read_text()) if run_dir else {}
    result = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "file": str(path), "file_bytes": path.stat().st_size, "rows": args.rows,
        "memory_limit_mb": args.limit_mb if group is not None else None,
        "machine_memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "exit_code": proc.returncode, "wall_seconds": seconds,
        "peak_rss_anon_bytes": peak.get("RssAnon"), "peak_rss_file_bytes": peak.get("RssFile"),
        "peak_rss_bytes": peak.get("VmRSS"), "status": metrics.get("status"),
        "final": metrics.get("final"), "stderr_tail": err.strip()[-1500:] if proc.returncode else "",
        "load_average": os.getloadavg(), "cgroup_peak_bytes": None}
    if group is not None:
        peak_file = group / ("memory.max_usage_in_bytes"
                             if (group / "memory.max_usage_in_bytes").exists() else "memory.peak")
        try:
            result["cgroup_peak_bytes"] = int(peak_file.read_text())
        except (OSError, ValueError):
            result["cgroup_peak_bytes"] = None
        try:
            group.rmdir()
        except OSError:
            pass
    target = args.out or HERE / "results" / f"mmap-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("file_bytes", "memory_limit_mb", "exit_code",
                                             "wall_seconds", "peak_rss_anon_bytes",
                                             "peak_rss_file_bytes", "status",
                                             "cgroup_peak_bytes")}, indent=2))
    print(f"written {target}")


if __name__ == "__main__":
    main()
