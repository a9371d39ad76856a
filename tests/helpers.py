"""Small helpers shared by the end-to-end tests."""
from __future__ import annotations

import csv
import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import yaml

from dlcli.study.runner import StudyCallback

SMALL = {"name": "small", "seed": 1,
         "data": {"dataset": "moons", "options": {"n_samples": 200}, "dev_fraction": 0.25},
         "model": {"hidden": [6, 3]},
         "optimizer": {"name": "adam", "learning_rate": 0.01},
         "training": {"epochs": 15, "batch_size": 32}}


def write_config(folder: Path, config: dict[str, Any] | None = None, name: str = "exp.yaml"
                 ) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(config if config is not None else SMALL))
    return path


def write_yaml(path: Path, data: Any) -> Path:
    """``data`` as YAML in the file ``path`` (a config, a search space)."""
    path.write_text(yaml.safe_dump(data))
    return path


def csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header (a study's study.csv or trials.csv)."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def sub_dirs(folder: Path) -> list[Path]:
    """The directories in ``folder``, by name (a study's runs, oldest first)."""
    return sorted(p for p in folder.iterdir() if p.is_dir())


class StopAfter(StudyCallback):
    """A study callback that presses Ctrl-C after ``count`` finished tasks."""

    def __init__(self, count: int) -> None:
        self.count = count

    def on_task_end(self, study: Any, outcome: Any) -> None:
        self.count -= 1
        if self.count == 0:
            raise KeyboardInterrupt


def only_run(runs_dir: Path) -> Path:
    runs = sorted(p for p in runs_dir.iterdir() if p.is_dir())
    assert len(runs) == 1, runs
    return runs[0]


def metrics(run: Path) -> dict[str, Any]:
    return json.loads((run / "metrics.json").read_text())


def history(run: Path) -> list[dict[str, str]]:
    with open(run / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def sigint_as_in_a_terminal() -> None:
    # A process started in the background of a non-interactive shell (as CI may start the
    # suite) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt: a child
    # meant to be interrupted gets the default disposition back, as a foreground command has.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_interruptible(args: list[str], **kwargs: Any) -> subprocess.Popen:
    """``subprocess.Popen(args, ...)`` for a command a test will Ctrl-C (with ``interrupt``)."""
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=sigint_as_in_a_terminal, **kwargs)


def interrupt(proc: subprocess.Popen, *, wait: float = 20.0, attempts: int = 3
              ) -> tuple[str, str]:
    """Ctrl-C as a user gives it: SIGINT, and once more if the process is still running
    ``wait`` seconds later. Returns (stdout, stderr)."""
    for _ in range(attempts):
        proc.send_signal(signal.SIGINT)
        try:
            return proc.communicate(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    proc.kill()
    out, err = proc.communicate()
    raise AssertionError(f"still running after {attempts} SIGINTs; stderr:\n{err}")
