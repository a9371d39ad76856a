"""Early stopping fed scripted losses (SPEC section 10), and the trainer restoring its best."""
from __future__ import annotations

import numpy as np

from dlcli.config import load_config
from dlcli.experiment import prepare
from dlcli.train import Callback, EarlyStopping
from helpers import SMALL


class FakeTrainer:
    def __init__(self):
        self.status, self.message = "running", ""
        self.marked: list[int] = []

    def request_stop(self, status, message=""):
        if self.status == "running":
            self.status, self.message = status, message

    def mark_best(self, epoch):
        self.marked.append(epoch)


def feed(callback, values, key="dev_loss"):
    trainer = FakeTrainer()
    stopped_at = None
    for epoch, value in enumerate(values):
        callback.on_epoch_end(trainer, {"epoch": epoch, key: value})
        if trainer.status != "running":
            stopped_at = epoch
            break
    callback.on_train_end(trainer)
    return trainer, stopped_at


def test_stops_after_patience_epochs_without_improvement_and_marks_each_best():
    stop = EarlyStopping("dev_loss", patience=3)
    trainer, stopped_at = feed(stop, [1.0, 0.8, 0.9, 0.85, 0.95, 0.7])
    assert stopped_at == 4 and trainer.status == "early_stopped"
    assert stop.best_epoch == 1 and trainer.marked == [0, 1]


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


def test_without_restore_no_epoch_is_marked():
    stop = EarlyStopping("dev_loss", patience=1, restore_best=False)
    trainer, _ = feed(stop, [0.5, 0.9])
    assert trainer.marked == []


class Snapshots(Callback):
    """Records the network's arrays after every epoch and what it holds at on_train_end."""

    def __init__(self):
        self.by_epoch, self.at_end = {}, None

    def on_epoch_end(self, trainer, row):
        self.by_epoch[row["epoch"]] = trainer.network.get_params()

    def on_train_end(self, trainer):
        self.at_end = trainer.network.get_params()


def test_the_trainer_restores_the_best_epoch_whatever_the_callback_order():
    config = load_config(raw=SMALL, overrides=[
        "training.epochs=60", "optimizer.learning_rate=0.05", "model.batch_norm=true",
        "training.early_stopping={monitor: dev_loss, patience: 3}"])
    before, after = Snapshots(), Snapshots()
    trainer = prepare(config, callbacks=[after]).trainer
    trainer.callbacks.insert(0, before)        # one before early stopping, one after it
    assert trainer.fit() == "early_stopped"
    stop = next(c for c in trainer.callbacks if isinstance(c, EarlyStopping))
    last = trainer.progress.epoch
    assert trainer.restored_epoch == stop.best_epoch < last
    for snaps in (before, after):   # every callback sees where training stopped
        for key, value in snaps.at_end.items():
            np.testing.assert_array_equal(value, snaps.by_epoch[last][key])
    held = trainer.network.get_params()          # and the network ends at the best epoch
    assert "running_mean1" in held
    for key, value in before.by_epoch[stop.best_epoch].items():
        np.testing.assert_array_equal(held[key], value)


def test_state_round_trip():
    stop = EarlyStopping("dev_loss", patience=5)
    feed(stop, [1.0, 0.5, 0.7])
    other = EarlyStopping("dev_loss", patience=5)
    other.load_state_dict(stop.state_dict())
    assert (other.best, other.best_epoch) == (0.5, 1)
