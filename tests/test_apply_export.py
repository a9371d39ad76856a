"""dlcli export --format onnx: the graph, run by onnxruntime, gives dlcli predict's numbers."""
from __future__ import annotations

import builtins
import csv
import io

import numpy as np
import pytest
from typer.testing import CliRunner

from dlcli.cli.app import app
from tests.apply_helpers import blob_data, csv_config, train, write_csv

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
runner = CliRunner()

CASES = [   # (activation, classes, batch norm, keep_prob, dtype)
    ("relu", 3, False, 1.0, "float32"),
    ("leaky_relu", 2, False, 0.8, "float32"),
    ("tanh", 4, True, 1.0, "float32"),
    ("sigmoid", 2, True, 0.7, "float64"),
    ("linear", 3, False, 1.0, "float64"),
    ("relu", 2, True, 0.9, "float64"),
]


def predict_proba_cli(run_dir, csv_path):
    result = runner.invoke(app, ["predict", str(run_dir), str(csv_path), "--proba"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    return rows[0], [r[0] for r in rows[1:]], np.array([[float(v) for v in r[1:]]
                                                         for r in rows[1:]])


@pytest.mark.parametrize("activation,k,bn,keep,dtype", CASES)
def test_onnxruntime_matches_dlcli_predict(tmp_path, activation, k, bn, keep, dtype):
    X, y = blob_data(m=90, k=k, seed=k)
    labels = np.array(["a", "b", "c", "d"])[y] if k == 3 else y
    csv_path = write_csv(tmp_path / "train.csv", X, labels)
    raw = csv_config(csv_path, activation=activation, batch_norm=bn, keep_prob=keep)
    raw["training"].update(dtype=dtype, epochs=20)
    run_dir = train(tmp_path / "runs", raw)
    out = tmp_path / "model.onnx"
    result = runner.invoke(app, ["export", str(run_dir), "--format", "onnx", "--output",
                                 str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    onnx.checker.check_model(onnx.load(str(out)))

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    # New points, some far outside the training range
    fresh = np.random.default_rng(7).normal(X.mean(0), 3 * X.std(0), (200, X.shape[1]))
    write_csv(tmp_path / "fresh.csv", fresh, labels[:200].tolist() * 3)
    header, predicted, expected = predict_proba_cli(run_dir, tmp_path / "fresh.csv")
    probabilities, label = session.run(["probabilities", "label"], {"X": fresh})
    assert probabilities.dtype == np.dtype(dtype)
    assert np.abs(probabilities - expected).max() < 1e-5
    assert [str(v) for v in label.tolist()] == predicted
    assert header[1:] == [f"proba_{c}" for c in sorted(set(labels.tolist()))]


def test_export_without_onnx_names_the_extra(tmp_path, monkeypatch):
    X, y = blob_data(m=60, k=2)
    run_dir = train(tmp_path / "runs", csv_config(write_csv(tmp_path / "t.csv", X, y)))
    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError("No module named 'onnx'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    result = runner.invoke(app, ["export", str(run_dir), "--output", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2
    assert "pip install 'dlcli[onnx]'" in result.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_every_activation_has_an_onnx_operator():
    from dlcli.apply.onnx_export import ONNX_ACTIVATIONS
    from dlcli.nn.activations import ACTIVATIONS
    assert set(ONNX_ACTIVATIONS) == set(ACTIVATIONS)


def test_export_never_replaces_a_file_without_force(tmp_path):
    X, y = blob_data(m=60, k=2)
    run_dir = train(tmp_path / "runs", csv_config(write_csv(tmp_path / "t.csv", X, y)))
    result = runner.invoke(app, ["export", str(run_dir)])
    assert result.exit_code == 0, result.output
    default = run_dir / "model.onnx"
    assert result.stdout.strip() == str(default) and default.exists()
    mine = tmp_path / "mine.onnx"
    mine.write_bytes(b"a user's own file")
    result = runner.invoke(app, ["export", str(run_dir), "--output", str(mine)])
    assert result.exit_code == 2
    assert "exists; give another --output, or --force" in result.stderr
    assert mine.read_bytes() == b"a user's own file"
    result = runner.invoke(app, ["export", str(run_dir), "--output", str(mine), "--force"])
    assert result.exit_code == 0, result.output
    onnx.checker.check_model(onnx.load(str(mine)))


def test_export_help_names_the_extra():
    result = runner.invoke(app, ["export", "--help"], terminal_width=200)
    assert "'dlcli[onnx]'" in result.stdout   # rich would read [onnx] as markup and drop it
