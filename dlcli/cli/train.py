"""``dlcli train``: one config -> one run directory."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from dlcli import console
from dlcli.cli.options import (NameOption, NoteOption, QuietOption, RunsDirOption, SetOption,
                               TagOption)
from dlcli.errors import Interrupted, RunError

if TYPE_CHECKING:
    from dlcli.experiment import RunResult


def run_and_report(launch: Callable[..., RunResult], *, quiet: bool) -> None:
    """Start a run with ``launch`` (``experiment.run`` or ``experiment.resume`` with their
    arguments bound), show its progress and summary on stderr, print its directory on stdout.

    A diverged run is a RunError (exit code 1) that says why. On Ctrl-C the run directory is
    still printed on stdout, and the Interrupted error (exit code 130) gives the command that
    continues the run."""
    progress = None if quiet else console.ProgressBar()
    made: dict[str, Any] = {}

    def started(path: Path, prepared: Any) -> None:
        made.update(path=path, epochs=prepared.config.training.epochs)
        if progress is not None:   # labelled with the run's name, also when it is resumed
            progress.bar.description = prepared.config.name or "run"
            console.info(f"run directory: {path}")

    try:
        # The figures are drawn in a helper process that loads matplotlib while the run trains.
        result = launch(callbacks=[progress] if progress is not None else [],
                        log=None if quiet else console.info, on_start=started,
                        draw_in_background=True)
    except KeyboardInterrupt:
        if "path" not in made:   # stopped before the run directory was made
            raise
        typer.echo(str(made["path"]))
        raise interrupted(made["path"], made["epochs"]) from None
    if not quiet:
        console.print_summary(result.metrics)
    typer.echo(str(result.path))
    if result.status == "diverged":
        raise RunError(result.metrics.get("message") or "the run diverged")


def interrupted(path: Path, epochs: int) -> Interrupted:
    """What an interrupted run kept, and the command that continues it (when it can be)."""
    import shlex

    from dlcli.run_schema import CHECKPOINT_FILE

    if not (path / CHECKPOINT_FILE).exists():
        return Interrupted(f"what was logged before the first checkpoint is kept in {path} "
                           "(there is nothing to resume from)")
    from dlcli.numbers import count
    from dlcli.runs.checkpoint import checkpoint_epoch

    # Checkpoints come every checkpoint_every epochs and at most every few seconds, so the
    # epochs logged after the last one are trained again: say from where.
    start = checkpoint_epoch(path / CHECKPOINT_FILE)
    since = ("" if start is None
             else f" (a resume starts from its checkpoint at epoch {count(start)})")
    return Interrupted(f"what was logged is kept in {path}{since}",
                       f"dlcli resume {shlex.quote(str(path))} --epochs {epochs}")


def train(
    config: Annotated[Path, typer.Argument(help="YAML config file (see configs/).",
                                           metavar="CONFIG", show_default=False)],
    set_: SetOption = None,
    runs_dir: RunsDirOption = Path("runs"),
    name: NameOption = None,
    epochs: Annotated[Optional[int], typer.Option(
        "--epochs", min=1, help="Shorthand for --set training.epochs=N.",
        show_default=False)] = None,
    tag: TagOption = None,
    note: NoteOption = None,
    quiet: QuietOption = False,
) -> None:
    """Train the network a config describes and write a run directory.

    Prints the run directory it made (the last line of standard output), also when the run
    diverged or was interrupted. Exit code 0 when the run completed or stopped early, 1 when it
    diverged or failed, 2 for bad input, 130 when interrupted with Ctrl-C (the run keeps what it
    logged, and the message gives the dlcli resume command that continues it).
    """
    from functools import partial

    from dlcli.reports.background import discard_early, start_early

    start_early()   # the figures' helper loads matplotlib while this loads config, numpy, data
    from dlcli.config import load_config
    from dlcli.experiment import run

    overrides = list(set_ or [])
    if epochs is not None:
        overrides.append(f"training.epochs={epochs}")
    try:
        cfg = load_config(config, overrides, name=name)
    except BaseException:
        discard_early()   # bad input: nothing will be drawn
        raise
    run_and_report(partial(run, cfg, runs_dir, overrides=overrides, tags=tag, note=note),
                   quiet=quiet)
