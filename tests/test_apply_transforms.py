"""A run's input transforms (a Keras-style mnist.npz's pixels / 255) are recorded in model.json
and applied wherever the run is applied: predict, evaluate, load_run and the ONNX export."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from dlcli import load_run
from dlcli.apply import read_model
from dlcli.build import load_run_data
from dlcli.cli.app import app
from dlcli.config import load_config
from dlcli.config.load import read_yaml
from dlcli.errors import InputError
from tests.apply_helpers import train

runner = CliRunner()


def images(m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """8-bit 6x6 images of three classes (a bright row, column or diagonal) with noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(m) % 3
    X = rng.integers(0, 90, size=(m, 6, 6))
    for i, k in enumerate(y):
        where = rng.integers(0, 6)
        if k == 0:
            X[i, where, :] += 160
        elif k == 1:
            X[i, :, where] += 160
        else:
            X[i, np.arange(6), np.arange(6)] += 160
    return X.clip(0, 255).astype(np.uint8), y.astype(np.uint8)


@pytest.fixture(scope="module")
def pixel_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("pixels")
    x_train, y_train = images(90, 0)
    x_test, y_test = images(30, 1)
    path = root / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    raw = {"name": "pixels", "seed": 2, "data": {"train": str(path)},
           "model": {"hidden": [8]}, "optimizer": {"name": "adam", "learning_rate": 0.01},
           "training": {"epochs": 4, "batch_size": 16}}
    return train(root / "runs", raw), path, (x_train, y_train, x_test, y_test)


def own_predictions(run_dir):
    """The run's own classes for its own train and test splits, through the training path's
    data preparation (which divides the pixels by 255 before normalising)."""
    model = load_run(run_dir)
    data = load_run_data(load_config(raw=read_yaml(run_dir / "config.yaml")))
    return ({name: model.classes[model.apply(split.X)[0]] for name, split in
             data.splits().items()},
            {name: model.apply(split.X)[1] for name, split in data.splits().items()})


def test_model_json_records_the_pixel_scale(pixel_run):
    run_dir, _, _ = pixel_run
    written = json.loads((run_dir / "model.json").read_text())
    assert written["version"] == 2 and written["transforms"] == [{"divide": 255.0}]
    info = read_model(run_dir)
    assert info.transforms == [{"divide": 255.0}] and info.image_shape == (6, 6)
    # The statistics are those of the scaled pixels: a mean in [0, 1], not in [0, 255].
    assert 0 < info.shift.mean() < 1


def test_raw_pixels_predict_as_the_run_does(pixel_run, tmp_path):
    run_dir, path, (x_train, _, x_test, _) = pixel_run
    own, own_proba = own_predictions(run_dir)
    model = load_run(run_dir)
    # load_run on raw 8-bit images, (m, h, w) or flat rows
    np.testing.assert_array_equal(model.predict(x_train), own["train"])
    np.testing.assert_array_equal(model.predict(x_test.reshape(30, -1)), own["test"])
    np.testing.assert_array_equal(model.predict_proba(x_test), own_proba["test"])
    # dlcli predict on the mnist.npz (its test half) and on an X npz of the raw pixels
    np.savez(tmp_path / "X.npz", X=x_train)
    for source, expected in ((path, own["test"]), (tmp_path / "X.npz", own["train"])):
        result = runner.invoke(app, ["predict", str(run_dir), str(source)])
        assert result.exit_code == 0, result.output
        assert result.stdout.split() == ["prediction", *map(str, expected.tolist())]


def test_evaluate_on_the_mnist_file_equals_the_runs_test_metrics(pixel_run):
    run_dir, path, _ = pixel_run
    result = runner.invoke(app, ["evaluate", str(run_dir), str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    final = json.loads((run_dir / "metrics.json").read_text())["final"]
    assert report["examples"] == 30
    assert report["accuracy"] == final["test_accuracy"]
    assert report["loss"] == pytest.approx(final["test_loss"], rel=1e-6)


def test_onnx_export_divides_raw_pixels(pixel_run, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    run_dir, _, (x_train, _, x_test, _) = pixel_run
    out = tmp_path / "model.onnx"
    result = runner.invoke(app, ["export", str(run_dir), "--output", str(out)])
    assert result.exit_code == 0, result.output
    graph = onnx.load(str(out)).graph
    assert [n.op_type for n in graph.node][:3] == ["Div", "Sub", "Div"]
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    model = load_run(run_dir)
    for X in (x_train, x_test):
        flat = X.reshape(len(X), -1).astype(np.float64)
        probabilities, label = session.run(["probabilities", "label"], {"X": flat})
        assert np.abs(probabilities - model.predict_proba(X)).max() < 1e-5
        np.testing.assert_array_equal(label, model.predict(X))


def test_a_version_1_model_json_has_no_transforms(pixel_run, tmp_path):
    run_dir, _, (x_train, _, _, _) = pixel_run
    old = tmp_path / "old"
    old.mkdir()
    written = json.loads((run_dir / "model.json").read_text())
    del written["transforms"]
    written["version"] = 1
    (old / "model.json").write_text(json.dumps(written))
    (old / "params.npz").write_bytes((run_dir / "params.npz").read_bytes())
    model = load_run(old)
    assert model.info.transforms == []
    # It takes features as training normalised them: pixels already divided by 255.
    np.testing.assert_array_equal(model.predict(x_train / 255.0), load_run(run_dir).predict(
        x_train))


@pytest.mark.parametrize("transforms,problem", [
    (None, "transforms is missing"),
    ({"divide": 255.0}, "not a list"),
    ([{"multiply": 2.0}], "holds 'multiply'; this dlcli knows divide"),
    ([{"divide": 0}], "finite non-zero number"),
    ([{"divide": True}], "finite non-zero number"),
])
def test_a_bad_transforms_entry_is_refused(pixel_run, tmp_path, transforms, problem):
    run_dir, _, _ = pixel_run
    written = json.loads((run_dir / "model.json").read_text())
    if transforms is None:
        del written["transforms"]
    else:
        written["transforms"] = transforms
    (tmp_path / "model.json").write_text(json.dumps(written))
    with pytest.raises(InputError, match=problem):
        read_model(tmp_path)


def test_predictions_of_a_csv_run_are_unchanged_by_transforms(tmp_path):
    # A run on a CSV file records no transform.
    from tests.apply_helpers import blob_data, csv_config, write_csv

    X, y = blob_data(m=60)
    run_dir = train(tmp_path / "runs", csv_config(write_csv(tmp_path / "t.csv", X, y),
                                                  ) | {"training": {"epochs": 2}})
    assert json.loads((run_dir / "model.json").read_text())["transforms"] == []
    result = runner.invoke(app, ["predict", str(run_dir), str(tmp_path / "t.csv")])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))[1:]
    np.testing.assert_array_equal([int(r[0]) for r in rows], load_run(run_dir).predict(X))
