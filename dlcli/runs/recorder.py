"""The callback that records a run as it trains: history rows and periodic checkpoints."""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from dlcli.errors import WriteError
from dlcli.run_schema import CHECKPOINT_FILE, HEARTBEAT_FILE, HISTORY_FILE
from dlcli.runs.checkpoint import save_checkpoint
from dlcli.runs.liveness import HEARTBEAT_SECONDS, touch
from dlcli.runs.rundir import FLUSH_SECONDS, Every, HistoryFile
from dlcli.train.callbacks import Callback
from dlcli.train.loop import Trainer

# The least time between two periodic checkpoints. Replacing a file by rename costs about 2 ms
# on ext4 (it flushes the new file first), which would double the run time of a tiny network
# checkpointed every 10 epochs; a kill loses at most checkpoint_every epochs or this much time.
MIN_CHECKPOINT_SECONDS = 2.0


class Recorder(Callback):
    """Appends every history row to history.csv and writes checkpoint.npz
    every ``checkpoint_every`` epochs (at most once per MIN_CHECKPOINT_SECONDS), at the start
    so any run can be resumed, and at the end. While training it touches the ``heartbeat`` file
    every HEARTBEAT_SECONDS from a background thread (how another host tells a killed run)."""

    def __init__(self, run_dir: Path, *, checkpoint_every: int = 10, append: bool = False,
                 min_seconds: float = MIN_CHECKPOINT_SECONDS,
                 flush_seconds: float = FLUSH_SECONDS) -> None:
        self.run_dir = Path(run_dir)
        self.checkpoint_every = int(checkpoint_every)
        self.append = append
        self.min_seconds = min_seconds
        self.flush_seconds = flush_seconds
        self.history: HistoryFile | None = None
        self.last_checkpoint: int | None = None
        self._last_time = 0.0
        self.pending: list[dict[str, Any]] = []   # rows to write first (a parent's history)
        self._heartbeat: Every | None = None

    def on_train_begin(self, trainer: Trainer) -> None:
        beat = self.run_dir / HEARTBEAT_FILE
        touch(beat)
        self._heartbeat = Every(HEARTBEAT_SECONDS, lambda: touch(beat), "dlcli-heartbeat")
        self.history = HistoryFile(self.run_dir / HISTORY_FILE, trainer.history_columns(),
                                   append=self.append, flush_seconds=self.flush_seconds)
        for row in self.pending:
            self.history.append(row)
        self.pending = []
        self.checkpoint(trainer)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        assert self.history is not None
        self.history.append(row)
        epoch = trainer.progress.epoch
        if (epoch % self.checkpoint_every == 0 and row["epoch"] == epoch
                and time.monotonic() - self._last_time >= self.min_seconds):
            self.checkpoint(trainer)

    def checkpoint(self, trainer: Trainer) -> None:
        if self.last_checkpoint == trainer.progress.epoch:
            return
        if self.history is not None:
            self.history.flush()   # the rows on disk reach at least as far as the checkpoint
        save_checkpoint(self.run_dir / CHECKPOINT_FILE, trainer.state_dict())
        self.last_checkpoint = trainer.progress.epoch
        self._last_time = time.monotonic()

    def on_train_end(self, trainer: Trainer) -> None:
        # The final checkpoint is written at an epoch boundary only: a run interrupted inside an
        # epoch resumes from its last whole epoch, so a resumed run matches an unbroken one.
        if trainer.status in ("completed", "early_stopped"):
            self.checkpoint(trainer)
        if self.history is not None:
            if trainer.status == "failed":
                # The failure on its way up (often this same full disk) is the one to report.
                with contextlib.suppress(WriteError):
                    self.history.close()
            else:
                self.history.close()
        if self._heartbeat is not None:
            self._heartbeat.stop()

