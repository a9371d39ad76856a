"""``dlcli ls``: one entry per run, and one per study or search with its best run.

The pure logic: read a runs directory, filter by status and tags, sort newest first (or by a
metric, best first). Rendering is the CLI's.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlcli.errors import InputError, os_reason
from dlcli.registry import did_you_mean
from dlcli.reports.compare import companion_metric, direction, metric_value
from dlcli.runs.reader import RunRecord, is_run_dir, read_run, run_id, time_stamp
from dlcli.runs.tags import read_meta

# What a study or search directory holds besides its runs, and what it is called.
GROUP_KINDS = (("trials.csv", "search"), ("study.csv", "study"))
SUMMARY = "summary.json"
STATUSES = ("running", "completed", "early_stopped", "diverged", "interrupted", "failed",
            "killed", "unreadable")


@dataclass
class Entry:
    """One line of ``dlcli ls``: a run, or a study/search summarised by its best run."""

    path: Path
    kind: str                       # run | search | study
    name: str
    status: str
    started: float                  # seconds since the epoch
    runs: list[RunRecord] = field(default_factory=list)
    best: RunRecord | None = None   # the run itself, or the group's best run
    value: float | None = None      # the metric's value for ``best``
    tags: list[str] = field(default_factory=list)
    note: str | None = None

    @property
    def id(self) -> str:
        """The directory name without its run name: ``20261124-161500`` (``-2`` kept)."""
        return run_id(self.path.name, self.name)

    @property
    def epochs(self) -> int | None:
        value = self.best.metrics.get("epochs_run") if self.best is not None else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def _started(path: Path, metrics: dict[str, Any] | None = None) -> float:
    """When a run (or group) started: metrics.json's ``started``, else the directory name's
    time stamp, else the directory's modification time."""
    text = (metrics or {}).get("started")
    if isinstance(text, str):
        try:
            return dt.datetime.fromisoformat(text).timestamp()
        except ValueError:
            pass
    stamp = time_stamp(path.name)
    if stamp is not None:
        try:
            return dt.datetime.strptime(stamp, "%Y%m%d-%H%M%S").timestamp()
        except ValueError:
            pass
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _best(records: Sequence[RunRecord], metric: str) -> tuple[RunRecord | None, float | None]:
    sign = 1.0 if direction(metric) == "min" else -1.0
    scored = [(metric_value(r, metric), r) for r in records]
    with_value = [(v, r) for v, r in scored if v is not None]
    if with_value:
        # Accuracies tie often (0.9917 is 119 of 120): the split's loss decides between them,
        # so ls names the run compare ranks first.
        tie = companion_metric(metric) if sign < 0 else None

        def key(pair: tuple[float, RunRecord]) -> tuple[float, float]:
            loss = metric_value(pair[1], tie) if tie else None
            return sign * pair[0], math.inf if loss is None else loss

        value, record = min(with_value, key=key)
        return record, value
    return (records[-1] if records else None), None


def _group_status(path: Path, runs: Sequence[RunRecord]) -> str:
    """summary.json's status when the study or search finished; while it says ``running``:
    ``running`` if a run still trains, else ``killed`` (its process stopped without a word)."""
    try:
        summary = json.loads((path / SUMMARY).read_text(encoding="utf-8"))
        status = summary.get("status") if isinstance(summary, dict) else None
    except (OSError, UnicodeDecodeError, ValueError):
        status = None
    if isinstance(status, str) and status != "running":
        return status
    if any(r.status == "running" for r in runs):
        return "running"
    return "killed" if status == "running" else "completed" if runs else "unknown"


def _group_name(path: Path, kind: str) -> str:
    try:
        summary = json.loads((path / SUMMARY).read_text(encoding="utf-8"))
        if isinstance(summary, dict) and isinstance(summary.get("name"), str):
            return f"{summary['name']}-{'search' if kind == 'search' else 'sweep'}"
    except (OSError, UnicodeDecodeError, ValueError):
        pass
    stamp = time_stamp(path.name)
    return path.name[len(stamp) + 1:] if stamp and len(path.name) > len(stamp) + 1 \
        else path.name


def group_kind(path: Path) -> str:
    """``search`` or ``study`` for a tune or sweep directory, else ``group``."""
    for marker, kind in GROUP_KINDS:
        if (path / marker).is_file():
            return kind
    return "study" if path.name.endswith("-sweep") else "group"


def read_entries(runs_dir: str | os.PathLike[str]) -> list[Entry]:
    """Every run and study/search directly under ``runs_dir``, newest first (``score`` then
    picks each one's best run by a metric)."""
    root = Path(runs_dir)
    if not root.exists():
        raise InputError(f"{str(root)!r} does not exist")
    if not root.is_dir():
        raise InputError(f"{str(root)!r} is a file, not a directory of runs")
    if is_run_dir(root):
        raise InputError(f"{str(root)!r} is a run directory; dlcli ls takes the directory "
                         f"that holds runs (dlcli show {str(root)!r} shows this one)")
    entries: list[Entry] = []
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:
        raise InputError(f"cannot look into {str(root)!r}: {os_reason(exc)}") from None
    for child in children:
        if is_run_dir(child):
            record = read_run(child)
            entries.append(Entry(child, "run", record.name, record.status,
                                 _started(child, record.metrics), [record], record,
                                 tags=record.tags, note=record.note))
            continue
        try:
            runs = [read_run(p) for p in sorted(child.iterdir())
                    if p.is_dir() and is_run_dir(p)]
        except OSError:
            continue
        if not runs:
            continue
        kind = group_kind(child)
        meta = read_meta(child)
        started = min((_started(r.path, r.metrics) for r in runs), default=_started(child))
        stamp_time = _started(child) if time_stamp(child.name) else started
        entries.append(Entry(child, kind, _group_name(child, kind), _group_status(child, runs),
                             stamp_time, runs, tags=meta["tags"], note=meta["note"]))
    entries.sort(key=lambda e: (e.started, _first_write(e.path)), reverse=True)
    return entries


def _first_write(path: Path) -> float:
    """When the directory's first file was written (to the nanosecond): orders runs started in
    the same second, which their second-resolution time stamps cannot."""
    times = []
    try:
        for child in path.iterdir():
            if child.is_file():
                times.append(child.stat().st_mtime_ns)
    except OSError:
        pass
    return float(min(times)) if times else 0.0


def score(entries: Sequence[Entry], metric: str) -> None:
    """Set each entry's best run and value of ``metric`` (a group's best run by it)."""
    for entry in entries:
        entry.best, entry.value = _best(entry.runs, metric)


def default_metric(entries: Sequence[Entry]) -> str:
    """``dev_accuracy`` when some run has a dev split, else ``train_accuracy``."""
    return "dev_accuracy" if has_metric(entries, "dev_accuracy") else "train_accuracy"


def filter_entries(entries: Sequence[Entry], statuses: Sequence[str],
                   tags: Sequence[str]) -> list[Entry]:
    """The entries with one of ``statuses`` (all when empty) and every tag in ``tags``."""
    return [e for e in entries if (not statuses or e.status in statuses)
            and all(t in e.tags or (e.kind != "run" and any(t in r.tags for r in e.runs))
                    for t in tags)]


def sort_by_metric(entries: Sequence[Entry], metric: str) -> list[Entry]:
    """Best first by ``metric`` (each group by its best run); entries without it last."""
    sign = 1.0 if direction(metric) == "min" else -1.0
    return sorted(entries, key=lambda e: (0, sign * e.value) if e.value is not None
                  else (1, 0.0))


def check_statuses(text: Sequence[str]) -> list[str]:
    """``--status a,b --status c`` as a list of known statuses; an InputError otherwise."""
    statuses = [s.strip() for item in text for s in item.split(",") if s.strip()]
    for status in statuses:
        if status not in STATUSES:
            hint = did_you_mean(status, STATUSES)
            raise InputError(f"--status {status!r} is not a status; choose from "
                             f"{', '.join(STATUSES)}" + (f" ({hint})" if hint else ""))
    return statuses


def age(started: float, now: float | None = None) -> str:
    """``45s``, ``12m``, ``3h``, ``5d``, ``7w``: how long ago, in one unit."""
    seconds = max(0.0, (time.time() if now is None else now) - started)
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit in "wd" else 1):
            return f"{math.floor(seconds / size)}{unit}"
    return f"{math.floor(seconds)}s"


DATA_KEYS = ("id", "path", "kind", "name", "status", "runs", "epochs", "metric", "value",
             "best_run", "started", "age_seconds", "tags", "note")


def to_data(entry: Entry, metric: str, now: float | None = None) -> dict[str, Any]:
    """One entry as plain data (``--format json|csv``)."""
    return {
        "id": entry.id, "path": str(entry.path), "kind": entry.kind, "name": entry.name,
        "status": entry.status, "runs": len(entry.runs), "epochs": entry.epochs,
        "metric": metric, "value": entry.value,
        "best_run": str(entry.best.path) if entry.best is not None and entry.kind != "run"
        else None,
        "started": dt.datetime.fromtimestamp(entry.started, dt.timezone.utc)
        .isoformat(timespec="seconds"),
        "age_seconds": round(max(0.0, (time.time() if now is None else now) - entry.started)),
        "tags": list(entry.tags), "note": entry.note,
    }


def has_metric(entries: Sequence[Entry], metric: str) -> bool:
    return any(metric_value(r, metric) is not None for e in entries for r in e.runs)

