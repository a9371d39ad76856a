"""The study runner (SPEC section 12): one engine under ``dlcli tune`` and ``dlcli sweep``.

A *planner* decides which runs a study makes (random search, coarse to fine; a grid times seeds);
the runner does everything else, the same way for every planner:

- the study directory ``RUNS_DIR/<timestamp>-<name>-<kind>/``, made only once everything is
  validated, holding one ordinary run directory per task;
- the study's table (``trials.csv``, ``study.csv``): one row per finished task, rewritten
  atomically after each, in the columns the planner chooses;
- running the planner's batches on an executor (this process, local worker processes, Dask);
  failed and diverged runs are rows like any other, and the study goes on;
- Ctrl-C: tasks not started are cancelled, running ones record themselves as interrupted, every
  finished task is kept, and the KeyboardInterrupt is re-raised;
- ``--resume``: ``Study.open(path, Planner).run(...)`` runs only the tasks the table does not
  hold. A task's rerun replaces the run directory it left unfinished (interrupted, or killed), so
  the study holds one run directory per finished task;
- summary.json and the study's picture, which the planner writes.

A new planner is one subclass of ``Planner`` in one file: it says what to run (``batches``), how
a row looks (``columns``, ``row``, ``parse_row``), and what to summarise and draw.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import BrokenExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from dlcli.config import read_yaml
from dlcli.errors import InputError, RunError, os_reason
from dlcli.run_schema import METRICS_FILE
from dlcli.runs.files import now_utc, write_json, write_text, write_yaml
from dlcli.runs.rundir import create_run_dir
from dlcli.study.executors import Executor
from dlcli.study.space import yaml_value
from dlcli.study.tasks import FINISHED, Outcome, Task, run_task

Log = Callable[[str], None]
SUMMARY_FILE = "summary.json"
BASE_CONFIG_FILE = "base-config.yaml"   # the resolved config every task starts from
P = TypeVar("P", bound="Planner")
S = TypeVar("S")


def cell(value: Any) -> str:
    """A value as a CSV cell that reads back exactly (floats by repr, lists as YAML)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)   # the shortest text that reads back as the same float
    if isinstance(value, (list, dict, bool)):
        return yaml_value(value)
    return str(value)


def one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Batch:
    """Tasks the runner may run in any order and in parallel; ``info`` is the planner's."""

    tasks: list[Task]
    label: str = ""
    info: Any = None
    todo: list[Task] = field(default_factory=list)


class Planner(ABC):
    """What a study runs. Subclasses set the class attributes and implement the methods."""

    kind: ClassVar[str]              # "search", "sweep": the directory suffix
    table_file: ClassVar[str]        # "trials.csv", "study.csv"
    settings_file: ClassVar[str]     # "search.json", "sweep.json": marks the study directory
    command: ClassVar[str]           # "dlcli tune", for messages

    name: str
    metric: str
    mode: str                        # min | max
    settings: Any                    # a dataclass, written to settings_file
    base: dict[str, Any]             # the resolved config every task starts from

    # -- files ---------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the planner's settings and base config into a new study directory."""
        write_json(path / self.settings_file, asdict(self.settings))
        write_yaml(path / BASE_CONFIG_FILE, self.base)

    @classmethod
    @abstractmethod
    def load(cls: type[P], path: Path) -> P:
        """The planner of an existing study directory (its settings file exists)."""

    @classmethod
    def read_saved(cls, path: Path, settings_type: type[S], *more_files: str
                   ) -> tuple[S, dict[str, Any]]:
        """(settings, base config) as ``save`` wrote them into the study directory at ``path``,
        which must hold ``more_files`` too: a missing file is an InputError naming it, an
        unreadable settings file a RunError saying why."""
        missing = [f for f in (BASE_CONFIG_FILE, *more_files) if not (path / f).is_file()]
        if missing:
            raise InputError(f"{str(path)!r} is not a {cls.kind} directory (it needs "
                             f"{', '.join(missing)}); give the directory {cls.command} printed")
        file = path / cls.settings_file
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            settings = settings_type(**{k: data[k] for k in settings_type.__dataclass_fields__})
        except KeyError as exc:
            raise RunError(f"{file} is unreadable: it has no {exc.args[0]!r}") from None
        except OSError as exc:
            raise RunError(f"{file} is unreadable: {os_reason(exc)}") from None
        except (ValueError, TypeError) as exc:
            raise RunError(f"{file} is unreadable: {exc}") from None
        return settings, read_yaml(path / BASE_CONFIG_FILE)

    # -- the table -----------------------------------------------------------------------------
    @abstractmethod
    def columns(self) -> list[str]: ...

    @abstractmethod
    def row(self, outcome: Outcome) -> list[Any]: ...

    @abstractmethod
    def parse_row(self, row: Mapping[str, str]) -> Outcome: ...

    # -- running -------------------------------------------------------------------------------
    @abstractmethod
    def total(self) -> int:
        """How many tasks the whole study has."""

    @abstractmethod
    def batches(self, study: Study) -> Iterator[Batch]:
        """The study's batches in order. The generator resumes after the runner has recorded a
        batch's outcomes in ``study.outcomes``, so a batch may depend on earlier ones."""

    # -- outputs -------------------------------------------------------------------------------
    @abstractmethod
    def summary(self, study: Study, status: str) -> dict[str, Any]:
        """The content of summary.json."""

    def plot(self, study: Study, log: Log | None = None) -> Path | None:
        """Draw the study's picture; its path, or None when there is nothing to draw."""
        return None


class StudyCallback:
    """Hooks for progress display; every method does nothing by default."""

    def on_study_begin(self, study: Study, total: int, done: int) -> None: ...

    def on_batch_begin(self, study: Study, batch: Batch) -> None: ...

    def on_task_end(self, study: Study, outcome: Outcome) -> None: ...

    def on_batch_end(self, study: Study, batch: Batch) -> None: ...


@dataclass
class StudyResult:
    path: Path
    status: str                       # completed | interrupted | failed
    outcomes: list[Outcome]
    best: Outcome | None
    metric: str
    mode: str


def ranked(outcomes: Sequence[Outcome] | Any, mode: str) -> list[Outcome]:
    """Succeeded outcomes, best first; ties go to the earlier task."""
    return sorted((o for o in outcomes if o.succeeded),
                  key=lambda o: (o.metric if mode == "min" else -o.metric, o.number))


class Study:
    """A study directory: its planner and its finished tasks so far."""

    def __init__(self, path: Path, planner: Planner) -> None:
        self.path, self.planner = path, planner
        self.outcomes: dict[int, Outcome] = self._read_table()
        self.started = now_utc()

    # -- making and opening --------------------------------------------------------------------
    @classmethod
    def create(cls, planner: Planner, runs_dir: str | os.PathLike[str]) -> Study:
        """Make the study directory of a validated planner and write its files."""
        path = create_run_dir(runs_dir, f"{planner.name}-{planner.kind}")
        planner.save(path)
        study = cls(path, planner)
        study._write_table()
        return study

    @classmethod
    def open(cls, path: str | os.PathLike[str], planner_type: type[Planner]) -> Study:
        """An existing study directory, to resume it."""
        path = Path(path)
        if not path.is_dir() or not (path / planner_type.settings_file).is_file():
            raise InputError(f"{str(path)!r} is not a {planner_type.kind} directory (it needs "
                             f"{planner_type.settings_file}); give the directory "
                             f"{planner_type.command} printed")
        return cls(path, planner_type.load(path))

    @property
    def table_path(self) -> Path:
        return self.path / self.planner.table_file

    def best(self) -> Outcome | None:
        """The best finished task so far (ties go to the earlier task)."""
        best = ranked(self.outcomes.values(), self.planner.mode)
        return best[0] if best else None

    def task_dir(self, outcome: Outcome) -> Path | None:
        return self.path / outcome.run if outcome.run else None

    # -- running -------------------------------------------------------------------------------
    def run(self, executor: Executor, callbacks: Sequence[StudyCallback] = (),
            log: Log | None = None) -> StudyResult:
        """Run every task the table does not hold yet, batch by batch; return the result."""
        planner = self.planner
        total = planner.total()
        for cb in callbacks:
            cb.on_study_begin(self, total, sum(1 for n in self.outcomes if n <= total))
        status = "interrupted"
        try:
            for batch in planner.batches(self):
                batch.todo = [t for t in batch.tasks if t.number not in self.outcomes]
                self._write_summary("running")
                for cb in callbacks:
                    cb.on_batch_begin(self, batch)
                if batch.todo:
                    self._run_tasks(batch.todo, executor, callbacks)
                for cb in callbacks:
                    cb.on_batch_end(self, batch)
            status = "completed"
        except RunError:
            status = "failed"
            raise
        finally:
            self._write_summary(status)
            if status != "completed":
                planner.plot(self, log)
        self._plot_on(executor, log)
        outcomes = [self.outcomes[n] for n in sorted(self.outcomes)]
        return StudyResult(self.path, status, outcomes, self.best(), planner.metric,
                           planner.mode)

    def _run_tasks(self, tasks: list[Task], executor: Executor,
                   callbacks: Sequence[StudyCallback]) -> None:
        try:
            futures = [executor.submit(run_task, task) for task in tasks]
        except BrokenExecutor as exc:
            raise self._lost_workers(exc) from None
        by_future = dict(zip(futures, tasks))
        seen: set[Any] = set()
        try:
            for future in executor.as_completed(futures):
                seen.add(future)
                outcome = self._outcome(future, by_future[future])
                if outcome is None or outcome.status == "interrupted":
                    raise KeyboardInterrupt   # the task was stopped with Ctrl-C
                self._record(outcome, callbacks)
        except KeyboardInterrupt:
            rest = [f for f in futures if f not in seen]
            for future in executor.interrupt(rest):
                outcome = self._outcome(future, by_future[future])
                if outcome is not None and outcome.status in FINISHED:
                    self._record(outcome, callbacks)   # finished before the stop reached it
            raise

    def _outcome(self, future: Any, task: Task) -> Outcome | None:
        if future.cancelled():
            return None
        try:
            return future.result()
        except BrokenExecutor as exc:
            # A local worker process died (killed, out of memory): the pool cannot go on, and
            # the tasks it held never ran, so they must not be recorded as failed.
            raise self._lost_workers(exc) from None
        except Exception as exc:
            # The worker itself broke (lost from a cluster): the task did not get to record
            # anything, so it is a failure of that task.
            return Outcome(task.number, task.group, "failed", None, dict(task.values),
                           task.seed, message=f"worker error: {type(exc).__name__}: {exc}")

    def _lost_workers(self, exc: BaseException) -> RunError:
        return RunError(f"a worker process died ({exc}); the finished runs are kept and "
                        f"{self.planner.command} --resume {self.path} continues the study")

    def _record(self, outcome: Outcome, callbacks: Sequence[StudyCallback]) -> None:
        self.outcomes[outcome.number] = outcome
        self._write_table()
        self._drop_unfinished_runs_of(outcome)
        for cb in callbacks:
            cb.on_task_end(self, outcome)

    def _drop_unfinished_runs_of(self, outcome: Outcome) -> None:
        """Remove the run directories an earlier attempt at this task left unfinished
        (interrupted, or killed while running): its rerun replaces them, so ``compare`` on the
        study shows each task once. Finished run directories are never removed."""
        if not outcome.run:
            return
        name = _run_name(outcome.run)
        for other in self.path.iterdir():
            if other.name == outcome.run or not other.is_dir() or _run_name(other.name) != name:
                continue
            try:
                status = json.loads((other / METRICS_FILE).read_text(encoding="utf-8"))["status"]
            except (OSError, ValueError, KeyError, TypeError):
                status = None
            if status in ("interrupted", "running"):
                shutil.rmtree(other, ignore_errors=True)

    # -- the table -----------------------------------------------------------------------------
    def _write_table(self) -> None:
        # Rewritten whole (atomically) rather than appended: a kill never leaves half a row, and
        # a few hundred short rows cost nothing next to a run.
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.planner.columns())
        for number in sorted(self.outcomes):
            writer.writerow([cell(v) for v in self.planner.row(self.outcomes[number])])
        write_text(self.table_path, buffer.getvalue())

    def _read_table(self) -> dict[int, Outcome]:
        """The table back into outcomes; rows of unfinished tasks are left out (rerun)."""
        path = self.table_path
        if not path.exists():
            return {}
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        expected = self.planner.columns()
        outcomes: dict[int, Outcome] = {}
        for line, row in enumerate(rows, start=2):
            try:
                if list(row) != expected or None in row.values():
                    raise ValueError(f"columns do not match {', '.join(expected)}")
                outcome = self.planner.parse_row(row)
            except (ValueError, KeyError, TypeError) as exc:
                raise RunError(f"{path}, line {line}: {exc}") from None
            if outcome.status in FINISHED:
                outcomes[outcome.number] = outcome
        return outcomes

    # -- outputs -------------------------------------------------------------------------------
    def _write_summary(self, status: str) -> None:
        write_json(self.path / SUMMARY_FILE, {**self.planner.summary(self, status),
                                              "started": self.started, "updated": now_utc()})

    def _plot_on(self, executor: Executor, log: Log | None) -> None:
        # Drawn by a worker when there are workers: it has matplotlib loaded already, while
        # importing it here would add a second or so to a study of small runs.
        try:
            future = executor.submit(plot_study_dir, (str(self.path.resolve()),
                                                      type(self.planner)))
            for done in executor.as_completed([future]):
                done.result()
        except Exception:   # any trouble with the workers: draw it here instead
            self.planner.plot(self, log)


def plot_study_dir(arg: tuple[str, type[Planner]]) -> str | None:
    """Draw the picture of the study directory ``arg[0]`` (run in a worker); its path or None."""
    path, planner_type = arg
    study = Study.open(path, planner_type)
    drawn = study.planner.plot(study)
    return None if drawn is None else str(drawn)


def _run_name(directory: str) -> str:
    """A run directory's name without its timestamp and same-second suffix."""
    parts = directory.split("-", 2)
    name = parts[2] if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit() else directory
    head, sep, tail = name.rpartition("-")
    return head if sep and tail.isdigit() and head else name
