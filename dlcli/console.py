"""Everything dlcli draws on the terminal: progress bars, summaries, messages.

Diagnostics and progress go to stderr; stdout carries what a script would read (the run
directory, machine formats), so ``dlcli train cfg.yaml | tail -1`` is the run directory.
"""
from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table
from rich.text import Text

from dlcli.run_schema import COST, EVALUATED_SPLITS, METRICS, metric_name
from dlcli.train.callbacks import Callback
from dlcli.train.loop import Trainer

DEV_ACCURACY = metric_name("dev", "accuracy")   # shown beside the cost on the progress bar

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def error(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)


def warn(message: str) -> None:
    err.print(f"[yellow]{message}[/]")


def info(message: str) -> None:
    err.print(message, markup=False)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


class ProgressBar(Callback):
    """A rich progress bar over epochs showing the current cost and dev accuracy.

    Updates at most ten times a second, so drawing costs nothing next to training."""

    def __init__(self, total_epochs: int, description: str = "training",
                 console: Console | None = None) -> None:
        self.total = total_epochs
        self.description = description
        self.console = console or err
        self._progress: Progress | None = None
        self._task: Any = None
        self._last = 0.0
        self._fields = {"cost": "-", "dev": ""}

    def on_train_begin(self, trainer: Trainer) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("epochs  cost {task.fields[cost]}{task.fields[dev]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=self.console, transient=False)
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=self.total,
                                             completed=trainer.progress.epoch, **self._fields)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self._last < 0.1 and row["epoch"] < self.total:
            return
        self._last = now
        self._update(row)

    def _update(self, row: dict[str, Any]) -> None:
        assert self._progress is not None
        dev = row.get(DEV_ACCURACY)
        self._progress.update(self._task, completed=row["epoch"], cost=_fmt(row.get(COST)),
                              dev=f"  dev acc {dev:.3f}" if dev is not None else "")

    def on_train_end(self, trainer: Trainer) -> None:
        if self._progress is None:
            return
        if trainer.history:
            self._update(trainer.history[-1])
        self._progress.stop()


def summary_table(metrics: dict[str, Any]) -> Table:
    """Final and best metrics of one run."""
    table = Table(title=f"{metrics.get('run', '')} — {metrics.get('status', '')}",
                  title_justify="left")
    table.add_column("")
    table.add_column("epoch", justify="right")
    keys = [k for k in METRICS if k in metrics.get("final", {}) or k in metrics.get("best", {})]
    for key in keys:
        split, _, measure = key.partition("_")
        measure = "acc" if measure == "accuracy" else measure
        table.add_column(f"{split}\n{measure}" if measure else key, justify="right")
    for label in ("final", "best"):
        block = metrics.get(label) or {}
        table.add_row(label, _fmt(block.get("epoch")), *[_fmt(block.get(k)) for k in keys])
    note = _evaluated_note(metrics.get("final") or {})
    if note:
        # not wrapped to the table's width: a table without a dev split is narrower than the note
        table.caption = Text(note, style="table.caption", no_wrap=True, overflow="ignore")
        table.caption_justify = "left"
    return table


def _evaluated_note(final: dict[str, Any]) -> str:
    """Which epoch the final train and dev metrics come from, when not ``final.epoch`` (a
    diverged run's last epoch is not evaluated); "" otherwise."""
    epoch = final.get("last_evaluated_epoch")
    splits = [s for s in EVALUATED_SPLITS if any(k.startswith(f"{s}_") for k in final)]
    if epoch is None or not splits:
        return ""
    return f"final {' and '.join(splits)} metrics are from epoch {epoch}, the last one evaluated"


def print_summary(metrics: dict[str, Any]) -> None:
    err.print(summary_table(metrics))
    seconds = metrics.get("train_seconds") or 0.0
    speed = metrics.get("samples_per_second")
    epochs, steps = metrics.get("epochs_run"), metrics.get("steps")
    err.print(f"{epochs} epoch{'' if epochs == 1 else 's'}, "
              f"{steps} step{'' if steps == 1 else 's'}, "
              f"{seconds:.2f}s training" + (f", {speed:,.0f} samples/s" if speed else ""),
              markup=False)
