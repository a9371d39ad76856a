"""The course's lessons, as every example config teaches them: each example is run as the study
its comment names (`dlcli sweep configs/NAME.yaml`) and its lesson is asserted on every seed,
from summary.json and, where a lesson lives in the curves, from the runs' files."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dlcli.cli.app import app
from dlcli.config import load_config
from dlcli.experiment import prepare
from dlcli.runs.reader import read_history

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
runner = CliRunner()


class Study:
    """A finished sweep of one example: summary.json and its run directories by point."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.summary = json.loads((path / "summary.json").read_text())
        assert (path / "study.png").read_bytes()[:4] == b"\x89PNG"

    def point(self, **values: Any) -> dict[str, Any]:
        """The summary of the point whose grid values include ``values`` (keys with "__" for
        "."), e.g. point(model__init="he")."""
        wanted = {key.replace("__", "."): value for key, value in values.items()}
        found = [p for p in self.summary["points"]
                 if all(p["values"].get(k) == v for k, v in wanted.items())]
        assert len(found) == 1, (wanted, [p["values"] for p in self.summary["points"]])
        return found[0]

    def runs(self, point: dict[str, Any]) -> list[Path]:
        return [self.path / run for run in point["runs"]]

    def metrics(self, point: dict[str, Any]) -> list[dict[str, Any]]:
        return [json.loads((run / "metrics.json").read_text()) for run in self.runs(point)]

    def histories(self, point: dict[str, Any]) -> list[list[dict[str, Any]]]:
        return [read_history(run / "history.csv") for run in self.runs(point)]


def final(point: dict[str, Any], metric: str) -> tuple[float, float]:
    """(min, max) over the point's seeds of a final metric."""
    stats = point["final"][metric]
    return stats["min"], stats["max"]


def sweep(name: str, tmp_path: Path) -> Study:
    result = runner.invoke(app, ["sweep", str(CONFIGS / f"{name}.yaml"), "--runs-dir",
                                 str(tmp_path), "-q"])
    assert result.exit_code == 0, result.output
    study = Study(Path(result.stdout.strip().splitlines()[-1]))
    assert len(study.summary["seeds"]) >= 3
    return study


@pytest.mark.slow
def test_initializers_zeros_stays_at_chance_random_x10_starts_high_and_ends_worse(tmp_path):
    study = sweep("initializers", tmp_path)
    zeros, random, he = (study.point(model__init=n) for n in ("zeros", "random", "he"))
    assert zeros["n"] == random["n"] == he["n"] == 3
    assert final(zeros, "dev_accuracy") == (0.5, 0.5)
    low, high = final(zeros, "train_loss")
    assert abs(low - math.log(2)) < 1e-4 and abs(high - math.log(2)) < 1e-4
    start = {name: [h[0]["cost"] for h in study.histories(p)]
             for name, p in (("random", random), ("he", he))}
    assert min(start["random"]) > 100 * max(start["he"])     # far higher: ~350 against ~0.7
    assert final(random, "dev_loss")[0] > final(he, "dev_loss")[1]   # ends worse, every seed
    assert final(he, "dev_accuracy")[0] >= 0.95


@pytest.mark.slow
def test_optimizers_adam_and_rmsprop_far_ahead_of_gd_at_a_small_learning_rate(tmp_path):
    study = sweep("optimizers", tmp_path)
    gd, momentum, rmsprop, adam = (study.point(optimizer__name=n)
                                   for n in ("gd", "momentum", "rmsprop", "adam"))
    slowest = final(gd, "train_loss")[0]
    for fast in (adam, rmsprop):
        assert final(fast, "train_loss")[1] < 0.5 * slowest
    # The comment's explanation of why gd is hidden: momentum takes steps of gd's size.
    assert abs(momentum["final"]["train_loss"]["mean"] - gd["final"]["train_loss"]["mean"]) < 0.01


@pytest.mark.slow
def test_l2_and_dropout_each_close_the_train_dev_gap(tmp_path):
    study = sweep("l2-vs-dropout", tmp_path)

    def gaps(point: dict[str, Any]) -> list[float]:
        return [m["final"]["dev_loss"] - m["final"]["train_loss"] for m in study.metrics(point)]

    plain = gaps(study.point(regularization__l2=0.0, model__keep_prob=1.0))
    l2 = gaps(study.point(regularization__l2=0.7, model__keep_prob=1.0))
    dropout = gaps(study.point(regularization__l2=0.0, model__keep_prob=0.5))
    assert min(plain) > 0.5                       # the unregularised net overfits
    assert max(l2) < 0.25 * min(plain)
    assert max(dropout) < 0.6 * min(plain)


@pytest.mark.slow
def test_lr_decay_every_schedule_decays_and_rescues_gradient_descent(tmp_path):
    study = sweep("lr-decay", tmp_path)
    none = study.point(schedule__name="none")
    for history in study.histories(none):
        assert {row["learning_rate"] for row in history} == {16.0}
    for name in ("inverse_time", "exponential", "inverse_sqrt"):
        point = study.point(schedule__name=name)
        for history in study.histories(point):
            rates = [row["learning_rate"] for row in history]
            assert rates[0] == 16.0 and rates[-1] < 0.35 * rates[0]   # visibly down
            assert all(b <= a for a, b in zip(rates, rates[1:]))
        assert final(point, "train_loss")[1] < final(none, "train_loss")[0]   # every seed
    # The config ranks by where each schedule ends (sweep.metric: final.dev_loss): every
    # schedule ahead of none. Its best epoch comes before the first decay, so the best epoch's
    # value would have tied all four.
    assert study.summary["metric"] == "final.dev_loss"
    ranked = sorted(study.summary["points"], key=lambda p: p["metric"]["mean"])
    assert ranked[-1]["values"] == {"schedule.name": "none"}
    assert study.summary["best_point"]["values"]["schedule.name"] != "none"


@pytest.mark.slow
def test_batch_norm_trains_the_deep_sigmoid_net_that_fails_without_it(tmp_path):
    study = sweep("batch-norm", tmp_path)
    off, on = study.point(model__batch_norm=False), study.point(model__batch_norm=True)
    assert final(off, "dev_accuracy")[1] < 0.4                   # 3 classes: chance
    assert final(on, "dev_accuracy")[0] > 0.8
    assert final(on, "dev_loss")[1] < 0.5 * final(off, "dev_loss")[0]


def _roughness(history: list[dict[str, Any]], last: int = 50) -> float:
    costs = [row["cost"] for row in history][-last:]
    return sum(abs(b - a) for a, b in zip(costs, costs[1:])) / (len(costs) - 1)


@pytest.mark.slow
def test_minibatch_size_trades_progress_per_epoch_for_noise(tmp_path):
    study = sweep("minibatch-size", tmp_path)
    full, mini, one = (study.point(training__batch_size=b) for b in ("full", 32, 1))
    # per epoch, batch gradient descent makes the least progress ...
    assert final(full, "train_loss")[0] > final(mini, "train_loss")[1] + 0.1
    assert final(full, "train_loss")[0] > final(one, "train_loss")[1] + 0.05
    # ... stochastic the most steps, and the noisiest cost
    steps = {b: {m["steps"] // m["epochs_run"] for m in study.metrics(p)}
             for b, p in (("full", full), (32, mini), (1, one))}
    assert steps == {"full": {1}, 32: {5}, 1: {160}}
    assert (min(_roughness(h) for h in study.histories(one))
            > 2 * max(_roughness(h) for h in study.histories(mini)))


@pytest.mark.slow
def test_early_stopping_marks_best_and_stop_and_restores_the_best(tmp_path):
    study = sweep("early-stopping", tmp_path)
    best_epochs = []
    for patience in (20, 50):
        point = study.point(training__early_stopping__patience=patience)
        assert point["statuses"] == {"early_stopped": 3}
        for metrics in study.metrics(point):
            best = metrics["best_epoch"]
            assert metrics["epochs_run"] == best + patience      # stopped `patience` later
            assert metrics["restored_epoch"] == best             # and kept the best epoch
            assert metrics["final"]["dev_loss"] > metrics["best"]["dev_loss"]
            # the confusion matrix is counted with the kept parameters: the best epoch's
            matrix = metrics["confusion"]["matrix"]
            right = sum(matrix[k][k] for k in range(len(matrix)))
            assert right / sum(map(sum, matrix)) == pytest.approx(
                metrics["best"]["dev_accuracy"])
        best_epochs.append([m["best_epoch"] for m in study.metrics(point)])
    assert best_epochs[0] == best_epochs[1]    # patience decides the wait, not the best epoch


@pytest.mark.slow
def test_augmentation_gives_a_better_dev_loss(tmp_path):
    study = sweep("augmentation", tmp_path)
    off, on = study.point(data__augment__rotate=0), study.point(data__augment__rotate=8)
    assert final(on, "dev_loss")[1] < final(off, "dev_loss")[0]      # every seed
    assert final(on, "train_loss")[0] > final(off, "train_loss")[1]  # harder to memorise


@pytest.mark.slow
def test_gradient_norms_vanish_and_explode_and_the_hint_names_init_scale(tmp_path):
    study = sweep("gradient-norms", tmp_path)
    layers = range(1, 11)

    def first_norms(history: list[dict[str, Any]]) -> list[float]:
        row = next(r for r in history if r["epoch"] > 0)
        return [row[f"grad_norm_W{n}"] for n in layers]

    vanish = study.point(model__init_scale=0.01)
    for history in study.histories(vanish):
        norms = first_norms(history)
        assert norms[0] < 1e-6 * norms[-1] and norms[-1] < 1e-3   # smaller toward the input
    assert final(vanish, "dev_accuracy")[1] < 0.45
    he_like = study.point(model__init_scale=0.25)
    for history in study.histories(he_like):
        assert all(0.05 < v < 20 for v in first_norms(history))
    explode = study.point(model__init_scale=0.45)
    assert explode["statuses"] == {"diverged": 3}
    for history, metrics in zip(study.histories(explode), study.metrics(explode)):
        norms = first_norms(history)           # logged before the run diverged
        assert all(v is not None and math.isfinite(v) and v > 20 for v in norms), norms
        assert "model.init_scale 0.45" in metrics["message"]
        assert "learning_rate" not in metrics["message"]


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
