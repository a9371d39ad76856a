"""Run directories (SPEC section 1): ``RUNS_DIR/YYYYMMDD-HHMMSS-<name>``, never shared.

The directory is made with an exclusive ``mkdir``: when two runs start in the same second the
second gets ``-2`` (then ``-3``, ...), and nothing already in the runs directory is touched.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlcli.errors import InputError, WriteError, os_reason
from dlcli.runs.files import csv_cell, writing

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
        raise InputError(f"cannot create runs directory {str(runs_dir)!r}: "
                         f"{_why_not(runs_dir, exc)}") from None
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{name}"
    for suffix in range(1, 10_000):
        path = runs_dir / (base if suffix == 1 else f"{base}-{suffix}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as exc:   # a read-only or full runs directory
            reason = "it takes no new directories" if isinstance(exc, FileNotFoundError) \
                else os_reason(exc)
            raise InputError(f"cannot create a run directory in {str(runs_dir)!r}: "
                             f"{reason}") from None
    raise InputError(f"too many runs named {base!r} in {runs_dir}")


def _why_not(folder: Path, exc: OSError) -> str:
    """Why ``folder`` could not be made: a file where a directory goes on the way to it, or a
    directory that makes none (``/proc``), named; else the system's reason in plain words."""
    for parent in folder.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{str(parent)!r} is a file, not a directory"
            if isinstance(exc, FileNotFoundError):
                return f"{str(parent)!r} takes no new directories"
            break
    return os_reason(exc)


class HistoryFile:
    """history.csv, appended row by row as training goes.

    A row reaches the disk at most ``flush_seconds`` after it is appended (and at once on
    ``flush`` and ``close``): a background thread writes what is waiting, so the promise holds
    however long the next epoch takes. Writing every row at once would cost a tiny network a
    tenth of its run; a reader following the file, or a killed run, loses at most that much time
    of rows. ``flush_seconds <= 0`` writes every row as it is appended. A write that fails in the
    background (a full disk) is raised by the next ``append``, ``flush`` or ``close``."""

    def __init__(self, path: str | os.PathLike[str], columns: list[str], *,
                 append: bool = False, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.path = Path(path)
        self.columns = columns
        self._known = frozenset(columns)
        self.flush_seconds = flush_seconds
        self._pending: list[str] = []
        self._fd: int | None = None
        self._lock = threading.Lock()
        self._failed: WriteError | None = None
        with writing(self.path):
            exists = append and self.path.exists()
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if append else os.O_TRUNC)
            self._fd = os.open(self.path, flags, 0o666)
            # Where the last whole row ends: a failed write is cut back to it.
            self._size = os.fstat(self._fd).st_size
        if not exists:
            header = io.StringIO()
            csv.writer(header, lineterminator="\n").writerow(columns)
            self._pending.append(header.getvalue())
        self.flush()
        self._flusher = Every(flush_seconds, self._flush_in_background,
                              "dlcli-history-flush") if flush_seconds > 0 else None

    def append(self, row: dict[str, Any]) -> None:
        """Write ``row``; a key that is not one of the columns is an error, never dropped."""
        if not self._known.issuperset(row):
            unknown = ", ".join(sorted(set(row) - self._known))
            raise ValueError(f"history row has columns that history.csv does not: {unknown} "
                             f"(its columns: {', '.join(self.columns)})")
        # Every cell is a number or empty, so no cell needs CSV quoting.
        line = ",".join([csv_cell(row.get(col)) for col in self.columns]) + "\n"
        with self._lock:
            self._raise_failure()
            self._pending.append(line)
            if self.flush_seconds <= 0:
                self._write_pending()

    def flush(self) -> None:
        """Write the rows held in memory. On a failure (a full disk) the file is cut back to
        its last whole row, so it never ends in half a row, and a WriteError is raised."""
        with self._lock:
            self._raise_failure()
            self._write_pending()

    def _raise_failure(self) -> None:
        if self._failed is not None:
            failed, self._failed = self._failed, None
            raise failed

    def _write_pending(self) -> None:
        data = "".join(self._pending).encode("utf-8")
        self._pending = []
        if data and self._fd is not None:
            try:
                with writing(self.path):
                    view = memoryview(data)
                    while view:
                        view = view[os.write(self._fd, view):]
            except WriteError:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._size)
                raise
            self._size += len(data)

    def _flush_in_background(self) -> None:
        with self._lock:
            if self._pending and self._failed is None:
                try:
                    self._write_pending()
                except WriteError as exc:
                    self._failed = exc

    def close(self) -> None:
        if self._flusher is not None:
            self._flusher.stop()
        try:
            self.flush()
        finally:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                os.close(fd)


class Every:
    """Calls ``action`` every ``seconds`` on a daemon thread until ``stop``.

    The thread sleeps on an Event, so it costs the training loop nothing between calls; an
    exception in ``action`` ends the thread quietly (an action that can fail keeps its error
    for the training loop to raise, as HistoryFile does)."""

    def __init__(self, seconds: float, action: Callable[[], None], name: str) -> None:
        self.seconds = seconds
        self.action = action
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self.action()
            except Exception:  # noqa: BLE001 - see the class docstring
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

