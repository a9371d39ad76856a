"""``dlcli export RUN_DIR --format onnx --output FILE``: the trained network for other runtimes."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from dlcli.cli.predict import RunDir


class ExportFormat(str, Enum):
    onnx = "onnx"


def export(
    run_dir: RunDir,
    output_format: Annotated[ExportFormat, typer.Option(
        "--format", help="onnx (needs the onnx extra: pip install 'dlcli\\[onnx]').")
    ] = ExportFormat.onnx,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="The file to write (default: model.onnx in the run directory).",
        dir_okay=False, show_default=False)] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace the output file if it exists.")] = False,
) -> None:
    """Export a trained run as an ONNX model that runs without Python or dlcli.

    The graph takes raw features as the training file has them (input X, one row per
    example), normalises them as training did, runs the network in inference mode (batch norm
    with its running statistics, no dropout) and gives each class's probability
    (probabilities) and the predicted label (label). Prints the file it wrote. An existing
    file is never replaced without --force.
    """
    from dlcli.apply import load_run
    from dlcli.apply.onnx_export import export_onnx
    from dlcli.errors import InputError
    from dlcli.runs.files import write_bytes

    output = Path(run_dir) / "model.onnx" if output is None else output
    if output.exists() and not force:
        raise InputError(f"{output} exists; give another --output, or --force to replace it")
    model = load_run(run_dir)
    data = export_onnx(model)
    write_bytes(output, data)
    typer.echo(str(output))
