"""The course's lessons, as behaviour of real training runs."""
from __future__ import annotations

from dlcli.config import load_config
from dlcli.experiment import prepare

CIRCLES = {"seed": 1, "data": {"dataset": "circles", "options": {"n_samples": 400}},
           "model": {"hidden": [10, 5]}, "optimizer": {"name": "gd", "learning_rate": 0.1},
           "training": {"epochs": 300, "batch_size": "full"}}


def train(raw, *overrides):
    trainer = prepare(load_config(raw=raw, overrides=list(overrides))).trainer
    trainer.fit()
    return trainer.history[-1]


def test_zeros_initialisation_stays_at_chance():
    final = train(CIRCLES, "model.init=zeros")
    assert 0.4 <= final["train_accuracy"] <= 0.6


def test_he_initialisation_learns_the_circles():
    final = train(CIRCLES, "model.init=he")
    assert final["train_accuracy"] > 0.9


def test_adam_beats_plain_gradient_descent_at_a_small_learning_rate():
    moons = {"seed": 1, "data": {"dataset": "moons"}, "model": {"hidden": [5, 2]},
             "optimizer": {"learning_rate": 0.0007}, "training": {"epochs": 300,
                                                                   "batch_size": 64}}
    adam = train(moons, "optimizer.name=adam")
    gd = train(moons, "optimizer.name=gd")
    assert adam["train_loss"] < gd["train_loss"] - 0.1
    assert adam["train_accuracy"] > gd["train_accuracy"]


def test_l2_shrinks_the_weights():
    moons = {"seed": 3, "data": {"dataset": "moons"}, "model": {"hidden": [32]},
             "optimizer": {"learning_rate": 0.01}, "training": {"epochs": 100}}
    norms = []
    for l2 in (0.0, 5.0):
        trainer = prepare(load_config(raw=moons, overrides=[f"regularization.l2={l2}"])).trainer
        trainer.fit()
        weights = trainer.network.get_params()
        norms.append(sum(float((weights[k] ** 2).sum()) for k in weights if k.startswith("W")))
    assert norms[1] < 0.7 * norms[0]
