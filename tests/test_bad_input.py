"""Bad input: one clear message naming what is wrong, exit code 2, no traceback, no run dir."""
from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from dlcli.cli.app import app
from helpers import SMALL, write_config

runner = CliRunner()


def refused(tmp_path, runs_dir, config=None, *extra, text=None):
    path = tmp_path / "bad.yaml"
    if text is not None:
        path.write_text(text)
    else:
        write_config(tmp_path, config, "bad.yaml")
    result = runner.invoke(app, ["train", str(path), "--runs-dir", str(runs_dir), "-q", *extra])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert list(runs_dir.iterdir()) == []          # nothing half-made
    return result.output


def with_data(**data):
    return dict(SMALL, data=data)


@pytest.mark.parametrize("config,fragments", [
    (dict(SMALL, optimiser={"name": "adam"}), ["optimiser", "did you mean 'optimizer'"]),
    (dict(SMALL, optimizer={"learning_rate": 0}), ["optimizer.learning_rate", "greater than 0"]),
    (dict(SMALL, model={"hidden": [4], "keep_prob": 1.2}), ["model.keep_prob", "1.2"]),
    (dict(SMALL, training={"batch_size": 0}), ["training.batch_size"]),
    (dict(SMALL, model={"hidden": [4], "activation": "relu6"}), ["model.activation",
                                                                  "leaky_relu"]),
    (dict(SMALL, training={"epochs": "many"}), ["training.epochs", "'many'"]),
    (with_data(dataset="moons", options={"n_sample": 10}), ["data.options.n_sample",
                                                            "n_samples"]),
    (with_data(dataset="mnist"), ["data.dataset", "'mnist'"]),
    (dict(SMALL, data={"dataset": "moons"}, training={"early_stopping": {"patience": 3}}),
     ["early_stopping", "dev split"]),
    (dict(SMALL, model={"hidden": [4], "output": "sigmoid"},
          data={"dataset": "iris"}), ["model.output", "sigmoid", "3"]),
    (dict(SMALL, data={"dataset": "moons", "augment": {"flip": True}}), ["data.augment",
                                                                        "image"]),
    (dict(SMALL, model={"hidden": [4], "batch_norm": True}, training={"batch_size": 1}),
     ["training.batch_size", "batch normalisation", "at least 2 examples"]),
    # SMALL's 150 training examples in batches of 149: a last batch of one example
    (dict(SMALL, model={"hidden": [4], "batch_norm": True}, training={"batch_size": 149}),
     ["training.batch_size", "150 training examples = 1 x 149 + 1",
      "e.g. training.batch_size=150"]),
])
def test_config_errors(tmp_path, runs_dir, config, fragments):
    output = refused(tmp_path, runs_dir, config)
    for fragment in fragments:
        assert fragment in output, (fragment, output)


@pytest.mark.parametrize("text,fragment", [
    ("", "empty"),
    ("model: {hidden: [3]\n", "malformed YAML"),
    ("!!python/object/apply:os.system ['true']\n", "tags"),
])
def test_unreadable_configs(tmp_path, runs_dir, text, fragment):
    assert fragment in refused(tmp_path, runs_dir, text=text)


def test_set_on_an_unknown_key(tmp_path, runs_dir):
    output = refused(tmp_path, runs_dir, SMALL, "--set", "optimizer.lr=0.1")
    assert "optimizer.lr" in output and "learning_rate" in output


def test_missing_config_file(tmp_path, runs_dir):
    result = runner.invoke(app, ["train", str(tmp_path / "nope.yaml"), "--runs-dir",
                                 str(runs_dir)])
    assert result.exit_code == 2 and "does not exist" in result.output


def csv_config(path, **extra):
    return dict(SMALL, data={"train": str(path), **extra})


@pytest.mark.parametrize("content,fragments", [
    ("a,b,label\n1,2,0\n3,nan,1\n", ["row 2", "'b'"]),
    ("a,b,label\n1,2,0\n3,inf,1\n", ["row 2", "'b'"]),
    ("a,b,label\n1,2,0\n3,4\n", ["row 2"]),
    ("a,b,label\n1,x,0\n3,4,1\n", ["row 1", "'b'"]),
    ("a,b,label\n1,2,0.5\n3,4,1\n", ["label"]),
    ("a,b,label\n1,2,-1\n3,4,1\n", ["label"]),
    ("a,b,label\n", ["no data rows"]),
])
def test_data_file_errors(tmp_path, runs_dir, content, fragments):
    data = tmp_path / "train.csv"
    data.write_text(content)
    output = refused(tmp_path, runs_dir, csv_config(data))
    assert "train.csv" in output
    for fragment in fragments:
        assert fragment.lower() in output.lower(), (fragment, output)


def test_missing_target_column(tmp_path, runs_dir):
    data = tmp_path / "train.csv"
    data.write_text("a,b,label\n1,2,0\n3,4,1\n")
    output = refused(tmp_path, runs_dir, csv_config(data, target="lable"))
    assert "lable" in output and "label" in output


def test_missing_data_file(tmp_path, runs_dir):
    output = refused(tmp_path, runs_dir, csv_config(tmp_path / "absent.csv"))
    assert "absent.csv" in output


def test_init_from_with_the_wrong_shapes(tmp_path, runs_dir):
    params = tmp_path / "params.npz"
    np.savez(params, W1=np.zeros((3, 2)), b1=np.zeros((3, 1)), W2=np.zeros((1, 3)),
             b2=np.zeros((1, 1)))
    output = refused(tmp_path, runs_dir, dict(SMALL, model={"hidden": [6, 3],
                                                            "init_from": str(params)}))
    assert "model.init_from" in output and "W1" in output and "(6, 2)" in output


def test_runs_dir_that_is_a_file(tmp_path):
    blocker = tmp_path / "runs"
    blocker.write_text("not a directory")
    result = runner.invoke(app, ["train", str(write_config(tmp_path)), "--runs-dir",
                                 str(blocker), "-q"])
    assert result.exit_code == 2 and "not a directory" in result.output
    assert blocker.read_text() == "not a directory"


def test_unknown_command_and_missing_argument():
    assert runner.invoke(app, ["trian"]).exit_code == 2
    assert runner.invoke(app, ["train"]).exit_code == 2
