"""``dlcli resume``: continue a run from its last checkpoint ("babysitting" one model)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dlcli import console
from dlcli.cli.train import SetOption
from dlcli.run_schema import CONFIG_FILE


def resume(
    run_dir: Annotated[Path, typer.Argument(help="The run directory to continue.",
                                            metavar="RUN_DIR", show_default=False)],
    epochs: Annotated[Optional[int], typer.Option(
        "--epochs", min=1, help="Train until this many epochs in all (default: the config's "
                                "training.epochs).")] = None,
    set_: SetOption = None,
    runs_dir: Annotated[Optional[Path], typer.Option(
        "--runs-dir", help="Where the new run directory goes (default: beside the parent).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="Print only the new run directory.")] = False,
) -> None:
    """Continue a run from its last checkpoint into a new run directory.

    The new run records its parent, repeats the parent's history up to the checkpoint and
    continues the epoch numbers. Without --set it ends exactly where an uninterrupted run would;
    --set may nudge what makes sense mid-run (learning rate, schedule, regularisation, dropout,
    batch size, early stopping), e.g. --set optimizer.learning_rate=0.001.
    """
    from dlcli.config import load_config
    from dlcli.experiment import resume as resume_run

    overrides = list(set_ or [])
    total = epochs
    if total is None:
        total = load_config(run_dir / CONFIG_FILE, overrides).training.epochs \
            if (run_dir / CONFIG_FILE).exists() else 1
    callbacks = [] if quiet else [console.ProgressBar(total, run_dir.name)]

    def started(path: Path, prepared: object) -> None:
        if not quiet:
            console.info(f"run directory: {path}")

    result = resume_run(run_dir, runs_dir, epochs=epochs, overrides=overrides,
                        callbacks=callbacks, log=None if quiet else console.info,
                        on_start=started)
    if not quiet:
        console.print_summary(result.metrics)
    typer.echo(str(result.path))
    if result.status in ("diverged", "failed"):
        raise typer.Exit(1)
