"""Random search, coarse to fine (SPEC section 12): the planner of ``dlcli tune``.

``RUNS_DIR/<timestamp>-<name>-search/`` holds:

- ``search.json``: the settings (trials per round, rounds, keep fraction, metric and its
  direction, search seed, the ``--set`` overrides);
- ``base-config.yaml``: the resolved config every trial starts from (no ``search:`` section);
- ``space.yaml``: the space of the first round, in the space syntax (``dlcli.study.space``);
- ``trials.csv``: one row per finished trial, in trial order: ``trial, round, status, <metric>``,
  the sampled value of every space key, then ``seed, run, seconds, worker, message``;
- ``summary.json``: the status of the search, the best trial, and every round's ranges, kept
  trials and best trial;
- ``trials.png``: the metric against each sampled hyperparameter;
- one ordinary run directory per trial, ``<timestamp>-<name>-tNNN``, whose config.yaml holds the
  trial's seed and sampled values (``dlcli train`` on it reproduces the trial).

Trial ``k``'s values are drawn from a generator seeded with (search seed, k) in the ranges of its
round, and its run seed comes from the same pair: so a resumed search draws exactly the trials an
uninterrupted one would have. Running, recording, Ctrl-C and resuming are the runner's
(``dlcli.study.runner``).
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlcli.config import load_config, read_yaml
from dlcli.errors import ConfigError, InputError, os_reason
from dlcli.runs.files import write_json, write_yaml
from dlcli.study.precedence import check_not_inside, fixed_keys, fixed_note
from dlcli.study.runner import Batch, Log, Planner, Study, ranked
from dlcli.study.space import Space, check_space, parse_space
from dlcli.study.tasks import Outcome, Task, check_metric, metric_mode

SEARCH_FILE = "search.json"
SPACE_FILE = "space.yaml"
TRIALS_FILE = "trials.csv"
PLOT_FILE = "trials.png"
HEAD = ("trial", "round", "status")
TAIL = ("seed", "run", "seconds", "worker", "message")


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


def trial_seeds(search_seed: int, number: int) -> tuple[np.random.Generator, int]:
    """(generator for trial ``number``'s values, trial ``number``'s run seed).

    Both come from SeedSequence(search seed, spawn key (number,)): independent streams, the same
    on every machine, whatever order the trials run or finish in."""
    sampling, seeding = np.random.SeedSequence(search_seed, spawn_key=(number,)).spawn(2)
    return np.random.default_rng(sampling), int(seeding.generate_state(1, np.uint32)[0])


def kept_trials(trials: Sequence[Outcome], per_round: int, keep: float,
                mode: str) -> list[Outcome]:
    """The best ``keep`` fraction of a round's trials (at least 2, so a range keeps a width),
    best first; ties go to the earlier trial. Failed and diverged trials are never kept."""
    count = max(2, math.ceil(keep * per_round - 1e-9))
    return ranked(trials, mode)[:count]


@dataclass
class RoundInfo:
    round: int
    first: int
    last: int
    space: Space
    kept: list[int] = field(default_factory=list)
    best: Outcome | None = None
    note: str = ""

    def to_data(self, metric: str) -> dict[str, Any]:
        return {"round": self.round, "trials": [self.first, self.last],
                "space": self.space.to_data(), "kept": self.kept,
                "best": _trial_data(self.best, metric), **({"note": self.note}
                                                           if self.note else {})}


def _trial_data(trial: Outcome | None, metric: str) -> dict[str, Any] | None:
    if trial is None:
        return None
    return {"trial": trial.number, "run": trial.run, metric: trial.metric,
            "values": trial.values, "seed": trial.seed}


class RandomSearch(Planner):
    """Rounds of randomly sampled trials; each round samples where the last one's best were."""

    kind = "search"
    table_file = TRIALS_FILE
    settings_file = SEARCH_FILE
    command = "dlcli tune"

    def __init__(self, settings: Settings, base: dict[str, Any], space: Space) -> None:
        self.settings, self.base, self.space = settings, base, space
        self.name, self.metric, self.mode = settings.name, settings.metric, settings.mode
        self.rounds: list[RoundInfo] = []

    # -- files ---------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        super().save(path)
        write_yaml(path / SPACE_FILE, self.space.to_data())

    @classmethod
    def load(cls, path: Path) -> RandomSearch:
        settings, base = cls.read_saved(path, Settings, SPACE_FILE)
        space = parse_space(read_yaml(path / SPACE_FILE), f"{path / SPACE_FILE}:")
        return cls(settings, base, space)

    # -- the table -----------------------------------------------------------------------------
    def columns(self) -> list[str]:
        return [*HEAD, self.metric, *self.space, *TAIL]

    def row(self, t: Outcome) -> list[Any]:
        return [t.number, t.group, t.status, t.metric, *[t.values.get(k) for k in self.space],
                t.seed, t.run, t.seconds, t.worker, " ".join(t.message.split())]

    def parse_row(self, row: Mapping[str, str]) -> Outcome:
        metric = self.metric
        return Outcome(int(row["trial"]), int(row["round"]), row["status"],
                       float(row[metric]) if row[metric] else None,
                       {key: dist.parse_cell(row[key]) for key, dist in self.space.items()},
                       int(row["seed"]), row["run"], float(row["seconds"] or 0.0),
                       row["worker"], row["message"])

    # -- running -------------------------------------------------------------------------------
    def total(self) -> int:
        return self.settings.trials * self.settings.rounds

    def task(self, number: int, round_: int, space: Space, path: Path) -> Task:
        rng, seed = trial_seeds(self.settings.seed, number)
        values = space.sample(rng)
        sampled = space.overrides(values)
        return Task(number=number, group=round_, name=f"{self.name}-t{number:03d}", seed=seed,
                    values=values, overrides=[*self.settings.overrides, *sampled],
                    settings=sampled, base=self.base, runs_dir=str(path.resolve()),
                    metric=self.metric)

    def batches(self, study: Study) -> Iterator[Batch]:
        s = self.settings
        self.rounds = []
        space = self.space
        for round_ in range(1, s.rounds + 1):
            first, last = (round_ - 1) * s.trials + 1, round_ * s.trials
            info = RoundInfo(round_, first, last, space)
            self.rounds.append(info)
            yield Batch([self.task(n, round_, space, study.path) for n in range(first, last + 1)],
                        label=f"round {round_}/{s.rounds}", info=info)
            space = self._close_round(info, study.outcomes)

    def _close_round(self, info: RoundInfo, outcomes: Mapping[int, Outcome]) -> Space:
        """Pick the round's kept trials and return the next round's space."""
        s = self.settings
        in_round = [outcomes[n] for n in range(info.first, info.last + 1) if n in outcomes]
        kept = kept_trials(in_round, s.trials, s.keep, s.mode)
        info.kept = [t.number for t in kept]
        info.best = kept[0] if kept else None
        if len(kept) < 2:
            info.note = (f"only {len(kept)} trial(s) of round {info.round} succeeded: the next "
                         "round keeps this round's ranges")
            return info.space
        return info.space.shrink([t.values for t in kept])

    def set_rounds(self, rounds: int, outcomes: Iterable[Outcome], path: Path) -> None:
        """Change the number of rounds (``--resume --rounds R`` to search further)."""
        done = max((t.group for t in outcomes), default=0)
        if rounds < max(1, done):
            raise InputError(f"--rounds {rounds}: the search already has trials of round "
                             f"{done}")
        self.settings = Settings(**{**asdict(self.settings), "rounds": rounds})
        write_json(path / SEARCH_FILE, asdict(self.settings))

    # -- outputs -------------------------------------------------------------------------------
    def summary(self, study: Study, status: str) -> dict[str, Any]:
        s = self.settings
        counts: dict[str, int] = {}
        for trial in study.outcomes.values():
            counts[trial.status] = counts.get(trial.status, 0) + 1
        return {
            "search": study.path.name, "name": s.name, "status": status,
            "metric": s.metric, "mode": s.mode, "trials_per_round": s.trials,
            "rounds": s.rounds, "keep": s.keep, "seed": s.seed,
            "trials": {"finished": len(study.outcomes), "planned": self.total(), **counts},
            "best": _trial_data(study.best(), s.metric),
            "round_details": [info.to_data(s.metric) for info in self.rounds],
        }

    def plot(self, study: Study, log: Log | None = None) -> Path | None:
        """trials.png: the metric against each sampled hyperparameter (None without trials or
        matplotlib)."""
        trials = list(study.outcomes.values())
        if not any(t.succeeded for t in trials):
            return None
        path = study.path / PLOT_FILE
        try:
            from dlcli.study.trials_plot import plot_trials
            plot_trials(trials, self.space, self.metric, self.mode, path)
        except ImportError:   # no matplotlib: plotting is optional for library users
            return None
        except OSError as exc:
            if log is not None:
                log(f"could not write {path}: {os_reason(exc)}")
            return None
        return path


# -- making and opening a search -------------------------------------------------------------------

def create_search(raw: Mapping[str, Any], runs_dir: str | os.PathLike[str], *,
                  space: Any = None, trials: int, rounds: int = 1, keep: float = 0.25,
                  metric: str | None = None, seed: int | None = None,
                  overrides: Sequence[str] = (), name: str | None = None,
                  log: Log | None = None) -> Study:
    """Validate everything, then make the search directory and write its files.

    ``raw`` is a config mapping, possibly with a ``search:`` section holding the space;
    ``space`` (a mapping in the space syntax, or a Space) wins over it. A key ``--set`` fixes
    leaves the space (``log`` hears which: ``dlcli.study.precedence``)."""
    raw = dict(raw)
    in_config = raw.pop("search", None)
    raw.pop("sweep", None)
    if space is None and in_config is None:
        raise InputError("no search space: give --space SPACE.yaml, or a search: section "
                         "in the config mapping key paths to distributions")
    if not isinstance(space, Space):
        where = "search space" if space is not None else "search"
        space = parse_space(space if space is not None else in_config, where)
    else:
        where = "search space"
    config = load_config(raw=raw, overrides=list(overrides), name=name)
    base = config.to_dict()
    check_space(space, base, where)
    space = _unfixed(space, overrides, where, log)
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
    return Study.create(RandomSearch(settings, base, space), runs_dir)


def _unfixed(space: Space, overrides: Sequence[str], where: str, log: Log | None) -> Space:
    """``space`` without the keys ``--set`` fixes (the command line wins)."""
    check_not_inside(space, overrides, "searched", "space")
    fixed = fixed_keys(space, overrides)
    if not fixed:
        return space
    if len(fixed) == len(space):
        raise ConfigError(where, message=f"{where}: --set fixes every key of it "
                          f"({', '.join(fixed)}); nothing is left to search")
    for key, by in fixed.items():
        if log is not None:
            log(fixed_note(key, by, "searched"))
    return Space({key: dist for key, dist in space.items() if key not in fixed})


def open_search(path: str | os.PathLike[str], rounds: int | None = None) -> Study:
    """``dlcli tune --resume``: the search at ``path``, optionally with more rounds."""
    study = Study.open(path, RandomSearch)
    if rounds is not None:
        planner = study.planner
        assert isinstance(planner, RandomSearch)
        planner.set_rounds(rounds, study.outcomes.values(), study.path)
    return study


def load_study_config(config: str | os.PathLike[str]) -> dict[str, Any]:
    """A config file's mapping, ``search:`` and ``sweep:`` sections included (the planner
    pops them)."""
    raw = read_yaml(config)
    if raw.get("name") is None:
        raw["name"] = Path(config).stem
    return raw


def load_space_file(path: str | os.PathLike[str]) -> Any:
    """A space file's mapping (validated by ``create_search``)."""
    return read_yaml(path, "space file")
