"""``dlcli train``: one config -> one run directory."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dlcli import console
from dlcli.config import load_config

SetOption = Annotated[Optional[list[str]], typer.Option(
    "--set", "-s", metavar="KEY.PATH=VALUE",
    help="Override a config value, e.g. --set optimizer.learning_rate=1e-3 (repeatable; "
         "values are YAML scalars).")]


def train(
    config: Annotated[Path, typer.Argument(help="YAML config file (see configs/).",
                                           metavar="CONFIG", show_default=False)],
    set_: SetOption = None,
    runs_dir: Annotated[Path, typer.Option("--runs-dir", help="Where run directories go.")
                        ] = Path("runs"),
    name: Annotated[Optional[str], typer.Option(
        "--name", help="Run name (default: the config's name:, else the file's stem).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="No progress bar or summary; print only the "
                                             "run directory.")] = False,
) -> None:
    """Train the network a config describes and write a run directory.

    Prints the run directory it made (the last line of standard output). Exit code 0 when the
    run completed or stopped early, 1 when it diverged or failed, 2 for bad input, 130 when
    interrupted with Ctrl-C (the run keeps what it logged and can be resumed).
    """
    from dlcli.experiment import run

    overrides = list(set_ or [])
    cfg = load_config(config, overrides, name=name)
    callbacks = [] if quiet else [console.ProgressBar(cfg.training.epochs, cfg.name or "run")]

    def started(path: Path, prepared: object) -> None:
        if not quiet:
            console.info(f"run directory: {path}")

    result = run(cfg, runs_dir, overrides=overrides, callbacks=callbacks,
                 log=None if quiet else console.info, on_start=started)
    if not quiet:
        console.print_summary(result.metrics)
    typer.echo(str(result.path))
    if result.status in ("diverged", "failed"):
        if result.status == "diverged":
            console.error(result.metrics.get("message", "the run diverged"))
        raise typer.Exit(1)
