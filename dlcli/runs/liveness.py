"""Is a run's process still alive? (SPEC section 1: a killed run is recognised.)

A training run records its process id and host in metrics.json and touches its ``heartbeat``
file every HEARTBEAT_SECONDS from a background thread. A run whose metrics.json still says
``running`` is *killed* when its process is gone: on the same host, when no process has its id;
on another host (a shared file system, a Dask worker), when its heartbeat is older than
STALE_SECONDS. Runs written before the pid was recorded cannot be judged and stay ``running``.
"""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dlcli.run_schema import HEARTBEAT_FILE, default_monitor, direction
from dlcli.runs.summary import best_row, final_block, metric_block

HEARTBEAT_SECONDS = 10.0
# A run on another host is taken for dead when its heartbeat is this old: six missed beats.
STALE_SECONDS = 60.0


def touch(path: Path) -> None:
    """Set ``path``'s modification time to now, making the file if needed (no rename: cheap)."""
    with open(path, "a", encoding="utf-8"):
        pass
    os.utime(path)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # it exists, but belongs to someone else
        return True
    except OSError:
        return True
    return True


def heartbeat_age(run_dir: Path, now: float | None = None) -> float | None:
    """Seconds since the run's last heartbeat, or None when it has none."""
    try:
        beat = (run_dir / HEARTBEAT_FILE).stat().st_mtime
    except OSError:
        return None
    return max(0.0, (time.time() if now is None else now) - beat)


def process_gone(run_dir: Path, metrics: Mapping[str, Any], now: float | None = None) -> bool:
    """Whether the process that was training ``run_dir`` is gone (see the module docstring)."""
    pid, host = metrics.get("pid"), metrics.get("host")
    if isinstance(pid, bool) or not isinstance(pid, int) or not isinstance(host, str):
        return False
    if host == socket.gethostname():
        return not pid_alive(pid)
    age = heartbeat_age(run_dir, now)
    return age is not None and age > STALE_SECONDS


def killed_metrics(metrics: Mapping[str, Any],
                   history: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """metrics.json as the run would have written it when it stopped, from its history rows:
    status ``killed``, epochs, steps and the final and best blocks (the best by metrics.json's
    ``monitor``)."""
    result = dict(metrics)
    pid, host = metrics.get("pid"), metrics.get("host")
    result["status"] = "killed"
    result["message"] = (f"its process (pid {pid} on {host}) is gone; epochs and metrics are "
                         "from history.csv")
    if history:
        last = history[-1]
        monitor = str(metrics.get("monitor") or default_monitor(False))
        best = best_row(history, monitor, direction(monitor) or "min")
        result.update({"epochs_run": last.get("epoch"), "steps": last.get("step"),
                       "final": final_block(history, {}), "best": metric_block(best),
                       "best_epoch": best["epoch"] if best else None})
    return result
