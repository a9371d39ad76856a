"""``dlcli compare RUN_DIR...`` (SPEC section 0): parse, call the library, render.

Human formats (table, markdown) and machine formats (csv, json) go to stdout; machine formats are
plain text, never rich markup. Notes on unreadable runs and the path of a written plot go to
stderr, so ``--format json > runs.json`` stays valid JSON.
"""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from dlcli.cli import complete
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from dlcli.errors import InputError, RunError, os_reason

if TYPE_CHECKING:   # the rest is imported where it is used: building the CLI loads no numpy
    from dlcli.reports import compare as report
    from dlcli.reports.columns import Column
    from dlcli.reports import groups as grouped
    from dlcli.runs.reader import RunRecord


class Format(str, Enum):
    table = "table"
    markdown = "markdown"
    csv = "csv"
    json = "json"


def output_console() -> Console:
    """A console for stdout; when it is not a terminal, wide enough that tables never wrap."""
    console = Console()
    return console if console.is_terminal else Console(width=400)


# Wider than any table: --wide draws every column whatever the terminal's width.
UNLIMITED = 100_000
WIDE_HINT = "--wide shows every column, --format csv|json every value"


def table_console(wide: bool = False) -> Console:
    """stdout for a results table: the terminal's width; piped or redirected, ``$COLUMNS`` or
    80 columns (as rich and most Unix tools do), so a table read with ``less`` or kept in a
    file looks as it does on screen. ``wide``: as wide as the table needs."""
    return Console(width=UNLIMITED) if wide else Console()


def natural_width(table: Table) -> int:
    """The width ``table`` takes when nothing limits it."""
    measuring = Console(width=UNLIMITED)
    return Measurement.get(measuring, measuring.options, table).maximum


def _run_table(columns: list[Column], best: bool) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold",
                  collapse_padding=True)
    table.add_column("", no_wrap=True)   # the best run's star
    for column in columns:
        table.add_column(column.header, no_wrap=True, justify="right" if column.numeric
                         else "left", overflow="ellipsis")
    rows = len(columns[0].cells) if columns else 0
    for index in range(rows):
        is_best = best and index == 0
        table.add_row("*" if is_best else "", *(c.cells[index] for c in columns),
                      style="bold green" if is_best else None)
    return table


def _fit(columns: list[Column], best: bool, width: int, wide: bool
         ) -> tuple[list[Column], list[Column]]:
    """(columns shown, columns left out) of a table drawn ``width`` wide (all with ``wide``)."""
    from dlcli.reports.columns import fit_columns

    if wide:
        return columns, []
    return fit_columns(columns, lambda cols: natural_width(_run_table(cols, best)) <= width)


def _transposed_table(columns: list[Column], best: bool) -> Table:
    """Runs as columns (headed by name, and id when names clash), fields as rows."""
    heads = [c for c in columns if c.key in ("name", "id")]
    fields = [c for c in columns if c.key not in ("name", "id")]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold",
                  collapse_padding=True)
    table.add_column("", no_wrap=True)
    for index in range(len(columns[0].cells)):
        title = "\n".join(c.cells[index] for c in heads) + (" *" if best and index == 0 else "")
        table.add_column(title, no_wrap=True, justify="right",
                         header_style="bold green" if best and index == 0 else "bold",
                         style="green" if best and index == 0 else None)
    for field in fields:
        table.add_row(field.name, *field.cells)
    return table


def render_table(comparison: report.Comparison, console: Console, wide: bool = False) -> None:
    """The runs as a table that fits ``console``: the least important columns left out (and
    named under it) when it does not, or runs as columns when there are few of them and that
    shows everything (``reports.columns``)."""
    from dlcli.reports import compare as report
    from dlcli.reports.columns import TRANSPOSE_MAX_RUNS, left_out_note

    columns = report.columns(comparison)
    best = comparison.best is not None
    width = console.width
    shown, left_out = _fit(columns, best, width, wide)
    table = _run_table(shown, best)
    if left_out and len(comparison.records) <= TRANSPOSE_MAX_RUNS:
        transposed = _transposed_table(columns, best)
        if natural_width(transposed) <= width:
            table, shown, left_out = transposed, columns, []
    console.print(table)
    lines = [report.caption(comparison, " (*)"),
             left_out_note(left_out, shown, width, WIDE_HINT), *report.notes(comparison)]
    _print_lines(lines, console, wide)


def _print_lines(lines: list[str], console: Console, wide: bool) -> None:
    """The lines under a table, wrapped at words to the terminal even when ``--wide`` drew the
    table as wide as it needs."""
    text = table_console() if wide else console
    for line in filter(None, lines):
        text.print(line, markup=False, highlight=False)


def render_groups(grouping: grouped.Grouping, console: Console, wide: bool = False) -> None:
    """One row per group, fitted to ``console`` as ``render_table`` fits runs."""
    from dlcli.reports import groups as grouped
    from dlcli.reports.columns import left_out_note

    columns = grouped.columns(grouping)
    best = bool(grouping.groups) and grouping.groups[0].sort_value is not None
    width = console.width
    shown, left_out = _fit(columns, best, width, wide)
    console.print(_run_table(shown, best))
    _print_lines([grouped.caption(grouping, " (*)" if best else ""),
                  left_out_note(left_out, shown, width, WIDE_HINT)], console, wide)


def group_keys(option: str | None, run_dirs: list[Path]) -> list[str] | None:
    """The --group-by keys; for one sweep directory, its grid keys unless ``none``."""
    from dlcli.reports import groups as grouped

    if option is None:
        return grouped.study_group_keys(run_dirs)
    if option.strip().lower() == "none":
        return None
    return grouped.parse_keys(option)


def with_tags(records: list[RunRecord], tags: list[str]) -> list[RunRecord]:
    """The runs that carry every tag in ``tags``; an InputError when none does."""
    if not tags:
        return records
    kept = [r for r in records if all(t in r.tags for t in tags)]
    if not kept:
        present = sorted({t for r in records for t in r.tags})
        raise InputError(f"no run has the tag{'s' if len(tags) > 1 else ''} "
                         f"{', '.join(tags)}; the runs' tags: {', '.join(present) or 'none'}")
    return kept


def check_plot_path(plot: Path) -> None:
    from dlcli.reports.plots import FORMATS

    if plot.suffix.lower() not in FORMATS:
        raise InputError(f"--plot {str(plot)!r}: give a file name ending in "
                         f"{', '.join(FORMATS)}")
    if not plot.parent.is_dir():
        raise InputError(f"--plot {str(plot)!r}: the directory {str(plot.parent)!r} "
                         "does not exist")


def compare(
    run_dirs: Annotated[list[Path], typer.Argument(
        help="Run directories, directories of runs (runs/), or a tune search's directory.",
        metavar="RUN_DIR",
        show_default=False, autocompletion=complete.run_collections)],
    metric: Annotated[str | None, typer.Option(
        help="Sort by this metric, best first: NAME (at the best epoch), best.NAME or "
             "final.NAME. Losses and cost sort ascending, accuracies descending. "
             "Default: dev_loss, or train_loss without a dev split.")] = None,
    output_format: Annotated[Format, typer.Option(
        "--format", help="table and markdown for people; csv and json for other tools.")
    ] = Format.table,
    plot: Annotated[Path | None, typer.Option(
        help="Also draw the runs' cost (and accuracy) curves overlaid into this .png file.",
        dir_okay=False)] = None,
    smooth: Annotated[float | None, typer.Option(
        help="Smooth the --plot curves with a bias-corrected moving average of this beta "
             "in [0, 1), e.g. 0.9.")] = None,
    all_params: Annotated[bool, typer.Option(
        "--all-params", help="Show every config value, not only those that differ.")] = False,
    group_by: Annotated[str | None, typer.Option(
        "--group-by", metavar="KEY[,KEY]",
        help="One row per group of runs with the same values of these config keys: n and "
             "mean ± std of each metric; --plot draws each group's mean curve with a min-max "
             "band. Default for a sweep directory: its grid keys (none: one row per run).",
        show_default=False)] = None,
    tag: Annotated[Optional[list[str]], typer.Option(
        "--tag", "-t", metavar="TAG", help="Only runs with this tag (repeatable: runs with "
                                           "every tag given).", show_default=False)] = None,
    wide: Annotated[bool, typer.Option(
        "--wide", help="Draw every column of the table, however wide (read it with less -S). "
                       "Without it the table fits the terminal, or 80 columns when piped "
                       "($COLUMNS if set), leaving out the least important columns and "
                       "naming them.")] = False,
) -> None:
    """Compare runs: the config values that differ, final and best metrics, sorted by a metric."""
    from dlcli.reports import compare as report
    from dlcli.reports import groups as grouped
    from dlcli.reports.plots import plot_runs
    from dlcli.reports.smoothing import check_beta
    from dlcli.runs.reader import read_runs

    if smooth is not None and plot is None:
        raise InputError("--smooth changes the --plot figure; add --plot FILE.png")
    if smooth is not None:
        check_beta(smooth)
    if plot is not None:
        check_plot_path(plot)
    keys = group_keys(group_by, run_dirs)
    records = with_tags(read_runs(run_dirs), tag or [])
    comparison = report.compare_runs(records, metric, all_params)
    grouping = grouped.group_runs(comparison, keys) if keys else None

    if grouping is not None:
        # One sweep directory grouped by its own grid: --plot draws what sweep drew.
        sweep = run_dirs[0] if group_by is None and not tag else None
        _show_groups(grouping, comparison, output_format, plot, wide, sweep)
    elif not _write(report, comparison, output_format):
        render_table(comparison, table_console(wide), wide)
    if output_format in (Format.json, Format.csv):
        for note in report.notes(comparison):
            typer.echo(f"note: {note}", err=True)

    if plot is not None and grouping is None:
        runs = [(label, r.history) for label, r in zip(report.run_labels(comparison),
                                                       comparison.records) if r.readable]
        try:
            plot_runs(runs, plot, smooth=smooth,
                      legend_title=f"best first by {comparison.metric}"
                      if comparison.best is not None else "")
        except OSError as exc:
            raise RunError(f"could not write {str(plot)!r}: {os_reason(exc)}") from None
        typer.echo(f"wrote {plot}", err=True)

    if not any(r.readable for r in records):
        raise RunError("the run could not be read" if len(records) == 1
                       else f"none of the {len(records):,} runs could be read")


def _write(writers: Any, subject: Any, output_format: Format) -> bool:
    """``subject`` (runs, or their groups) in a machine format, written by ``writers`` (the
    module with its ``to_json``, ``to_csv`` and ``to_markdown``); False for the table."""
    write = {Format.json: writers.to_json, Format.csv: writers.to_csv,
             Format.markdown: writers.to_markdown}.get(output_format)
    if write is None:
        return False
    typer.echo(write(subject), nl=output_format is Format.json)
    return True


def _show_groups(grouping: grouped.Grouping, comparison: report.Comparison,
                 output_format: Format, plot: Path | None, wide: bool,
                 sweep: Path | None = None) -> None:
    from dlcli.reports import compare as report
    from dlcli.reports import groups as grouped

    if not _write(grouped, grouping, output_format):
        render_groups(grouping, table_console(wide), wide)
    for note in report.notes(comparison, ranked=False):
        typer.echo(f"note: {note}", err=True)
    if plot is not None:
        from dlcli.reports.study_plot import plot_study
        groups, title = grouped.plot_groups(grouping), ""
        if sweep is not None:
            # The sweep's own points, in grid order, each with its seeds in order and the
            # sweep's labels: the same study.png (colours, boundaries, title) as sweep drew.
            from dlcli.study.grid import open_sweep

            study = open_sweep(sweep)
            groups, title = study.planner.groups(study) or groups, study.path.name
        try:
            plot_study(groups, plot, title=title)
        except OSError as exc:
            raise RunError(f"could not write {str(plot)!r}: {os_reason(exc)}") from None
        typer.echo(f"wrote {plot}", err=True)
