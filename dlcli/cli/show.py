"""``dlcli show RUN_DIR``: one run's summary, config and cost curve, without opening files."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dlcli.cli import complete
from rich.console import Console
from rich.table import Table

from dlcli import console as cli_console
from dlcli import numbers
from dlcli.cli.compare import output_console
from dlcli.errors import InputError, RunError
from dlcli.reports.smoothing import check_beta, ewma
from dlcli.reports.termplot import text_plot

if TYPE_CHECKING:   # the rest is imported where it is used: building the CLI loads no numpy
    from dlcli.runs.reader import RunRecord

SUMMARY_KEYS = ("epochs_run", "steps", "best_epoch", "monitor", "restored_epoch", "seed", "started",
                "finished", "host", "pid", "parent")
COUNT_KEYS = ("epochs_run", "steps", "best_epoch", "restored_epoch")


def check_run_dir(path: Path) -> None:
    """An InputError unless ``path`` is one run directory (naming what it is instead, its best
    run and the command that takes it, when it holds runs)."""
    from dlcli.reports.compare import compare_runs
    from dlcli.reports.listing import group_kind
    from dlcli.runs.reader import find_runs, is_run_dir, read_run

    if is_run_dir(path):
        return
    runs = find_runs([path])  # raises compare's error for a missing path, a file, no runs
    comparison = compare_runs([read_run(run) for run in runs])
    best = comparison.best
    what = {"search": "a search", "study": "a sweep"}.get(group_kind(path), "a directory")
    example = (f"its best by {comparison.metric}, {str(best.path)!r}" if best is not None
               else repr(str(runs[-1])))
    raise InputError(f"{str(path)!r} is {what} of {len(runs)} run{'s' if len(runs) != 1 else ''}"
                     f", not one run; show takes one, e.g. {example}; dlcli compare {path} "
                     "compares them")


def summary(record: RunRecord) -> list[tuple[str, str]]:
    from dlcli.reports.compare import format_param, message

    m = record.metrics
    rows = [("run", str(record.path)), ("name", record.name), ("status", record.status)]
    if message(record):
        rows.append(("message", message(record)))
    if record.tags:
        rows.append(("tags", ", ".join(record.tags)))
    if record.note:
        rows.append(("note", record.note))
    rows += [(key.replace("_", " "), numbers.count(m[key]) if key in COUNT_KEYS
              and isinstance(m[key], int) else format_param(m[key]))
             for key in SUMMARY_KEYS if m.get(key) is not None]
    # A killed run's metrics.json is the one written at its start: its time is not known.
    if isinstance(m.get("train_seconds"), (int, float)) and record.status != "killed":
        speed = m.get("samples_per_second")
        rows.append(("time", f"{numbers.duration(m['train_seconds'])} of training" + (
            f", {numbers.count(round(speed))} samples/s"
            if isinstance(speed, (int, float)) else "")))
    if record.overrides:
        rows.append(("overrides", " ".join(f"--set {o}" for o in record.overrides)))
    return rows


def fact_lines(key: str, value: str, pad: int, width: int) -> str:
    """``key  value`` with a long value (a message, a path) wrapped inside its own column, at
    spaces where it has them, instead of running under the keys."""
    import textwrap

    room = max(20, width - pad - 2)
    lines = textwrap.wrap(value, room, break_on_hyphens=False) or [""]
    return "\n".join(f"{key if i == 0 else '':<{pad}}  {line}".rstrip()
                     for i, line in enumerate(lines))


def print_config(console: Console, config: Mapping[str, Any]) -> None:
    """The config as YAML, laid out as in the run's config.yaml; highlighted on a terminal."""
    from rich.syntax import Syntax  # loads pygments: only here

    from dlcli.runs.files import yaml_text
    from dlcli.runs.reader import nest

    text = yaml_text(nest(config)).rstrip("\n")
    if console.is_terminal:
        console.print(Syntax(text, "yaml", background_color="default"))
    else:
        console.print(text, markup=False, highlight=False)


def confusion_table(block: Any) -> Table | None:
    """metrics.json's confusion matrix as a table (rows: true class, columns: predicted)."""
    from dlcli.reports.confusion import confusion_rows

    rows = confusion_rows(block) if isinstance(block, Mapping) else None
    if rows is None:
        return None
    header, body = rows
    table = Table(title=f"confusion matrix ({block.get('split', 'dev')} split)",
                  title_justify="left")
    table.add_column(header[0])
    for name in header[1:]:
        table.add_column(name, justify="right")
    for row in body:
        table.add_row(*row)
    return table


def cost_plot(record: RunRecord, smooth: float | None, width: int) -> list[str]:
    """The training cost and, when present, the dev loss as a text plot."""
    from dlcli.reports.plots import has_column, series

    curves = {label: series(record.history, column)
              for label, column in (("training cost", "cost"), ("dev loss", "dev_loss"))
              if has_column(record.history, column)}
    if smooth is not None:
        curves = {f"{label} (smoothed)": (x, ewma(y, smooth))
                  for label, (x, y) in curves.items()}
    return text_plot(curves, width=width)


def show(
    run_dir: Annotated[Path, typer.Argument(
        help="One run directory.", metavar="RUN_DIR", show_default=False,
        autocompletion=complete.run_dirs)],
    smooth: Annotated[float | None, typer.Option(
        help="Smooth the plotted curve with a bias-corrected moving average of this beta "
             "in [0, 1), e.g. 0.9.")] = None,
) -> None:
    """Show one run: its summary and metrics, its config and a terminal plot of its cost."""
    from dlcli.runs.reader import read_run

    if smooth is not None:
        check_beta(smooth)
    check_run_dir(run_dir)
    record = read_run(run_dir)

    console: Console = output_console()
    facts = summary(record)
    pad = max(len(key) for key, _ in facts)
    for key, value in facts:
        console.print(fact_lines(key, value, pad, console.width), markup=False,
                      highlight=False)
    if record.block("final") or record.block("best"):
        console.print()
        console.print(cli_console.summary_table(record.metrics))
    confusion = confusion_table(record.metrics.get("confusion"))
    if confusion is not None:
        console.print(confusion)
    if record.config:
        console.print("\nconfig", style="bold")
        print_config(console, record.config)
    if record.history:
        console.print("\ncost by epoch", style="bold")
        width = max(20, min(console.width - 14, 70))
        for line in cost_plot(record, smooth, width):
            console.print(line, markup=False, highlight=False)
    if not record.readable:
        raise RunError(f"{run_dir} is unreadable: {record.unreadable}")
