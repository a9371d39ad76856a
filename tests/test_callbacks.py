"""Early stopping fed scripted losses (SPEC section 10)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from dlcli.train import EarlyStopping


class FakeTrainer:
    def __init__(self):
        self.network = SimpleNamespace(theta=np.zeros(2), state_arrays=lambda: {})
        self.status, self.message = "running", ""
        self.restored_epoch = None

    def request_stop(self, status, message=""):
        if self.status == "running":
            self.status, self.message = status, message


def feed(callback, values, key="dev_loss"):
    trainer = FakeTrainer()
    stopped_at = None
    for epoch, value in enumerate(values):
        trainer.network.theta[:] = epoch
        callback.on_epoch_end(trainer, {"epoch": epoch, key: value})
        if trainer.status != "running":
            stopped_at = epoch
            break
    callback.on_train_end(trainer)
    return trainer, stopped_at


def test_stops_after_patience_epochs_without_improvement_and_restores_best():
    stop = EarlyStopping("dev_loss", patience=3)
    trainer, stopped_at = feed(stop, [1.0, 0.8, 0.9, 0.85, 0.95, 0.7])
    assert stopped_at == 4 and trainer.status == "early_stopped"
    assert stop.best_epoch == 1
    assert trainer.restored_epoch == 1
    np.testing.assert_array_equal(trainer.network.theta, [1, 1])


def test_min_delta_ignores_tiny_improvements():
    stop = EarlyStopping("dev_loss", patience=2, min_delta=0.05)
    _, stopped_at = feed(stop, [1.0, 0.99, 0.98, 0.5])
    assert stopped_at == 2 and stop.best_epoch == 0


def test_accuracy_is_maximised():
    stop = EarlyStopping("dev_accuracy", patience=2)
    _, stopped_at = feed(stop, [0.5, 0.7, 0.6, 0.65, 0.9], key="dev_accuracy")
    assert stop.mode == "max" and stopped_at == 3 and stop.best == 0.7


def test_rows_without_the_monitor_do_not_count():
    stop = EarlyStopping("dev_loss", patience=2)
    _, stopped_at = feed(stop, [1.0, None, None, None, 0.9])
    assert stopped_at is None and stop.best_epoch == 4


def test_no_restore_keeps_last_parameters():
    stop = EarlyStopping("dev_loss", patience=1, restore_best=False)
    trainer, _ = feed(stop, [0.5, 0.9])
    assert trainer.restored_epoch is None
    np.testing.assert_array_equal(trainer.network.theta, [1, 1])


def test_state_round_trip():
    stop = EarlyStopping("dev_loss", patience=5)
    feed(stop, [1.0, 0.5, 0.7])
    other = EarlyStopping("dev_loss", patience=5)
    other.load_state_dict(stop.state_dict())
    assert (other.best, other.best_epoch) == (0.5, 1)
