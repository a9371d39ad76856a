"""What ``dlcli tune`` and ``dlcli sweep`` share on the command line: the executor options, the
progress bar over a study's runs, and running a study with Ctrl-C handled."""
from __future__ import annotations

import os
import shlex
import signal
import threading
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from dlcli import console
from dlcli.errors import DlcliError, InputError, Interrupted
from dlcli.numbers import counted

if TYPE_CHECKING:   # the rest is imported where it is used: building the CLI loads no numpy
    from dlcli.study.executors import Executor
    from dlcli.study.runner import Study, StudyCallback, StudyResult
    from dlcli.study.tasks import Outcome

class ExecutorKind(str, Enum):
    local = "local"
    dask = "dask"


WorkersOption = Annotated[Optional[int], typer.Option(
    "--workers", "-w", min=1, help="Local worker processes (one BLAS thread each). "
                                   "Default: the number of cores.", show_default=False)]
ExecutorOption = Annotated[ExecutorKind, typer.Option(
    "--executor", help="local (worker processes on this machine) or dask (an existing "
                       "Dask distributed cluster; needs --scheduler).")]
SchedulerOption = Annotated[Optional[str], typer.Option(
    "--scheduler", metavar="ADDRESS", help="Dask scheduler address, e.g. "
                                           "tcp://10.0.0.5:8786.", show_default=False)]

MetricOption = Annotated[Optional[str], typer.Option(
    "--metric", help="Metric that ranks the runs: NAME (its best over a run's epochs) or "
                     "final.NAME (its last evaluated value); losses are minimised, accuracies "
                     "maximised; a sweep ranks its points by their mean over seeds. Default: "
                     "dev_loss, or train_loss without a dev split.", show_default=False)]


def refuse_with_resume(given: dict[str, Any], what: str, allowed: str) -> None:
    """``--resume`` continues a study as it was set up: an InputError naming the options in
    ``given`` (option -> value, None when not given) that would change it."""
    clash = [option for option, value in given.items() if value is not None]
    if clash:
        raise InputError(f"--resume {what} as it was set up: {', '.join(clash)} cannot be "
                         f"given with it ({allowed} can)")


def executor_for(kind: ExecutorKind, workers: int | None, scheduler: str | None,
                 parallel: int) -> Executor:
    """The executor the options ask for; no more local workers than ``parallel`` tasks."""
    from dlcli.study.executors import cpu_count, make_executor

    if kind is ExecutorKind.local:
        count: int | None = max(1, min(workers or cpu_count(), parallel))
    elif workers is not None:
        raise InputError("--workers is for --executor local; a Dask cluster has the "
                         "workers it was started with")
    else:
        count = None
    return make_executor(kind.value, count, scheduler)


BestNote = Callable[["Study"], list[console.Field]]
# On a narrow terminal a study's bar gives way before what its best run or point is: the done
# count says how far it is.
BAR_RANK = console.DESCRIPTION_RANK + 2
BEST_AT_RANK = console.DESCRIPTION_RANK + 5


class StudyProgress:
    """One ``console.Bar`` over the study's runs, with the best so far as ``best`` words it;
    failed and diverged runs are named above it as they finish. Every hook of
    ``dlcli.study.runner.StudyCallback``, not subclassed: building the command line must not load
    the study engine (and numpy) with it (tests/test_startup.py)."""

    def __init__(self, noun: str, describe: Callable[[Study, Outcome], str],
                 best: BestNote) -> None:
        self.noun, self.describe, self.best = noun, describe, best
        self._bar: console.Bar | None = None
        self._done = 0

    def on_study_begin(self, study: Study, total: int, done: int) -> None:
        self._bar = console.Bar(study.planner.name, total, self.noun, bar_rank=BAR_RANK)
        self._bar.start(done)
        self._done = done
        # A resumed study shows the best of the runs it already has.
        self._bar.update(done, self.best(study), force=True)

    def on_batch_begin(self, study: Study, batch: Any) -> None:
        return None

    def on_batch_end(self, study: Study, batch: Any) -> None:
        return None

    def print(self, text: str, style: str | None = None) -> None:
        if self._bar is not None:
            self._bar.print(text, style=style)

    def on_task_end(self, study: Study, outcome: Outcome) -> None:
        if not outcome.succeeded:
            self.print(f"{self.describe(study, outcome)} {outcome.status}"
                       + (f": {outcome.message}" if outcome.message else ""), style="yellow")
        self._done += 1
        if self._bar is not None:
            self._bar.update(self._done, self.best(study), force=True)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def tally(outcomes: list[Outcome]) -> str:
    """``10 completed, 2 failed``: how a study's runs ended."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def _exit_on_next_ctrl_c() -> Any:
    """While the study shuts its workers down, another Ctrl-C ends the process at once, with
    the same exit code: every finished run is already recorded. Returns the handler it
    replaced (None when it could not install one)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, lambda signum, frame: os._exit(130))


def run_study(study: Study, pool: Executor, progress: StudyProgress | None,
              callbacks: list[StudyCallback]) -> StudyResult:
    """Run ``study``; on Ctrl-C, print the study directory and raise ``Interrupted`` (exit 130)
    saying how to resume."""
    previous = None
    try:
        return study.run(pool, [*([progress] if progress else []), *callbacks],
                         log=console.warn)
    except KeyboardInterrupt:
        previous = _exit_on_next_ctrl_c()
        if progress is not None:
            progress.stop()
        planner = study.planner
        typer.echo(str(study.path))
        raise Interrupted(f"{counted(len(study.outcomes), 'finished run')} "
                          f"{'is' if len(study.outcomes) == 1 else 'are'} kept in "
                          f"{study.table_path}",
                          f"{planner.command} --resume {shlex.quote(str(study.path))}") from None
    except DlcliError:
        if progress is not None:
            progress.stop()
        raise
    finally:
        pool.close()
        if progress is not None:
            progress.stop()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)

