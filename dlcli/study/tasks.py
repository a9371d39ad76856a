"""One run of a study (SPEC section 12): what a worker is given, running it, what it gives back.

A task is an ordinary run directory trained from the study's base config plus the planner's
values (a search's sampled values, a sweep's grid point) and its own seed. ``run_task`` is what a
worker process executes, so everything it takes is plain, picklable data (``Task``), and all it
returns is plain data too (``Outcome``, one row of the study's table).
"""
from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlcli.config import apply_overrides, load_config
from dlcli.errors import InputError
from dlcli.registry import did_you_mean
from dlcli.run_schema import METRICS, MONITORS, default_monitor, direction
from dlcli.study.executors import trial_callbacks

SUCCEEDED = ("completed", "early_stopped")
FINISHED = (*SUCCEEDED, "diverged", "failed")   # what a study's table records; never run again
# Metrics a study may select on. Test metrics are left out on purpose: choosing
# hyperparameters by the test set turns it into a second dev set.
METRIC_PREFIXES = ("best.", "final.")


# -- the metric ---------------------------------------------------------------------------------

def metric_mode(metric: str) -> str:
    """``max`` for accuracies, ``min`` for losses and cost."""
    return direction(metric) or "min"


def check_metric(metric: str | None, has_dev: bool) -> str:
    """The metric name to select on (default dev_loss, train_loss without a dev split)."""
    if metric is None:
        return default_monitor(has_dev)
    column = metric
    for prefix in METRIC_PREFIXES:
        column = column.removeprefix(prefix)
    if column not in MONITORS:
        names = [*MONITORS, *(p + m for p in METRIC_PREFIXES for m in MONITORS)]
        hint = did_you_mean(metric, names)
        raise InputError(f"--metric {metric!r}: choose one of {', '.join(MONITORS)} (the best "
                         "value over the run's epochs), or final.NAME (the last evaluated "
                         "epoch's)" + (f" ({hint})" if hint else ""))
    if column.startswith("dev_") and not has_dev:
        raise InputError(f"--metric {metric}: the config has no dev split; give "
                         "data.dev_fraction or data.dev, or use train_loss")
    return metric


def metric_of(history: Sequence[Mapping[str, Any]], metric: str) -> float | None:
    """A run's metric from its history: the best value over the evaluated epochs (min for
    losses, max for accuracies), or the last evaluated value for ``final.NAME``."""
    final = metric.startswith("final.")
    column = metric.removeprefix("final.").removeprefix("best.")
    values = [float(row[column]) for row in history
              if row.get(column) is not None and math.isfinite(float(row[column]))]
    if not values:
        return None
    if final:
        return values[-1]
    return max(values) if metric_mode(metric) == "max" else min(values)


# -- one task ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Task:
    """Everything a worker needs to run one task (plain data: it is pickled to the worker)."""

    number: int                      # the row of the study's table, from 1
    group: int                       # a search's round, a sweep's point (from 1)
    name: str                        # the run's name
    seed: int
    values: dict[str, Any]           # the planner's values, by config key path
    overrides: list[str]             # the user's --set values, then ``settings``
    settings: list[str]              # ``values`` as KEY.PATH=VALUE
    base: dict[str, Any]             # the resolved base config
    runs_dir: str
    metric: str


@dataclass
class Outcome:
    """What became of one task: one row of the study's table."""

    number: int
    group: int
    status: str
    metric: float | None
    values: dict[str, Any]
    seed: int
    run: str = ""
    seconds: float = 0.0
    worker: str = ""
    message: str = ""
    final: dict[str, float] = field(default_factory=dict)
    best: dict[str, float] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status in SUCCEEDED and self.metric is not None


def data_seed_of(base: Mapping[str, Any]) -> int:
    """The data seed of a study: its base config's ``data.seed``, else its ``seed``."""
    data = base.get("data") or {}
    seed = data.get("seed") if isinstance(data, Mapping) else None
    return int(base.get("seed", 0) if seed is None else seed)


def task_config(task: Task) -> dict[str, Any]:
    """The raw config of a task: the base config, the planner's values, its name and seed."""
    raw = apply_overrides(task.base, task.settings)
    # One data split for the whole study (SPEC section 12): the task's own seed drives init,
    # shuffling and dropout, the base config's data seed the data and the dev split.
    data = raw.setdefault("data", {})
    if data.get("seed") is None:
        data["seed"] = data_seed_of(task.base)
    raw["name"], raw["seed"] = task.name, task.seed
    return raw


def _numbers(block: Any) -> dict[str, float]:
    """A metrics.json block's finite metrics, and its epoch (an int)."""
    if not isinstance(block, Mapping):
        return {}
    numbers: dict[str, float] = {k: float(v) for k, v in block.items() if k in METRICS
                                 and isinstance(v, (int, float)) and not isinstance(v, bool)
                                 and math.isfinite(v)}
    if isinstance(block.get("epoch"), int):
        numbers["epoch"] = block["epoch"]
    return numbers


def run_task(task: Task) -> Outcome:
    """Train one task into its run directory; never raises for a failed or diverged run.

    A KeyboardInterrupt gives status ``interrupted`` (the run directory records it too)."""
    from dlcli.experiment import run

    start = time.perf_counter()
    started: list[Path] = []
    outcome = Outcome(task.number, task.group, "failed", None, dict(task.values), task.seed,
                      worker=f"{socket.gethostname()}:{os.getpid()}")
    try:
        config = load_config(raw=task_config(task))
        result = run(config, task.runs_dir, overrides=task.overrides,
                     callbacks=trial_callbacks(), on_start=lambda path, _: started.append(path))
        outcome.status = result.status
        outcome.message = str(result.metrics.get("message") or "")
        outcome.final = _numbers(result.metrics.get("final"))
        outcome.best = _numbers(result.metrics.get("best"))
        if outcome.status in SUCCEEDED:
            outcome.metric = metric_of(result.history, task.metric)
            if outcome.metric is None:
                outcome.message = outcome.message or f"no finite {task.metric} was logged"
    except KeyboardInterrupt:
        outcome.status, outcome.message = "interrupted", "stopped with Ctrl-C"
    except InputError as exc:
        # The values do not fit together (each was checked alone): nothing was written.
        outcome.message = str(exc)
    except Exception as exc:  # a bug or a numerical failure inside the run: record, go on
        outcome.message = f"{type(exc).__name__}: {exc}"
    outcome.run = started[0].name if started else ""
    outcome.seconds = round(time.perf_counter() - start, 3)
    return outcome
