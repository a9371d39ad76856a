"""Everything dlcli draws on the terminal: progress bars, summaries, messages.

Diagnostics and progress go to stderr; stdout carries what a script would read (the run
directory, machine formats), so ``dlcli train cfg.yaml | tail -1`` is the run directory.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.progress import Progress, ProgressColumn, Task
from rich.progress_bar import ProgressBar as BarGraphic
from rich.table import Table
from rich.text import Text

from dlcli.numbers import clock, count, counted, duration, measure
from dlcli.run_schema import COST, EPOCH, METRICS, metric_name
from dlcli.train.callbacks import Callback

if TYPE_CHECKING:
    from dlcli.train.loop import Trainer

DEV_ACCURACY = metric_name("dev", "accuracy")   # shown beside the cost on the progress bar

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def _say(console: Console, text: str | Text, style: str | None = None) -> None:
    """One message. In a terminal a long one wraps at word boundaries (the terminal itself
    would cut words); into a file or a pipe it stays on one line, for grep and logs."""
    console.print(text, style=style, markup=False, highlight=False,
                  soft_wrap=not console.is_terminal)


def error(message: str) -> None:
    """``error: message``."""
    _say(err, Text.assemble(("error:", "bold red"), " ", message))


def warn(message: str) -> None:
    _say(err, message, "yellow")


def info(message: str) -> None:
    _say(err, message)


@dataclass(frozen=True)
class Field:
    """One field of a progress bar's line. When the line is wider than the terminal, fields
    give way in ``rank`` order (lowest first; 0 never): to their ``short`` form if they have
    one, then cut to no fewer than ``least`` cells with an ellipsis (when ``least``), then
    gone, unless ``kept``."""

    text: str
    rank: int = 0
    short: str = ""
    least: int = 0
    kept: bool = False
    style: str = ""


BAR_WIDTH = (10, 40)      # the bar's narrowest and widest, in cells
# Cells left free at the right: the terminal echoes ^C after the line, and a line as wide as
# the terminal would wrap there, leaving the last bar drawn twice.
MARGIN = 2
TIMES_RANK = 20           # "0:03 elapsed · 0:10 left" becomes "0:03 · 0:10 left"
DESCRIPTION_RANK = 30     # the bar's label (the run or study name, printed above it too)
BAR_RANK = 40             # the bar itself goes last


def fit_line(width: int, fields: Sequence[Field], bar_at: int, bar_rank: int = BAR_RANK
             ) -> tuple[list[str], int]:
    """The texts of ``fields`` as they fit in ``width`` cells ("" for a field that went) and
    the bar's width (0 when it went), the bar standing just before ``fields[bar_at]``.

    The bar has one space on each side, the fields two between them. The bar shrinks first,
    down to ``BAR_WIDTH[0]``; then fields give way (see ``Field``), and the bar goes at its
    ``bar_rank`` among them."""
    texts = [f.text for f in fields]

    def length(bar: int) -> int:
        items = [cell_len(t) for t in texts[:bar_at] if t]
        after = [cell_len(t) for t in texts[bar_at:] if t]
        if bar:
            return sum(items) + sum(after) + bar + (1 if items else 0) + (1 if after else 0) \
                + 2 * max(0, len(items) - 1) + 2 * max(0, len(after) - 1)
        shown = items + after
        return sum(shown) + 2 * max(0, len(shown) - 1)

    bar = BAR_WIDTH[0]
    steps = sorted([*(i for i, f in enumerate(fields) if f.rank), -1],
                   key=lambda i: bar_rank if i < 0 else fields[i].rank)
    for i in steps:
        if length(bar) <= width:
            break
        if i < 0:
            bar = 0
            continue
        field = fields[i]
        if field.short:
            texts[i] = field.short
            if length(bar) <= width:
                break
        keep = cell_len(texts[i]) - (length(bar) - width)
        if field.least and keep >= field.least:
            texts[i] = _cut(texts[i], keep)
            break
        if not field.kept:
            texts[i] = ""
    if not bar and length(BAR_WIDTH[0]) <= width:   # a field that went after it left room
        bar = BAR_WIDTH[0]
    if bar:
        bar = max(BAR_WIDTH[0], min(BAR_WIDTH[1], width - length(1) + 1))
    return texts, bar


def _cut(text: str, cells: int) -> str:
    """``text`` in ``cells`` cells, its end replaced by an ellipsis when it is longer."""
    if cell_len(text) <= cells:
        return text
    while text and cell_len(text) > cells - 1:
        text = text[:-1]
    return text.rstrip() + "…"


class _Line(ProgressColumn):
    """A ``Bar``'s whole line, laid out anew for the terminal's width at every redraw."""

    def __init__(self, bar: Bar) -> None:
        super().__init__()
        self.owner = bar

    def render(self, task: Task) -> RenderableType:
        owner = self.owner
        elapsed = clock(task.finished_time if task.finished else task.elapsed)
        left = clock(0 if task.finished else task.time_remaining)
        total = count(task.total)
        fields = [Field(owner.description, DESCRIPTION_RANK, least=8, style="bold"),
                  Field(f"{count(task.completed):>{len(total)}}/{total} {owner.unit}", kept=True),
                  *owner.notes,
                  Field(f"{elapsed} elapsed · {left} left", TIMES_RANK,
                        short=f"{elapsed} · {left} left", kept=True, style="progress.elapsed")]
        texts, width = fit_line(owner.console.width - MARGIN, fields, 1, owner.bar_rank)
        line = Text(no_wrap=True, overflow="crop")
        for i, (field, text) in enumerate(zip(fields, texts)):
            if i == 1 and width:
                if line:
                    line.append(" ")
                bar = BarGraphic(total=task.total, completed=task.completed, width=width)
                options = owner.console.options.update(width=width)
                for segment in owner.console.render(bar, options):
                    line.append(segment.text, segment.style)
                line.append(" ")
            elif text and line and not line.plain.endswith(" "):
                line.append("  ")
            if text:
                line.append(text, style=field.style)
        return line


class Bar:
    """The one progress bar dlcli draws (stderr), on one line that fits the terminal:
    the description, a bar, done/total ``unit`` (``4,564/100,000 epochs``), the caller's note
    fields (the latest figures) and the elapsed and remaining time (``0:03 elapsed · 0:10
    left``). When the line would not fit, the bar shrinks and the least important fields give
    way (``fit_line``).

    ``update`` redraws at most ten times a second unless ``force`` is given, so a caller may
    call it after every epoch at no cost next to training."""

    def __init__(self, description: str, total: int, unit: str,
                 console: Console | None = None, bar_rank: int = BAR_RANK) -> None:
        self.description, self.total, self.unit = description, total, unit
        self.bar_rank = bar_rank
        self.console = console or err
        self.notes: list[Field] = []
        self._progress: Progress | None = None
        self._task: Any = None
        self._last = 0.0

    def start(self, completed: int = 0) -> None:
        self._progress = Progress(_Line(self), console=self.console, transient=False)
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=self.total,
                                             completed=completed)

    def update(self, completed: int, notes: Sequence[Field] = (), *,
               force: bool = False) -> None:
        now = time.monotonic()
        if self._progress is None or (not force and now - self._last < 0.1):
            return
        self._last = now
        self.notes = list(notes)
        self._progress.update(self._task, completed=completed)

    def print(self, text: str, style: str | None = None) -> None:
        """A line above the bar (the bar stays at the bottom), wrapped at word boundaries."""
        target = self._progress.console if self._progress is not None else self.console
        _say(target, text, style)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class ProgressBar(Callback):
    """Training progress over epochs on a ``Bar``: the cost and the latest dev accuracy, up to
    the trainer's ``epochs``."""

    DEV_RANK = 10   # the dev accuracy gives way first on a narrow terminal

    def __init__(self, description: str = "training", console: Console | None = None) -> None:
        self.bar = Bar(description, 0, "epochs", console)
        self._dev: float | None = None

    def on_train_begin(self, trainer: Trainer) -> None:
        self.bar.total = trainer.epochs
        self.bar.start(trainer.progress.epoch)
        last = trainer.history[-1] if trainer.history else {}
        self._update(last, force=True)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        self._update(row, force=row["epoch"] >= self.bar.total)

    def _update(self, row: dict[str, Any], force: bool) -> None:
        if row.get(DEV_ACCURACY) is not None:   # not every epoch is evaluated: keep the last
            self._dev = row[DEV_ACCURACY]
        notes = [Field(f"cost {measure(row.get(COST), pad=True)}", kept=True)]
        if self._dev is not None:
            notes.append(Field(f"dev acc {measure(self._dev, pad=True)}", self.DEV_RANK))
        self.bar.update(row.get("epoch", 0), notes, force=force)

    def on_train_end(self, trainer: Trainer) -> None:
        if trainer.history:
            self._update(trainer.history[-1], force=True)
        self.bar.stop()


def summary_table(metrics: dict[str, Any]) -> RenderableType:
    """Final and best metrics of one run, 4 significant digits, each row from the epoch in its
    epoch column. When the last epoch was not evaluated (a diverged run's never is), its row
    holds only its cost, an ``evaluated`` row holds the metrics of the last epoch that was, and
    a note below says so."""
    final, best = metrics.get("final") or {}, metrics.get("best") or {}
    table = Table(title=f"{metrics.get('run', '')} — {metrics.get('status', '')}",
                  title_justify="left")
    table.add_column("")
    table.add_column("epoch", justify="right")
    keys = [k for k in METRICS if k in final or k in best]
    for key in keys:
        split, _, what = key.partition("_")
        what = "acc" if what == "accuracy" else what
        table.add_column(f"{split}\n{what}" if what else key, justify="right")
    evaluated = final.get("last_evaluated_epoch")
    rows = [("final", final)]
    if evaluated is not None:
        cost = final.get(COST)
        if cost is None and metrics.get("status") == "diverged":
            cost = "diverged"   # its cost was not finite (metrics.json keeps null)
        rows = [("final", {EPOCH: final.get(EPOCH), COST: cost}),
                ("evaluated", {**{k: v for k, v in final.items() if k != COST},
                               EPOCH: evaluated})]
    for label, block in [*rows, ("best", best)]:
        table.add_row(label, count(block.get(EPOCH)),
                      *[_cell(block.get(k)) for k in keys])
    note = _evaluated_note(metrics)
    return Group(table, Text(note, style="table.caption")) if note else table


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else measure(value, pad=True)


def _evaluated_note(metrics: dict[str, Any]) -> str:
    """Why a run's summary has an ``evaluated`` row (its last epoch was not evaluated); ""
    when it has none."""
    final = metrics.get("final") or {}
    evaluated = final.get("last_evaluated_epoch")
    if evaluated is None:
        return ""
    epoch = count(final.get(EPOCH))
    why = f"the run diverged in epoch {epoch}" if metrics.get("status") == "diverged" else \
        f"epoch {epoch} was not evaluated"
    return f"{why}; epoch {count(evaluated)} was the last one evaluated"


def print_summary(metrics: dict[str, Any]) -> None:
    _say(err, summary_table(metrics))
    seconds = metrics.get("train_seconds") or 0.0
    speed = metrics.get("samples_per_second")
    _say(err, f"{counted(metrics.get('epochs_run') or 0, 'epoch')}, "
              f"{counted(metrics.get('steps') or 0, 'step')}, {duration(seconds)} of training"
              + (f", {count(round(speed))} samples/s" if speed else ""))
