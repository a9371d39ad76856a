"""load_data (SPEC 0, 13): built-in data sets and their options, seeded reproducibility, dtypes,
stratified splits and normalisation fitted on the training split only."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from dlcli.config.schema import DATASETS as SCHEMA_DATASETS
from dlcli.config.schema import DataConfig
from dlcli.data import DATASETS, load_data
from dlcli.errors import ConfigError

SYNTHETIC = ["moons", "circles", "flower", "spirals", "blobs"]


def load(seed: int = 0, dtype: str = "float64", **data):
    return load_data(DataConfig(**data), np.random.default_rng(seed), dtype)


def test_registry_matches_the_schema():
    assert sorted(DATASETS.names()) == sorted(SCHEMA_DATASETS)


@pytest.mark.parametrize("name", SYNTHETIC)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_synthetic_shapes_dtypes_and_balance(name, dtype):
    ds = load(dataset=name, dtype=dtype)
    m = {"flower": 400}.get(name, 300)
    K = {"blobs": 3}.get(name, 2)
    assert ds.train.X.shape == (m, 2) and ds.train.X.dtype == np.dtype(dtype)
    assert ds.train.X.flags.c_contiguous
    assert ds.train.y.dtype == np.int64 and ds.train.y.shape == (m,)
    assert ds.n_classes == K and ds.class_names == [str(k) for k in range(K)]
    counts = np.bincount(ds.train.y)
    assert counts.max() - counts.min() <= 1
    assert len(set(ds.train.y[:20].tolist())) > 1  # rows are shuffled, not in class blocks
    assert ds.dev is None and ds.test is None
    assert ds.shift.dtype == np.float64 and ds.scale.shape == (2,)


def test_options_change_the_data():
    ds = load(dataset="spirals", options={"n_samples": 90, "n_classes": 3, "turns": 2})
    assert ds.train.m == 90 and ds.n_classes == 3
    ds = load(dataset="blobs", options={"n_features": 5, "n_samples": 50.0})
    assert ds.train.X.shape == (50, 5)
    assert ds.info["options"] == {"n_samples": 50, "n_classes": 3, "n_features": 5,
                                  "cluster_std": 1.0}


def test_flower_is_the_course_construction():
    raw = load(dataset="flower", normalize="none", options={"noise": 0.0})
    X, y = raw.train.X, raw.train.y
    # Without noise every point lies on r = 4 sin(4t), t = atan2(x, y) (x = r sin t, y = r cos t).
    r, t = np.hypot(X[:, 0], X[:, 1]), np.arctan2(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r, np.abs(4 * np.sin(4 * t)), atol=1e-9)
    assert set(np.unique(y)) == {0, 1}


@pytest.mark.parametrize("name", SYNTHETIC)
def test_same_seed_same_arrays_other_seed_other_arrays(name):
    config = dict(dataset=name, dev_fraction=0.2, test_fraction=0.1)
    a, b, c = load(1, **config), load(1, **config), load(2, **config)
    for split in ("train", "dev", "test"):
        np.testing.assert_array_equal(getattr(a, split).X, getattr(b, split).X)
        np.testing.assert_array_equal(getattr(a, split).y, getattr(b, split).y)
    assert not np.array_equal(a.train.X, c.train.X)


def test_real_data_sets():
    digits = load(dataset="digits", dtype="float32")
    assert digits.image_shape == (8, 8) and digits.train.X.shape == (1797, 64)
    assert digits.n_classes == 10 and digits.class_names[3] == "3"
    iris = load(dataset="iris")
    assert iris.class_names == ["setosa", "versicolor", "virginica"]
    assert iris.feature_names[0] == "sepal length (cm)" and iris.image_shape is None
    with pytest.raises(ConfigError, match="data.options.n_samples.*iris takes no options"):
        load(dataset="iris", options={"n_samples": 10})


@pytest.mark.parametrize("options, path, text", [
    ({"nosie": 0.1}, "data.options.nosie", "did you mean 'noise'?"),
    ({"n_samples": 5}, "data.options.n_samples", ">= 10"),
    ({"n_samples": "many"}, "data.options.n_samples", "must be an integer"),
    ({"n_samples": True}, "data.options.n_samples", "must be an integer"),
    ({"n_samples": 10.5}, "data.options.n_samples", "must be an integer"),
    ({"noise": -1}, "data.options.noise", ">= 0"),
])
def test_bad_options_are_config_errors(options, path, text):
    with pytest.raises(ConfigError) as info:
        load(dataset="moons", options=options)
    assert info.value.path == path and text in str(info.value)
    assert "n_samples, noise" in str(info.value) or "must be" in str(info.value)


def test_bad_dtype_is_a_config_error():
    with pytest.raises(ConfigError, match="training.dtype"):
        load(dataset="moons", dtype="float16")


def csv_file(tmp_path, rows: np.ndarray, labels: np.ndarray) -> str:
    path = tmp_path / "data.csv"
    header = ",".join(f"f{j}" for j in range(rows.shape[1])) + ",label"
    body = "\n".join(",".join(map(repr, map(float, r))) + f",{c}" for r, c in zip(rows, labels))
    path.write_text(header + "\n" + body + "\n")
    return str(path)


def test_stratified_splits_keep_class_proportions(tmp_path):
    labels = np.array([0] * 80 + [1] * 20)
    rows = np.arange(100.0)[:, None]
    ds = load(train=csv_file(tmp_path, rows, labels), test_fraction=0.2, dev_fraction=0.1,
              normalize="none")
    assert np.bincount(ds.test.y).tolist() == [16, 4]
    assert np.bincount(ds.dev.y).tolist() == [8, 2]
    assert np.bincount(ds.train.y).tolist() == [56, 14]
    # The splits partition the rows, and each keeps the file's order.
    ids = np.concatenate([ds.train.X[:, 0], ds.dev.X[:, 0], ds.test.X[:, 0]])
    assert sorted(ids.tolist()) == list(range(100))
    for split in (ds.train, ds.dev, ds.test):
        assert np.all(np.diff(split.X[:, 0]) > 0)
    # Labels follow their rows.
    assert np.all((ds.test.X[:, 0] >= 80) == (ds.test.y == 1))


def test_small_fraction_still_gets_one_example_and_impossible_ones_are_refused(tmp_path):
    ds = load(dataset="moons", options={"n_samples": 20}, dev_fraction=0.01)
    assert ds.dev.m == 1 and ds.train.m == 19
    path = csv_file(tmp_path, np.arange(4.0)[:, None], np.array([0, 0, 1, 1]))
    with pytest.raises(ConfigError) as info:
        load(train=path, test_fraction=0.5, dev_fraction=0.3)
    assert info.value.path == "data.dev_fraction" and "at least one training example" in str(
        info.value)


def test_standardize_is_fitted_on_train_only(tmp_path):
    rng = np.random.default_rng(5)
    rows = np.column_stack([rng.normal(3.0, 2.0, 200), np.full(200, 7.0), rng.normal(size=200)])
    labels = rng.integers(0, 2, 200)
    path = csv_file(tmp_path, rows, labels)
    ds = load(train=path, dev_fraction=0.25)
    raw = load(train=path, dev_fraction=0.25, normalize="none")
    np.testing.assert_allclose(ds.shift, raw.train.X.mean(axis=0))
    np.testing.assert_allclose(ds.scale[[0, 2]], raw.train.X[:, [0, 2]].std(axis=0))  # ddof=0
    np.testing.assert_allclose(ds.train.X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.train.X[:, [0, 2]].std(axis=0), 1.0)
    # The constant column is only centred.
    assert ds.scale[1] == 1.0 and ds.shift[1] == 7.0
    assert np.all(ds.train.X[:, 1] == 0.0)
    # dev uses the training statistics: its mean is not exactly 0.
    assert np.all(ds.dev.X[:, [0, 2]].mean(axis=0) != 0.0)
    np.testing.assert_allclose(ds.dev.X, (raw.dev.X - ds.shift) / ds.scale)
    # Identity for none.
    np.testing.assert_array_equal(raw.shift, 0.0)
    np.testing.assert_array_equal(raw.scale, 1.0)


def test_minmax(tmp_path):
    rows = np.array([[1.0, 5.0], [3.0, 5.0], [2.0, 5.0], [5.0, 5.0]])
    ds = load(train=csv_file(tmp_path, rows, np.array([0, 1, 0, 1])), normalize="minmax")
    np.testing.assert_allclose(ds.train.X[:, 0], [0.0, 0.5, 0.25, 1.0])
    np.testing.assert_array_equal(ds.train.X[:, 1], 0.0)
    np.testing.assert_array_equal(ds.shift, [1.0, 5.0])
    np.testing.assert_array_equal(ds.scale, [4.0, 1.0])


def test_float32_output_keeps_float64_statistics(tmp_path):
    ds = load(dataset="blobs", dtype="float32", test_fraction=0.2)
    assert ds.train.X.dtype == ds.test.X.dtype == np.float32
    assert ds.shift.dtype == ds.scale.dtype == np.float64
    assert ds.info["n_examples"] == {"train": 240, "test": 60}


def test_no_global_random_state_in_the_data_package():
    # Every draw comes from the rng passed in (SPEC 0: one seed): no np.random module calls.
    package = Path(__file__).resolve().parents[1] / "dlcli" / "data"
    for path in package.glob("*.py"):
        text = path.read_text()
        calls = re.findall(r"np\.random\.(?!Generator\b)\w+", text)
        assert not calls, f"{path.name} uses {calls}"
        assert "random_state" not in text
