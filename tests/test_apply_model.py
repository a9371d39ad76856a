"""A run directory applied on its own (SPEC section 1, "applying a run"): model.json, load_run,
Model.predict / predict_proba against a forward pass written out here from the files alone."""
from __future__ import annotations

import json

import numpy as np
import pytest

import dlcli
from dlcli.apply import load_run, read_model
from dlcli.errors import DataError, InputError
from tests.apply_helpers import blob_data, csv_config, train, write_csv
from tests.helpers import metrics


def oracle_proba(run_dir, X):
    """Probabilities from model.json and params.npz, float64, the course's formulas."""
    info = json.loads((run_dir / "model.json").read_text())
    params = dict(np.load(run_dir / "params.npz"))
    norm = info["normalization"]
    A = ((np.asarray(X, float) - norm["shift"]) / norm["scale"]).T
    arch = info["architecture"]
    L = len(arch["sizes"]) - 1
    g = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "linear": lambda z: z,
         "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
         "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z)}
    for layer in range(1, L + 1):
        Z = params[f"W{layer}"].astype(float) @ A
        if layer < L and arch["batch_norm"]:
            eps = arch["batch_norm"]["epsilon"]
            Z = (params[f"gamma{layer}"] * (Z - params[f"running_mean{layer}"])
                 / np.sqrt(params[f"running_var{layer}"] + eps) + params[f"beta{layer}"])
        else:
            Z = Z + params[f"b{layer}"]
        A = g[arch["activations"][layer - 1]](Z) if layer < L else Z
    if info["output"] == "sigmoid":
        p = 1 / (1 + np.exp(-A[0]))
        return np.stack([1 - p, p], axis=1)
    E = np.exp(A - A.max(axis=0))
    return (E / E.sum(axis=0)).T


@pytest.fixture(scope="module")
def blobs_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("blobs")
    X, y = blob_data()
    csv = write_csv(folder / "train.csv", X, y)
    return train(folder / "runs", csv_config(csv)), X, y


def test_model_json_holds_what_applying_needs(blobs_run):
    run_dir, X, y = blobs_run
    info = json.loads((run_dir / "model.json").read_text())
    assert info["features"] == {"count": 3, "names": ["x0", "x1", "x2"], "image_shape": None}
    assert info["normalization"]["kind"] == "standardize"
    assert np.allclose(info["normalization"]["shift"], X.mean(axis=0), rtol=1e-14)
    assert np.allclose(info["normalization"]["scale"], X.std(axis=0), rtol=1e-14)
    assert info["labels"] == {"column": "label", "classes": [0, 1, 2]}
    assert info["output"] == "softmax" and info["dtype"] == "float32"
    assert info["architecture"] == {"sizes": [3, 8, 4, 3], "activations": ["relu", "relu"],
                                    "batch_norm": None}
    # params.npz keeps exactly the course's keys
    assert sorted(np.load(run_dir / "params.npz").files) == ["W1", "W2", "W3", "b1", "b2", "b3"]


def test_predictions_reproduce_the_runs_train_accuracy(blobs_run):
    run_dir, X, y = blobs_run
    model = load_run(run_dir)
    predicted = model.predict(X)
    assert predicted.dtype.kind == "i"
    assert np.mean(predicted == y) == metrics(run_dir)["final"]["train_accuracy"]
    proba = model.predict_proba(X)
    assert proba.shape == (len(y), 3) and proba.dtype == np.float64
    assert np.allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba, oracle_proba(run_dir, X), atol=1e-5)


def test_from_dlcli_import_load_run(blobs_run):
    run_dir, X, _ = blobs_run
    model = dlcli.load_run(str(run_dir))
    assert "3 features -> 3 classes" in repr(model)
    assert model.feature_names == ["x0", "x1", "x2"] and list(model.classes) == [0, 1, 2]
    assert model.predict(X[:4]).shape == (4,)


@pytest.mark.parametrize("labels,expected_kind", [
    (["emu", "cat", "dog"], "U"),      # names, sorted as text: cat, dog, emu
    ([7, 3, 11], "i"),                  # class numbers that are not 0..K-1 stay themselves
])
def test_original_labels_round_trip(tmp_path, labels, expected_kind):
    X, y = blob_data(m=90)
    named = [labels[k] for k in y]
    csv = write_csv(tmp_path / "train.csv", X, named, target="kind", label_first=True)
    raw = csv_config(csv)
    raw["data"]["target"] = "kind"
    run_dir = train(tmp_path / "runs", raw)
    info = read_model(run_dir)
    assert info.classes == sorted(labels) and info.label_column == "kind"
    model = load_run(run_dir)
    predicted = model.predict(X)
    assert predicted.dtype.kind == expected_kind
    assert set(predicted.tolist()) <= set(labels)
    accuracy = np.mean(predicted == np.asarray(named))
    assert accuracy == metrics(run_dir)["final"]["train_accuracy"]


def test_binary_sigmoid_two_columns_and_names(tmp_path):
    X, y = blob_data(m=80, k=2)
    csv = write_csv(tmp_path / "train.csv", X, np.where(y == 1, "yes", "no"))
    run_dir = train(tmp_path / "runs", csv_config(csv))
    model = load_run(run_dir)
    assert model.info.output == "sigmoid" and list(model.classes) == ["no", "yes"]
    proba = model.predict_proba(X)
    assert proba.shape == (80, 2)
    np.testing.assert_allclose(proba, oracle_proba(run_dir, X), atol=1e-6)
    assert (model.predict(X) == np.where(proba[:, 1] > 0.5, "yes", "no")).all()


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "sigmoid", "linear"])
def test_batch_norm_and_dropout_networks_predict_in_inference_mode(tmp_path, activation):
    """Dropout off and batch norm's running statistics: the same numbers as the course's
    inference formulas computed from the files, and the same on every call."""
    X, y = blob_data(m=96)
    csv = write_csv(tmp_path / "train.csv", X, y)
    raw = csv_config(csv, activation=activation, batch_norm=True, keep_prob=0.7)
    raw["training"]["dtype"] = "float64"
    run_dir = train(tmp_path / "runs", raw)
    model = load_run(run_dir)
    assert model.info.batch_norm == (0.9, 1e-5)
    first = model.predict_proba(X)
    np.testing.assert_array_equal(first, model.predict_proba(X))
    np.testing.assert_allclose(first, oracle_proba(run_dir, X), rtol=1e-10, atol=1e-12)
    assert np.mean(model.predict(X) == y) == metrics(run_dir)["final"]["train_accuracy"]


@pytest.mark.slow   # scikit-learn's data sets take seconds to import
def test_builtin_class_names_and_images(runs_dir):
    run_dir = train(runs_dir, {"name": "iris", "data": {"dataset": "iris"},
                               "model": {"hidden": [4]}, "training": {"epochs": 2}})
    info = read_model(run_dir)
    assert info.classes == ["setosa", "versicolor", "virginica"]
    assert info.feature_names[0] == "sepal length (cm)"
    digits = train(runs_dir, {"name": "digits", "data": {"dataset": "digits"},
                              "model": {"hidden": [4]}, "training": {"epochs": 1}})
    info = read_model(digits)
    assert info.classes == list(range(10)) and info.image_shape == (8, 8)
    model = load_run(digits)
    images = np.random.default_rng(0).uniform(0, 16, (5, 8, 8))
    np.testing.assert_array_equal(model.predict_proba(images),
                                  model.predict_proba(images.reshape(5, 64)))


def test_bad_features_are_refused_with_row_and_column(blobs_run):
    run_dir, X, _ = blobs_run
    model = load_run(run_dir)
    with pytest.raises(DataError, match=r"has 2 features; the run was trained on 3 \(x0, x1, x2\)"):
        model.predict(X[:, :2])
    bad = X[:5].copy()
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match=r"row 4, column 'x1'.*nan"):
        model.predict_proba(bad)
    bad[3, 1] = 1e300
    with pytest.raises(DataError, match=r"row 4, column 'x1'.*does not fit in float32"):
        model.predict(bad)
    with pytest.raises(DataError, match="not numbers"):
        model.predict([["a", "b", "c"]])


def test_frame_columns_are_matched_by_name(blobs_run):
    run_dir, X, _ = blobs_run

    class Frame:   # what load_run needs of a pandas DataFrame
        def __init__(self, data):
            self.data = data
            self.columns = list(data)

        def __getitem__(self, names):
            return np.column_stack([self.data[n] for n in names])

    model = load_run(run_dir)
    shuffled = Frame({"x2": X[:, 2], "x0": X[:, 0], "x1": X[:, 1]})
    np.testing.assert_array_equal(model.predict_proba(shuffled), model.predict_proba(X))
    with pytest.raises(DataError, match="missing feature column x1"):
        model.predict(Frame({"x2": X[:, 2], "x0": X[:, 0]}))


def test_an_old_run_directory_names_what_is_missing(blobs_run, tmp_path):
    run_dir, _, _ = blobs_run
    old = tmp_path / "old-run"
    old.mkdir()
    for name in ("config.yaml", "metrics.json", "params.npz"):
        (old / name).write_bytes((run_dir / name).read_bytes())
    with pytest.raises(InputError, match=r"has no model.json: .*normalisation statistics, "
                                         r"class labels"):
        load_run(old)
    info = json.loads((run_dir / "model.json").read_text())
    del info["normalization"]["scale"]
    (old / "model.json").write_text(json.dumps(info))
    with pytest.raises(InputError, match="normalization.scale is missing"):
        load_run(old)
    info = json.loads((run_dir / "model.json").read_text())
    info["architecture"]["sizes"][-1] = 2
    (old / "model.json").write_text(json.dumps(info))
    with pytest.raises(InputError, match=r"architecture.sizes \[3, 8, 4, 2\] does not fit"):
        load_run(old)
    (old / "model.json").write_text((run_dir / "model.json").read_text())
    (old / "params.npz").unlink()
    with pytest.raises(InputError, match="has no params.npz: the run has not ended"):
        load_run(old)
    np.savez(old / "params.npz", W1=np.zeros((8, 3)))
    with pytest.raises(InputError, match="does not fit the network.*missing b1"):
        load_run(old)
    with pytest.raises(InputError, match="not a run directory"):
        load_run(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        load_run(tmp_path / "nowhere")


def test_statistics_that_overflow_are_refused_before_the_run_directory(tmp_path, runs_dir):
    """Values near 1e308 overflow the std: every value would normalise to 0 and model.json
    could not record the statistics, so the data is refused and nothing is written."""
    from dlcli.config import load_config
    from dlcli.experiment import run
    csv_path = tmp_path / "huge.csv"
    csv_path.write_text("a,b,label\n1e308,1,0\n-1e308,2,1\n1e308,3,0\n-1e308,4,1\n")
    with pytest.raises(DataError, match=r"huge.csv, column 'a': the values are too large"):
        run(load_config(raw=csv_config(csv_path)), runs_dir)
    assert list(runs_dir.iterdir()) == []
