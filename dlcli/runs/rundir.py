"""Run directories (SPEC section 1): ``RUNS_DIR/YYYYMMDD-HHMMSS-<name>``, never shared.

The directory is made with an exclusive ``mkdir``: when two runs start in the same second the
second gets ``-2`` (then ``-3``, ...), and nothing already in the runs directory is touched.
"""
from __future__ import annotations

import csv
import datetime as dt
import os
import time
from pathlib import Path
from typing import IO, Any

from dlcli.errors import InputError

# The longest a history row waits in memory before it is flushed to history.csv.
FLUSH_SECONDS = 0.5


def create_run_dir(runs_dir: str | os.PathLike[str], name: str,
                   now: dt.datetime | None = None) -> Path:
    """Make and return a new, empty run directory."""
    runs_dir = Path(runs_dir)
    if runs_dir.exists() and not runs_dir.is_dir():
        raise InputError(f"runs directory {str(runs_dir)!r} exists and is not a directory")
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create runs directory {str(runs_dir)!r}: {exc}") from None
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{name}"
    for suffix in range(1, 10_000):
        path = runs_dir / (base if suffix == 1 else f"{base}-{suffix}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise InputError(f"too many runs named {base!r} in {runs_dir}")


class HistoryFile:
    """history.csv, appended row by row as training goes.

    A row reaches the disk at most ``flush_seconds`` after it is appended (and at once on
    ``flush`` and ``close``): flushing every row costs a tiny network a tenth of its run, while a
    reader following the file, or a killed run, loses at most that much time of rows."""

    def __init__(self, path: str | os.PathLike[str], columns: list[str], *,
                 append: bool = False, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.columns = columns
        self._known = frozenset(columns)
        self.flush_seconds = flush_seconds
        exists = append and Path(path).exists()
        self._handle: IO[str] = open(path, "a" if append else "w", newline="",
                                     encoding="utf-8")
        if not exists:
            csv.writer(self._handle, lineterminator="\n").writerow(columns)
        self.flush()

    def append(self, row: dict[str, Any]) -> None:
        """Write ``row``; a key that is not one of the columns is an error, never dropped."""
        if not self._known.issuperset(row):
            unknown = ", ".join(sorted(set(row) - self._known))
            raise ValueError(f"history row has columns that history.csv does not: {unknown} "
                             f"(its columns: {', '.join(self.columns)})")
        # Every cell is a number or empty, so no cell needs CSV quoting.
        self._handle.write(",".join([_cell(row.get(col)) for col in self.columns]) + "\n")
        if time.monotonic() >= self._due:
            self.flush()

    def flush(self) -> None:
        self._handle.flush()
        self._due = time.monotonic() + self.flush_seconds

    def close(self) -> None:
        self._handle.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)   # shortest repr that round-trips exactly
    return str(value)
