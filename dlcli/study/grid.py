"""Grid sweeps (SPEC section 12): the planner of ``dlcli sweep``.

The Cartesian product of a grid of config values, each point run with N seeds (``seed``,
``seed + 1``, ...) on one data split (the base config's ``data.seed``, else its ``seed``).

``RUNS_DIR/<timestamp>-<name>-sweep/`` holds:

- ``sweep.json``: the settings (grid, seeds, metric and its direction, metric columns, the
  ``--set`` overrides);
- ``base-config.yaml``: the resolved config every run starts from (no ``sweep:`` section);
- ``study.csv``: one row per finished run, in (point, seed) order: ``number, point``, the point's
  value of every grid key, ``seed, status``, the final and best metrics (``final.dev_loss``, ...,
  ``best.epoch``, ...), then ``run`` (the run directory), ``seconds, worker, message``;
- ``summary.json``: per point, its values, its runs' statuses, and n, mean, std (sample, n - 1),
  min and max of every final and best metric over the runs that succeeded; the grid and seeds;
- ``study.png``: mean curves with min-max bands across seeds, one colour per point
  (``dlcli.reports.study_plot``);
- one ordinary run directory per (point, seed), ``<timestamp>-<name>-pNN-s<seed>``.

Grid values are YAML scalars. On the command line, ``KEY.PATH=V1,V2,...`` splits on commas outside
brackets, braces and quotes: ``model.hidden=[16,8],[32]`` is two points.
"""
from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from dlcli.config import apply_overrides, check_key_path, load_config, safe_yaml, validate
from dlcli.errors import ConfigError, InputError, shown
from dlcli.numbers import counted
from dlcli.registry import did_you_mean
from dlcli.reports.groups import stats
from dlcli.run_schema import EPOCH_METRICS, split_metrics
from dlcli.study.precedence import check_not_inside, fixed_keys, fixed_note
from dlcli.study.runner import Batch, Log, Planner, Study, cell, one_line
from dlcli.study.space import yaml_value
from dlcli.study.tasks import Outcome, Task, check_metric, data_seed_of, metric_mode

SWEEP_FILE = "sweep.json"
STUDY_FILE = "study.csv"
PLOT_FILE = "study.png"
DEFAULT_SEEDS = 3
SECTION_KEYS = ("grid", "seeds", "metric")
# Keys a grid may not set: the sweep names each run, and --seeds sets the seeds.
RESERVED = ("name", "seed")
_OPEN, _CLOSE = "[{(", "]})"


# -- parsing the grid ----------------------------------------------------------------------------

def split_values(text: str) -> list[str]:
    """``V1,V2,...`` split on commas outside brackets, braces and quotes (raises ValueError)."""
    parts: list[str] = []
    depth, quote, start = [], "", 0
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in _OPEN:
            depth.append(_CLOSE[_OPEN.index(char)])
        elif char in _CLOSE:
            if not depth or depth.pop() != char:
                raise ValueError(f"{char!r} at character {index + 1} closes nothing")
        elif char == "," and not depth:
            parts.append(text[start:index])
            start = index + 1
    if quote:
        raise ValueError(f"the quote {quote} is not closed")
    if depth:
        raise ValueError(f"{depth[-1]!r} is missing")
    parts.append(text[start:])
    return parts


def parse_value(text: str) -> Any:
    """One grid value, read by the one YAML reader (as ``--set`` reads its value): ``1e-3`` is
    a float; an alias bomb, a 5,000-digit integer or absurd nesting is refused."""
    try:
        return safe_yaml.load(text)
    except ConfigError as exc:
        problem = str(exc).removeprefix("config error: ")
        raise ValueError(f"{shown(text.strip())} is not a YAML value ({problem})") from None


def parse_grid_option(text: str) -> tuple[str, list[Any]]:
    """``--grid KEY.PATH=V1,V2,...`` -> (key path, values)."""
    key, sep, rest = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InputError(f"--grid {shown(text)}: write KEY.PATH=V1,V2,..., e.g. --grid "
                         "optimizer.name=gd,adam")
    try:
        texts = split_values(rest)
        if any(not t.strip() for t in texts):
            raise ValueError("a value is empty (two commas in a row, or one at an end)")
        values = [parse_value(t) for t in texts]
    except ValueError as exc:
        raise InputError(f"--grid {key}: {exc}; write V1,V2,... with lists in brackets and "
                         "commas inside a value quoted, e.g. model.hidden=[16,8],[32]") from None
    return key, values


def _flatten(data: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def parse_section(section: Any) -> tuple[dict[str, list[Any]], int | None, str | None]:
    """A config's ``sweep: {grid: {KEY.PATH: [values...]}, seeds: N, metric: NAME}`` ->
    (grid, seeds, metric); ``metric`` is checked with the config (``check_metric``)."""
    if section is None:
        return {}, None, None
    if not isinstance(section, Mapping):
        raise ConfigError("sweep", section, "must be a mapping with grid: and seeds:")
    for key in section:
        if key not in SECTION_KEYS:
            hint = did_you_mean(str(key), SECTION_KEYS)
            raise ConfigError(f"sweep.{key}", message=f"sweep.{key}: unknown key {key!r}"
                              + (f" ({hint})" if hint else "")
                              + f"; allowed keys here: {', '.join(SECTION_KEYS)}")
    grid_data = section.get("grid") or {}
    if not isinstance(grid_data, Mapping):
        raise ConfigError("sweep.grid", grid_data, "must map config key paths to lists of "
                          "values, e.g. {optimizer.name: [gd, adam]}")
    grid: dict[str, list[Any]] = {}
    for key, values in _flatten(grid_data).items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"sweep.grid.{key}", values, "must be a non-empty list of "
                              "values, e.g. [gd, adam]")
        grid[key] = values
    seeds = section.get("seeds")
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int)
                              or seeds < 1):
        raise ConfigError("sweep.seeds", seeds, "must be a whole number >= 1")
    metric = section.get("metric")
    if metric is not None and not isinstance(metric, str):
        raise ConfigError("sweep.metric", metric, "must be a metric name, e.g. dev_loss or "
                          "final.dev_loss")
    return grid, seeds, metric


def merge_grid(config_grid: Mapping[str, list[Any]],
               options: Sequence[str]) -> dict[str, list[Any]]:
    """The config's grid with every ``--grid`` applied: a given key's values are replaced, a new
    key is added after the config's keys."""
    grid = {key: list(values) for key, values in config_grid.items()}
    for text in options:
        key, values = parse_grid_option(text)
        grid[key] = values
    return grid


def plan_grid(config_grid: Mapping[str, list[Any]], options: Sequence[str],
              overrides: Sequence[str] = (), log: Log | None = None) -> dict[str, list[Any]]:
    """The grid a sweep runs: the config's ``sweep.grid`` with ``--grid`` applied, less every key
    ``--set`` fixes (the command line wins; ``log`` is told which). Every key is checked to be
    a config key first, wherever it was written."""
    given = [parse_grid_option(text)[0] for text in options]
    grid = merge_grid(config_grid, options)
    for key, values in grid.items():
        _check_key(key, values, "--grid" if key in given else "sweep.grid")
    check_not_inside(grid, overrides, "swept", "grid")
    for key, by in fixed_keys(grid, overrides).items():
        if key in given:
            raise ConfigError(f"--grid {key}", message=f"--grid {key}: --set {by} fixes it "
                              "to one value; give either --set (one value for every run) "
                              "or --grid (values to sweep)")
        del grid[key]
        if log is not None:
            log(fixed_note(key, by, "swept"))
    return grid


def point_label(values: Mapping[str, Any]) -> str:
    """``optimizer.name=adam, model.hidden=[16, 8]``."""
    return ", ".join(f"{key}={yaml_value(value)}" for key, value in values.items())


def _check_key(key: str, values: list[Any], source: str) -> None:
    """``key`` is a config key the sweep does not set itself, and no value repeats."""
    at = f"{source} {key}"
    check_key_path(key, source)
    if key in RESERVED:
        raise ConfigError(at, message=f"{at}: the sweep sets each run's {key} itself"
                          + ("; use --seeds N (or sweep.seeds) for seeds" if key == "seed"
                             else ""))
    texts = [yaml_value(v) for v in values]
    if len(set(texts)) < len(texts):
        raise ConfigError(at, values, "the values must differ from each other")


# -- the planner ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """What a sweep does; written to sweep.json and read back by ``--resume``."""

    name: str
    grid: dict[str, list[Any]]
    seeds: list[int]
    metric: str
    mode: str
    metrics: list[str]               # the metric columns of study.csv, e.g. dev_loss
    data_seed: int
    overrides: list[str] = field(default_factory=list)


class GridSweep(Planner):
    """Every point of the grid, each with every seed, in one batch."""

    kind = "sweep"
    table_file = STUDY_FILE
    settings_file = SWEEP_FILE
    command = "dlcli sweep"

    def __init__(self, settings: Settings, base: dict[str, Any]) -> None:
        self.settings, self.base = settings, base
        self.name, self.metric, self.mode = settings.name, settings.metric, settings.mode
        keys = list(settings.grid)
        self.points: list[dict[str, Any]] = [
            dict(zip(keys, combo)) for combo in itertools.product(*settings.grid.values())]
        self.width = max(2, len(str(len(self.points))))
        # A cell back to its value, per key: exact for floats and lists alike.
        self._by_text = {key: {cell(v): v for v in values}
                         for key, values in settings.grid.items()}

    # -- files ---------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path) -> GridSweep:
        return cls(*cls.read_saved(path, Settings))

    # -- the table -----------------------------------------------------------------------------
    def metric_columns(self) -> list[str]:
        return [f"{block}.{name}" for block in ("final", "best")
                for name in ("epoch", *self.settings.metrics)]

    def columns(self) -> list[str]:
        return ["number", "point", *self.settings.grid, "seed", "status",
                *self.metric_columns(), "run", "seconds", "worker", "message"]

    def row(self, o: Outcome) -> list[Any]:
        blocks = {"final": o.final, "best": o.best}
        return [o.number, o.group, *[o.values.get(k) for k in self.settings.grid], o.seed,
                o.status, *[blocks[c.partition(".")[0]].get(c.partition(".")[2])
                            for c in self.metric_columns()],
                o.run, o.seconds, o.worker, one_line(o.message)]

    def parse_row(self, row: Mapping[str, str]) -> Outcome:
        values = {}
        for key in self.settings.grid:
            if row[key] not in self._by_text[key]:
                raise ValueError(f"{key} {row[key]!r} is not one of the grid's values")
            values[key] = self._by_text[key][row[key]]
        blocks: dict[str, dict[str, float]] = {"final": {}, "best": {}}
        for column in self.metric_columns():
            block, _, name = column.partition(".")
            if row[column]:
                blocks[block][name] = int(row[column]) if name == "epoch" else \
                    float(row[column])
        best = blocks["best"]
        metric = self.metric.removeprefix("best.")
        chosen = blocks["final"].get(metric.removeprefix("final.")) \
            if metric.startswith("final.") else best.get(metric)
        return Outcome(int(row["number"]), int(row["point"]), row["status"],
                       chosen if row["status"] in ("completed", "early_stopped") else None,
                       values, int(row["seed"]), row["run"], float(row["seconds"] or 0.0),
                       row["worker"], row["message"], final=blocks["final"], best=best)

    # -- running -------------------------------------------------------------------------------
    def total(self) -> int:
        return len(self.points) * len(self.settings.seeds)

    def tasks(self, path: Path) -> list[Task]:
        s = self.settings
        tasks = []
        for index, point in enumerate(self.points, start=1):
            settings = [f"{key}={yaml_value(value)}" for key, value in point.items()]
            for k, seed in enumerate(s.seeds):
                tasks.append(Task(
                    number=(index - 1) * len(s.seeds) + k + 1, group=index,
                    name=f"{s.name}-p{index:0{self.width}d}-s{seed}", seed=seed,
                    values=dict(point), overrides=[*s.overrides, *settings], settings=settings,
                    base=self.base, runs_dir=str(path.resolve()), metric=s.metric))
        return tasks

    def batches(self, study: Study) -> Iterator[Batch]:
        yield Batch(self.tasks(study.path), label=f"{counted(len(self.points), 'point')} x "
                    f"{counted(len(self.settings.seeds), 'seed')}")

    def label(self, index: int) -> str:
        """The label of point ``index`` (from 1)."""
        return point_label(self.points[index - 1]) or self.name

    # -- outputs -------------------------------------------------------------------------------
    def summary(self, study: Study, status: str) -> dict[str, Any]:
        s = self.settings
        counts: dict[str, int] = {}
        for outcome in study.outcomes.values():
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        points = []
        for index, values in enumerate(self.points, start=1):
            runs = [o for o in study.outcomes.values() if o.group == index]
            ok = [o for o in runs if o.status in ("completed", "early_stopped")]
            statuses: dict[str, int] = {}
            for o in runs:
                statuses[o.status] = statuses.get(o.status, 0) + 1
            points.append({
                "point": index, "label": self.label(index), "values": values,
                "runs": [o.run for o in sorted(runs, key=lambda o: o.number)],
                "statuses": statuses, "n": len(ok),
                **{block: {name: stats([getattr(o, block)[name] for o in ok
                                         if name in getattr(o, block)])
                           for name in ("epoch", *s.metrics)}
                   for block in ("final", "best")},
                "metric": stats([o.metric for o in ok if o.metric is not None]),
            })
        scored = [p for p in points if p["metric"]["n"]]
        sign = 1.0 if s.mode == "min" else -1.0
        best = min(scored, key=lambda p: (sign * p["metric"]["mean"], p["point"]),
                   default=None)
        return {
            "sweep": study.path.name, "name": s.name, "status": status,
            "metric": s.metric, "mode": s.mode, "grid": s.grid, "seeds": s.seeds,
            "data_seed": s.data_seed,
            "runs": {"finished": len(study.outcomes), "planned": self.total(), **counts},
            "best_point": None if best is None else {
                "point": best["point"], "label": best["label"], "values": best["values"],
                s.metric: best["metric"]},
            "points": points,
        }

    def groups(self, study: Study) -> dict[str, list[Path]]:
        """Point label -> the run directories of its finished runs, in seed order."""
        groups: dict[str, list[Path]] = {}
        for index in range(1, len(self.points) + 1):
            runs = sorted((o for o in study.outcomes.values() if o.group == index and o.run),
                          key=lambda o: o.number)
            dirs = [study.path / o.run for o in runs if (study.path / o.run).is_dir()]
            if dirs:
                groups[self.label(index)] = dirs
        return groups

    def plot(self, study: Study, log: Log | None = None) -> Path | None:
        """study.png, drawn by ``dlcli.reports.study_plot``; a problem drawing it is a warning
        (with ``log``), never the end of a sweep."""
        groups = self.groups(study)
        if not groups:
            return None
        path = study.path / PLOT_FILE
        try:
            from dlcli.reports.study_plot import plot_study
            return Path(plot_study(groups, path, title=study.path.name))
        except Exception as exc:
            if log is None:
                raise
            log(f"{PLOT_FILE} was not drawn: {type(exc).__name__}: {exc}")
            return None


# -- making and opening a sweep --------------------------------------------------------------------

def study_metrics(config: Any) -> list[str]:
    """The metrics a run of ``config`` reports: cost, train, dev (with a dev split), test (with
    a test split)."""
    names = [m for m in EPOCH_METRICS if config.has_dev_split or not m.startswith("dev_")]
    if config.data.test or config.data.test_fraction > 0:
        names += list(split_metrics(("test",)))
    return names


def create_sweep(raw: Mapping[str, Any], runs_dir: str | os.PathLike[str], *,
                 grid: Sequence[str] = (), seeds: int | None = None, metric: str | None = None,
                 overrides: Sequence[str] = (), name: str | None = None,
                 log: Log | None = None) -> Study:
    """Validate everything (every point's config), then make the sweep directory.

    ``raw`` is a config mapping, possibly with a ``sweep:`` section; each ``--grid`` text
    replaces the section's values of its key, and each ``--set`` key leaves the grid (``log``
    hears which: ``dlcli.study.precedence``). Nothing is written when anything is wrong."""
    raw = dict(raw)
    config_grid, config_seeds, config_metric = parse_section(raw.pop("sweep", None))
    raw.pop("search", None)
    config = load_config(raw=raw, overrides=list(overrides), name=name)
    merged = plan_grid(config_grid, grid, overrides, log)
    base = config.to_dict()
    count = seeds if seeds is not None else config_seeds if config_seeds is not None \
        else DEFAULT_SEEDS
    if count < 1:
        raise InputError(f"--seeds {count}: give at least 1 seed")
    metric = check_metric(metric if metric is not None else config_metric,
                          config.has_dev_split)
    settings = Settings(name=config.name or "sweep", grid=merged,
                        seeds=[config.seed + k for k in range(count)], metric=metric,
                        mode=metric_mode(metric), metrics=study_metrics(config),
                        data_seed=data_seed_of(base), overrides=list(overrides))
    planner = GridSweep(settings, base)
    # Every point as train would see it: a value the config does not allow, or values that do
    # not fit together, are refused before anything runs.
    for index, point in enumerate(planner.points, start=1):
        try:
            validate(apply_overrides(base, [f"{k}={yaml_value(v)}" for k, v in point.items()]))
        except ConfigError as exc:
            if len(merged) > 1:
                raise ConfigError(exc.path, message=f"{_reason(exc)} (grid point {index}: "
                                  f"{planner.label(index)})") from None
            raise
    return Study.create(planner, runs_dir)


def _reason(exc: ConfigError) -> str:
    return str(exc).removeprefix("config error at ").removeprefix("config error: ")


def open_sweep(path: str | os.PathLike[str]) -> Study:
    """``dlcli sweep --resume``: the sweep at ``path``."""
    return Study.open(path, GridSweep)
