"""The ``final`` and ``best`` blocks of metrics.json, computed from history rows.

``dlcli train`` writes them when a run ends; ``dlcli show``, ``ls`` and ``compare`` compute them
the same way from history.csv for a run that was killed before it could write them.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from dlcli.run_schema import COST, EPOCH, EPOCH_METRICS, metric_name


Row = Mapping[str, Any]


def best_row(history: Sequence[Row], monitor: str, mode: str) -> Row | None:
    """The row with the best finite ``monitor`` (``mode`` min or max); None without one."""
    rows = [r for r in history if r.get(monitor) is not None and math.isfinite(r[monitor])]
    if not rows:
        return None
    pick = min if mode == "min" else max
    return pick(rows, key=lambda r: r[monitor])


def metric_block(row: Row | None) -> dict[str, Any]:
    """A history row as a metrics.json block: its epoch and the metrics it has."""
    if row is None:
        return {}
    block = {EPOCH: row[EPOCH]}
    block.update({k: row[k] for k in EPOCH_METRICS if row.get(k) is not None})
    return block


def final_block(history: Sequence[Row], test: Mapping[str, float]) -> dict[str, Any]:
    """The last epoch and its cost, the metrics of the last evaluated epoch, and ``test``.

    A diverged run's last epoch is not evaluated: its metrics come from an earlier epoch, which
    ``last_evaluated_epoch`` then names (the key is left out when they are the last epoch's)."""
    if not history:
        return dict(test)
    last = history[-1]
    evaluated = [r for r in history if r.get(metric_name("train", "loss")) is not None]
    source = evaluated[-1] if evaluated else last
    final: dict[str, Any] = {EPOCH: last[EPOCH]}
    if source[EPOCH] != last[EPOCH]:
        final["last_evaluated_epoch"] = source[EPOCH]
    final.update({k: source[k] for k in EPOCH_METRICS if source.get(k) is not None})
    final[COST] = last[COST]
    final.update(test)
    return final
