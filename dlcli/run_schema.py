"""Facts about runs (SPEC section 1, docs/run-directory.md), stated once.

The files of a run directory, the metric names and which way each is better, and the columns of
history.csv. ``train``, ``runs``, ``reports``, ``config`` and ``cli`` read them here; nothing
restates them. Standard library only: the numerical core imports this module too.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

# -- the files of a run directory --------------------------------------------------------------

CONFIG_FILE = "config.yaml"          # the resolved config; `dlcli train` accepts it again
OVERRIDES_FILE = "overrides.yaml"    # the raw --set overrides, as given
HISTORY_FILE = "history.csv"         # one row per logged epoch, appended as training goes
METRICS_FILE = "metrics.json"        # status, final and best metrics, facts about the run
PARAMS_FILE = "params.npz"           # the trained parameters (SPEC section 1 keys only)
MODEL_FILE = "model.json"            # what applying the trained network needs besides params
CHECKPOINT_FILE = "checkpoint.npz"   # everything `dlcli resume` needs
COST_PLOT_FILE = "cost.png"          # the cost curve
BOUNDARY_PLOT_FILE = "boundary.png"  # the decision boundary, for 2-feature data
LOG_FILE = "train.log"               # what the run said, and a failed run's traceback
HEARTBEAT_FILE = "heartbeat"         # touched every few seconds while a process trains the run
META_FILE = "meta.json"              # a study's or search's tags and note (its runs carry them)

RUN_FILES = (CONFIG_FILE, OVERRIDES_FILE, HISTORY_FILE, METRICS_FILE, PARAMS_FILE, MODEL_FILE,
             CHECKPOINT_FILE, COST_PLOT_FILE, BOUNDARY_PLOT_FILE, LOG_FILE, HEARTBEAT_FILE)

# -- metrics and their direction ---------------------------------------------------------------

Direction = Literal["min", "max"]

COST = "cost"   # the objective minimised: J0 plus the penalties (SPEC section 3)
# What is measured on a split, and which way is better: accuracy is maximised, loss minimised.
MEASURES: dict[str, Direction] = {"loss": "min", "accuracy": "max"}
EVALUATED_SPLITS = ("train", "dev")   # measured at every evaluation epoch (history rows)
FINAL_SPLITS = ("test",)              # measured once, at the end (metrics.json only)
SPLITS = (*EVALUATED_SPLITS, *FINAL_SPLITS)


def metric_name(split: str, measure: str) -> str:
    """``dev`` + ``loss`` -> ``dev_loss``."""
    return f"{split}_{measure}"


def split_metrics(splits: Iterable[str]) -> tuple[str, ...]:
    return tuple(metric_name(split, measure) for split in splits for measure in MEASURES)


# The metrics of an epoch, in the order tables and files show them.
EPOCH_METRICS = (COST, *split_metrics(EVALUATED_SPLITS))
# Everything a metrics.json block may hold.
METRICS = (*EPOCH_METRICS, *split_metrics(FINAL_SPLITS))
# What early stopping may monitor and a search select on (history columns), dev first.
MONITORS = (*split_metrics(("dev", "train")), COST)
assert set(MONITORS) == set(EPOCH_METRICS)


def direction(metric: str) -> Direction | None:
    """``min`` for a loss or the cost, ``max`` for an accuracy, None for anything else.

    ``metric`` may carry a block prefix (``best.dev_accuracy``, ``final.cost``)."""
    name = metric.rpartition(".")[2]
    if name == COST:
        return "min"
    split, _, measure = name.rpartition("_")
    return MEASURES.get(measure) if split in SPLITS else None


def default_monitor(has_dev: bool) -> str:
    """The metric that picks a run's best epoch when none is named."""
    return metric_name("dev" if has_dev else "train", "loss")


# -- history.csv -------------------------------------------------------------------------------

EPOCH, STEP, LEARNING_RATE = "epoch", "step", "learning_rate"
COUNT_COLUMNS = (EPOCH, STEP)   # integers; every other column is a measurement
HISTORY_COLUMNS = (*COUNT_COLUMNS, LEARNING_RATE, *EPOCH_METRICS)
GRAD_NORM_PREFIX = "grad_norm_"   # training.log_grad_norms: one column per weight matrix


def grad_norm_column(param: str) -> str:
    """``W1`` -> ``grad_norm_W1``."""
    return GRAD_NORM_PREFIX + param


def history_columns(grad_norm_params: Iterable[str] = ()) -> list[str]:
    """The columns of history.csv, with a gradient-norm column per name in ``grad_norm_params``."""
    return [*HISTORY_COLUMNS, *(grad_norm_column(p) for p in grad_norm_params)]
