"""Reading run directories back (SPEC section 1, docs/run-directory.md).

``find_runs`` turns the paths a user gives into run directories; ``read_run`` reads one into a
``RunRecord``. A run that cannot be read is still returned, with ``unreadable`` saying why, so a
command over many runs can report it and go on; only a path that holds no run at all is an error.
"""
from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from dlcli.config import safe_yaml
from dlcli.errors import ConfigError, InputError, kind_of, os_reason
from dlcli.run_schema import (CONFIG_FILE, COUNT_COLUMNS, HISTORY_FILE, METRICS_FILE,
                              OVERRIDES_FILE)
from dlcli.runs.liveness import killed_metrics, process_gone
from dlcli.runs.tags import META_FILE, merge_tags, read_meta, run_note, run_tags

UNREADABLE = "unreadable"

HistoryRow = dict[str, float | int | None]


@dataclass(frozen=True)
class RunRecord:
    """What one run directory holds, as read from disk.

    ``config`` is flattened to dotted keys (``optimizer.learning_rate``); ``history`` has one dict
    per history.csv row, a cell left empty is None. ``status`` is metrics.json's status, or
    ``"unreadable"`` when the run could not be read, with ``unreadable`` giving the reason.
    """

    path: Path
    name: str
    status: str
    config: dict[str, Any] = field(default_factory=dict)
    history: list[HistoryRow] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    unreadable: str | None = None
    tags: list[str] = field(default_factory=list)
    note: str | None = None

    @property
    def run(self) -> str:
        """The run directory's own name (``20261124-161500-moons-adam``)."""
        return self.path.name

    @property
    def id(self) -> str:
        """The directory's time stamp without the run name (``20261124-161500``): what tells
        two runs of one name apart (``run_id``)."""
        return run_id(self.path.name, self.name)

    @property
    def readable(self) -> bool:
        return self.unreadable is None

    def block(self, which: str) -> dict[str, Any]:
        """metrics.json's ``final`` or ``best`` block ({} when it is missing)."""
        value = self.metrics.get(which)
        return value if isinstance(value, dict) else {}


def is_run_dir(path: str | os.PathLike[str]) -> bool:
    """A run directory has metrics.json, or config.yaml and history.csv (a run just started)."""
    path = Path(path)
    return (path / METRICS_FILE).is_file() or (
        (path / CONFIG_FILE).is_file() and (path / HISTORY_FILE).is_file())


def _subdirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def find_runs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The run directories named by ``paths``, in order, each once.

    A path is a run directory, a directory of runs (``runs/``), or a directory of such directories
    (``runs/`` holding a tune search's directory of trials). Anything else is an InputError that
    names the path.
    """
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise InputError(f"{str(path)!r} does not exist")
        if not path.is_dir():
            raise InputError(f"{str(path)!r} is a file, not a run directory")
        try:
            runs = [path] if is_run_dir(path) else [
                run for child in _subdirs(path)
                for run in ([child] if is_run_dir(child) else
                            [g for g in _subdirs(child) if is_run_dir(g)])]
        except OSError as exc:
            raise InputError(f"cannot look into {str(path)!r}: {os_reason(exc)}") from None
        if not runs:
            raise InputError(
                f"{str(path)!r} is not a run directory and holds none, even two levels down "
                f"(a run directory has {METRICS_FILE}, or {CONFIG_FILE} and {HISTORY_FILE})")
        found.extend(r for r in runs if r not in found)
    return found


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings to dotted keys: {"a": {"b": 1}} -> {"a.b": 1}. Lists and {} are values."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys back to nested mappings: {"a.b": 1} -> {"a": {"b": 1}} (undoes ``flatten``)."""
    nested: dict[str, Any] = {}
    for dotted, value in flat.items():
        *parents, key = dotted.split(".")
        section = nested
        for parent in parents:
            section = section.setdefault(parent, {})
        section[key] = value
    return nested


def read_history(path: str | os.PathLike[str]) -> list[HistoryRow]:
    """history.csv as a list of rows; an empty cell is None. Raises ValueError naming the row.

    history.csv is appended as training goes, so a file being written or left by a killed run
    may end in a partial line: a last line without its newline is dropped rather than reported.
    """
    with open(path, newline="", encoding="utf-8") as handle:
        text = handle.read()
    if text and not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
    lines = [(n, cells) for n, cells in enumerate(csv.reader(io.StringIO(text)), start=1)
             if cells]
    if not lines:
        return []
    (_, header), body = lines[0], lines[1:]
    rows: list[HistoryRow] = []
    for number, cells in body:
        if len(cells) != len(header):
            raise ValueError(f"row {number} has {len(cells)} cells for {len(header)} columns")
        row: HistoryRow = {}
        for key, cell in zip(header, cells):
            try:
                # epoch and step are counts; every other column is a measurement
                number_type = int if key in COUNT_COLUMNS else float
                row[key] = number_type(cell) if cell.strip() else None
            except ValueError:
                raise ValueError(f"row {number}, column {key!r}: {cell!r} is not a number"
                                 ) from None
        rows.append(row)
    return rows


def _text(path: Path) -> str:
    """A run file's text; a file that cannot be read (but exists) or bytes that are not UTF-8
    are a ValueError naming the file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ValueError(f"{path.name} cannot be read: {os_reason(exc)}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path.name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                         f"position {exc.start})") from None


def _read_metrics(path: Path) -> dict[str, Any]:
    try:
        metrics = json.loads(_text(path))
    except FileNotFoundError:
        raise ValueError(f"{METRICS_FILE} is missing") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{METRICS_FILE} is not valid JSON ({exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno})") from None
    except ValueError as exc:   # not UTF-8, or a number past Python's 4,300 digits
        message = str(exc)
        raise ValueError(message if message.startswith(METRICS_FILE)
                         else f"{METRICS_FILE}: {message}") from None
    if not isinstance(metrics, dict):
        raise ValueError(f"{METRICS_FILE} holds a JSON {kind_of(metrics, 'JSON')}, not an "
                         "object")
    return metrics


def _read_yaml(path: Path, kind: type, default: Any) -> Any:
    if not path.is_file():
        return default
    try:
        value = safe_yaml.load(_text(path), path.name)
    except ConfigError as exc:   # the one YAML reader: a run directory may come from anyone
        raise ValueError(str(exc).removeprefix("config error: ")) from None
    if value is None:
        return default
    if not isinstance(value, kind):
        raise ValueError(f"{path.name} holds a YAML {kind_of(value)}, "
                         f"not a {kind_of(kind())}")
    return value


def time_stamp(dir_name: str) -> str | None:
    """``20261124-161500`` of a directory named ``20261124-161500-<name>``; None otherwise."""
    parts = dir_name.split("-", 2)
    if len(parts) >= 2 and len(parts[0]) == 8 and len(parts[1]) == 6 and \
            parts[0].isdigit() and parts[1].isdigit():
        return f"{parts[0]}-{parts[1]}"
    return None


def run_id(dir_name: str, name: str) -> str:
    """A run directory's id: its name without the run's name, ``20261124-161500`` (with the
    ``-2`` that keeps two runs started in the same second apart); the whole directory name
    when it is laid out otherwise."""
    stamp = time_stamp(dir_name)
    if stamp is None:
        return dir_name
    rest = dir_name[len(stamp):].lstrip("-")
    suffix = rest[len(name):] if rest.startswith(name) else ""
    return stamp + suffix if suffix.startswith("-") or not suffix else dir_name


def _name_from_dir(path: Path) -> str:
    # YYYYMMDD-HHMMSS-<name>; fall back to the whole directory name for any other layout.
    parts = path.name.split("-", 2)
    if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
        return parts[2]
    return path.name


def read_run(path: str | os.PathLike[str]) -> RunRecord:
    """Read one run directory. A problem with a file in it makes the record unreadable (with
    the reason) instead of raising; only a path that is not a directory is an InputError.

    config.yaml, overrides.yaml and history.csv are read even when metrics.json is missing or
    corrupt, so ``dlcli show`` can still show what there is. An absent config.yaml or history.csv
    is read as empty; a corrupt one makes the run unreadable.
    """
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{str(path)!r} is not a directory")
    problems: list[str] = []
    metrics: dict[str, Any] = {}
    config: dict[str, Any] = {}
    overrides: list[str] = []
    history: list[HistoryRow] = []
    try:
        metrics = _read_metrics(path / METRICS_FILE)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        problems.append(str(exc))
    try:
        config = flatten(_read_yaml(path / CONFIG_FILE, dict, {}))
        overrides = [str(o) for o in _read_yaml(path / OVERRIDES_FILE, list, [])]
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        problems.append(str(exc))
    if (path / HISTORY_FILE).is_file():
        try:
            history = read_history(path / HISTORY_FILE)
        except UnicodeDecodeError as exc:
            problems.append(f"{HISTORY_FILE} is not UTF-8 text (byte "
                            f"0x{exc.object[exc.start]:02x} at position {exc.start})")
        except (OSError, ValueError, csv.Error) as exc:
            problems.append(f"{HISTORY_FILE}: {exc}")
    name = metrics.get("name") or config.get("name") or _name_from_dir(path)
    status = UNREADABLE if problems else str(metrics.get("status") or "unknown")
    if status == "running" and process_gone(path, metrics):
        metrics = killed_metrics(metrics, history)
        status = "killed"
    # A run inside a study or search also carries the tags and note the study was given.
    study = read_meta(path.parent) if (path.parent / META_FILE).is_file() else {}
    return RunRecord(path=path, name=str(name), status=status, config=config, history=history,
                     metrics=metrics, overrides=overrides,
                     unreadable="; ".join(problems) if problems else None,
                     tags=merge_tags(run_tags(metrics), study.get("tags")),
                     note=run_note(metrics) or study.get("note"))


def read_runs(paths: Iterable[str | os.PathLike[str]]) -> list[RunRecord]:
    """``read_run`` on every run directory ``find_runs`` finds under ``paths``."""
    return [read_run(path) for path in find_runs(paths)]
