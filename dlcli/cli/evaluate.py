"""``dlcli evaluate RUN_DIR DATA``: loss, accuracy, per-class metrics and confusion matrix."""
from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich.table import Table

from dlcli.cli.compare import output_console
from dlcli.cli.predict import RunDir, with_progress
from dlcli.numbers import count, counted, measure


def evaluate(
    run_dir: RunDir,
    data: Annotated[str, typer.Argument(
        help="Labelled data: a CSV file (the training file's columns), an NPZ file with X and "
             "y, an NPY table with its label column, the run's own split (train, dev, test) or "
             "a built-in data set.",
        metavar="DATA", show_default=False)],
    target: Annotated[Optional[str], typer.Option(
        "--target", help="The CSV column with the labels (default: the training file's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """How well a trained run does on labelled data.

    Loss (cross-entropy, without penalties) and accuracy in inference mode, as training
    evaluates; per class precision, recall, F1 and support; and the confusion matrix (rows:
    true class, columns: predicted). On the run's own train, dev or test split the loss and
    accuracy are those in its metrics.json for the parameters in params.npz.
    """
    from dlcli.apply import load_run
    from dlcli.apply.evaluation import evaluate as evaluate_model
    from dlcli.apply.inputs import batches

    model = load_run(run_dir)
    rows = with_progress(batches(model, data, labels=True, target=target), "evaluating")
    result = evaluate_model(model, rows, data)
    if as_json:
        typer.echo(json.dumps({"run": str(run_dir), **result.to_dict()}, indent=2))
        return
    console = output_console()
    console.print(f"{run_dir} on {data}", markup=False, highlight=False)
    console.print(f"{counted(result.m, 'example')}  loss {measure(result.loss)}  accuracy "
                  f"{measure(result.accuracy, pad=True)}", markup=False, highlight=False)
    report = Table(title="per class", title_justify="left")
    report.add_column("class")
    for name in ("precision", "recall", "f1", "support"):
        report.add_column(name, justify="right")
    for label, p, r, f, s in zip(result.classes, result.precision, result.recall, result.f1,
                                 result.support):
        report.add_row(str(label), *(measure(v, pad=True) for v in (p, r, f)), count(int(s)))
    report.add_section()
    for name, block in result.averages().items():
        report.add_row(f"{name} avg", *(measure(block[k], pad=True)
                                        for k in ("precision", "recall", "f1")), count(result.m))
    console.print(report)
    matrix = Table(title="confusion matrix", title_justify="left")
    matrix.add_column("true \\ predicted")
    for label in result.classes:
        matrix.add_column(str(label), justify="right")
    for label, row in zip(result.classes, result.confusion.tolist()):
        matrix.add_row(str(label), *[count(n) for n in row])
    console.print(matrix)
