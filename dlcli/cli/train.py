"""``dlcli train``: one config -> one run directory."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from dlcli import console
from dlcli.cli.options import NoteOption, SetOption, TagOption
from dlcli.errors import RunError

if TYPE_CHECKING:
    from dlcli.experiment import RunResult


def run_and_report(launch: Callable[..., RunResult], *, epochs: int, description: str,
                   quiet: bool) -> None:
    """Start a run with ``launch`` (``experiment.run`` or ``experiment.resume`` with their
    arguments bound), show its progress and summary on stderr, print its directory on stdout.

    A diverged run is a RunError (exit code 1) that says why."""
    callbacks = [] if quiet else [console.ProgressBar(epochs, description)]

    def started(path: Path, prepared: Any) -> None:
        if not quiet:
            console.info(f"run directory: {path}")

    # The figures are drawn in a helper process that loads matplotlib while the run trains.
    result = launch(callbacks=callbacks, log=None if quiet else console.info, on_start=started,
                    draw_in_background=True)
    if not quiet:
        console.print_summary(result.metrics)
    typer.echo(str(result.path))
    if result.status == "diverged":
        raise RunError(result.metrics.get("message") or "the run diverged")


def train(
    config: Annotated[Path, typer.Argument(help="YAML config file (see configs/).",
                                           metavar="CONFIG", show_default=False)],
    set_: SetOption = None,
    runs_dir: Annotated[Path, typer.Option("--runs-dir", help="Where run directories go.")
                        ] = Path("runs"),
    name: Annotated[Optional[str], typer.Option(
        "--name", help="Run name (default: the config's name:, else the file's stem).")] = None,
    epochs: Annotated[Optional[int], typer.Option(
        "--epochs", min=1, help="Shorthand for --set training.epochs=N.",
        show_default=False)] = None,
    tag: TagOption = None,
    note: NoteOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="No progress bar or summary; print only the "
                                             "run directory.")] = False,
) -> None:
    """Train the network a config describes and write a run directory.

    Prints the run directory it made (the last line of standard output). Exit code 0 when the
    run completed or stopped early, 1 when it diverged or failed, 2 for bad input, 130 when
    interrupted with Ctrl-C (the run keeps what it logged and can be resumed).
    """
    from functools import partial

    from dlcli.config import load_config
    from dlcli.reports.background import start_early

    overrides = list(set_ or [])
    if epochs is not None:
        overrides.append(f"training.epochs={epochs}")
    cfg = load_config(config, overrides, name=name)
    start_early()   # the figures' helper loads matplotlib while this loads numpy, data, ...
    from dlcli.experiment import run
    run_and_report(partial(run, cfg, runs_dir, overrides=overrides, tags=tag, note=note),
                   epochs=cfg.training.epochs, description=cfg.name or "run", quiet=quiet)
