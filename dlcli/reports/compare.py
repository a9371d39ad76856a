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
from dataclasses import dataclass, replace
from typing import Any

from dlcli import numbers, run_schema
from dlcli.config.in_effect import applies, in_effect
from dlcli.errors import InputError
from dlcli.registry import did_you_mean
from dlcli.reports.columns import Column, heading
from dlcli.run_schema import COST, METRICS, Direction
from dlcli.runs.files import clean_json
from dlcli.runs.reader import RunRecord

BLOCKS = ("final", "best")
# Metric columns in the order a reader expects them (METRICS); only those some run has are shown.
TABLE_METRICS = tuple(m for m in METRICS if m != COST)  # the table leaves out the cost
# Keys of a block that are epoch numbers, not metrics.
EPOCH_KEYS = ("epoch", "last_evaluated_epoch")
MISSING = "-"


def direction(metric: str, option: str = "--metric", choices: Sequence[str] = ()) -> Direction:
    """``min`` for a loss or the cost, ``max`` for an accuracy; anything else is an InputError
    naming ``option`` (the option the user typed) and the closest of ``choices`` (metric names,
    e.g. ``metric_names`` of the runs at hand)."""
    sense = run_schema.direction(metric)
    if sense is not None:
        return sense
    hint = did_you_mean(metric.rpartition(".")[2], list(choices))
    raise InputError(f"{option} {metric!r}: cannot tell whether higher or lower is better"
                     + (f" ({hint})" if hint else "")
                     + "; name a loss, the cost or an accuracy (e.g. dev_loss, best.dev_accuracy)")


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


def metric_names(records: Sequence[RunRecord]) -> list[str]:
    """Every metric NAME (without its block) with a numeric value in some readable run."""
    return sorted({c.partition(".")[2] for c in available_metrics(records)})


def default_metric(records: Sequence[RunRecord]) -> str:
    """``dev_loss`` when some run has a dev split, else ``train_loss``, else ``cost``."""
    with_dev = run_schema.default_monitor(has_dev=True)
    for metric in (with_dev, run_schema.default_monitor(has_dev=False), COST):
        if any(metric_value(r, metric) is not None for r in records):
            return metric
    return with_dev


def differing_params(records: Sequence[RunRecord], all_params: bool = False) -> list[str]:
    """The dotted config keys whose values differ between runs (every key with ``all_params``).

    Only keys that take effect are compared (``config.in_effect``): ``model.init_scale`` of an
    He run or ``schedule.base`` with schedule ``none`` is neither shown nor counted as a
    difference, and batch norm and early stopping get a switch key (``model.batch_norm``).
    Runs whose config could not be read are left out of the comparison, and so is ``name``
    (every table shows it anyway). A key that applies to a run but is missing from its config
    counts as differing.
    """
    configs = [r.config for r in records if r.config]
    effective = [in_effect(config) for config in configs]
    keys = list(dict.fromkeys(key for config in effective for key in config if key != "name"))
    keys.sort()
    if all_params:
        return keys
    missing = object()
    differing = []
    for key in keys:
        values = [json.dumps(e.get(key, missing), sort_keys=True, default=repr)
                  for c, e in zip(configs, effective) if applies(key, c)]
        if len(set(values)) > 1:
            differing.append(key)
    return differing


def param_value(record: RunRecord, key: str) -> Any:
    """The value of config ``key`` in ``record``'s run; None when it does not take effect
    there or the config lacks it (see ``differing_params``)."""
    if not applies(key, record.config):
        return None
    return in_effect(record.config).get(key)


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
        hint = did_you_mean(name, metric_names(records))
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
    """A config value for people: as written (``0.1``, ``[16, 8]``, ``true``), a value drawn by
    a search to 4 significant digits (``numbers.setting(short=True)``); ``-`` for none."""
    if value is None:
        return MISSING
    return numbers.setting(value, short=True)


def format_metric(value: Any) -> str:
    """A metric for a column: 4 significant digits, trailing zeros kept (``0.5000``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return MISSING
    return numbers.measure(value, pad=isinstance(value, float))


def run_path(record: RunRecord) -> str:
    return str(record.path)


def to_json(comparison: Comparison) -> str:
    """SPEC section 0: a list of objects with keys run, name, status, params, final, best,
    epochs_run, train_seconds. ``run`` is the run directory's path as found."""
    rows = [{
        "run": run_path(r),
        "name": r.name,
        "status": r.status,
        "params": {key: clean_json(param_value(r, key)) for key in comparison.params},
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
            run_path(r), r.name, r.status, *(param_value(r, k) for k in comparison.params),
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
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return MISSING
    return numbers.duration(value)


def _count(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return MISSING
    return numbers.count(value)


def metric_label(name: str) -> str:
    """``dev_accuracy`` -> ``dev acc``, ``train_loss`` -> ``train loss``."""
    return name.replace("accuracy", "acc").replace("_", " ")


def short_keys(keys: Sequence[str]) -> list[str]:
    """Each key's last part (``learning_rate`` for ``optimizer.learning_rate``), its section
    for a ``name`` (``optimizer`` for ``optimizer.name``: the run's name is ``name``), and the
    whole key when two keys would share a short one (``optimizer.epsilon``,
    ``model.batch_norm.epsilon``)."""
    def short(key: str) -> str:
        parent, _, last = key.rpartition(".")
        return parent.rpartition(".")[2] if last == "name" and parent else last

    shorts = [short(key) for key in keys]
    return [s if shorts.count(s) == 1 else k for s, k in zip(shorts, keys)]


def names_clash(comparison: Comparison) -> bool:
    names = [r.name for r in comparison.records]
    return len(set(names)) < len(names)


def run_title(comparison: Comparison, record: RunRecord) -> str:
    """A run's name, with its id when another run has the same name."""
    return f"{record.name} ({record.id})" if names_clash(comparison) else record.name


def companion_metric(metric: str) -> str | None:
    """The other measure of the sorting metric's split: dev accuracy beside the dev loss."""
    for this, other in (("_loss", "_accuracy"), ("_accuracy", "_loss")):
        if metric.endswith(this):
            return metric[:-len(this)] + other
    return None


# Ranks (lower stays longer when the terminal is narrow): the run and the value it is sorted
# by (``NAME`` and ``best.NAME`` sort by the best value, ``final.NAME`` by the final one), what
# differs, the sorting metric's other value, epochs and status, the sorting metric's companion
# (dev accuracy beside dev loss: a loss can crown a run that classifies worse), epochs and
# status when they are the same for every run, the seeds, then everything else.
RANK_RUN, RANK_SORTED_BY, RANK_PARAM, RANK_SORT_OTHER, RANK_EPOCHS, RANK_STATUS, \
    RANK_COMPANION, RANK_SAME, RANK_SEED, RANK_METRIC, RANK_BEST_EPOCH, RANK_TIME = \
    0, 5, 10, 30, 40, 41, 50, 53, 55, 60, 80, 90
SEEDS = ("seed", "data.seed")


def columns(comparison: Comparison) -> list[Column]:
    """The columns of the human table, in drawing order, each with its rank.

    A ``best`` column is there only where some run's best value differs from its final one
    (without early stopping or a restore they are mostly the same), the run id only when two
    runs share a name, parameters only where they take effect (``-`` elsewhere).
    """
    records = comparison.records
    cols = [Column("name", "name", [r.name for r in records], RANK_RUN)]
    if names_clash(comparison):
        cols.append(Column("id", "id", [r.id for r in records], RANK_RUN))
    for index, (key, short) in enumerate(zip(comparison.params, short_keys(comparison.params))):
        values = [param_value(r, key) for r in records]
        cells = [format_param(v) for v in values]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool)
                      for v in values if v is not None)
        # Seeds differ between the runs of a search or a sweep without being a choice to read.
        rank = RANK_SEED if key in SEEDS else RANK_PARAM + index
        cols.append(Column(key, heading(short, max(map(len, cells))), cells, rank,
                           numeric=numeric, label=short))
    sort_block, _, sort_name = comparison.metric.rpartition(".")
    sort_block = sort_block or "best"       # a bare NAME sorts by the best value (metric_value)
    companion = companion_metric(sort_name)
    # The cost is left out of the table unless the runs are sorted by it.
    shown_metrics = (*TABLE_METRICS, COST) if sort_name == COST else TABLE_METRICS
    present = comparison.metric_columns(shown_metrics)
    names = sorted({name for _, name in present}, key=lambda n: (
        n != sort_name, n != companion, shown_metrics.index(n)))
    for name in names:
        rank = (RANK_COMPANION if name == companion
                else RANK_METRIC + 2 * shown_metrics.index(name))
        finals = [format_metric(r.block("final").get(name)) for r in records]
        for block in BLOCKS:
            if (block, name) not in present:
                continue
            cells = [format_metric(r.block(block).get(name)) for r in records]
            if block == "best" and ("final", name) in present and all(
                    b in (f, MISSING) for b, f in zip(cells, finals)):
                continue   # the best values repeat the final ones: noise
            cols.append(Column(f"{block}.{name}", f"{block}\n{metric_label(name)}", cells,
                               rank + (block == "best"), numeric=True,
                               label=f"{block} {metric_label(name)}",
                               family=metric_label(name)))
    cols = _rank_sorting_columns(cols, f"{sort_block}.{sort_name}", sort_name)
    # Epochs and status are worth their room when they tell the runs apart; the same for every
    # run (300, completed), they can go before the companion metric (and the note says them).
    epochs = [_count(r.metrics.get("epochs_run")) for r in records]
    clash = "training.epochs" in comparison.params
    statuses = [r.status for r in records]
    cols += [
        Column("best_epoch", "best\nepoch", [_count(r.metrics.get("best_epoch"))
                                            for r in records], RANK_BEST_EPOCH, numeric=True,
               label="best epoch"),
        # "epochs run" where the config's training.epochs is a column too ("epochs")
        Column("epochs_run", "epochs\nrun" if clash else "epochs", epochs,
               RANK_EPOCHS if len(set(epochs)) > 1 else RANK_SAME, numeric=True,
               label="epochs run" if clash else ""),
        Column("status", "status", statuses, RANK_STATUS if len(set(statuses)) > 1
               else RANK_SAME),
        Column("train_seconds", "time", [_seconds(r.metrics.get("train_seconds"))
                                         for r in records], RANK_TIME, numeric=True),
    ]
    return cols


def _rank_sorting_columns(cols: list[Column], sorted_by: str, name: str) -> list[Column]:
    """The column holding the values the runs are sorted by is never left out before the
    parameters; the sorting metric's other column (final beside best) comes after them. When
    the best values repeat the final ones (no best column), the final column holds them."""
    own = [c.key for c in cols if c.key in (f"final.{name}", f"best.{name}")]
    keep = sorted_by if sorted_by in own else (own[0] if own else None)
    return [replace(c, rank=RANK_SORTED_BY if c.key == keep else RANK_SORT_OTHER)
            if c.key in own else c for c in cols]


def table(comparison: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header and rows of every column (``columns``) on one line each, as markdown has them;
    parameters are headed by their full key."""
    cols = columns(comparison)
    header = [c.key if c.key in comparison.params else c.header.replace("\n", " ")
              for c in cols]
    return header, [[c.cells[i] for c in cols] for i in range(len(comparison.records))]


def caption(comparison: Comparison, mark: str = "") -> str:
    """One line naming the best run (with its id when names clash; ``mark`` is how the table
    marks it) and how the runs are sorted."""
    better = "lower" if comparison.direction == "min" else "higher"
    if comparison.best is None:
        return f"no run has {comparison.metric}"
    return (f"best run{mark}: {run_title(comparison, comparison.best)}; sorted by "
            f"{comparison.metric} ({better} is better)")


def notes(comparison: Comparison, ranked: bool = True) -> list[str]:
    """One line per run that is unreadable or did not simply complete, saying why; and, where
    the runs themselves are ranked (``ranked``, not their groups), one when the best run wins
    on parameters it did not keep (``kept_note``)."""
    kept = kept_note(comparison) if ranked else ""
    return [line for line in (kept, *(f"{run_path(r)}: {r.status}: {message(r)}"
                                      for r in comparison.records if message(r))) if line]


def kept_note(comparison: Comparison) -> str:
    """Say so when the best run wins on its best epoch but kept the last epoch's parameters
    (no early stopping restored the best), and the last epoch's value would crown another run:
    the winner's params.npz, predict and export are then not what won. "" otherwise."""
    best = comparison.best
    block, _, name = comparison.metric.rpartition(".")
    if best is None or block == "final" or best.metrics.get("restored_epoch") is not None:
        return ""
    best_epoch, final_epoch = best.metrics.get("best_epoch"), best.block("final").get("epoch")
    if best_epoch is None or best_epoch == final_epoch:
        return ""
    final = f"final.{name}"
    kept = [metric_value(r, final) for r in comparison.records]
    if kept[0] is None:
        return ""
    sign = 1.0 if comparison.direction == "min" else -1.0
    rivals = [(sign * v, i) for i, v in enumerate(kept) if v is not None]
    winner = min(rivals)[1]
    if winner == 0 or sign * kept[winner] >= sign * kept[0]:
        return ""
    winner_title = run_title(comparison, comparison.records[winner])
    return (f"{run_title(comparison, best)} wins on its epoch {numbers.count(best_epoch)} "
            f"({name} {numbers.measure(comparison.values[0])}) but kept the parameters of epoch "
            f"{numbers.count(final_epoch)} ({name} {numbers.measure(kept[0])}); by the kept "
            f"parameters {winner_title} is best ({numbers.measure(kept[winner])}). --metric "
            f"{final} ranks by them; training.early_stopping keeps a best epoch.")


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


def run_labels(comparison: Comparison) -> list[str]:
    """A short legend label per run naming what differs (``learning_rate=0.01, hidden=[5, 2]``).

    Keys are shortened to their last part unless two differing keys share it, values written as
    ``format_param`` writes them (a drawn learning rate of 0.0012345678901234 reads 0.001235),
    and a key that does not take effect in a run is left out of its label. The seed is left
    out when something else differs (runs of one setting share a label then, and are told
    apart by a number). Without differing params the run name is used; a label that still
    repeats gets ``#2``, ``#3``, ... in run order.
    """
    params = list(comparison.params)
    if len(params) > 1 and "seed" in params:
        params.remove("seed")
    keys = short_keys(params)
    labels = [", ".join(f"{k}={format_param(param_value(r, full))}"
                        for k, full in zip(keys, params) if applies(full, r.config))
              if keys and r.config else r.name for r in comparison.records]
    seen: dict[str, int] = {}
    numbered = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        numbered.append(label if labels.count(label) == 1 else f"{label} #{seen[label]}")
    return numbered
