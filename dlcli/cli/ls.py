"""``dlcli ls [RUNS_DIR]``: one line per run, study and search, newest first."""
from __future__ import annotations

import csv
import io
import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from dlcli.cli import complete
from rich.table import Table

from dlcli import console, numbers
from dlcli.cli.compare import output_console

if TYPE_CHECKING:   # imported where used: building the CLI loads no numpy
    from dlcli.reports import listing


class ListFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def metric_label(metric: str) -> str:
    """``dev_accuracy`` -> ``dev acc``, ``final.dev_loss`` -> ``final dev loss``."""
    return metric.replace("accuracy", "acc").replace(".", " ").replace("_", " ")


def fit_widths(natural: dict[str, int], width: int) -> dict[str, int]:
    """Column widths that fit ``width`` (one space between columns). Every column but name and
    tags keeps its natural width (a number or a date is never cut); name and tags share what
    is left, tags getting at most 40% of it; when name would get under 10, tags are dropped
    (width 0)."""
    widths = dict(natural)
    fixed = sum(w for c, w in natural.items() if c not in ("name", "tags"))
    available = width - fixed - (len(natural) - 1)
    if natural["name"] + natural["tags"] <= available:
        return widths
    widths["tags"] = min(natural["tags"], max(6, int(available * 0.4)))
    widths["name"] = available - widths["tags"]
    if widths["name"] < 10:
        widths["tags"] = 0
        widths["name"] = max(4, available + 1)
    return widths


STATUS_STYLES = {"running": "cyan", "killed": "red", "failed": "red", "diverged": "red",
                 "interrupted": "yellow", "unreadable": "red"}


def render(entries: list[listing.Entry], metric: str) -> None:
    from dlcli.reports import listing
    from dlcli.reports.compare import direction

    out = output_console()
    groups = any(e.kind != "run" for e in entries)
    label = metric_label(metric)
    rows = [{"id": e.id, "name": e.name, "status": e.status,
             **({"runs": str(len(e.runs))} if groups else {}),
             "epochs": numbers.count(e.epochs),
             label: numbers.measure(e.value, pad=True), "age": listing.age(e.started),
             "tags": ", ".join(e.tags)} for e in entries]
    columns = list(rows[0])
    natural = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    widths = fit_widths(natural, out.width)
    right = {"runs", "epochs", label, "age"}
    table = Table(box=None, pad_edge=False, header_style="bold", show_edge=False,
                  padding=(0, 1), collapse_padding=True)
    shown = [c for c in columns if widths[c] > 0]
    for column in shown:
        table.add_column(column, width=widths[column], no_wrap=True, overflow="ellipsis",
                         justify="right" if column in right else "left")
    for entry, row in zip(entries, rows):
        table.add_row(*(row[c] for c in shown), style=STATUS_STYLES.get(entry.status))
    out.print(table)
    better = "lower" if direction(metric) == "min" else "higher"
    notes = [f"{label}: {metric} of each run's best epoch ({better} is better)"
             + ("; a study or search shows its best run" if groups else "")]
    notes += [f"best of {e.name} ({e.id}): {e.best.run}" for e in entries
              if e.kind != "run" and e.best is not None and e.value is not None]
    for note in notes:
        console.err.print(note, markup=False, highlight=False, style="dim", soft_wrap=False)


def to_csv(rows: list[dict]) -> str:
    from dlcli.reports import listing

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(listing.DATA_KEYS)
    for row in rows:
        writer.writerow(["" if row[k] is None else json.dumps(row[k])
                         if isinstance(row[k], list) else row[k] for k in listing.DATA_KEYS])
    return buffer.getvalue()


def ls(
    runs_dir: Annotated[Path, typer.Argument(
        help="A directory of runs.", metavar="RUNS_DIR",
        autocompletion=complete.run_collections)] = Path("runs"),
    status: Annotated[Optional[list[str]], typer.Option(
        "--status", metavar="STATUS[,STATUS]",
        help="Only these statuses: running, completed, early_stopped, diverged, interrupted, "
             "failed, killed, unreadable (repeatable, or comma-separated).",
        show_default=False)] = None,
    tag: Annotated[Optional[list[str]], typer.Option(
        "--tag", "-t", metavar="TAG", help="Only runs with this tag (repeatable: every tag).",
        show_default=False)] = None,
    sort: Annotated[Optional[str], typer.Option(
        "--sort", metavar="METRIC",
        help="Sort by this metric, best first (NAME at the best epoch, best.NAME or "
             "final.NAME), and show it. Default: newest first, showing dev_accuracy (or "
             "train_accuracy without a dev split).", show_default=False)] = None,
    output_format: Annotated[ListFormat, typer.Option(
        "--format", help="table for people; csv and json for other tools.")
    ] = ListFormat.table,
) -> None:
    """List runs, newest first: id, name, status, epochs, best metric, age and tags.

    A study or search directory is one line, with the number of its runs and its best run's
    epochs and metric. A run whose process is gone shows as killed.
    """
    from dlcli.reports import listing
    from dlcli.reports.compare import direction, metric_names

    statuses = listing.check_statuses(status or [])
    entries = listing.read_entries(runs_dir)
    if sort is not None:   # an InputError for a name that is not a metric
        direction(sort, "--sort", metric_names([r for e in entries for r in e.runs]))
    metric = sort or listing.default_metric(entries)
    listing.score(entries, metric)
    entries = listing.filter_entries(entries, statuses, tag or [])
    if sort is not None:
        entries = listing.sort_by_metric(entries, metric)
    if output_format is ListFormat.json:
        typer.echo(json.dumps([listing.to_data(e, metric) for e in entries], indent=2))
    elif output_format is ListFormat.csv:
        typer.echo(to_csv([listing.to_data(e, metric) for e in entries]), nl=False)
    elif not entries:
        console.info(f"no runs in {runs_dir}" + (" match" if statuses or tag else ""))
    else:
        render(entries, metric)
