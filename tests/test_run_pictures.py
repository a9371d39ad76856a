"""One run's pictures and confusion matrix: cost.png's panels and markers, boundary.png for
2-feature data, metrics.json's confusion matrix against a hand count, and `dlcli show`."""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dlcli.cli.app import app
from dlcli.config import load_config
from dlcli.experiment import prepare, run
from dlcli.reports.confusion import confusion_matrix
from dlcli.reports.plots import cost_figure
from dlcli.runs.reader import read_history, read_run
from helpers import SMALL

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
runner = CliRunner()


def train(runs_dir: Path, raw: dict, *overrides: str) -> Path:
    return run(load_config(raw=copy.deepcopy(raw), overrides=list(overrides)), runs_dir).path


def rows(*costs: float, dev: list[float] | None = None, lr: list[float] | None = None
         ) -> list[dict]:
    return [{"epoch": e, "cost": c, "learning_rate": lr[e] if lr else 0.1,
             "dev_loss": dev[e] if dev else None} for e, c in enumerate(costs)]


def by_label(fig) -> dict:
    return {ax.get_label(): ax for ax in fig.axes}


def legend_labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_cost_png_goes_log_when_the_cost_spans_more_than_two_decades():
    fig = cost_figure(rows(1400.0, 30.0, 0.9, 0.2), "random x10")
    assert list(by_label(fig)) == ["cost"]
    assert by_label(fig)["cost"].get_yscale() == "log"
    fig = cost_figure(rows(0.7, 0.5, 0.3, 0.2), "he")
    assert by_label(fig)["cost"].get_yscale() == "linear"


def test_a_flat_cost_of_log_2_is_drawn_flat_without_an_offset():
    flat = math.log(2)
    fig = cost_figure(rows(flat, flat + 3e-8, flat - 2e-8, flat, dev=[flat] * 4), "zeros")
    ax = by_label(fig)["cost"]
    low, high = ax.get_ylim()
    assert high - low >= 0.05                    # not zoomed into the 8th digit
    assert ax.yaxis.get_major_formatter().get_useOffset() is False
    fig.canvas.draw() if fig.canvas else None
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    assert ax.yaxis.get_offset_text().get_text() == ""


def test_a_schedule_adds_a_learning_rate_panel():
    fig = cost_figure(rows(0.7, 0.5, 0.4, 0.3, lr=[0.3, 0.3, 0.15, 0.15]), "decay")
    assert list(by_label(fig)) == ["cost", "learning rate"]
    lr = by_label(fig)["learning rate"]
    assert list(lr.lines[0].get_ydata()) == [0.3, 0.3, 0.15, 0.15]
    assert lr.get_ylabel() == "learning rate"


def test_best_epoch_early_stop_and_divergence_are_marked():
    history = rows(0.7, 0.5, 0.4, 0.45, 0.5, dev=[0.7, 0.55, 0.42, 0.5, 0.6])
    metrics = {"status": "early_stopped", "best_epoch": 2, "monitor": "dev_loss",
               "restored_epoch": 2}
    ax = by_label(cost_figure(history, "es", metrics))["cost"]
    labels = legend_labels(ax)
    assert "best epoch 2 (parameters kept)" in labels and "early stop at epoch 4" in labels
    best = next(line for line in ax.lines if line.get_label().startswith("best epoch"))
    assert list(best.get_xdata()) == [2] and list(best.get_ydata()) == [0.42]
    diverged = rows(0.7, 0.9, 5.0) + [{"epoch": 3, "cost": math.nan, "learning_rate": 0.1}]
    ax = by_label(cost_figure(diverged, "boom", {"status": "diverged", "best_epoch": 0,
                                                 "monitor": "train_loss"}))["cost"]
    assert "diverged after epoch 2" in legend_labels(ax)
    assert "best epoch 0" in legend_labels(ax)   # train_loss is not drawn: a vertical line


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    y_true = np.array([0, 0, 1, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 2, 0])
    assert confusion_matrix(y_true, y_pred, 3) == [[1, 1, 0], [0, 2, 1], [1, 0, 1]]
    assert confusion_matrix(np.array([1]), np.array([1]), 3) == [[0, 0, 0], [0, 1, 0],
                                                                 [0, 0, 0]]


@pytest.mark.slow
def test_a_two_feature_run_gets_boundary_png_and_a_confusion_matrix_on_dev(runs_dir):
    path = train(runs_dir, SMALL)
    assert (path / "boundary.png").read_bytes()[:8] == PNG_MAGIC
    assert (path / "cost.png").read_bytes()[:8] == PNG_MAGIC
    metrics = json.loads((path / "metrics.json").read_text())
    confusion = metrics["confusion"]
    assert confusion["split"] == "dev" and confusion["labels"] == ["0", "1"]
    # the hand count: the run's own parameters on its own dev split
    prepared = prepare(load_config(raw=copy.deepcopy(SMALL)))
    with np.load(path / "params.npz") as npz:
        prepared.trainer.network.set_params(dict(npz))
    dev = prepared.data.dev
    predicted = prepared.trainer.network.predict(dev.X)
    counts = [[0, 0], [0, 0]]
    for truth, guess in zip(dev.y.tolist(), predicted.tolist()):
        counts[truth][guess] += 1
    assert confusion["matrix"] == counts
    assert sum(map(sum, counts)) == dev.m
    right = counts[0][0] + counts[1][1]
    assert right / dev.m == pytest.approx(metrics["final"]["dev_accuracy"])
    shown = runner.invoke(app, ["show", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "confusion matrix (dev split)" in shown.stdout
    row0 = next(line for line in shown.stdout.splitlines() if line.startswith("│ 0 "))
    assert [c.strip() for c in row0.strip("│").split("│")] == ["0", *map(str, counts[0])]


@pytest.mark.slow
def test_the_test_split_is_used_when_given_and_wide_data_gets_no_boundary(runs_dir):
    raw = {"seed": 2, "data": {"dataset": "blobs", "options": {"n_samples": 150,
                                                                  "n_classes": 3,
                                                                  "n_features": 4},
                               "dev_fraction": 0.2, "test_fraction": 0.2},
           "model": {"hidden": [8]}, "training": {"epochs": 5}}
    path = train(runs_dir, raw)
    assert not (path / "boundary.png").exists()
    confusion = json.loads((path / "metrics.json").read_text())["confusion"]
    assert confusion["split"] == "test" and len(confusion["matrix"]) == 3
    assert sum(map(sum, confusion["matrix"])) == 30


@pytest.mark.slow
def test_early_stopping_records_the_restored_epoch(runs_dir):
    raw = {**SMALL, "training": {**SMALL["training"], "epochs": 60,
                                 "early_stopping": {"patience": 3, "min_delta": 0.05}}}
    record = read_run(train(runs_dir, raw))
    assert record.status == "early_stopped"
    assert record.metrics["restored_epoch"] == record.metrics["best_epoch"]
    shown = runner.invoke(app, ["show", str(record.path)])
    assert f"restored epoch  {record.metrics['best_epoch']}" in shown.stdout


def test_exploding_initial_weights_log_their_gradient_norms_and_the_hint_names_init_scale(
        runs_dir):
    raw = {"seed": 1, "data": {"dataset": "blobs", "options": {"n_samples": 200,
                                                                  "n_classes": 3,
                                                                  "n_features": 10}},
           "model": {"hidden": [32] * 6, "init": "random", "init_scale": 0.6},
           "optimizer": {"name": "gd", "learning_rate": 0.01},
           "training": {"epochs": 5, "log_grad_norms": True}}
    result = run(load_config(raw=copy.deepcopy(raw)), runs_dir)
    assert result.status == "diverged"
    message = result.metrics["message"]
    assert "model.init_scale 0.6" in message and "learning_rate" not in message
    history = read_history(result.path / "history.csv")
    logged = [[row[f"grad_norm_W{n}"] for n in range(1, 8)] for row in history
              if row["epoch"] > 0 and all(row[f"grad_norm_W{n}"] is not None
                                          and math.isfinite(row[f"grad_norm_W{n}"])
                                          for n in range(1, 8))]
    assert logged, history                       # norms reach history.csv before the end
    assert min(logged[0]) > 10                   # every layer's gradient far above He's ~1
    # the same net with He's scale and too large a learning rate: the hint is the rate's
    raw["model"] = {"hidden": [32] * 6, "init": "he"}
    raw["optimizer"]["learning_rate"] = 1e6
    result = run(load_config(raw=raw), runs_dir)
    assert result.status == "diverged"
    assert "smaller optimizer.learning_rate" in result.metrics["message"]
