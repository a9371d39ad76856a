"""``dlcli compare --group-by KEY[,KEY]`` (SPEC sections 0 and 12): one row per group of runs.

Runs are grouped by their values of config keys (``optimizer.name``); each group gets its runs'
statuses and n, mean, std (sample, n - 1; none for one run), min and max of every final and best
metric over the runs that succeeded (completed or stopped early) and have it as a finite number. Groups are sorted best first by the mean
of the sorting metric. Pure logic, no printing; the CLI renders it.

Given one sweep directory, ``compare`` groups by the sweep's grid keys unless told otherwise
(``study_group_keys``).
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlcli.errors import InputError
from dlcli.registry import did_you_mean
from dlcli import numbers
from dlcli.config.in_effect import in_effect
from dlcli.reports.columns import Column, heading
from dlcli.reports.compare import (BLOCKS, METRICS, RANK_COMPANION, RANK_METRIC, RANK_RUN,
                                   RANK_SORTED_BY, RANK_STATUS, Comparison, companion_metric,
                                   format_metric, format_param, metric_label, metric_value,
                                   param_value, short_keys)
from dlcli.runs.files import clean_json
from dlcli.runs.reader import RunRecord

SWEEP_SETTINGS = "sweep.json"


def parse_keys(text: str) -> list[str]:
    """``optimizer.name,model.hidden`` -> the key paths, in order, each once."""
    keys = list(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    if not keys:
        raise InputError(f"--group-by {text!r}: give config key paths separated by commas, "
                         "e.g. --group-by optimizer.name,model.hidden")
    return keys


def study_group_keys(paths: Sequence[Path]) -> list[str] | None:
    """The grid keys of a sweep directory, when ``paths`` is exactly one (else None)."""
    if len(paths) != 1:
        return None
    settings = Path(paths[0]) / SWEEP_SETTINGS
    try:
        grid = json.loads(settings.read_text(encoding="utf-8"))["grid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return list(grid) if isinstance(grid, dict) and grid else None


def check_keys(keys: Sequence[str], records: Sequence[RunRecord]) -> None:
    """Every key is a config key of some readable run."""
    known = sorted({key for r in records for key in (*r.config, *in_effect(r.config))})
    for key in keys:
        if key not in known:
            hint = did_you_mean(key, known)
            raise InputError(f"--group-by {key!r}: no run's config has this key"
                             + (f" ({hint})" if hint else "")
                             + "; give a config key path such as optimizer.name")


def stats(values: Sequence[float]) -> dict[str, Any]:
    """n, mean, std (sample; None below 2 values), min and max."""
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None}
    mean = math.fsum(values) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return {"n": n, "mean": mean, "std": std, "min": min(values), "max": max(values)}


@dataclass(frozen=True)
class Group:
    values: dict[str, Any]           # key path -> the group's value
    records: list[RunRecord]         # its runs, in the order given
    statistics: dict[str, dict[str, Any]]   # "final.dev_loss" -> stats
    sort_value: float | None         # mean of the sorting metric

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={format_param(v)}" for k, v in self.values.items())

    @property
    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.records:
            counts[r.status] = counts.get(r.status, 0) + 1
        return counts


@dataclass(frozen=True)
class Grouping:
    keys: list[str]
    groups: list[Group]
    metric: str
    direction: str
    columns: list[tuple[str, str]]   # (block, name) with a value in some run

    def status_text(self, group: Group) -> str:
        return ", ".join(f"{n} {s}" for s, n in sorted(group.statuses.items()))


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def group_runs(comparison: Comparison, keys: Sequence[str]) -> Grouping:
    """Group the readable runs of ``comparison`` by ``keys``, best group first."""
    readable = [r for r in comparison.records if r.readable]
    check_keys(keys, readable)
    by_key: dict[str, list[RunRecord]] = {}
    for record in readable:
        by_key.setdefault(_key([param_value(record, k) for k in keys]), []).append(record)
    columns = [(block, name) for block in BLOCKS for name in METRICS
               if any(name in r.block(block) for r in readable)]
    groups = []
    for records in by_key.values():
        statistics = {}
        # Statistics over the runs that succeeded, as a sweep's summary.json has them: a diverged
        # or failed run is counted and named, never averaged in.
        ok = [r for r in records if r.status in SUCCEEDED]
        for block, name in columns:
            values = [metric_value(r, f"{block}.{name}") for r in ok]
            statistics[f"{block}.{name}"] = stats([v for v in values if v is not None])
        sort_values = [metric_value(r, comparison.metric) for r in ok]
        sort_stats = stats([v for v in sort_values if v is not None])
        groups.append(Group({k: param_value(records[0], k) for k in keys}, records, statistics,
                            sort_stats["mean"]))
    sign = 1.0 if comparison.direction == "min" else -1.0
    order = sorted(range(len(groups)), key=lambda i: (
        groups[i].sort_value is None, sign * (groups[i].sort_value or 0.0), i))
    return Grouping(list(keys), [groups[i] for i in order], comparison.metric,
                    comparison.direction, columns)


def mean_std(s: dict[str, Any]) -> str:
    """``0.3412 ± 0.021`` (``numbers.spread``); the mean alone for one value; ``-`` for none."""
    if not s.get("n"):
        return "-"
    if s.get("std") is None:
        return format_metric(s["mean"])
    return numbers.spread(s["mean"], s["std"])


SUCCEEDED = ("completed", "early_stopped")
# The grouped table's metric columns, in this order, when some run has them.
GROUP_TABLE_METRICS = ("train_loss", "dev_loss", "dev_accuracy", "test_loss", "test_accuracy")


def columns(grouping: Grouping) -> list[Column]:
    """The columns of the human table, narrow enough for a terminal: the group's values, n,
    the runs that did not succeed, then mean ± std of the train loss and the dev and test
    metrics in the sorting metric's block (best, or final for ``--metric final.NAME``), ranked
    as ``compare.columns`` ranks them; csv and json hold every metric's statistics."""
    block = "final" if grouping.metric.startswith("final.") else "best"
    sort_name = grouping.metric.rpartition(".")[2]
    companion = companion_metric(sort_name)
    metrics = [(block, n) for n in GROUP_TABLE_METRICS if (block, n) in grouping.columns]
    metrics.sort(key=lambda m: (m[1] != sort_name, m[1] != companion))
    groups = grouping.groups
    cols = [Column(key, heading(short, max(len(format_param(g.values[key])) for g in groups)),
                   [format_param(g.values[key]) for g in groups], RANK_RUN, label=short)
            for key, short in zip(grouping.keys, short_keys(grouping.keys))]
    cols.append(Column("n", "n", [str(len(g.records)) for g in groups], RANK_RUN,
                       numeric=True))
    if any(s not in SUCCEEDED for g in groups for s in g.statuses):
        cols.append(Column("not_ok", "not ok", [", ".join(
            f"{n} {s}" for s, n in sorted(g.statuses.items()) if s not in SUCCEEDED) or "-"
            for g in groups], RANK_STATUS, label="runs not ok"))
    for b, name in metrics:
        rank = RANK_SORTED_BY if name == sort_name else RANK_COMPANION if name == companion \
            else RANK_METRIC + GROUP_TABLE_METRICS.index(name)
        cols.append(Column(f"{b}.{name}", f"{b}\n{metric_label(name)}",
                           [mean_std(g.statistics[f"{b}.{name}"]) for g in groups], rank,
                           numeric=True, label=f"{b} {metric_label(name)}"))
    return cols


def table(grouping: Grouping) -> tuple[list[str], list[list[str]]]:
    """Header and rows of every column (``columns``) on one line each, as markdown has them."""
    cols = columns(grouping)
    header = [c.header.replace("\n", " ") for c in cols]
    return header, [[c.cells[i] for c in cols] for i in range(len(grouping.groups))]


def caption(grouping: Grouping, mark: str = "") -> str:
    """What the groups are, the best one (``mark``: how the table marks it) and the sorting."""
    better = "lower" if grouping.direction == "min" else "higher"
    runs = sum(len(g.records) for g in grouping.groups)
    best = grouping.groups[0] if grouping.groups and \
        grouping.groups[0].sort_value is not None else None
    return (f"{numbers.counted(runs, 'run')} in "
            f"{numbers.counted(len(grouping.groups), 'group')} by {', '.join(grouping.keys)}"
            + (f"; best{mark}: {best.label}" if best is not None else "")
            + f"; sorted by mean {grouping.metric} ({better} is better); mean ± std over "
            "each group's runs")


def to_json(grouping: Grouping) -> str:
    rows = [{"group": {k: clean_json(v) for k, v in g.values.items()}, "n": len(g.records),
             "statuses": g.statuses, "runs": [str(r.path) for r in g.records],
             **{block: {name: clean_json(g.statistics[f"{block}.{name}"])
                        for b, name in grouping.columns if b == block} for block in BLOCKS}}
            for g in grouping.groups]
    return json.dumps(rows, indent=2, allow_nan=False)


def to_csv(grouping: Grouping) -> str:
    stat_names = ("mean", "std", "min", "max")
    header = [*grouping.keys, "n", "status",
              *(f"{b}.{n}.{s}" for b, n in grouping.columns for s in ("n", *stat_names))]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for g in grouping.groups:
        cells: list[Any] = [json.dumps(v) if isinstance(v, (list, dict, bool)) else
                            ("" if v is None else v) for v in g.values.values()]
        cells += [len(g.records), grouping.status_text(g)]
        for b, n in grouping.columns:
            s = g.statistics[f"{b}.{n}"]
            cells += [s["n"], *("" if s[k] is None else s[k] for k in stat_names)]
        writer.writerow(cells)
    return out.getvalue()


def to_markdown(grouping: Grouping) -> str:
    header, rows = table(grouping)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join([*lines, "", caption(grouping) + "."]) + "\n"


def plot_groups(grouping: Grouping) -> dict[str, list[Path]]:
    """Label -> run directories, as ``plot_study`` takes them: the groups in the order their
    first run was made and each group's runs by seed (then directory), never in rank order, so
    a group keeps its colour and its first seed's boundary however the runs score."""
    def made(record: RunRecord) -> tuple[str, str]:
        return (record.path.name, str(record.path))   # names start with the time they were made

    def by_seed(record: RunRecord) -> tuple[int, str, str]:
        seed = record.config.get("seed")
        return (seed if isinstance(seed, int) else 0, *made(record))

    groups = sorted(grouping.groups, key=lambda g: min(made(r) for r in g.records))
    return {g.label: [r.path for r in sorted(g.records, key=by_seed)] for g in groups}
