"""Training callbacks: three hooks, called by ``Trainer.fit`` (Keras style).

A callback reads the trainer and the epoch's history row; it may ask the trainer to stop with
``trainer.request_stop(status, message)`` and mark the best epoch with ``trainer.mark_best``.
A callback whose state must survive a checkpoint has ``state_dict``/``load_state_dict`` (and
may name its key in the checkpoint with ``state_key``; the class name by default). Early
stopping (SPEC section 10) lives here.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from dlcli.run_schema import direction

if TYPE_CHECKING:
    import numpy as np

    from dlcli.train.loop import Trainer


class Callback:
    """Base class with empty hooks."""

    def on_train_begin(self, trainer: Trainer) -> None:
        return None

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        return None

    def on_train_end(self, trainer: Trainer) -> None:
        return None


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs without an improvement larger than ``min_delta``.

    Only rows that carry the monitored value count (evaluation epochs). With ``restore_best``
    each new best epoch is marked on the trainer (``Trainer.mark_best``), which puts that epoch's
    parameters (and batch-norm running averages) back when training ends."""

    def __init__(self, monitor: str = "dev_loss", patience: int = 50, min_delta: float = 0.0,
                 restore_best: bool = True, mode: str | None = None) -> None:
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best = restore_best
        self.mode = mode or direction(monitor) or "min"
        self.best: float | None = None
        self.best_epoch: int | None = None

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        value = row.get(self.monitor)
        if value is None or not math.isfinite(value):
            return
        epoch = row["epoch"]
        if self._improved(value):
            self.best, self.best_epoch = float(value), epoch
            if self.restore_best:
                trainer.mark_best(epoch)
        elif epoch - self.best_epoch >= self.patience:
            trainer.request_stop(
                "early_stopped",
                f"{self.monitor} did not improve by more than {self.min_delta:g} for "
                f"{self.patience} epochs; best {self.best:.6g} at epoch {self.best_epoch}")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import numpy as np  # here: the command line's progress bar imports this module

        self.best = None if state.get("best") is None else float(state["best"])
        self.best_epoch = None if state.get("best_epoch") is None else int(state["best_epoch"])
