"""One trial of a search (SPEC section 12): its spec, running it, its metric, trials.csv.

A trial is an ordinary run directory; ``run_trial`` is what a worker process executes, so
everything it takes is plain, picklable data (``TrialSpec``).
"""
from __future__ import annotations

import csv
import io
import math
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlcli.config import apply_overrides, load_config
from dlcli.errors import InputError, RunError
from dlcli.registry import did_you_mean
from dlcli.run_schema import MONITORS, default_monitor, direction
from dlcli.runs.files import csv_cell
from dlcli.tune.executors import trial_callbacks
from dlcli.tune.space import Space

SUCCEEDED = ("completed", "early_stopped")
FINISHED = (*SUCCEEDED, "diverged", "failed")   # what trials.csv records; never run again
HEAD = ("trial", "round", "status")
TAIL = ("seed", "run", "seconds", "worker", "message")
# Metrics a search may select on. Test metrics are left out on purpose: choosing
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
                         "value over the trial's epochs), or final.NAME (the last evaluated "
                         "epoch's)" + (f" ({hint})" if hint else ""))
    if column.startswith("dev_") and not has_dev:
        raise InputError(f"--metric {metric}: the config has no dev split; give "
                         "data.dev_fraction or data.dev, or use train_loss")
    return metric


def metric_of(history: Sequence[Mapping[str, Any]], metric: str) -> float | None:
    """A trial's metric from its history: the best value over the evaluated epochs (min for
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


# -- one trial -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrialSpec:
    """Everything a worker needs to run one trial (plain data: it is pickled to the worker)."""

    number: int
    round: int
    name: str
    seed: int
    values: dict[str, Any]
    overrides: list[str]             # the user's --set values, then the sampled values
    sampled: list[str]               # the sampled values as KEY.PATH=VALUE
    base: dict[str, Any]             # the resolved base config
    runs_dir: str
    metric: str


@dataclass
class Trial:
    """One trial's row of trials.csv."""

    number: int
    round: int
    status: str
    metric: float | None
    values: dict[str, Any]
    seed: int
    run: str = ""
    seconds: float = 0.0
    worker: str = ""
    message: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status in SUCCEEDED and self.metric is not None


def trial_config(spec: TrialSpec) -> dict[str, Any]:
    """The raw config of a trial: the base config, the sampled values, its name and seed."""
    raw = apply_overrides(spec.base, spec.sampled)
    # One data split for the whole search (SPEC section 12): the trial's own seed drives init,
    # shuffling and dropout, the base config's data seed the data and the dev split.
    data = raw.setdefault("data", {})
    if data.get("seed") is None:
        data["seed"] = spec.base.get("seed", 0)
    raw["name"], raw["seed"] = spec.name, spec.seed
    return raw


def run_trial(spec: TrialSpec) -> Trial:
    """Train one trial into its run directory; never raises for a failed or diverged trial.

    A KeyboardInterrupt gives status ``interrupted`` (the run directory records it too)."""
    from dlcli.experiment import run

    start = time.perf_counter()
    started: list[Path] = []
    trial = Trial(spec.number, spec.round, "failed", None, dict(spec.values), spec.seed,
                  worker=f"{socket.gethostname()}:{os.getpid()}")
    try:
        config = load_config(raw=trial_config(spec))
        result = run(config, spec.runs_dir, overrides=spec.overrides,
                     callbacks=trial_callbacks(), on_start=lambda path, _: started.append(path))
        trial.status = result.status
        trial.message = str(result.metrics.get("message") or "")
        if trial.status in SUCCEEDED:
            trial.metric = metric_of(result.history, spec.metric)
            if trial.metric is None:
                trial.message = trial.message or f"no finite {spec.metric} was logged"
    except KeyboardInterrupt:
        trial.status, trial.message = "interrupted", "stopped with Ctrl-C"
    except InputError as exc:
        # The sampled values do not fit together (each was checked alone): nothing was written.
        trial.message = str(exc)
    except Exception as exc:  # a bug or a numerical failure inside the run: record, go on
        trial.message = f"{type(exc).__name__}: {exc}"
    trial.run = started[0].name if started else ""
    trial.seconds = round(time.perf_counter() - start, 3)
    return trial


# -- trials.csv ----------------------------------------------------------------------------------

def trial_columns(space: Space, metric: str) -> list[str]:
    return [*HEAD, metric, *space, *TAIL]


def format_trials(trials: Sequence[Trial], space: Space, metric: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(trial_columns(space, metric))
    for t in sorted(trials, key=lambda t: t.number):
        writer.writerow([t.number, t.round, t.status, csv_cell(t.metric),
                         *[csv_cell(t.values.get(key)) for key in space],
                         t.seed, t.run, csv_cell(t.seconds), t.worker,
                         " ".join(t.message.split())])
    return buffer.getvalue()


def read_trials(path: Path, space: Space, metric: str) -> dict[int, Trial]:
    """trials.csv back into Trials (values parsed per distribution, so floats are exact)."""
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    expected = trial_columns(space, metric)
    trials: dict[int, Trial] = {}
    for line, row in enumerate(rows, start=2):
        try:
            if list(row) != expected or None in row.values():
                raise ValueError(f"columns do not match {', '.join(expected)}")
            trial = Trial(int(row["trial"]), int(row["round"]), row["status"],
                          float(row[metric]) if row[metric] else None,
                          {key: dist.parse_cell(row[key]) for key, dist in space.items()},
                          int(row["seed"]), row["run"], float(row["seconds"] or 0.0),
                          row["worker"], row["message"])
        except (ValueError, KeyError, TypeError) as exc:
            raise RunError(f"{path}, line {line}: {exc}") from None
        if trial.status in FINISHED:
            trials[trial.number] = trial
    return trials
