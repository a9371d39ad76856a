"""Everything dlcli draws on the terminal: progress bars, summaries, messages.

Diagnostics and progress go to stderr; stdout carries what a script would read (the run
directory, machine formats), so ``dlcli train cfg.yaml | tail -1`` is the run directory.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dlcli.run_schema import COST, EVALUATED_SPLITS, METRICS, metric_name
from dlcli.train.callbacks import Callback

if TYPE_CHECKING:
    from dlcli.train.loop import Trainer

DEV_ACCURACY = metric_name("dev", "accuracy")   # shown beside the cost on the progress bar

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def error(message: str) -> None:
    """``error: message`` on one line (the console never wraps it)."""
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False)


def warn(message: str) -> None:
    err.print(f"[yellow]{escape(message)}[/]")


def info(message: str) -> None:
    err.print(message, markup=False)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


class Bar:
    """The one progress bar dlcli draws (stderr): description, a bar, done/total ``unit``, a
    short note (the latest figures), elapsed and remaining time.

    ``update`` redraws at most ten times a second unless ``force`` is given, so a caller may
    call it after every epoch at no cost next to training."""

    def __init__(self, description: str, total: int, unit: str,
                 console: Console | None = None) -> None:
        self.description, self.total, self.unit = description, total, unit
        self.console = console or err
        self._progress: Progress | None = None
        self._task: Any = None
        self._last = 0.0

    def start(self, completed: int = 0) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn(f"{self.unit}  {{task.fields[note]}}", markup=False),
            TimeElapsedColumn(), TimeRemainingColumn(), console=self.console, transient=False)
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=self.total,
                                             completed=completed, note="")

    def update(self, completed: int, note: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if self._progress is None or (not force and now - self._last < 0.1):
            return
        self._last = now
        self._progress.update(self._task, completed=completed, note=note)

    def print(self, text: str, style: str | None = None) -> None:
        """A line above the bar (the bar stays at the bottom)."""
        target = self._progress.console if self._progress is not None else self.console
        target.print(text, style=style, markup=False, highlight=False)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class ProgressBar(Callback):
    """Training progress over epochs on a ``Bar``, showing the cost and dev accuracy."""

    def __init__(self, total_epochs: int, description: str = "training",
                 console: Console | None = None) -> None:
        self.bar = Bar(description, total_epochs, "epochs", console)

    def on_train_begin(self, trainer: Trainer) -> None:
        self.bar.start(trainer.progress.epoch)
        self.bar.update(trainer.progress.epoch, f"cost {_fmt(None)}", force=True)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        self._update(row, force=row["epoch"] >= self.bar.total)

    def _update(self, row: dict[str, Any], force: bool) -> None:
        dev = row.get(DEV_ACCURACY)
        self.bar.update(row["epoch"], f"cost {_fmt(row.get(COST))}"
                        + (f"  dev acc {dev:.3f}" if dev is not None else ""), force=force)

    def on_train_end(self, trainer: Trainer) -> None:
        if trainer.history:
            self._update(trainer.history[-1], force=True)
        self.bar.stop()


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
