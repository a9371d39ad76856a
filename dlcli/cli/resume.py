"""``dlcli resume``: continue a run from its last checkpoint ("babysitting" one model)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dlcli.cli import complete
from dlcli.cli.options import NoteOption, QuietOption, SetOption, TagOption
from dlcli.cli.train import run_and_report


def resume(
    run_dir: Annotated[Path, typer.Argument(help="The run directory to continue.",
                                            metavar="RUN_DIR", show_default=False,
                                            autocompletion=complete.run_dirs)],
    epochs: Annotated[Optional[int], typer.Option(
        "--epochs", min=1, help="Train until this many epochs in all (default: the config's "
                                "training.epochs).")] = None,
    set_: SetOption = None,
    runs_dir: Annotated[Optional[Path], typer.Option(
        "--runs-dir", help="Where the new run directory goes (default: beside the parent).")
    ] = None,
    tag: TagOption = None,
    note: NoteOption = None,
    quiet: QuietOption = False,
) -> None:
    """Continue a run from its last checkpoint into a new run directory.

    The new run records its parent, repeats the parent's history up to the checkpoint and
    continues the epoch numbers. Without --set it ends exactly where an uninterrupted run would;
    --set may nudge what makes sense mid-run (learning rate, schedule, regularisation, dropout,
    batch size, early stopping), e.g. --set optimizer.learning_rate=0.001.
    """
    from functools import partial

    from dlcli.experiment import resume as resume_run

    run_and_report(partial(resume_run, run_dir, runs_dir, epochs=epochs,
                           overrides=list(set_ or []), tags=tag, note=note), quiet=quiet)
