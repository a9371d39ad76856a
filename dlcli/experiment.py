"""One experiment, wired end to end: ``run(config, runs_dir)`` for the CLI and for Python users.

Everything that can be wrong with the input (config, data, init_from) is found before the run
directory is made. Then the run directory gets config.yaml, overrides.yaml, model.json (what
applying the trained network needs), metrics.json (status ``running``), history.csv row by row,
checkpoints, and at the end params.npz, cost.png and the final metrics.json.
"""
from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlcli import __version__
from dlcli.apply.metadata import describe
from dlcli.blas import blas_limit, threads_for
from dlcli.build import build_trainer, check_fits, load_run_data
from dlcli.config.load import load_config, read_yaml
from dlcli.config.resumable import check_resumable
from dlcli.config.schema import Config
from dlcli.data.dataset import Dataset
from dlcli.errors import DlcliError, InputError, RunError, WriteError, os_reason
from dlcli.numbers import count, counted, duration
from dlcli.reports import boundary
from dlcli.reports.background import Painter
from dlcli.reports.confusion import confusion_block
from dlcli.reports.plots import plot_cost
from dlcli.resources import check_memory
from dlcli.run_schema import (BOUNDARY_PLOT_FILE, CHECKPOINT_FILE, CONFIG_FILE,
                              COST_PLOT_FILE, EPOCH, HISTORY_FILE, LOG_FILE,
                              METRICS_FILE, MODEL_FILE, OVERRIDES_FILE, PARAMS_FILE,
                              default_monitor, direction)
from dlcli.runs.files import (clean_json, now_utc, write_json, write_npz, write_yaml,
                              writing)
from dlcli.runs.checkpoint import load_checkpoint
from dlcli.runs.reader import read_history
from dlcli.runs.recorder import Recorder
from dlcli.runs.rundir import create_run_dir
from dlcli.runs.summary import best_row, final_block, metric_block
from dlcli.runs.tags import check_note, check_tags, merge_tags, run_note, run_tags
from dlcli.train.callbacks import Callback, EarlyStopping
from dlcli.train.loop import Trainer
from dlcli.train.streams import Streams

Log = Callable[[str], None]


@dataclass
class Prepared:
    """A validated experiment, ready to train: nothing has been written yet."""

    config: Config
    data: Dataset
    trainer: Trainer
    hints: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    path: Path
    status: str
    metrics: dict[str, Any]
    history: list[dict[str, Any]]


def prepare(config: Config, callbacks: list[Callback] | None = None) -> Prepared:
    """Load the data and build the network, optimiser and trainer; raise on any bad input."""
    streams = Streams.from_seed(config.seed, config.data.seed)
    data = load_run_data(config)
    memory_hints = check_memory(config, data)   # before the network's arrays are allocated
    trainer = build_trainer(config, data, streams, callbacks)
    return Prepared(config, data, trainer, memory_hints + check_fits(config, data))


def monitor_of(config: Config) -> tuple[str, str]:
    """(history column, min|max) that picks the best epoch."""
    stopping = config.training.early_stopping
    if stopping is not None:
        return stopping.monitor, stopping.mode
    monitor = default_monitor(config.has_dev_split)
    return monitor, direction(monitor)


def summarize(trainer: Trainer, config: Config, *, run: str, started: str,
              test: dict[str, float], parent: str | None = None,
              tags: list[str] | None = None, note: str | None = None) -> dict[str, Any]:
    """The content of metrics.json."""
    monitor, mode = monitor_of(config)
    history = trainer.history
    if trainer.restored_epoch is not None:
        best = next(r for r in history if r["epoch"] == trainer.restored_epoch)
    else:
        best = best_row(history, monitor, mode)
    final = final_block(history, test)
    seconds = trainer.progress.train_seconds
    restored = ({"restored_epoch": trainer.restored_epoch}
                if trainer.restored_epoch is not None else {})
    return clean_json({
        "run": run, "name": config.name, "status": trainer.status, "message": trainer.message,
        "epochs_run": trainer.progress.epoch, "steps": trainer.progress.step,
        "best_epoch": best["epoch"] if best else None, "monitor": monitor, **restored,
        "final": final, "best": metric_block(best),
        "train_seconds": round(seconds, 6),
        "samples_per_second": round(trainer.progress.samples / seconds, 1) if seconds else None,
        "seed": config.seed, "started": started,
        "finished": None if trainer.status == "running" else now_utc(),
        "host": socket.gethostname(), "pid": os.getpid(), "parent": parent,
        "tags": list(tags or []), "note": note,
        "versions": {"dlcli": __version__, "python": platform.python_version(),
                     "numpy": np.__version__},
    })


def run(config: Config, runs_dir: str | Path = "runs", *, overrides: list[str] | None = None,
        callbacks: list[Callback] | None = None, log: Log | None = None,
        on_start: Callable[[Path, Prepared], None] | None = None,
        draw_in_background: bool = False, tags: Sequence[str] | None = None,
        note: str | None = None) -> RunResult:
    """Train ``config`` into a new run directory under ``runs_dir`` and return the result.

    Raises ``InputError`` (nothing written) for bad input. A KeyboardInterrupt is recorded as
    status ``interrupted`` and then re-raised. ``draw_in_background``: load matplotlib in a helper
    process while the run trains and draw the run's figures there (``dlcli train`` does; see
    ``dlcli.reports.background``); either way they are written before this returns. ``tags`` and
    ``note`` are kept in metrics.json (``dlcli ls --tag`` finds them)."""
    labels = {"tags": check_tags(tags), "note": check_note(note)}
    prepared = prepare(config, callbacks)
    path = create_run_dir(runs_dir, config.name or "run")
    return _train_in(path, prepared, overrides=overrides, log=log, on_start=on_start,
                     painter=Painter(background=draw_in_background), labels=labels)


def _train_in(path: Path, prepared: Prepared, *, overrides: list[str] | None, log: Log | None,
              on_start: Callable[[Path, Prepared], None] | None, painter: Painter,
              parent: Path | None = None, epochs: int | None = None,
              labels: dict[str, Any] | None = None) -> RunResult:
    """Write the run's files into ``path`` and train (from wherever the trainer stands)."""
    config, trainer, data = prepared.config, prepared.trainer, prepared.data
    started = now_utc()
    facts = {"parent": str(parent.resolve()) if parent is not None else None,
             **(labels or {})}
    log_path = path / LOG_FILE
    logfile = open(log_path, "a", encoding="utf-8")

    def say(text: str) -> None:
        with writing(log_path):
            logfile.write(text + "\n")
            logfile.flush()
        if log is not None:
            log(text)

    failure: BaseException | None = None
    try:
        write_yaml(path / CONFIG_FILE, config.to_dict())
        write_yaml(path / OVERRIDES_FILE, list(overrides or []))
        write_json(path / MODEL_FILE, describe(config, data, trainer.network))
        write_json(path / METRICS_FILE, summarize(trainer, config, run=path.name,
                                                  started=started, test={}, **facts))
        recorder = Recorder(path, checkpoint_every=config.training.checkpoint_every)
        recorder.pending.extend(trainer.history)   # a resumed run carries its parent's rows
        # The recorder goes first so its final checkpoint is taken before restore-best.
        trainer.callbacks.insert(0, recorder)
        if parent is not None:
            say(f"run {path.name}: resumed from {parent} at epoch "
                f"{count(trainer.progress.epoch)}")
        else:
            say(f"run {path.name}: {data.source}, {count(data.train.m)} training examples, "
                f"{counted(data.n_features, 'feature')}, "
                f"{counted(data.n_classes, 'class', 'classes')}; "
                f"network {trainer.network.sizes}, "
                f"{counted(trainer.network.theta.size, 'parameter')}")
        for hint in prepared.hints:
            say(f"hint: {hint}")
        if on_start is not None:
            on_start(path, prepared)
        # A diverging run overflows on its way to inf/NaN; the loop reports that as the
        # status "diverged", so numpy's warnings would only repeat it as noise.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), \
                blas_limit(threads_for(trainer.network.sizes, trainer.batch_size)):
            trainer.fit(epochs)
    except BaseException as exc:
        failure = exc
        if not isinstance(exc, KeyboardInterrupt):
            trainer.status = "failed"
            if isinstance(exc, DlcliError):
                trainer.message = str(exc)
            else:   # a bug: its traceback goes to train.log
                trainer.message = f"{type(exc).__name__}: {exc}"
                with contextlib.suppress(OSError):
                    logfile.write(traceback.format_exc())
                    logfile.flush()
        raise
    finally:   # also on Ctrl-C (status "interrupted"): keep what the run has
        try:
            metrics = _finish(trainer, config, path, started, say, facts, painter,
                              failing=failure is not None)
        finally:
            with contextlib.suppress(OSError):
                logfile.close()
    return RunResult(path, trainer.status, metrics, trainer.history)


def resume(run_dir: str | Path, runs_dir: str | Path | None = None, *,
           epochs: int | None = None, overrides: list[str] | None = None,
           callbacks: list[Callback] | None = None, log: Log | None = None,
           on_start: Callable[[Path, Prepared], None] | None = None,
           draw_in_background: bool = False, tags: Sequence[str] | None = None,
           note: str | None = None) -> RunResult:
    """Continue a run from its last checkpoint into a new run directory.

    The new run keeps its parent's tags (``tags`` adds to them) and note (``note`` replaces it).

    ``epochs`` is the total number of epochs to reach (default: the config's). Without changes,
    the result is bit-for-bit the run an uninterrupted ``dlcli train`` of that many epochs gives.
    The new directory records its parent; its history repeats the parent's rows up to the
    checkpoint and continues the epoch numbers."""
    parent = Path(run_dir)
    config_path, checkpoint_path = parent / CONFIG_FILE, parent / CHECKPOINT_FILE
    if not parent.is_dir():
        raise InputError(f"{parent} is not a directory")
    if not config_path.exists() or not checkpoint_path.exists():
        raise InputError(f"{parent} is not a resumable run directory (it needs {CONFIG_FILE} "
                         f"and {CHECKPOINT_FILE})")
    overrides = list(overrides or [])
    check_resumable(overrides)
    parent_metrics = _parent_metrics(parent)
    labels = {"tags": merge_tags(run_tags(parent_metrics), check_tags(tags)),
              "note": check_note(note) or run_note(parent_metrics)}
    raw = read_yaml(config_path)
    if epochs is not None:
        overrides.append(f"training.epochs={int(epochs)}")
    config = load_config(raw=raw, overrides=overrides)
    state = load_checkpoint(checkpoint_path)
    start = int(state["epoch"])
    target = config.training.epochs
    if target <= start:
        raise InputError(f"{parent} is already at epoch {start} and training.epochs is "
                         f"{target}; give --epochs N with N > {start} to train further")
    prepared = prepare(config, callbacks)
    trainer = prepared.trainer
    try:
        trainer.load_state_dict(state)
    except (KeyError, ValueError) as exc:
        raise RunError(f"checkpoint {checkpoint_path} does not fit its config: {exc}") from None
    # The parent's rows up to the checkpoint, in this run's columns: resuming with
    # training.log_grad_norms turned off leaves out the parent's gradient-norm cells.
    columns = trainer.history_columns()
    trainer.history = [{key: row.get(key) for key in columns}
                       for row in _parent_history(parent, start)]
    _explain_carried_stop(prepared, parent, start)
    path = create_run_dir(runs_dir if runs_dir is not None else parent.parent,
                          config.name or "run")
    return _train_in(path, prepared, overrides=overrides, log=log, on_start=on_start,
                     painter=Painter(background=draw_in_background), parent=parent,
                     epochs=target, labels=labels)


class _CarriedStop(Callback):
    """Adds the way on to the message of a resumed run that stops early again at once."""

    def __init__(self, way_on: str) -> None:
        self.way_on = way_on

    def on_train_end(self, trainer: Trainer) -> None:
        if trainer.status == "early_stopped" and self.way_on not in trainer.message:
            trainer.message += (f", counting the parent run's epochs; to train on, resume it "
                                f"with {self.way_on}")


def _explain_carried_stop(prepared: Prepared, parent: Path, start: int) -> None:
    """A run that stopped early carries its early-stopping state (best value and epoch) into
    the resumed run, which then stops again at its first evaluation unless the monitor
    improves: say so before it starts, and name the patience that would let it train on."""
    stopping = next((c for c in prepared.trainer.callbacks if isinstance(c, EarlyStopping)),
                    None)
    if stopping is None or stopping.best_epoch is None:
        return
    waited = start - stopping.best_epoch
    if waited < stopping.patience:
        return
    way_on = f"--set training.early_stopping.patience={waited + stopping.patience}"
    prepared.hints.append(
        f"{parent.name} stopped early: {stopping.monitor} has not improved since epoch "
        f"{stopping.best_epoch} ({counted(waited, 'epoch')}, patience {stopping.patience}), so "
        f"this run stops again at its first evaluation unless it improves; {way_on} gives it "
        f"{counted(stopping.patience, 'more epoch')}")
    prepared.trainer.callbacks.append(_CarriedStop(way_on))


def _parent_metrics(parent: Path) -> dict[str, Any]:
    """The parent's metrics.json, or {} when it is missing or damaged (resume needs only the
    config and the checkpoint)."""
    try:
        metrics = json.loads((parent / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


def _confusion(trainer: Trainer) -> dict[str, Any] | None:
    """The confusion matrix on the test split, or the dev split without one (None without
    either): counted with the parameters the run kept, in inference mode."""
    data = trainer.data
    name, split = (("test", data.test) if data.test is not None else ("dev", data.dev))
    if split is None:
        return None
    return confusion_block(name, split.y, trainer.network.predict(split.X), data.class_names)


def _parent_history(parent: Path, start: int) -> list[dict[str, Any]]:
    """The parent's history rows up to its checkpoint's epoch ``start``; an InputError naming
    history.csv when they do not reach it (the resumed history would have a hole)."""
    path = parent / HISTORY_FILE
    try:
        rows = read_history(path)
    except FileNotFoundError:
        rows = []
    except UnicodeDecodeError:
        raise InputError(f"cannot resume {parent}: {path} is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"cannot resume {parent}: {path} cannot be read "
                         f"({os_reason(exc)})") from None
    except ValueError as exc:
        raise InputError(f"cannot resume {parent}: {path} cannot be read ({exc})") from None
    kept = [row for row in rows if row[EPOCH] is not None and row[EPOCH] <= start]
    epochs = [row[EPOCH] for row in kept]
    if any(b <= a for a, b in zip(epochs, epochs[1:])):
        raise InputError(f"cannot resume {parent}: {path} repeats or reorders epochs; it must "
                         "hold each epoch once, in order")
    if not epochs or epochs[0] != 0 or epochs[-1] != start:
        last = f"ends at epoch {epochs[-1]}" if epochs else "holds no rows"
        raise InputError(f"cannot resume {parent}: {path} {last} but checkpoint.npz is at "
                         f"epoch {start}; the resumed history would miss epochs (was "
                         f"{HISTORY_FILE} cut or edited?)")
    return kept


def _finish(trainer: Trainer, config: Config, path: Path, started: str, say: Log,
            facts: dict[str, Any], painter: Painter, *, failing: bool = False
            ) -> dict[str, Any]:
    """Write the run's final files: params.npz, the pictures and, last, metrics.json (its
    honest status: when it says completed, every other file is there).

    A write that fails (a full disk) makes the run ``failed`` with that reason, and the other
    files are still attempted, metrics.json above all. The first failure is raised, unless
    ``failing``: then the error already on its way up is the one the user sees."""
    errors: list[RunError] = []

    def fail(exc: RunError) -> None:
        errors.append(exc)
        if trainer.status != "failed":
            trainer.status, trainer.message = "failed", str(exc)

    def attempt(write: Callable[[], Any]) -> None:
        try:
            write()
        except WriteError as exc:
            fail(exc)

    trained = trainer.status in ("completed", "early_stopped")
    test = trainer.evaluate_test() if trained else {}
    confusion = _confusion(trainer) if trained else None

    def final_metrics() -> dict[str, Any]:
        metrics = summarize(trainer, config, run=path.name, started=started, test=test,
                            **facts)
        if confusion is not None:
            metrics["confusion"] = confusion
        return metrics

    attempt(lambda: write_npz(path / PARAMS_FILE, trainer.network.get_params()))
    metrics = final_metrics()
    painter.submit(COST_PLOT_FILE, plot_cost, trainer.history, path / COST_PLOT_FILE,
                   title=path.name, metrics=metrics)
    inputs = boundary.from_trained(trainer.network, trainer.data) if trained else None
    if inputs is not None:
        painter.submit(BOUNDARY_PLOT_FILE, boundary.plot_boundary, inputs,
                       path / BOUNDARY_PLOT_FILE, title=f"{path.name}: decision boundary")
    for figure in painter.finish():
        if figure.kind == WriteError.__name__:   # a full disk fails the run, as for any file
            fail(RunError(figure.reason))
        else:   # a figure that could not be drawn otherwise is a warning, not a failed run
            attempt(lambda figure=figure: say(f"warning: {figure.label} not drawn: "
                                              f"{figure.kind}: {figure.reason}"))
    if errors:   # the status is now failed
        metrics = final_metrics()
    attempt(lambda: write_json(path / METRICS_FILE, metrics))
    epochs, steps = trainer.progress.epoch, trainer.progress.step
    attempt(lambda: say(
        f"{trainer.status} after {count(epochs)} epoch{'' if epochs == 1 else 's'} "
        f"({count(steps)} step{'' if steps == 1 else 's'}) in "
        f"{duration(trainer.progress.train_seconds)} of training"
        # a diverged run's reason is the error the command ends with: said once, last
        + (f": {trainer.message}" if trainer.message and trainer.status != "diverged"
           else "")))
    if errors and not failing:
        raise errors[0]
    return metrics
