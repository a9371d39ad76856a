"""Comparing runs (SPEC section 0, ``dlcli compare``): the pure logic, no printing.

``compare_runs`` picks the config values that differ, sorts the runs by a metric in the right
direction and keeps unreadable or metric-less runs last; the ``to_*`` functions turn the result
into the rows of each output format.

A metric is named ``NAME`` (the value at the run's best epoch, or the final value for metrics only
measured at the end, such as ``test_accuracy``), ``best.NAME`` or ``final.NAME``.
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dlcli import run_schema
from dlcli.errors import InputError
from dlcli.registry import did_you_mean
from dlcli.run_schema import COST, METRICS, Direction
from dlcli.runs.files import clean_json
from dlcli.runs.reader import RunRecord

BLOCKS = ("final", "best")
# Metric columns in the order a reader expects them (METRICS); only those some run has are shown.
TABLE_METRICS = tuple(m for m in METRICS if m != COST)  # the table leaves out the cost
# Keys of a block that are epoch numbers, not metrics.
EPOCH_KEYS = ("epoch", "last_evaluated_epoch")
MISSING = "-"


def direction(metric: str) -> Direction:
    """``min`` for a loss or the cost, ``max`` for an accuracy; anything else is an InputError."""
    sense = run_schema.direction(metric)
    if sense is not None:
        return sense
    raise InputError(f"--metric {metric!r}: cannot tell whether higher or lower is better; "
                     "name a loss, the cost or an accuracy (e.g. dev_loss, best.dev_accuracy)")


def metric_value(record: RunRecord, metric: str) -> float | None:
    """The value of ``metric`` (``NAME``, ``best.NAME`` or ``final.NAME``) for one run.

    None when the run is unreadable, lacks it, or it is not a finite number (a diverged run).
    """
    block, _, name = metric.rpartition(".")
    if not record.readable:
        return None
    if block:
        value = record.block(block).get(name)
    else:
        value = record.block("best").get(name, record.block("final").get(name))
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def available_metrics(records: Sequence[RunRecord]) -> list[str]:
    """Every ``block.NAME`` with a numeric value in some readable run."""
    found = {f"{block}.{key}" for r in records if r.readable for block in BLOCKS
             for key, value in r.block(block).items()
             if key not in EPOCH_KEYS and isinstance(value, (int, float))}
    return sorted(found)


def default_metric(records: Sequence[RunRecord]) -> str:
    """``dev_loss`` when some run has a dev split, else ``train_loss``, else ``cost``."""
    with_dev = run_schema.default_monitor(has_dev=True)
    for metric in (with_dev, run_schema.default_monitor(has_dev=False), COST):
        if any(metric_value(r, metric) is not None for r in records):
            return metric
    return with_dev


def differing_params(records: Sequence[RunRecord], all_params: bool = False) -> list[str]:
    """The dotted config keys whose values differ between runs (every key with ``all_params``).

    Runs whose config could not be read are left out of the comparison, and so is ``name``
    (every table shows it anyway). A key missing from some runs counts as differing.
    """
    configs = [r.config for r in records if r.config]
    keys = sorted({key for config in configs for key in config} - {"name"})
    if all_params:
        return keys
    missing = object()
    return [key for key in keys
            if any(c.get(key, missing) != configs[0].get(key, missing) for c in configs[1:])]


@dataclass(frozen=True)
class Comparison:
    """Runs sorted best first by ``metric``, with the config keys worth showing."""

    records: list[RunRecord]
    params: list[str]
    metric: str
    direction: Direction
    values: list[float | None]

    @property
    def best(self) -> RunRecord | None:
        """The best run, or None when no run has the metric."""
        return self.records[0] if self.values and self.values[0] is not None else None

    def metric_columns(self, names: Sequence[str] = METRICS) -> list[tuple[str, str]]:
        """(block, name) pairs of ``names`` that some run has, final ones first."""
        return [(block, name) for block in BLOCKS for name in names
                if any(name in r.block(block) for r in self.records)]


def compare_runs(records: Sequence[RunRecord], metric: str | None = None,
                 all_params: bool = False) -> Comparison:
    """Sort ``records`` by ``metric`` (default: see ``default_metric``), best first.

    Runs without the metric come after those with it, unreadable runs last; ties keep the order
    the runs were given in. Naming a metric no run has is an InputError with the choices.
    """
    metric = metric or default_metric(records)
    block, _, name = metric.rpartition(".")
    if block not in ("", *BLOCKS):
        raise InputError(f"--metric {metric!r}: write NAME, best.NAME or final.NAME")
    values = [metric_value(r, metric) for r in records]
    blocks = (block,) if block else BLOCKS
    if any(r.readable for r in records) and not any(
            name in r.block(b) for r in records for b in blocks):
        choices = available_metrics(records)
        bare = sorted({c.partition(".")[2] for c in choices})
        hint = did_you_mean(name, bare)
        raise InputError(f"--metric {metric!r}: no run has this metric"
                         + (f" ({hint})" if hint else "")
                         + f"; the runs have: {', '.join(choices) or 'no metrics'}")
    sense = direction(metric)
    sign = 1.0 if sense == "min" else -1.0

    def key(index: int) -> tuple[int, float]:
        value = values[index]
        if value is not None:
            return (0, sign * value)
        return (1 if records[index].readable else 2, 0.0)

    order = sorted(range(len(records)), key=key)
    return Comparison(records=[records[i] for i in order], params=differing_params(records,
                      all_params), metric=metric, direction=sense,
                      values=[values[i] for i in order])


def format_param(value: Any) -> str:
    """A config value as text, exactly: strings bare, everything else as YAML/JSON writes it."""
    if value is None:
        return MISSING
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value)


def format_metric(value: Any) -> str:
    """A metric as short text: floats to 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return MISSING if value is None else str(value)


def run_path(record: RunRecord) -> str:
    return str(record.path)


def to_json(comparison: Comparison) -> str:
    """SPEC section 0: a list of objects with keys run, name, status, params, final, best,
    epochs_run, train_seconds. ``run`` is the run directory's path as found."""
    rows = [{
        "run": run_path(r),
        "name": r.name,
        "status": r.status,
        "params": {key: clean_json(r.config.get(key)) for key in comparison.params},
        "final": clean_json(r.block("final")),
        "best": clean_json(r.block("best")),
        "epochs_run": r.metrics.get("epochs_run"),
        "train_seconds": clean_json(r.metrics.get("train_seconds")),
    } for r in comparison.records]
    return json.dumps(rows, indent=2, allow_nan=False)


def _csv_cell(value: Any) -> Any:
    value = clean_json(value)
    if value is None:
        return ""
    if isinstance(value, (list, dict, bool)):
        return json.dumps(value)
    return value


def to_csv(comparison: Comparison) -> str:
    """One header row and one row per run; metric columns are ``final.NAME`` and ``best.NAME``."""
    metrics = comparison.metric_columns()
    header = ["run", "name", "status", *comparison.params,
              *(f"{block}.{name}" for block, name in metrics),
              "best_epoch", "epochs_run", "train_seconds", "message"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for r in comparison.records:
        writer.writerow([_csv_cell(v) for v in (
            run_path(r), r.name, r.status, *(r.config.get(k) for k in comparison.params),
            *(r.block(block).get(name) for block, name in metrics),
            r.metrics.get("best_epoch"), r.metrics.get("epochs_run"),
            r.metrics.get("train_seconds"), message(r))])
    return out.getvalue()


def message(record: RunRecord) -> str:
    """Why a run is not simply completed: the unreadable reason or metrics.json's message."""
    if record.unreadable:
        return record.unreadable
    return str(record.metrics.get("message") or "")


def _seconds(value: Any) -> str:
    return f"{value:.1f}s" if isinstance(value, (int, float)) else MISSING


def table(comparison: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header and rows of text for the human formats (the rich table and markdown).

    The ``run`` column (the directory name) is there only when two runs share a name.
    """
    names = [r.name for r in comparison.records]
    with_run = len(set(names)) < len(names)
    metrics = comparison.metric_columns(TABLE_METRICS)
    header = ["name", *(["run"] if with_run else []), "status", *comparison.params,
              *(f"{block} {name.replace('_', ' ')}" for block, name in metrics),
              "best epoch", "epochs", "time"]
    rows = []
    for r in comparison.records:
        rows.append([r.name, *([r.run] if with_run else []), r.status,
                     *(format_param(r.config.get(k)) for k in comparison.params),
                     *(format_metric(r.block(b).get(n)) for b, n in metrics),
                     format_metric(r.metrics.get("best_epoch")),
                     format_metric(r.metrics.get("epochs_run")),
                     _seconds(r.metrics.get("train_seconds"))])
    return header, rows


def caption(comparison: Comparison) -> str:
    """One line saying how the runs are sorted."""
    better = "lower" if comparison.direction == "min" else "higher"
    if comparison.best is None:
        return f"no run has {comparison.metric}"
    return (f"sorted by {comparison.metric} ({better} is better); best run: "
            f"{comparison.best.name}")


def notes(comparison: Comparison) -> list[str]:
    """One line per run that is unreadable or did not simply complete, saying why."""
    return [f"{run_path(r)}: {r.status}: {message(r)}" for r in comparison.records
            if message(r)]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(comparison: Comparison) -> str:
    """A GitHub-flavoured markdown table (best run's name in bold), its caption and notes."""
    header, rows = table(comparison)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for index, row in enumerate(rows):
        cells = [_md_escape(c) for c in row]
        if index == 0 and comparison.best is not None:
            cells[0] = f"**{cells[0]}**"
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", caption(comparison) + "."]
    lines += [f"- {_md_escape(n)}" for n in notes(comparison)]
    return "\n".join(lines) + "\n"


def _short_value(value: Any) -> str:
    """A config value for a legend: floats to 4 significant digits (a sampled learning rate
    of 0.0012345678901234 reads 0.001235), everything else as ``format_param`` writes it."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return format_param(value)


def run_labels(comparison: Comparison) -> list[str]:
    """A short legend label per run naming what differs (``learning_rate=0.01, hidden=[5, 2]``).

    Keys are shortened to their last part unless two differing keys share it, and floats to 4
    significant digits. The seed is left out when something else differs (runs of one setting
    share a label then, and are told apart by a number). Without differing params the run name
    is used; a label that still repeats gets ``#2``, ``#3``, ... in run order.
    """
    params = list(comparison.params)
    if len(params) > 1 and "seed" in params:
        params.remove("seed")
    short = [key.rpartition(".")[2] for key in params]
    keys = [s if short.count(s) == 1 else k for s, k in zip(short, params)]
    labels = [", ".join(f"{k}={_short_value(r.config.get(full))}"
                        for k, full in zip(keys, params))
              if keys and r.config else r.name for r in comparison.records]
    seen: dict[str, int] = {}
    numbered = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        numbered.append(label if labels.count(label) == 1 else f"{label} #{seen[label]}")
    return numbered
