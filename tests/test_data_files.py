"""Data files (SPEC 0, 13): CSV and NPZ reading, label handling, and every refusal naming the
file, row and column."""
from __future__ import annotations

import numpy as np
import pytest

from dlcli.config.schema import DataConfig
from dlcli.data import load_data
from dlcli.errors import ConfigError, DataError


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def load(**data) -> object:
    data.setdefault("normalize", "none")
    return load_data(DataConfig(**data), np.random.default_rng(0), "float64")


# ------------------------------------------------------------------------------ good files


def test_csv_numeric_labels_in_last_column(tmp_path):
    path = write(tmp_path, "d.csv", "a,b,label\n1,2,0\n3.5,-4,1\n5,6e2,1\n")
    ds = load(train=path)
    np.testing.assert_array_equal(ds.train.X, [[1, 2], [3.5, -4], [5, 600]])
    np.testing.assert_array_equal(ds.train.y, [0, 1, 1])
    assert ds.train.y.dtype == np.int64
    assert ds.feature_names == ["a", "b"]
    assert ds.class_names == ["0", "1"]
    assert ds.n_classes == 2 and ds.image_shape is None


def test_csv_target_column_by_name_anywhere(tmp_path):
    path = write(tmp_path, "d.csv", "cls,a,b\n1,10,20\n0,30,40\n1,50,60\n")
    ds = load(train=path, target="cls")
    np.testing.assert_array_equal(ds.train.X, [[10, 20], [30, 40], [50, 60]])
    np.testing.assert_array_equal(ds.train.y, [1, 0, 1])
    assert ds.feature_names == ["a", "b"]


def test_csv_text_labels_are_sorted_class_names(tmp_path):
    path = write(tmp_path, "iris.csv",
                 "x,species\n1,virginica\n2, setosa\n3,versicolor\n4,setosa\n")
    ds = load(train=path)
    assert ds.class_names == ["setosa", "versicolor", "virginica"]
    np.testing.assert_array_equal(ds.train.y, [2, 0, 1, 0])


def test_csv_integer_labels_not_from_zero_are_renumbered(tmp_path):
    path = write(tmp_path, "d.csv", "x,y\n1,2\n2,1\n3,2.0\n4,7\n")
    ds = load(train=path)
    assert ds.class_names == ["1", "2", "7"]
    np.testing.assert_array_equal(ds.train.y, [1, 0, 1, 2])  # 2 and 2.0 are one class


def test_csv_quotes_blank_lines_bom_and_crlf(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b'\xef\xbb\xbf"a","b"\r\n"1",0\r\n\r\n2,1\r\n')
    ds = load(train=str(path))
    np.testing.assert_array_equal(ds.train.X, [[1], [2]])
    assert ds.feature_names == ["a"]


def test_npz_features_and_images(tmp_path):
    flat, images = tmp_path / "flat.npz", tmp_path / "img.npz"
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    np.savez(flat, X=X, y=np.array([0, 1, 0, 1, 0, 1], dtype=np.uint8))
    ds = load(train=str(flat))
    np.testing.assert_array_equal(ds.train.X, X)
    assert ds.feature_names == ["x0", "x1"] and ds.image_shape is None
    np.savez(images, X=np.arange(4 * 3 * 5).reshape(4, 3, 5), y=np.array(["b", "a", "b", "a"]))
    ds = load(train=str(images))
    assert ds.image_shape == (3, 5) and ds.train.X.shape == (4, 15)
    assert ds.feature_names[:2] == ["pixel_0_0", "pixel_0_1"]
    assert ds.class_names == ["a", "b"]
    np.testing.assert_array_equal(ds.train.X[1, :5], np.arange(15, 20))
    np.savez(images, X=np.ones((4, 3, 5, 1)), y=np.array([0, 1, 0, 1]))  # one channel
    assert load(train=str(images)).image_shape == (3, 5)


def test_keras_mnist_npz_is_recognised(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "mnist.npz"
    x_train = rng.integers(0, 256, size=(30, 28, 28)).astype(np.uint8)
    x_train[0, 0, 0] = 255
    y_train = np.tile(np.arange(10, dtype=np.uint8), 3)
    x_test = rng.integers(0, 256, size=(10, 28, 28)).astype(np.uint8)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=np.arange(10))
    ds = load(train=str(path))
    assert ds.image_shape == (28, 28)
    assert ds.train.X.shape == (30, 784) and ds.test is not None and ds.test.m == 10
    assert ds.train.X.max() == 1.0 and ds.train.X.min() >= 0.0
    np.testing.assert_allclose(ds.train.X[0], x_train[0].ravel() / 255.0)
    np.testing.assert_allclose(ds.test.X[3], x_test[3].ravel() / 255.0)
    np.testing.assert_array_equal(ds.test.y, np.arange(10))
    # test_fraction carves the test split from the training half instead.
    carved = load(train=str(path), test_fraction=0.2)
    assert carved.test.m == 6 and carved.train.m == 24
    # Float pixels already in [0, 1] are kept; no test half, no test split.
    half = tmp_path / "half.npz"
    np.savez(half, x_train=x_train / 255.0, y_train=y_train)
    ds = load(train=str(half))
    assert ds.test is None
    np.testing.assert_allclose(ds.train.X[0], x_train[0].ravel() / 255.0)


def test_dev_and_test_files_with_columns_in_another_order(tmp_path):
    train = write(tmp_path, "train.csv", "a,b,label\n1,2,x\n3,4,y\n5,6,x\n")
    dev = write(tmp_path, "dev.csv", "label,b,a\ny,20,10\n")
    test = write(tmp_path, "test.csv", "a,b,label\n7,8,x\n")
    ds = load(train=train, dev=dev, test=test)
    np.testing.assert_array_equal(ds.dev.X, [[10, 20]])
    np.testing.assert_array_equal(ds.dev.y, [1])
    np.testing.assert_array_equal(ds.test.y, [0])


# ------------------------------------------------------------------------------ refusals


def refusal(tmp_path, text: str, **data) -> DataError:
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(DataError) as info:
        load(train=path, **data)
    assert "bad.csv" in str(info.value)
    return info.value


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist") as info:
        load(train=str(tmp_path / "nope.csv"))
    assert info.value.file.endswith("nope.csv")


@pytest.mark.parametrize("text, message", [("", "empty"), ("a,b\n", "no data rows"),
                                           ("\n\n", "empty")])
def test_empty_or_header_only(tmp_path, text, message):
    assert message in str(refusal(tmp_path, text))


def test_ragged_row_names_the_data_row_and_line(tmp_path):
    error = refusal(tmp_path, "a,b,label\n1,2,0\n\n3,4,1\n5,6\n")
    assert error.row == 3
    assert "3 fields" not in str(error) and "2 fields but the header has 3" in str(error)
    assert "line 5" in str(error)  # the blank line counts as a line, not as a data row


@pytest.mark.parametrize("cell, what", [("abc", "'abc' is not a number"), ("", "empty"),
                                        ("nan", "nan"), ("inf", "inf"), ("-inf", "-inf")])
def test_bad_feature_value_names_row_and_column(tmp_path, cell, what):
    error = refusal(tmp_path, f"a,b,label\n1,2,0\n3,{cell},1\n")
    assert (error.row, error.column) == (2, "b")
    assert what in str(error) and "row 2" in str(error) and "'b'" in str(error)
    assert "line 3" in str(error)


def test_missing_target_column_lists_columns_and_suggests(tmp_path):
    error = refusal(tmp_path, "a,b,label\n1,2,0\n", target="lable")
    assert error.column == "lable"
    assert "did you mean 'label'" in str(error) and "a, b, label" in str(error)


@pytest.mark.parametrize("label, what", [("0.5", "not a whole number"), ("-1", "negative"),
                                         ("cat", "mixes numbers and text"), ("", "empty"),
                                         ("nan", "not a class label")])
def test_bad_label_names_row_and_column(tmp_path, label, what):
    error = refusal(tmp_path, f"a,label\n1,0\n2,1\n3,{label}\n")
    assert (error.row, error.column) == (3, "label")
    assert what in str(error)


def test_one_class_only(tmp_path):
    assert "at least two classes" in str(refusal(tmp_path, "a,label\n1,3\n2,3\n"))


def test_header_problems(tmp_path):
    assert "pandas index" in str(refusal(tmp_path, ",a,label\n0,1,0\n1,2,1\n"))
    error = refusal(tmp_path, "a,a,label\n0,1,0\n1,2,1\n")
    assert error.column == "a" and "twice" in str(error)
    assert "no feature columns" in str(refusal(tmp_path, "a;b;label\n1;2;0\n"))


def test_target_with_builtin_or_npz_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="data.target"):
        load(dataset="moons", target="label")
    path = tmp_path / "d.npz"
    np.savez(path, X=np.ones((4, 2)), y=np.array([0, 1, 0, 1]))
    with pytest.raises(ConfigError, match="data.target"):
        load(train=str(path), target="y")


def npz_refusal(tmp_path, **arrays) -> DataError:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as info:
        load(train=str(path))
    assert "bad.npz" in str(info.value)
    return info.value


def test_npz_refusals(tmp_path):
    y = np.array([0, 1, 0])
    error = npz_refusal(tmp_path, X=np.ones((3, 2)), Y=y)
    assert "no array 'y'" in str(error) and "did you mean 'Y'" in str(error)
    assert "3 examples but y has 2" in str(npz_refusal(tmp_path, X=np.ones((3, 2)), y=y[:2]))
    assert "shape (3,)" in str(npz_refusal(tmp_path, X=np.ones(3), y=y))
    X = np.ones((3, 2, 4))
    X[1, 0, 3] = np.nan
    error = npz_refusal(tmp_path, X=X, y=y)
    assert "X[1, 0, 3] is nan" in str(error) and error.row == 2
    error = npz_refusal(tmp_path, X=np.ones((3, 2)), y=np.array([0, 0.5, 1]))
    assert error.row == 2 and "not a whole number" in str(error)
    assert "Python objects" in str(npz_refusal(tmp_path, X=np.array([[1, "a"]], dtype=object),
                                               y=np.array([0])))
    assert "an .npy data file is one (m, columns) table" in str(pytest.raises(DataError, load, train=str(_npy(tmp_path)))
                                       .value)


def _npy(tmp_path) -> str:
    path = tmp_path / "x.npy"
    np.save(path, np.ones(3))
    return str(path)


def test_dev_file_columns_and_labels_must_match_training(tmp_path):
    train = write(tmp_path, "train.csv", "a,b,label\n1,2,0\n3,4,1\n")
    dev = write(tmp_path, "dev.csv", "a,c,label\n1,2,0\n")
    with pytest.raises(DataError) as info:
        load(train=train, dev=dev)
    assert "dev.csv" in str(info.value) and info.value.column == "b"
    assert "missing 'b'" in str(info.value) and "'c'" in str(info.value)
    test = write(tmp_path, "test.csv", "a,b,label\n1,2,0\n5,6,2\n")
    with pytest.raises(DataError) as info:
        load(train=train, test=test)
    assert "test.csv" in str(info.value)
    assert (info.value.row, info.value.column) == (2, "label")
    assert "not one of the training classes (0, 1)" in str(info.value)
    npz = tmp_path / "dev.npz"
    np.savez(npz, X=np.ones((2, 3)), y=np.array([0, 1]))
    with pytest.raises(DataError, match="3 features but the training file"):
        load(train=train, dev=str(npz))
