"""The Trainer as wired from a config: the schedule inside the loop (SPEC section 7), the order of
mini-batches (SPEC section 5), plain values in and no config needed."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dlcli.build import build_optimizer, build_schedule
from dlcli.config import load_config
from dlcli.experiment import prepare
from dlcli.train import Callback, Streams, Trainer
from helpers import SMALL


class Thetas(Callback):
    """theta before training and after every epoch."""

    def __init__(self):
        self.by_epoch = {}

    def on_train_begin(self, trainer):
        self.by_epoch[trainer.progress.epoch] = trainer.network.theta.copy()

    def on_epoch_end(self, trainer, row):
        self.by_epoch[row["epoch"]] = trainer.network.theta.copy()


def full_batch_gradient(network, data, theta, l2=0.0):
    """dJ/dtheta on the whole training set, in order, with the network set to ``theta``."""
    network.theta[...] = theta
    X1 = network.with_ones(np.ascontiguousarray(data.train.X, dtype=network.dtype))
    targets = network.output.targets(data.train.y, network.dtype)
    network.train_step(X1, targets, l2=l2, l1=0.0, rng=np.random.default_rng(0))
    return network.grad.copy()


SPEC_7 = {   # n = floor(e / interval), e = completed epochs (SPEC section 7)
    "none": lambda lr0, n: lr0,
    "inverse_time": lambda lr0, n: lr0 / (1 + 0.5 * n),
    "exponential": lambda lr0, n: lr0 * 0.8 ** n,
    "inverse_sqrt": lambda lr0, n: lr0 * 2.0 / math.sqrt(n + 1),
}


@pytest.mark.parametrize("name", list(SPEC_7))
def test_the_schedule_sets_each_epochs_step_as_spec_section_7_says(name):
    lr0, interval, epochs = 0.1, 2, 7
    config = load_config(raw=SMALL, overrides=[
        "optimizer.name=gd", f"optimizer.learning_rate={lr0}", f"schedule.name={name}",
        "schedule.decay_rate=0.5", "schedule.base=0.8", "schedule.k=2.0",
        f"schedule.interval={interval}", f"training.epochs={epochs}",
        "training.batch_size=full", "training.shuffle=false", "training.dtype=float64",
        "regularization.l2=0.1"])
    thetas = Thetas()
    trainer = prepare(config, callbacks=[thetas]).trainer
    assert trainer.fit() == "completed"
    rates = [row["learning_rate"] for row in trainer.history]
    expected = [SPEC_7[name](lr0, e // interval) for e in range(epochs + 1)]
    # Row 0 and the first epoch use n = 0: lr0 (times k for inverse_sqrt, whose SPEC formula
    # gives lr0 * k there although SPEC's heading says the first epoch uses lr0).
    assert rates[0] == rates[1] == pytest.approx(expected[0], rel=1e-15)
    assert rates[1:] == pytest.approx(expected[:epochs], rel=1e-15)
    # ... and the optimiser stepped with that rate: theta_e = theta_(e-1) - lr_e * grad
    probe = prepare(config).trainer
    for epoch in range(1, epochs + 1):
        grad = full_batch_gradient(probe.network, probe.data, thetas.by_epoch[epoch - 1], l2=0.1)
        step = thetas.by_epoch[epoch - 1] - thetas.by_epoch[epoch]
        np.testing.assert_allclose(step, rates[epoch] * grad, rtol=1e-9, atol=1e-15)
    if name != "none":
        assert len(set(rates)) > 2                           # the rate did move


def manual_epochs(config, epochs):
    """The same network and optimiser stepped by hand through consecutive mini-batches."""
    trainer = prepare(config).trainer
    network, data = trainer.network, trainer.data
    optimizer = build_optimizer(config, network)
    X = np.ascontiguousarray(data.train.X, dtype=network.dtype)
    targets = network.output.targets(data.train.y, network.dtype)
    B = config.training.batch_size
    for _ in range(epochs):
        for start in range(0, len(X), B):
            X1 = network.with_ones(X[start:start + B])
            network.train_step(X1, targets[start:start + B], l2=0.0, l1=0.0,
                               rng=trainer.streams.dropout)
            optimizer.step(network.theta, network.grad, config.optimizer.learning_rate)
    return network.theta.copy()


@pytest.mark.parametrize("shuffle", [False, True])
def test_shuffle_false_takes_the_rows_in_file_order_every_epoch(shuffle):
    config = load_config(raw=SMALL, overrides=[
        "training.epochs=3", "training.batch_size=32", f"training.shuffle={str(shuffle).lower()}",
        "training.dtype=float64"])
    trainer = prepare(config).trainer
    shuffle_state = trainer.streams.shuffle.bit_generator.state
    trainer.fit()
    same = np.array_equal(trainer.network.theta, manual_epochs(config, 3))
    assert same is not shuffle        # in order exactly when shuffle is off
    # shuffle: false draws nothing from the shuffling stream
    assert (trainer.streams.shuffle.bit_generator.state == shuffle_state) is not shuffle


def test_a_trainer_needs_no_config():
    """The core takes plain values: a network, an optimiser, data, streams and numbers."""
    config = load_config(raw=SMALL)
    built = prepare(config).trainer
    trainer = Trainer(built.network, build_optimizer(config, built.network), built.data,
                      Streams.from_seed(3), learning_rate=lambda epochs_done: 0.01, epochs=2,
                      batch_size=None)
    assert trainer.batch_size == built.data.train.m          # None: the whole training set
    assert trainer.fit() == "completed"
    assert [row["epoch"] for row in trainer.history] == [0, 1, 2]
    assert [row["learning_rate"] for row in trainer.history] == [0.01] * 3
    assert not hasattr(trainer, "config")
    assert build_schedule(config)(5) == config.optimizer.learning_rate
