"""Data options: data.header, data.target as an index, data.image_shape, .npy tables and
memory-mapped training."""
from __future__ import annotations

import numpy as np
import pytest

from dlcli.config.schema import AugmentConfig, DataConfig
from dlcli.data import Augmenter
from dlcli.data.augment import warp
from dlcli.errors import ConfigError, DataError

from helpers import metrics, only_run, write_config
from test_data_files import load, write


# ------------------------------------------------------------------------------ data.header


def test_auto_header_reads_a_first_row_of_numbers_as_data(tmp_path):
    path = write(tmp_path, "d.csv", "1,2,0\n3.5,-4,1\n5,6e2,1\n")
    ds = load(train=path)
    np.testing.assert_array_equal(ds.train.X, [[1, 2], [3.5, -4], [5, 600]])
    np.testing.assert_array_equal(ds.train.y, [0, 1, 1])
    assert ds.feature_names == ["col1", "col2"]


def test_auto_header_keeps_a_header_row(tmp_path):
    path = write(tmp_path, "d.csv", "a,b,label\n1,2,0\n3,4,1\n")
    ds = load(train=path)
    assert ds.feature_names == ["a", "b"] and ds.train.m == 2


def test_header_true_reads_numeric_names_as_a_header(tmp_path):
    path = write(tmp_path, "d.csv", "10,20,30\n1,2,0\n3,4,1\n")
    ds = load(train=path, header=True)
    assert ds.feature_names == ["10", "20"] and ds.train.m == 2


def test_header_false_reads_the_first_row_as_data(tmp_path):
    path = write(tmp_path, "d.csv", "1,2,0\n3,4,1\n5,6,1\n")
    ds = load(train=path, header=False)
    assert ds.train.m == 3
    with pytest.raises(DataError, match=r"row 1, column 'col1': 'a' is not a number \(rows are data rows counted from 1; "):
        load(train=write(tmp_path, "h.csv", "a,b,y\n1,2,0\n"), header=False)


def test_headerless_target_by_index_and_negative_index(tmp_path):
    path = write(tmp_path, "d.csv", "0,10,20\n1,30,40\n1,50,60\n")
    first = load(train=path, target=0)
    np.testing.assert_array_equal(first.train.X, [[10, 20], [30, 40], [50, 60]])
    np.testing.assert_array_equal(first.train.y, [0, 1, 1])
    assert first.feature_names == ["col2", "col3"]
    last = load(train=write(tmp_path, "e.csv", "10,20,0\n30,40,1\n"), target=-1)
    np.testing.assert_array_equal(last.train.y, [0, 1])


def test_target_index_works_with_a_header_too(tmp_path):
    ds = load(train=write(tmp_path, "d.csv", "cls,a,b\n1,10,20\n0,30,40\n"), target=0)
    assert ds.feature_names == ["a", "b"]


def test_target_name_without_a_header_and_index_out_of_range_are_refused(tmp_path):
    path = write(tmp_path, "d.csv", "1,2,0\n3,4,1\n")
    with pytest.raises(DataError, match="no header row; give the label column's index"):
        load(train=path, target="label")
    with pytest.raises(DataError, match=r"column index 3, but the file has 3 columns"):
        load(train=path, target=3)


def test_headerless_dev_file_takes_labels_from_the_same_position(tmp_path):
    train = write(tmp_path, "t.csv", "0,1,2\n1,3,4\n0,5,6\n1,7,8\n")
    dev = write(tmp_path, "d.csv", "1,9,9\n0,8,8\n")
    ds = load(train=train, dev=dev, target=0)
    np.testing.assert_array_equal(ds.dev.X, [[9, 9], [8, 8]])
    np.testing.assert_array_equal(ds.dev.y, [1, 0])


def test_header_needs_a_csv_file():
    with pytest.raises(ValueError, match="data.header describes a CSV file"):
        DataConfig(dataset="moons", header=False)


def test_headerless_ragged_row_says_first_row(tmp_path):
    path = write(tmp_path, "d.csv", "1,2,0\n3,4\n")
    with pytest.raises(DataError, match="has 2 fields but the first row has 3"):
        load(train=path)


# -------------------------------------------------------------------------- image_shape


def test_image_shape_makes_flat_pixels_images(tmp_path):
    rows = "\n".join(",".join(["1"] * 12 + [str(i % 2)]) for i in range(4))
    ds = load(train=write(tmp_path, "d.csv", rows + "\n"), image_shape=[3, 4])
    assert ds.image_shape == (3, 4)
    ds = load(train=write(tmp_path, "c.csv", rows + "\n"), image_shape=[2, 2, 3])
    assert ds.image_shape == (2, 2, 3)


def test_image_shape_must_match_the_columns(tmp_path):
    path = write(tmp_path, "d.csv", "1,2,3,0\n4,5,6,1\n")
    with pytest.raises(ConfigError, match=r"data.image_shape: \[2, 2\].*product \(4\) must "
                                          r"equal the number of feature columns.* has 3"):
        load(train=path, image_shape=[2, 2])


def test_image_shape_must_agree_with_images_in_the_file(tmp_path):
    path = tmp_path / "img.npz"
    np.savez(path, X=np.zeros((4, 3, 4)), y=np.array([0, 1, 0, 1]))
    assert load(train=str(path), image_shape=[3, 4]).image_shape == (3, 4)
    with pytest.raises(ConfigError, match="holds images of shape"):
        load(train=str(path), image_shape=[4, 3])


def test_channels_move_together_as_one_picture():
    rng = np.random.default_rng(0)
    h, w, c, m = 5, 5, 3, 6
    pictures = rng.normal(size=(m, h, w, c))
    from dlcli.data.dataset import Dataset, Split
    flat = pictures.reshape(m, -1)
    ds = Dataset(train=Split(flat, np.zeros(m, np.int64)), dev=None, test=None, n_classes=2,
                 class_names=["0", "1"], feature_names=[], image_shape=(h, w, c))
    aug = Augmenter(ds, AugmentConfig(flip=True, shift=1, rotate=30))
    batch = flat.copy()
    aug(batch, np.random.default_rng(7))
    # The same draws, applied to each channel alone, give each channel of the result.
    draws = np.random.default_rng(7)
    flip = draws.random(m) < 0.5
    dx, dy = (draws.random((2, m)) * 3).astype(np.int64) - 1
    angle = draws.uniform(-30, 30, size=m)
    moved = batch.reshape(m, h, w, c)
    for k in range(c):
        expected = warp(pictures[..., k], flip=flip, dx=dx, dy=dy, angle_degrees=angle)
        np.testing.assert_allclose(moved[..., k], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.slow
def test_mnist_shaped_csv_trains_with_augmentation(tmp_path):
    rng = np.random.default_rng(0)
    m, h, w = 120, 10, 10
    pixels = np.zeros((m, h, w))
    y = np.arange(m) % 2
    pixels[y == 0, 2:8, 4:6] = 255   # a vertical bar
    pixels[y == 1, 4:6, 2:8] = 255   # a horizontal bar
    pixels += rng.integers(0, 20, pixels.shape)
    path = tmp_path / "mnist.csv"
    np.savetxt(path, np.column_stack([y, pixels.reshape(m, -1)]), fmt="%d", delimiter=",")
    config = {"name": "bars", "seed": 0,
              "data": {"train": str(path), "target": 0, "image_shape": [h, w],
                       "dev_fraction": 0.25, "augment": {"shift": 1, "rotate": 10}},
              "model": {"hidden": [16]}, "optimizer": {"name": "adam", "learning_rate": 0.01},
              "training": {"epochs": 30, "batch_size": 32}}
    from typer.testing import CliRunner

    from dlcli.cli.app import app
    result = CliRunner().invoke(app, ["train", str(write_config(tmp_path, config)),
                                      "--runs-dir", str(tmp_path / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    run = only_run(tmp_path / "runs")
    assert metrics(run)["final"]["dev_accuracy"] >= 0.9


# ---------------------------------------------------------------------- memory-mapped files


def _image_data(m: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(m) % 3
    X = rng.normal(size=(m, 6, 6)).astype(np.float32) + y[:, None, None]
    return X, y


def test_map_array_maps_uncompressed_members_only(tmp_path):
    from dlcli.data.mapped import map_array
    X, y = _image_data()
    np.savez(tmp_path / "plain.npz", X=X, y=y)
    np.savez_compressed(tmp_path / "small.npz", X=X, y=y)
    np.save(tmp_path / "table.npy", np.column_stack([X.reshape(len(X), -1), y]))
    mapped = map_array(str(tmp_path / "plain.npz"), "X")
    assert isinstance(mapped, np.memmap) and not mapped.flags.writeable
    np.testing.assert_array_equal(mapped, X)
    assert map_array(str(tmp_path / "small.npz"), "X") is None
    table = map_array(str(tmp_path / "table.npy"))
    np.testing.assert_array_equal(table[:, -1], y)


def _train(tmp_path, data: dict, name: str) -> object:
    from typer.testing import CliRunner

    from dlcli.cli.app import app
    config = {"name": name, "seed": 3,
              "data": {"dev_fraction": 0.25, "test_fraction": 0.1, **data},
              "model": {"hidden": [8], "keep_prob": 0.9},
              "optimizer": {"name": "adam", "learning_rate": 0.01},
              "training": {"epochs": 4, "batch_size": 32}}
    runs = tmp_path / name
    result = CliRunner().invoke(app, ["train", str(write_config(tmp_path, config, f"{name}.yaml")),
                                      "--runs-dir", str(runs), "--quiet"])
    assert result.exit_code == 0, result.output
    return only_run(runs)


@pytest.mark.parametrize("kind", ["npz", "npy"])
def test_training_from_the_map_is_bit_for_bit_training_in_memory(tmp_path, kind):
    X, y = _image_data()
    if kind == "npz":
        path = tmp_path / "d.npz"
        np.savez(path, X=X, y=y)
        data = {"train": str(path), "augment": {"shift": 1}}
    else:
        path = tmp_path / "d.npy"
        np.save(path, np.column_stack([y, X.reshape(len(X), -1)]).astype(np.float32))
        data = {"train": str(path), "target": 0}
    mapped = _train(tmp_path, {**data, "memory_map": True}, "mapped")
    loaded = _train(tmp_path, {**data, "memory_map": False}, "loaded")
    assert metrics(mapped)["status"] == "completed"
    assert (mapped / "history.csv").read_text() == (loaded / "history.csv").read_text()
    a, b = np.load(mapped / "params.npz"), np.load(loaded / "params.npz")
    for key in b.files:
        np.testing.assert_array_equal(a[key], b[key])
    final = metrics(mapped)["final"]
    assert final.get("test_loss") == metrics(loaded)["final"].get("test_loss")


def test_a_mapped_split_reads_rows_as_asked_and_never_whole(tmp_path):
    from dlcli.data.mapped import MappedRows
    X, _ = _image_data()
    flat = X.reshape(len(X), -1)
    path = tmp_path / "x.npy"
    np.save(path, flat)
    rows = np.array([5, 1, 9, 2])
    shift, scale = flat.mean(axis=0, dtype=np.float64), flat.std(axis=0, dtype=np.float64)
    source = MappedRows(np.load(path, mmap_mode="r"), rows, shift, scale, "float32")
    expected = ((flat[rows].astype(np.float64) - shift) / scale).astype(np.float32)
    out = np.empty((2, flat.shape[1]), np.float32)
    source.take(np.array([3, 0]), 0, out)
    np.testing.assert_array_equal(out, expected[[3, 0]])
    np.testing.assert_array_equal(source[1:3], expected[1:3])
    assert source.shape == (4, flat.shape[1]) and len(source) == 4


def test_memory_map_refusals(tmp_path):
    X, y = _image_data()
    np.savez_compressed(tmp_path / "small.npz", X=X, y=y)
    with pytest.raises(ConfigError, match="cannot be memory-mapped"):
        load(train=str(tmp_path / "small.npz"), memory_map=True)
    csv = write(tmp_path, "d.csv", "a,y\n1,0\n2,1\n")
    with pytest.raises(ConfigError, match="cannot be memory-mapped"):
        load(train=csv, memory_map=True)
    np.save(tmp_path / "t.npy", np.ones((4, 3)))
    with pytest.raises(DataError, match="an .npy file has no column names"):
        load(train=str(tmp_path / "t.npy"), target="label")
    bad = np.ones((4, 3))
    bad[2, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(DataError, match=r"row 3, column 'col2'"):
        load(train=str(tmp_path / "nan.npy"), memory_map=True)


def test_auto_keeps_small_mapped_files_in_memory(tmp_path):
    X, y = _image_data()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    ds = load(train=str(tmp_path / "d.npz"))
    assert isinstance(ds.train.X, np.ndarray) and not isinstance(ds.train.X, np.memmap)
    assert "memory_mapped" not in ds.info


def test_a_quoted_cell_spanning_lines_in_the_first_row_is_read_or_refused(tmp_path):
    # The csv module reads a quoted cell across lines; the first data row starts at line 1.
    ds = load(train=write(tmp_path, "q.csv", '0,1,"\n2"\n3,4,5\n'))
    np.testing.assert_array_equal(ds.train.X, [[0, 1], [3, 4]])
    assert ds.class_names == ["2", "5"]
    path = write(tmp_path, "n.csv", '0,nan,"\ninf\n\n\n')
    with pytest.raises(DataError, match=r"row 1, column 'col2': the value is nan"):
        load(train=path)


def test_characters_beyond_the_basic_plane_are_labels_or_refused_cells(tmp_path):
    # NumPy's reader can crash wording an error about such a cell; dlcli reads the file so
    # that it never has to (labels keep their text, a bad number cell is named as usual).
    ds = load(train=write(tmp_path, "e.csv", "\ufeffa,b,y\n1,2,🐱\n3,4,café\n5,6,🐱\n"))
    assert ds.class_names == ["café", "🐱"]
    with pytest.raises(DataError, match=r"row 1, column 'a': '🐱x' is not a number"):
        load(train=write(tmp_path, "n.csv", "a,b,y\n🐱x,-1,0\n1,2,1\n"))
    path = tmp_path / "l.csv"
    path.write_bytes(b"a,b,y\n1,2,0\n3,4,\xff\n")
    with pytest.raises(DataError, match="is not UTF-8 text"):
        load(train=str(path))
