"""Random search, coarse to fine, in one search directory (SPEC section 12).

``RUNS_DIR/<timestamp>-<name>-search/`` holds:

- ``search.json``: the settings (trials per round, rounds, keep fraction, metric and its
  direction, search seed, the ``--set`` overrides);
- ``base-config.yaml``: the resolved config every trial starts from (no ``search:`` section);
- ``space.yaml``: the space of the first round, in the space syntax (``dlcli.tune.space``);
- ``trials.csv``: one row per finished trial, in trial order: ``trial, round, status, <metric>``,
  the sampled value of every space key, then ``seed, run, seconds, worker, message``;
- ``summary.json``: the status of the search, the best trial, and every round's ranges, kept
  trials and best trial;
- ``trials.png``: the metric against each sampled hyperparameter;
- one ordinary run directory per trial, ``<timestamp>-<name>-tNNN``, whose config.yaml holds the
  trial's seed and sampled values (``dlcli train`` on it reproduces the trial).

Trial ``k``'s values are drawn from a generator seeded with (search seed, k) in the ranges of its
round, and its run seed comes from the same pair: so a resumed search draws exactly the trials an
uninterrupted one would have, and finished trials (the rows of trials.csv) are never run again.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import BrokenExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlcli.config import load_config, read_yaml
from dlcli.errors import InputError, RunError
from dlcli.runs.files import now_utc, write_json, write_text, write_yaml
from dlcli.runs.rundir import create_run_dir
from dlcli.tune.executors import Executor
from dlcli.tune.space import Space, check_space, parse_space
from dlcli.tune.trials import (FINISHED, Trial, TrialSpec, check_metric, format_trials,
                               metric_mode, read_trials, run_trial)

SEARCH_FILE = "search.json"
BASE_CONFIG_FILE = "base-config.yaml"
SPACE_FILE = "space.yaml"
TRIALS_FILE = "trials.csv"
SUMMARY_FILE = "summary.json"
PLOT_FILE = "trials.png"



# -- settings and metric -------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """What a search does; written to search.json and read back by ``--resume``."""

    name: str
    trials: int                      # per round
    rounds: int
    keep: float                      # fraction of a round's trials that sets the next ranges
    metric: str                      # dev_loss, final.dev_accuracy, ...
    mode: str                        # min | max
    seed: int
    overrides: list[str] = field(default_factory=list)


# -- the search ----------------------------------------------------------------------------------

def trial_seeds(search_seed: int, number: int) -> tuple[np.random.Generator, int]:
    """(generator for trial ``number``'s values, trial ``number``'s run seed).

    Both come from SeedSequence(search seed, spawn key (number,)): independent streams, the same
    on every machine, whatever order the trials run or finish in."""
    sampling, seeding = np.random.SeedSequence(search_seed, spawn_key=(number,)).spawn(2)
    return np.random.default_rng(sampling), int(seeding.generate_state(1, np.uint32)[0])


def kept_trials(trials: Sequence[Trial], per_round: int, keep: float, mode: str) -> list[Trial]:
    """The best ``keep`` fraction of a round's trials (at least 2, so a range keeps a width),
    best first; ties go to the earlier trial. Failed and diverged trials are never kept."""
    count = max(2, math.ceil(keep * per_round - 1e-9))
    return ranked(trials, mode)[:count]


def ranked(trials: Iterable[Trial], mode: str) -> list[Trial]:
    """Succeeded trials, best first; ties go to the earlier trial."""
    return sorted((t for t in trials if t.succeeded),
                  key=lambda t: (t.metric if mode == "min" else -t.metric, t.number))


def best_trial(trials: Iterable[Trial], mode: str) -> Trial | None:
    best = ranked(trials, mode)
    return best[0] if best else None


@dataclass
class RoundInfo:
    round: int
    first: int
    last: int
    space: Space
    kept: list[int] = field(default_factory=list)
    best: Trial | None = None
    note: str = ""

    def to_data(self, metric: str) -> dict[str, Any]:
        return {"round": self.round, "trials": [self.first, self.last],
                "space": self.space.to_data(), "kept": self.kept,
                "best": _trial_data(self.best, metric), **({"note": self.note}
                                                           if self.note else {})}


def _trial_data(trial: Trial | None, metric: str) -> dict[str, Any] | None:
    if trial is None:
        return None
    return {"trial": trial.number, "run": trial.run, metric: trial.metric,
            "values": trial.values, "seed": trial.seed}


@dataclass
class SearchResult:
    path: Path
    status: str                       # completed | interrupted
    trials: list[Trial]
    best: Trial | None
    rounds: list[RoundInfo]
    metric: str
    mode: str


class SearchCallback:
    """Hooks for progress display; every method does nothing by default."""

    def on_search_begin(self, search: Search, total: int, done: int) -> None: ...

    def on_round_begin(self, search: Search, info: RoundInfo, todo: int) -> None: ...

    def on_trial_end(self, search: Search, trial: Trial) -> None: ...

    def on_round_end(self, search: Search, info: RoundInfo) -> None: ...


class Search:
    """A search directory: its settings, base config and space, and its trials so far."""

    def __init__(self, path: Path, settings: Settings, base: dict[str, Any],
                 space: Space) -> None:
        self.path, self.settings, self.base, self.space = path, settings, base, space
        self.trials: dict[int, Trial] = read_trials(path / TRIALS_FILE, space, settings.metric)
        self.rounds: list[RoundInfo] = []
        self.started = now_utc()

    # -- making and opening --------------------------------------------------------------------
    @classmethod
    def create(cls, raw: Mapping[str, Any], runs_dir: str | os.PathLike[str], *,
               space: Any = None, trials: int, rounds: int = 1, keep: float = 0.25,
               metric: str | None = None, seed: int | None = None,
               overrides: Sequence[str] = (), name: str | None = None) -> Search:
        """Validate everything, then make the search directory and write its files.

        ``raw`` is a config mapping, possibly with a ``search:`` section holding the space;
        ``space`` (a mapping in the space syntax, or a Space) wins over it."""
        raw = dict(raw)
        in_config = raw.pop("search", None)
        if space is None and in_config is None:
            raise InputError("no search space: give --space SPACE.yaml, or a search: section "
                             "in the config mapping key paths to distributions")
        if not isinstance(space, Space):
            where = "search space" if space is not None else "search"
            space = parse_space(space if space is not None else in_config, where)
        config = load_config(raw=raw, overrides=list(overrides), name=name)
        base = config.to_dict()
        check_space(space, base)
        if trials < 1:
            raise InputError(f"--trials {trials}: give at least 1 trial per round")
        if rounds < 1:
            raise InputError(f"--rounds {rounds}: give at least 1 round")
        if not 0.0 < keep <= 1.0:
            raise InputError(f"--keep {keep}: give a fraction in (0, 1], e.g. 0.25 keeps the "
                             "best quarter of a round's trials")
        metric = check_metric(metric, config.has_dev_split)
        settings = Settings(name=config.name or "search", trials=trials, rounds=rounds,
                            keep=keep, metric=metric, mode=metric_mode(metric),
                            seed=config.seed if seed is None else int(seed),
                            overrides=list(overrides))
        if settings.seed < 0:
            raise InputError(f"--seed {settings.seed}: give a seed >= 0")
        path = create_run_dir(runs_dir, f"{settings.name}-search")
        search = cls(path, settings, base, space)
        search._write_settings()
        write_yaml(path / BASE_CONFIG_FILE, base)
        write_yaml(path / SPACE_FILE, space.to_data())
        write_text(path / TRIALS_FILE, format_trials([], space, metric))
        return search

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Search:
        """An existing search directory, to resume it."""
        path = Path(path)
        missing = [f for f in (SEARCH_FILE, BASE_CONFIG_FILE, SPACE_FILE)
                   if not (path / f).is_file()]
        if not path.is_dir() or missing:
            raise InputError(f"{str(path)!r} is not a search directory (it needs "
                             f"{', '.join(missing or [SEARCH_FILE])}); give the directory "
                             "dlcli tune printed")
        try:
            data = json.loads((path / SEARCH_FILE).read_text(encoding="utf-8"))
            settings = Settings(**{k: data[k] for k in Settings.__dataclass_fields__})
        except (ValueError, KeyError, TypeError) as exc:
            raise RunError(f"{path / SEARCH_FILE} is unreadable: {exc}") from None
        base = read_yaml(path / BASE_CONFIG_FILE)
        space = parse_space(read_yaml(path / SPACE_FILE), f"{path / SPACE_FILE}:")
        return cls(path, settings, base, space)

    def _write_settings(self) -> None:
        write_json(self.path / SEARCH_FILE, asdict(self.settings))

    def set_rounds(self, rounds: int) -> None:
        """Change the number of rounds (``--resume --rounds R`` to search further)."""
        done = max((t.round for t in self.trials.values()), default=0)
        if rounds < max(1, done):
            raise InputError(f"--rounds {rounds}: the search already has trials of round "
                             f"{done}")
        self.settings = Settings(**{**asdict(self.settings), "rounds": rounds})
        self._write_settings()

    # -- running -------------------------------------------------------------------------------
    def spec(self, number: int, round_: int, space: Space) -> TrialSpec:
        rng, seed = trial_seeds(self.settings.seed, number)
        values = space.sample(rng)
        sampled = space.overrides(values)
        return TrialSpec(number=number, round=round_, name=f"{self.settings.name}-t{number:03d}",
                         seed=seed, values=values, overrides=[*self.settings.overrides, *sampled],
                         sampled=sampled, base=self.base, runs_dir=str(self.path.resolve()),
                         metric=self.settings.metric)

    def best(self) -> Trial | None:
        """The best trial so far (ties go to the earlier trial)."""
        return best_trial(self.trials.values(), self.settings.mode)

    def run(self, executor: Executor, callbacks: Sequence[SearchCallback] = (),
            log: Callable[[str], None] | None = None) -> SearchResult:
        """Run every round's trials that are not in trials.csv yet; return the result.

        Ctrl-C: trials not started are cancelled, running ones record themselves as
        interrupted, every finished trial is kept, summary.json says ``interrupted``, and the
        KeyboardInterrupt is re-raised. ``Search.open(path).run(...)`` carries on."""
        s = self.settings
        total = s.trials * s.rounds
        for cb in callbacks:
            cb.on_search_begin(self, total, sum(1 for n in self.trials if n <= total))
        self.rounds = []
        space = self.space
        status = "interrupted"
        try:
            for round_ in range(1, s.rounds + 1):
                first, last = (round_ - 1) * s.trials + 1, round_ * s.trials
                info = RoundInfo(round_, first, last, space)
                self.rounds.append(info)
                todo = [n for n in range(first, last + 1) if n not in self.trials]
                self._write_summary("running")
                for cb in callbacks:
                    cb.on_round_begin(self, info, len(todo))
                if todo:
                    self._run_trials([self.spec(n, round_, space) for n in todo], executor,
                                     callbacks)
                space = self._close_round(info)
                for cb in callbacks:
                    cb.on_round_end(self, info)
            status = "completed"
        except RunError:
            status = "failed"
            raise
        finally:
            self._write_summary(status)
            if status != "completed":
                self.plot(log)
        self._plot_on(executor, log)
        trials = [self.trials[n] for n in sorted(self.trials)]
        return SearchResult(self.path, status, trials, self.best(), self.rounds, s.metric, s.mode)

    def _run_trials(self, specs: list[TrialSpec], executor: Executor,
                    callbacks: Sequence[SearchCallback]) -> None:
        try:
            futures = [executor.submit(run_trial, spec) for spec in specs]
        except BrokenExecutor as exc:
            raise _lost_workers(exc) from None
        by_future = dict(zip(futures, specs))
        seen: set[Any] = set()
        try:
            for future in executor.as_completed(futures):
                seen.add(future)
                trial = self._outcome(future, by_future[future])
                if trial is None or trial.status == "interrupted":
                    raise KeyboardInterrupt   # the trial was stopped with Ctrl-C
                self._record(trial, callbacks)
        except KeyboardInterrupt:
            rest = [f for f in futures if f not in seen]
            for future in executor.interrupt(rest):
                trial = self._outcome(future, by_future[future])
                if trial is not None and trial.status in FINISHED:
                    self._record(trial, callbacks)   # finished before the stop reached it
            raise

    @staticmethod
    def _outcome(future: Any, spec: TrialSpec) -> Trial | None:
        if future.cancelled():
            return None
        try:
            return future.result()
        except BrokenExecutor as exc:
            # A local worker process died (killed, out of memory): the pool cannot go on, and
            # the trials it held never ran, so they must not be recorded as failed.
            raise _lost_workers(exc) from None
        except Exception as exc:
            # The worker itself broke (killed, out of memory, lost from a cluster): the trial
            # did not get to record anything, so it is a failure of that trial.
            return Trial(spec.number, spec.round, "failed", None, dict(spec.values), spec.seed,
                         message=f"worker error: {type(exc).__name__}: {exc}")

    def _record(self, trial: Trial, callbacks: Sequence[SearchCallback]) -> None:
        self.trials[trial.number] = trial
        # Rewritten whole (atomically) rather than appended: a kill never leaves half a row, and
        # a few hundred short rows cost nothing next to a trial.
        write_text(self.path / TRIALS_FILE,
                   format_trials(list(self.trials.values()), self.space, self.settings.metric))
        for cb in callbacks:
            cb.on_trial_end(self, trial)

    def _close_round(self, info: RoundInfo) -> Space:
        """Pick the round's kept trials and return the next round's space."""
        s = self.settings
        in_round = [self.trials[n] for n in range(info.first, info.last + 1)
                    if n in self.trials]
        kept = kept_trials(in_round, s.trials, s.keep, s.mode)
        info.kept = [t.number for t in kept]
        info.best = kept[0] if kept else None
        if len(kept) < 2:
            info.note = (f"only {len(kept)} trial(s) of round {info.round} succeeded: the next "
                         "round keeps this round's ranges")
            return info.space
        return info.space.shrink([t.values for t in kept])

    # -- outputs -------------------------------------------------------------------------------
    def _write_summary(self, status: str) -> None:
        s = self.settings
        counts: dict[str, int] = {}
        for trial in self.trials.values():
            counts[trial.status] = counts.get(trial.status, 0) + 1
        write_json(self.path / SUMMARY_FILE, {
            "search": self.path.name, "name": s.name, "status": status,
            "metric": s.metric, "mode": s.mode, "trials_per_round": s.trials,
            "rounds": s.rounds, "keep": s.keep, "seed": s.seed,
            "trials": {"finished": len(self.trials), "planned": s.trials * s.rounds, **counts},
            "best": _trial_data(self.best(), s.metric),
            "round_details": [info.to_data(s.metric) for info in self.rounds],
            "started": self.started, "updated": now_utc(),
        })

    def _plot_on(self, executor: Executor, log: Callable[[str], None] | None) -> None:
        # Drawn by a worker: it has matplotlib loaded already (every trial draws its cost.png),
        # while importing it here would add a second or so to a search of small trials.
        try:
            future = executor.submit(plot_search, str(self.path.resolve()))
            for done in executor.as_completed([future]):
                done.result()
        except Exception:   # any trouble with the workers: draw it here instead
            self.plot(log)

    def plot(self, log: Callable[[str], None] | None = None) -> Path | None:
        """trials.png: the metric against each sampled hyperparameter (None without trials or
        matplotlib)."""
        if not any(t.succeeded for t in self.trials.values()):
            return None
        try:
            from dlcli.tune.plot import plot_trials
        except ImportError:
            return None
        path = self.path / PLOT_FILE
        try:
            plot_trials(list(self.trials.values()), self.space, self.settings.metric,
                        self.settings.mode, path)
        except ImportError:   # no matplotlib: plotting is optional for library users
            return None
        except OSError as exc:
            if log is not None:
                log(f"could not write {path}: {exc}")
            return None
        return path


def plot_search(path: str) -> str | None:
    """Draw trials.png of the search directory at ``path`` (run in a worker); its path or None."""
    drawn = Search.open(path).plot()
    return None if drawn is None else str(drawn)


def _lost_workers(exc: BaseException) -> RunError:
    return RunError(f"a worker process died ({exc}); the finished trials are kept and "
                    "dlcli tune --resume SEARCH_DIR continues the search")


def open_for_resume(path: str | os.PathLike[str], rounds: int | None = None) -> Search:
    """``dlcli tune --resume``: the search at ``path``, optionally with more rounds."""
    search = Search.open(path)
    if rounds is not None:
        search.set_rounds(rounds)
    return search


def load_search_config(config: str | os.PathLike[str]) -> dict[str, Any]:
    """A config file's mapping, ``search:`` section included (``Search.create`` pops it)."""
    raw = read_yaml(config)
    if raw.get("name") is None:
        raw["name"] = Path(config).stem
    return raw


def load_space_file(path: str | os.PathLike[str]) -> Any:
    """A space file's mapping (validated by ``Search.create``)."""
    if not Path(path).is_file():
        raise InputError(f"--space {str(path)!r}: no such file")
    return read_yaml(path)
