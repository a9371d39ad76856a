"""dlcli train end to end: CliRunner with real files, and one real subprocess."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dlcli.cli.app import app
from dlcli.numbers import measure
from helpers import SMALL, history, metrics, only_run, write_config

runner = CliRunner()


def train(*args):
    return runner.invoke(app, ["train", *map(str, args)])


def test_train_writes_a_complete_run_directory(tmp_path, runs_dir):
    result = train(write_config(tmp_path), "--runs-dir", runs_dir, "--quiet",
                   "--set", "optimizer.learning_rate=0.02")
    assert result.exit_code == 0, result.output
    run = only_run(runs_dir)
    assert re.fullmatch(r"\d{8}-\d{6}-small", run.name)
    assert result.stdout.strip().splitlines()[-1] == str(run)
    for name in ("config.yaml", "overrides.yaml", "history.csv", "metrics.json", "params.npz",
                 "cost.png", "checkpoint.npz", "train.log"):
        assert (run / name).is_file(), name
    assert yaml.safe_load((run / "overrides.yaml").read_text()) == [
        "optimizer.learning_rate=0.02"]
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["optimizer"]["learning_rate"] == 0.02
    assert config["training"]["dtype"] == "float32"      # defaults are filled in
    rows = history(run)
    assert [int(r["epoch"]) for r in rows] == list(range(16))
    assert rows[0]["step"] == "0" and rows[-1]["step"] == str(15 * 5)  # 150 examples, batch 32
    assert list(rows[0]) == ["epoch", "step", "learning_rate", "cost", "train_loss",
                             "train_accuracy", "dev_loss", "dev_accuracy"]
    m = metrics(run)
    assert m["status"] == "completed" and m["epochs_run"] == 15 and m["steps"] == 75
    assert m["final"]["epoch"] == 15 and 0 <= m["final"]["dev_accuracy"] <= 1
    assert "last_evaluated_epoch" not in m["final"]     # its metrics are epoch 15's
    assert m["best"]["dev_loss"] == min(float(r["dev_loss"]) for r in rows)
    assert m["train_seconds"] > 0 and m["samples_per_second"] > 0
    with np.load(run / "params.npz") as params:
        assert sorted(params.files) == ["W1", "W2", "W3", "b1", "b2", "b3"]
        assert params["W1"].shape == (6, 2) and params["b3"].shape == (1, 1)


def test_epoch_zero_is_the_network_before_any_update(tmp_path, runs_dir):
    assert train(write_config(tmp_path), "--runs-dir", runs_dir, "-q").exit_code == 0
    run = only_run(runs_dir)
    first = history(run)[0]
    # with no penalty, epoch-0 cost is the training loss at initialisation
    assert float(first["cost"]) == pytest.approx(float(first["train_loss"]))
    assert 0.3 < float(first["train_loss"]) < 3


def test_saved_config_reproduces_the_run_bit_for_bit(tmp_path, runs_dir):
    config = dict(SMALL, model={"hidden": [6, 3], "keep_prob": 0.8, "batch_norm": True})
    assert train(write_config(tmp_path, config), "--runs-dir", runs_dir, "-q").exit_code == 0
    first = only_run(runs_dir)
    again = tmp_path / "again"
    assert train(first / "config.yaml", "--runs-dir", again, "-q").exit_code == 0
    second = only_run(again)
    assert history(first) == history(second)
    with np.load(first / "params.npz") as a, np.load(second / "params.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in a.files)


def test_keep_prob_and_batch_size_do_not_change_the_initial_weights(tmp_path, runs_dir):
    from dlcli.config import load_config
    from dlcli.experiment import prepare

    weights = []
    for overrides in ([], ["model.keep_prob=0.5"], ["training.batch_size=8"]):
        prepared = prepare(load_config(raw=SMALL, overrides=overrides))
        weights.append(prepared.trainer.network.get_params()["W1"])
    assert np.array_equal(weights[0], weights[1]) and np.array_equal(weights[0], weights[2])


def test_two_runs_in_the_same_second_never_share_a_directory(tmp_path, runs_dir):
    path = write_config(tmp_path, dict(SMALL, training={"epochs": 1}))
    for _ in range(3):
        assert train(path, "--runs-dir", runs_dir, "-q").exit_code == 0
    runs = sorted(p.name for p in runs_dir.iterdir())
    assert len(set(runs)) == 3


def test_name_option_wins(tmp_path, runs_dir):
    assert train(write_config(tmp_path), "--runs-dir", runs_dir, "--name", "mine", "-q"
                 ).exit_code == 0
    run = only_run(runs_dir)
    assert run.name.endswith("-mine") and metrics(run)["name"] == "mine"


def test_progress_and_summary_are_shown(tmp_path, runs_dir):
    result = train(write_config(tmp_path), "--runs-dir", runs_dir)
    assert result.exit_code == 0
    assert "completed" in result.output
    assert "│ final │" in result.output and "│ best  │" in result.output
    assert "dev" in result.output and "acc" in result.output
    assert "run directory:" in result.output


def test_eval_every_and_grad_norms(tmp_path, runs_dir):
    config = dict(SMALL, training={"epochs": 10, "eval_every": 4, "log_grad_norms": True})
    assert train(write_config(tmp_path, config), "--runs-dir", runs_dir, "-q").exit_code == 0
    rows = history(only_run(runs_dir))
    assert [r["epoch"] for r in rows] == ["0", "4", "8", "10"]
    assert all(float(rows[-1][f"grad_norm_W{i}"]) > 0 for i in (1, 2, 3))


def test_exploding_float32_gradients_log_finite_norms(tmp_path, runs_dir):
    # The gradient-norms lesson's exploding case in float32: its second epoch's gradients pass
    # 1e19, where float32 squares overflow; the logged norms must be the real (finite) ones.
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs"
                            / "gradient-norms.yaml").read_text())
    config.pop("sweep")
    config["model"]["init_scale"] = 0.45
    config["training"].update(dtype="float32", epochs=3)
    result = train(write_config(tmp_path, config), "--runs-dir", runs_dir, "-q")
    assert result.exit_code == 1     # it diverges, as in the lesson
    last = history(only_run(runs_dir))[-1]
    norms = [float(last[f"grad_norm_W{i}"]) for i in range(1, 11)]
    assert all(np.isfinite(norms)) and max(norms) > 1.9e19, norms


DIVERGING = dict(SMALL, optimizer={"name": "gd", "learning_rate": 1e6},
                 model={"hidden": [20, 20], "init": "he"},
                 training={"epochs": 200, "batch_size": 32, "dtype": "float32"})


def test_divergence_stops_at_once_with_its_status(tmp_path, runs_dir):
    result = train(write_config(tmp_path, DIVERGING), "--runs-dir", runs_dir, "-q")
    assert result.exit_code == 1
    assert "smaller" in result.output and "learning_rate" in result.output
    run = only_run(runs_dir)
    m = metrics(run)
    assert m["status"] == "diverged" and m["epochs_run"] < 200
    rows = history(run)
    assert len(rows) >= 2 and not np.isfinite(float(rows[-1]["cost"]))


def test_a_diverged_runs_reason_is_said_once_as_the_last_line(tmp_path, runs_dir):
    result = train(write_config(tmp_path, DIVERGING), "--runs-dir", runs_dir)
    assert result.exit_code == 1
    reason = metrics(only_run(runs_dir))["message"]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert " ".join(lines).count(reason[:40]) == 1, result.stderr
    assert lines[-1].startswith("error: ") and reason.startswith(lines[-1][7:47])
    assert any(line.startswith("diverged after ") and line.endswith("s of training")
               for line in lines)


def test_a_diverged_runs_final_block_names_the_epoch_its_metrics_come_from(tmp_path, runs_dir):
    assert train(write_config(tmp_path, DIVERGING), "--runs-dir", runs_dir, "-q").exit_code == 1
    run = only_run(runs_dir)
    final, rows = metrics(run)["final"], history(run)
    evaluated = [r for r in rows if r["train_loss"]]
    assert final["epoch"] == int(rows[-1]["epoch"]) and final["cost"] is None
    assert final["last_evaluated_epoch"] == int(evaluated[-1]["epoch"]) < final["epoch"]
    for key in ("train_loss", "train_accuracy", "dev_loss", "dev_accuracy"):
        assert final[key] == pytest.approx(float(evaluated[-1][key]))

    # compare reads it next to a run written without the key, and never offers it as a metric
    old = runs_dir / (run.name + "-old")
    shutil.copytree(run, old)
    old_metrics = metrics(old)
    del old_metrics["final"]["last_evaluated_epoch"]
    (old / "metrics.json").write_text(json.dumps(old_metrics))
    result = runner.invoke(app, ["compare", str(runs_dir), "--format", "json"])
    assert result.exit_code == 0, result.output
    finals = {Path(r["run"]).name: r["final"] for r in json.loads(result.stdout)}
    assert finals[run.name] == final
    assert finals[old.name] == old_metrics["final"]
    for fmt in ("table", "csv"):
        result = runner.invoke(app, ["compare", str(runs_dir), "--format", fmt])
        assert result.exit_code == 0, result.output
        assert "last_evaluated" not in result.stdout
    result = runner.invoke(app, ["compare", str(runs_dir), "--metric", "test_loss"])
    assert result.exit_code == 2 and "final.dev_loss" in result.stderr
    assert "last_evaluated_epoch" not in result.stderr


def cells(output, label):
    """The cells of the summary table's row ``label``."""
    row = next(line for line in output.splitlines() if line.startswith(f"│ {label} "))
    return [cell.strip() for cell in row.split("│")[2:-1]]


def test_each_summary_row_is_one_epoch_and_a_diverged_run_says_where_it_diverged(
        tmp_path, runs_dir):
    """train and show tell one story: the final row is the last epoch (its cost: diverged),
    the evaluated row the last epoch with metrics, and the note names both."""
    diverged, completed = runs_dir / "diverged", runs_dir / "completed"
    trained = {"diverged": train(write_config(tmp_path, DIVERGING), "--runs-dir", diverged),
               "completed": train(write_config(tmp_path), "--runs-dir", completed)}
    assert trained["diverged"].exit_code == 1 and trained["completed"].exit_code == 0
    final = metrics(only_run(diverged))["final"]
    last, evaluated = final["epoch"], final["last_evaluated_epoch"]
    note = f"the run diverged in epoch {last}; epoch {evaluated} was the last one evaluated"
    shown = {name: runner.invoke(app, ["show", str(only_run(runs_dir / name))])
             for name in trained}
    for output in (trained["diverged"].stderr, shown["diverged"].stdout):
        lines = output.splitlines()
        bottom = next(i for i, line in enumerate(lines) if line.startswith("└"))
        assert lines[bottom + 1] == note
        assert cells(output, "final") == [str(last), "diverged", "-", "-", "-", "-"]
        row = cells(output, "evaluated")
        assert row[0] == str(evaluated) and row[1] == "-"
        assert row[2:] == [measure(final[k], pad=True) for k in
                           ("train_loss", "train_accuracy", "dev_loss", "dev_accuracy")]
    for output in (trained["completed"].stderr, shown["completed"].stdout):
        assert "│ final " in output and "│ evaluated " not in output
        assert "last one evaluated" not in output


def test_the_summary_writes_4_significant_digits_and_scientific_where_long(tmp_path, runs_dir):
    # the config's own "explode" recipe
    config = Path(__file__).resolve().parents[1] / "configs" / "gradient-norms.yaml"
    result = train(config, "--set", "model.init=random", "--set", "model.init_scale=1.5",
                   "--runs-dir", runs_dir)
    m = metrics(only_run(runs_dir))
    assert m["best"]["train_loss"] > 1e6, m
    best = cells(result.stderr, "best")
    assert re.fullmatch(r"\d\.\d{3}e\+\d\d", best[2]), best   # 3.512e+07, not 35120537.60…
    assert all(len(cell) <= 9 for cell in best)
    result = train(write_config(tmp_path, dict(SMALL, training={"epochs": 1200,
                                                               "batch_size": 1000})),
                   "--runs-dir", runs_dir / "long")
    assert result.exit_code == 0, result.output
    assert re.search(r"^1,200 epochs, 1,200 steps, [\d.]+ (µs|ms|s) of training, "
                     r"[\d,]+ samples/s$", result.stderr, re.M), result.stderr
    final = cells(result.stderr, "final")
    assert final[0] == "1,200" and all(re.fullmatch(r"0\.\d{4}|0\.0\d{4}", c)
                                       for c in final[1:]), final


def test_early_stopping_restores_the_best_epoch(tmp_path, runs_dir):
    config = dict(SMALL, model={"hidden": [64, 64]},
                  training={"epochs": 3000, "batch_size": 16,
                            "early_stopping": {"patience": 15}},
                  data={"dataset": "moons", "options": {"n_samples": 80, "noise": 0.4},
                        "dev_fraction": 0.5})
    assert train(write_config(tmp_path, config), "--runs-dir", runs_dir, "-q").exit_code == 0
    run = only_run(runs_dir)
    m = metrics(run)
    assert m["status"] == "early_stopped" and m["epochs_run"] < 3000
    assert m["epochs_run"] - m["best_epoch"] == 15
    # params.npz holds the best epoch's weights: dev loss recomputed from them matches "best"
    from dlcli.config import load_config
    from dlcli.experiment import prepare
    prepared = prepare(load_config(run / "config.yaml"))
    with np.load(run / "params.npz") as params:
        prepared.trainer.network.set_params(dict(params))
    dev = prepared.data.dev
    loss, _ = prepared.trainer.network.evaluate(dev.X, dev.y)
    assert loss == pytest.approx(m["best"]["dev_loss"], rel=1e-5)


def test_test_split_is_evaluated_at_the_end(tmp_path, runs_dir):
    config = dict(SMALL, data={"dataset": "iris", "dev_fraction": 0.2, "test_fraction": 0.2})
    assert train(write_config(tmp_path, config), "--runs-dir", runs_dir, "-q").exit_code == 0
    final = metrics(only_run(runs_dir))["final"]
    assert "test_loss" in final and 0 <= final["test_accuracy"] <= 1


def test_init_from_params(tmp_path, runs_dir):
    assert train(write_config(tmp_path), "--runs-dir", runs_dir, "-q").exit_code == 0
    params = only_run(runs_dir) / "params.npz"
    config = dict(SMALL, model={"hidden": [6, 3], "init_from": str(params)},
                  training={"epochs": 1})
    other = tmp_path / "other"
    assert train(write_config(tmp_path, config, "b.yaml"), "--runs-dir", other, "-q"
                 ).exit_code == 0
    first = history(only_run(other))[0]
    trained = history(only_run(runs_dir))[-1]
    assert float(first["train_loss"]) == pytest.approx(float(trained["train_loss"]), rel=1e-6)


def test_python_dash_m_and_a_real_subprocess(tmp_path):
    config = write_config(tmp_path, dict(SMALL, training={"epochs": 3}))
    env = dict(os.environ, COLUMNS="100")
    proc = subprocess.run([sys.executable, "-m", "dlcli", "train", str(config), "--runs-dir",
                           str(tmp_path / "runs")], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    run = only_run(tmp_path / "runs")
    assert proc.stdout.strip() == str(run)          # stdout: just the run directory
    assert "completed" in proc.stderr                # progress and summary on stderr
    proc = subprocess.run(["dlcli", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("dlcli ")
