"""``dlcli tune`` (SPEC section 12): random search, coarse to fine, in parallel.

Parses the command line, calls ``dlcli.study``, draws progress on stderr through rich and prints the
search directory on stdout (the last line), like ``dlcli train`` prints its run directory.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.table import Table

from dlcli import console
from dlcli.cli.options import (NameOption, NoteOption, QuietOption, RunsDirOption, SetOption,
                               TagOption)
from dlcli.cli.study import (MetricOption, refuse_with_resume, ExecutorKind, ExecutorOption, SchedulerOption,
                             StudyProgress, WorkersOption, executor_for, run_study, tally)
from dlcli.errors import InputError, RunError
from dlcli.numbers import counted, measure, setting

if TYPE_CHECKING:   # the rest is imported where it is used: building the CLI loads no numpy
    from dlcli.study.random_search import RoundInfo
    from dlcli.study.runner import Batch, Study, StudyResult
    from dlcli.study.tasks import Outcome


class _Rounds:
    """Says what each round samples, and when a round could not narrow the ranges (every hook of
    ``dlcli.study.runner.StudyCallback``, not subclassed: see ``StudyProgress``)."""

    def __init__(self, progress: StudyProgress) -> None:
        self.progress = progress

    def on_study_begin(self, study: Study, total: int, done: int) -> None:
        return None

    def on_task_end(self, study: Study, outcome: Outcome) -> None:
        return None

    def on_batch_begin(self, study: Study, batch: Batch) -> None:
        info: RoundInfo = batch.info
        ranges = ", ".join(f"{k} {d.kind} [{setting(d.low, short=True)}, "
                           f"{setting(d.high, short=True)}]"
                           for k, d in info.space.items() if d.numeric)
        todo = len(batch.todo)
        self.progress.print(f"{batch.label}: trials {info.first}-{info.last}"
                            + (f" ({todo} to run)" if todo != len(batch.tasks) else "")
                            + (f"; {ranges}" if ranges else ""))

    def on_batch_end(self, study: Study, batch: Batch) -> None:
        if batch.info.note:
            self.progress.print(batch.info.note, style="yellow")


def _trial(study: Study, outcome: Outcome) -> str:
    return f"trial {outcome.number}"


def _best_trial(study: Study) -> list[console.Field]:
    """``best dev_loss 0.04082 (trial 4)``: the best trial so far, as the table ranks them."""

    best = study.best()
    if best is None:
        return []
    return [console.Field(f"best {study.planner.metric} {measure(best.metric)} "
                          f"(trial {best.number})", kept=True)]


def _top_table(result: StudyResult, count: int = 5) -> Table:
    """The best trials: number, round, metric and each hyperparameter, headed by its key's last
    part where that is unique (``learning_rate``, not ``optimizer.learning_rate``)."""
    from dlcli.reports.groups import short_keys
    from dlcli.study.runner import ranked

    metric = result.metric
    top = ranked(result.outcomes, result.mode)[:count]
    keys = list(result.outcomes[0].values) if result.outcomes else []
    table = Table(title=f"best {len(top)} of {counted(len(result.outcomes), 'trial')} "
                        f"by {metric}",
                  title_justify="left")
    for name in ("trial", "round", metric, *short_keys(keys)):
        table.add_column(name, justify="right")
    for trial in top:
        table.add_row(str(trial.number), str(trial.group), measure(trial.metric, pad=True),
                      *[setting(trial.values[k], short=True) for k in keys])
    return table


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
    metric: MetricOption = None,
    workers: WorkersOption = None,
    executor: ExecutorOption = ExecutorKind.local,
    scheduler: SchedulerOption = None,
    seed: Annotated[Optional[int], typer.Option(
        "--seed", help="Search seed: draws every trial's values and run seed. "
                       "Default: the config's seed.", show_default=False)] = None,
    set_: SetOption = None,
    runs_dir: RunsDirOption = Path("runs"),
    name: NameOption = None,
    resume: Annotated[Optional[Path], typer.Option(
        "--resume", metavar="SEARCH_DIR",
        help="Continue an interrupted search (finished trials are not run again); "
             "--rounds may raise its number of rounds.", show_default=False)] = None,
    tag: TagOption = None,
    note: NoteOption = None,
    quiet: QuietOption = False,
) -> None:
    """Random search over a config's hyperparameters, coarse to fine, in parallel.

    Every trial is an ordinary run directory inside RUNS_DIR/<time>-<name>-search/, which also
    holds the space, trials.csv, summary.json and trials.png (the metric against each
    hyperparameter). A key --set fixes is not searched (the command line wins over the space).
    Prints the search directory (the last line of standard output). Exit code 0
    when at least one trial succeeded, 1 when none did, 2 for bad input, 130 on Ctrl-C (finished
    trials are kept; dlcli tune --resume SEARCH_DIR continues).
    """
    from dlcli.study.random_search import (RandomSearch, create_search, load_space_file,
                                           load_study_config, open_search)

    from dlcli.runs.tags import check_note, check_tags, write_meta

    tags, note = check_tags(tag), check_note(note)
    if resume is not None:
        refuse_with_resume({"CONFIG": config, "--space": space, "--trials": trials,
                            "--keep": keep, "--metric": metric, "--seed": seed,
                            "--set": set_ or None, "--name": name},
                           "continues a search",
                           "--rounds, --workers, --executor and --scheduler")
        study = open_search(resume, rounds)
    else:
        if config is None:
            raise InputError("give a CONFIG file (or --resume SEARCH_DIR)")
        if trials is None:
            raise InputError("give --trials N, the number of trials per round")
        raw = load_study_config(config)
        study = create_search(
            raw, runs_dir, space=load_space_file(space) if space is not None else None,
            trials=trials, rounds=rounds or 1, keep=0.25 if keep is None else keep,
            metric=metric, seed=seed, overrides=list(set_ or []), name=name,
            log=console.warn)
    planner = study.planner
    assert isinstance(planner, RandomSearch)
    # More workers than a round has trials would only sit idle.
    pool = executor_for(executor, workers, scheduler, planner.settings.trials)
    if tags or note:   # every trial carries the search's tags (dlcli ls --tag finds them)
        write_meta(study.path, tags, note)

    s = planner.settings
    progress = None if quiet else StudyProgress("trials", _trial, _best_trial)
    if not quiet:
        console.info(f"search directory: {study.path}")
        console.info(f"{counted(s.trials, 'trial')} x {counted(s.rounds, 'round')} on "
                     f"{pool.description}; selecting "
                     f"on {s.metric} ({'lower' if s.mode == 'min' else 'higher'} is better)")
    result = run_study(study, pool, progress, [_Rounds(progress)] if progress else [])
    if not quiet:
        _summary(result)
    typer.echo(str(result.path))
    if result.best is None:
        raise RunError("no trial succeeded (see the status and message columns of "
                       f"{result.path / 'trials.csv'})")


def _summary(result: StudyResult) -> None:
    console.info(tally(result.outcomes))
    if result.best is None:
        return
    console.err.print(_top_table(result))
    best = result.best
    console.info(f"best: trial {best.number}, {result.metric} {measure(best.metric)}, "
                 f"run {best.run}")
    for key, value in best.values.items():
        console.info(f"  {key}: {setting(value)}")
    if (result.path / "trials.png").exists():
        console.info(f"plot: {result.path / 'trials.png'}")
