"""``dlcli tune`` (SPEC section 12): random search, coarse to fine, in parallel.

Parses the command line, calls ``dlcli.tune``, draws progress on stderr through rich and prints the
search directory on stdout (the last line), like ``dlcli train`` prints its run directory.
"""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from dlcli import console
from dlcli.cli.options import SetOption
from dlcli.errors import InputError, Interrupted, RunError
from dlcli.tune.executors import cpu_count, make_executor
from dlcli.tune.search import (RoundInfo, Search, SearchCallback, SearchResult,
                               load_search_config, load_space_file, open_for_resume, ranked)
from dlcli.tune.trials import Trial
from dlcli.tune.space import yaml_value

class ExecutorKind(str, Enum):
    local = "local"
    dask = "dask"


class _Progress(SearchCallback):
    """Search progress over all trials on a ``console.Bar``, with the best metric so far."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self._bar: console.Bar | None = None
        self._done = 0

    def on_search_begin(self, search: Search, total: int, done: int) -> None:
        self._bar = console.Bar(search.settings.name, total, "trials")
        self._bar.start(done)
        self._done = done

    def on_round_begin(self, search: Search, info: RoundInfo, todo: int) -> None:
        assert self._bar is not None
        ranges = ", ".join(f"{k} {d.kind} [{d.low:.4g}, {d.high:.4g}]"
                           for k, d in info.space.items() if d.numeric)
        self._bar.print(f"round {info.round}/{search.settings.rounds}: trials "
                        f"{info.first}-{info.last}"
                        + (f" ({todo} to run)" if todo != info.last - info.first + 1 else "")
                        + (f"; {ranges}" if ranges else ""))

    def on_trial_end(self, search: Search, trial: Trial) -> None:
        assert self._bar is not None
        if not trial.succeeded:
            self._bar.print(f"trial {trial.number} {trial.status}"
                            + (f": {trial.message}" if trial.message else ""), style="yellow")
        best = search.best()
        self._done += 1
        self._bar.update(self._done, f"best {self.metric} {best.metric:.4g} (trial "
                         f"{best.number})" if best else "", force=True)

    def on_round_end(self, search: Search, info: RoundInfo) -> None:
        if info.note and self._bar is not None:
            self._bar.print(info.note, style="yellow")

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _top_table(result: SearchResult, count: int = 5) -> Table:
    metric = result.metric
    top = ranked(result.trials, result.mode)[:count]
    keys = list(result.trials[0].values) if result.trials else []
    table = Table(title=f"best {len(top)} of {len(result.trials)} trials by {metric}",
                  title_justify="left")
    for name in ("trial", "round", metric, *keys):
        table.add_column(name, justify="right")
    for trial in top:
        table.add_row(str(trial.number), str(trial.round), f"{trial.metric:.4g}",
                      *[_short(trial.values[k]) for k in keys])
    return table


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else yaml_value(value)


def tune(
    config: Annotated[Optional[Path], typer.Argument(
        help="YAML config every trial starts from; may hold the space under search:.",
        metavar="CONFIG", show_default=False)] = None,
    space: Annotated[Optional[Path], typer.Option(
        "--space", metavar="SPACE.yaml",
        help="Search space: config key paths to distributions, e.g. "
             "optimizer.learning_rate: {log_uniform: [1.0e-4, 1.0e-1]}. Wins over the "
             "config's search: section.", show_default=False)] = None,
    trials: Annotated[Optional[int], typer.Option(
        "--trials", "-n", min=1, help="Trials per round.", show_default=False)] = None,
    rounds: Annotated[Optional[int], typer.Option(
        "--rounds", min=1, help="Rounds; after each, numeric ranges shrink to the span of the "
                                "best --keep fraction of its trials. [default: 1]",
        show_default=False)] = None,
    keep: Annotated[Optional[float], typer.Option(
        "--keep", help="Fraction of a round's trials whose values set the next round's ranges "
                       "(at least 2 trials). [default: 0.25]", show_default=False)] = None,
    metric: Annotated[Optional[str], typer.Option(
        "--metric", help="Metric to select on: NAME (best over the trial's epochs) or "
                         "final.NAME; losses are minimised, accuracies maximised. Default: "
                         "dev_loss, or train_loss without a dev split.",
        show_default=False)] = None,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", "-w", min=1, help="Local worker processes (one BLAS thread each). "
                                       "Default: the number of cores.",
        show_default=False)] = None,
    executor: Annotated[ExecutorKind, typer.Option(
        "--executor", help="local (worker processes on this machine) or dask (an existing "
                           "Dask distributed cluster; needs --scheduler).")
    ] = ExecutorKind.local,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", metavar="ADDRESS", help="Dask scheduler address, e.g. "
                                               "tcp://10.0.0.5:8786.", show_default=False)
    ] = None,
    seed: Annotated[Optional[int], typer.Option(
        "--seed", help="Search seed: draws every trial's values and run seed. "
                       "Default: the config's seed.", show_default=False)] = None,
    set_: SetOption = None,
    runs_dir: Annotated[Path, typer.Option(
        "--runs-dir", help="Where the search directory goes.")] = Path("runs"),
    name: Annotated[Optional[str], typer.Option(
        "--name", help="Search name (default: the config's name:, else the file's stem).",
        show_default=False)] = None,
    resume: Annotated[Optional[Path], typer.Option(
        "--resume", metavar="SEARCH_DIR",
        help="Continue an interrupted search (finished trials are not run again); "
             "--rounds may raise its number of rounds.", show_default=False)] = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress or summary; print only the search directory.")
    ] = False,
) -> None:
    """Random search over a config's hyperparameters, coarse to fine, in parallel.

    Every trial is an ordinary run directory inside RUNS_DIR/<time>-<name>-search/, which also
    holds the space, trials.csv, summary.json and trials.png (the metric against each
    hyperparameter). Prints the search directory (the last line of standard output). Exit code 0
    when at least one trial succeeded, 1 when none did, 2 for bad input, 130 on Ctrl-C (finished
    trials are kept; dlcli tune --resume SEARCH_DIR continues).
    """
    if resume is not None:
        given = {"CONFIG": config, "--space": space, "--trials": trials, "--keep": keep,
                 "--metric": metric, "--seed": seed, "--set": set_ or None, "--name": name}
        clash = [option for option, value in given.items() if value is not None]
        if clash:
            raise InputError(f"--resume continues a search as it was set up: "
                             f"{', '.join(clash)} cannot be given with it (--rounds, "
                             "--workers, --executor and --scheduler can)")
        search = open_for_resume(resume, rounds)
    else:
        if config is None:
            raise InputError("give a CONFIG file (or --resume SEARCH_DIR)")
        if trials is None:
            raise InputError("give --trials N, the number of trials per round")
        raw = load_search_config(config)
        search = Search.create(
            raw, runs_dir, space=load_space_file(space) if space is not None else None,
            trials=trials, rounds=rounds or 1, keep=0.25 if keep is None else keep,
            metric=metric, seed=seed, overrides=list(set_ or []), name=name)
    if executor is ExecutorKind.local:
        # More workers than a round has trials would only sit idle.
        count: int | None = min(workers or cpu_count(), search.settings.trials)
    elif workers is not None:
        raise InputError("--workers is for --executor local; a Dask cluster has the "
                         "workers it was started with")
    else:
        count = None
    pool = make_executor(executor.value, count, scheduler)

    progress = None if quiet else _Progress(search.settings.metric)
    if not quiet:
        console.info(f"search directory: {search.path}")
        console.info(f"{search.settings.trials} trials x {search.settings.rounds} rounds on "
                     f"{pool.description}; selecting on {search.settings.metric} "
                     f"({'lower' if search.settings.mode == 'min' else 'higher'} is better)")
    callbacks: list[SearchCallback] = [progress] if progress is not None else []
    try:
        result = search.run(pool, callbacks, log=console.warn)
    except KeyboardInterrupt:
        if progress is not None:
            progress.stop()
        typer.echo(str(search.path))
        raise Interrupted(f"interrupted; {len(search.trials)} finished trials are kept in "
                          f"trials.csv. Continue with: dlcli tune --resume {search.path}"
                          ) from None
    finally:
        if progress is not None:
            progress.stop()
        pool.close()
    if not quiet:
        _summary(result)
    typer.echo(str(result.path))
    if result.best is None:
        raise RunError("no trial succeeded (see the status and message columns of "
                       f"{result.path / 'trials.csv'})")


def _summary(result: SearchResult) -> None:
    metric = result.metric
    counts: dict[str, int] = {}
    for trial in result.trials:
        counts[trial.status] = counts.get(trial.status, 0) + 1
    console.info(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    if result.best is None:
        return
    console.err.print(_top_table(result))
    best = result.best
    console.info(f"best: trial {best.number}, {metric} {best.metric:.4g}, run {best.run}")
    for key, value in best.values.items():
        console.info(f"  {key}: {yaml_value(value)}")
    if (result.path / "trials.png").exists():
        console.info(f"plot: {result.path / 'trials.png'}")
