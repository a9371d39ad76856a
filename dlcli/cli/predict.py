"""``dlcli predict RUN_DIR INPUT``: a trained run's predictions for new examples, streamed."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer


class PredictFormat(str, Enum):
    csv = "csv"
    json = "json"


def with_progress(batches: Iterable[Any], what: str) -> Iterator[Any]:
    """``batches`` as they are, with a count of the examples done on standard error when it is
    a terminal (a million-row file takes a while)."""
    from dlcli import console

    if not console.err.is_terminal:
        yield from batches
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn(what), TextColumn("{task.completed:,} examples"),
                  TimeElapsedColumn(), console=console.err, transient=True) as progress:
        task = progress.add_task(what, total=None)
        for batch in batches:
            yield batch
            progress.advance(task, batch.m)


RunDir = Annotated[Path, typer.Argument(help="A run directory (made by dlcli train).",
                                        metavar="RUN_DIR", show_default=False)]


def predict(
    run_dir: RunDir,
    input_: Annotated[str, typer.Argument(
        help="A CSV file with the training file's feature columns (matched by name; a label "
             "column is ignored), an NPZ file with X, an NPY table, the run's own split (train, "
             "dev, test) or a built-in data set.", metavar="INPUT", show_default=False)],
    proba: Annotated[bool, typer.Option(
        "--proba", help="Also print each class's probability (one column per class).")
    ] = False,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Write to this file (replaced when the predictions are "
                               "complete) instead of standard output.", dir_okay=False)
    ] = None,
    output_format: Annotated[PredictFormat, typer.Option(
        "--format", help="csv: a header and one line per example; json: an array of "
                         "objects.")] = PredictFormat.csv,
) -> None:
    """Predict the class of every example of INPUT with a trained run.

    One line per example, in INPUT's order: the predicted label, in the training file's class
    labels, and with --proba one probability column per class. Inference mode: no dropout,
    batch norm with its running statistics. A CSV, NPZ or NPY file is read a block of rows at a
    time, so its size does not matter. A row with a value that is not a finite number, or a missing
    or unknown column, is refused naming the file, row and column (exit code 2).
    """
    from dlcli.apply import load_run
    from dlcli.apply.inputs import batches
    from dlcli.apply.predictions import write_predictions
    from dlcli.runs.files import open_atomic

    model = load_run(run_dir)
    rows = with_progress(batches(model, input_), "predicting")
    fmt = output_format.value
    if output is not None:
        with open_atomic(output, "w", encoding="utf-8", newline="") as handle:
            write_predictions(model, rows, handle, proba=proba, fmt=fmt)
        return
    try:
        write_predictions(model, rows, sys.stdout, proba=proba, fmt=fmt)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (| head): not an error. Point stdout at devnull so the
        # interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
